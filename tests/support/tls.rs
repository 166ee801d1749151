//! A private CA and a leaf certificate for one DNS name, made with the openssl CLI into a
//! directory: what nginx needs for `ssl_certificate` and what a client needs to trust it.

use std::path::{Path, PathBuf};
use std::process::Command;

pub struct TestCert {
    /// The CA certificate a client trusts.
    pub ca_cert: PathBuf,
    /// Leaf + CA, as certbot's `fullchain.pem`.
    pub fullchain: PathBuf,
    /// The leaf's private key, as certbot's `privkey.pem`.
    pub key: PathBuf,
}

fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("run openssl (apt-get install openssl)");
    assert!(
        out.status.success(),
        "openssl {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Make `ca.pem`, `fullchain.pem` and `privkey.pem` for `name` in `dir`.
pub fn make_cert(dir: &Path, name: &str) -> TestCert {
    std::fs::create_dir_all(dir).unwrap();
    openssl(
        dir,
        &[
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "2",
            "-keyout",
            "ca.key",
            "-out",
            "ca.pem",
            "-subj",
            "/CN=odoo-ops test CA",
        ],
    );
    openssl(
        dir,
        &[
            "req",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            "privkey.pem",
            "-out",
            "leaf.csr",
            "-subj",
            &format!("/CN={name}"),
        ],
    );
    std::fs::write(
        dir.join("leaf.ext"),
        format!(
            "subjectAltName=DNS:{name}\nbasicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n"
        ),
    )
    .unwrap();
    openssl(
        dir,
        &[
            "x509",
            "-req",
            "-in",
            "leaf.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-days",
            "2",
            "-out",
            "leaf.pem",
            "-extfile",
            "leaf.ext",
        ],
    );
    let leaf = std::fs::read_to_string(dir.join("leaf.pem")).unwrap();
    let ca = std::fs::read_to_string(dir.join("ca.pem")).unwrap();
    std::fs::write(dir.join("fullchain.pem"), format!("{leaf}{ca}")).unwrap();
    TestCert {
        ca_cert: dir.join("ca.pem"),
        fullchain: dir.join("fullchain.pem"),
        key: dir.join("privkey.pem"),
    }
}
