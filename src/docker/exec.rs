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
