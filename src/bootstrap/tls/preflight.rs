//! Before the CA is asked: does the name lead to the droplet, and does nginx serve the
//! challenge path there? Each failed check here is a failed validation saved.

use std::net::IpAddr;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::{Resolver, TlsError, TlsRequest, arg, host_error};
use crate::target::{Command, Target};

const DNS_TIMEOUT: Duration = Duration::from_secs(5);
const HTTP_TIMEOUT: Duration = Duration::from_secs(15);

/// The name's addresses, when at least one of them is the droplet's.
pub(super) async fn resolves(req: &TlsRequest) -> Result<Vec<IpAddr>, TlsError> {
    let name = req.name.as_str();
    let answer = match &req.resolver {
        Resolver::System => tokio::time::timeout(DNS_TIMEOUT, tokio::net::lookup_host((name, 0)))
            .await
            .map_err(|_| "the resolver did not answer in time".to_string())
            .and_then(|r| r.map_err(|e| e.to_string()))
            .map(|addrs| addrs.map(|a| a.ip()).collect::<Vec<_>>()),
        Resolver::Server(server) => dns::query_a(*server, name, DNS_TIMEOUT)
            .await
            .map(|v| v.into_iter().map(IpAddr::V4).collect()),
    };
    let (found, detail) = match answer {
        Ok(mut found) => {
            found.sort();
            found.dedup();
            (found, "no address".to_string())
        }
        Err(e) => (Vec::new(), e),
    };
    if found.iter().any(|a| req.addresses.contains(a)) {
        return Ok(found);
    }
    Err(TlsError::NotResolved {
        name: name.to_string(),
        found,
        expected: req.addresses.clone(),
        detail,
    })
}

/// Write a probe file where certbot's webroot plugin writes its challenges, fetch it by the
/// name from the droplet's address on the HTTP port (from where the console runs: outside
/// the droplet, as the CA is), and remove it. Returns the URL that worked.
pub(super) async fn probe(
    target: &Target,
    req: &TlsRequest,
    found: &[IpAddr],
) -> Result<String, TlsError> {
    let dir = req.webroot.join(".well-known/acme-challenge");
    let token = format!("odoo-ops-probe-{}", crate::deploy::random_hex(12));
    let file = dir.join(&token);
    let url = format!(
        "http://{}{}/.well-known/acme-challenge/{token}",
        req.name,
        if req.http_port == 80 {
            String::new()
        } else {
            format!(":{}", req.http_port)
        }
    );
    let mkdir = target
        .run(&Command::new("mkdir").args(["-p", "--"]).arg(arg(&dir)))
        .await
        .map_err(host_error)?;
    if !mkdir.success() {
        return Err(TlsError::ChallengeUnreachable {
            url,
            detail: format!(
                "cannot create {}: {}",
                dir.display(),
                mkdir.stderr_text().trim()
            ),
        });
    }
    target
        .write_file(&file, token.as_bytes(), 0o644)
        .await
        .map_err(host_error)?;
    // Fetch from the droplet's own address among the answers: the one the CA reaches.
    let address = found
        .iter()
        .find(|a| req.addresses.contains(a))
        .copied()
        .unwrap_or(found[0]);
    let fetched = tokio::time::timeout(
        HTTP_TIMEOUT,
        fetch(address, req.http_port, req.name.as_str(), &token),
    )
    .await
    .unwrap_or_else(|_| Err(format!("no answer within {} s", HTTP_TIMEOUT.as_secs())));
    // The probe goes whatever happened: it must not be left where certbot writes.
    let _ = target
        .run(&Command::new("rm").args(["-f", "--"]).arg(arg(&file)))
        .await;
    match fetched {
        Ok(body) if body.trim_end() == token => Ok(url),
        Ok(body) => Err(TlsError::ChallengeUnreachable {
            url,
            detail: format!(
                "it answered 200 with other content ({} bytes): is the location's root {}?",
                body.len(),
                req.webroot.display()
            ),
        }),
        Err(detail) => Err(TlsError::ChallengeUnreachable { url, detail }),
    }
}

/// `GET` the probe over plain HTTP/1.1 with the name as `Host`; the body when 200.
async fn fetch(address: IpAddr, port: u16, name: &str, token: &str) -> Result<String, String> {
    let mut stream = tokio::net::TcpStream::connect((address, port))
        .await
        .map_err(|e| format!("cannot connect to {address} port {port}: {e}"))?;
    let request = format!(
        "GET /.well-known/acme-challenge/{token} HTTP/1.1\r\nHost: {name}\r\nUser-Agent: odoo-ops\r\nAccept: */*\r\nConnection: close\r\n\r\n"
    );
    stream
        .write_all(request.as_bytes())
        .await
        .map_err(|e| e.to_string())?;
    let mut answer = Vec::new();
    stream
        .take(64 * 1024)
        .read_to_end(&mut answer)
        .await
        .map_err(|e| e.to_string())?;
    let text = String::from_utf8_lossy(&answer);
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head.lines().next().unwrap_or("");
    if status.split_whitespace().nth(1) != Some("200") {
        return Err(format!("it answered {:?}", status.trim()));
    }
    // nginx sends a static file with Content-Length; chunked would mean something else
    // answered, and then the content check says so.
    Ok(body.to_string())
}

/// Just enough DNS to ask one server for a name's A records.
mod dns {
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
