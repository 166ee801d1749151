//! The edge as a browser sees it: HTTPS to nginx's own listen address with the site's
//! server_name as SNI and Host, verified by rustls-platform-verifier against the system
//! trust store plus the operator's extra roots; then the login page and a websocket
//! handshake.
//!
//! The TCP connection is made from the target: over SSH it is a direct-tcpip channel of the
//! same connection, so the name need not resolve in DNS (nor point at this host yet), and
//! the nginx checked is the one whose configuration was read.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use color_eyre::eyre::WrapErr;
use rustls::ClientConfig;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};

use super::cert::leaf_info;
use super::http::{self, Reply, WEBSOCKET_PATH, error_chain};
use crate::checks::obs::{CertObs, EdgeObs, HttpProbe};
use crate::nginx::OdooSite;
use crate::target::{Target, Tunnel, host_port};

/// Where and how to reach the edge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EdgePlan {
    /// `https://server_name[:port]`.
    pub url: String,
    /// The server_name: SNI, the Host header, and the name the certificate must carry.
    pub host: String,
    pub port: u16,
    pub tls: bool,
    pub connect: EdgeConnect,
}

/// The TCP connection under the edge requests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EdgeConnect {
    /// nginx's listen address, connected to from the target (a wildcard listen is reached
    /// on the host's loopback).
    Listen { address: String, port: u16 },
    /// `--edge-connect`: straight from this machine to this address.
    Direct(SocketAddr),
}

/// The edge URL from nginx's own server block: server_name and listen.
pub fn plan(site: &OdooSite, connect_override: Option<IpAddr>) -> Option<EdgePlan> {
    let listen = site.edge_listen()?;
    let host = site.primary_name().unwrap_or("localhost").to_string();
    let scheme = if listen.ssl { "https" } else { "http" };
    let default_port = if listen.ssl { 443 } else { 80 };
    let port_suffix = if listen.port == default_port {
        String::new()
    } else {
        format!(":{}", listen.port)
    };
    let connect = match connect_override {
        Some(ip) => EdgeConnect::Direct(SocketAddr::new(ip, listen.port)),
        None => EdgeConnect::Listen {
            address: listen.address.clone().unwrap_or_else(|| "127.0.0.1".into()),
            port: listen.port,
        },
    };
    Some(EdgePlan {
        url: format!("{scheme}://{host}{port_suffix}"),
        host,
        port: listen.port,
        tls: listen.ssl,
        connect,
    })
}

/// How the evidence names the connection: the address, and through what.
fn describe_connection(target: &Target, connect: &EdgeConnect) -> String {
    match connect {
        EdgeConnect::Listen { address, port } if target.is_local() => host_port(address, *port),
        EdgeConnect::Listen { address, port } => format!(
            "{} on {}, through the SSH connection",
            host_port(address, *port),
            target.describe()
        ),
        EdgeConnect::Direct(addr) => format!("{addr} (--edge-connect, from this machine)"),
    }
}

/// The system's trust store (through the platform verifier) plus the extra PEM roots.
fn tls_config(extra_roots: &[Vec<u8>]) -> Result<Arc<ClientConfig>, String> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut roots = Vec::new();
    for pem in extra_roots {
        let before = roots.len();
        for cert in CertificateDer::pem_slice_iter(pem) {
            roots.push(cert.map_err(|e| format!("an extra root certificate: {e}"))?);
        }
        if roots.len() == before {
            return Err("an extra root certificate file holds no PEM certificate".into());
        }
    }
    let verifier =
        rustls_platform_verifier::Verifier::new_with_extra_roots(roots, provider.clone())
            .map_err(|e| format!("the system trust store: {e}"))?;
    let mut config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(verifier))
        .with_no_client_auth();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

/// Why a request got no answer; a failed TLS handshake is also the certificate check's
/// evidence.
enum Failure {
    Tls(String),
    Other(String),
}

struct Answer {
    probe: HttpProbe,
    peer_cert: Option<Vec<u8>>,
    tls_error: Option<String>,
}

async fn open(target: &Target, connect: &EdgeConnect) -> Result<Box<dyn Tunnel>, Failure> {
    let opened = match connect {
        EdgeConnect::Listen { address, port } => target.connect_tcp(address, *port).await,
        EdgeConnect::Direct(addr) => tokio::net::TcpStream::connect(addr)
            .await
            .map(|s| Box::new(s) as Box<dyn Tunnel>)
            .wrap_err_with(|| format!("could not connect to {addr}")),
    };
    opened.map_err(|e| Failure::Other(format!("{e:#}")))
}

async fn fetch(
    target: &Target,
    plan: &EdgePlan,
    tls: Option<&Arc<ClientConfig>>,
    path: &str,
    websocket: bool,
) -> Result<(Reply, Option<Vec<u8>>), Failure> {
    let tunnel = open(target, &plan.connect).await?;
    let Some(config) = tls else {
        return exchange(tunnel, plan, path, websocket)
            .await
            .map(|r| (r, None))
            .map_err(Failure::Other);
    };
    let name = ServerName::try_from(plan.host.clone())
        .map_err(|e| Failure::Tls(format!("`{}` cannot be a TLS name: {e}", plan.host)))?;
    let stream = tokio_rustls::TlsConnector::from(config.clone())
        .connect(name, tunnel)
        .await
        .map_err(|e| {
            let text = format!("TLS handshake with {}: {}", plan.host, error_chain(&e));
            // rustls refusing the peer (certificate, protocol) is the TLS check's business;
            // a connection that closes mid-handshake is only "no answer".
            match e.get_ref().and_then(|i| i.downcast_ref::<rustls::Error>()) {
                Some(_) => Failure::Tls(text),
                None => Failure::Other(text),
            }
        })?;
    let cert = stream
        .get_ref()
        .1
        .peer_certificates()
        .and_then(|c| c.first())
        .map(|c| c.to_vec());
    exchange(stream, plan, path, websocket)
        .await
        .map(|r| (r, cert))
        .map_err(Failure::Other)
}

/// The request on an open connection, with the site's name as Host and Origin.
async fn exchange<S>(io: S, plan: &EdgePlan, path: &str, websocket: bool) -> Result<Reply, String>
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Send + Unpin + 'static,
{
    let authority = plan
        .url
        .split_once("://")
        .map_or(plan.host.as_str(), |(_, a)| a);
    http::exchange(io, authority, &plan.url, path, websocket, None).await
}

async fn request(
    target: &Target,
    plan: &EdgePlan,
    tls: Option<&Arc<ClientConfig>>,
    path: &str,
    websocket: bool,
    timeout: Duration,
) -> Answer {
    let label = format!(
        "GET {}{path}{}",
        plan.url,
        if websocket {
            " (websocket handshake)"
        } else {
            ""
        }
    );
    let failed = |error: String, tls_error: Option<String>| Answer {
        probe: HttpProbe {
            request: label.clone(),
            error: Some(error),
            ..Default::default()
        },
        peer_cert: None,
        tls_error,
    };
    match tokio::time::timeout(timeout, fetch(target, plan, tls, path, websocket)).await {
        Ok(Ok(((status, headers, body), peer_cert))) => Answer {
            probe: HttpProbe {
                request: label.clone(),
                status: Some(status),
                headers,
                body,
                error: None,
            },
            peer_cert,
            tls_error: None,
        },
        Ok(Err(Failure::Tls(e))) => failed(e.clone(), Some(e)),
        Ok(Err(Failure::Other(e))) => failed(e, None),
        Err(_) => failed(
            format!("no answer within {} s", timeout.as_secs_f32()),
            None,
        ),
    }
}

/// Health, login page and websocket through the edge, concurrently; the certificate from
/// whichever TLS answer came back.
pub async fn gather(
    target: &Target,
    plan: &EdgePlan,
    extra_roots: &[Vec<u8>],
    timeout: Duration,
) -> EdgeObs {
    let mut obs = EdgeObs {
        url: Some(plan.url.clone()),
        connect_to: Some(describe_connection(target, &plan.connect)),
        tls: plan.tls,
        ..Default::default()
    };
    let tls = match plan.tls.then(|| tls_config(extra_roots)).transpose() {
        Ok(config) => config,
        Err(e) => {
            obs.cert_error = Some(e.clone());
            let failed = |path: &str| HttpProbe {
                request: format!("GET {}{path}", plan.url),
                error: Some(e.clone()),
                ..Default::default()
            };
            obs.health = Some(failed("/web/health"));
            obs.login = Some(failed("/web/login"));
            obs.websocket = Some(failed("/websocket"));
            return obs;
        }
    };
    let (health, login, ws) = tokio::join!(
        request(target, plan, tls.as_ref(), "/web/health", false, timeout),
        request(target, plan, tls.as_ref(), "/web/login", false, timeout),
        request(target, plan, tls.as_ref(), WEBSOCKET_PATH, true, timeout),
    );
    if plan.tls {
        let cert = [&health, &login, &ws]
            .iter()
            .find_map(|a| a.peer_cert.clone());
        obs.cert_error = [&health, &login, &ws]
            .iter()
            .find_map(|a| a.tls_error.clone());
        if let Some(info) = cert.as_deref().and_then(leaf_info) {
            let now = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map(|d| d.as_secs() as i64)
                .unwrap_or_default();
            obs.cert = Some(CertObs {
                subject_names: info.dns_names,
                not_after: info.not_after,
                days_left: (info.not_after_epoch - now).div_euclid(86_400),
            });
        }
    }
    obs.health = Some(health.probe);
    obs.login = Some(login.probe);
    obs.websocket = Some(ws.probe);
    obs
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nginx::{NginxConfig, odoo_sites, select_site};

    fn site(listen: &str) -> OdooSite {
        let dump = format!(
            "# configuration file /etc/nginx/sites-enabled/odoo:\nhttp {{ server {{ listen {listen}; server_name erp.example.com www.example.com; location / {{ proxy_pass http://127.0.0.1:8069; }} location /websocket {{ proxy_pass http://127.0.0.1:8072; }} }} }}\n"
        );
        let config = NginxConfig::parse_dump(&dump).unwrap();
        select_site(&odoo_sites(&config), None).unwrap()
    }

    #[test]
    fn the_plan_comes_from_the_server_block() {
        let p = plan(&site("443 ssl"), None).unwrap();
        assert_eq!(p.url, "https://erp.example.com");
        assert_eq!(p.host, "erp.example.com");
        assert!(p.tls);
        // A wildcard listen is reached on the host's loopback.
        assert_eq!(
            p.connect,
            EdgeConnect::Listen {
                address: "127.0.0.1".into(),
                port: 443
            }
        );
        let p = plan(&site("10.0.0.5:8443 ssl"), None).unwrap();
        assert_eq!(p.url, "https://erp.example.com:8443");
        assert_eq!(
            p.connect,
            EdgeConnect::Listen {
                address: "10.0.0.5".into(),
                port: 8443
            }
        );
        let p = plan(&site("80"), Some("203.0.113.7".parse().unwrap())).unwrap();
        assert_eq!(p.url, "http://erp.example.com");
        assert!(!p.tls);
        assert_eq!(
            p.connect,
            EdgeConnect::Direct("203.0.113.7:80".parse().unwrap())
        );
    }

    #[test]
    fn a_file_without_a_certificate_is_refused() {
        assert!(tls_config(&[b"not a pem".to_vec()]).is_err());
        assert!(tls_config(&[]).is_ok());
    }
}
