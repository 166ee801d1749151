//! What an ELF binary needs of the machine it runs on: the processor it is built for (its
//! header's `e_machine`, said as `uname -m` says it) and the newest glibc it needs (the
//! `GLIBC_x.y` versions in its `.gnu.version_r`: the dynamic loader refuses to start it on
//! an older glibc; same reading as the test `tests/glibc_versions.rs`). Here so the
//! bootstrap can decide from the file itself whether the binary it copies runs on a
//! droplet.

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

/// The `uname -m` names of the machines whose code an ELF file holds (`e_machine`), `None`
/// when it is not an ELF file or its machine is not one a droplet could be.
pub fn machine_names(elf: &[u8]) -> Option<&'static [&'static str]> {
    if elf.get(..4)? != b"\x7fELF" {
        return None;
    }
    // e_machine is at the same offset in 32- and 64-bit headers; byte order per EI_DATA.
    let raw: [u8; 2] = elf.get(0x12..0x14)?.try_into().ok()?;
    let machine = match elf.get(5)? {
        1 => u16::from_le_bytes(raw),
        2 => u16::from_be_bytes(raw),
        _ => return None,
    };
    Some(match machine {
        62 => &["x86_64"],
        183 => &["aarch64", "arm64"],
        3 => &["i386", "i486", "i586", "i686"],
        40 => &["armv7l", "armv6l", "armv8l"],
        243 => &["riscv64"],
        21 => &["ppc64le", "ppc64"],
        22 => &["s390x"],
        _ => return None,
    })
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
    fn the_machine_is_read_from_the_header() {
        let me = std::fs::read(std::env::current_exe().unwrap()).unwrap();
        let names = machine_names(&me).expect("a known machine");
        assert!(names.contains(&std::env::consts::ARCH), "{names:?}");
        let mut arm = me[..64].to_vec();
        arm[0x12..0x14].copy_from_slice(&183u16.to_le_bytes());
        assert_eq!(machine_names(&arm), Some(&["aarch64", "arm64"][..]));
        assert_eq!(machine_names(b"#!/bin/sh\n"), None);
    }

    #[test]
    fn this_test_binary_needs_some_glibc() {
        let me = std::fs::read(std::env::current_exe().unwrap()).unwrap();
        let needed = newest_needed(&me).expect("an ELF file");
        assert!(needed.is_some_and(|v| v >= (2, 2)), "{needed:?}");
        assert_eq!(newest_needed(b"#!/bin/sh\n"), None);
    }
}
