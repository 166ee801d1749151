//! Which table columns fit a pane's width. A column is shown whole (its header and its
//! widest cell) or not at all: a header cut to `STA` or an image tag cut in the middle
//! says something false, a missing column only says less.

/// One column as the fitting sees it: how wide it must be to be shown whole, and how much
/// the operator needs it (0 first).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fit {
    pub width: u16,
    pub priority: u8,
}

/// For each column, whether it is shown. Columns are taken in priority order (ties in
/// display order); one that does not fit is skipped, and a narrower one of lower priority
/// may still take the room left.
pub fn fit(columns: &[Fit], available: u16, spacing: u16) -> Vec<bool> {
    let mut order: Vec<usize> = (0..columns.len()).collect();
    order.sort_by_key(|&i| (columns[i].priority, i));
    let mut shown = vec![false; columns.len()];
    let mut used: u16 = 0;
    for i in order {
        let gap = if used == 0 { 0 } else { spacing };
        let need = used.saturating_add(gap).saturating_add(columns[i].width);
        if need <= available {
            used = need;
            shown[i] = true;
        }
    }
    shown
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn higher_priorities_first_and_narrow_ones_fill_the_rest() {
        let c = |width, priority| Fit { width, priority };
        // Display order: a(p2) b(p0) c(p1) d(p3).
        let cols = [c(10, 2), c(7, 0), c(14, 1), c(3, 3)];
        assert_eq!(fit(&cols, 22, 1), vec![false, true, true, false]);
        // Room for b, c and d but not a: d, though last, takes what is left.
        assert_eq!(fit(&cols, 27, 1), vec![false, true, true, true]);
        assert_eq!(fit(&cols, 40, 1), vec![true, true, true, true]);
        assert_eq!(fit(&cols, 5, 1), vec![false, false, false, true]);
    }
}
