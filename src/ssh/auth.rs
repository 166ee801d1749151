//! Logging in: ssh-agent keys first, then key files (ed25519, ecdsa, rsa with SHA-2),
//! asking the [`Prompter`] for the passphrase of an encrypted file. A passphrase lives
//! only while its key is decrypted and is never logged.

use std::path::Path;
use std::sync::Arc;

use color_eyre::eyre::Result;
use russh::client::{AuthResult, Handle, Handler};
use russh::keys::agent::AgentIdentity;
use russh::keys::agent::client::AgentClient;
use russh::keys::{HashAlg, PrivateKey, PrivateKeyWithHashAlg, PublicKey};

use super::destination::ConnectSpec;
use super::prompt::Prompter;

/// Wrong passphrases allowed per key file, like OpenSSH's NumberOfPasswordPrompts.
const PASSPHRASE_ATTEMPTS: u32 = 3;

pub async fn authenticate<H: Handler>(
    handle: &mut Handle<H>,
    spec: &ConnectSpec,
    prompter: &dyn Prompter,
) -> Result<()> {
    let rsa_hash = handle
        .best_supported_rsa_hash()
        .await
        .ok()
        .flatten()
        .flatten()
        .or(Some(HashAlg::Sha512));
    let mut tried: Vec<String> = Vec::new();
    let wanted: Vec<PublicKey> = spec
        .identity_files
        .iter()
        .filter_map(|f| read_public_half(f))
        .collect();

    if let Some(socket) = &spec.agent_socket {
        match AgentClient::connect_uds(socket).await {
            Ok(mut agent) => {
                let identities = agent.request_identities().await.unwrap_or_default();
                for identity in identities {
                    let AgentIdentity::PublicKey { key, .. } = identity else {
                        continue;
                    };
                    if spec.identities_only
                        && !wanted.iter().any(|w| w.key_data() == key.key_data())
                    {
                        continue;
                    }
                    let hash = key.algorithm().is_rsa().then_some(rsa_hash).flatten();
                    tried.push(format!("agent key {}", key.fingerprint(HashAlg::Sha256)));
                    if let Ok(AuthResult::Success) = handle
                        .authenticate_publickey_with(&spec.user, key.clone(), hash, &mut agent)
                        .await
                    {
                        return Ok(());
                    }
                }
            }
            Err(_) => tried.push(format!("agent at {} (not reachable)", socket.display())),
        }
    }

    for file in &spec.identity_files {
        if !file.exists() {
            continue;
        }
        if is_encrypted(file)
            && let Some(public) = read_public_half(file)
            && !server_would_accept(handle, spec, public, rsa_hash).await?
        {
            // Like OpenSSH: no passphrase question for a key the server would refuse.
            tried.push(format!(
                "key file {} (encrypted; not accepted by the server)",
                file.display()
            ));
            continue;
        }
        let Some(key) = load_key(file, prompter, &mut tried).await? else {
            continue;
        };
        let hash = key.algorithm().is_rsa().then_some(rsa_hash).flatten();
        tried.push(format!("key file {}", file.display()));
        let result = handle
            .authenticate_publickey(&spec.user, PrivateKeyWithHashAlg::new(Arc::new(key), hash))
            .await?;
        if let AuthResult::Success = result {
            return Ok(());
        }
    }
    if tried.is_empty() {
        return Err(super::session::Refusal(format!(
            "no key to log in to {} with: no ssh-agent and none of {} exists",
            spec.describe(),
            spec.identity_files
                .iter()
                .map(|f| f.display().to_string())
                .collect::<Vec<_>>()
                .join(", ")
        ))
        .into());
    }
    Err(super::session::Refusal(format!(
        "{} refused every key (tried: {})",
        spec.describe(),
        tried.join("; ")
    ))
    .into())
}

fn is_encrypted(file: &Path) -> bool {
    std::fs::read_to_string(file).is_ok_and(|text| {
        matches!(
            russh::keys::decode_secret_key(&text, None),
            Err(russh::keys::Error::KeyIsEncrypted)
        )
    })
}

/// Whether the server would take `public`, asked without a signature: russh offers the
/// key unsigned first and only asks the signer once the server says it would accept it,
/// so a signer that declines at that point answers the question.
async fn server_would_accept<H: Handler>(
    handle: &mut Handle<H>,
    spec: &ConnectSpec,
    public: PublicKey,
    rsa_hash: Option<HashAlg>,
) -> Result<bool> {
    let hash = public.algorithm().is_rsa().then_some(rsa_hash).flatten();
    match handle
        .authenticate_publickey_with(&spec.user, public, hash, &mut AcceptanceProbe)
        .await
    {
        Err(Probe::WouldAccept) => Ok(true),
        Ok(_) => Ok(false),
        Err(Probe::SessionGone) => Err(color_eyre::eyre::eyre!(
            "the connection to {} closed during login",
            spec.describe()
        )),
    }
}

struct AcceptanceProbe;

#[derive(Debug)]
enum Probe {
    WouldAccept,
    SessionGone,
}

impl From<russh::SendError> for Probe {
    fn from(_: russh::SendError) -> Self {
        Probe::SessionGone
    }
}

impl russh::Signer for AcceptanceProbe {
    type Error = Probe;

    #[allow(clippy::manual_async_fn)]
    fn auth_sign(
        &mut self,
        _: &AgentIdentity,
        _: Option<HashAlg>,
        _: Vec<u8>,
    ) -> impl std::future::Future<Output = Result<Vec<u8>, Probe>> + Send {
        async { Err(Probe::WouldAccept) }
    }
}

fn read_public_half(file: &Path) -> Option<PublicKey> {
    let mut pub_path = file.as_os_str().to_owned();
    pub_path.push(".pub");
    russh::keys::load_public_key(Path::new(&pub_path)).ok()
}

/// Load a key file, asking for its passphrase when it is encrypted. `None` when the
/// prompter declined (no terminal, or the user gave up).
async fn load_key(
    file: &Path,
    prompter: &dyn Prompter,
    tried: &mut Vec<String>,
) -> Result<Option<PrivateKey>> {
    let text = match std::fs::read_to_string(file) {
        Ok(t) => t,
        Err(e) => {
            tried.push(format!("key file {} (unreadable: {e})", file.display()));
            return Ok(None);
        }
    };
    match russh::keys::decode_secret_key(&text, None) {
        Ok(key) => return Ok(Some(key)),
        Err(russh::keys::Error::KeyIsEncrypted) => {}
        Err(e) => {
            tried.push(format!("key file {} (not a key: {e})", file.display()));
            return Ok(None);
        }
    }
    for attempt in 1..=PASSPHRASE_ATTEMPTS {
        let Some(passphrase) = prompter.passphrase(file.to_path_buf(), attempt).await else {
            tried.push(format!(
                "key file {} (encrypted; {})",
                file.display(),
                if prompter.interactive() {
                    "no passphrase given"
                } else {
                    "no terminal to ask for its passphrase; load it into ssh-agent"
                }
            ));
            return Ok(None);
        };
        if let Ok(key) = russh::keys::decode_secret_key(&text, Some(passphrase.expose())) {
            return Ok(Some(key));
        }
    }
    tried.push(format!(
        "key file {} (wrong passphrase {PASSPHRASE_ATTEMPTS} times)",
        file.display()
    ));
    Ok(None)
}
