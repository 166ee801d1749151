//! Running a program inside a container through Docker's API (`docker exec` without the
//! CLI): the database tools of a droplet's `db` service (`pg_isready`, `psql`, `pg_dump`)
//! live in that container, and reaching them this way needs no password and no published
//! port, locally and over SSH alike (the API travels through the target's Docker socket).

use std::time::Duration;

use bollard::Docker;
use bollard::container::LogOutput;
use bollard::exec::{CreateExecOptions, StartExecResults};
use color_eyre::eyre::{Result, eyre};
use futures::StreamExt;

/// What a program run in a container left: its exit code and both streams.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExecOutput {
    /// `None` when Docker did not report one (the exec was cut off by the timeout).
    pub exit_code: Option<i64>,
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
}

impl ExecOutput {
    pub fn success(&self) -> bool {
        self.exit_code == Some(0)
    }
}

/// Run `argv` in `container` (name or id) as `user` (the image's default when `None`),
/// collecting its output until it exits or `timeout` passes. The argv goes to Docker as a
/// list: no shell inside the container parses it.
pub async fn run(
    docker: &Docker,
    container: &str,
    user: Option<&str>,
    argv: &[&str],
    timeout: Duration,
) -> Result<ExecOutput> {
    let created = docker
        .create_exec(
            container,
            CreateExecOptions {
                attach_stdout: Some(true),
                attach_stderr: Some(true),
                user,
                cmd: Some(argv.to_vec()),
                ..Default::default()
            },
        )
        .await
        .map_err(|e| eyre!("docker exec in {container}: {e}"))?;
    let mut out = ExecOutput::default();
    let collect = async {
        match docker.start_exec(&created.id, None).await {
            Ok(StartExecResults::Attached { mut output, .. }) => {
                while let Some(chunk) = output.next().await {
                    match chunk {
                        Ok(LogOutput::StdOut { message }) => out.stdout.extend_from_slice(&message),
                        Ok(LogOutput::StdErr { message }) => out.stderr.extend_from_slice(&message),
                        Ok(_) => {}
                        Err(e) => return Err(eyre!("docker exec in {container}: {e}")),
                    }
                }
                Ok(())
            }
            Ok(StartExecResults::Detached) => Ok(()),
            Err(e) => Err(eyre!("docker exec in {container}: {e}")),
        }
    };
    match tokio::time::timeout(timeout, collect).await {
        Ok(result) => result?,
        Err(_) => return Ok(out),
    }
    out.exit_code = docker
        .inspect_exec(&created.id)
        .await
        .ok()
        .and_then(|i| i.exit_code);
    Ok(out)
}

/// Create an exec of `argv` in `container` and start it attached.
async fn start_attached(
    docker: &Docker,
    container: &str,
    user: Option<&str>,
    argv: &[&str],
    stdin: bool,
) -> Result<(String, StartExecResults)> {
    let created = docker
        .create_exec(
            container,
            CreateExecOptions {
                attach_stdin: Some(stdin),
                attach_stdout: Some(true),
                attach_stderr: Some(true),
                user,
                cmd: Some(argv.to_vec()),
                ..Default::default()
            },
        )
        .await
        .map_err(|e| eyre!("docker exec in {container}: {e}"))?;
    let started = docker
        .start_exec(&created.id, None)
        .await
        .map_err(|e| eyre!("docker exec in {container}: {e}"))?;
    Ok((created.id, started))
}

async fn exit_code(docker: &Docker, exec_id: &str) -> Option<i64> {
    docker
        .inspect_exec(exec_id)
        .await
        .ok()
        .and_then(|i| i.exit_code)
}

/// Run `argv` in `container` with its stdout sent chunk by chunk to `stdout`: a large
/// output (a `pg_dump` of the whole database) then never sits whole in memory. stderr is
/// collected; the returned `stdout` is empty. No timeout: a dump takes what it takes.
pub async fn run_streaming_stdout(
    docker: &Docker,
    container: &str,
    user: Option<&str>,
    argv: &[&str],
    stdout: tokio::sync::mpsc::Sender<bytes::Bytes>,
) -> Result<ExecOutput> {
    let (id, started) = start_attached(docker, container, user, argv, false).await?;
    let mut out = ExecOutput::default();
    if let StartExecResults::Attached { mut output, .. } = started {
        while let Some(chunk) = output.next().await {
            match chunk {
                Ok(LogOutput::StdOut { message }) => {
                    if stdout.send(message).await.is_err() {
                        return Err(eyre!(
                            "docker exec in {container}: the output's reader stopped"
                        ));
                    }
                }
                Ok(LogOutput::StdErr { message }) => out.stderr.extend_from_slice(&message),
                Ok(_) => {}
                Err(e) => return Err(eyre!("docker exec in {container}: {e}")),
            }
        }
    }
    out.exit_code = exit_code(docker, &id).await;
    Ok(out)
}

/// Run `argv` in `container` with `stdin` fed from the chunks received (a `psql` reading
/// a dump streamed out of a zip), then closed; both output streams collected. Output is
/// read while input is written, so a chatty program cannot stall on a full pipe.
pub async fn run_with_stdin(
    docker: &Docker,
    container: &str,
    user: Option<&str>,
    argv: &[&str],
    mut stdin: tokio::sync::mpsc::Receiver<bytes::Bytes>,
) -> Result<ExecOutput> {
    use tokio::io::AsyncWriteExt;
    let (id, started) = start_attached(docker, container, user, argv, true).await?;
    let mut out = ExecOutput::default();
    if let StartExecResults::Attached {
        mut output,
        mut input,
    } = started
    {
        let feed = async {
            while let Some(chunk) = stdin.recv().await {
                // The program exited early (an error stopped it): its exit code and
                // stderr say why, not this broken pipe.
                if input.write_all(&chunk).await.is_err() {
                    return;
                }
            }
            let _ = input.shutdown().await;
        };
        let collect = async {
            while let Some(chunk) = output.next().await {
                match chunk {
                    Ok(LogOutput::StdOut { message }) => out.stdout.extend_from_slice(&message),
                    Ok(LogOutput::StdErr { message }) => out.stderr.extend_from_slice(&message),
                    Ok(_) => {}
                    Err(e) => return Err(eyre!("docker exec in {container}: {e}")),
                }
            }
            Ok(())
        };
        let ((), collected) = tokio::join!(feed, collect);
        collected?;
    }
    out.exit_code = exit_code(docker, &id).await;
    Ok(out)
}
