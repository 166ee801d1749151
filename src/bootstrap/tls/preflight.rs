//! Before the CA is asked: does the name lead to the droplet, and does nginx serve the
//! challenge path there? Each failed check here is a failed validation saved.

use std::net::IpAddr;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::{TlsError, TlsRequest, arg, host_error};
use crate::bootstrap::resolve;
use crate::target::{Command, Target};

const DNS_TIMEOUT: Duration = Duration::from_secs(5);
const HTTP_TIMEOUT: Duration = Duration::from_secs(15);

/// The name's addresses, when at least one of them is the droplet's.
pub(super) async fn resolves(req: &TlsRequest) -> Result<Vec<IpAddr>, TlsError> {
    let name = req.name.as_str();
    let (found, detail) = match resolve::lookup(&req.resolver, name, DNS_TIMEOUT).await {
        Ok(found) => (found, "no address".to_string()),
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
