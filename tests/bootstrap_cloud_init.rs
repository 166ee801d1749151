//! The droplet's user data is a valid cloud-config, as cloud-init itself (Debian's
//! `cloud-init` package, the same parser and schema a droplet runs) judges it.

use std::process::Command;

use odoo_ops::bootstrap::cloud_init;

fn schema_check(doc: &str) -> (bool, String) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("user-data");
    std::fs::write(&path, doc).unwrap();
    let out = Command::new("cloud-init")
        .args(["schema", "--config-file"])
        .arg(&path)
        .output()
        .expect("cloud-init is installed by scripts/test-deps.sh");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

#[test]
fn the_user_data_passes_cloud_inits_own_schema_check() {
    let (ok, text) = schema_check(&cloud_init::user_data());
    assert!(ok, "cloud-init rejected the user data:\n{text}");
    assert!(text.contains("Valid cloud-config"), "{text}");
}

#[test]
fn the_schema_check_does_reject_a_broken_document() {
    // The same document with a boolean turned into a string: if this passed, the check
    // above would prove nothing.
    let good = cloud_init::user_data();
    let broken = good.replace("package_update: true", "package_update: \"yes please\"");
    assert_ne!(broken, good);
    let (ok, text) = schema_check(&broken);
    assert!(!ok, "a broken document passed:\n{text}");
    assert!(text.contains("package_update"), "{text}");
}

#[test]
fn runcmd_is_exec_form_and_the_packages_are_the_distributions() {
    // Read back by a YAML parser (cloud-init's own, PyYAML), not by string matching.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("user-data");
    std::fs::write(&path, cloud_init::user_data()).unwrap();
    let script = r#"
import json, sys, yaml
d = yaml.safe_load(open(sys.argv[1]))
print(json.dumps({"packages": d["packages"], "runcmd": d["runcmd"]}))
"#;
    let out = Command::new("python3")
        .args(["-c", script])
        .arg(&path)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let packages: Vec<&str> = v["packages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p.as_str().unwrap())
        .collect();
    assert_eq!(packages, cloud_init::PACKAGES);
    let runcmd = v["runcmd"].as_array().unwrap();
    assert!(runcmd.iter().all(|c| {
        c.as_array()
            .is_some_and(|a| a.iter().all(|w| w.is_string()))
    }));
    let enable = serde_json::json!(["ufw", "--force", "enable"]);
    assert!(runcmd.contains(&enable), "{runcmd:?}");
    let allowed: Vec<String> = runcmd
        .iter()
        .filter(|c| c[0] == "ufw" && c[1] == "allow")
        .map(|c| c[2].as_str().unwrap().to_string())
        .collect();
    assert_eq!(allowed, ["22/tcp", "80/tcp", "443/tcp"]);
}
