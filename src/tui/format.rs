//! Numbers as an operator reads them.

/// `3d 4h`, `5h 02m`, `12m`, `40s`.
pub fn duration(secs: u64) -> String {
    let (d, h, m) = (secs / 86_400, secs / 3600 % 24, secs / 60 % 60);
    if d > 0 {
        format!("{d}d {h}h")
    } else if h > 0 {
        format!("{h}h {m:02}m")
    } else if m > 0 {
        format!("{m}m")
    } else {
        format!("{secs}s")
    }
}

/// KiB as `512 MiB`, `3.8 GiB`.
pub fn kib(kib: u64) -> String {
    let bytes = kib as f64 * 1024.0;
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut value = bytes;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    if value >= 100.0 || unit == 0 {
        format!("{value:.0} {}", UNITS[unit])
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

/// `text` in lines of at most `width` characters, broken between words (a word longer
/// than a line is broken where it must be).
pub fn wrap_words(text: &str, width: usize) -> Vec<String> {
    let mut lines = Vec::new();
    let mut line = String::new();
    for word in text.split(' ') {
        let needed = if line.is_empty() {
            word.chars().count()
        } else {
            line.chars().count() + 1 + word.chars().count()
        };
        if needed > width && !line.is_empty() {
            lines.push(std::mem::take(&mut line));
        }
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(word);
        while line.chars().count() > width {
            let rest: String = line.chars().skip(width).collect();
            line = line.chars().take(width).collect();
            lines.push(std::mem::replace(&mut line, rest));
        }
    }
    if !line.is_empty() || lines.is_empty() {
        lines.push(line);
    }
    lines
}

#[cfg(test)]
mod tests {
    #[test]
    fn durations_and_sizes() {
        assert_eq!(super::duration(93_784), "1d 2h");
        assert_eq!(super::duration(3_720), "1h 02m");
        assert_eq!(super::kib(4_000_000), "3.8 GiB");
        assert_eq!(super::kib(524_288), "512 MiB");
    }

    #[test]
    fn words_wrap_between_words_and_long_ones_are_broken() {
        assert_eq!(
            super::wrap_words("open the logs of it", 8),
            vec!["open the", "logs of", "it"]
        );
        assert_eq!(
            super::wrap_words("abcdefghij", 4),
            vec!["abcd", "efgh", "ij"]
        );
        assert_eq!(super::wrap_words("", 4), vec![""]);
    }
}
