//! The machine the console runs on.

use std::path::{Path, PathBuf};
use std::process::Stdio;

use color_eyre::eyre::{Result, WrapErr, eyre};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::{mpsc, oneshot};

use super::{Command, Output, StreamChunk, Streaming, Tunnel, host_port};

/// Where Docker's socket is unless `DOCKER_HOST` says otherwise.
pub const DEFAULT_DOCKER_SOCKET: &str = "/var/run/docker.sock";

#[derive(Debug, Clone, Default)]
pub struct LocalTarget {}

impl LocalTarget {
    pub fn describe(&self) -> String {
        let name = std::fs::read_to_string("/proc/sys/kernel/hostname")
            .map(|s| s.trim().to_string())
            .unwrap_or_default();
        if name.is_empty() {
            "local".into()
        } else {
            format!("local ({name})")
        }
    }

    fn process(command: &Command) -> tokio::process::Command {
        let argv = command.argv();
        let mut process = tokio::process::Command::new(argv[0]);
        process
            .args(&argv[1..])
            .stdin(if command.input().is_some() {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        process
    }

    pub async fn run(&self, command: &Command) -> Result<Output> {
        let mut child = Self::process(command)
            .spawn()
            .wrap_err_with(|| format!("could not start `{}`", command.display()))?;
        if let (Some(input), Some(mut stdin)) = (command.input(), child.stdin.take()) {
            let input = input.to_vec();
            // Written from its own task so a command that fills its stdout before reading
            // all of stdin cannot deadlock us.
            tokio::spawn(async move {
                let _ = stdin.write_all(&input).await;
            });
        }
        let out = child
            .wait_with_output()
            .await
            .wrap_err_with(|| format!("`{}` failed", command.display()))?;
        Ok(Output {
            status: shell_status(out.status),
            stdout: out.stdout,
            stderr: out.stderr,
        })
    }

    pub async fn stream(&self, command: &Command) -> Result<Streaming> {
        let mut child = Self::process(command)
            .spawn()
            .wrap_err_with(|| format!("could not start `{}`", command.display()))?;
        if let (Some(input), Some(mut stdin)) = (command.input(), child.stdin.take()) {
            let input = input.to_vec();
            tokio::spawn(async move {
                let _ = stdin.write_all(&input).await;
            });
        }
        let (tx, rx) = mpsc::channel(256);
        let (stop_tx, mut stop_rx) = oneshot::channel::<()>();
        let mut stdout = child.stdout.take().expect("stdout is piped");
        let mut stderr = child.stderr.take().expect("stderr is piped");
        tokio::spawn(async move {
            let mut out_buf = vec![0u8; 64 * 1024];
            let mut err_buf = vec![0u8; 16 * 1024];
            let (mut out_open, mut err_open) = (true, true);
            while out_open || err_open {
                tokio::select! {
                    _ = &mut stop_rx => { let _ = child.kill().await; return; }
                    n = stdout.read(&mut out_buf), if out_open => match n {
                        Ok(0) | Err(_) => out_open = false,
                        Ok(n) => if tx.send(StreamChunk::Stdout(out_buf[..n].to_vec())).await.is_err() {
                            let _ = child.kill().await; return;
                        },
                    },
                    n = stderr.read(&mut err_buf), if err_open => match n {
                        Ok(0) | Err(_) => err_open = false,
                        Ok(n) => if tx.send(StreamChunk::Stderr(err_buf[..n].to_vec())).await.is_err() {
                            let _ = child.kill().await; return;
                        },
                    },
                }
            }
            let status = child.wait().await.ok().and_then(shell_status);
            let _ = tx.send(StreamChunk::Exit(status)).await;
        });
        Ok(Streaming {
            chunks: rx,
            _stop: Some(stop_tx),
        })
    }

    pub async fn read_file(&self, path: &Path) -> Result<Vec<u8>> {
        tokio::fs::read(path)
            .await
            .wrap_err_with(|| format!("could not read {}", path.display()))
    }

    pub async fn write_file(&self, path: &Path, contents: &[u8], mode: u32) -> Result<()> {
        use std::os::unix::fs::OpenOptionsExt;
        let dir = path
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        let name = path
            .file_name()
            .ok_or_else(|| eyre!("{} is not a file path", path.display()))?;
        let temp: PathBuf = dir.join(format!(
            ".{}.odoo-ops-{}.tmp",
            name.to_string_lossy(),
            std::process::id()
        ));
        let contents = contents.to_vec();
        let target = path.to_path_buf();
        tokio::task::spawn_blocking(move || -> Result<()> {
            use std::io::Write;
            let mut file = std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(mode)
                .open(&temp)
                .wrap_err_with(|| format!("could not create {}", temp.display()))?;
            let written = file
                .write_all(&contents)
                .and_then(|()| file.sync_all())
                .and_then(|()| std::fs::rename(&temp, &target));
            if let Err(e) = written {
                let _ = std::fs::remove_file(&temp);
                return Err(e).wrap_err_with(|| format!("could not write {}", target.display()));
            }
            Ok(())
        })
        .await?
    }

    pub async fn connect_tcp(&self, host: &str, port: u16) -> Result<Box<dyn Tunnel>> {
        let stream = tokio::net::TcpStream::connect((host, port))
            .await
            .wrap_err_with(|| format!("could not connect to {}", host_port(host, port)))?;
        Ok(Box::new(stream))
    }

    pub async fn connect_unix(&self, path: &str) -> Result<Box<dyn Tunnel>> {
        let stream = tokio::net::UnixStream::connect(path)
            .await
            .wrap_err_with(|| format!("could not connect to the socket {path}"))?;
        Ok(Box::new(stream))
    }

    pub async fn docker(&self) -> Result<bollard::Docker> {
        let socket = docker_socket_path();
        bollard::Docker::connect_with_socket(&socket, 30, bollard::API_DEFAULT_VERSION)
            .wrap_err_with(|| format!("could not open Docker's socket {socket}"))
    }
}

/// `DOCKER_HOST=unix:///path` if set, else the default socket.
pub fn docker_socket_path() -> String {
    std::env::var("DOCKER_HOST")
        .ok()
        .and_then(|h| h.strip_prefix("unix://").map(str::to_string))
        .unwrap_or_else(|| DEFAULT_DOCKER_SOCKET.to_string())
}

/// The status as a shell's `$?` reads it: 128 + N for a death by signal N, as over SSH.
fn shell_status(status: std::process::ExitStatus) -> Option<i32> {
    use std::os::unix::process::ExitStatusExt;
    status.code().or_else(|| status.signal().map(|n| 128 + n))
}
