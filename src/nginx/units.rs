//! nginx's time and size notations: `720s`, `1m30s`, `600` (seconds), `500ms`; `64m`, `1g`.

use std::time::Duration;

/// A time value as nginx reads it: a bare number is seconds; units ms, s, m, h, d, w, M, y
/// may be combined (`1h30m`).
pub fn parse_time(text: &str) -> Option<Duration> {
    let text = text.trim();
    if text.is_empty() {
        return None;
    }
    if let Ok(secs) = text.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let mut total_ms: u64 = 0;
    let mut digits = String::new();
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c.is_ascii_digit() {
            digits.push(c);
            continue;
        }
        let n: u64 = digits.parse().ok()?;
        digits.clear();
        let ms = match c {
            'm' if chars.peek() == Some(&'s') => {
                chars.next();
                1
            }
            's' => 1_000,
            'm' => 60_000,
            'h' => 3_600_000,
            'd' => 86_400_000,
            'w' => 7 * 86_400_000,
            'M' => 30 * 86_400_000,
            'y' => 365 * 86_400_000,
            _ => return None,
        };
        total_ms = total_ms.checked_add(n.checked_mul(ms)?)?;
    }
    if !digits.is_empty() {
        // A trailing bare number after units (`1m30`) is not valid nginx.
        return None;
    }
    Some(Duration::from_millis(total_ms))
}

/// A size as nginx reads it: bytes, or with k/K, m/M, g/G.
pub fn parse_size(text: &str) -> Option<u64> {
    let text = text.trim();
    let (number, factor) = match text.chars().last()? {
        'k' | 'K' => (&text[..text.len() - 1], 1024),
        'm' | 'M' => (&text[..text.len() - 1], 1024 * 1024),
        'g' | 'G' => (&text[..text.len() - 1], 1024 * 1024 * 1024),
        _ => (text, 1),
    };
    number.parse::<u64>().ok()?.checked_mul(factor)
}

/// How a size reads in evidence: `64m`, `1g`, `512k`, `100`.
pub fn format_size(bytes: u64) -> String {
    const G: u64 = 1 << 30;
    const M: u64 = 1 << 20;
    const K: u64 = 1 << 10;
    match bytes {
        0 => "0 (unlimited)".into(),
        b if b % G == 0 => format!("{}g", b / G),
        b if b % M == 0 => format!("{}m", b / M),
        b if b % K == 0 => format!("{}k", b / K),
        b => b.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times() {
        assert_eq!(parse_time("720s"), Some(Duration::from_secs(720)));
        assert_eq!(parse_time("600"), Some(Duration::from_secs(600)));
        assert_eq!(parse_time("1m"), Some(Duration::from_secs(60)));
        assert_eq!(parse_time("1m30s"), Some(Duration::from_secs(90)));
        assert_eq!(parse_time("500ms"), Some(Duration::from_millis(500)));
        assert_eq!(parse_time("12h"), Some(Duration::from_secs(43_200)));
        assert_eq!(parse_time("1d"), Some(Duration::from_secs(86_400)));
        assert_eq!(parse_time("1x"), None);
        assert_eq!(parse_time("m"), None);
        assert_eq!(parse_time(""), None);
    }

    #[test]
    fn sizes() {
        assert_eq!(parse_size("64m"), Some(64 << 20));
        assert_eq!(parse_size("1G"), Some(1 << 30));
        assert_eq!(parse_size("512k"), Some(512 << 10));
        assert_eq!(parse_size("100"), Some(100));
        assert_eq!(parse_size("0"), Some(0));
        assert_eq!(parse_size("big"), None);
        assert_eq!(format_size(64 << 20), "64m");
    }
}
