//! The merged, filtered view over three real sources: a container (the Odoo stand-in,
//! FROM scratch) writing Odoo-format lines, and a real nginx writing its access and error
//! logs, including a 502 from a dead upstream.

mod support;

use std::collections::BTreeSet;
use std::time::Duration;

use odoo_ops::logs::worker::{self, LogsCommand, SourceSpec};
use odoo_ops::logs::{Format, Level, LineKind, SourceId};
use odoo_ops::target::Target;
use support::docker::Project;
use support::logs::wait_for;
use support::nginx::Nginx;
use support::{ports, rawhttp, standin};

const WAIT: Duration = Duration::from_secs(30);
const ODOO: SourceId = SourceId(0);
const ACCESS: SourceId = SourceId(1);
const ERROR: SourceId = SourceId(2);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn odoo_container_and_nginx_logs_merged_filtered_searched_and_exported() {
    let image = standin::ensure_image(standin::RELEASES[1]);
    let project = Project::new("merged");
    let odoo_port = ports::free_port();
    let odoo_map = format!("127.0.0.1:{odoo_port}:8069");
    let container = project.run("odoo", &["-p", &odoo_map], &image);
    assert!(ports::wait_listening(odoo_port, WAIT));

    let logs_dir = tempfile::tempdir().unwrap();
    let access_path = logs_dir.path().join("access.log");
    let dead = ports::free_port();
    let listen = ports::free_port();
    let nginx = Nginx::start(
        &format!(
            r#"
    log_format withupstream '$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent "$http_referer" "$http_user_agent" upstream=$upstream_addr';
    server {{
        listen 127.0.0.1:{listen};
        access_log {access} withupstream;
        location /dead/ {{ proxy_pass http://127.0.0.1:{dead}; }}
        location / {{ proxy_pass http://127.0.0.1:{odoo_port}; }}
    }}
"#,
            access = access_path.display()
        ),
        &[listen],
    );
    let error_path = nginx.path().join("error.log");

    let (logs, _task) = worker::spawn(10_000);
    logs.send(LogsCommand::Viewport(500));
    logs.add_source(SourceSpec::Container {
        target: Target::local(),
        container: container.clone(),
        name: "odoo".into(),
        since_ms: None,
    });
    logs.add_source(SourceSpec::File {
        target: Target::local(),
        path: access_path.clone(),
        name: "nginx access".into(),
        format: Format::NginxAccess,
    });
    logs.add_source(SourceSpec::File {
        target: Target::local(),
        path: error_path,
        name: "nginx error".into(),
        format: Format::NginxError,
    });

    assert_eq!(rawhttp::get(listen, "/web/health").status, 200);
    assert_eq!(rawhttp::get(listen, "/dead/web/login").status, 502);

    let s = wait_for(&logs, WAIT, "lines from all three sources", |s| {
        let from = |id| s.window.iter().filter(|w| w.line.source == id).count();
        let odoo_saw_health = s
            .window
            .iter()
            .any(|w| w.line.source == ODOO && w.line.first_line().contains("GET /web/health"));
        from(ACCESS) >= 2 && from(ERROR) >= 1 && odoo_saw_health
    })
    .await;

    // One time line across sources.
    let times: Vec<i64> = s.window.iter().filter_map(|w| w.line.ts).collect();
    assert!(
        times.windows(2).all(|p| p[0] <= p[1]),
        "merged out of order"
    );
    // The container's start-up lines were parsed as Odoo's.
    let start = s
        .window
        .iter()
        .find(|w| {
            w.line.source == ODOO
                && w.line
                    .message()
                    .is_some_and(|m| m.trim() == "Odoo version 18.0")
        })
        .expect("Odoo's first start-up line");
    assert_eq!(
        (start.line.kind, start.line.level),
        (LineKind::Odoo, Level::Info)
    );

    // Errors only: the 502 in both nginx logs, nothing from a healthy Odoo.
    logs.send(LogsCommand::SetMinLevel(Level::Error));
    let s = wait_for(&logs, WAIT, "the error filter", |s| {
        s.min_level == Level::Error
    })
    .await;
    let sources: BTreeSet<SourceId> = s.window.iter().map(|w| w.line.source).collect();
    assert_eq!(sources, BTreeSet::from([ACCESS, ERROR]));
    let access = s.window.iter().find(|w| w.line.source == ACCESS).unwrap();
    assert_eq!(access.line.status, Some(502));
    assert_eq!(access.line.request(), Some("GET /dead/web/login HTTP/1.1"));
    assert_eq!(
        access.line.upstream(),
        Some(format!("127.0.0.1:{dead}").as_str())
    );
    let error = s.window.iter().find(|w| w.line.source == ERROR).unwrap();
    assert!(
        error
            .line
            .message()
            .unwrap()
            .contains("connect() failed (111: Connection refused)")
    );
    assert_eq!(
        error.line.upstream(),
        Some(format!("http://127.0.0.1:{dead}/dead/web/login").as_str())
    );
    assert_eq!(error.line.client(), Some("127.0.0.1"));

    // A regex over every source: the health check as nginx and Odoo both saw it.
    logs.send(LogsCommand::SetMinLevel(Level::Unknown));
    logs.send(LogsCommand::SetPattern(Some(r"GET /web/health".into())));
    let s = wait_for(&logs, WAIT, "the regex filter", |s| {
        s.pattern.is_some() && s.min_level == Level::Unknown
    })
    .await;
    let sources: BTreeSet<SourceId> = s.window.iter().map(|w| w.line.source).collect();
    assert_eq!(sources, BTreeSet::from([ODOO, ACCESS]));
    assert!(
        s.window
            .iter()
            .all(|w| w.line.text().contains("GET /web/health"))
    );

    // Switch nginx's access log off: Odoo's line remains.
    logs.send(LogsCommand::ToggleSource(ACCESS));
    let s = wait_for(&logs, WAIT, "access hidden", |s| {
        s.sources[ACCESS.0 as usize].hidden
    })
    .await;
    assert!(!s.window.is_empty());
    assert!(s.window.iter().all(|w| w.line.source == ODOO));

    // Export writes exactly that view.
    let export = logs_dir.path().join("view.txt");
    logs.send(LogsCommand::Export(export.clone()));
    let s = wait_for(&logs, WAIT, "the export", |s| s.notice.is_some()).await;
    let written = std::fs::read_to_string(&export).unwrap();
    assert_eq!(written.lines().count(), s.matching);
    assert!(
        written
            .lines()
            .all(|l| l.starts_with("[odoo] ") && l.contains("GET /web/health"))
    );

    // Everything again; search highlights, next error jumps to the 502.
    logs.send(LogsCommand::ToggleSource(ACCESS));
    logs.send(LogsCommand::SetPattern(None));
    logs.send(LogsCommand::SetSearch(Some("refused".into())));
    let s = wait_for(&logs, WAIT, "a search hit", |s| {
        s.cursor.is_some() && s.search.is_some()
    })
    .await;
    let hit = s.window.iter().find(|w| Some(w.index) == s.cursor).unwrap();
    assert_eq!(hit.line.source, ERROR);
    let (a, b) = hit.matches[0];
    assert_eq!(&hit.line.text()[a..b], "refused");
    logs.send(LogsCommand::Top);
    logs.send(LogsCommand::NextError);
    let s = wait_for(&logs, WAIT, "the first error", |s| {
        s.cursor
            .is_some_and(|c| s.window.iter().any(|w| w.index == c && w.line.is_error()))
    })
    .await;
    assert!(!s.follow, "jumping pauses following");
    drop(nginx);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_container_that_restarts_is_resumed_without_duplicates() {
    let image = standin::ensure_image(standin::RELEASES[0]);
    let project = Project::new("resume");
    // Crashes after a second with a CRITICAL traceback; Docker restarts it once.
    let container = project.run(
        "odoo",
        &[
            "--restart",
            "on-failure:1",
            "-e",
            "STANDIN_MODE=crash-after:1",
        ],
        &image,
    );
    let (logs, _task) = worker::spawn(10_000);
    logs.send(LogsCommand::Viewport(1000));
    logs.add_source(SourceSpec::Container {
        target: Target::local(),
        container: container.clone(),
        name: "odoo".into(),
        since_ms: None,
    });
    let starts = |s: &odoo_ops::logs::worker::LogsSnapshot| {
        s.window
            .iter()
            .filter(|w| {
                w.line
                    .message()
                    .is_some_and(|m| m.trim() == "Odoo version 18.0")
            })
            .count()
    };
    let s = wait_for(&logs, WAIT, "both runs, then the end", |s| {
        starts(s) >= 2
            && matches!(
                s.sources[0].status,
                odoo_ops::logs::follow::SourceStatus::Ended(_)
            )
    })
    .await;
    assert_eq!(starts(&s), 2, "each start-up exactly once");
    // The crash traceback stays with its CRITICAL line, once per run.
    let crashes: Vec<_> = s
        .window
        .iter()
        .filter(|w| w.line.level == Level::Critical)
        .collect();
    assert_eq!(crashes.len(), 2);
    assert!(
        crashes
            .iter()
            .all(|w| w.line.continuation_count() > 0 && w.line.is_error())
    );

    // Stopped for good as far as Docker's policy goes; the operator starts it by hand a
    // while later. The follower waits on Docker's events, not by polling: the third run
    // shows well before its 30 s safety recheck would have found it.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let started = std::time::Instant::now();
    let out = std::process::Command::new("docker")
        .args(["start", &container])
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let s = wait_for(
        &logs,
        Duration::from_secs(15),
        "the run started by hand",
        |s| starts(s) >= 3,
    )
    .await;
    assert_eq!(starts(&s), 3, "the third start-up exactly once");
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "the start was noticed only after {:?}",
        started.elapsed()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn next_match_after_a_long_traceback_stays_on_screen() {
    // Matches separated by 60-line tracebacks, on a pane 24 rows high.
    let mut text = String::new();
    for n in 0..5 {
        text += &format!(
            "2026-11-22 02:02:{n:02},000 7 ERROR shop odoo.http: Exception in request {n}\nTraceback (most recent call last):\n"
        );
        for k in 0..60 {
            text += &format!("  File \"/odoo/x.py\", line {k}, in f\n");
        }
        text += &format!("2026-11-22 02:02:{n:02},500 7 INFO shop werkzeug: needle {n}\n");
    }
    let (tx, rx) = tokio::sync::mpsc::channel(4);
    let (logs, _task) = worker::spawn(1000);
    logs.send(LogsCommand::Viewport(24));
    logs.add_source(SourceSpec::Bytes {
        name: "odoo".into(),
        format: Format::Odoo,
        chunks: rx,
    });
    tx.send(text.into_bytes()).await.unwrap();
    drop(tx);
    wait_for(&logs, WAIT, "10 entries", |s| s.buffered == 10).await;
    logs.send(LogsCommand::Top);
    logs.send(LogsCommand::SetSearch(Some("needle".into())));
    for n in 0..5 {
        if n > 0 {
            logs.send(LogsCommand::SearchNext);
        }
        let want = format!("needle {n}");
        let s = wait_for(&logs, WAIT, &want, |s| {
            s.cursor.is_some_and(|c| {
                s.window
                    .iter()
                    .any(|w| w.index == c && w.line.text().ends_with(&want))
            })
        })
        .await;
        // The rows drawn above the match (whole entries with their tracebacks) leave it on
        // the pane's 24 rows.
        let rows_before: usize = s
            .window
            .iter()
            .take_while(|w| Some(w.index) != s.cursor)
            .map(|w| w.line.rows())
            .sum();
        assert!(
            rows_before < 24,
            "{want} is drawn at row {rows_before} of 24"
        );
        assert!(s.notice.is_none(), "{:?}", s.notice);
    }
}
