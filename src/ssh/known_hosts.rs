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
    Unknown,
    /// A key of the same type is recorded for this host and it is a different one.
    Changed {
        file: PathBuf,
        line: usize,
        old_fingerprint: String,
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

/// Check `key` for `host:port` against every file in order.
pub fn check(files: &[PathBuf], host: &str, port: u16, key: &PublicKey) -> Result<HostKeyStatus> {
    let name = host_entry_name(host, port);
    let mut known = false;
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
            let Ok(recorded) =
                PublicKey::from_openssh(&format!("{} {}", entry.key_type, entry.key_b64))
            else {
                continue;
            };
            let same = recorded.key_data() == key.key_data();
            if entry.marker == Some("@revoked") {
                if same {
                    return Ok(HostKeyStatus::Revoked {
                        file: file.clone(),
                        line: index + 1,
                    });
                }
                continue;
            }
            if same {
                known = true;
            } else if recorded.algorithm() == key.algorithm() {
                return Ok(HostKeyStatus::Changed {
                    file: file.clone(),
                    line: index + 1,
                    old_fingerprint: fingerprint(&recorded),
                });
            }
        }
    }
    Ok(if known {
        HostKeyStatus::Known
    } else {
        HostKeyStatus::Unknown
    })
}

/// The key types recorded for `host:port`, so the server can be asked for one of those
/// first (as OpenSSH does): a host known by its ECDSA key is not asked about again just
/// because it also has an Ed25519 key.
pub fn recorded_algorithms(
    files: &[PathBuf],
    host: &str,
    port: u16,
) -> Vec<russh::keys::Algorithm> {
    let name = host_entry_name(host, port);
    let mut found = Vec::new();
    for file in files {
        let Ok(text) = std::fs::read_to_string(file) else {
            continue;
        };
        for entry in text.lines().filter_map(parse_line) {
            if entry.marker.is_some() || !hosts_match(entry.hosts, &name) {
                continue;
            }
            if let Ok(key) =
                PublicKey::from_openssh(&format!("{} {}", entry.key_type, entry.key_b64))
                && !found.contains(&key.algorithm())
            {
                found.push(key.algorithm());
            }
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
}
