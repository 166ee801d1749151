//! A minimal HTTP/1.1 client over a [`Target`] loopback tunnel, so internal checks reach
//! 127.0.0.1:8069/8072 of the target (local or over SSH) without curl on the host.

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::checks::obs::HttpProbe;
use crate::target::Target;

/// The handshake Odoo 18's web client sends (its bus protocol version in the query).
pub const WEBSOCKET_PATH: &str = "/websocket?version=18.0-3";
/// A fixed key: the check only cares about the status line.
pub const WEBSOCKET_KEY: &str = "dGhlIHNhbXBsZSBub25jZQ==";

const BODY_LIMIT: usize = 4096;

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
    match tokio::time::timeout(timeout, exchange(target, port, path, websocket)).await {
        Ok(Ok((status, headers, body))) => HttpProbe {
            request,
            status: Some(status),
            headers,
            body,
            error: None,
        },
        Ok(Err(e)) => HttpProbe {
            request,
            error: Some(short_error(&e)),
            ..Default::default()
        },
        Err(_) => HttpProbe {
            request,
            error: Some(format!("no answer within {} s", timeout.as_secs_f32())),
            ..Default::default()
        },
    }
}

fn short_error(e: &color_eyre::Report) -> String {
    let chain: Vec<String> = e.chain().map(ToString::to_string).collect();
    chain.join(": ")
}

type Reply = (u16, Vec<(String, String)>, String);

async fn exchange(
    target: &Target,
    port: u16,
    path: &str,
    websocket: bool,
) -> color_eyre::Result<Reply> {
    let mut stream = target.connect_loopback(port).await?;
    let mut req =
        format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUser-Agent: odoo-ops\r\n");
    if websocket {
        req.push_str(&format!(
            "Connection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: {WEBSOCKET_KEY}\r\nOrigin: http://127.0.0.1:{port}\r\n\r\n"
        ));
    } else {
        req.push_str("Connection: close\r\nAccept: */*\r\n\r\n");
    }
    stream.write_all(req.as_bytes()).await?;
    stream.flush().await?;
    let mut buf = Vec::with_capacity(8192);
    let mut chunk = [0u8; 4096];
    // Read the head; then the body up to Content-Length (or EOF), never past the limit.
    let head_end = loop {
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            break find_head_end(&buf);
        }
        buf.extend_from_slice(&chunk[..n]);
        if let Some(end) = find_head_end(&buf) {
            break Some(end);
        }
        if buf.len() > 64 * 1024 {
            color_eyre::eyre::bail!("response head larger than 64 KiB");
        }
    };
    let Some(head_end) = head_end else {
        color_eyre::eyre::bail!("the connection closed without an HTTP answer");
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
    let (status, headers) = parse_head(&head)?;
    if status == 101 {
        return Ok((status, headers, String::new()));
    }
    let length = headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("content-length"))
        .and_then(|(_, v)| v.trim().parse::<usize>().ok());
    let mut body = buf[head_end + 4..].to_vec();
    while body.len() < length.unwrap_or(BODY_LIMIT).min(BODY_LIMIT) {
        match stream.read(&mut chunk).await {
            Ok(0) | Err(_) => break,
            Ok(n) => body.extend_from_slice(&chunk[..n]),
        }
    }
    body.truncate(BODY_LIMIT);
    Ok((status, headers, String::from_utf8_lossy(&body).into_owned()))
}

fn find_head_end(buf: &[u8]) -> Option<usize> {
    buf.windows(4).position(|w| w == b"\r\n\r\n")
}

/// Status and headers of an HTTP/1.x answer head.
pub fn parse_head(head: &str) -> color_eyre::Result<(u16, Vec<(String, String)>)> {
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap_or_default();
    let status = status_line
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| color_eyre::eyre::eyre!("not an HTTP status line: {status_line:?}"))?;
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect();
    Ok((status, headers))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recorded_heads_parse() {
        let (s, h) = parse_head(
            "HTTP/1.1 101 SWITCHING PROTOCOLS\r\nUpgrade: websocket\r\nConnection: Upgrade",
        )
        .unwrap();
        assert_eq!(s, 101);
        assert_eq!(h[0], ("Upgrade".into(), "websocket".into()));
        let (s, _) =
            parse_head("HTTP/1.0 500 INTERNAL SERVER ERROR\r\nServer: Werkzeug/2.2.2").unwrap();
        assert_eq!(s, 500);
        assert!(parse_head("garbage").is_err());
    }
}
