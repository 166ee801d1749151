//! The deployment's secrets: the PostgreSQL password and Odoo's master (admin) password,
//! 32 random bytes each from the OS, hex-encoded (safe in YAML, shell and odoo.conf).
//! Once written to `.env` they are read back and kept: rendering again never changes them.

use std::collections::BTreeMap;

/// Keys in `.env`.
pub const DB_PASSWORD_KEY: &str = "POSTGRES_PASSWORD";
pub const ADMIN_PASSWORD_KEY: &str = "ODOO_ADMIN_PASSWORD";

#[derive(Clone, PartialEq, Eq)]
pub struct Secrets {
    pub db_password: String,
    pub admin_password: String,
}

/// Never printed: a `{:?}` in a log or panic shows no secret.
impl std::fmt::Debug for Secrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secrets { <redacted> }")
    }
}

pub fn random_secret() -> std::io::Result<String> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(|e| std::io::Error::other(e.to_string()))?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

impl Secrets {
    pub fn generate() -> std::io::Result<Secrets> {
        Ok(Secrets {
            db_password: random_secret()?,
            admin_password: random_secret()?,
        })
    }

    /// Keep the secrets an existing `.env` holds; generate only the missing ones.
    pub fn keep_or_generate(existing: &BTreeMap<String, String>) -> std::io::Result<Secrets> {
        let keep = |key: &str| existing.get(key).filter(|v| !v.is_empty()).cloned();
        Ok(Secrets {
            db_password: match keep(DB_PASSWORD_KEY) {
                Some(v) => v,
                None => random_secret()?,
            },
            admin_password: match keep(ADMIN_PASSWORD_KEY) {
                Some(v) => v,
                None => random_secret()?,
            },
        })
    }
}

/// `KEY=value` lines of a `.env` (comments and blank lines skipped, optional quotes removed).
pub fn parse_env(text: &str) -> BTreeMap<String, String> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| {
            let v = v.trim();
            let v = v
                .strip_prefix('"')
                .and_then(|v| v.strip_suffix('"'))
                .or_else(|| v.strip_prefix('\'').and_then(|v| v.strip_suffix('\'')))
                .unwrap_or(v);
            (k.trim().to_string(), v.to_string())
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_32_random_bytes() {
        let a = random_secret().unwrap();
        assert_eq!(a.len(), 64);
        assert!(a.bytes().all(|c| c.is_ascii_hexdigit()));
        assert_ne!(a, random_secret().unwrap());
        assert_eq!(
            format!("{:?}", Secrets::generate().unwrap()),
            "Secrets { <redacted> }"
        );
    }

    #[test]
    fn existing_secrets_are_kept() {
        let env = parse_env("# x\nPOSTGRES_PASSWORD=\"abc\"\nODOO_TAG=18.0\n");
        let s = Secrets::keep_or_generate(&env).unwrap();
        assert_eq!(s.db_password, "abc");
        assert_eq!(s.admin_password.len(), 64);
        assert_eq!(env["ODOO_TAG"], "18.0");
    }
}
