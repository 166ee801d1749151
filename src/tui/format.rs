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

#[cfg(test)]
mod tests {
    #[test]
    fn durations_and_sizes() {
        assert_eq!(super::duration(93_784), "1d 2h");
        assert_eq!(super::duration(3_720), "1h 02m");
        assert_eq!(super::kib(4_000_000), "3.8 GiB");
        assert_eq!(super::kib(524_288), "512 MiB");
    }
}
