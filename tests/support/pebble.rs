//! Debian's `pebble` (Let's Encrypt's ACME test server) on loopback, and its companion
//! `pebble-challtestsrv` as the DNS server that makes every name resolve to 127.0.0.1.
//! Each in its own temp dir on free ports, stopped on Drop.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use super::ports::{free_port, wait_listening};
use super::tls::{TestCert, make_cert};

fn stop(child: &mut Child) {
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    for _ in 0..250 {
        if let Ok(Some(_)) = child.try_wait() {
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = child.kill();
    let _ = child.wait();
}

/// A DNS server answering every A query with 127.0.0.1 (and no AAAA), as pebble's
/// `-dnsserver` and the TLS step's preflight ask it; or, started [`FakeDns::empty`], a
/// zone with no records until the test sets them ([`FakeDns::set_a`]), as an operator's
/// DNS provider is before the record is added.
pub struct FakeDns {
    pub addr: SocketAddr,
    /// The management interface (HTTP): `/add-a`, `/clear-a`.
    management: u16,
    child: Child,
    _dir: tempfile::TempDir,
}

impl FakeDns {
    pub fn start() -> FakeDns {
        FakeDns::launch("127.0.0.1")
    }

    /// No name has an address until [`FakeDns::set_a`] gives it one.
    pub fn empty() -> FakeDns {
        FakeDns::launch("")
    }

    fn launch(default_ipv4: &str) -> FakeDns {
        let dir = tempfile::tempdir().unwrap();
        let port = free_port();
        let management = free_port();
        let log = std::fs::File::create(dir.path().join("dns.log")).unwrap();
        let child = Command::new("pebble-challtestsrv")
            .args(["-dns01", &format!("127.0.0.1:{port}")])
            .args(["-http01", "", "-https01", "", "-tlsalpn01", ""])
            .args(["-management", &format!("127.0.0.1:{management}")])
            .args(["-defaultIPv4", default_ipv4, "-defaultIPv6", ""])
            .stdout(Stdio::from(log.try_clone().unwrap()))
            .stderr(Stdio::from(log))
            .spawn()
            .expect("start pebble-challtestsrv (scripts/test-deps.sh installs pebble)");
        let mut dns = FakeDns {
            addr: SocketAddr::from(([127, 0, 0, 1], port)),
            management,
            child,
            _dir: dir,
        };
        // It serves TCP and UDP on the same port; TCP answering means both are up.
        if !wait_listening(port, Duration::from_secs(10))
            || !wait_listening(management, Duration::from_secs(10))
        {
            stop(&mut dns.child);
            panic!("pebble-challtestsrv did not listen on {port} and {management}");
        }
        dns
    }

    /// `name`'s A records are now `addresses` (none: the name has no address again).
    pub fn set_a(&self, name: &str, addresses: &[&str]) {
        let call = |path: &str, body: serde_json::Value| {
            let answer = super::rawhttp::try_request(
                self.management,
                "POST",
                path,
                &[("Content-Type", "application/json")],
                body.to_string().as_bytes(),
                Duration::from_secs(5),
            )
            .unwrap_or_else(|e| panic!("pebble-challtestsrv {path}: {e}"));
            assert_eq!(answer.status, 200, "pebble-challtestsrv {path}");
        };
        call("/clear-a", serde_json::json!({ "host": name }));
        if !addresses.is_empty() {
            call(
                "/add-a",
                serde_json::json!({ "host": name, "addresses": addresses }),
            );
        }
    }
}

impl Drop for FakeDns {
    fn drop(&mut self) {
        stop(&mut self.child);
    }
}

pub struct Pebble {
    /// The ACME directory URL.
    pub directory: String,
    /// The CA bundle that makes pebble's own HTTPS trusted (certbot's REQUESTS_CA_BUNDLE).
    pub ca_bundle: PathBuf,
    /// The management interface (HTTPS, pebble's own certificate): `/roots/0` etc.
    management: u16,
    dir: tempfile::TempDir,
    child: Child,
}

impl Pebble {
    /// Pebble validating http-01 on `http_port` of whatever `dns` resolves names to.
    pub fn start(http_port: u16, dns: &FakeDns) -> Pebble {
        let dir = tempfile::tempdir().unwrap();
        let TestCert {
            ca_cert,
            fullchain,
            key,
        } = make_cert(&dir.path().join("tls"), "localhost");
        let port = free_port();
        let management = free_port();
        let config = serde_json::json!({
            "pebble": {
                "listenAddress": format!("127.0.0.1:{port}"),
                "managementListenAddress": format!("127.0.0.1:{management}"),
                "certificate": fullchain,
                "privateKey": key,
                "httpPort": http_port,
                "tlsPort": free_port(),
                "ocspResponderURL": "",
                "externalAccountBindingRequired": false
            }
        });
        let config_path = dir.path().join("pebble.json");
        std::fs::write(&config_path, config.to_string()).unwrap();
        let log = std::fs::File::create(dir.path().join("pebble.log")).unwrap();
        let child = Command::new("pebble")
            .arg("-config")
            .arg(&config_path)
            .arg("-dnsserver")
            .arg(dns.addr.to_string())
            // No random sleeps before validating; no nonces rejected at random.
            .env("PEBBLE_VA_NOSLEEP", "1")
            .env("PEBBLE_WFE_NONCEREJECT", "0")
            .stdout(Stdio::from(log.try_clone().unwrap()))
            .stderr(Stdio::from(log))
            .spawn()
            .expect("start pebble (scripts/test-deps.sh installs it)");
        let mut pebble = Pebble {
            directory: format!("https://localhost:{port}/dir"),
            ca_bundle: ca_cert,
            management,
            dir,
            child,
        };
        if !wait_listening(port, Duration::from_secs(10)) {
            let log = pebble.log();
            stop(&mut pebble.child);
            panic!("pebble did not listen on {port}:\n{log}");
        }
        pebble
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("pebble.log")).unwrap_or_default()
    }

    /// The root (PEM) that this pebble's issued chains end at, random per start: what a
    /// client must trust to accept the certificates it issues. From the management
    /// interface, whose own certificate is [`Pebble::ca_bundle`]'s.
    #[allow(dead_code)]
    pub fn root_pem(&self) -> Vec<u8> {
        let out = Command::new("curl")
            .args(["-sS", "--fail", "--cacert"])
            .arg(&self.ca_bundle)
            .arg(format!("https://localhost:{}/roots/0", self.management))
            .output()
            .expect("run curl");
        assert!(
            out.status.success(),
            "pebble's root: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        out.stdout
    }

    /// The common name of the intermediate that signs this pebble's certificates
    /// (`Pebble Intermediate CA 74dbff`: the suffix is random per start).
    pub fn intermediate_cn(&self) -> String {
        let log = self.log();
        let line = log
            .lines()
            .find(|l| l.contains("Generated new intermediate issuer CN="))
            .unwrap_or_else(|| panic!("pebble's log names no intermediate:\n{log}"));
        let after = line.split("CN=").nth(1).unwrap();
        after.split(" with serial").next().unwrap().to_string()
    }
}

impl Drop for Pebble {
    fn drop(&mut self) {
        stop(&mut self.child);
    }
}

/// A TCP listener that only counts who connects: a CA that must never be contacted, or
/// one that is down.
pub fn counting_listener() -> (u16, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
    use std::sync::atomic::{AtomicUsize, Ordering};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let count = std::sync::Arc::new(AtomicUsize::new(0));
    let c = count.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            c.fetch_add(1, Ordering::SeqCst);
            drop(stream);
        }
    });
    (port, count)
}

/// The certificate nginx serves for `name` on `port`: openssl's subject, issuer and SAN
/// lines.
pub fn served_certificate(port: u16, name: &str) -> String {
    let out = Command::new("sh")
        .arg("-c")
        .arg(
            "openssl s_client -connect 127.0.0.1:$1 -servername $2 </dev/null 2>/dev/null \
             | openssl x509 -noout -subject -issuer -ext subjectAltName",
        )
        .arg("sh")
        .arg(port.to_string())
        .arg(name)
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).into_owned()
}
