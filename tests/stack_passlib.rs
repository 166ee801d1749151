//! The admin password hash is what Odoo's passlib accepts: checked against the real passlib
//! (Debian's python3-passlib, the version Odoo 18 runs with) both ways.

use std::process::Command;

use odoo_ops::stack::passlib;

fn python(code: &str, args: &[&str]) -> String {
    let out = Command::new("/usr/bin/python3")
        .arg("-c")
        .arg(code)
        .args(args)
        .output()
        .expect("run /usr/bin/python3");
    assert!(
        out.status.success(),
        "python failed (apt-get install python3-passlib): {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

#[test]
fn passlib_verifies_our_hash_and_we_verify_passlibs() {
    let ours = passlib::hash("s3cret-master", 29_000).unwrap();
    let verdict = python(
        "import sys; from passlib.hash import pbkdf2_sha512 as h; print(h.verify(sys.argv[1], sys.argv[2]), h.verify('wrong', sys.argv[2]))",
        &["s3cret-master", &ours],
    );
    assert_eq!(verdict, "True False");

    let theirs = python(
        "import sys; from passlib.hash import pbkdf2_sha512 as h; print(h.using(rounds=31000).hash(sys.argv[1]))",
        &["another-master"],
    );
    assert!(theirs.starts_with("$pbkdf2-sha512$31000$"), "{theirs}");
    assert!(passlib::verify("another-master", &theirs));
    assert!(!passlib::verify("another-Master", &theirs));
}

#[test]
fn odoo_18s_crypt_context_accepts_the_default_rounds() {
    // Odoo 18 checks admin_passwd with CryptContext(['pbkdf2_sha512', 'plaintext']).
    let ours = passlib::hash("master", passlib::DEFAULT_ROUNDS).unwrap();
    let verdict = python(
        "import sys; from passlib.context import CryptContext; c = CryptContext(['pbkdf2_sha512', 'plaintext'], deprecated=['plaintext'], pbkdf2_sha512__rounds=600000); print(c.verify(sys.argv[1], sys.argv[2]), c.needs_update(sys.argv[2]))",
        &["master", &ours],
    );
    assert_eq!(
        verdict, "True False",
        "accepted, and not considered in need of a re-hash"
    );
}
