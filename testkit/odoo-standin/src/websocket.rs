//! Odoo's bus websocket: the handshake checks of `odoo/addons/bus/websocket.py`
//! (`_assert_handshake_validity`) and, after 101, a minimal frame loop (ping → pong,
//! close → close) so a client sees a live, silent bus.

use std::io::{Read, Write};

use crate::base64;
use crate::http::Request;
use crate::sha1::sha1;

const GUID: &str = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

/// What the handshake headers amount to, before the port decides 101 or the misroute 500.
#[derive(Debug, PartialEq, Eq)]
pub enum Handshake {
    /// Valid; carries the `Sec-WebSocket-Accept` value.
    Valid(String),
    /// Missing or wrong headers: werkzeug's 400.
    BadRequest,
    /// Unsupported `Sec-WebSocket-Version`: 426 with `Sec-WebSocket-Version: 13`.
    UpgradeRequired,
}

pub fn check(request: &Request) -> Handshake {
    // Odoo requires all of these, Origin included.
    for name in [
        "connection",
        "host",
        "sec-websocket-key",
        "sec-websocket-version",
        "upgrade",
        "origin",
    ] {
        if request.header(name).is_none() {
            return Handshake::BadRequest;
        }
    }
    if !request
        .header("upgrade")
        .unwrap_or("")
        .eq_ignore_ascii_case("websocket")
        || !request
            .header("connection")
            .unwrap_or("")
            .to_ascii_lowercase()
            .contains("upgrade")
    {
        return Handshake::BadRequest;
    }
    if request.header("sec-websocket-version") != Some("13") {
        return Handshake::UpgradeRequired;
    }
    let key = request.header("sec-websocket-key").unwrap_or("");
    match base64::decode(key) {
        Some(decoded) if decoded.len() == 16 => Handshake::Valid(accept_value(key)),
        _ => Handshake::BadRequest,
    }
}

/// RFC 6455 §4.2.2: base64(SHA-1(key + GUID)).
pub fn accept_value(key: &str) -> String {
    base64::encode(&sha1(format!("{key}{GUID}").as_bytes()))
}

/// Serve frames until the client closes or the connection drops.
pub fn serve(mut stream: impl Read + Write) {
    loop {
        let mut head = [0u8; 2];
        if stream.read_exact(&mut head).is_err() {
            return;
        }
        let opcode = head[0] & 0x0f;
        let masked = head[1] & 0x80 != 0;
        let mut len = u64::from(head[1] & 0x7f);
        if len == 126 {
            let mut b = [0u8; 2];
            if stream.read_exact(&mut b).is_err() {
                return;
            }
            len = u64::from(u16::from_be_bytes(b));
        } else if len == 127 {
            let mut b = [0u8; 8];
            if stream.read_exact(&mut b).is_err() {
                return;
            }
            len = u64::from_be_bytes(b);
        }
        if len > 1 << 20 {
            return;
        }
        let mut mask = [0u8; 4];
        if masked && stream.read_exact(&mut mask).is_err() {
            return;
        }
        let mut payload = vec![0u8; len as usize];
        if stream.read_exact(&mut payload).is_err() {
            return;
        }
        if masked {
            for (i, b) in payload.iter_mut().enumerate() {
                *b ^= mask[i % 4];
            }
        }
        match opcode {
            0x8 => {
                let _ = stream.write_all(&frame(0x8, &payload[..payload.len().min(125)]));
                return;
            }
            0x9 if stream
                .write_all(&frame(0xA, &payload[..payload.len().min(125)]))
                .is_err() =>
            {
                return;
            }
            // Text (subscriptions) and everything else: a quiet bus has nothing to say.
            _ => {}
        }
    }
}

/// An unmasked server frame with a short payload.
fn frame(opcode: u8, payload: &[u8]) -> Vec<u8> {
    let mut f = vec![0x80 | opcode, payload.len() as u8];
    f.extend_from_slice(payload);
    f
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(headers: &[(&str, &str)]) -> Request {
        Request {
            method: "GET".into(),
            target: "/websocket?version=18.0-3".into(),
            version: "HTTP/1.1".into(),
            headers: headers
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            body: Vec::new(),
        }
    }

    #[test]
    fn rfc6455_sample_key() {
        // RFC 6455 §1.3, and what the recorded Odoo 18 answered on 8072.
        assert_eq!(
            accept_value("dGhlIHNhbXBsZSBub25jZQ=="),
            "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
        );
    }

    #[test]
    fn handshake_rules() {
        let good = [
            ("Host", "h"),
            ("Connection", "keep-alive, Upgrade"),
            ("Upgrade", "websocket"),
            ("Sec-WebSocket-Version", "13"),
            ("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="),
            ("Origin", "http://h"),
        ];
        assert_eq!(
            check(&request(&good)),
            Handshake::Valid("s3pPLMBiTxaQ9kYGzzhZRbK+xOo=".into())
        );
        assert_eq!(check(&request(&[])), Handshake::BadRequest);
        assert_eq!(
            check(&request(&good[..5])),
            Handshake::BadRequest,
            "no Origin"
        );
        let mut v = good;
        v[3] = ("Sec-WebSocket-Version", "8");
        assert_eq!(check(&request(&v)), Handshake::UpgradeRequired);
        let mut k = good;
        k[4] = ("Sec-WebSocket-Key", "c2hvcnQ=");
        assert_eq!(check(&request(&k)), Handshake::BadRequest);
    }

    #[test]
    fn answers_ping_and_close() {
        struct Duplex(std::io::Cursor<Vec<u8>>, Vec<u8>);
        impl Read for Duplex {
            fn read(&mut self, b: &mut [u8]) -> std::io::Result<usize> {
                self.0.read(b)
            }
        }
        impl Write for Duplex {
            fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
                self.1.write(b)
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
        let mask = [1u8, 2, 3, 4];
        let mut input = vec![0x89, 0x82];
        input.extend_from_slice(&mask);
        input.extend([b'h' ^ 1, b'i' ^ 2]);
        input.extend([0x88, 0x80]);
        input.extend_from_slice(&mask);
        let mut d = Duplex(std::io::Cursor::new(input), Vec::new());
        serve(&mut d);
        assert_eq!(d.1, vec![0x8A, 2, b'h', b'i', 0x88, 0]);
    }
}
