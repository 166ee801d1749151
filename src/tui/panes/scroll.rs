//! Scrolling a text view by keys, the same in every pane: never past the end (the last
//! row stays at the bottom), PageUp/PageDown by what is on screen, Home/End to either end.

use crate::config::keymap::Action;

/// The rows a pane's scrolled view has on screen, as the layout gives them (the App sets
/// it before a key reaches the pane, so the pane needs no I/O and no drawing to know it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Viewport {
    pub rows: u16,
    pub cols: u16,
}

/// Apply a moving action to `scroll` over `total` rows of which `page` show at once.
/// Returns false for an action that does not scroll.
pub fn apply(action: Action, scroll: &mut u16, total: usize, page: u16) -> bool {
    let page = page.max(1);
    let last = u16::try_from(total.saturating_sub(page as usize)).unwrap_or(u16::MAX);
    *scroll = match action {
        Action::Up => scroll.saturating_sub(1),
        Action::Down => scroll.saturating_add(1),
        Action::PageUp => scroll.saturating_sub(page),
        Action::PageDown => scroll.saturating_add(page),
        Action::Top => 0,
        Action::Bottom => last,
        _ => return false,
    }
    .min(last);
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn never_past_the_end() {
        let mut s = 0;
        apply(Action::PageDown, &mut s, 100, 30);
        assert_eq!(s, 30);
        apply(Action::PageDown, &mut s, 100, 30);
        apply(Action::PageDown, &mut s, 100, 30);
        assert_eq!(s, 70, "the last page shows rows 70..100");
        apply(Action::Down, &mut s, 100, 30);
        assert_eq!(s, 70);
        apply(Action::Top, &mut s, 100, 30);
        assert_eq!(s, 0);
        apply(Action::Bottom, &mut s, 100, 30);
        assert_eq!(s, 70);
        apply(Action::Up, &mut s, 100, 30);
        assert_eq!(s, 69, "one Up after End moves at once");
        // Shorter than the screen: nothing to scroll.
        apply(Action::Bottom, &mut s, 10, 30);
        assert_eq!(s, 0);
    }
}
