//! The newest glibc a binary needs: the `GLIBC_x.y` versions in its ELF `.gnu.version_r`
//! (the dynamic loader refuses to start it on an older glibc). Same reading as the test
//! `tests/glibc_versions.rs`; here so the bootstrap can decide whether its own binary
//! runs on a droplet.

/// `SHT_GNU_verneed`.
const SHT_GNU_VERNEED: u32 = 0x6fff_fffe;

fn u16_at(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_le_bytes(b.get(at..at + 2)?.try_into().ok()?))
}
fn u32_at(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(b.get(at..at + 4)?.try_into().ok()?))
}
fn u64_at(b: &[u8], at: usize) -> Option<u64> {
    Some(u64::from_le_bytes(b.get(at..at + 8)?.try_into().ok()?))
}
fn c_str(b: &[u8], at: usize) -> Option<String> {
    let rest = b.get(at..)?;
    let end = rest.iter().position(|&c| c == 0)?;
    Some(String::from_utf8_lossy(&rest[..end]).into_owned())
}

/// Every version a 64-bit little-endian ELF file requires; `None` when it is not one.
pub fn required_versions(elf: &[u8]) -> Option<Vec<String>> {
    if elf.get(..4)? != b"\x7fELF" || elf[4] != 2 || elf[5] != 1 {
        return None;
    }
    let shoff = u64_at(elf, 0x28)? as usize;
    let shentsize = u16_at(elf, 0x3a)? as usize;
    let shnum = u16_at(elf, 0x3c)? as usize;
    let section = |i: usize| -> Option<(u32, usize, usize, usize)> {
        let h = shoff + i * shentsize;
        Some((
            u32_at(elf, h + 4)?,
            u32_at(elf, h + 0x28)? as usize,
            u64_at(elf, h + 0x18)? as usize,
            u32_at(elf, h + 0x2c)? as usize,
        ))
    };
    let mut found = Vec::new();
    for i in 0..shnum {
        let (kind, link, offset, count) = section(i)?;
        if kind != SHT_GNU_VERNEED {
            continue;
        }
        let strings = section(link)?.2;
        let mut need = offset;
        for _ in 0..count {
            let mut aux = need + u32_at(elf, need + 8)? as usize;
            for _ in 0..u16_at(elf, need + 2)? {
                found.push(c_str(elf, strings + u32_at(elf, aux + 8)? as usize)?);
                aux += u32_at(elf, aux + 12)? as usize;
            }
            need += u32_at(elf, need + 12)? as usize;
        }
    }
    Some(found)
}

/// `GLIBC_2.35` → (2, 35); other names → None.
pub fn glibc_release(version: &str) -> Option<(u32, u32)> {
    let mut parts = version.strip_prefix("GLIBC_")?.split('.');
    let major = parts.next()?.parse().ok()?;
    let minor = parts.next().map_or(Some(0), |p| p.parse().ok())?;
    Some((major, minor))
}

/// `glibc 2.36` (getconf) or `ldd (Debian GLIBC 2.36-9) 2.36` (ldd's first line) → (2, 36).
pub fn parse_host_glibc(text: &str) -> Option<(u32, u32)> {
    let line = text.lines().next()?;
    let word = line.split_whitespace().last()?;
    let mut parts = word.split('.');
    Some((parts.next()?.parse().ok()?, parts.next()?.parse().ok()?))
}

/// The newest glibc the file needs; `Some(None)` for a file that needs none (static).
pub fn newest_needed(elf: &[u8]) -> Option<Option<(u32, u32)>> {
    Some(
        required_versions(elf)?
            .iter()
            .filter_map(|v| glibc_release(v))
            .max(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_versions_from_getconf_and_ldd() {
        assert_eq!(parse_host_glibc("glibc 2.36\n"), Some((2, 36)));
        assert_eq!(
            parse_host_glibc("ldd (Ubuntu GLIBC 2.39-0ubuntu8) 2.39\nCopyright"),
            Some((2, 39))
        );
        assert_eq!(glibc_release("GLIBC_2.3"), Some((2, 3)));
        assert_eq!(glibc_release("GLIBC_PRIVATE"), None);
    }

    #[test]
    fn this_test_binary_needs_some_glibc() {
        let me = std::fs::read(std::env::current_exe().unwrap()).unwrap();
        let needed = newest_needed(&me).expect("an ELF file");
        assert!(needed.is_some_and(|v| v >= (2, 2)), "{needed:?}");
        assert_eq!(newest_needed(b"#!/bin/sh\n"), None);
    }
}
