//! Is PostgreSQL really there? Each call opens a fresh connection to `db_host:db_port` and
//! asks for TLS (the 8-byte SSLRequest every libpq client may send first); a PostgreSQL
//! server answers one byte, `S` or `N`. Anything else (refused, timeout, garbage) is "down".
//!
//! Host names are resolved without glibc's NSS (a static binary in a FROM-scratch image has
//! none): `/etc/hosts` first, then one DNS A query to the first `nameserver` of
//! `/etc/resolv.conf` (Docker's embedded DNS at 127.0.0.11 in a compose network).

use std::io::{Read, Write};
use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpStream, UdpSocket};
use std::os::unix::net::UnixStream;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::conf::Conf;
use crate::{pg_login, pg_wire};

const TIMEOUT: Duration = Duration::from_millis(1500);
const SSL_REQUEST: [u8; 8] = [0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f];

pub fn server_up(host: &str, port: u16) -> bool {
    probe(host, port, None).is_ok()
}

/// The database as Odoo configured by `conf` finds it: with `db_password` set the
/// stand-in logs in for real (see `pg_login`) and learns which databases there are;
/// without, it only asks whether PostgreSQL answers (`Ok(None)`).
pub fn reach(conf: &Conf) -> Result<Option<Vec<String>>, String> {
    let login = (!conf.db_password.is_empty())
        .then_some((conf.db_user.as_str(), conf.db_password.as_str()));
    probe(&conf.db_host, conf.db_port, login)
}

/// A login makes PostgreSQL fork a backend and check the password: on a loaded machine
/// that takes longer than the one-byte SSL answer, and a slow answer must not read as a
/// refusal.
fn read_timeout(login: Option<(&str, &str)>) -> Duration {
    if login.is_some() {
        Duration::from_secs(5)
    } else {
        TIMEOUT
    }
}

/// After the SSLRequest's answer (`N`: go on in clear), log in when asked to.
fn session(
    s: &mut (impl Read + Write),
    login: Option<(&str, &str)>,
) -> Result<Option<Vec<String>>, String> {
    ssl_request(s).map_err(|e| e.to_string())?;
    match login {
        None => Ok(None),
        Some((user, password)) => match pg_login::login(s, user, password)? {
            pg_login::Login::Databases(d) => Ok(Some(d)),
            pg_login::Login::Unverified => Ok(None),
        },
    }
}

fn probe(
    host: &str,
    port: u16,
    login: Option<(&str, &str)>,
) -> Result<Option<Vec<String>>, String> {
    let (mut s, shown) = open(host, port, read_timeout(login))?;
    session(&mut s, login).map_err(|e| format!("{shown} failed: {e}"))
}

/// A connection to PostgreSQL, over TCP or a Unix socket as `db_host` says.
pub enum Stream {
    Tcp(TcpStream),
    Unix(UnixStream),
}

impl Read for Stream {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        match self {
            Stream::Tcp(s) => s.read(buf),
            Stream::Unix(s) => s.read(buf),
        }
    }
}

impl Write for Stream {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match self {
            Stream::Tcp(s) => s.write(buf),
            Stream::Unix(s) => s.write(buf),
        }
    }
    fn flush(&mut self) -> std::io::Result<()> {
        match self {
            Stream::Tcp(s) => s.flush(),
            Stream::Unix(s) => s.flush(),
        }
    }
}

/// Open a connection to `host:port` (a directory or empty: the Unix socket there); the
/// second value is how psycopg2 names the server in its errors (`connection to server at
/// "db" (172.18.0.2), port 5432`), which the caller completes with `failed: WHY`.
fn open(host: &str, port: u16, timeout: Duration) -> Result<(Stream, String), String> {
    if host.is_empty() || host.starts_with('/') {
        let dir = if host.is_empty() {
            "/var/run/postgresql"
        } else {
            host
        };
        let socket = format!("{dir}/.s.PGSQL.{port}");
        let failed = |e: std::io::Error| {
            format!(
                "connection to server on socket \"{socket}\" failed: {e}\n\tIs the server running locally and accepting connections on that socket?"
            )
        };
        let s = UnixStream::connect(&socket).map_err(failed)?;
        s.set_read_timeout(Some(timeout)).map_err(failed)?;
        return Ok((
            Stream::Unix(s),
            format!("connection to server on socket \"{socket}\""),
        ));
    }
    let Some(ip) = resolve(host) else {
        return Err(format!(
            "could not translate host name \"{host}\" to address: Name or service not known"
        ));
    };
    let shown = if host == ip.to_string() {
        format!("\"{host}\"")
    } else {
        format!("\"{host}\" ({ip})")
    };
    let failed = |e: std::io::Error| {
        let why = match e.kind() {
            std::io::ErrorKind::ConnectionRefused => "Connection refused".to_string(),
            _ => e.to_string(),
        };
        format!(
            "connection to server at {shown}, port {port} failed: {why}\n\tIs the server running on that host and accepting TCP/IP connections?"
        )
    };
    let s = TcpStream::connect_timeout(&SocketAddr::new(ip, port), TIMEOUT).map_err(failed)?;
    s.set_read_timeout(Some(timeout)).map_err(failed)?;
    Ok((
        Stream::Tcp(s),
        format!("connection to server at {shown}, port {port}"),
    ))
}

/// A logged-in session on `database`, as Odoo's cursor for it: `db_user` with
/// `db_password` (trust when the server asks for nothing). Queries go through
/// `pg_wire::query`. The error is psycopg2's `OperationalError` text.
pub fn connect(conf: &Conf, database: &str) -> Result<Stream, String> {
    let (mut s, shown) = open(&conf.db_host, conf.db_port, Duration::from_secs(30))?;
    let failed = |e: String| format!("{shown} failed: {e}");
    ssl_request(&mut s).map_err(|e| failed(e.to_string()))?;
    match pg_wire::startup(&mut s, &conf.db_user, database, &conf.db_password).map_err(failed)? {
        pg_wire::Auth::Ready => Ok(s),
        pg_wire::Auth::Unsupported(code) => Err(failed(format!(
            "the stand-in does not speak authentication method {code} (it speaks trust, password and scram-sha-256)"
        ))),
    }
}

fn ssl_request(s: &mut (impl Read + Write)) -> std::io::Result<()> {
    s.write_all(&SSL_REQUEST)?;
    let mut answer = [0u8; 1];
    s.read_exact(&mut answer)?;
    match answer[0] {
        b'S' | b'N' => Ok(()),
        other => Err(std::io::Error::other(format!("not PostgreSQL: {other:#x}"))),
    }
}

/// How long an answer (or its absence) is reused. Odoo asks the resolver on every
/// connection; a host's caching resolver (systemd-resolved, nscd, Docker's embedded DNS)
/// answers repeats from memory. Without this, a burst of health checks sends a burst of
/// queries to whatever DNS the test machine has, and one dropped UDP answer in twenty
/// turned into a 5 s stall of the health endpoint (a flaky check, not a finding).
const RESOLVE_CACHE_FOR: Duration = Duration::from_secs(30);

pub fn resolve(host: &str) -> Option<IpAddr> {
    if let Ok(ip) = host.parse::<IpAddr>() {
        return Some(ip);
    }
    static CACHE: Mutex<Vec<(String, Option<IpAddr>, Instant)>> = Mutex::new(Vec::new());
    let mut cache = CACHE.lock().unwrap_or_else(|e| e.into_inner());
    cache.retain(|(_, _, at)| at.elapsed() < RESOLVE_CACHE_FOR);
    if let Some((_, ip, _)) = cache.iter().find(|(h, _, _)| h == host) {
        return *ip;
    }
    let ip = resolve_now(host);
    cache.push((host.to_string(), ip, Instant::now()));
    ip
}

fn resolve_now(host: &str) -> Option<IpAddr> {
    if host == "localhost" {
        return Some(IpAddr::V4(Ipv4Addr::LOCALHOST));
    }
    if let Some(ip) = from_hosts_file(host) {
        return Some(ip);
    }
    if let Some(ip) = dns_query(host) {
        return Some(ip);
    }
    use std::net::ToSocketAddrs;
    (host, 0).to_socket_addrs().ok()?.next().map(|a| a.ip())
}

fn from_hosts_file(host: &str) -> Option<IpAddr> {
    let text = std::fs::read_to_string("/etc/hosts").ok()?;
    text.lines()
        .map(|l| l.split('#').next().unwrap_or(""))
        .find_map(|l| {
            let mut fields = l.split_whitespace();
            let ip: IpAddr = fields.next()?.parse().ok()?;
            fields
                .any(|name| name.eq_ignore_ascii_case(host))
                .then_some(ip)
        })
}

fn dns_query(host: &str) -> Option<IpAddr> {
    let resolv = std::fs::read_to_string("/etc/resolv.conf").ok()?;
    let server: IpAddr = resolv.lines().find_map(|l| {
        let mut f = l.split_whitespace();
        (f.next()? == "nameserver").then(|| f.next()?.parse().ok())?
    })?;
    let mut query = vec![0x4f, 0x44, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0];
    for label in host.trim_end_matches('.').split('.') {
        if label.is_empty() || label.len() > 63 {
            return None;
        }
        query.push(label.len() as u8);
        query.extend_from_slice(label.as_bytes());
    }
    query.extend_from_slice(&[0, 0, 1, 0, 1]);
    let bind: SocketAddr = if server.is_ipv4() {
        "0.0.0.0:0"
    } else {
        "[::]:0"
    }
    .parse()
    .ok()?;
    let socket = UdpSocket::bind(bind).ok()?;
    socket.set_read_timeout(Some(TIMEOUT)).ok()?;
    socket.send_to(&query, SocketAddr::new(server, 53)).ok()?;
    let mut buf = [0u8; 1500];
    let n = socket.recv(&mut buf).ok()?;
    parse_a_answer(&buf[..n], query.len())
}

/// The first A record of a response whose question section is `question_end` bytes long.
fn parse_a_answer(msg: &[u8], question_end: usize) -> Option<IpAddr> {
    if msg.len() < 12 || msg[0..2] != [0x4f, 0x44] || msg[3] & 0x0f != 0 {
        return None;
    }
    let answers = u16::from_be_bytes([msg[6], msg[7]]);
    let mut at = question_end;
    for _ in 0..answers {
        // Name: a pointer (2 bytes) or labels ending in 0.
        loop {
            let len = *msg.get(at)? as usize;
            if len & 0xc0 == 0xc0 {
                at += 2;
                break;
            }
            at += 1 + len;
            if len == 0 {
                break;
            }
        }
        let rtype = u16::from_be_bytes([*msg.get(at)?, *msg.get(at + 1)?]);
        let rdlen = u16::from_be_bytes([*msg.get(at + 8)?, *msg.get(at + 9)?]) as usize;
        let data = msg.get(at + 10..at + 10 + rdlen)?;
        if rtype == 1 && rdlen == 4 {
            return Some(IpAddr::V4(Ipv4Addr::new(
                data[0], data[1], data[2], data[3],
            )));
        }
        at += 10 + rdlen;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_an_a_record_after_a_cname() {
        let mut msg = vec![0x4f, 0x44, 0x81, 0x80, 0, 1, 0, 2, 0, 0, 0, 0];
        let question = [2, b'd', b'b', 0, 0, 1, 0, 1];
        msg.extend_from_slice(&question);
        // CNAME answer pointing somewhere, then the A record.
        msg.extend_from_slice(&[0xc0, 12, 0, 5, 0, 1, 0, 0, 0, 60, 0, 2, 0xc0, 12]);
        msg.extend_from_slice(&[0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 172, 18, 0, 2]);
        assert_eq!(
            parse_a_answer(&msg, 12 + question.len()),
            Some(IpAddr::V4(Ipv4Addr::new(172, 18, 0, 2)))
        );
    }

    #[test]
    fn nothing_listening_is_down() {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        drop(l);
        assert!(!server_up("127.0.0.1", port));
    }
}
