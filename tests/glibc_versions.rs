//! The release binary starts where operators run it: Ubuntu 22.04 (glibc 2.35) and
//! Debian 12. The dynamic loader refuses a binary that needs a symbol version its glibc
//! lacks, so the versions the binary requires (ELF `.gnu.version_r`) are read here and
//! none may be newer than GLIBC_2.35, nor `GLIBC_ABI_DT_RELR` (packed relocations, which
//! only the opt-in packaging step asks for: see build.rs).

const BIN: &str = env!("CARGO_BIN_EXE_odoo-ops");
/// Ubuntu 22.04's glibc, the oldest a droplet runs (see the seeds).
const OLDEST_GLIBC: (u32, u32) = (2, 35);

/// `SHT_GNU_verneed`: the section listing, per library, the versions a file requires.
const SHT_GNU_VERNEED: u32 = 0x6fff_fffe;

fn u16_at(b: &[u8], at: usize) -> u16 {
    u16::from_le_bytes(b[at..at + 2].try_into().unwrap())
}
fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(b[at..at + 4].try_into().unwrap())
}
fn u64_at(b: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(b[at..at + 8].try_into().unwrap())
}

fn c_str(b: &[u8], at: usize) -> String {
    let end = b[at..].iter().position(|&c| c == 0).unwrap() + at;
    String::from_utf8_lossy(&b[at..end]).into_owned()
}

/// The (library, version) pairs a 64-bit little-endian ELF file requires.
fn required_versions(elf: &[u8]) -> Vec<(String, String)> {
    assert_eq!(&elf[..4], b"\x7fELF", "an ELF file");
    assert_eq!(elf[4], 2, "64-bit");
    assert_eq!(elf[5], 1, "little-endian");
    let shoff = u64_at(elf, 0x28) as usize;
    let shentsize = u16_at(elf, 0x3a) as usize;
    let shnum = u16_at(elf, 0x3c) as usize;
    // (type, link, offset, info) of each section header.
    let section = |i: usize| {
        let h = shoff + i * shentsize;
        (
            u32_at(elf, h + 4),
            u32_at(elf, h + 0x28) as usize,
            u64_at(elf, h + 0x18) as usize,
            u32_at(elf, h + 0x2c) as usize,
        )
    };
    let mut found = Vec::new();
    for i in 0..shnum {
        let (kind, link, offset, count) = section(i);
        if kind != SHT_GNU_VERNEED {
            continue;
        }
        // Names are in the section this one links to (.dynstr).
        let strings = section(link).2;
        let mut need = offset;
        for _ in 0..count {
            let file = c_str(elf, strings + u32_at(elf, need + 4) as usize);
            let mut aux = need + u32_at(elf, need + 8) as usize;
            for _ in 0..u16_at(elf, need + 2) {
                found.push((
                    file.clone(),
                    c_str(elf, strings + u32_at(elf, aux + 8) as usize),
                ));
                aux += u32_at(elf, aux + 12) as usize;
            }
            need += u32_at(elf, need + 12) as usize;
        }
    }
    found
}

/// `GLIBC_2.35` → (2, 35); other names (`GLIBC_PRIVATE`, `GLIBC_ABI_DT_RELR`) → None.
fn glibc_release(version: &str) -> Option<(u32, u32)> {
    let mut parts = version.strip_prefix("GLIBC_")?.split('.');
    let major = parts.next()?.parse().ok()?;
    let minor = parts.next().map_or(Some(0), |p| p.parse().ok())?;
    Some((major, minor))
}

#[test]
fn the_release_binary_needs_nothing_newer_than_ubuntu_22_04s_glibc() {
    let elf = std::fs::read(BIN).unwrap();
    let required = required_versions(&elf);
    let glibc: Vec<&str> = required
        .iter()
        .filter(|(_, v)| v.starts_with("GLIBC_"))
        .map(|(_, v)| v.as_str())
        .collect();
    assert!(
        glibc.contains(&"GLIBC_2.2.5"),
        "the reader sees the versions: {required:?}"
    );
    assert!(
        !glibc.contains(&"GLIBC_ABI_DT_RELR"),
        "packed relocations need glibc 2.36: {glibc:?}"
    );
    let too_new: Vec<&&str> = glibc
        .iter()
        .filter(|v| glibc_release(v).is_some_and(|r| r > OLDEST_GLIBC))
        .collect();
    assert!(
        too_new.is_empty(),
        "newer than GLIBC_2.35: {too_new:?} (all: {glibc:?})"
    );
}

#[test]
fn glibc_version_names_are_read_as_releases() {
    assert_eq!(glibc_release("GLIBC_2.35"), Some((2, 35)));
    assert_eq!(glibc_release("GLIBC_2.2.5"), Some((2, 2)));
    assert_eq!(glibc_release("GLIBC_ABI_DT_RELR"), None);
    assert!(glibc_release("GLIBC_2.36").unwrap() > OLDEST_GLIBC);
}
