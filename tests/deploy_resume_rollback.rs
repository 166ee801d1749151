//! A deploy's *automatic* rollback killed in the middle of its switch back: a bad tag
//! (the stand-in that is killed with 137 two seconds after it starts) is switched in,
//! fails its gates through nginx, the deploy starts switching back to the release before,
//! and the console is killed with SIGKILL once that release's container runs beside the
//! failed one (the test-only pause, src/deploy/test_pause.rs, `switch back:started`).
//! Then `odoo-ops deploy --resume rollback`: the release before serves again through the
//! real nginx, `odoo-ops verify` passes, the lock the dead process left is gone, and the
//! proof says rolled back. Real nginx, PostgreSQL container, Docker.

mod support;

use std::path::{Path, PathBuf};

use support::deploy_run::{
    assert_valid_proof, deploy_args, deploy_killed_at, last_proof, run, running_tag, text,
    through_nginx, verify,
};
use support::deploy_stack::Stack;
use support::standin::{self, Bad, RELEASES};

/// Every deploy lock file under the test's state directory (`deploys/<stack>/lock`).
fn lock_files(root: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut dirs = vec![root.to_path_buf()];
    while let Some(dir) = dirs.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for e in entries.flatten() {
            let path = e.path();
            if path.is_dir() {
                dirs.push(path);
            } else if path.file_name().is_some_and(|n| n == "lock") {
                found.push(path);
            }
        }
    }
    found
}

#[test]
fn an_automatic_rollback_killed_during_its_switch_back_is_resumed_and_the_old_tag_serves() {
    let bad = Bad::Killed137;
    standin::ensure_bad_image(bad);
    let stack = Stack::new("resumeautoback");
    let old = RELEASES[0];
    assert_eq!(running_tag(&stack), old);
    let state = stack.state.path().join("odoo-ops");

    // The bad tag switched in, failed through nginx, the automatic rollback started the
    // previous release's container beside it: killed there.
    let printed = deploy_killed_at(&stack, None, &["--tag", bad.tag()], "switch back:started");
    println!("the killed deploy printed:\n{printed}");
    assert!(
        printed.contains("switch back: "),
        "the deploy was not switching back when killed:\n{printed}"
    );
    assert_eq!(
        stack.service_containers().len(),
        2,
        "the switch back was cut short: the bad release and the one coming back"
    );
    // Nothing finished it: nginx still points at the bad release, the dead process's lock
    // is still there.
    assert_eq!(running_tag(&stack), bad.tag());
    assert_eq!(
        lock_files(&state).len(),
        1,
        "the killed deploy left its lock"
    );

    let out = run(
        &stack,
        None,
        &deploy_args(&stack, &["--resume", "rollback"]),
    );
    let shown = text(&out);
    println!("{shown}");
    assert_eq!(out.status.code(), Some(0), "{shown}");

    // The old tag serves through nginx, verify passes, one container, no lock.
    assert_eq!(running_tag(&stack), old);
    let (status, upstream) = through_nginx(&stack);
    assert_eq!(status, 200, "through nginx: {upstream}");
    let v = verify(&stack);
    assert_eq!(v.status.code(), Some(0), "verify:\n{}", text(&v));
    let all = stack.service_containers();
    assert_eq!(all.len(), 1, "containers of the service: {all:?}");
    assert!(
        lock_files(&state).is_empty(),
        "the lock was not released: {:?}",
        lock_files(&state)
    );

    // The proof: the bad tag's deploy, rolled back to the old one, the interrupted switch
    // back in its journal and the resumed one passed and verified.
    let (_, proof) = last_proof(&stack);
    assert_valid_proof(&proof);
    assert_eq!(proof["outcome"], "rolled_back", "{proof:#}");
    assert_eq!(proof["to"]["tag"], bad.tag(), "{proof:#}");
    assert_eq!(proof["rollback"]["to"]["tag"], old, "{proof:#}");
    assert_eq!(proof["rollback"]["result"], "passed", "{proof:#}");
    let steps = proof["steps"].as_array().unwrap();
    let verify_step = steps
        .iter()
        .find(|s| s["name"] == "verify")
        .expect("the failed verify of the bad tag is in the journal");
    assert_eq!(verify_step["result"], "failed", "{proof:#}");
    let back = steps
        .iter()
        .find(|s| s["name"] == "switch back")
        .expect("the interrupted switch back is in the journal");
    assert_eq!(back["result"], "interrupted", "{proof:#}");
    let rollback_verify = proof["rollback"]["steps"]
        .as_array()
        .unwrap()
        .iter()
        .rev()
        .find(|s| s["name"] == "verify")
        .expect("a verify after the resumed switch back");
    assert_eq!(rollback_verify["result"], "passed", "{proof:#}");
}
