//! Times as the deploy records write them: epoch milliseconds (UTC) inside, RFC 3339 in
//! proofs, `HH:MM:SS UTC` in messages.

use crate::logs::time::civil_from_ms;

/// Now, from the console's clock.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// `2026-11-30T12:01:07.250Z`.
pub fn rfc3339(ms: i64) -> String {
    let (y, mo, d, h, mi, s, milli) = civil_from_ms(ms);
    format!("{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}.{milli:03}Z")
}

/// `20261130T120107Z`: for names of files and directories, sorting by time.
pub fn compact(ms: i64) -> String {
    let (y, mo, d, h, mi, s, _) = civil_from_ms(ms);
    format!("{y:04}{mo:02}{d:02}T{h:02}{mi:02}{s:02}Z")
}

/// `12:01:07 UTC`, with the date in front when it is not today.
pub fn short(ms: i64) -> String {
    let (y, mo, d, h, mi, s, _) = civil_from_ms(ms);
    let today = civil_from_ms(now_ms());
    if (today.0, today.1, today.2) == (y, mo, d) {
        format!("{h:02}:{mi:02}:{s:02} UTC")
    } else {
        format!("{y:04}-{mo:02}-{d:02} {h:02}:{mi:02}:{s:02} UTC")
    }
}

/// `3m 05s`, `42s`: how long ago, for a heartbeat.
pub fn age(secs: i64) -> String {
    let secs = secs.max(0);
    if secs >= 3600 {
        format!("{}h {:02}m", secs / 3600, secs % 3600 / 60)
    } else if secs >= 60 {
        format!("{}m {:02}s", secs / 60, secs % 60)
    } else {
        format!("{secs}s")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats() {
        let ms = 1_796_040_067_250; // 2026-11-30T12:01:07.250Z
        assert_eq!(rfc3339(ms), "2026-11-30T12:01:07.250Z");
        assert_eq!(compact(ms), "20261130T120107Z");
        assert_eq!(age(185), "3m 05s");
        assert_eq!(age(7), "7s");
    }
}
