//! Which host a command works on: the local machine, or `[user@]host[:port]` / an alias
//! from `config.toml` (`[hosts.NAME]`) or `~/.ssh/config`, reached over SSH.

use std::path::PathBuf;
use std::sync::Arc;

use clap::Args;
use color_eyre::eyre::{Result, WrapErr};

use crate::config::{HostEntry, Settings};
use crate::ssh::config::SshConfig;
use crate::ssh::{ConnectSpec, Destination, Environment, Overrides, Prompter, TtyPrompter};
use crate::target::{SshTarget, Target};

/// Options every subcommand takes to work on a remote host.
#[derive(Debug, Clone, Default, Args)]
pub struct RemoteArgs {
    /// Work on this host over SSH instead of the local machine: `[user@]host[:port]`, or an
    /// alias from config.toml `[hosts.NAME]` or ~/.ssh/config.
    #[arg(long, global = true, value_name = "[USER@]HOST[:PORT]|ALIAS")]
    pub host: Option<String>,
    /// SSH port (overrides the alias and ~/.ssh/config).
    #[arg(short = 'p', long, global = true, value_name = "PORT")]
    pub port: Option<u16>,
    /// Key file to log in with (tried first, after the ssh-agent).
    #[arg(short = 'i', long, global = true, value_name = "KEY")]
    pub identity: Option<PathBuf>,
    /// Trust a host key seen for the first time and record it (OpenSSH's
    /// StrictHostKeyChecking=accept-new); a changed key is still refused.
    #[arg(long, global = true)]
    pub accept_new: bool,
}

/// Turn a destination or alias into everything needed to connect.
pub fn resolve(
    name: &str,
    args: &RemoteArgs,
    hosts: &std::collections::BTreeMap<String, HostEntry>,
    env: &Environment,
) -> Result<ConnectSpec> {
    let ssh_config = SshConfig::load_user(&env.home)?;
    let mut overrides = Overrides {
        port: args.port,
        identity_file: args.identity.clone(),
        accept_new: args.accept_new,
    };
    let dest = match hosts.get(name) {
        // An odoo-ops alias names the address; ~/.ssh/config still applies to it.
        Some(entry) => {
            let mut dest = Destination::parse(&entry.host)
                .wrap_err_with(|| format!("config.toml [hosts.{name}] host"))?;
            dest.user = dest.user.or(entry.user.clone());
            dest.port = dest.port.or(entry.port);
            if overrides.identity_file.is_none() {
                overrides.identity_file = entry.identity_file.clone();
            }
            dest
        }
        None => Destination::parse(name)?,
    };
    let mut spec = crate::ssh::destination::resolve(&dest, &ssh_config, env, &overrides)?;
    spec.label = name.to_string();
    Ok(spec)
}

/// The target a subcommand works on: local without `--host`, else a connected SSH
/// target. Unknown host keys are asked about on the terminal when there is one.
/// Like every start on a host, it first finishes or reverts a change an earlier run left
/// unfinished (a killed console) and says so on stderr.
pub async fn connect_target(args: &RemoteArgs, settings: &Settings) -> Result<Target> {
    let target = connect_target_with(args, settings, TtyPrompter::or_headless()).await?;
    settle_interrupted_changes(&target).await;
    Ok(target)
}

/// [`crate::workflow::recover`], told on stderr.
pub async fn settle_interrupted_changes(target: &Target) {
    match crate::workflow::recover(target).await {
        Ok(notes) => {
            for note in notes {
                eprintln!("odoo-ops: {note}");
            }
        }
        Err(e) => eprintln!("odoo-ops: warning: could not read the change journal: {e:#}"),
    }
}

pub async fn connect_target_with(
    args: &RemoteArgs,
    settings: &Settings,
    prompter: Arc<dyn Prompter>,
) -> Result<Target> {
    let Some(name) = &args.host else {
        return Ok(Target::local());
    };
    let spec = resolve(
        name,
        args,
        &settings.config.hosts,
        &Environment::from_process(),
    )?;
    let described = spec.describe();
    let connected = SshTarget::connect(spec, prompter).await;
    let target = if described.contains(name.as_str()) {
        connected?
    } else {
        connected.wrap_err_with(|| format!("`{name}` is {described}"))?
    };
    Ok(Target::Ssh(target))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_odoo_ops_alias_beats_the_ssh_config_and_flags_beat_both() {
        let home = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(home.path().join(".ssh")).unwrap();
        std::fs::write(
            home.path().join(".ssh/config"),
            "Host 203.0.113.10\n  User ubuntu\n  Port 2022\n",
        )
        .unwrap();
        let mut hosts = std::collections::BTreeMap::new();
        hosts.insert(
            "prod".to_string(),
            HostEntry {
                host: "203.0.113.10".into(),
                user: Some("deploy".into()),
                port: None,
                identity_file: Some("/keys/prod".into()),
            },
        );
        let env = Environment {
            home: home.path().to_path_buf(),
            agent_socket: None,
            local_user: "me".into(),
        };
        let spec = resolve("prod", &RemoteArgs::default(), &hosts, &env).unwrap();
        assert_eq!(spec.describe(), "deploy@203.0.113.10:2022");
        assert_eq!(spec.identity_files[0], PathBuf::from("/keys/prod"));
        assert_eq!(spec.label, "prod");

        let args = RemoteArgs {
            port: Some(22),
            accept_new: true,
            ..Default::default()
        };
        let spec = resolve("root@203.0.113.10", &args, &hosts, &env).unwrap();
        assert_eq!(spec.describe(), "root@203.0.113.10:22");
        assert_eq!(spec.host_key_policy, crate::ssh::HostKeyPolicy::AcceptNew);
    }
}
