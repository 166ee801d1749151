//! Every value that is written into a stack's files, checked by its kind before anything is
//! rendered: one function per kind, so `--cert` and `--log-dir` (paths), `--listen-http` and
//! `--listen-https` (listen addresses), the ports, the image and tag, the database name and
//! the secrets kept from an existing `.env` cannot carry a line break, a `;` or a `{` into
//! nginx's site, odoo.conf or `.env`. (The domain has its own type: [`super::Domain`].)
//!
//! Each function says what is wrong in words; [`BadValue`] adds which option it was.

use std::fmt;
use std::net::{Ipv4Addr, Ipv6Addr};

/// A value refused: the option that gave it (its command-line flag, or where in `.env`), the
/// value as given (quoted, so a line break shows as `\n`) and what is wrong with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadValue {
    pub option: &'static str,
    pub value: String,
    pub problem: String,
}

impl fmt::Display for BadValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {:?}: {}", self.option, self.value, self.problem)
    }
}

impl std::error::Error for BadValue {}

/// Run `check` on `value`, naming `option` when it refuses.
pub fn check(
    option: &'static str,
    value: &str,
    check: fn(&str) -> Result<(), String>,
) -> Result<(), BadValue> {
    check(value).map_err(|problem| BadValue {
        option,
        value: value.to_string(),
        problem,
    })
}

/// A character that is neither a letter, a digit nor one of `extra`, described.
fn first_outside(value: &str, extra: &str) -> Option<String> {
    value
        .chars()
        .find(|c| !c.is_ascii_alphanumeric() && !extra.contains(*c))
        .map(|c| match c {
            '\n' | '\r' => "a line break".to_string(),
            c if c.is_whitespace() => "whitespace".to_string(),
            c if c.is_control() => format!("a control character ({c:?})"),
            c => format!("{c:?}"),
        })
}

/// A file or directory on the host, as nginx reads it (`ssl_certificate`, `root`,
/// `proxy_cache_path`, log directories): absolute, plain (no `.` or `..` steps), and only
/// letters, digits and `/._-+@,=~%`. nginx would read `;`, `{`, `#`, quotes, `$` (a
/// variable) or whitespace as syntax.
pub fn path(value: &str) -> Result<(), String> {
    const ALLOWED: &str = "/._-+@,=~%";
    if !value.starts_with('/') {
        return Err("must be an absolute path (starting with /)".into());
    }
    if value.len() > 4096 {
        return Err("is longer than 4096 bytes".into());
    }
    if let Some(c) = first_outside(value, ALLOWED) {
        return Err(format!(
            "contains {c}; a path may hold only letters, digits and {ALLOWED}"
        ));
    }
    if value.split('/').any(|step| step == "." || step == "..") {
        return Err("has a '.' or '..' step; give the plain path".into());
    }
    Ok(())
}

/// A TCP port Odoo or nginx listens on: 1 to 65535.
pub fn port(value: u16) -> Result<(), String> {
    if value == 0 {
        Err("port 0 is not a port to listen on; give 1 to 65535".into())
    } else {
        Ok(())
    }
}

fn port_text(value: &str) -> Result<(), String> {
    match value.parse::<u16>() {
        Ok(p) => port(p),
        Err(_) => Err(format!("{value:?} is not a port (1 to 65535)")),
    }
}

/// An nginx `listen` address: `PORT`, `ADDRESS`, `ADDRESS:PORT`, `*:PORT`, with an IPv6
/// address in brackets (`[::]:443`). Parameters (`default_server`, `ssl`...) are not taken:
/// the site adds what it needs.
pub fn listen(value: &str) -> Result<(), String> {
    const FORM: &str = "give PORT, ADDRESS:PORT, *:PORT or [IPv6]:PORT";
    if let Some(c) = first_outside(value, ".:[]*") {
        return Err(format!("contains {c}; {FORM}"));
    }
    if value.is_empty() {
        return Err(format!("is empty; {FORM}"));
    }
    if value.bytes().all(|b| b.is_ascii_digit()) {
        return port_text(value);
    }
    if let Some(rest) = value.strip_prefix('[') {
        let (address, after) = rest
            .split_once(']')
            .ok_or_else(|| format!("has no closing ']'; {FORM}"))?;
        address
            .parse::<Ipv6Addr>()
            .map_err(|_| format!("{address:?} is not an IPv6 address; {FORM}"))?;
        return match after {
            "" => Ok(()),
            _ => match after.strip_prefix(':') {
                Some(p) => port_text(p),
                None => Err(format!("unexpected {after:?} after ']'; {FORM}")),
            },
        };
    }
    let (address, p) = match value.split_once(':') {
        Some((a, p)) => (a, Some(p)),
        None => (value, None),
    };
    if address != "*" && address.parse::<Ipv4Addr>().is_err() {
        return Err(format!("{address:?} is not an IPv4 address or *; {FORM}"));
    }
    match p {
        Some(p) => port_text(p),
        None if address == "*" => Err(format!("'*' needs a port; {FORM}")),
        None => Ok(()),
    }
}

/// A Docker image name without its tag: `odoo`, `library/odoo`,
/// `registry.example.com:5000/team/odoo`. Docker's reference grammar: lower-case path
/// components of letters and digits joined by `.`, `_`, `__` or `-`, and an optional
/// registry host (with a `.` or a port, or `localhost`) in front.
pub fn image(value: &str) -> Result<(), String> {
    if value.is_empty() || value.len() > 255 {
        return Err("must be 1 to 255 characters".into());
    }
    let mut parts: Vec<&str> = value.split('/').collect();
    let first = parts[0];
    if parts.len() > 1 && (first.contains('.') || first.contains(':') || first == "localhost") {
        registry(first)?;
        parts.remove(0);
    }
    for part in parts {
        if part.contains(':') || part.contains('@') {
            return Err("has a tag or digest; give the tag with --tag".into());
        }
        let ok = !part.is_empty()
            && part.bytes().all(|b| {
                b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'.' | b'_' | b'-')
            })
            && part.as_bytes()[0].is_ascii_alphanumeric()
            && part.as_bytes()[part.len() - 1].is_ascii_alphanumeric()
            && !part.contains("..")
            && !part.contains("___");
        if !ok {
            return Err(format!(
                "{part:?} is not an image name component: lower-case letters and digits, joined by '.', '_' or '-'"
            ));
        }
    }
    Ok(())
}

fn registry(host: &str) -> Result<(), String> {
    let (name, p) = match host.rsplit_once(':') {
        Some((n, p)) => (n, Some(p)),
        None => (host, None),
    };
    let ok = !name.is_empty()
        && name.split('.').all(|label| {
            !label.is_empty()
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-')
                && !label.starts_with('-')
                && !label.ends_with('-')
        });
    if !ok {
        return Err(format!("{host:?} is not a registry host name"));
    }
    match p {
        Some(p) => port_text(p).map_err(|e| format!("registry {host:?}: {e}")),
        None => Ok(()),
    }
}

/// A Docker image tag: a letter, digit or `_`, then up to 127 letters, digits, `_`, `.`, `-`.
pub fn tag(value: &str) -> Result<(), String> {
    if value.is_empty() || value.len() > 128 {
        return Err("must be 1 to 128 characters".into());
    }
    if value.starts_with(['.', '-']) {
        return Err("must not start with '.' or '-'".into());
    }
    match first_outside(value, "._-") {
        Some(c) => Err(format!(
            "contains {c}; a tag may hold only letters, digits, '.', '_' and '-'"
        )),
        None => Ok(()),
    }
}

/// An Odoo database name, as Odoo itself accepts them (`DBNAME_PATTERN`:
/// `[a-zA-Z0-9][a-zA-Z0-9_.-]+`), at most PostgreSQL's 63 bytes.
pub fn db_name(value: &str) -> Result<(), String> {
    if value.len() < 2 || value.len() > 63 {
        return Err("must be 2 to 63 characters".into());
    }
    if !value.as_bytes()[0].is_ascii_alphanumeric() {
        return Err("must start with a letter or a digit".into());
    }
    match first_outside(value, "_.-") {
        Some(c) => Err(format!(
            "contains {c}; Odoo takes only letters, digits, '_', '.' and '-'"
        )),
        None => Ok(()),
    }
}

/// A secret kept from an existing `.env` and written back: printable, without whitespace,
/// quotes, `$` (Compose would substitute it), `\`, `` ` `` or `#`. The ones odoo-ops
/// generates are hex.
pub fn secret(value: &str) -> Result<(), String> {
    let bad = value
        .chars()
        .find(|c| !c.is_ascii_graphic() || matches!(c, '"' | '\'' | '$' | '\\' | '`' | '#'));
    match bad {
        // The value itself is not repeated: it is a secret.
        Some(_) => Err(
            "holds whitespace, a quote, '$', '\\', '`' or '#'; replace it or remove the line to have a new one generated".into(),
        ),
        None if value.is_empty() => Err("is empty".into()),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths() {
        assert!(path("/etc/letsencrypt/live/erp.example.com/fullchain.pem").is_ok());
        assert!(path("/var/cache/nginx-odoo").is_ok());
        for (bad, why) in [
            ("etc/x", "absolute"),
            ("/x\nlocation /leak { alias /etc/; }", "a line break"),
            ("/x;", "';'"),
            ("/x y", "whitespace"),
            ("/x/$host", "'$'"),
            ("/x/../etc", "'..'"),
            ("/x#", "'#'"),
            ("/x{", "'{'"),
        ] {
            let e = path(bad).unwrap_err();
            assert!(e.contains(why), "{bad:?}: {e}");
        }
    }

    #[test]
    fn listen_addresses() {
        for good in [
            "80",
            "[::]:80",
            "127.0.0.1:8443",
            "127.0.0.1",
            "*:443",
            "[::1]",
        ] {
            assert!(listen(good).is_ok(), "{good}");
        }
        for (bad, why) in [
            ("80;\n    location /leak { alias /etc/; }", "';'"),
            ("80\n", "a line break"),
            ("80 default_server", "whitespace"),
            ("0", "port 0"),
            ("70000", "not a port"),
            ("example.com:80", "not an IPv4"),
            ("[::1", "closing"),
            ("[zz]:80", "not an IPv6"),
            ("*", "needs a port"),
            ("", "empty"),
        ] {
            let e = listen(bad).unwrap_err();
            assert!(e.contains(why), "{bad:?}: {e}");
        }
    }

    #[test]
    fn images_and_tags() {
        for good in [
            "odoo",
            "library/odoo",
            "registry.example.com:5000/team/odoo-custom",
            "localhost/odoo",
            "ghcr.io/acme/odoo_18",
        ] {
            assert!(image(good).is_ok(), "{good}");
        }
        for bad in [
            "Odoo",
            "odoo:18.0",
            "odoo\nX=1",
            "-odoo",
            "a//b",
            "",
            "odoo$x",
        ] {
            assert!(image(bad).is_err(), "{bad}");
        }
        assert!(image("odoo:18.0").unwrap_err().contains("--tag"));
        for good in ["18.0", "18.0-20250101", "latest", "_x"] {
            assert!(tag(good).is_ok(), "{good}");
        }
        for bad in ["", "18.0 beta", "18\n", ".x", "-x", "a$b", &"x".repeat(129)] {
            assert!(tag(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn database_names_and_secrets() {
        assert!(db_name("odoo").is_ok());
        assert!(db_name("prod-2024.main").is_ok());
        for bad in ["o", "_odoo", "odoo db", "odoo$", "odoo\n[options]"] {
            assert!(db_name(bad).is_err(), "{bad}");
        }
        assert!(secret("0123abcd").is_ok());
        assert!(secret("").is_err());
        for bad in ["a b", "a$b", "a\"b"] {
            let e = secret(bad).unwrap_err();
            assert!(!e.contains(bad), "the secret is not repeated: {e}");
        }
    }

    #[test]
    fn bad_value_names_the_option_and_quotes_the_value() {
        let e = check("--cert", "/x\nlocation", path).unwrap_err();
        assert_eq!(
            e.to_string(),
            "--cert \"/x\\nlocation\": contains a line break; a path may hold only letters, digits and /._-+@,=~%"
        );
    }
}
