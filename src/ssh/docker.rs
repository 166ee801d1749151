//! The remote Docker engine through the SSH connection: each HTTP request travels over its
//! own direct-streamlocal channel to the host's Docker socket, handed to bollard as a
//! custom transport.

use std::sync::{Arc, Mutex};

use bollard::{BollardRequest, Docker};
use color_eyre::eyre::{Result, eyre};
use russh::ChannelStream;
use russh::client::Msg;

use super::connection::SshConnection;
use crate::target::{Command, Target};

pub const REMOTE_DOCKER_SOCKET: &str = "/var/run/docker.sock";

async fn open_socket(conn: &SshConnection, socket: &str) -> Result<ChannelStream<Msg>> {
    let socket = socket.to_string();
    let channel = conn
        .with_session(|s| {
            let socket = socket.clone();
            async move { s.handle.channel_open_direct_streamlocal(socket).await }
        })
        .await?;
    Ok(channel.into_stream())
}

/// A bollard client for the remote engine. The first channel is opened here to find out
/// early (and explain) when the login user may not use the socket; it then carries the
/// first request, so the probe costs no extra round trip.
pub async fn connect(conn: Arc<SshConnection>, target: &Target) -> Result<Docker> {
    let socket = REMOTE_DOCKER_SOCKET;
    let probe = match open_socket(&conn, socket).await {
        Ok(stream) => stream,
        Err(e) => return Err(explain_unreachable(&conn, target, socket, e).await),
    };
    let first = Arc::new(Mutex::new(Some(probe)));
    let transport = move |request: BollardRequest| {
        let conn = conn.clone();
        let first = first.clone();
        async move {
            let reused = first.lock().expect("probe lock").take();
            let stream = match reused {
                Some(s) => s,
                None => open_socket(&conn, socket).await.map_err(|e| {
                    bollard::errors::Error::IOError {
                        err: std::io::Error::other(format!("{e:#}")),
                    }
                })?,
            };
            send(stream, request).await
        }
    };
    Ok(Docker::connect_with_custom_transport(
        transport,
        Some("ssh-docker://docker"),
        120,
        bollard::API_DEFAULT_VERSION,
    )?)
}

/// HTTP/1.1 over the channel. The Docker socket wants a path-only request target and a
/// Host header, which bollard's custom URIs do not give it.
async fn send(
    stream: ChannelStream<Msg>,
    request: BollardRequest,
) -> Result<hyper::Response<hyper::body::Incoming>, bollard::errors::Error> {
    let (mut parts, body) = request.into_parts();
    let path = parts
        .uri
        .path_and_query()
        .map(|p| p.as_str().to_string())
        .unwrap_or_else(|| "/".into());
    parts.uri =
        path.parse()
            .map_err(|e: http::uri::InvalidUri| bollard::errors::Error::IOError {
                err: std::io::Error::other(e.to_string()),
            })?;
    parts
        .headers
        .insert(http::header::HOST, http::HeaderValue::from_static("docker"));
    let (mut sender, connection) =
        hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream)).await?;
    // Upgrades (attach, exec) need the connection to outlive the response head.
    tokio::spawn(async move {
        let _ = connection.with_upgrades().await;
    });
    Ok(sender
        .send_request(hyper::Request::from_parts(parts, body))
        .await?)
}

/// Why the socket cannot be opened, in terms an operator can act on.
async fn explain_unreachable(
    conn: &SshConnection,
    target: &Target,
    socket: &str,
    error: color_eyre::Report,
) -> color_eyre::Report {
    let user = &conn.spec().user;
    let probe = Command::script(
        r#"if [ ! -S "$1" ]; then echo missing; elif [ -r "$1" ] && [ -w "$1" ]; then echo ok; else echo denied; stat -c '%U:%G %a' "$1"; fi"#,
    )
    .arg(socket);
    let verdict = target.run(&probe).await.map(|o| o.stdout_text());
    match verdict.as_deref().map(|s| s.lines().collect::<Vec<_>>()) {
        Ok(lines) if lines.first() == Some(&"missing") => eyre!(
            "Docker is not running on {}: its socket {socket} does not exist",
            conn.spec().describe()
        ),
        Ok(lines) if lines.first() == Some(&"denied") => eyre!(
            "the user `{user}` may not use Docker on {}: {socket} is {} and `{user}` is not in \
             its group (add the user to the `docker` group, or log in as root)",
            conn.spec().describe(),
            lines.get(1).copied().unwrap_or("not accessible"),
        ),
        _ => eyre!(
            "could not reach Docker's socket {socket} on {} through SSH: {error:#} \
             (is AllowStreamLocalForwarding disabled in the server's sshd_config?)",
            conn.spec().describe()
        ),
    }
}
