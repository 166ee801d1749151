//! Following real files through the target with a real `tail -F`: rotation, a 1 MB
//! line, invalid UTF-8, and a flood of 1,000,000 lines into a bounded buffer.

mod support;

use std::io::Write;
use std::path::Path;
use std::time::Duration;

use odoo_ops::logs::worker::{self, LogsCommand, SourceSpec};
use odoo_ops::logs::{Format, Level};
use odoo_ops::target::Target;
use support::logs::{wait_for, window_text};

const WAIT: Duration = Duration::from_secs(30);

fn append(path: &Path, bytes: &[u8]) {
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .unwrap();
    f.write_all(bytes).unwrap();
}

fn odoo_line(n: usize, level: &str) -> String {
    format!(
        "2026-11-22 02:{:02}:{:02},{:03} 4242 {level} shop odoo.addons.test: line {n}\n",
        n / 60000 % 60,
        n / 1000 % 60,
        n % 1000
    )
}

fn file_source(path: &Path, format: Format) -> SourceSpec {
    SourceSpec::File {
        target: Target::local(),
        path: path.to_path_buf(),
        name: path.file_name().unwrap().to_string_lossy().into(),
        format,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rotation_while_following_loses_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("odoo.log");
    append(
        &log,
        (0..3)
            .map(|n| odoo_line(n, "INFO"))
            .collect::<String>()
            .as_bytes(),
    );
    let (logs, _task) = worker::spawn(1000);
    logs.add_source(file_source(&log, Format::Odoo));
    wait_for(&logs, WAIT, "the first 3 lines", |s| s.buffered == 3).await;

    // logrotate's default: rename, then a new file under the old name.
    std::fs::rename(&log, dir.path().join("odoo.log.1")).unwrap();
    append(
        &dir.path().join("odoo.log.1"),
        odoo_line(3, "INFO").as_bytes(),
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    append(
        &log,
        (4..8)
            .map(|n| odoo_line(n, "WARNING"))
            .collect::<String>()
            .as_bytes(),
    );

    let s = wait_for(&logs, WAIT, "lines from the new file", |s| {
        s.window
            .iter()
            .any(|w| w.line.first_line().ends_with("line 7"))
    })
    .await;
    let texts = window_text(&s);
    for n in [0, 1, 2, 4, 5, 6, 7] {
        let want = format!("line {n}");
        assert_eq!(
            texts.iter().filter(|t| t.ends_with(&want)).count(),
            1,
            "{want} once in {texts:#?}"
        );
    }
    assert_eq!(s.window.last().unwrap().line.level, Level::Warning);
    // What tail said about the rotation reached the source's status.
    let notices = wait_for(&logs, WAIT, "tail's rotation notice", |s| {
        matches!(&s.sources[0].status, odoo_ops::logs::follow::SourceStatus::Notice(n) if n.contains("following new file") || n.contains("has been replaced") || n.contains("has appeared"))
    })
    .await;
    assert_eq!(notices.sources[0].name, "odoo.log");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_megabyte_line_and_invalid_utf8_are_kept() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("app.log");
    std::fs::write(&log, b"").unwrap();
    let (logs, _task) = worker::spawn(1000);
    logs.add_source(file_source(&log, Format::Auto));
    wait_for(&logs, WAIT, "the source to follow", |s| {
        s.sources
            .first()
            .is_some_and(|x| x.status == odoo_ops::logs::follow::SourceStatus::Following)
    })
    .await;

    append(&log, b"caf\xe9 au lait \xff\n");
    let mut big = b"2026-11-22 02:02:12,655 1 ERROR shop odoo.http: ".to_vec();
    big.extend(std::iter::repeat_n(b'x', 1024 * 1024));
    big.push(b'\n');
    append(&log, &big);
    // 02:02:13,000: after the big line.
    append(&log, &odoo_line(133_000, "INFO").into_bytes());

    let s = wait_for(&logs, WAIT, "three entries", |s| s.buffered == 3).await;
    // The undecodable line is kept, readable where it can be.
    assert_eq!(s.window[0].line.text(), "caf\u{fffd} au lait \u{fffd}");
    let big_entry = &s.window[1].line;
    assert_eq!(big_entry.level, Level::Error);
    assert_eq!(big_entry.message().unwrap().len(), 1024 * 1024);
    assert_eq!(big_entry.continuation_count(), 0);
    assert!(s.window[2].line.first_line().ends_with("line 133000"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_of_a_million_lines_stays_bounded_and_the_worker_keeps_answering() {
    const LINES: usize = 1_000_000;
    const CAPACITY: usize = 100_000;
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("flood.log");
    std::fs::write(&log, b"").unwrap();
    let (logs, _task) = worker::spawn(CAPACITY);
    logs.send(LogsCommand::Viewport(40));
    logs.add_source(file_source(&log, Format::Odoo));
    wait_for(&logs, WAIT, "the source to follow", |s| {
        s.sources
            .first()
            .is_some_and(|x| x.status == odoo_ops::logs::follow::SourceStatus::Following)
    })
    .await;

    let writer = {
        let log = log.clone();
        std::thread::spawn(move || {
            let mut f = std::io::BufWriter::with_capacity(
                1 << 20,
                std::fs::OpenOptions::new().append(true).open(&log).unwrap(),
            );
            for n in 0..LINES {
                let level = if n % 1000 == 999 { "ERROR" } else { "INFO" };
                f.write_all(odoo_line(n, level).as_bytes()).unwrap();
            }
            f.flush().unwrap();
        })
    };

    // While lines pour in, a filter asked for is applied and published before the flood
    // is over: parsing and filtering never hold the snapshot hostage.
    wait_for(&logs, WAIT, "the flood to start", |s| s.received > 0).await;
    logs.send(LogsCommand::SetMinLevel(Level::Error));
    let during = wait_for(&logs, WAIT, "the level filter", |s| {
        s.min_level == Level::Error
    })
    .await;
    assert!(
        during.received < LINES as u64,
        "the filter was only published after all {} lines",
        during.received
    );

    writer.join().unwrap();
    let s = wait_for(&logs, Duration::from_secs(120), "all lines", |s| {
        s.received == LINES as u64
    })
    .await;
    assert_eq!(s.buffered, CAPACITY, "the ring holds exactly its capacity");
    assert_eq!(s.evicted, (LINES - CAPACITY) as u64);
    // Every 1000th line is an error: 100 of them are in the last 100,000.
    assert_eq!(s.matching, CAPACITY / 1000);
    assert!(s.follow);
    let last = &s.window.last().unwrap().line;
    assert!(
        last.first_line().ends_with(&format!("line {}", LINES - 1)),
        "{}",
        last.first_line()
    );
    assert!(s.window.iter().all(|w| w.line.level == Level::Error));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_odoo_logfile_named_in_odoo_conf_is_followed() {
    let odoo = support::standin::Standin::start(support::standin::StandinOptions {
        logfile: true,
        ..Default::default()
    });
    let conf = odoo.dir.path().join("odoo.conf");
    assert!(
        std::fs::read_to_string(&conf)
            .unwrap()
            .contains("logfile = ")
    );
    let (logs, _task) = worker::spawn(1000);
    logs.add_source(SourceSpec::OdooLogfile {
        target: Target::local(),
        conf,
        name: "odoo.log".into(),
    });
    let s = wait_for(&logs, WAIT, "Odoo's start-up lines from its logfile", |s| {
        s.window.iter().any(|w| {
            w.line
                .message()
                .is_some_and(|m| m.starts_with("HTTP service (werkzeug) running on"))
        })
    })
    .await;
    assert!(
        s.window
            .iter()
            .all(|w| w.line.kind == odoo_ops::logs::LineKind::Odoo)
    );
    // A request shows up as werkzeug's access line, live.
    assert_eq!(
        support::rawhttp::get(odoo.http_port, "/web/health").status,
        200
    );
    wait_for(&logs, WAIT, "the access line", |s| {
        s.window.iter().any(|w| {
            w.line.logger() == Some("werkzeug") && w.line.text().contains("GET /web/health")
        })
    })
    .await;

    // An odoo.conf without a logfile says where the lines are instead.
    let dir = tempfile::tempdir().unwrap();
    let bare = dir.path().join("odoo.conf");
    std::fs::write(&bare, "[options]\nhttp_port = 8069\n").unwrap();
    let (logs, _task) = worker::spawn(1000);
    logs.add_source(SourceSpec::OdooLogfile {
        target: Target::local(),
        conf: bare,
        name: "odoo.log".into(),
    });
    let s = wait_for(&logs, WAIT, "the failure", |s| {
        matches!(
            s.sources.first().map(|x| &x.status),
            Some(odoo_ops::logs::follow::SourceStatus::Failed(_))
        )
    })
    .await;
    let odoo_ops::logs::follow::SourceStatus::Failed(why) = &s.sources[0].status else {
        unreachable!()
    };
    assert!(why.contains("sets no logfile"), "{why}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_source_found_again_is_followed_once() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("odoo.log");
    append(&log, odoo_line(1, "INFO").as_bytes());
    let (logs, _task) = worker::spawn(1000);
    // Discovery runs again and again (each host refresh) and finds the same file.
    logs.add_source(file_source(&log, Format::Odoo));
    logs.add_source(file_source(&log, Format::Odoo));
    wait_for(&logs, WAIT, "the line", |s| s.buffered == 1).await;
    logs.add_source(file_source(&log, Format::Odoo));
    append(&log, odoo_line(2, "INFO").as_bytes());
    let snap = wait_for(&logs, WAIT, "the second line", |s| s.buffered >= 2).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let snap2 = logs.snapshot();
    assert_eq!(snap.sources.len(), 1, "{:?}", snap.sources);
    assert_eq!(snap2.buffered, 2, "{:?}", window_text(&snap2));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_history_of_a_quiet_file_shows_without_waiting_for_new_lines() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("access.log");
    let line = "127.0.0.1 - - [22/Nov/2026:02:02:17 +0000] \"GET /web/login HTTP/1.1\" 502 157 \"-\" \"curl/8.0\"\n";
    append(&log, line.repeat(3).as_bytes());
    let (logs, _task) = worker::spawn(1000);
    logs.add_source(file_source(&log, Format::NginxAccess));
    wait_for(&logs, WAIT, "the file's 3 lines", |s| s.buffered == 3).await;
}
