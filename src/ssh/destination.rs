//! Where to connect: `[user@]host[:port]` as typed, merged with what `~/.ssh/config`
//! says about that name, into one [`ConnectSpec`].

use std::path::{Path, PathBuf};
use std::time::Duration;

use color_eyre::eyre::{Result, bail};

use super::config::SshConfig;

/// `[user@]host[:port]`, IPv6 literals as `[::1]:22`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Destination {
    pub user: Option<String>,
    pub host: String,
    pub port: Option<u16>,
}

impl Destination {
    pub fn parse(text: &str) -> Result<Self> {
        let text = text.strip_prefix("ssh://").unwrap_or(text);
        let (user, rest) = match text.rsplit_once('@') {
            Some((u, r)) if !u.is_empty() => (Some(u.to_string()), r),
            Some(_) => bail!("`{text}`: the user name before `@` is empty"),
            None => (None, text),
        };
        let (host, port) = if let Some(inner) = rest.strip_prefix('[') {
            let Some((host, after)) = inner.split_once(']') else {
                bail!("`{text}`: `[` without a closing `]`");
            };
            let port = match after.strip_prefix(':') {
                Some(p) => Some(parse_port(text, p)?),
                None if after.is_empty() => None,
                None => bail!("`{text}`: unexpected `{after}` after `]`"),
            };
            (host.to_string(), port)
        } else if rest.matches(':').count() == 1 {
            let (h, p) = rest.split_once(':').expect("one colon");
            (h.to_string(), Some(parse_port(text, p)?))
        } else {
            (rest.to_string(), None)
        };
        if host.is_empty() {
            bail!("`{text}`: no host name");
        }
        if host.starts_with('-') || host.contains(char::is_whitespace) {
            bail!("`{text}` is not a host name");
        }
        Ok(Self { user, host, port })
    }
}

fn parse_port(text: &str, port: &str) -> Result<u16> {
    match port.parse::<u16>() {
        Ok(p) if p > 0 => Ok(p),
        _ => bail!("`{text}`: `{port}` is not a port number (1-65535)"),
    }
}

/// What to do with a host key nobody has seen before.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum HostKeyPolicy {
    /// Ask the prompter; refuse when it says no or cannot ask.
    #[default]
    Ask,
    /// OpenSSH's `StrictHostKeyChecking=accept-new`: record unknown keys, still refuse
    /// changed ones.
    AcceptNew,
}

/// Everything needed to open (and later reopen) one SSH connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectSpec {
    /// The name the user gave (an alias or an address), for messages.
    pub label: String,
    pub host: String,
    pub port: u16,
    pub user: String,
    /// Key files in the order to try them; the defaults when the config names none.
    pub identity_files: Vec<PathBuf>,
    /// Only offer agent keys whose public half matches an identity file.
    pub identities_only: bool,
    /// The ssh-agent socket; `None` for no agent.
    pub agent_socket: Option<PathBuf>,
    /// known_hosts files to check; new keys are appended to the first (the user's).
    pub known_hosts: Vec<PathBuf>,
    pub host_key_policy: HostKeyPolicy,
    /// How long the server may stay silent before we probe it (ServerAliveInterval).
    pub keepalive_interval: Duration,
    /// Unanswered probes before the connection counts as dropped (ServerAliveCountMax).
    pub keepalive_max: usize,
    /// One hop through another host (ProxyJump).
    pub proxy_jump: Option<Box<ConnectSpec>>,
}

/// Command-line choices that override the config.
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    pub port: Option<u16>,
    pub identity_file: Option<PathBuf>,
    pub accept_new: bool,
}

/// The user's home and ssh-agent, passed in so tests and the CLI agree on where they are.
#[derive(Debug, Clone)]
pub struct Environment {
    pub home: PathBuf,
    pub agent_socket: Option<PathBuf>,
    pub local_user: String,
}

impl Environment {
    pub fn from_process() -> Self {
        let home = std::env::var_os("HOME")
            .map(PathBuf::from)
            .or_else(|| directories::BaseDirs::new().map(|b| b.home_dir().to_path_buf()))
            .unwrap_or_else(|| PathBuf::from("/"));
        let local_user = std::env::var("USER")
            .or_else(|_| std::env::var("LOGNAME"))
            .unwrap_or_else(|_| "root".into());
        Self {
            home,
            agent_socket: std::env::var_os("SSH_AUTH_SOCK")
                .filter(|s| !s.is_empty())
                .map(PathBuf::from),
            local_user,
        }
    }
}

pub const GLOBAL_KNOWN_HOSTS: &str = "/etc/ssh/ssh_known_hosts";

/// Default ServerAliveInterval: OpenSSH's is off, but the console must notice a dead
/// connection to show it and reconnect.
pub const DEFAULT_KEEPALIVE: Duration = Duration::from_secs(15);

/// Merge the destination, the ssh config and the overrides (strongest last).
pub fn resolve(
    dest: &Destination,
    config: &SshConfig,
    env: &Environment,
    overrides: &Overrides,
) -> Result<ConnectSpec> {
    resolve_depth(dest, config, env, overrides, 0)
}

fn resolve_depth(
    dest: &Destination,
    config: &SshConfig,
    env: &Environment,
    overrides: &Overrides,
    depth: usize,
) -> Result<ConnectSpec> {
    if depth > 4 {
        bail!(
            "ProxyJump chain for {} is longer than 4 hops (a loop?)",
            dest.host
        );
    }
    let opts = config.resolve(&dest.host, &env.home)?;
    let mut identity_files = opts.identity_files.clone();
    if let Some(file) = &overrides.identity_file {
        identity_files.insert(0, file.clone());
    }
    if identity_files.is_empty() {
        identity_files = default_identity_files(&env.home);
    }
    let agent_socket = match opts.identity_agent.as_deref() {
        Some("none") => None,
        Some("SSH_AUTH_SOCK") | None => env.agent_socket.clone(),
        Some(path) => Some(super::config::expand_home(path, &env.home)),
    };
    let mut known_hosts = if opts.user_known_hosts_files.is_empty() {
        vec![env.home.join(".ssh").join("known_hosts")]
    } else {
        opts.user_known_hosts_files.clone()
    };
    // Checked too (never written): OpenSSH's GlobalKnownHostsFile.
    known_hosts.push(PathBuf::from(GLOBAL_KNOWN_HOSTS));
    let proxy_jump = match opts.proxy_jump.as_deref() {
        None | Some("none") => None,
        Some(jump) => {
            // Only the first hop of a comma list is taken; more hops chain through
            // that host's own ProxyJump.
            let first = jump.split(',').next().unwrap_or(jump);
            let hop = Destination::parse(first)?;
            let hop_overrides = Overrides {
                accept_new: overrides.accept_new,
                ..Overrides::default()
            };
            Some(Box::new(resolve_depth(
                &hop,
                config,
                env,
                &hop_overrides,
                depth + 1,
            )?))
        }
    };
    Ok(ConnectSpec {
        label: dest.host.clone(),
        host: opts.hostname.clone().unwrap_or_else(|| dest.host.clone()),
        port: overrides.port.or(dest.port).or(opts.port).unwrap_or(22),
        user: dest
            .user
            .clone()
            .or(opts.user.clone())
            .unwrap_or_else(|| env.local_user.clone()),
        identity_files,
        identities_only: opts.identities_only.unwrap_or(false),
        agent_socket,
        known_hosts,
        host_key_policy: if overrides.accept_new || opts.accept_new == Some(true) {
            HostKeyPolicy::AcceptNew
        } else {
            HostKeyPolicy::Ask
        },
        keepalive_interval: match opts.server_alive_interval {
            Some(0) | None => DEFAULT_KEEPALIVE,
            Some(s) => Duration::from_secs(s),
        },
        keepalive_max: opts.server_alive_count_max.unwrap_or(3).max(1),
        proxy_jump,
    })
}

/// OpenSSH's default key files, in its order.
pub fn default_identity_files(home: &Path) -> Vec<PathBuf> {
    ["id_ed25519", "id_ecdsa", "id_rsa"]
        .iter()
        .map(|name| home.join(".ssh").join(name))
        .collect()
}

impl ConnectSpec {
    /// `user@host:port` for the status bar.
    pub fn describe(&self) -> String {
        let host = if self.host.contains(':') {
            format!("[{}]", self.host)
        } else {
            self.host.clone()
        };
        format!("{}@{host}:{}", self.user, self.port)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_user_host_port_forms() {
        let d = Destination::parse("root@203.0.113.10").unwrap();
        assert_eq!(
            (d.user.as_deref(), d.host.as_str(), d.port),
            (Some("root"), "203.0.113.10", None)
        );
        let d = Destination::parse("db:2222").unwrap();
        assert_eq!((d.host.as_str(), d.port), ("db", Some(2222)));
        let d = Destination::parse("u@[::1]:22").unwrap();
        assert_eq!((d.host.as_str(), d.port), ("::1", Some(22)));
        assert!(Destination::parse("db:0").is_err());
        assert!(Destination::parse("-oProxyCommand=x").is_err());
        assert!(Destination::parse("@host").is_err());
    }

    #[test]
    fn config_then_overrides() {
        let config = SshConfig::parse(
            Path::new("/h/.ssh/config"),
            "Host web\n HostName 10.0.0.5\n User deploy\n Port 2200\n ProxyJump bastion\nHost bastion\n HostName 10.0.0.1\n ServerAliveInterval 5\n",
        )
        .unwrap();
        let env = Environment {
            home: PathBuf::from("/h"),
            agent_socket: None,
            local_user: "me".into(),
        };
        let spec = resolve(
            &Destination::parse("web").unwrap(),
            &config,
            &env,
            &Overrides {
                port: Some(2201),
                ..Default::default()
            },
        )
        .unwrap();
        assert_eq!(spec.describe(), "deploy@10.0.0.5:2201");
        assert_eq!(spec.identity_files, default_identity_files(Path::new("/h")));
        let jump = spec.proxy_jump.unwrap();
        assert_eq!(jump.describe(), "me@10.0.0.1:22");
        assert_eq!(jump.keepalive_interval, Duration::from_secs(5));
    }
}
