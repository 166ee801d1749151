//! Timestamps as the three formats write them, to milliseconds since the Unix epoch (UTC).
//!
//! Hand-written because they run once per line at a million lines a second; each parser
//! checks the exact shape and returns `None` for anything else.

/// Days from 1970-01-01 to a civil date (Howard Hinnant's algorithm).
pub fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let m = m as i64;
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + d as i64 - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The civil date and time of epoch milliseconds, for export and display.
pub fn civil_from_ms(ms: i64) -> (i64, u32, u32, u32, u32, u32, u32) {
    let secs = ms.div_euclid(1000);
    let millis = ms.rem_euclid(1000) as u32;
    let days = secs.div_euclid(86_400);
    let sod = secs.rem_euclid(86_400);
    let z = days + 719_468;
    let era = if z >= 0 { z } else { z - 146_096 } / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (
        y,
        m,
        d,
        (sod / 3600) as u32,
        (sod / 60 % 60) as u32,
        (sod % 60) as u32,
        millis,
    )
}

/// `2026-11-22 02:02:12.655` (UTC), how the console shows a time.
pub fn format_ms(ms: i64) -> String {
    let (y, mo, d, h, mi, s, milli) = civil_from_ms(ms);
    format!("{y:04}-{mo:02}-{d:02} {h:02}:{mi:02}:{s:02}.{milli:03}")
}

fn digits(b: &[u8]) -> Option<u32> {
    let mut n = 0u32;
    for &c in b {
        if !c.is_ascii_digit() {
            return None;
        }
        n = n * 10 + (c - b'0') as u32;
    }
    Some(n)
}

fn to_ms(y: u32, mo: u32, d: u32, h: u32, mi: u32, s: u32, ms: u32) -> Option<i64> {
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || s > 60 {
        return None;
    }
    let days = days_from_civil(y as i64, mo, d);
    Some(((days * 86_400 + (h * 3600 + mi * 60 + s) as i64) * 1000) + ms as i64)
}

/// `YYYY?MM?DD?HH:MM:SS` with the separators given; shared by Odoo, nginx and Docker.
fn date_time(b: &[u8], date_sep: u8, mid: u8) -> Option<(u32, u32, u32, u32, u32, u32)> {
    if b.len() < 19
        || b[4] != date_sep
        || b[7] != date_sep
        || b[10] != mid
        || b[13] != b':'
        || b[16] != b':'
    {
        return None;
    }
    Some((
        digits(&b[0..4])?,
        digits(&b[5..7])?,
        digits(&b[8..10])?,
        digits(&b[11..13])?,
        digits(&b[14..16])?,
        digits(&b[17..19])?,
    ))
}

/// Odoo: `2026-11-22 02:02:12,655` (23 bytes).
pub fn odoo(b: &[u8]) -> Option<i64> {
    let (y, mo, d, h, mi, s) = date_time(b, b'-', b' ')?;
    if b.len() < 23 || b[19] != b',' {
        return None;
    }
    to_ms(y, mo, d, h, mi, s, digits(&b[20..23])?)
}

/// nginx error.log: `2026/11/22 02:01:55` (19 bytes, no fraction).
pub fn nginx_error(b: &[u8]) -> Option<i64> {
    let (y, mo, d, h, mi, s) = date_time(b, b'/', b' ')?;
    to_ms(y, mo, d, h, mi, s, 0)
}

/// Docker's RFC 3339 with nanoseconds: `2026-11-22T02:02:11.240123456Z`. Returns the
/// time in milliseconds and the length of the stamp.
pub fn docker(b: &[u8]) -> Option<(i64, usize)> {
    docker_ns(b).map(|(ns, len)| (ns.div_euclid(1_000_000), len))
}

/// As [`docker`], in nanoseconds: resuming a container's logs skips lines already seen,
/// and several lines can share one millisecond.
pub fn docker_ns(b: &[u8]) -> Option<(i64, usize)> {
    let (y, mo, d, h, mi, s) = date_time(b, b'-', b'T')?;
    let mut i = 19;
    let mut ns = 0i64;
    if b.get(i) == Some(&b'.') {
        i += 1;
        let start = i;
        while i < b.len() && b[i].is_ascii_digit() {
            if i - start < 9 {
                ns = ns * 10 + (b[i] - b'0') as i64;
            }
            i += 1;
        }
        for _ in (i - start).min(9)..9 {
            ns *= 10;
        }
    }
    let mut offset_secs: i64 = 0;
    match b.get(i) {
        Some(b'Z') => i += 1,
        Some(&sign @ (b'+' | b'-')) if b.len() >= i + 6 && b[i + 3] == b':' => {
            let oh = digits(&b[i + 1..i + 3])? as i64;
            let om = digits(&b[i + 4..i + 6])? as i64;
            offset_secs = (oh * 3600 + om * 60) * if sign == b'+' { 1 } else { -1 };
            i += 6;
        }
        _ => return None,
    }
    let secs_ms = to_ms(y, mo, d, h, mi, s, 0)? - offset_secs * 1000;
    // Year 1 (Docker's "never") does not fit in i64 nanoseconds: not a usable time.
    Some((secs_ms.checked_mul(1_000_000)?.checked_add(ns)?, i))
}

const MONTHS: [&[u8; 3]; 12] = [
    b"Jan", b"Feb", b"Mar", b"Apr", b"May", b"Jun", b"Jul", b"Aug", b"Sep", b"Oct", b"Nov", b"Dec",
];

/// nginx access.log `$time_local`: `22/Nov/2026:02:02:12 +0000` (26 bytes).
pub fn nginx_access(b: &[u8]) -> Option<i64> {
    if b.len() < 26 || b[2] != b'/' || b[6] != b'/' || b[11] != b':' || b[20] != b' ' {
        return None;
    }
    let d = digits(&b[0..2])?;
    let mo = MONTHS.iter().position(|m| m[..] == b[3..6])? as u32 + 1;
    let y = digits(&b[7..11])?;
    if b[14] != b':' || b[17] != b':' {
        return None;
    }
    let (h, mi, s) = (
        digits(&b[12..14])?,
        digits(&b[15..17])?,
        digits(&b[18..20])?,
    );
    let sign: i64 = match b[21] {
        b'+' => 1,
        b'-' => -1,
        _ => return None,
    };
    let oh = digits(&b[22..24])? as i64;
    let om = digits(&b[24..26])? as i64;
    Some(to_ms(y, mo, d, h, mi, s, 0)? - sign * (oh * 3600 + om * 60) * 1000)
}

#[cfg(test)]
mod tests {
    use super::*;

    // 2026-11-22 02:02:12 UTC, checked with `date -u -d ... +%s`.
    const T: i64 = 1_795_312_932_000;

    #[test]
    fn the_three_formats_agree_on_one_instant() {
        assert_eq!(odoo(b"2026-11-22 02:02:12,655"), Some(T + 655));
        assert_eq!(nginx_error(b"2026/11/22 02:02:12"), Some(T));
        assert_eq!(nginx_access(b"22/Nov/2026:02:02:12 +0000"), Some(T));
        assert_eq!(nginx_access(b"22/Nov/2026:03:02:12 +0100"), Some(T));
        assert_eq!(
            docker(b"2026-11-22T02:02:12.655123456Z rest"),
            Some((T + 655, 30))
        );
        assert_eq!(docker(b"2026-11-22T02:02:12Z"), Some((T, 20)));
    }

    #[test]
    fn wrong_shapes_are_not_times() {
        assert_eq!(odoo(b"2026-11-22 02:02:12"), None);
        assert_eq!(odoo(b"  File \"/opt/odoo/src/odoo/http.py\""), None);
        assert_eq!(nginx_error(b"2026-13-22 02:02:12"), None);
        assert_eq!(docker(b"2026-11-22T02:02:12.5"), None);
        assert_eq!(docker(b"0001-01-01T00:00:00Z"), None);
    }

    #[test]
    fn formatting_round_trips() {
        assert_eq!(format_ms(T + 655), "2026-11-22 02:02:12.655");
        assert_eq!(format_ms(0), "1970-01-01 00:00:00.000");
    }
}
