//! Where a name points, as the bootstrap asks it: step 4 waits until the domain resolves
//! to the droplet, and step 6's preflight checks it again before any CA is asked. One
//! resolver setting for both ([`super::run::Setup::resolver`], `--resolver`), so an
//! operator whose own machine caches an old answer (or a test with its own DNS server on
//! loopback) can name the server that decides.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use serde::Serialize;

/// Which DNS answers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum Resolver {
    /// The resolver of the machine the console runs on. On the droplet itself, an
    /// `/etc/hosts` line for its own name would answer instead of DNS: use a server then.
    System,
    /// Ask this DNS server directly (UDP, A records, recursion desired), as the CA's
    /// resolver would.
    Server(SocketAddr),
}

impl Resolver {
    /// `--resolver`'s value: `IP` (port 53) or `IP:PORT` (`[IPv6]:PORT`).
    pub fn parse(text: &str) -> Result<Resolver, String> {
        if let Ok(ip) = text.parse::<IpAddr>() {
            return Ok(Resolver::Server(SocketAddr::new(ip, 53)));
        }
        text.parse::<SocketAddr>()
            .map(Resolver::Server)
            .map_err(|_| format!("{text:?} is not a DNS server's address (IP, or IP:PORT)"))
    }

    /// For the operator: "the system's resolver" or "the DNS server 192.0.2.53:53".
    pub fn describe(&self) -> String {
        match self {
            Resolver::System => "this machine's resolver".into(),
            Resolver::Server(server) => format!("the DNS server {server}"),
        }
    }
}

/// The name's addresses (sorted, no duplicates; empty when it has none), or why the
/// resolver could not say, within `timeout`.
pub async fn lookup(
    resolver: &Resolver,
    name: &str,
    timeout: Duration,
) -> Result<Vec<IpAddr>, String> {
    let mut found: Vec<IpAddr> = match resolver {
        Resolver::System => {
            match tokio::time::timeout(timeout, tokio::net::lookup_host((name, 0))).await {
                Err(_) => return Err("the resolver did not answer in time".into()),
                Ok(Ok(addrs)) => addrs.map(|a| a.ip()).collect(),
                // The system's resolver has no separate "no such name": getaddrinfo's error
                // is that answer as much as a failure, so it is said as it came.
                Ok(Err(e)) => return Err(e.to_string()),
            }
        }
        Resolver::Server(server) => wire::query_a(*server, name, timeout)
            .await?
            .into_iter()
            .map(IpAddr::V4)
            .collect(),
    };
    found.sort();
    found.dedup();
    Ok(found)
}

/// Just enough DNS to ask one server for a name's A records.
mod wire {
    use std::net::{Ipv4Addr, SocketAddr};
    use std::time::Duration;

    pub async fn query_a(
        server: SocketAddr,
        name: &str,
        timeout: Duration,
    ) -> Result<Vec<Ipv4Addr>, String> {
        let bind = if server.is_ipv4() {
            "0.0.0.0:0"
        } else {
            "[::]:0"
        };
        let socket = tokio::net::UdpSocket::bind(bind)
            .await
            .map_err(|e| e.to_string())?;
        socket.connect(server).await.map_err(|e| e.to_string())?;
        // A random id: an answer must match it (a zero id still works, only less well).
        let mut id = [0u8; 2];
        let _ = getrandom::fill(&mut id);
        let id = u16::from_be_bytes(id);
        let query = build(id, name)?;
        let mut buf = vec![0u8; 4096];
        // Three tries: UDP may drop one.
        for _ in 0..3 {
            socket.send(&query).await.map_err(|e| e.to_string())?;
            match tokio::time::timeout(timeout / 3, socket.recv(&mut buf)).await {
                Ok(Ok(n)) => match parse(id, &buf[..n]) {
                    Ok(Some(a)) => return Ok(a),
                    Ok(None) => continue,
                    Err(e) => return Err(e),
                },
                Ok(Err(e)) => return Err(format!("{server}: {e}")),
                Err(_) => continue,
            }
        }
        Err(format!("the DNS server {server} did not answer"))
    }

    fn build(id: u16, name: &str) -> Result<Vec<u8>, String> {
        let mut q = Vec::with_capacity(name.len() + 18);
        q.extend_from_slice(&id.to_be_bytes());
        q.extend_from_slice(&[0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0]); // RD; one question
        for label in name.trim_end_matches('.').split('.') {
            if label.is_empty() || label.len() > 63 {
                return Err(format!("{name:?} is not a DNS name"));
            }
            q.push(label.len() as u8);
            q.extend_from_slice(label.as_bytes());
        }
        q.push(0);
        q.extend_from_slice(&[0, 1, 0, 1]); // A, IN
        Ok(q)
    }

    /// `Ok(None)`: not the answer to our query (a stray datagram).
    fn parse(id: u16, m: &[u8]) -> Result<Option<Vec<Ipv4Addr>>, String> {
        let short = || "a truncated DNS answer".to_string();
        if m.len() < 12 || u16::from_be_bytes([m[0], m[1]]) != id || m[2] & 0x80 == 0 {
            return Ok(None);
        }
        match m[3] & 0x0f {
            0 => {}
            3 => return Ok(Some(Vec::new())), // NXDOMAIN
            code => return Err(format!("the DNS server answered with error code {code}")),
        }
        let questions = u16::from_be_bytes([m[4], m[5]]);
        let answers = u16::from_be_bytes([m[6], m[7]]);
        let mut at = 12;
        for _ in 0..questions {
            at = skip_name(m, at).ok_or_else(short)? + 4;
        }
        let mut found = Vec::new();
        for _ in 0..answers {
            at = skip_name(m, at).ok_or_else(short)?;
            let fixed = m.get(at..at + 10).ok_or_else(short)?;
            let kind = u16::from_be_bytes([fixed[0], fixed[1]]);
            let len = usize::from(u16::from_be_bytes([fixed[8], fixed[9]]));
            let data = m.get(at + 10..at + 10 + len).ok_or_else(short)?;
            if kind == 1 && len == 4 {
                found.push(Ipv4Addr::new(data[0], data[1], data[2], data[3]));
            }
            at += 10 + len;
        }
        Ok(Some(found))
    }

    /// The offset after a (possibly compressed) name.
    fn skip_name(m: &[u8], mut at: usize) -> Option<usize> {
        loop {
            let len = *m.get(at)?;
            if len == 0 {
                return Some(at + 1);
            }
            if len & 0xc0 == 0xc0 {
                return Some(at + 2);
            }
            at += 1 + usize::from(len);
        }
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        #[test]
        fn an_answer_with_a_compressed_name_gives_its_a_records() {
            let mut m = build(7, "erp.example.com").unwrap();
            m[2] |= 0x80; // a response
            m[7] = 2; // two answers
            for ip in [[192, 0, 2, 1], [192, 0, 2, 2]] {
                m.extend_from_slice(&[0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4]);
                m.extend_from_slice(&ip);
            }
            let got = parse(7, &m).unwrap().unwrap();
            assert_eq!(
                got,
                [Ipv4Addr::new(192, 0, 2, 1), Ipv4Addr::new(192, 0, 2, 2)]
            );
            assert_eq!(parse(8, &m).unwrap(), None, "another query's answer");
            m[3] = 0x83;
            assert_eq!(parse(7, &m).unwrap(), Some(Vec::new()), "NXDOMAIN");
        }
    }
}
