//! Reaching the droplet this bootstrap created: SSH with backoff until it answers, and
//! the host-key rule for a machine we just made.
//!
//! Nobody can compare the first host key of a new droplet with anything (DigitalOcean does
//! not publish it before boot), so the key first seen is accepted, with a notice naming
//! its fingerprint, and recorded in known_hosts. A key that differs from a recorded one is
//! refused by the SSH layer as everywhere else in odoo-ops, and never retried.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::future::BoxFuture;

use super::run::{Event, Setup};
use super::steps::Step;
use crate::ssh::destination::default_identity_files;
use crate::ssh::prompt::{HostKeyQuestion, Passphrase, Prompter};
use crate::ssh::session::Refusal;
use crate::ssh::{ConnectSpec, Environment, HostKeyPolicy, Proxy};
use crate::target::{SshTarget, Target};

/// How SSH reaches the droplet: user, port and keys, and the known_hosts file its key is
/// recorded in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reach {
    pub user: String,
    pub port: u16,
    pub identity_files: Vec<PathBuf>,
    pub agent_socket: Option<PathBuf>,
    pub known_hosts: PathBuf,
}

/// The droplet as the state file records it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Droplet {
    pub id: u64,
    pub ipv4: String,
}

/// A connected droplet.
pub struct Host {
    pub target: Target,
    pub ipv4: String,
}

/// Accepts the first key of the droplet we created and keeps what it accepted, for the
/// notice. Passphrase-protected keys are skipped: a headless run cannot ask.
#[derive(Default)]
struct FirstKey {
    accepted: Mutex<Option<HostKeyQuestion>>,
}

impl Prompter for FirstKey {
    fn confirm_host_key(&self, question: HostKeyQuestion) -> BoxFuture<'_, bool> {
        *self.accepted.lock().expect("first key lock") = Some(question);
        Box::pin(async { true })
    }

    fn passphrase(&self, _: PathBuf, _: u32) -> BoxFuture<'_, Option<Passphrase>> {
        Box::pin(async { None })
    }

    fn interactive(&self) -> bool {
        false
    }
}

impl Reach {
    /// How both faces reach a droplet they created: as root (DigitalOcean's images log in
    /// as root) on `port` (22 unless given), with the key file given (`-i`) or else the
    /// operator's usual ones (`~/.ssh/id_ed25519`, `id_ecdsa`, `id_rsa`) after the
    /// ssh-agent, its key recorded in the operator's `~/.ssh/known_hosts`.
    pub fn droplet_root(env: &Environment, port: Option<u16>, identity: Option<PathBuf>) -> Reach {
        Reach {
            user: "root".into(),
            port: port.unwrap_or(22),
            identity_files: match identity {
                Some(key) => vec![key],
                None => default_identity_files(&env.home),
            },
            agent_socket: env.agent_socket.clone(),
            known_hosts: env.home.join(".ssh/known_hosts"),
        }
    }

    fn spec(&self, ipv4: &str) -> ConnectSpec {
        ConnectSpec {
            label: ipv4.to_string(),
            host: ipv4.to_string(),
            port: self.port,
            user: self.user.clone(),
            identity_files: self.identity_files.clone(),
            identities_only: false,
            agent_socket: self.agent_socket.clone(),
            known_hosts: vec![self.known_hosts.clone()],
            host_key_policy: HostKeyPolicy::Ask,
            keepalive_interval: Duration::from_secs(15),
            keepalive_max: 4,
            connect_timeout: Duration::from_secs(20),
            proxy: Proxy::Direct,
        }
    }
}

impl Host {
    /// Connect, retrying with backoff (a droplet's sshd comes up a while after "active")
    /// until `setup.waits.ssh` has passed. A refused host key ends it at once.
    pub async fn wait_for_ssh(
        setup: &Setup,
        droplet: &Droplet,
        report: &mut (dyn FnMut(Event) + Send),
    ) -> Result<Host, String> {
        if let Some(dir) = setup.reach.known_hosts.parent() {
            let _ = std::fs::create_dir_all(dir);
        }
        let spec = setup.reach.spec(&droplet.ipv4);
        let described = spec.describe();
        let until = tokio::time::Instant::now() + setup.waits.ssh;
        let mut delay = Duration::from_secs(1);
        loop {
            let prompter = Arc::new(FirstKey::default());
            match SshTarget::connect(spec.clone(), prompter.clone()).await {
                Ok(target) => {
                    if let Some(q) = prompter.accepted.lock().expect("first key lock").take() {
                        report(Event::Notice {
                            step: Step::WaitReady,
                            text: format!(
                                "first connection to droplet {} ({}): accepted its host key {} {} \
                                 and recorded it in {}; a different key later will be refused",
                                droplet.id,
                                q.host,
                                q.key_type,
                                q.fingerprint,
                                q.known_hosts.display()
                            ),
                        });
                    }
                    return Ok(Host {
                        target: Target::Ssh(target),
                        ipv4: droplet.ipv4.clone(),
                    });
                }
                Err(e) => {
                    let refused = e.chain().any(|c| c.downcast_ref::<Refusal>().is_some())
                        || e.to_string().contains("REFUSED");
                    if refused || tokio::time::Instant::now() + delay > until {
                        return Err(format!(
                            "SSH to {described} did not succeed{}: {e:#}",
                            if refused { "" } else { " before the deadline" }
                        ));
                    }
                    tracing::info!("bootstrap: SSH to {described}: {e:#}; again in {delay:?}");
                    tokio::time::sleep(delay).await;
                    delay = (delay * 2).min(Duration::from_secs(20));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    #[test]
    fn a_droplet_is_reached_as_root_with_the_operators_keys_unless_one_is_given() {
        let env = Environment {
            home: "/home/op".into(),
            agent_socket: Some("/run/agent.sock".into()),
            local_user: "op".into(),
        };
        let usual = Reach::droplet_root(&env, None, None);
        assert_eq!(usual.user, "root");
        assert_eq!(usual.port, 22);
        assert_eq!(
            usual.identity_files,
            default_identity_files(Path::new("/home/op"))
        );
        assert_eq!(usual.agent_socket, env.agent_socket);
        assert_eq!(
            usual.known_hosts,
            PathBuf::from("/home/op/.ssh/known_hosts")
        );
        let given = Reach::droplet_root(&env, Some(2222), Some("/k/id".into()));
        assert_eq!(given.port, 2222);
        assert_eq!(given.identity_files, vec![PathBuf::from("/k/id")]);
    }
}
