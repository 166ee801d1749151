//! One SSH session: TCP (or a ProxyJump channel, or a ProxyCommand's stdio), host key
//! check, login.

use std::sync::{Arc, Mutex};

use color_eyre::eyre::{Result, WrapErr, eyre};
use futures::future::BoxFuture;
use russh::client::{self, Handle};
use russh::keys::PublicKey;

use super::deadline::{HumanTime, network_timeout};
use super::destination::{ConnectSpec, HostKeyPolicy, Proxy};
use super::known_hosts::{self, HostKeyStatus};
use super::prompt::{HostKeyQuestion, Prompter, describe_refusal};
use super::proxy_command::{self, ProxyProcess};

/// The server was reached but refused (or we refused it): a changed or unaccepted host
/// key, or no key accepted. Retrying will not help.
#[derive(Debug)]
pub struct Refusal(pub String);

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Refusal {}

/// A logged-in session, plus what its transport runs through: the jump host's session
/// (itself perhaps through another), or the proxy command (killed with the session).
pub struct Session {
    pub handle: Handle<ClientHandler>,
    _jump: Option<Arc<Session>>,
    _proxy: Option<ProxyProcess>,
}

impl Session {
    pub fn is_closed(&self) -> bool {
        self.handle.is_closed() || self._jump.as_ref().is_some_and(|j| j.is_closed())
    }
}

/// Checks the server's key against known_hosts and remembers why it refused one.
pub struct ClientHandler {
    host: String,
    port: u16,
    spec_known_hosts: Vec<std::path::PathBuf>,
    policy: HostKeyPolicy,
    prompter: Arc<dyn Prompter>,
    refusal: Arc<Mutex<Option<String>>>,
    /// Stopped while the operator reads the question, so the connect timeout spares it.
    human: HumanTime,
}

impl client::Handler for ClientHandler {
    type Error = russh::Error;

    async fn check_server_key(
        &mut self,
        key: &russh::keys::PublicKeyOrCertificate,
    ) -> Result<bool, Self::Error> {
        let key = match key {
            russh::keys::PublicKeyOrCertificate::PublicKey { key, .. } => key.clone(),
            russh::keys::PublicKeyOrCertificate::Certificate(_) => {
                self.refuse(
                    "the server offered a host certificate; only plain host keys are supported"
                        .into(),
                );
                return Ok(false);
            }
        };
        match self.decide(&key).await {
            Ok(()) => Ok(true),
            Err(why) => {
                self.refuse(why);
                Ok(false)
            }
        }
    }
}

impl ClientHandler {
    fn refuse(&self, why: String) {
        *self.refusal.lock().expect("refusal lock") = Some(why);
    }

    async fn decide(&self, key: &PublicKey) -> std::result::Result<(), String> {
        let status = known_hosts::check(&self.spec_known_hosts, &self.host, self.port, key)
            .map_err(|e| format!("{e:#}"))?;
        let name = known_hosts::host_entry_name(&self.host, self.port);
        match status {
            HostKeyStatus::Known => Ok(()),
            HostKeyStatus::Changed {
                file,
                line,
                old_fingerprint,
            } => Err(format!(
                "REFUSED: the host key of {name} has CHANGED.\n\
                 Someone could be intercepting this connection (a man-in-the-middle attack), \
                 or the host was rebuilt and got a new key.\n\
                 The server now offers {} {}; the key recorded in {}:{line} is {old_fingerprint}.\n\
                 If the change is expected, remove that line and connect again.",
                key.algorithm(),
                known_hosts::fingerprint(key),
                file.display(),
            )),
            HostKeyStatus::OtherTypeKnown {
                file,
                line,
                known_line,
                known_type,
                known_fingerprint,
            } => Err(format!(
                "REFUSED: the host identification of {name} has CHANGED.\n\
                 The key recorded in {}:{line} is {known_type} {known_fingerprint} \
                 (`{known_line}`); the server no longer offers a key of that type and offers \
                 {} {} instead.\n\
                 Someone could be intercepting this connection (a man-in-the-middle attack), \
                 or the host was rebuilt with other key types.\n\
                 If the change is expected, remove that line and connect again.",
                file.display(),
                key.algorithm(),
                known_hosts::fingerprint(key),
            )),
            HostKeyStatus::Revoked { file, line } => Err(format!(
                "REFUSED: the host key of {name} is marked @revoked in {}:{line}",
                file.display()
            )),
            HostKeyStatus::Unknown => {
                let Some(file) = self.spec_known_hosts.first().cloned() else {
                    return Err("no known_hosts file is configured to record the key in".into());
                };
                let question = HostKeyQuestion {
                    host: name,
                    key_type: key.algorithm().to_string(),
                    fingerprint: known_hosts::fingerprint(key),
                    known_hosts: file.clone(),
                };
                let accepted = match self.policy {
                    HostKeyPolicy::AcceptNew => true,
                    HostKeyPolicy::Ask => {
                        self.human
                            .asking(self.prompter.confirm_host_key(question.clone()))
                            .await
                    }
                };
                if !accepted {
                    return Err(describe_refusal(&question, self.prompter.interactive()));
                }
                known_hosts::append(&file, &self.host, self.port, key).map_err(|e| format!("{e:#}"))
            }
        }
    }
}

/// Open and log in, through the jump hosts or the proxy command when there are.
pub fn open(spec: ConnectSpec, prompter: Arc<dyn Prompter>) -> BoxFuture<'static, Result<Session>> {
    Box::pin(async move {
        let refusal = Arc::new(Mutex::new(None));
        let human = HumanTime::default();
        let handler = ClientHandler {
            host: spec.host.clone(),
            port: spec.port,
            spec_known_hosts: spec.known_hosts.clone(),
            policy: spec.host_key_policy,
            prompter: prompter.clone(),
            refusal: refusal.clone(),
            human: human.clone(),
        };
        let mut preferred = russh::Preferred::default();
        let recorded = known_hosts::recorded_algorithms(&spec.known_hosts, &spec.host, spec.port);
        if !recorded.is_empty() {
            let mut keys = preferred.key.to_vec();
            // Stable: the recorded types move to the front in russh's own order (every
            // RSA hash counts as the recorded `ssh-rsa`).
            keys.sort_by_key(|a| !recorded.iter().any(|r| known_hosts::same_key_type(r, a)));
            preferred.key = std::borrow::Cow::Owned(keys);
        }
        let config = Arc::new(client::Config {
            preferred,
            keepalive_interval: Some(spec.keepalive_interval),
            keepalive_max: spec.keepalive_max,
            nodelay: true,
            ..client::Config::default()
        });
        let timed_out = || eyre!("connecting to {} timed out", spec.describe());
        let limit = spec.connect_timeout;
        let mut jump = None;
        let mut proxy = None;
        let connected = match &spec.proxy {
            Proxy::Direct => {
                let addr = (spec.host.as_str(), spec.port);
                network_timeout(limit, &human, client::connect(config, addr, handler))
                    .await
                    .ok_or_else(timed_out)?
            }
            Proxy::Jump(hop) => {
                let through = Arc::new(
                    open((**hop).clone(), prompter.clone())
                        .await
                        .wrap_err_with(|| {
                            format!("could not reach the jump host {}", hop.describe())
                        })?,
                );
                let channel = network_timeout(
                    limit,
                    &human,
                    through.handle.channel_open_direct_tcpip(
                        spec.host.clone(),
                        spec.port as u32,
                        "127.0.0.1",
                        0,
                    ),
                )
                .await
                .ok_or_else(timed_out)?
                .wrap_err_with(|| {
                    format!(
                        "the jump host {} could not reach {}:{}",
                        hop.describe(),
                        spec.host,
                        spec.port
                    )
                })?;
                jump = Some(through);
                network_timeout(
                    limit,
                    &human,
                    client::connect_stream(config, channel.into_stream(), handler),
                )
                .await
                .ok_or_else(timed_out)?
            }
            Proxy::Command(template) => {
                let (process, stdio) = proxy_command::spawn(template, &spec)?;
                let process = proxy.insert(process);
                let connected = network_timeout(
                    limit,
                    &human,
                    client::connect_stream(config, stdio, handler),
                )
                .await;
                match connected {
                    Some(c) => c,
                    None => {
                        let said = process.stderr_tail().await;
                        let e = timed_out();
                        return Err(if said.is_empty() {
                            e
                        } else {
                            e.wrap_err(format!("its ProxyCommand said: {said}"))
                        });
                    }
                }
            }
        };
        let mut handle = match connected {
            Ok(h) => h,
            Err(e) => {
                if let Some(why) = refusal.lock().expect("refusal lock").take() {
                    return Err(Refusal(why).into());
                }
                let said = match proxy.as_mut() {
                    Some(p) => p.stderr_tail().await,
                    None => String::new(),
                };
                if !said.is_empty() {
                    return Err(eyre!(
                        "could not connect to {} through its ProxyCommand: {e}; the command said: {said}",
                        spec.describe()
                    ));
                }
                return Err(eyre!("could not connect to {}: {e}", spec.describe()));
            }
        };
        super::auth::authenticate(&mut handle, &spec, prompter.as_ref()).await?;
        Ok(Session {
            handle,
            _jump: jump,
            _proxy: proxy,
        })
    })
}
