//! What counts as a secret, in one place, and how every output hides it: the Containers
//! inspect view, the stack diff of `render`, the diagnosis' evidence, exported logs, JSON
//! outputs and the console's own log all go through these functions.
//!
//! A secret is:
//! - the value of a name that says it holds one: `*PASS*` (`PASSWORD`, `PASSWD`,
//!   `PGPASSWORD`, `DB_PASS`), `*PWD*` (`SMTP_PWD`; not the shell's `PWD`/`OLDPWD`, which
//!   are directories), `*SECRET*`, `*TOKEN*`, `*CREDENTIAL*`, and a word that is or ends in
//!   `KEY` (`API_KEY`, `APIKEY`; not `KEYMAP`), in any of the shapes a name takes a value:
//!   `NAME=value` (environment, `.env`), `name = value` (odoo.conf: `db_password`,
//!   `admin_passwd`, `smtp_password`), `name: value` (YAML), `--name=value`, `--name value`;
//! - Odoo's `-w VALUE` (its short form of `--db_password`);
//! - the password of a URL (`postgres://user:PASSWORD@host/db`, `DATABASE_URL`);
//! - the credential of an `Authorization:` header or after `Bearer`;
//! - a DigitalOcean token by its shape (`dop_v1_…`, `doo_v1_…`, `dor_v1_…`), wherever it
//!   stands, since doctl's files and error messages carry it bare;
//! - an htpasswd hash (`user:$apr1$...`, bcrypt, `{SHA}`), as in traefik's
//!   `...basicauth.users` label, and any value of a `basicauth`/`digestauth` label.
//!
//! Names stay, values go: an operator still sees that `POSTGRES_PASSWORD` is set, and which
//! user a URL or a basic-auth entry names. Hiding too much is the safe error, so the rules
//! are deliberately broad (a word `password:` in a log line hides the word after it).

/// What a hidden value is replaced with.
pub const REDACTED: &str = "<redacted>";

/// Whether `name` (an environment variable, a config key, an option without its dashes)
/// names a secret.
pub fn is_secret_name(name: &str) -> bool {
    let upper = name.trim().to_ascii_uppercase();
    if upper.is_empty() || upper == "PWD" || upper == "OLDPWD" {
        return false;
    }
    upper
        .split(|c: char| !c.is_ascii_alphanumeric())
        .any(|word| {
            ["PASS", "PWD", "SECRET", "TOKEN", "CREDENTIAL"]
                .iter()
                .any(|s| word.contains(s))
                || word.ends_with("KEY")
                || word == "AUTHORIZATION"
        })
}

/// Whether [`line`] could change `line`: it holds one of the words or marks a rule starts
/// from (a secret name, `-w`, `Bearer`, a URL, an htpasswd hash). A quick test, so a log
/// follower redacts every line at the speed it reads them: most lines hold none.
pub fn may_hold_secret(line: &str) -> bool {
    use std::sync::LazyLock;
    static MARKS: LazyLock<aho_corasick::AhoCorasick> = LazyLock::new(|| {
        aho_corasick::AhoCorasick::builder()
            .ascii_case_insensitive(true)
            .build([
                "pass",
                "pwd",
                "secret",
                "token",
                "credential",
                "key",
                "auth",
                "bearer",
                "://",
                "-w",
                "$",
                "{sha",
                "{ssha",
                "_v1_",
            ])
            .expect("fixed patterns")
    });
    MARKS.is_match(line)
}

/// Every line of `text`, line endings kept.
pub fn text(text: &str) -> String {
    text.split_inclusive('\n')
        .map(|l| {
            let body = l.trim_end_matches(['\n', '\r']);
            let mut out = line(body);
            out.push_str(&l[body.len()..]);
            out
        })
        .collect()
}

/// One line of anything shown: a config or `.env` line, a command line, a log line.
pub fn line(line: &str) -> String {
    if let Some(assignment) = assignment(line) {
        return assignment;
    }
    words(line)
}

/// `NAME=value` of an environment (Docker's `Config.Env`).
pub fn env_var(var: &str) -> String {
    line(var)
}

/// An argument vector (Docker's `Cmd`, `Args`, `Entrypoint`): an option that takes a secret
/// hides the next argument; each argument is also read as a line (`sh -c "... --x=y"`).
pub fn args<S: AsRef<str>>(argv: &[S]) -> Vec<String> {
    let mut hide_next = false;
    argv.iter()
        .map(|a| {
            let a = a.as_ref();
            if std::mem::take(&mut hide_next) {
                return REDACTED.to_string();
            }
            hide_next = takes_secret(a);
            line(a)
        })
        .collect()
}

/// A label's value (Docker, traefik), given its key.
pub fn label(key: &str, value: &str) -> String {
    let lower = key.to_ascii_lowercase();
    let last = key.rsplit(['.', '/']).next().unwrap_or(key);
    if lower.contains("basicauth") || lower.contains("digestauth") {
        return credential_list(value);
    }
    if is_secret_name(last) {
        return REDACTED.to_string();
    }
    line(value)
}

/// Every string in a JSON document (Docker's inspect, a `--json` output): values under a
/// secret key, `Env`, `Cmd`/`Args`/`Entrypoint` and `Labels` by their own rules, any other
/// string as text. Iterative, so a deep document cannot overflow the stack.
pub fn json(value: &mut serde_json::Value) {
    use serde_json::Value;
    let mut todo: Vec<&mut Value> = vec![value];
    while let Some(v) = todo.pop() {
        match v {
            Value::String(s) => *s = text(s),
            Value::Array(items) => todo.extend(items.iter_mut()),
            Value::Object(map) => {
                for (key, child) in map.iter_mut() {
                    match (key.as_str(), child) {
                        ("Cmd" | "Args" | "Entrypoint", Value::Array(items))
                            if items.iter().all(Value::is_string) =>
                        {
                            let argv: Vec<&str> = items.iter().filter_map(Value::as_str).collect();
                            let shown = args(&argv);
                            for (item, s) in items.iter_mut().zip(shown) {
                                *item = Value::String(s);
                            }
                        }
                        ("Labels", Value::Object(labels)) => {
                            for (k, v) in labels.iter_mut() {
                                if let Value::String(s) = v {
                                    *s = label(k, s);
                                }
                            }
                        }
                        (k, child @ (Value::String(_) | Value::Number(_))) if is_secret_name(k) => {
                            *child = Value::String(REDACTED.into());
                        }
                        (_, child) => todo.push(child),
                    }
                }
            }
            _ => {}
        }
    }
}

/// A whole line that assigns a value to a secret name: `KEY=value`, `key = value`,
/// `key: value`, also after `export ` or a YAML `- `. The value goes whole (it may hold
/// spaces). A bare `${VAR}` substitution is a reference, not a secret, and stays.
fn assignment(line: &str) -> Option<String> {
    let trimmed = line.trim_start();
    let indent = &line[..line.len() - trimmed.len()];
    if trimmed.starts_with('#') || trimmed.starts_with(';') {
        return None;
    }
    let (lead, rest) = ["export ", "- "]
        .iter()
        .find_map(|p| trimmed.strip_prefix(p).map(|r| (*p, r)))
        .unwrap_or(("", trimmed));
    let split = rest.find(['=', ':'])?;
    let name = rest[..split].trim_end();
    let name_bare = name.trim_matches(['"', '\'']);
    if name_bare.is_empty()
        || !name_bare
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
        || !is_secret_name(name_bare)
    {
        return None;
    }
    let after = &rest[split + 1..];
    // `key: value` needs the space YAML needs; `user:pass` is not an assignment.
    if rest.as_bytes()[split] == b':' && !(after.is_empty() || after.starts_with(' ')) {
        return None;
    }
    let value = after.trim();
    if value.is_empty() {
        return None;
    }
    if value.starts_with("${") && value.ends_with('}') {
        return Some(line.to_string());
    }
    let spacing = &after[..after.len() - after.trim_start().len()];
    Some(format!(
        "{indent}{lead}{}{spacing}{REDACTED}",
        &rest[..split + 1]
    ))
}

/// Whether an argument is an option whose value is the next argument and a secret:
/// `--db_password`, `--password`, Odoo's `-w`.
fn takes_secret(arg: &str) -> bool {
    let core = arg.trim_matches(['"', '\'']);
    core == "-w" || (core.starts_with('-') && !core.contains('=') && is_secret_name(core))
}

/// Word by word: options and names that take a secret hide what follows, URLs lose their
/// password, `Authorization`/`Bearer` their credential, htpasswd entries their hash.
fn words(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut hide_next = false;
    let mut previous_secret = false;
    let mut rest = line;
    while !rest.is_empty() {
        let space = rest.len() - rest.trim_start().len();
        out.push_str(&rest[..space]);
        rest = &rest[space..];
        let end = rest.find(char::is_whitespace).unwrap_or(rest.len());
        let word = &rest[..end];
        rest = &rest[end..];
        if word.is_empty() {
            continue;
        }
        if std::mem::take(&mut hide_next) {
            out.push_str(&hidden(word));
            previous_secret = false;
            continue;
        }
        let core = word.trim_matches(['"', '\'', ',', ';', '(', ')', '{', '}']);
        let name = core.trim_end_matches([':', '=']).trim_matches(['"', '\'']);
        let lower = name.to_ascii_lowercase();
        hide_next = takes_secret(core)
            || lower == "bearer"
            || (core.ends_with([':', '=']) && is_secret_name(name.trim_start_matches('-')))
            || (matches!(core, "=" | ":") && previous_secret);
        if lower == "authorization" || lower == "proxy-authorization" {
            // The scheme (`Basic`, `Bearer`) stays; the credential after it goes.
            let next = rest.trim_start();
            let scheme_end = next.find(char::is_whitespace).unwrap_or(next.len());
            let scheme = next[..scheme_end].trim_matches(['"', '\'']);
            if !scheme.is_empty() && scheme.chars().all(|c| c.is_ascii_alphabetic()) {
                out.push_str(word);
                let skip = rest.len() - next.len() + scheme_end;
                out.push_str(&rest[..skip]);
                rest = &rest[skip..];
                hide_next = true;
                previous_secret = false;
                continue;
            }
            hide_next = true;
        }
        previous_secret = is_secret_name(name) && !core.contains('=');
        out.push_str(&one_word(word));
    }
    out
}

/// A word on its own: `NAME=value` with a secret name, a URL's password, htpasswd hashes.
fn one_word(word: &str) -> String {
    if let Some((name, value)) = word.split_once('=') {
        let bare = name.trim_start_matches(['-', '"', '\'']);
        if !value.is_empty()
            && !bare.is_empty()
            && bare
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
            && is_secret_name(bare)
        {
            return format!("{name}={}", hidden(value));
        }
    }
    let word = digitalocean_tokens(&url_passwords(word));
    if is_htpasswd_list(&word) {
        return credential_list(&word);
    }
    word
}

/// `scheme://user:password@host` → `scheme://user:<redacted>@host`, each time it occurs.
fn url_passwords(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find("://") {
        let (head, tail) = rest.split_at(i + 3);
        out.push_str(head);
        let end = tail
            .find(|c: char| c.is_whitespace() || matches!(c, '"' | '\'' | '<' | '>'))
            .unwrap_or(tail.len());
        let candidate = &tail[..end];
        match candidate.rfind('@') {
            Some(at) if candidate[..at].contains(':') => {
                let user_end = candidate.find(':').unwrap_or(0);
                out.push_str(&candidate[..user_end]);
                out.push(':');
                out.push_str(REDACTED);
                out.push_str(&candidate[at..]);
                rest = &tail[end..];
            }
            _ => rest = tail,
        }
    }
    out.push_str(rest);
    out
}

/// DigitalOcean's token prefixes: personal access, OAuth, refresh.
const DIGITALOCEAN_TOKEN_PREFIXES: [&str; 3] = ["dop_v1_", "doo_v1_", "dor_v1_"];

/// `dop_v1_<hex>` → `<redacted>`, each time it occurs in a word.
fn digitalocean_tokens(word: &str) -> String {
    let mut out = String::with_capacity(word.len());
    let mut rest = word;
    while let Some((at, prefix)) = DIGITALOCEAN_TOKEN_PREFIXES
        .iter()
        .filter_map(|p| rest.find(p).map(|i| (i, *p)))
        .min()
    {
        let after = &rest[at + prefix.len()..];
        let hex = after
            .find(|c: char| !c.is_ascii_alphanumeric())
            .unwrap_or(after.len());
        out.push_str(&rest[..at]);
        if hex == 0 {
            out.push_str(prefix);
        } else {
            out.push_str(REDACTED);
        }
        rest = &after[hex..];
    }
    out.push_str(rest);
    out
}

const HASH_PREFIXES: &[&str] = &[
    "$apr1$", "$2y$", "$2a$", "$2b$", "{SHA}", "{SSHA}", "$1$", "$5$", "$6$", "$$apr1$$", "$$2y$$",
];

/// `user:$apr1$...` (one or several, comma-separated): an htpasswd entry list.
fn is_htpasswd_list(word: &str) -> bool {
    word.split(',').any(|entry| {
        entry
            .split_once(':')
            .is_some_and(|(_, hash)| HASH_PREFIXES.iter().any(|p| hash.starts_with(p)))
    })
}

/// `user:cred,user2:cred2` → `user:<redacted>,user2:<redacted>`; anything else whole.
fn credential_list(value: &str) -> String {
    if value.is_empty() {
        return String::new();
    }
    value
        .split(',')
        .map(|entry| match entry.split_once(':') {
            Some((user, _)) => format!("{user}:{REDACTED}"),
            None => REDACTED.to_string(),
        })
        .collect::<Vec<_>>()
        .join(",")
}

/// A word replaced, its surrounding quotes and trailing punctuation kept.
fn hidden(word: &str) -> String {
    let lead = word.len() - word.trim_start_matches(['"', '\'']).len();
    let body = &word[lead..];
    let trail = body.len()
        - body
            .trim_end_matches(['"', '\'', ',', ';', ')', '}', ']'])
            .len();
    if lead + trail >= word.len() {
        return word.to_string();
    }
    format!("{}{REDACTED}{}", &word[..lead], &body[body.len() - trail..])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_names() {
        for n in [
            "PASSWORD",
            "DB_PASS",
            "PGPASSWORD",
            "SMTP_PWD",
            "db_password",
            "admin_passwd",
            "smtp_password",
            "API_KEY",
            "APIKEY",
            "AWS_SECRET_ACCESS_KEY",
            "GITHUB_TOKEN",
            "DOCKER_CREDENTIALS",
        ] {
            assert!(is_secret_name(n), "{n}");
        }
        for n in [
            "KEYMAP", "PWD", "OLDPWD", "HOST", "db_user", "ODOO_TAG", "PATH",
        ] {
            assert!(!is_secret_name(n), "{n}");
        }
    }

    #[test]
    fn digitalocean_tokens_go_by_their_shape() {
        let token = format!("dop_v1_{}", "ab12".repeat(16));
        assert_eq!(line(&format!("using {token}, ok")), "using <redacted>, ok");
        assert!(may_hold_secret(&token));
        assert_eq!(line("a dop_v1_ prefix alone"), "a dop_v1_ prefix alone");
    }

    #[test]
    fn env_and_config_lines_keep_the_name() {
        assert_eq!(line("DB_PASS=hunter2"), "DB_PASS=<redacted>");
        assert_eq!(line("SMTP_PWD=\"a b c\""), "SMTP_PWD=<redacted>");
        assert_eq!(line("export API_KEY=xyz"), "export API_KEY=<redacted>");
        assert_eq!(line("db_password = s3cr3t"), "db_password = <redacted>");
        assert_eq!(
            line("admin_passwd = $pbkdf2-sha512$600000$abc"),
            "admin_passwd = <redacted>"
        );
        assert_eq!(line("  PASSWORD: hunter2"), "  PASSWORD: <redacted>");
        assert_eq!(line("  - DB_PASS=hunter2"), "  - DB_PASS=<redacted>");
        // A substitution names a variable, it holds no secret.
        assert_eq!(
            line("      PASSWORD: ${POSTGRES_PASSWORD:?must be set}"),
            "      PASSWORD: ${POSTGRES_PASSWORD:?must be set}"
        );
        // A commented-out password is still a password; a comment that names one is not.
        assert_eq!(line("# DB_PASS=old"), "# DB_PASS=<redacted>");
        assert_eq!(
            line("# POSTGRES_PASSWORD is generated"),
            "# POSTGRES_PASSWORD is generated"
        );
        assert_eq!(line("ODOO_TAG=18.0"), "ODOO_TAG=18.0");
        assert_eq!(line("PWD=/srv/odoo"), "PWD=/srv/odoo");
    }

    #[test]
    fn url_credentials_lose_the_password_only() {
        assert_eq!(
            line("DATABASE_URL=postgres://odoo:hunter2@db:5432/odoo"),
            "DATABASE_URL=postgres://odoo:<redacted>@db:5432/odoo"
        );
        assert_eq!(
            line("connect to postgresql://u:p%40ss@h/db failed, retry https://x.test/a"),
            "connect to postgresql://u:<redacted>@h/db failed, retry https://x.test/a"
        );
        assert_eq!(
            line("https://erp.test:8443/web"),
            "https://erp.test:8443/web"
        );
    }

    #[test]
    fn command_lines_lose_option_values() {
        assert_eq!(
            line(
                "odoo-bin -c /etc/odoo.conf --db_password=hunter2 -w hunter3 --db_password hunter4"
            ),
            "odoo-bin -c /etc/odoo.conf --db_password=<redacted> -w <redacted> --db_password <redacted>"
        );
        assert_eq!(
            args(&[
                "odoo",
                "--db_password",
                "hunter2",
                "-w",
                "x1",
                "--http-port=8069"
            ]),
            [
                "odoo",
                "--db_password",
                "<redacted>",
                "-w",
                "<redacted>",
                "--http-port=8069"
            ]
        );
        assert_eq!(
            args(&["sh", "-c", "exec odoo --db_password=hunter2"]),
            ["sh", "-c", "exec odoo --db_password=<redacted>"]
        );
        // A line that starts with an assignment loses all of its value: an `.env` value
        // may hold spaces, and hiding too much is the safe error.
        assert_eq!(
            line("PGPASSWORD=hunter2 psql -h db"),
            "PGPASSWORD=<redacted>"
        );
        assert_eq!(
            line("env PGPASSWORD=hunter2 psql -h db"),
            "env PGPASSWORD=<redacted> psql -h db"
        );
    }

    #[test]
    fn authorization_and_basic_auth() {
        assert_eq!(
            line("curl -H 'Authorization: Bearer abc.def' https://x"),
            "curl -H 'Authorization: Bearer <redacted>' https://x"
        );
        assert_eq!(
            line("proxy_set_header Authorization \"Basic dXNlcjpwYXNz\";"),
            "proxy_set_header Authorization \"Basic <redacted>\";"
        );
        assert_eq!(line("token bearer xyz"), "token bearer <redacted>");
        assert_eq!(
            label(
                "traefik.http.middlewares.auth.basicauth.users",
                "admin:$apr1$H6uskkkW$IgXLP6ewTrSuBkTrqE8wj/,bob:$apr1$x$y"
            ),
            "admin:<redacted>,bob:<redacted>"
        );
        assert_eq!(
            line("users=admin:$apr1$H6uskkkW$IgXLP6ewTrSuBkTrqE8wj/"),
            "users=admin:<redacted>"
        );
        assert_eq!(label("com.example.api-token", "t0k"), "<redacted>");
        assert_eq!(label("com.docker.compose.service", "odoo"), "odoo");
    }

    #[test]
    fn log_lines_keep_their_words() {
        let l = "2024-01-01 12:00:00 ERROR odoo: password authentication failed for user \"odoo\"";
        assert_eq!(line(l), l);
        assert_eq!(
            line("{'login': 'admin', 'password': 'hunter2'}"),
            "{'login': 'admin', 'password': '<redacted>'}"
        );
    }

    #[test]
    fn json_documents_by_their_structure() {
        let mut v = serde_json::json!({
            "Config": {
                "Env": ["DB_PASS=p1", "DATABASE_URL=postgres://odoo:p2@db/odoo", "HOST=db"],
                "Cmd": ["odoo", "--db_password", "p3"],
                "Labels": {"traefik.http.middlewares.a.basicauth.users": "admin:$apr1$p4"},
            },
            "Args": ["-w", "p5"],
            "nested": [{"smtp_password": "p6", "lines": ["db_password = p7"]}],
        });
        json(&mut v);
        let shown = v.to_string();
        for secret in ["p1", "p2", "p3", "p4", "p5", "p6", "p7"] {
            assert!(!shown.contains(&format!("{secret}\"")), "{secret}: {shown}");
        }
        for name in [
            "DB_PASS",
            "DATABASE_URL",
            "--db_password",
            "basicauth",
            "smtp_password",
        ] {
            assert!(shown.contains(name), "{name}: {shown}");
        }
        assert!(shown.contains("HOST=db") && shown.contains("admin:<redacted>"));
    }

    #[test]
    fn text_keeps_line_endings() {
        assert_eq!(
            text("A=1\nDB_PASS=x\r\nB=2"),
            "A=1\nDB_PASS=<redacted>\r\nB=2"
        );
    }

    #[test]
    fn the_quick_test_lets_through_every_line_a_rule_changes() {
        for l in [
            "DB_PASS=hunter2",
            "db_password = hunter2",
            "odoo -w hunter2",
            "postgres://odoo:hunter2@db/odoo",
            "Authorization: Basic aGk6dGhlcmU=",
            "token: hunter2",
            "admin:$apr1$x$y",
            "API_KEY=abc",
        ] {
            assert_ne!(line(l), l, "{l}");
            assert!(may_hold_secret(l), "{l}");
        }
        assert!(!may_hold_secret(
            "2026-11-22 02:02:12,655 7 INFO odoo werkzeug: GET /web/health HTTP/1.0 200"
        ));
    }
}
