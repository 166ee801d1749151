//! Reading and appending OpenSSH `known_hosts` files, hashed (`|1|salt|hash`) entries
//! included.
//!
//! The verdict distinguishes a key we have never seen (ask, or `accept-new`) from one
//! that differs from what is recorded (refuse: that is what a man-in-the-middle looks
//! like), and names the file and line holding the old key.

use std::io::Write;
use std::path::{Path, PathBuf};

use color_eyre::eyre::{Result, WrapErr};
use data_encoding::BASE64;
use hmac::{Hmac, KeyInit, Mac};
use russh::keys::{HashAlg, PublicKey};
use sha1::Sha1;

/// What the known_hosts files say about a server's key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HostKeyStatus {
    Known,
    /// Nothing at all is recorded for this host.
    Unknown,
    /// A key of the same type is recorded for this host and it is a different one.
    Changed {
        file: PathBuf,
        line: usize,
        old_fingerprint: String,
    },
    /// Keys of other types are recorded for this host, none of the type offered. The
    /// client asks for the recorded types first (see [`recorded_algorithms`]), so a server
    /// that answers with another type no longer has the key we know: the identification
    /// changed. OpenSSH would ask "but keys of different type are already known"; we
    /// refuse, like a changed key, so `accept-new` cannot record an impostor's key.
    OtherTypeKnown {
        file: PathBuf,
        line: usize,
        /// The recorded line as written (`host key-type base64`), to compare by eye.
        known_line: String,
        known_type: String,
        known_fingerprint: String,
    },
    /// The key is marked `@revoked`.
    Revoked {
        file: PathBuf,
        line: usize,
    },
}

/// How a host is written in known_hosts: `host`, or `[host]:port` off port 22.
pub fn host_entry_name(host: &str, port: u16) -> String {
    if port == 22 {
        host.to_string()
    } else {
        format!("[{host}]:{port}")
    }
}

/// `SHA256:...` as OpenSSH prints it.
pub fn fingerprint(key: &PublicKey) -> String {
    key.fingerprint(HashAlg::Sha256).to_string()
}

/// Keys of one family are one type for known_hosts, as in OpenSSH: an RSA key is the
/// same key whatever hash signs with it, and ECDSA curves count as one type.
pub fn same_key_type(a: &russh::keys::Algorithm, b: &russh::keys::Algorithm) -> bool {
    use russh::keys::Algorithm as A;
    match (a, b) {
        (A::Rsa { .. }, A::Rsa { .. }) | (A::Ecdsa { .. }, A::Ecdsa { .. }) => true,
        _ => a == b,
    }
}

/// One recorded key for the host being checked, with where it is written.
struct Recorded<'a> {
    file: &'a Path,
    line: usize,
    text: String,
    revoked: bool,
    key: PublicKey,
}

/// Check `key` for `host:port` against every file in order. Every line for the host
/// counts (two keys of one type: either may match, as in OpenSSH); a revoked match wins
/// over everything, then a match, then a different key of the same type.
pub fn check(files: &[PathBuf], host: &str, port: u16, key: &PublicKey) -> Result<HostKeyStatus> {
    let recorded = recorded_for(files, host, port)?;
    if let Some(r) = recorded
        .iter()
        .find(|r| r.revoked && r.key.key_data() == key.key_data())
    {
        return Ok(HostKeyStatus::Revoked {
            file: r.file.to_path_buf(),
            line: r.line,
        });
    }
    let plain = || recorded.iter().filter(|r| !r.revoked);
    if plain().any(|r| r.key.key_data() == key.key_data()) {
        return Ok(HostKeyStatus::Known);
    }
    if let Some(r) = plain().find(|r| same_key_type(&r.key.algorithm(), &key.algorithm())) {
        return Ok(HostKeyStatus::Changed {
            file: r.file.to_path_buf(),
            line: r.line,
            old_fingerprint: fingerprint(&r.key),
        });
    }
    if let Some(r) = plain().next() {
        return Ok(HostKeyStatus::OtherTypeKnown {
            file: r.file.to_path_buf(),
            line: r.line,
            known_line: r.text.clone(),
            known_type: r.key.algorithm().to_string(),
            known_fingerprint: fingerprint(&r.key),
        });
    }
    Ok(HostKeyStatus::Unknown)
}

/// Every key recorded for `host:port` (`@cert-authority` lines aside: we do not accept
/// host certificates), in file and line order. A missing file records nothing.
fn recorded_for<'a>(files: &'a [PathBuf], host: &str, port: u16) -> Result<Vec<Recorded<'a>>> {
    let name = host_entry_name(host, port);
    let mut found = Vec::new();
    for file in files {
        let text = match std::fs::read_to_string(file) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(e).wrap_err_with(|| format!("could not read {}", file.display())),
        };
        for (index, line) in text.lines().enumerate() {
            let Some(entry) = parse_line(line) else {
                continue;
            };
            if entry.marker == Some("@cert-authority") || !hosts_match(entry.hosts, &name) {
                continue;
            }
            let Ok(key) = PublicKey::from_openssh(&format!("{} {}", entry.key_type, entry.key_b64))
            else {
                continue;
            };
            found.push(Recorded {
                file,
                line: index + 1,
                text: line.trim().to_string(),
                revoked: entry.marker == Some("@revoked"),
                key,
            });
        }
    }
    Ok(found)
}

/// The key types recorded for `host:port`, so the server can be asked for one of those
/// first (as OpenSSH does): a host known by its ECDSA key is not asked about again just
/// because it also has an Ed25519 key.
pub fn recorded_algorithms(
    files: &[PathBuf],
    host: &str,
    port: u16,
) -> Vec<russh::keys::Algorithm> {
    let mut found = Vec::new();
    for r in recorded_for(files, host, port).unwrap_or_default() {
        if !r.revoked && !found.contains(&r.key.algorithm()) {
            found.push(r.key.algorithm());
        }
    }
    found
}

/// Append `key` for `host:port`, creating the file (0600) and its directory (0700).
pub fn append(file: &Path, host: &str, port: u16, key: &PublicKey) -> Result<()> {
    use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
    if let Some(dir) = file.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .wrap_err_with(|| format!("could not create {}", dir.display()))?;
    }
    let existing = std::fs::read(file).unwrap_or_default();
    let mut out = std::fs::OpenOptions::new()
        .append(true)
        .create(true)
        .mode(0o600)
        .open(file)
        .wrap_err_with(|| format!("could not open {}", file.display()))?;
    let mut line = String::new();
    if !existing.is_empty() && !existing.ends_with(b"\n") {
        line.push('\n');
    }
    let mut key = key.clone();
    key.set_comment("");
    line += &format!(
        "{} {}\n",
        host_entry_name(host, port),
        key.to_openssh()?.trim()
    );
    out.write_all(line.as_bytes())
        .wrap_err_with(|| format!("could not write {}", file.display()))
}

struct Entry<'a> {
    marker: Option<&'a str>,
    hosts: &'a str,
    key_type: &'a str,
    key_b64: &'a str,
}

fn parse_line(line: &str) -> Option<Entry<'_>> {
    let line = line.trim();
    if line.is_empty() || line.starts_with('#') {
        return None;
    }
    let mut fields = line.split_whitespace();
    let mut first = fields.next()?;
    let marker = if first.starts_with('@') {
        let m = first;
        first = fields.next()?;
        Some(m)
    } else {
        None
    };
    Some(Entry {
        marker,
        hosts: first,
        key_type: fields.next()?,
        key_b64: fields.next()?,
    })
}

/// A comma list of names, glob patterns (`!` negates) or hashed names.
fn hosts_match(hosts: &str, name: &str) -> bool {
    let mut matched = false;
    for pattern in hosts.split(',') {
        if let Some(hashed) = pattern.strip_prefix("|1|") {
            if hashed_match(hashed, name) {
                matched = true;
            }
        } else if let Some(negated) = pattern.strip_prefix('!') {
            if super::config::wildcard_match(negated, name) {
                return false;
            }
        } else if super::config::wildcard_match(pattern, name) {
            matched = true;
        }
    }
    matched
}

/// `salt|hash`, both base64: HMAC-SHA1 of the name keyed by the salt.
fn hashed_match(hashed: &str, name: &str) -> bool {
    let Some((salt, hash)) = hashed.split_once('|') else {
        return false;
    };
    let (Ok(salt), Ok(hash)) = (
        BASE64.decode(salt.as_bytes()),
        BASE64.decode(hash.as_bytes()),
    ) else {
        return false;
    };
    let Ok(mac) = <Hmac<Sha1> as KeyInit>::new_from_slice(&salt) else {
        return false;
    };
    mac.chain_update(name.as_bytes())
        .verify_slice(&hash)
        .is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY_A: &str =
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIJdD7y3aLq454yWBdwLWbieU1ebz9/cu7/QEXn9OIeZJ";
    const KEY_B: &str =
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAILIG2T/B0l0gaqj3puu510tu9N1OkQ4znY3LYuEm5zCF";

    const KEY_ECDSA: &str = "ecdsa-sha2-nistp256 AAAAE2VjZHNhLXNoYTItbmlzdHAyNTYAAAAIbmlzdHAyNTYAAABBBOoViJuAhAX4pnToqWru78WVErslssdhKHl0FMJOyLierR7Af1DZF1vq7NNl2bSOvVuccyfVsrSZYxutKc1OKdM=";

    fn key(s: &str) -> PublicKey {
        PublicKey::from_openssh(s).unwrap()
    }

    #[test]
    fn plain_pattern_and_changed_entries() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("known_hosts");
        std::fs::write(
            &file,
            format!("# comment\n*.example.com {KEY_A}\n[db]:2222 {KEY_B}\n"),
        )
        .unwrap();
        let files = [file.clone()];
        assert_eq!(
            check(&files, "a.example.com", 22, &key(KEY_A)).unwrap(),
            HostKeyStatus::Known
        );
        assert_eq!(
            check(&files, "db", 22, &key(KEY_B)).unwrap(),
            HostKeyStatus::Unknown
        );
        match check(&files, "db", 2222, &key(KEY_A)).unwrap() {
            HostKeyStatus::Changed { file: f, line, .. } => {
                assert_eq!((f, line), (file.clone(), 3));
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn hashed_entries_match_their_host_only() {
        // From russh's own test data: `|1|...` hashes "example.com".
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("known_hosts");
        std::fs::write(
            &file,
            "|1|O33ESRMWPVkMYIwJ1Uw+n877jTo=|nuuC5vEqXlEZ/8BXQR7m619W6Ak= ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAILIG2T/B0l0gaqj3puu510tu9N1OkQ4znY3LYuEm5zCF\n",
        )
        .unwrap();
        let files = [file];
        assert_eq!(
            check(&files, "example.com", 22, &key(KEY_B)).unwrap(),
            HostKeyStatus::Known
        );
        assert_eq!(
            check(&files, "example.org", 22, &key(KEY_B)).unwrap(),
            HostKeyStatus::Unknown
        );
    }

    #[test]
    fn append_then_known() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("sub/known_hosts");
        append(&file, "127.0.0.1", 2200, &key(KEY_A)).unwrap();
        assert_eq!(
            check(std::slice::from_ref(&file), "127.0.0.1", 2200, &key(KEY_A)).unwrap(),
            HostKeyStatus::Known
        );
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            std::fs::metadata(&file).unwrap().permissions().mode() & 0o777,
            0o600
        );
    }

    #[test]
    fn two_keys_of_one_type_either_matches() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("known_hosts");
        std::fs::write(&file, format!("db {KEY_A}\ndb {KEY_B}\n")).unwrap();
        let files = [file];
        assert_eq!(
            check(&files, "db", 22, &key(KEY_B)).unwrap(),
            HostKeyStatus::Known
        );
        assert_eq!(
            check(&files, "db", 22, &key(KEY_A)).unwrap(),
            HostKeyStatus::Known
        );
    }

    #[test]
    fn a_key_of_another_type_than_the_recorded_one_is_not_new() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("known_hosts");
        std::fs::write(&file, format!("other {KEY_B}\ndb {KEY_A}\n")).unwrap();
        match check(std::slice::from_ref(&file), "db", 22, &key(KEY_ECDSA)).unwrap() {
            HostKeyStatus::OtherTypeKnown {
                file: f,
                line,
                known_line,
                known_type,
                ..
            } => {
                assert_eq!((f, line), (file.clone(), 2));
                assert_eq!(known_line, format!("db {KEY_A}"));
                assert_eq!(known_type, "ssh-ed25519");
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(
            recorded_algorithms(&[file], "db", 22),
            vec![russh::keys::Algorithm::Ed25519]
        );
    }
}
