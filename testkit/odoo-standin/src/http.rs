//! Just enough HTTP/1.x to answer like Odoo's two servers: werkzeug on the HTTP port
//! (HTTP/1.0, `Server: Werkzeug/...`, one request per connection) and gevent on the evented
//! port (HTTP/1.1, keep-alive, no `Server` header).

use std::io::{BufRead, Write};

use crate::clock::Utc;

#[derive(Debug, Clone)]
pub struct Request {
    pub method: String,
    /// Path and query, as sent (`/websocket?version=18.0-3`).
    pub target: String,
    pub version: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Request {
    pub fn path(&self) -> &str {
        self.target.split('?').next().unwrap_or("")
    }

    pub fn query_param(&self, name: &str) -> Option<&str> {
        let query = self.target.split_once('?')?.1;
        query.split('&').find_map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            (k == name).then_some(v)
        })
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// A comma-separated header contains `token` (case-insensitive), as for `Connection: keep-alive, Upgrade`.
    pub fn header_has_token(&self, name: &str, token: &str) -> bool {
        self.header(name)
            .is_some_and(|v| v.split(',').any(|t| t.trim().eq_ignore_ascii_case(token)))
    }
}

/// Read one request; `Ok(None)` when the peer closed before sending anything.
pub fn read_request(reader: &mut impl BufRead) -> std::io::Result<Option<Request>> {
    let mut line = String::new();
    if reader.read_line(&mut line)? == 0 {
        return Ok(None);
    }
    let mut parts = line.split_whitespace();
    let (Some(method), Some(target)) = (parts.next(), parts.next()) else {
        return Err(std::io::Error::other("malformed request line"));
    };
    let version = parts.next().unwrap_or("HTTP/1.0").to_string();
    let (method, target) = (method.to_string(), target.to_string());
    let mut headers = Vec::new();
    loop {
        let mut h = String::new();
        if reader.read_line(&mut h)? == 0 {
            return Err(std::io::Error::other("connection closed in headers"));
        }
        let h = h.trim_end_matches(['\r', '\n']);
        if h.is_empty() {
            break;
        }
        if let Some((k, v)) = h.split_once(':') {
            headers.push((k.trim().to_string(), v.trim().to_string()));
        }
        if headers.len() > 200 {
            return Err(std::io::Error::other("too many headers"));
        }
    }
    let length = headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("content-length"))
        .and_then(|(_, v)| v.parse::<usize>().ok())
        .unwrap_or(0)
        .min(16 << 20);
    let mut body = vec![0u8; length];
    reader.read_exact(&mut body)?;
    Ok(Some(Request {
        method,
        target,
        version,
        headers,
        body,
    }))
}

/// Which of Odoo's two servers is answering: they frame responses differently.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flavour {
    Werkzeug,
    Gevent,
}

#[derive(Debug, Clone)]
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Response {
    pub fn new(status: u16) -> Self {
        Response {
            status,
            headers: Vec::new(),
            body: Vec::new(),
        }
    }

    pub fn header(mut self, name: &str, value: impl Into<String>) -> Self {
        self.headers.push((name.to_string(), value.into()));
        self
    }

    pub fn body(mut self, body: impl Into<Vec<u8>>) -> Self {
        self.body = body.into();
        self
    }

    /// Serialise. `Content-Length` is added except for 101; werkzeug adds `Server`,
    /// `Date` first and `Connection: close` last, gevent `Date` last.
    pub fn write(
        &self,
        out: &mut impl Write,
        flavour: Flavour,
        http11: bool,
    ) -> std::io::Result<()> {
        let version = if http11 { "HTTP/1.1" } else { "HTTP/1.0" };
        let mut head = format!("{version} {} {}\r\n", self.status, reason(self.status));
        let date = Utc::now().http_date();
        if flavour == Flavour::Werkzeug {
            head += "Server: Werkzeug/2.2.2 Python/3.11.2\r\n";
            head += &format!("Date: {date}\r\n");
        }
        let mut wrote_length = self.status == 101;
        for (k, v) in &self.headers {
            // Odoo puts X-Content-Type-Options after the length; keep that order.
            if k == "X-Content-Type-Options" && !wrote_length {
                head += &format!("Content-Length: {}\r\n", self.body.len());
                wrote_length = true;
            }
            head += &format!("{k}: {v}\r\n");
        }
        if !wrote_length {
            head += &format!("Content-Length: {}\r\n", self.body.len());
        }
        match flavour {
            Flavour::Werkzeug if self.status != 101 => head += "Connection: close\r\n",
            Flavour::Werkzeug => {}
            Flavour::Gevent => head += &format!("Date: {date}\r\n"),
        }
        head += "\r\n";
        out.write_all(head.as_bytes())?;
        out.write_all(&self.body)?;
        out.flush()
    }
}

/// Werkzeug's reason phrases (upper case, as Odoo sends them).
pub fn reason(status: u16) -> &'static str {
    match status {
        101 => "SWITCHING PROTOCOLS",
        200 => "OK",
        303 => "SEE OTHER",
        400 => "BAD REQUEST",
        404 => "NOT FOUND",
        405 => "METHOD NOT ALLOWED",
        426 => "UPGRADE REQUIRED",
        500 => "INTERNAL SERVER ERROR",
        _ => "UNKNOWN",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_a_request_with_a_body() {
        let raw = b"POST /web/webclient/version_info?x=1 HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\nConnection: keep-alive, Upgrade\r\n\r\n{}";
        let r = read_request(&mut &raw[..]).unwrap().unwrap();
        assert_eq!(
            (r.method.as_str(), r.path()),
            ("POST", "/web/webclient/version_info")
        );
        assert_eq!(r.query_param("x"), Some("1"));
        assert_eq!(r.body, b"{}");
        assert!(r.header_has_token("connection", "upgrade"));
    }

    #[test]
    fn werkzeug_framing() {
        let mut out = Vec::new();
        Response::new(200)
            .header("Content-Type", "application/json")
            .header("Cache-Control", "no-store")
            .header("X-Content-Type-Options", "nosniff")
            .body(r#"{"status": "pass"}"#)
            .write(&mut out, Flavour::Werkzeug, false)
            .unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(
            text.starts_with("HTTP/1.0 200 OK\r\nServer: Werkzeug/2.2.2 Python/3.11.2\r\nDate: ")
        );
        assert!(text.contains(
            "Cache-Control: no-store\r\nContent-Length: 18\r\nX-Content-Type-Options: nosniff\r\nConnection: close\r\n\r\n{\"status\": \"pass\"}"
        ));
    }
}
