//! A host reached over SSH: the same operations as the local target, each on its own
//! channel of one shared connection.

use std::path::Path;
use std::sync::Arc;

use color_eyre::eyre::{Result, WrapErr, bail};
use tokio::sync::watch;

use super::{Command, Output, Streaming, Target, Tunnel};
use crate::ssh::{ConnectSpec, ConnectionState, Prompter, SshConnection, exec};

#[derive(Clone)]
pub struct SshTarget {
    connection: Arc<SshConnection>,
}

impl SshTarget {
    pub async fn connect(spec: ConnectSpec, prompter: Arc<dyn Prompter>) -> Result<Self> {
        Ok(Self {
            connection: SshConnection::connect(spec, prompter).await?,
        })
    }

    pub fn from_connection(connection: Arc<SshConnection>) -> Self {
        Self { connection }
    }

    pub fn connection(&self) -> &Arc<SshConnection> {
        &self.connection
    }

    pub fn describe(&self) -> String {
        self.connection.spec().describe()
    }

    /// Connected / reconnecting / failed, for the status bar.
    pub fn state(&self) -> watch::Receiver<ConnectionState> {
        self.connection.state()
    }

    pub async fn run(&self, command: &Command) -> Result<Output> {
        exec::run(&self.connection, command).await
    }

    pub async fn stream(&self, command: &Command) -> Result<Streaming> {
        exec::stream(&self.connection, command).await
    }

    pub async fn read_file(&self, path: &Path) -> Result<Vec<u8>> {
        let out = self
            .run(&Command::new("cat").arg("--").arg(path.to_string_lossy()))
            .await?;
        if !out.success() {
            bail!(
                "could not read {} on {}: {}",
                path.display(),
                self.describe(),
                out.stderr_text().trim()
            );
        }
        Ok(out.stdout)
    }

    /// A temporary file beside the target, created private (umask 077), given its mode,
    /// then renamed over the target: readers see the old or the new file, never half.
    pub async fn write_file(&self, path: &Path, contents: &[u8], mode: u32) -> Result<()> {
        const WRITE: &str = r#"set -e
dir=$(dirname -- "$1"); base=$(basename -- "$1")
tmp="$dir/.$base.odoo-ops-$$.tmp"
trap 'rm -f -- "$tmp"' EXIT
umask 077
cat > "$tmp"
chmod "$2" "$tmp"
sync -- "$tmp" 2>/dev/null || true
mv -f -- "$tmp" "$1"
trap - EXIT"#;
        let out = self
            .run(
                &Command::script(WRITE)
                    .arg(path.to_string_lossy())
                    .arg(format!("{mode:o}"))
                    .stdin(contents.to_vec()),
            )
            .await?;
        if !out.success() {
            bail!(
                "could not write {} on {}: {}",
                path.display(),
                self.describe(),
                out.stderr_text().trim()
            );
        }
        Ok(())
    }

    pub async fn connect_tcp(&self, host: &str, port: u16) -> Result<Box<dyn Tunnel>> {
        let to = host.to_string();
        let channel = self
            .connection
            .with_session(|s| {
                let to = to.clone();
                async move {
                    s.handle
                        .channel_open_direct_tcpip(to, port as u32, "127.0.0.1", 0)
                        .await
                }
            })
            .await
            .wrap_err_with(|| {
                format!(
                    "could not connect to {} on {}",
                    super::host_port(host, port),
                    self.describe()
                )
            })?;
        Ok(Box::new(channel.into_stream()))
    }

    pub async fn connect_unix(&self, path: &str) -> Result<Box<dyn Tunnel>> {
        let socket = path.to_string();
        let channel = self
            .connection
            .with_session(|s| {
                let socket = socket.clone();
                async move { s.handle.channel_open_direct_streamlocal(socket).await }
            })
            .await
            .wrap_err_with(|| {
                format!(
                    "could not connect to the socket {path} on {}",
                    self.describe()
                )
            })?;
        Ok(Box::new(channel.into_stream()))
    }

    pub async fn docker(&self) -> Result<bollard::Docker> {
        crate::ssh::docker::connect(self.connection.clone(), &Target::Ssh(self.clone())).await
    }
}
