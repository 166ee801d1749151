//! When run as `curl` (the image links `/usr/bin/curl` to the stand-in), act like the
//! `curl -fsS [-o FILE] http://HOST:PORT/PATH` a compose healthcheck runs, since a FROM-scratch
//! image has no curl. Exit codes follow curl's: 0 ok, 7 cannot connect, 22 HTTP error
//! (with `-f`), 28 timeout, 2 bad usage.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

pub fn main(args: &[String]) -> i32 {
    let mut fail = false;
    let mut url = None;
    let mut i = 0;
    while i < args.len() {
        let a = &args[i];
        match a.as_str() {
            "-o" | "--output" | "-m" | "--max-time" | "-H" | "--header" => i += 1,
            _ if a.starts_with("--") => fail |= a == "--fail",
            _ if a.starts_with('-') => fail |= a.contains('f'),
            _ => url = Some(a.clone()),
        }
        i += 1;
    }
    let Some(url) = url else {
        eprintln!("curl: no URL specified");
        return 2;
    };
    let Some(rest) = url.strip_prefix("http://") else {
        eprintln!("curl: (1) only http:// is supported by the stand-in");
        return 1;
    };
    let (authority, path) = match rest.find('/') {
        Some(at) => (&rest[..at], &rest[at..]),
        None => (rest, "/"),
    };
    let addr = if authority.contains(':') {
        authority.to_string()
    } else {
        format!("{authority}:80")
    };
    let Ok(mut s) = TcpStream::connect(&addr) else {
        eprintln!("curl: (7) Failed to connect to {addr}");
        return 7;
    };
    let _ = s.set_read_timeout(Some(Duration::from_secs(10)));
    let request =
        format!("GET {path} HTTP/1.0\r\nHost: {authority}\r\nUser-Agent: curl/stand-in\r\n\r\n");
    if s.write_all(request.as_bytes()).is_err() {
        return 7;
    }
    let mut answer = Vec::new();
    if let Err(e) = s.read_to_end(&mut answer)
        && answer.is_empty()
    {
        eprintln!("curl: (28) {e}");
        return 28;
    }
    let text = String::from_utf8_lossy(&answer);
    let status: u16 = text
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    if fail && status >= 400 {
        eprintln!("curl: (22) The requested URL returned error: {status}");
        return 22;
    }
    0
}
