//! HTTP/1.1 requests on a connection the [`Target`] opened, so the checks reach Odoo's
//! 127.0.0.1:8069/8072 on the host (local or over SSH) without curl there; the edge checks
//! send the same requests through TLS.

use std::time::Duration;

use http_body_util::{BodyExt, Empty};
use hyper::body::Bytes;
use hyper_util::rt::TokioIo;

use crate::checks::obs::HttpProbe;
use crate::target::Target;

/// The handshake Odoo 18's web client sends (its bus protocol version in the query).
pub const WEBSOCKET_PATH: &str = "/websocket?version=18.0-3";
/// A fixed key: the check only cares about the status line.
pub const WEBSOCKET_KEY: &str = "dGhlIHNhbXBsZSBub25jZQ==";

/// Enough for a health answer and for the login form of the login page.
pub const BODY_LIMIT: usize = 8192;

/// `GET path` on `127.0.0.1:port` of the target; with `websocket`, as a handshake.
pub async fn get(
    target: &Target,
    port: u16,
    path: &str,
    websocket: bool,
    timeout: Duration,
) -> HttpProbe {
    let request = format!(
        "GET http://127.0.0.1:{port}{path}{}",
        if websocket {
            " (websocket handshake)"
        } else {
            ""
        }
    );
    let authority = format!("127.0.0.1:{port}");
    let origin = format!("http://{authority}");
    let answer = async {
        let stream = target
            .connect_loopback(port)
            .await
            .map_err(|e| format!("{e:#}"))?;
        exchange(stream, &authority, &origin, path, websocket, None).await
    };
    match tokio::time::timeout(timeout, answer).await {
        Ok(Ok((status, headers, body))) => HttpProbe {
            request,
            status: Some(status),
            headers,
            body,
            error: None,
        },
        Ok(Err(e)) => HttpProbe {
            request,
            error: Some(e),
            ..Default::default()
        },
        Err(_) => HttpProbe {
            request,
            error: Some(format!("no answer within {} s", timeout.as_secs_f32())),
            ..Default::default()
        },
    }
}

/// Status, headers and the start of the body.
pub type Reply = (u16, Vec<(String, String)>, String);

/// `error: cause: cause`, each text once (hyper and rustls repeat their sources).
pub fn error_chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let text = s.to_string();
        if !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        source = s.source();
    }
    out
}

/// One HTTP/1.1 `GET path` on an open connection (plain, TLS, local or through SSH):
/// status, headers and the body's first [`BODY_LIMIT`] bytes. With `websocket`, the
/// request is Odoo's handshake and a 101 is the whole answer. `authorization` is sent as
/// the `Authorization` header (an operator's gate with a bearer token); callers keep it
/// out of whatever they show.
pub async fn exchange<S>(
    io: S,
    authority: &str,
    origin: &str,
    path: &str,
    websocket: bool,
    authorization: Option<&str>,
) -> Result<Reply, String>
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Send + Unpin + 'static,
{
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(io))
        .await
        .map_err(|e| error_chain(&e))?;
    let driver = tokio::spawn(connection.with_upgrades());
    let mut request = hyper::Request::get(path)
        .header(hyper::header::HOST, authority)
        .header(hyper::header::USER_AGENT, "odoo-ops")
        .header(hyper::header::ACCEPT, "*/*");
    if let Some(value) = authorization {
        request = request.header(hyper::header::AUTHORIZATION, value);
    }
    request = if websocket {
        request
            .header(hyper::header::CONNECTION, "Upgrade")
            .header(hyper::header::UPGRADE, "websocket")
            .header("Sec-WebSocket-Version", "13")
            .header("Sec-WebSocket-Key", WEBSOCKET_KEY)
            .header(hyper::header::ORIGIN, origin)
    } else {
        request.header(hyper::header::CONNECTION, "close")
    };
    let request = request
        .body(Empty::<Bytes>::new())
        .map_err(|e| e.to_string())?;
    let result = async {
        let response = sender
            .send_request(request)
            .await
            .map_err(|e| error_chain(&e))?;
        let status = response.status().as_u16();
        let headers = response
            .headers()
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_str().unwrap_or("").to_string()))
            .collect();
        let mut body = Vec::new();
        if status != 101 {
            let mut incoming = response.into_body();
            while body.len() < BODY_LIMIT {
                match incoming.frame().await {
                    Some(Ok(frame)) => {
                        if let Some(data) = frame.data_ref() {
                            body.extend_from_slice(data);
                        }
                    }
                    Some(Err(_)) | None => break,
                }
            }
            body.truncate(BODY_LIMIT);
        }
        Ok((status, headers, String::from_utf8_lossy(&body).into_owned()))
    }
    .await;
    driver.abort();
    result
}
