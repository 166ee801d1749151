//! nginx's two logs.
//!
//! error.log: `2026/11/22 02:01:55 [error] 19690#19690: *41 connect() failed (111: Connection refused) while connecting to upstream, client: 127.0.0.1, server: localhost, request: "GET /websocket HTTP/1.1", upstream: "http://127.0.0.1:8072/websocket", host: "127.0.0.1:8080"`
//!
//! access.log, `combined` format, optionally followed by the upstream address in one of
//! the usual spellings (`upstream=…`, `upstream_addr=…`, `ua="…"`):
//! `127.0.0.1 - - [22/Nov/2026:02:02:12 +0000] "GET /web/health HTTP/1.1" 502 157 "-" "curl/8.0" upstream=127.0.0.1:8069`

use memchr::memmem;

use crate::logs::line::{Fields, Header, Level, LineKind, Span};
use crate::logs::time;

pub fn parse_error(line: &str) -> Option<Header> {
    let b = line.as_bytes();
    let ts = time::nginx_error(b)?;
    if b.get(19) != Some(&b' ') || b.get(20) != Some(&b'[') {
        return None;
    }
    let level_end = 21 + memchr::memchr(b']', &b[21..])?;
    let level = Level::from_nginx(&line[21..level_end])?;
    let mut i = level_end + 1;
    if b.get(i) != Some(&b' ') {
        return None;
    }
    i += 1;
    // `pid#tid: `
    let pid_end = i + memchr::memchr(b'#', &b[i..])?;
    let pid: u32 = line[i..pid_end].parse().ok()?;
    let colon = pid_end + memmem::find(&b[pid_end..], b": ")?;
    let message = Span::new(colon + 2, b.len());
    let after = colon + 2;
    let field = |key: &[u8], quoted: bool| -> Span {
        let Some(at) = memmem::find(&b[after..], key) else {
            return Span::default();
        };
        let start = after + at + key.len();
        let stop: &[u8] = if quoted { b"\"" } else { b"," };
        let end = memmem::find(&b[start..], stop).map_or(b.len(), |e| start + e);
        Span::new(start, end)
    };
    Some(Header {
        kind: LineKind::NginxError,
        ts: Some(ts),
        level,
        pid: Some(pid),
        status: None,
        fields: Fields {
            message,
            client: field(b", client: ", false),
            request: field(b", request: \"", true),
            upstream: field(b", upstream: \"", true),
            ..Fields::default()
        },
    })
}

pub fn parse_access(line: &str) -> Option<Header> {
    let b = line.as_bytes();
    let client_end = memchr::memchr(b' ', b)?;
    if client_end == 0 {
        return None;
    }
    let open = client_end + memchr::memchr(b'[', &b[client_end..])?;
    let ts = time::nginx_access(&b[open + 1..])?;
    let close = open + 27;
    if b.get(close) != Some(&b']')
        || b.get(close + 1) != Some(&b' ')
        || b.get(close + 2) != Some(&b'"')
    {
        return None;
    }
    let req_start = close + 3;
    let req_end = req_start + memchr::memchr(b'"', &b[req_start..])?;
    let status_start = req_end + 2;
    if b.get(req_end + 1) != Some(&b' ') || b.len() < status_start + 3 {
        return None;
    }
    let status: u16 = line.get(status_start..status_start + 3)?.parse().ok()?;
    if b.get(status_start + 3).is_some_and(|c| *c != b' ') {
        return None;
    }
    let tail = status_start + 3;
    Some(Header {
        kind: LineKind::NginxAccess,
        ts: Some(ts),
        level: Level::from_status(status),
        pid: None,
        status: Some(status),
        fields: Fields {
            client: Span::new(0, client_end),
            request: Span::new(req_start, req_end),
            upstream: upstream_in(b, tail),
            message: Span::new(req_start, b.len()),
            ..Fields::default()
        },
    })
}

/// The upstream address after the combined fields, if the log format adds one.
fn upstream_in(b: &[u8], from: usize) -> Span {
    for key in [&b" upstream_addr="[..], b" upstream=", b" ua="] {
        if let Some(at) = memmem::find(&b[from..], key) {
            let mut start = from + at + key.len();
            let quoted = b.get(start) == Some(&b'"');
            if quoted {
                start += 1;
            }
            let stop = if quoted { b'"' } else { b' ' };
            let end = memchr::memchr(stop, &b[start..]).map_or(b.len(), |e| start + e);
            let span = Span::new(start, end);
            if &b[start..end] != b"-" {
                return span;
            }
            return Span::default();
        }
    }
    Span::default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::logs::line::{LogLine, SourceId};

    const SAMPLE_502: &str = include_str!("../../../tests/data/sample-nginx-error-502.log");

    fn line(h: Option<Header>, text: &str) -> LogLine {
        LogLine::new(SourceId(0), h.expect(text), text.to_string())
    }

    #[test]
    fn every_recorded_502_line_gives_client_request_upstream() {
        let lines: Vec<LogLine> = SAMPLE_502
            .lines()
            .map(|t| line(parse_error(t), t))
            .collect();
        assert_eq!(lines.len(), 5);
        let first = &lines[0];
        assert_eq!(first.level, Level::Error);
        assert_eq!(first.pid, Some(19690));
        assert_eq!(first.client(), Some("127.0.0.1"));
        assert_eq!(first.request(), Some("GET /websocket HTTP/1.1"));
        assert_eq!(first.upstream(), Some("http://127.0.0.1:8072/websocket"));
        assert!(
            first
                .message()
                .unwrap()
                .starts_with("*41 connect() failed (111")
        );
        assert_eq!(
            lines[4].upstream(),
            Some("http://127.0.0.1:8069/web/webclient/version_info")
        );
    }

    #[test]
    fn other_error_levels_and_lines_without_fields() {
        let t = "2026/11/22 02:01:55 [notice] 1#1: signal process started";
        let l = line(parse_error(t), t);
        assert_eq!(l.level, Level::Info);
        assert_eq!(l.client(), None);
        assert_eq!(l.message(), Some("signal process started"));
        assert!(parse_error("2026/11/22 02:01:55 [loud] 1#1: x").is_none());
    }

    #[test]
    fn combined_access_lines_with_and_without_upstream() {
        let t = r#"127.0.0.1 - - [22/Nov/2026:02:02:12 +0000] "GET /web/health HTTP/1.1" 502 157 "-" "curl/8.0" upstream=127.0.0.1:8069"#;
        let l = line(parse_access(t), t);
        assert_eq!(l.status, Some(502));
        assert_eq!(l.level, Level::Error);
        assert_eq!(l.client(), Some("127.0.0.1"));
        assert_eq!(l.request(), Some("GET /web/health HTTP/1.1"));
        assert_eq!(l.upstream(), Some("127.0.0.1:8069"));
        let t = r#"10.0.0.7 - bob [22/Nov/2026:02:02:12 +0000] "POST /web/login HTTP/2.0" 404 0 "https://x/" "Mozilla/5.0 (X11)""#;
        let l = line(parse_access(t), t);
        assert_eq!((l.status, l.level), (Some(404), Level::Warning));
        assert_eq!(l.upstream(), None);
        let t = r#"::1 - - [22/Nov/2026:02:02:12 +0000] "GET / HTTP/1.1" 200 5 "-" "-" ua="127.0.0.1:8072""#;
        assert_eq!(line(parse_access(t), t).upstream(), Some("127.0.0.1:8072"));
    }

    #[test]
    fn not_access_lines() {
        for t in [
            "hello world",
            "127.0.0.1 - - [yesterday] \"GET / HTTP/1.1\" 200 5",
            "127.0.0.1 - - [22/Nov/2026:02:02:12 +0000] \"GET / HTTP/1.1\" abc 5",
        ] {
            assert!(parse_access(t).is_none(), "{t}");
        }
    }
}
