//! Commands on exec channels: stdout, stderr (extended data 1), exit status, stdin.

use std::sync::Arc;

use color_eyre::eyre::{Result, WrapErr, eyre};
use russh::ChannelMsg;
use russh::client::Msg;
use tokio::sync::{mpsc, oneshot};

use super::connection::SshConnection;
use super::job_shell::NotStarted;
use crate::target::{Command, Output, StreamChunk, Streaming};

/// Open a channel, start the command and feed its stdin from a task of its own (so a
/// command that writes before it has read everything cannot deadlock us). Stdin is
/// closed at once when there is none, like `</dev/null` locally.
async fn start(
    conn: &SshConnection,
    command: &Command,
) -> Result<(russh::ChannelReadHalf, Arc<russh::ChannelWriteHalf<Msg>>)> {
    let line = command.to_shell_line()?;
    let channel = conn
        .with_session(|s| async move { s.handle.channel_open_session().await })
        .await
        .wrap_err_with(|| format!("could not open a channel to {}", conn.spec().describe()))?;
    channel
        .exec(true, line.as_bytes())
        .await
        .wrap_err_with(|| format!("could not start `{}`", command.display()))?;
    let (read, write) = channel.split();
    let write = Arc::new(write);
    let input = command.input().map(<[u8]>::to_vec);
    let stdin = write.clone();
    tokio::spawn(async move {
        if let Some(input) = input {
            let _ = stdin.data(&input[..]).await;
        }
        let _ = stdin.eof().await;
    });
    Ok((read, write))
}

/// Run to completion: a command without stdin as a job of the connection's job shell,
/// anything else (or on a host that cannot run one) on its own exec channel.
pub async fn run(conn: &SshConnection, command: &Command) -> Result<Output> {
    if command.input().is_none()
        && let Some(shell) = conn.job_shell().await
    {
        match shell.run(command).await {
            Ok(output) => return Ok(output),
            // The shell died before it got the command (a drop just happened): the exec
            // path waits for the reconnect.
            Err(e) if e.downcast_ref::<NotStarted>().is_some() => {}
            Err(e) => {
                return Err(e.wrap_err(format!(
                    "the connection to {} dropped while `{}` was running",
                    conn.spec().describe(),
                    command.display()
                )));
            }
        }
    }
    run_on_channel(conn, command).await
}

/// Run on an exec channel of its own (started through the login shell).
pub async fn run_on_channel(conn: &SshConnection, command: &Command) -> Result<Output> {
    let (mut read, _write) = start(conn, command).await?;
    let mut output = Output::default();
    let mut finished = false;
    while let Some(msg) = read.wait().await {
        match msg {
            ChannelMsg::Data { data } => output.stdout.extend_from_slice(&data),
            ChannelMsg::ExtendedData { data, ext: 1 } => output.stderr.extend_from_slice(&data),
            ChannelMsg::ExitStatus { exit_status } => {
                output.status = Some(exit_status as i32);
                finished = true;
            }
            ChannelMsg::ExitSignal { signal_name, .. } => {
                output.status = Some(signal_status(&signal_name));
                finished = true;
            }
            ChannelMsg::Close => break,
            _ => {}
        }
    }
    if !finished {
        return Err(eyre!(
            "the connection to {} dropped while `{}` was running",
            conn.spec().describe(),
            command.display()
        ));
    }
    Ok(output)
}

pub async fn stream(conn: &SshConnection, command: &Command) -> Result<Streaming> {
    let (mut read, write) = start(conn, command).await?;
    let (tx, rx) = mpsc::channel(256);
    let (stop_tx, mut stop_rx) = oneshot::channel::<()>();
    tokio::spawn(async move {
        let mut status = None;
        loop {
            let msg = tokio::select! {
                _ = &mut stop_rx => return stop(&write).await,
                msg = read.wait() => msg,
            };
            let chunk = match msg {
                None | Some(ChannelMsg::Close) => break,
                Some(ChannelMsg::Data { data }) => StreamChunk::Stdout(data.to_vec()),
                Some(ChannelMsg::ExtendedData { data, ext: 1 }) => {
                    StreamChunk::Stderr(data.to_vec())
                }
                Some(ChannelMsg::ExitStatus { exit_status }) => {
                    status = Some(exit_status as i32);
                    continue;
                }
                Some(ChannelMsg::ExitSignal { signal_name, .. }) => {
                    status = Some(signal_status(&signal_name));
                    continue;
                }
                Some(_) => continue,
            };
            if tx.send(chunk).await.is_err() {
                return stop(&write).await;
            }
        }
        let _ = tx.send(StreamChunk::Exit(status)).await;
    });
    Ok(Streaming {
        chunks: rx,
        _stop: Some(stop_tx),
    })
}

/// The reader is gone: kill the command (OpenSSH delivers `signal` requests), then close
/// the channel, which also closes its pipes for anything the signal did not reach.
async fn stop(write: &russh::ChannelWriteHalf<Msg>) {
    let _ = write.signal(russh::Sig::KILL).await;
    let _ = write.close().await;
}

/// A death by signal reads as a shell reports it, 128 + the signal's number (what a
/// job of the job shell and a local command report too).
fn signal_status(signal: &russh::Sig) -> i32 {
    use russh::Sig;
    let number = match signal {
        Sig::HUP => libc::SIGHUP,
        Sig::INT => libc::SIGINT,
        Sig::QUIT => libc::SIGQUIT,
        Sig::ILL => libc::SIGILL,
        Sig::ABRT => libc::SIGABRT,
        Sig::FPE => libc::SIGFPE,
        Sig::KILL => libc::SIGKILL,
        Sig::USR1 => libc::SIGUSR1,
        Sig::SEGV => libc::SIGSEGV,
        Sig::PIPE => libc::SIGPIPE,
        Sig::ALRM => libc::SIGALRM,
        Sig::TERM => libc::SIGTERM,
        Sig::Custom(name) => match name.as_str() {
            "USR2" => libc::SIGUSR2,
            "BUS" => libc::SIGBUS,
            "XCPU" => libc::SIGXCPU,
            "XFSZ" => libc::SIGXFSZ,
            "SYS" => libc::SIGSYS,
            _ => 0,
        },
    };
    128 + number
}
