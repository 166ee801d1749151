//! A module deploy (`odoo-ops deploy --modules`) killed with SIGKILL inside its maintenance
//! window, then `odoo-ops deploy --resume`: the next start finds the window in the journal
//! and rolls it back from THIS deploy's backup (every table's rows and every filestore file
//! as before, the previous release serving, nginx's maintenance page gone, `.env` and the
//! site file as they were), or, continuing, rolls back and runs the upgrade again from the
//! backup's data. Real nginx, the PostgreSQL container, Docker and the stand-in's releases.

mod support;

use std::path::PathBuf;

use support::deploy_run::{
    assert_valid_proof, deploy_args, deploy_killed_at, last_proof, run, running_tag, step_names,
    text, through_nginx, verify,
};
use support::deploy_stack::{DOMAIN, PROBE, SITE, Stack};
use support::standin::RELEASES;

fn backups(stack: &Stack) -> PathBuf {
    stack.state.path().join("backups")
}

fn module_deploy(stack: &Stack, tag: &str) -> Vec<String> {
    vec![
        "--tag".into(),
        tag.into(),
        "--modules".into(),
        "project".into(),
        "--db".into(),
        "odoo".into(),
        "--backup-dir".into(),
        backups(stack).display().to_string(),
    ]
}

fn refs(v: &[String]) -> Vec<&str> {
    v.iter().map(String::as_str).collect()
}

/// One request through nginx: the maintenance page (503 with Retry-After) or Odoo.
fn status_through_nginx(stack: &Stack) -> (u16, Option<String>) {
    let r = support::rawhttp::try_request(
        stack.nginx_port,
        "GET",
        PROBE,
        &[("Host", DOMAIN)],
        b"",
        std::time::Duration::from_secs(10),
    )
    .expect("nginx answers");
    (r.status, r.header("Retry-After").map(str::to_string))
}

/// The host as before the deploy: `tag` serves through nginx from the service's one
/// container, verify passes, the site file and `.env` as they were, no one-off left.
#[track_caller]
fn assert_host_as_before(stack: &Stack, tag: &str) {
    assert_eq!(running_tag(stack), tag);
    let all = stack.service_containers();
    assert_eq!(
        all.len(),
        1,
        "containers of the service (one-offs too): {all:?}"
    );
    let (status, upstream) = through_nginx(stack);
    assert_eq!(status, 200, "through nginx: {upstream}");
    let v = verify(stack);
    assert_eq!(v.status.code(), Some(0), "verify:\n{}", text(&v));
    stack.assert_site_is_a_link_and_valid();
    let site = std::fs::read(stack.nginx.site_available(SITE)).unwrap();
    assert_eq!(site, stack.site_before, "the maintenance page is gone");
    let env = std::fs::read_to_string(stack.env_path()).unwrap();
    assert!(env.contains(&format!("ODOO_TAG={tag}\n")), "{env}");
}

#[test]
fn a_module_deploy_killed_in_its_window_is_rolled_back_from_its_backup_or_run_again() {
    let stack = Stack::with_data("dmresume");
    let (a, b) = (RELEASES[0], RELEASES[1]);
    let db = stack.db();
    let tables_before = stack.fingerprint("odoo");
    let files_before = stack.filestore("odoo");
    assert_eq!(
        stack.project.module_states(&db, "odoo")["project"],
        "uninstalled"
    );

    // 1. Killed once the upgrade ran: the data is upgraded, the page is up, A is stopped.
    let deploy = module_deploy(&stack, b);
    deploy_killed_at(&stack, None, &refs(&deploy), "upgrade");
    assert_eq!(
        stack.project.module_states(&db, "odoo")["project"],
        "installed",
        "the upgrade changed the database before the kill"
    );
    assert_ne!(stack.fingerprint("odoo"), tables_before);
    let (status, retry) = status_through_nginx(&stack);
    assert_eq!(status, 503, "the maintenance page is up");
    assert!(retry.is_some());

    // The next start offers the window's rollback, from this deploy's backup.
    let asked = run(&stack, None, &deploy_args(&stack, &["--resume"]));
    assert_eq!(asked.status.code(), Some(2), "{}", text(&asked));
    assert!(
        text(&asked).contains("from this deploy's backup"),
        "{}",
        text(&asked)
    );

    let out = run(
        &stack,
        None,
        &deploy_args(&stack, &["--resume", "rollback"]),
    );
    let shown = text(&out);
    println!("{shown}");
    assert_eq!(out.status.code(), Some(0), "{shown}");
    assert!(shown.contains("cut short after upgrade"), "{shown}");
    assert!(
        shown.contains("as this deploy's backup has them"),
        "{shown}"
    );
    // The data: every table and every filestore file as before the deploy.
    assert_eq!(stack.fingerprint("odoo"), tables_before);
    assert_eq!(stack.filestore("odoo"), files_before);
    assert_host_as_before(&stack, a);
    let (_, proof) = last_proof(&stack);
    assert_valid_proof(&proof);
    assert_eq!(proof["outcome"], "rolled_back", "{proof:#}");
    assert_eq!(proof["rollback"]["result"], "passed");
    assert_eq!(proof["rollback"]["to"]["tag"], a);
    assert_eq!(
        step_names(&proof["rollback"]["steps"]),
        [
            "rollback: maintenance on passed",
            "rollback: restore passed",
            "rollback: start passed",
            "rollback: gates passed",
            "rollback: maintenance off passed",
            "rollback: verify passed",
        ],
        "{proof:#}"
    );
    let none = run(
        &stack,
        None,
        &deploy_args(&stack, &["--resume", "rollback"]),
    );
    assert!(text(&none).contains("nothing to resume"), "{}", text(&none));

    // 2. Killed while the upgrade's one-off runs; continue: the one-off removed, the
    // window rolled back, and the deploy run again from the backup's data: B serves with
    // its module installed.
    deploy_killed_at(&stack, None, &refs(&deploy), "upgrade:running");
    let oneoffs = support::deploy_stack::docker(&[
        "ps",
        "-aq",
        "--filter",
        "label=com.docker.compose.oneoff=True",
        "--filter",
        &format!("label=com.docker.compose.project={}", stack.project.name),
    ]);
    assert!(
        !String::from_utf8_lossy(&oneoffs.stdout).trim().is_empty(),
        "the killed console left its module run behind"
    );
    let out = run(
        &stack,
        None,
        &deploy_args(&stack, &["--resume", "continue"]),
    );
    let shown = text(&out);
    println!("{shown}");
    assert_eq!(out.status.code(), Some(0), "{shown}");
    assert!(shown.contains("removed the module run"), "{shown}");
    assert!(shown.contains("cut short during upgrade"), "{shown}");
    assert!(shown.contains("deployed again"), "{shown}");
    assert_eq!(running_tag(&stack), b);
    let all = stack.service_containers();
    assert_eq!(all.len(), 1, "no one-off left: {all:?}");
    assert_eq!(
        stack.project.module_states(&db, "odoo")["project"],
        "installed"
    );
    assert_eq!(stack.filestore("odoo"), files_before);
    let (_, proof) = last_proof(&stack);
    assert_valid_proof(&proof);
    assert_eq!(proof["outcome"], "passed", "{proof:#}");
    let (status, _) = status_through_nginx(&stack);
    assert_eq!(status, 200);
}
