//! One SSH session: TCP (or a ProxyJump channel), host key check, login.

use std::sync::{Arc, Mutex};

use color_eyre::eyre::{Result, WrapErr, eyre};
use futures::future::BoxFuture;
use russh::client::{self, Handle};
use russh::keys::PublicKey;

use super::destination::{ConnectSpec, HostKeyPolicy};
use super::known_hosts::{self, HostKeyStatus};
use super::prompt::{HostKeyQuestion, Prompter, describe_refusal};

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

/// A logged-in session, plus the jump host's session its transport runs through.
pub struct Session {
    pub handle: Handle<ClientHandler>,
    _jump: Option<Arc<Session>>,
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
                    HostKeyPolicy::Ask => self.prompter.confirm_host_key(question.clone()).await,
                };
                if !accepted {
                    return Err(describe_refusal(&question, self.prompter.interactive()));
                }
                known_hosts::append(&file, &self.host, self.port, key).map_err(|e| format!("{e:#}"))
            }
        }
    }
}

/// Open and log in, through the ProxyJump host when there is one.
pub fn open(spec: ConnectSpec, prompter: Arc<dyn Prompter>) -> BoxFuture<'static, Result<Session>> {
    Box::pin(async move {
        let refusal = Arc::new(Mutex::new(None));
        let handler = ClientHandler {
            host: spec.host.clone(),
            port: spec.port,
            spec_known_hosts: spec.known_hosts.clone(),
            policy: spec.host_key_policy,
            prompter: prompter.clone(),
            refusal: refusal.clone(),
        };
        let mut preferred = russh::Preferred::default();
        let recorded = known_hosts::recorded_algorithms(&spec.known_hosts, &spec.host, spec.port);
        if !recorded.is_empty() {
            let mut keys = preferred.key.to_vec();
            // Stable: the recorded types move to the front in russh's own order.
            keys.sort_by_key(|a| !recorded.iter().any(|r| r.as_str() == a.as_str()));
            preferred.key = std::borrow::Cow::Owned(keys);
        }
        let config = Arc::new(client::Config {
            preferred,
            keepalive_interval: Some(spec.keepalive_interval),
            keepalive_max: spec.keepalive_max,
            nodelay: true,
            ..client::Config::default()
        });
        let connect_timeout = std::time::Duration::from_secs(20);
        let (connected, jump) = match &spec.proxy_jump {
            None => {
                let addr = (spec.host.as_str(), spec.port);
                let connected =
                    tokio::time::timeout(connect_timeout, client::connect(config, addr, handler))
                        .await
                        .map_err(|_| eyre!("connecting to {} timed out", spec.describe()))?;
                (connected, None)
            }
            Some(hop) => {
                let jump = Arc::new(
                    open((**hop).clone(), prompter.clone())
                        .await
                        .wrap_err_with(|| {
                            format!("could not reach the jump host {}", hop.describe())
                        })?,
                );
                let channel = jump
                    .handle
                    .channel_open_direct_tcpip(spec.host.clone(), spec.port as u32, "127.0.0.1", 0)
                    .await
                    .wrap_err_with(|| {
                        format!(
                            "the jump host {} could not reach {}:{}",
                            hop.describe(),
                            spec.host,
                            spec.port
                        )
                    })?;
                let connected = tokio::time::timeout(
                    connect_timeout,
                    client::connect_stream(config, channel.into_stream(), handler),
                )
                .await
                .map_err(|_| eyre!("connecting to {} timed out", spec.describe()))?;
                (connected, Some(jump))
            }
        };
        let mut handle = match connected {
            Ok(h) => h,
            Err(e) => {
                if let Some(why) = refusal.lock().expect("refusal lock").take() {
                    return Err(Refusal(why).into());
                }
                return Err(eyre!("could not connect to {}: {e}", spec.describe()));
            }
        };
        super::auth::authenticate(&mut handle, &spec, prompter.as_ref()).await?;
        Ok(Session {
            handle,
            _jump: jump,
        })
    })
}
