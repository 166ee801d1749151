//! Just enough DER to read a leaf certificate's names and expiry for the TLS check
//! (validation itself is rustls-platform-verifier's job).

/// A DER element: tag, content, and the rest after it.
fn element(input: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let tag = *input.first()?;
    let first = *input.get(1)? as usize;
    let (len, header) = if first < 0x80 {
        (first, 2)
    } else {
        let n = first & 0x7f;
        if n == 0 || n > 4 {
            return None;
        }
        let mut len = 0usize;
        for i in 0..n {
            len = (len << 8) | *input.get(2 + i)? as usize;
        }
        (len, 2 + n)
    };
    let content = input.get(header..header + len)?;
    Some((tag, content, &input[header + len..]))
}

/// `notAfter` as `YYYY-MM-DD HH:MM:SS UTC` and seconds since the epoch; the DNS names
/// (subjectAltName, falling back to nothing: modern clients ignore the CN).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeafInfo {
    pub not_after: String,
    pub not_after_epoch: i64,
    pub dns_names: Vec<String>,
}

pub fn leaf_info(der: &[u8]) -> Option<LeafInfo> {
    let (_, cert, _) = element(der)?;
    let (_, tbs, _) = element(cert)?;
    let mut rest = tbs;
    // [0] version is optional.
    let (tag, _, r) = element(rest)?;
    if tag == 0xa0 {
        rest = r;
    }
    let (_, _, r) = element(rest)?; // serial
    let (_, _, r) = element(r)?; // signature algorithm
    let (_, _, r) = element(r)?; // issuer
    let (_, validity, r) = element(r)?;
    let (_, _, after) = element(validity)?;
    let (tag, not_after, _) = element(after)?;
    let (text, epoch) = parse_time(tag, not_after)?;
    let (_, _, r) = element(r)?; // subject
    let (_, _, mut r) = element(r)?; // subject public key info
    let mut dns_names = Vec::new();
    while let Some((tag, content, next)) = element(r) {
        if tag == 0xa3 {
            let (_, exts, _) = element(content)?;
            let mut e = exts;
            while let Some((_, ext, next_ext)) = element(e) {
                let (_, oid, mut body) = element(ext)?;
                if oid == [0x55, 0x1d, 0x11] {
                    // Skip the optional `critical` BOOLEAN.
                    if let Some((0x01, _, b)) = element(body) {
                        body = b;
                    }
                    let (_, octets, _) = element(body)?;
                    let (_, names, _) = element(octets)?;
                    let mut n = names;
                    while let Some((t, value, nn)) = element(n) {
                        if t == 0x82 {
                            dns_names.push(String::from_utf8_lossy(value).into_owned());
                        }
                        n = nn;
                    }
                }
                e = next_ext;
            }
        }
        r = next;
    }
    Some(LeafInfo {
        not_after: text,
        not_after_epoch: epoch,
        dns_names,
    })
}

/// UTCTime (`YYMMDDHHMMSSZ`) or GeneralizedTime (`YYYYMMDDHHMMSSZ`).
fn parse_time(tag: u8, bytes: &[u8]) -> Option<(String, i64)> {
    let s = std::str::from_utf8(bytes).ok()?;
    let digits = s.trim_end_matches('Z');
    let (year, rest) = match tag {
        0x17 => {
            let yy: i64 = digits.get(0..2)?.parse().ok()?;
            (
                if yy >= 50 { 1900 + yy } else { 2000 + yy },
                digits.get(2..)?,
            )
        }
        0x18 => (digits.get(0..4)?.parse().ok()?, digits.get(4..)?),
        _ => return None,
    };
    let num = |r: std::ops::Range<usize>| -> Option<i64> { rest.get(r)?.parse().ok() };
    let (mo, d, h, mi, sec) = (num(0..2)?, num(2..4)?, num(4..6)?, num(6..8)?, num(8..10)?);
    let epoch = days_from_civil(year, mo, d) * 86_400 + h * 3600 + mi * 60 + sec;
    Some((
        format!("{year:04}-{mo:02}-{d:02} {h:02}:{mi:02}:{sec:02} UTC"),
        epoch,
    ))
}

/// Days since 1970-01-01 (Howard Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn epoch_arithmetic() {
        assert_eq!(days_from_civil(1970, 1, 1), 0);
        assert_eq!(days_from_civil(2000, 3, 1), 11_017);
        let (text, epoch) = parse_time(0x17, b"261122020000Z").unwrap();
        assert_eq!(text, "2026-11-22 02:00:00 UTC");
        assert_eq!(epoch, 1_795_312_800);
    }

    #[test]
    fn a_real_certificate_is_read() {
        // Made by `openssl req -x509 ... -days 30 -addext subjectAltName=DNS:erp.example.test`.
        let pem = include_str!("testdata/erp.example.test.pem");
        let b64: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
        let der = base64_decode(&b64);
        let info = leaf_info(&der).unwrap();
        assert_eq!(info.dns_names, ["erp.example.test"]);
        // openssl x509 -enddate: notAfter=Dec 22 02:35:06 2026 GMT
        assert_eq!(info.not_after, "2026-12-22 02:35:06 UTC");
    }

    fn base64_decode(s: &str) -> Vec<u8> {
        let alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        let mut out = Vec::new();
        let mut acc = 0u32;
        let mut bits = 0;
        for c in s.bytes().filter(|c| *c != b'=') {
            let v = alphabet.iter().position(|a| *a == c).unwrap() as u32;
            acc = (acc << 6) | v;
            bits += 6;
            if bits >= 8 {
                bits -= 8;
                out.push((acc >> bits) as u8);
            }
        }
        out
    }
}
