//! Odoo's hashed `admin_passwd`: passlib's `pbkdf2_sha512` format,
//! `$pbkdf2-sha512$ROUNDS$SALT$CHECKSUM`, salt and checksum in passlib's "adapted base64"
//! (standard alphabet with `.` for `+`, no padding). Odoo 18 verifies it with passlib and
//! hashes new master passwords with 600 000 rounds, as we do.

use sha2::Sha512;

pub const DEFAULT_ROUNDS: u32 = 600_000;
const SALT_LEN: usize = 16;
const HASH_LEN: usize = 64;
const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789./";

/// Hash `password` with `salt` (passlib uses 16 random bytes).
pub fn hash_with_salt(password: &str, salt: &[u8], rounds: u32) -> String {
    let mut out = [0u8; HASH_LEN];
    pbkdf2::pbkdf2_hmac::<Sha512>(password.as_bytes(), salt, rounds, &mut out);
    format!(
        "$pbkdf2-sha512${rounds}${}${}",
        ab64_encode(salt),
        ab64_encode(&out)
    )
}

/// Hash with a fresh random salt from the OS.
pub fn hash(password: &str, rounds: u32) -> std::io::Result<String> {
    let mut salt = [0u8; SALT_LEN];
    getrandom::fill(&mut salt).map_err(|e| std::io::Error::other(e.to_string()))?;
    Ok(hash_with_salt(password, &salt, rounds))
}

/// Does `password` match the passlib hash? A malformed hash does not match.
pub fn verify(password: &str, hash: &str) -> bool {
    let mut parts = hash.split('$');
    let (Some(""), Some("pbkdf2-sha512"), Some(rounds), Some(salt), Some(checksum), None) = (
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
    ) else {
        return false;
    };
    let (Ok(rounds), Some(salt), Some(expected)) = (
        rounds.parse::<u32>(),
        ab64_decode(salt),
        ab64_decode(checksum),
    ) else {
        return false;
    };
    if rounds == 0 || expected.is_empty() {
        return false;
    }
    let mut out = vec![0u8; expected.len()];
    pbkdf2::pbkdf2_hmac::<Sha512>(password.as_bytes(), &salt, rounds, &mut out);
    // Constant-time comparison: no early exit on the first differing byte.
    out.iter()
        .zip(&expected)
        .fold(0u8, |acc, (a, b)| acc | (a ^ b))
        == 0
}

fn ab64_encode(data: &[u8]) -> String {
    let mut out = String::new();
    for chunk in data.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..=chunk.len() {
            out.push(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize] as char);
        }
    }
    out
}

fn ab64_decode(text: &str) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    let (mut acc, mut bits) = (0u32, 0u32);
    for c in text.bytes() {
        let v = ALPHABET.iter().position(|&a| a == c)? as u32;
        acc = (acc << 6) | v;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `pbkdf2_sha512.using(rounds=1000, salt=b"0123456789abcdef").hash("admin")` with
    /// passlib 1.7.4 (Debian's python3-passlib).
    const PASSLIB_VECTOR: &str = "$pbkdf2-sha512$1000$MDEyMzQ1Njc4OWFiY2RlZg$VYpayuGgwzZdp432P4BiDOsz2R32OckUD4cZP0OnU/dRJDzvbA9NzD4JRchh6MOV7dGmpArYbuwTJVUOgj66DA";

    #[test]
    fn matches_passlib() {
        assert_eq!(
            hash_with_salt("admin", b"0123456789abcdef", 1000),
            PASSLIB_VECTOR
        );
        assert!(verify("admin", PASSLIB_VECTOR));
        assert!(!verify("Admin", PASSLIB_VECTOR));
    }

    #[test]
    fn malformed_hashes_never_match() {
        assert!(!verify("admin", "admin"));
        assert!(!verify("admin", "$pbkdf2-sha512$x$AAAA$AAAA"));
        assert!(!verify("admin", "$pbkdf2-sha256$1000$MDEy$VYpa"));
        assert!(!verify("", ""));
    }

    #[test]
    fn ab64_round_trip() {
        for len in 0..20 {
            let data: Vec<u8> = (0..len).map(|i| (i * 37 + 250) as u8).collect();
            assert_eq!(ab64_decode(&ab64_encode(&data)).unwrap(), data);
        }
        assert!(!ab64_encode(&[0xfb, 0xff]).contains('+'));
    }
}
