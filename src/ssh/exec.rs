//! Commands on exec channels: stdout, stderr (extended data 1), exit status, stdin.

use std::sync::Arc;

use color_eyre::eyre::{Result, WrapErr, eyre};
use russh::ChannelMsg;
use russh::client::Msg;
use tokio::sync::{mpsc, oneshot};

use super::connection::SshConnection;
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

pub async fn run(conn: &SshConnection, command: &Command) -> Result<Output> {
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
            ChannelMsg::ExitSignal { .. } => finished = true,
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
