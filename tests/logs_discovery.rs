//! The console finds Odoo's own log file by itself, in a real terminal (tmux): from an
//! `odoo-bin -c FILE` server on the host (found through `ps`), and from the odoo.conf of an
//! Odoo container (read through Docker's archive API) — followed on the host through the
//! mount that holds it, or listed as being inside the container when nothing mounts it.

mod support;

use std::path::Path;

use support::docker::Project;
use support::standin::{IMAGE_ODOO_CONF, RELEASES, Standin, StandinOptions};
use support::tmux::Tmux;

const BIN: &str = env!("CARGO_BIN_EXE_odoo-ops");

/// Open the console with the Logs pane zoomed, seeing none of this machine's nginx logs.
fn console_on_logs(tmux: &Tmux) {
    tmux.type_line(&format!(
        "{} 2>{}/stderr.txt",
        Tmux::without_machine_logs(BIN),
        tmux.dir.path().display()
    ));
    tmux.wait_for("1 Host");
    tmux.keys(&["4", "z"]);
    tmux.wait_until(
        |s| s.lines().next().is_some_and(|l| l.starts_with("┏ 4 Logs")),
        "the Logs pane is zoomed",
    );
}

/// The Logs pane's source line (the first row inside the zoomed pane).
fn sources_line(screen: &str) -> &str {
    screen.lines().nth(1).unwrap_or_default()
}

#[test]
fn an_odoo_bin_on_the_host_brings_its_logfile() {
    // Run as a source install does: a program named odoo-bin with -c and a logfile.
    let bin = tempfile::tempdir().unwrap();
    let odoo_bin = bin.path().join("odoo-bin");
    std::os::unix::fs::symlink(support::standin::binary(), &odoo_bin).unwrap();
    let odoo = Standin::start(StandinOptions {
        logfile: true,
        program: Some(odoo_bin.clone()),
        ..Default::default()
    });
    let ps = std::process::Command::new("ps")
        .args(["-o", "args=", "-p", &odoo.pid().to_string()])
        .output()
        .unwrap();
    assert!(
        String::from_utf8_lossy(&ps.stdout).starts_with(&format!("{} -c ", odoo_bin.display())),
        "ps shows the server as odoo-bin -c FILE"
    );

    let tmux = Tmux::start(240, 40);
    console_on_logs(&tmux);
    // Its start-up lines come from the file (the port is this test's own).
    let started = format!(
        "HTTP service (werkzeug) running on 127.0.0.1:{}",
        odoo.http_port
    );
    let screen = tmux.wait_for(&started);
    assert!(
        sources_line(&screen).contains("odoo.log"),
        "the source is listed: {screen}"
    );
    // Only what this test set up: not the machine's own nginx logs.
    assert!(
        !sources_line(&screen).contains("nginx"),
        "the machine's nginx logs are followed: {screen}"
    );
    // New lines show as Odoo writes them.
    let probe = format!("/web/health?probe={}", odoo.http_port);
    assert_eq!(support::rawhttp::get(odoo.http_port, &probe).status, 200);
    let screen = tmux.wait_for(&format!("\"GET {probe} HTTP/1.1\" 200"));
    assert!(screen.contains("werkzeug"), "{screen}");
    tmux.keys(&["q"]);
}

/// The stand-in's image config plus a log file.
fn conf_with_logfile(dir: &Path, name: &str, logfile: &str) -> String {
    let path = dir.join(name);
    std::fs::write(&path, format!("{IMAGE_ODOO_CONF}logfile = {logfile}\n")).unwrap();
    path.display().to_string()
}

#[test]
fn an_odoo_container_logfile_is_followed_through_its_mount_or_said_to_be_inside() {
    let image = support::standin::ensure_image(RELEASES[0]);
    let project = Project::new("logfile");
    let dir = tempfile::tempdir().unwrap();
    let logs = dir.path().join("logs");
    std::fs::create_dir(&logs).unwrap();
    // `odoo` writes /var/log/odoo/odoo.log into a directory mounted from the host...
    let mounted = conf_with_logfile(dir.path(), "odoo.conf", "/var/log/odoo/odoo.log");
    project.run(
        "odoo",
        &[
            "-v",
            &format!("{mounted}:/etc/odoo/odoo.conf:ro"),
            "-v",
            &format!("{}:/var/log/odoo", logs.display()),
        ],
        &image,
    );
    // ...`odoo-cron` keeps its file inside the container (on a tmpfs, which the host
    // cannot read).
    let inside = conf_with_logfile(dir.path(), "cron.conf", "/var/log/odoo/cron-inside.log");
    let cron = project.run(
        "odoo-cron",
        &[
            "-v",
            &format!("{inside}:/etc/odoo/odoo.conf:ro"),
            "--tmpfs",
            "/var/log/odoo",
        ],
        &image,
    );
    let host_log = logs.join("odoo.log");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while !std::fs::read_to_string(&host_log)
        .unwrap_or_default()
        .contains("running on")
    {
        assert!(
            std::time::Instant::now() < deadline,
            "the container never wrote {}",
            host_log.display()
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }

    // Wide enough for every source on an engine that other tests share.
    let tmux = Tmux::start(400, 40);
    console_on_logs(&tmux);
    let screen = tmux.wait_for(&format!(
        "/var/log/odoo/cron-inside.log is inside the container {cron}, not on the host"
    ));
    assert!(
        sources_line(&screen).contains("cron-inside.log"),
        "{screen}"
    );
    // The mounted file is followed on the host: a line written there now shows.
    let marker = format!("registry loaded for {}", project.name);
    let mut file = std::fs::OpenOptions::new()
        .append(true)
        .open(&host_log)
        .unwrap();
    std::io::Write::write_all(
        &mut file,
        format!("2026-11-22 02:02:16,314 1 INFO shop odoo.modules.loading: {marker}\n").as_bytes(),
    )
    .unwrap();
    let screen = tmux.wait_for(&marker);
    assert!(sources_line(&screen).contains("• odoo.log"), "{screen}");
    tmux.keys(&["q"]);
}

#[test]
fn an_odoo_started_after_the_console_is_found_on_the_next_host_refresh() {
    let tmux = Tmux::start(240, 40);
    console_on_logs(&tmux);
    // Odoo was down when the console started; it comes up now, logging to a file.
    let bin = tempfile::tempdir().unwrap();
    let odoo_bin = bin.path().join("odoo-bin");
    std::os::unix::fs::symlink(support::standin::binary(), &odoo_bin).unwrap();
    let odoo = Standin::start(StandinOptions {
        logfile: true,
        program: Some(odoo_bin),
        ..Default::default()
    });
    // The host's facts are refreshed every 10 s; the look for Odoo comes with the second
    // facts that list it (a process that lives across two refreshes), so within 20 s and
    // the look's own time.
    let started = format!(
        "HTTP service (werkzeug) running on 127.0.0.1:{}",
        odoo.http_port
    );
    let screen = tmux.wait_until_within(
        std::time::Duration::from_secs(45),
        |s| s.contains(&started),
        "the log file of an Odoo started later shows",
    );
    // From the file: tagged with its name (other tests' sources may fill the source line).
    let row = screen.lines().find(|l| l.contains(&started)).unwrap();
    assert!(
        row.contains("odoo.log ") || sources_line(&screen).contains("odoo.log"),
        "{screen}"
    );
    tmux.keys(&["q"]);
}

#[test]
fn container_sources_are_told_apart_and_go_away_with_their_container() {
    let image = support::standin::ensure_image(RELEASES[0]);
    let project = Project::new("names");
    let first = project.run("odoo", &[], &image);
    let first_id = project.id_of(&first);
    let tmux = Tmux::start(400, 40);
    console_on_logs(&tmux);
    let first_name = format!("odoo#{}", &first_id[..6]);
    tmux.wait_until(
        |s| sources_line(s).contains(&first_name),
        "the container's source is named by service and id",
    );
    // A second container of the same service (a recreate leaves one beside the old).
    let second = project.run_numbered("odoo", 2, &[], &image);
    let second_name = format!("odoo#{}", &project.id_of(&second)[..6]);
    tmux.wait_until(
        |s| sources_line(s).contains(&second_name) && sources_line(s).contains(&first_name),
        "both containers are listed, each by its own name",
    );
    // The first is removed: its source goes with it, the second stays.
    let out = project.docker(&["rm", "-f", &first]);
    assert!(out.status.success());
    let screen = tmux.wait_until(
        |s| !sources_line(s).contains(&first_name),
        "the removed container's source is gone",
    );
    assert!(sources_line(&screen).contains(&second_name), "{screen}");
    assert!(!sources_line(&screen).contains("404"), "{screen}");
    tmux.keys(&["q"]);
}

#[test]
fn the_sites_own_access_and_error_logs_are_followed() {
    // nginx on port 80 as on a droplet: the test gets a network namespace of its own, where
    // its nginx is the only one listening (so the only master there is).
    support::netns::in_own_network_namespace(sites_own_logs_are_followed);
}

fn sites_own_logs_are_followed() {
    use odoo_ops::logs::Format;
    use odoo_ops::logs::worker::SourceSpec;
    let up = std::process::Command::new("ip")
        .args(["link", "set", "lo", "up"])
        .status()
        .unwrap();
    assert!(up.success(), "bring the namespace's loopback up");
    let logs = tempfile::tempdir().unwrap();
    let l = logs.path().display();
    // The rendered site's way: its own files, nothing in nginx's main access log.
    let site = format!(
        "server {{\n    listen 80;\n    server_name odoo.example.com;\n    access_log {l}/odoo.access.log;\n    error_log {l}/odoo.error.log;\n    location / {{\n        proxy_pass http://127.0.0.1:9;\n    }}\n    location /websocket {{\n        proxy_pass http://127.0.0.1:9;\n    }}\n}}\n"
    );
    let nginx = support::nginx::Nginx::start_debian(
        &[support::nginx::DebianSite {
            name: "odoo",
            text: &site,
        }],
        &[],
        &[80],
    );
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let specs = runtime.block_on(odoo_ops::logs::discover::nginx_logfiles(
        &odoo_ops::target::Target::local(),
    ));
    let files: Vec<(String, std::path::PathBuf, Format)> = specs
        .into_iter()
        .filter_map(|s| match s {
            SourceSpec::File {
                name, path, format, ..
            } => Some((name, path, format)),
            _ => None,
        })
        .collect();
    let want = |name: &str, path: std::path::PathBuf, format: Format| {
        assert!(
            files.contains(&(name.to_string(), path.clone(), format)),
            "{name} ({}) is not followed: {files:?}",
            path.display()
        );
    };
    want(
        "odoo.access.log",
        logs.path().join("odoo.access.log"),
        Format::NginxAccess,
    );
    want(
        "odoo.error.log",
        logs.path().join("odoo.error.log"),
        Format::NginxError,
    );
    // The main error log too: nginx's own start-up and reload errors go there.
    want(
        "nginx error",
        nginx.path().join("error.log"),
        Format::NginxError,
    );
    // The http level's access log is not one the site writes to.
    assert!(
        !files.iter().any(|(n, ..)| n == "nginx access"),
        "{files:?}"
    );
}
