//! Where to connect: `[user@]host[:port]` as typed, merged with what `~/.ssh/config`
//! says about that name, into one [`ConnectSpec`].

use std::path::{Path, PathBuf};
use std::time::Duration;

use color_eyre::eyre::{Result, WrapErr, bail};

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
    /// How long the network may take to bring the connection up to the host key check
    /// and past it (ConnectTimeout); time spent asking a person is not counted.
    pub connect_timeout: Duration,
    /// How the TCP connection is made: directly, through a jump host, or by a command.
    pub proxy: Proxy,
}

/// ProxyJump and ProxyCommand; as in OpenSSH, whichever the config gives first wins.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Proxy {
    #[default]
    Direct,
    /// A channel opened from the last hop of a chain; that hop's own spec says how it
    /// is reached (`ProxyJump a,b`: b's proxy is a).
    Jump(Box<ConnectSpec>),
    /// A local command (`%h %p %r %n` not yet substituted) whose stdio is the connection.
    Command(String),
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

/// Default ConnectTimeout: OpenSSH waits for the kernel (minutes); a console with a
/// status bar should say sooner that a host does not answer.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(20);

/// Nested jump hosts deeper than this are a loop (`a` jumps through `b`, `b` through `a`).
const MAX_JUMP_DEPTH: usize = 16;

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
    resolve_hop(dest, config, env, overrides, depth, true)
}

/// One host's spec; `own_proxy: false` for a hop of a ProxyJump list, which is reached
/// through the hop before it whatever its own config says (as `ssh -J a,b` does).
fn resolve_hop(
    dest: &Destination,
    config: &SshConfig,
    env: &Environment,
    overrides: &Overrides,
    depth: usize,
    own_proxy: bool,
) -> Result<ConnectSpec> {
    if depth > MAX_JUMP_DEPTH {
        bail!(
            "ProxyJump for {} nests more than {MAX_JUMP_DEPTH} jump hosts (a loop?)",
            dest.host
        );
    }
    let opts = config.resolve(&dest.host, &env.home)?;
    let mut identity_files = opts.identity_files.clone();
    if let Some(file) = &overrides.identity_file {
        // config.toml's `identity_file = "~/.ssh/key"` (no shell expanded it).
        let file = match file.to_str() {
            Some(text) => super::config::expand_home(text, &env.home),
            None => file.clone(),
        };
        identity_files.insert(0, file);
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
    let proxy = if !own_proxy {
        Proxy::Direct
    } else if let Some(list) = opts.proxy_jump.as_deref().filter(|v| !is_none(v)) {
        let hop_overrides = Overrides {
            accept_new: overrides.accept_new,
            ..Overrides::default()
        };
        let mut chain: Option<ConnectSpec> = None;
        for hop in list.split(',').map(str::trim) {
            let hop_dest = Destination::parse(hop)
                .wrap_err_with(|| format!("ProxyJump `{list}` for {}", dest.host))?;
            // The first hop is reached as its own config says; each later one through
            // the hop before it.
            let mut spec = resolve_hop(
                &hop_dest,
                config,
                env,
                &hop_overrides,
                depth + 1,
                chain.is_none(),
            )?;
            if let Some(previous) = chain.take() {
                spec.proxy = Proxy::Jump(Box::new(previous));
            }
            chain = Some(spec);
        }
        match chain {
            Some(last) => Proxy::Jump(Box::new(last)),
            None => Proxy::Direct,
        }
    } else if let Some(command) = opts.proxy_command.as_deref().filter(|v| !is_none(v)) {
        Proxy::Command(command.to_string())
    } else {
        Proxy::Direct
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
        connect_timeout: match opts.connect_timeout {
            Some(0) | None => DEFAULT_CONNECT_TIMEOUT,
            Some(s) => Duration::from_secs(s),
        },
        proxy,
    })
}

/// `ProxyJump none` / `ProxyCommand none`: no proxy (and no later value applies).
fn is_none(value: &str) -> bool {
    value.eq_ignore_ascii_case("none")
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
            "Host web\n HostName 10.0.0.5\n User deploy\n Port 2200\n ProxyJump bastion\nHost bastion\n HostName 10.0.0.1\n ServerAliveInterval 5\n ConnectTimeout 7\n",
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
        let Proxy::Jump(jump) = spec.proxy else {
            panic!("{:?}", spec.proxy)
        };
        assert_eq!(jump.describe(), "me@10.0.0.1:22");
        assert_eq!(jump.keepalive_interval, Duration::from_secs(5));
        assert_eq!(jump.connect_timeout, Duration::from_secs(7));
        assert_eq!(spec.connect_timeout, DEFAULT_CONNECT_TIMEOUT);
    }

    fn env() -> Environment {
        Environment {
            home: PathBuf::from("/h"),
            agent_socket: None,
            local_user: "me".into(),
        }
    }

    /// The hops of a spec's jump chain, nearest to us first.
    fn hops(spec: &ConnectSpec) -> Vec<String> {
        let mut out = Vec::new();
        let mut at = spec;
        while let Proxy::Jump(hop) = &at.proxy {
            out.insert(0, hop.describe());
            at = hop;
        }
        out
    }

    #[test]
    fn a_jump_list_is_a_chain_and_none_means_none() {
        let config = SshConfig::parse(
            Path::new("/h/.ssh/config"),
            "Host web\n ProxyJump a,u@b:2201,c\nHost a\n ProxyJump z\nHost b\n ProxyJump ignored\n\
             Host direct\n ProxyCommand none\n ProxyJump a\nHost piped\n ProxyCommand nc %h %p\n ProxyJump a\n",
        )
        .unwrap();
        let spec = |name: &str| {
            resolve(
                &Destination::parse(name).unwrap(),
                &config,
                &env(),
                &Overrides::default(),
            )
            .unwrap()
        };
        assert_eq!(
            hops(&spec("web")),
            ["me@z:22", "me@a:22", "u@b:2201", "me@c:22"]
        );
        assert_eq!(spec("direct").proxy, Proxy::Direct);
        assert_eq!(spec("piped").proxy, Proxy::Command("nc %h %p".into()));
    }

    #[test]
    fn a_jump_loop_is_refused() {
        let config = SshConfig::parse(
            Path::new("/h/.ssh/config"),
            "Host a\n ProxyJump b\nHost b\n ProxyJump a\n",
        )
        .unwrap();
        let e = resolve(
            &Destination::parse("a").unwrap(),
            &config,
            &env(),
            &Overrides::default(),
        )
        .unwrap_err();
        assert!(format!("{e:#}").contains("a loop?"), "{e:#}");
    }

    #[test]
    fn a_tilde_in_the_identity_override_is_the_home() {
        let spec = resolve(
            &Destination::parse("box").unwrap(),
            &SshConfig::default(),
            &env(),
            &Overrides {
                identity_file: Some("~/.ssh/box".into()),
                ..Default::default()
            },
        )
        .unwrap();
        assert_eq!(spec.identity_files[0], PathBuf::from("/h/.ssh/box"));
    }
}
