//! The parts of OpenSSH's `~/.ssh/config` the console honours: `Host` blocks with
//! patterns (`*`, `?`, `!negation`), HostName, User, Port, IdentityFile, IdentitiesOnly,
//! ProxyJump (a list is a chain), ProxyCommand, ConnectTimeout, ServerAliveInterval,
//! ServerAliveCountMax, UserKnownHostsFile, IdentityAgent and StrictHostKeyChecking, with
//! `Include` (globs, relative to ~/.ssh).
//!
//! As in OpenSSH, the first value obtained for a keyword wins, except IdentityFile,
//! which accumulates. `Match` blocks are skipped (never applied) rather than guessed at.

use std::path::{Path, PathBuf};

use color_eyre::eyre::{Result, WrapErr, bail};

/// One `Host` block as written in the file.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct Block {
    /// `None` for a `Match` block, which never applies.
    patterns: Option<Vec<String>>,
    options: Vec<Opt>,
}

/// `keyword value`, and where it was written (an index into `files`, a line number).
#[derive(Debug, Clone, PartialEq, Eq)]
struct Opt {
    key: String,
    value: String,
    file: usize,
    line: usize,
}

/// A parsed config file (with the files it includes), kept so every host name can be
/// resolved against it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SshConfig {
    files: Vec<PathBuf>,
    blocks: Vec<Block>,
}

/// Includes nested deeper than this are a loop (OpenSSH uses 16 as well).
const MAX_INCLUDE_DEPTH: usize = 16;

/// What the config says about one host name.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HostOptions {
    pub hostname: Option<String>,
    pub user: Option<String>,
    pub port: Option<u16>,
    pub identity_files: Vec<PathBuf>,
    pub identities_only: Option<bool>,
    pub proxy_jump: Option<String>,
    /// Not substituted yet (`%h`, `%p`, ...); `none` means none.
    pub proxy_command: Option<String>,
    pub connect_timeout: Option<u64>,
    pub server_alive_interval: Option<u64>,
    pub server_alive_count_max: Option<usize>,
    pub user_known_hosts_files: Vec<PathBuf>,
    /// `none` disables the agent; a path names its socket.
    pub identity_agent: Option<String>,
    /// `accept-new` is the only value that changes what we do; `no`/`off` are refused
    /// (we never accept a key silently) and treated like `ask`.
    pub accept_new: Option<bool>,
}

impl SshConfig {
    /// `~/.ssh/config`, or an empty config when there is none.
    pub fn load_user(home: &Path) -> Result<Self> {
        Self::load(&home.join(".ssh").join("config"))
    }

    pub fn load(path: &Path) -> Result<Self> {
        match std::fs::read_to_string(path) {
            Ok(text) => Self::parse(path, &text),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Self::default()),
            Err(e) => Err(e).wrap_err_with(|| format!("could not read {}", path.display())),
        }
    }

    /// Parse config text read from `path` (`~/.ssh/config`: relative `Include`s are
    /// looked up beside it); errors name the file and line.
    pub fn parse(path: &Path, text: &str) -> Result<Self> {
        let mut config = Self::default();
        // Options before the first Host line apply to every host.
        config.blocks.push(Block {
            patterns: Some(vec!["*".into()]),
            options: Vec::new(),
        });
        config.parse_file(path, text, 0)?;
        Ok(config)
    }

    fn parse_file(&mut self, path: &Path, text: &str, depth: usize) -> Result<()> {
        let file = self.files.len();
        self.files.push(path.to_path_buf());
        for (index, raw) in text.lines().enumerate() {
            let line_no = index + 1;
            let line = raw.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let (keyword, value) = split_keyword(line);
            let value = unquote(value);
            if value.is_empty() {
                bail!("{}:{line_no}: `{keyword}` has no value", path.display());
            }
            match keyword.to_ascii_lowercase().as_str() {
                "host" => self.blocks.push(Block {
                    patterns: Some(value.split_whitespace().map(str::to_string).collect()),
                    options: Vec::new(),
                }),
                "match" => self.blocks.push(Block {
                    patterns: None,
                    options: Vec::new(),
                }),
                "include" => {
                    if depth >= MAX_INCLUDE_DEPTH {
                        bail!(
                            "{}:{line_no}: Include nested too deeply (a loop?)",
                            path.display()
                        );
                    }
                    // The included lines apply under the current Host block, and the
                    // lines after the Include still do.
                    let context = self
                        .blocks
                        .last()
                        .map(|b| b.patterns.clone())
                        .unwrap_or_default();
                    for included in include_paths(path, value) {
                        let text = std::fs::read_to_string(&included).wrap_err_with(|| {
                            format!(
                                "{}:{line_no}: could not read {}",
                                path.display(),
                                included.display()
                            )
                        })?;
                        self.blocks.push(Block {
                            patterns: context.clone(),
                            options: Vec::new(),
                        });
                        self.parse_file(&included, &text, depth + 1)?;
                    }
                    self.blocks.push(Block {
                        patterns: context,
                        options: Vec::new(),
                    });
                }
                other => self
                    .blocks
                    .last_mut()
                    .expect("there is always a first block")
                    .options
                    .push(Opt {
                        key: other.to_string(),
                        value: value.to_string(),
                        file,
                        line: line_no,
                    }),
            }
        }
        Ok(())
    }

    /// Everything the config says about `host` (the name as the user typed it).
    pub fn resolve(&self, host: &str, home: &Path) -> Result<HostOptions> {
        let mut out = HostOptions::default();
        for block in &self.blocks {
            let Some(patterns) = &block.patterns else {
                continue;
            };
            if !patterns_match(patterns, host) {
                continue;
            }
            for Opt {
                key,
                value,
                file,
                line,
            } in &block.options
            {
                let at = || format!("{}:{line}: {key}", self.files[*file].display());
                match key.as_str() {
                    "hostname" => set_once(&mut out.hostname, value.replace("%h", host)),
                    "user" => set_once(&mut out.user, value.clone()),
                    "port" if out.port.is_none() => {
                        out.port = Some(value.parse().wrap_err_with(|| {
                            format!("{}: `{value}` is not a port number", at())
                        })?);
                    }
                    "identityfile" => out.identity_files.push(expand_home(value, home)),
                    "identitiesonly" if out.identities_only.is_none() => {
                        out.identities_only = Some(yes_no(value).ok_or_else(|| {
                            color_eyre::eyre::eyre!("{}: expected yes or no, got `{value}`", at())
                        })?);
                    }
                    // One proxy: whichever of the two comes first wins (as in OpenSSH).
                    "proxyjump" if out.proxy_command.is_none() => {
                        set_once(&mut out.proxy_jump, value.clone())
                    }
                    "proxycommand" if out.proxy_jump.is_none() => {
                        set_once(&mut out.proxy_command, value.clone())
                    }
                    "connecttimeout" if out.connect_timeout.is_none() => {
                        out.connect_timeout = Some(value.parse().wrap_err_with(|| {
                            format!("{}: `{value}` is not a number of seconds", at())
                        })?);
                    }
                    "serveraliveinterval" if out.server_alive_interval.is_none() => {
                        out.server_alive_interval = Some(value.parse().wrap_err_with(|| {
                            format!("{}: `{value}` is not a number of seconds", at())
                        })?);
                    }
                    "serveralivecountmax" if out.server_alive_count_max.is_none() => {
                        out.server_alive_count_max = Some(
                            value
                                .parse()
                                .wrap_err_with(|| format!("{}: `{value}` is not a count", at()))?,
                        );
                    }
                    "userknownhostsfile" if out.user_known_hosts_files.is_empty() => {
                        out.user_known_hosts_files = value
                            .split_whitespace()
                            .map(|p| expand_home(p, home))
                            .collect();
                    }
                    "identityagent" => set_once(&mut out.identity_agent, value.clone()),
                    "stricthostkeychecking" if out.accept_new.is_none() => {
                        out.accept_new = Some(value.eq_ignore_ascii_case("accept-new"));
                    }
                    // Everything else is OpenSSH's business, not ours.
                    _ => {}
                }
            }
        }
        Ok(out)
    }
}

fn set_once(slot: &mut Option<String>, value: String) {
    if slot.is_none() {
        *slot = Some(value);
    }
}

fn yes_no(value: &str) -> Option<bool> {
    match value.to_ascii_lowercase().as_str() {
        "yes" | "true" => Some(true),
        "no" | "false" => Some(false),
        _ => None,
    }
}

/// `Keyword value`, `Keyword=value` or `Keyword = value`.
fn split_keyword(line: &str) -> (&str, &str) {
    let end = line
        .find(|c: char| c.is_whitespace() || c == '=')
        .unwrap_or(line.len());
    let (keyword, rest) = line.split_at(end);
    let rest = rest.trim_start();
    let rest = rest.strip_prefix('=').unwrap_or(rest).trim();
    (keyword, rest)
}

fn unquote(value: &str) -> &str {
    value
        .strip_prefix('"')
        .and_then(|v| v.strip_suffix('"'))
        .unwrap_or(value)
}

/// The files an `Include` names: `~/` is the home (the config's grandparent directory),
/// relative paths are beside the config, and `*`/`?` in the file name are expanded
/// (sorted, as OpenSSH does). Patterns that match nothing are skipped silently.
fn include_paths(config: &Path, value: &str) -> Vec<PathBuf> {
    let dir = config.parent().unwrap_or(Path::new("/"));
    let home = dir.parent().unwrap_or(Path::new("/"));
    let mut out = Vec::new();
    for word in value.split_whitespace() {
        let path = expand_home(word, home);
        let path = if path.is_absolute() {
            path
        } else {
            dir.join(path)
        };
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        if !name.contains(['*', '?']) {
            if path.exists() {
                out.push(path);
            }
            continue;
        }
        let parent = path.parent().unwrap_or(Path::new("/"));
        let mut matches: Vec<PathBuf> = std::fs::read_dir(parent)
            .into_iter()
            .flatten()
            .flatten()
            .filter(|e| wildcard_match(&name, &e.file_name().to_string_lossy()))
            .map(|e| e.path())
            .filter(|p| p.is_file())
            .collect();
        matches.sort();
        out.extend(matches);
    }
    out
}

/// `~/x` and `%d/x` are relative to the home directory.
pub fn expand_home(value: &str, home: &Path) -> PathBuf {
    if let Some(rest) = value.strip_prefix("~/") {
        home.join(rest)
    } else if let Some(rest) = value.strip_prefix("%d/") {
        home.join(rest)
    } else {
        PathBuf::from(value)
    }
}

/// A host matches a `Host` line when one pattern matches and no negated one does.
fn patterns_match(patterns: &[String], host: &str) -> bool {
    let mut matched = false;
    for pattern in patterns {
        if let Some(negated) = pattern.strip_prefix('!') {
            if wildcard_match(negated, host) {
                return false;
            }
        } else if wildcard_match(pattern, host) {
            matched = true;
        }
    }
    matched
}

/// OpenSSH's `*` and `?` glob, case-insensitive like host names.
pub fn wildcard_match(pattern: &str, text: &str) -> bool {
    let p: Vec<char> = pattern.to_ascii_lowercase().chars().collect();
    let t: Vec<char> = text.to_ascii_lowercase().chars().collect();
    let (mut pi, mut ti) = (0, 0);
    let (mut star, mut mark) = (None, 0);
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some(pi);
            mark = ti;
            pi += 1;
        } else if let Some(s) = star {
            pi = s + 1;
            mark += 1;
            ti = mark;
        } else {
            return false;
        }
    }
    while pi < p.len() && p[pi] == '*' {
        pi += 1;
    }
    pi == p.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = r#"
# a comment
ServerAliveInterval 30

Host prod-* !prod-legacy
    HostName %h.example.com
    User deploy
    Port=2222
    IdentityFile ~/.ssh/prod_ed25519
    IdentitiesOnly yes
    ProxyJump bastion

Host prod-web
    User ignored-because-first-wins
    IdentityFile ~/.ssh/second

Match host never
    User never

Host *
    User fallback
    StrictHostKeyChecking accept-new
"#;

    fn sample() -> SshConfig {
        SshConfig::parse(Path::new("/home/u/.ssh/config"), SAMPLE).unwrap()
    }

    #[test]
    fn first_value_wins_and_identity_files_accumulate() {
        let o = sample().resolve("prod-web", Path::new("/home/u")).unwrap();
        assert_eq!(o.hostname.as_deref(), Some("prod-web.example.com"));
        assert_eq!(o.user.as_deref(), Some("deploy"));
        assert_eq!(o.port, Some(2222));
        assert_eq!(
            o.identity_files,
            vec![
                PathBuf::from("/home/u/.ssh/prod_ed25519"),
                PathBuf::from("/home/u/.ssh/second")
            ]
        );
        assert_eq!(o.identities_only, Some(true));
        assert_eq!(o.proxy_jump.as_deref(), Some("bastion"));
        assert_eq!(o.server_alive_interval, Some(30));
        assert_eq!(o.accept_new, Some(true));
    }

    #[test]
    fn negated_patterns_exclude_and_match_blocks_never_apply() {
        let o = sample().resolve("prod-legacy", Path::new("/h")).unwrap();
        assert_eq!(o.hostname, None);
        assert_eq!(o.user.as_deref(), Some("fallback"));
        assert_eq!(o.proxy_jump, None);
    }

    #[test]
    fn a_bad_port_names_file_and_line() {
        let c = SshConfig::parse(Path::new("/x/config"), "Host a\n  Port twenty\n").unwrap();
        let e = c.resolve("a", Path::new("/h")).unwrap_err();
        assert!(format!("{e:#}").contains("/x/config:2: port"), "{e:#}");
    }

    #[test]
    fn includes_apply_in_place_and_errors_name_the_included_file() {
        let home = tempfile::tempdir().unwrap();
        let ssh = home.path().join(".ssh");
        std::fs::create_dir_all(ssh.join("config.d")).unwrap();
        std::fs::write(
            ssh.join("config.d/10-prod.conf"),
            "Host prod\n  HostName 10.0.0.9\n  Port 2O22\n",
        )
        .unwrap();
        std::fs::write(ssh.join("config.d/20-all.conf"), "User from-include\n").unwrap();
        let main = "Include config.d/*.conf\nHost prod\n  User deploy\n";
        std::fs::write(ssh.join("config"), main).unwrap();
        let c = SshConfig::load_user(home.path()).unwrap();
        let o = c.resolve("other", home.path()).unwrap();
        assert_eq!(o.user.as_deref(), Some("from-include"));
        let e = c.resolve("prod", home.path()).unwrap_err();
        assert!(
            format!("{e:#}").contains("config.d/10-prod.conf:3: port"),
            "{e:#}"
        );
    }

    #[test]
    fn wildcards() {
        assert!(wildcard_match("*.example.com", "a.example.com"));
        assert!(wildcard_match("db?", "DB1"));
        assert!(!wildcard_match("db?", "db12"));
        assert!(wildcard_match("*", ""));
    }
}
