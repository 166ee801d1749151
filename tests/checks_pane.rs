//! The Checks pane in each state on ratatui's TestBackend (insta snapshots), its keys, and
//! the colours that carry meaning (fail red, pass green).

mod support;

use crossterm::event::{Event, KeyCode, KeyEvent, KeyModifiers};
use odoo_ops::checks::list::evaluate;
use odoo_ops::checks::model::{ApplyAction, Report, Timings};
use odoo_ops::checks::obs::{HttpProbe, Observations, OdooRuntime, ProcessObs, Ran};
use odoo_ops::config::Settings;
use odoo_ops::config::keymap::Action;
use odoo_ops::host::{Disk, Listener};
use odoo_ops::jobs::{DropReason, JobRunner};
use odoo_ops::nginx::{NginxConfig, NginxInvocation, odoo_sites, select_site};
use odoo_ops::odoo::conf::OdooConf;
use odoo_ops::tui::app::App;
use odoo_ops::tui::effect::Effect;
use odoo_ops::tui::jobs::ConsoleJob;
use odoo_ops::tui::message::JobUpdate;
use odoo_ops::tui::message::Message;
use odoo_ops::tui::panes::PaneId;
use odoo_ops::tui::panes::checks::Stage;
use ratatui::style::Color;
use support::app::{app_with, find, render, screen_text};

const SITE: &str = include_str!("../src/nginx/testdata/odoo-site.nginx-T.txt");

fn key(c: char) -> Event {
    Event::Key(KeyEvent::new(KeyCode::Char(c), KeyModifiers::NONE))
}

fn enter() -> Event {
    Event::Key(KeyEvent::new(KeyCode::Enter, KeyModifiers::NONE))
}

/// A host whose nginx sends /websocket to Odoo's HTTP port; everything else healthy.
fn misrouted_report() -> Report {
    Report::new(
        "odoo-prod-1".into(),
        evaluate(&misrouted_obs()),
        Timings::default(),
    )
}

/// What a diagnosis of [`misrouted_report`]'s host observed.
fn misrouted_obs() -> Observations {
    let dump = SITE.replace(
        "location /websocket {\n        proxy_pass http://odoo-longpolling;",
        "location /websocket {\n        proxy_pass http://odoo;",
    );
    let config = NginxConfig::parse_dump(&dump).unwrap();
    let mut obs = Observations::default();
    let ok = |c: &str| Ran {
        command: c.into(),
        status: Some(0),
        output: String::new(),
        error: None,
    };
    obs.nginx.running = true;
    obs.nginx.invocation = NginxInvocation {
        binary: "nginx".into(),
        master_pid: Some(812),
        worker_pids: vec![813],
        ..Default::default()
    };
    obs.nginx.test = Some(ok("nginx -t"));
    obs.nginx.dump = Some(ok("nginx -T"));
    obs.nginx.sites = odoo_sites(&config);
    obs.nginx.site = select_site(&obs.nginx.sites, None);
    obs.nginx.config = Some(config);
    obs.odoo.runtime = OdooRuntime::Process {
        config: Some("/etc/odoo/odoo.conf".into()),
        process: Some(ProcessObs {
            pid: 900,
            args: "/opt/odoo/odoo-bin -c /etc/odoo/odoo.conf".into(),
        }),
    };
    obs.odoo.conf = Some(OdooConf::parse(
        "[options]\nproxy_mode = True\nworkers = 2\nlimit_memory_hard = 1073741824\n",
    ));
    obs.odoo.conf_source = Some("/etc/odoo/odoo.conf".into());
    obs.odoo.http_port = Some(8069);
    obs.odoo.gevent_port = Some(8072);
    obs.host.mem_total_kib = 8 << 20;
    obs.host.mem_available_kib = 5 << 20;
    obs.host.disks = vec![Disk {
        label: "/".into(),
        mount: "/".into(),
        size_kib: 100,
        used_kib: 40,
        available_kib: 60,
    }];
    obs.host.listeners = vec![
        Listener {
            port: 8069,
            address: "127.0.0.1".into(),
        },
        Listener {
            port: 8072,
            address: "127.0.0.1".into(),
        },
    ];
    let probe = |req: &str, status: u16, body: &str| {
        Some(HttpProbe {
            request: req.into(),
            status: Some(status),
            body: body.into(),
            ..Default::default()
        })
    };
    let pass = "{\"status\": \"pass\", \"db_server_status\": true}";
    obs.internal.http_health = probe(
        "GET http://127.0.0.1:8069/web/health?db_server_status=1",
        200,
        pass,
    );
    obs.internal.gevent_health = probe(
        "GET http://127.0.0.1:8072/web/health?db_server_status=1",
        200,
        pass,
    );
    obs.internal.gevent_websocket = probe(
        "GET http://127.0.0.1:8072/websocket?version=18.0-3 (websocket handshake)",
        101,
        "",
    );
    obs.edge.url = Some("https://erp.example.test:18443".into());
    obs.edge.health = probe(
        "GET https://erp.example.test:18443/web/health",
        200,
        "{\"status\": \"pass\"}",
    );
    obs.edge.login = probe(
        "GET https://erp.example.test:18443/web/login",
        200,
        "name=\"login\"",
    );
    obs.edge.websocket = probe(
        "GET https://erp.example.test:18443/websocket?version=18.0-3 (websocket handshake)",
        500,
        "",
    );
    obs.db.skipped = Some("pg_isready is not installed".into());
    obs
}

fn checks_app(readonly: bool) -> App {
    let mut app = app_with(Settings::builtin(), 130, 34);
    app.readonly = readonly;
    app.checks.readonly = readonly;
    app.on_action(Action::FocusChecks);
    app.on_action(Action::ToggleZoom);
    app
}

fn with_report(app: &mut App) {
    let effects = app.on_terminal(&key('a')).1;
    assert_eq!(effects, vec![Effect::RunChecks]);
    app.apply(Message::ChecksReport(Ok((
        Box::new(misrouted_report()),
        NginxInvocation {
            binary: "nginx".into(),
            ..Default::default()
        },
    ))));
}

fn select(app: &mut App, id: &str) {
    app.on_action(Action::Top);
    while app.checks.selected_check().map(|c| c.id) != Some(id) {
        let before = app.checks.selected;
        app.on_action(Action::Down);
        assert_ne!(before, app.checks.selected, "{id} not in the list");
    }
}

#[test]
fn before_the_first_run() {
    let app = checks_app(false);
    let terminal = render(&app);
    insta::assert_snapshot!(terminal.backend());
}

#[test]
fn a_report_names_the_root_cause_in_colour() {
    let mut app = checks_app(false);
    with_report(&mut app);
    // The selection highlight sits on another row than the ones checked below.
    select(&mut app, "nginx.route_root");
    let terminal = render(&app);
    insta::assert_snapshot!(terminal.backend());
    let buffer = terminal.backend().buffer();
    let text = screen_text(buffer);
    assert!(
        text.contains("ROOT CAUSE nginx routes /websocket to Odoo's HTTP port"),
        "{text}"
    );
    let (x, y) = find(buffer, "[FAIL]").expect("a failing check");
    assert_eq!(buffer[(x + 1, y)].fg, Color::Red);
    let (x, y) = find(buffer, "[PASS]").expect("a passing check");
    assert_eq!(buffer[(x + 1, y)].fg, Color::Green);
    let (x, y) = find(buffer, "ROOT CAUSE").unwrap();
    assert_eq!(buffer[(x, y)].fg, Color::Red);
    // Failures first: the rows under the key hints start with the three failures.
    let rows: Vec<&str> = text
        .lines()
        .skip_while(|l| !l.contains("s step"))
        .skip(1)
        .take(4)
        .collect();
    assert!(
        rows[..3].iter().all(|r| r.contains("[FAIL]")) && !rows[3].contains("[FAIL]"),
        "{text}"
    );
}

#[test]
fn a_click_selects_the_check_under_it_and_the_root_cause_selects_nothing() {
    use crossterm::event::{MouseButton, MouseEvent, MouseEventKind};
    let mut app = checks_app(false);
    with_report(&mut app);
    let click = |app: &mut App, column: u16, row: u16| {
        app.on_terminal(&Event::Mouse(MouseEvent {
            kind: MouseEventKind::Down(MouseButton::Left),
            column,
            row,
            modifiers: KeyModifiers::NONE,
        }));
    };
    for id in ["nginx.route_root", "odoo.proxy_mode", "nginx.running"] {
        let terminal = render(&app);
        let (x, y) = find(terminal.backend().buffer(), &format!(" {id} "))
            .unwrap_or_else(|| panic!("{id} is on screen"));
        click(&mut app, x + 1, y);
        assert_eq!(app.checks.selected_check().map(|c| c.id), Some(id));
    }
    // With the evidence open below the list, rows still land where they are drawn.
    app.on_action(Action::Top);
    let mut ids = Vec::new();
    for _ in 0..3 {
        ids.push(app.checks.selected_check().unwrap().id);
        app.on_action(Action::Down);
    }
    app.on_action(Action::Top);
    app.on_action(Action::ChecksEvidence);
    let terminal = render(&app);
    let (x, y) = find(terminal.backend().buffer(), &format!(" {} ", ids[2])).expect("on screen");
    click(&mut app, x + 1, y);
    assert_eq!(app.checks.selected_check().map(|c| c.id), Some(ids[2]));
    let (x, y) = find(terminal.backend().buffer(), "ROOT CAUSE").unwrap();
    click(&mut app, x, y);
    assert_eq!(
        app.checks.selected_check().map(|c| c.id),
        Some(ids[2]),
        "the root cause is not a row"
    );
}

#[test]
fn a_narrow_pane_wraps_the_root_cause_and_cuts_no_count() {
    let mut app = checks_app(false);
    app.size.width = 84;
    with_report(&mut app);
    let terminal = render(&app);
    insta::assert_snapshot!(terminal.backend());
    let text = screen_text(terminal.backend().buffer());
    // The whole sentence, in rows under its label.
    let sentence = app
        .checks
        .report
        .as_ref()
        .unwrap()
        .root_cause
        .as_ref()
        .unwrap()
        .sentence
        .clone();
    let shown: Vec<&str> = text
        .lines()
        .skip(1)
        .take_while(|l| !l.contains("s step"))
        .map(|l| l.trim_matches('┃').trim_start_matches("ROOT CAUSE").trim())
        .collect();
    assert_eq!(shown.join(" "), sentence, "{text}");
    // The title keeps whole numbers, failures first, or leaves out what does not fit.
    let title = text.lines().next().unwrap();
    assert!(title.contains(" 3 fail · 0 warn · 26 pass "), "{title}");
    app.size.width = 40;
    let text = screen_text(render(&app).backend().buffer());
    let title = text.lines().next().unwrap();
    assert!(
        title.contains(" 3 fail · 0 warn ") && !title.contains("pass"),
        "{title}"
    );
}

#[test]
fn multi_line_evidence_keeps_its_rows_and_indentation() {
    let mut obs = misrouted_obs();
    let page = "<html>\r\n  <head><title>502 Bad Gateway</title></head>\r\n  <body>\r\n\t<h1>502 Bad Gateway</h1>\r\n  </body>\r\n</html>";
    if let Some(health) = obs.edge.health.as_mut() {
        health.status = Some(502);
        health.body = page.into();
    }
    let mut app = checks_app(false);
    app.size.height = 60;
    app.on_terminal(&key('a'));
    app.apply(Message::ChecksReport(Ok((
        Box::new(Report::new(
            "odoo-prod-1".into(),
            evaluate(&obs),
            Timings::default(),
        )),
        NginxInvocation::default(),
    ))));
    select(&mut app, "edge.health");
    app.on_terminal(&enter());
    let terminal = render(&app);
    insta::assert_snapshot!(terminal.backend());
    let text = screen_text(terminal.backend().buffer());
    for row in [
        "  │ <html>",
        "  │   <head><title>502 Bad Gateway</title></head>",
        "  │   <body>",
        "  │     <h1>502 Bad Gateway</h1>",
        "  │   </body>",
        "  │ </html>",
    ] {
        assert!(text.contains(row), "{row:?} in\n{text}");
    }
}

#[test]
fn the_diagnosis_runs_at_start_and_after_a_reconnect_while_host_shows_stale_facts() {
    use odoo_ops::tui::app::Connection;
    let mut app = support::app::loaded_app(160, 42);
    assert!(app.startup_effects().contains(&Effect::RunChecks));
    app.connection = Connection::Connected;
    // The link drops: no work, the Host pane says since when its facts are old.
    let effects = app.connection_changed(Connection::Reconnecting { attempt: 1 }, "03:12:09");
    assert!(effects.is_empty(), "{effects:?}");
    app.connection_changed(Connection::Reconnecting { attempt: 2 }, "03:12:11");
    let text = screen_text(render(&app).backend().buffer());
    let host_title = text.lines().next().unwrap();
    assert!(host_title.contains("stale since 03:12:09"), "{text}");
    // Back: the facts and the diagnosis are gathered again; fresh facts clear the mark.
    app.apply(Message::ChecksReport(Ok((
        Box::new(misrouted_report()),
        NginxInvocation::default(),
    ))));
    let effects = app.connection_changed(Connection::Connected, "03:12:15");
    assert!(effects.contains(&Effect::RunChecks), "{effects:?}");
    assert!(effects.contains(&Effect::RefreshHost), "{effects:?}");
    app.apply(Message::HostFacts(Ok(support::app::droplet_facts())));
    let text = screen_text(render(&app).backend().buffer());
    assert!(!text.contains("stale since"), "{text}");
}

#[test]
fn evidence_shows_what_ran_the_cause_and_the_diff() {
    let mut app = checks_app(false);
    with_report(&mut app);
    select(&mut app, "nginx.route_websocket");
    app.on_terminal(&enter());
    let terminal = render(&app);
    insta::assert_snapshot!(terminal.backend());
    let buffer = terminal.backend().buffer();
    let text = screen_text(buffer);
    assert!(text.contains("ran: nginx -T"));
    assert!(
        text.contains("proxy_pass http://odoo-longpolling;"),
        "{text}"
    );
    let (x, y) = find(buffer, "+        proxy_pass http://odoo-longpolling;").unwrap();
    assert_eq!(buffer[(x, y)].fg, Color::Green);
    let (x, y) = find(buffer, "-        proxy_pass http://odoo;").unwrap();
    assert_eq!(buffer[(x, y)].fg, Color::Red);
}

#[test]
fn applying_a_fix_shows_the_diff_and_asks_first() {
    let mut app = checks_app(false);
    with_report(&mut app);
    select(&mut app, "nginx.route_websocket");
    assert!(app.on_terminal(&key('F')).1.is_empty());
    assert!(app.checks.confirming());
    let terminal = render(&app);
    insta::assert_snapshot!(terminal.backend());
    // `n` cancels without doing anything.
    assert!(app.on_terminal(&key('n')).1.is_empty());
    assert!(!app.checks.confirming());
    // `y` hands the confirmed edit to the engine.
    app.on_terminal(&key('F'));
    let effects = app.on_terminal(&key('y')).1;
    match effects.as_slice() {
        [Effect::ApplyFix(ApplyAction::EditNginxFile { path, after, .. }, _)] => {
            assert_eq!(path.display().to_string(), "/tmp/ngfx/conf.d/odoo.conf");
            assert!(
                after
                    .contains("location /websocket {\n        proxy_pass http://odoo-longpolling;")
            );
        }
        other => panic!("expected one ApplyFix, got {other:?}"),
    }
    assert_eq!(app.checks.stage, Stage::Applying { waiting: false });
}

#[test]
fn readonly_offers_no_fix() {
    let mut app = checks_app(true);
    with_report(&mut app);
    select(&mut app, "nginx.route_websocket");
    assert!(app.on_terminal(&key('F')).1.is_empty());
    assert!(!app.checks.confirming());
    let terminal = render(&app);
    let text = screen_text(terminal.backend().buffer());
    assert!(text.contains("read-only: fixes are not offered"));
    assert!(!text.contains("F apply fix"));
    assert!(!text.contains("[fix]"));
    insta::assert_snapshot!(terminal.backend());
}

#[test]
fn stepping_reveals_one_check_at_a_time_and_rerun_asks_for_one() {
    let mut app = checks_app(false);
    assert_eq!(app.on_terminal(&key('s')).1, vec![Effect::RunChecks]);
    app.apply(Message::ChecksReport(Ok((
        Box::new(misrouted_report()),
        NginxInvocation::default(),
    ))));
    assert_eq!(app.checks.revealed, 1);
    assert!(app.on_terminal(&key('s')).1.is_empty());
    assert!(app.on_terminal(&key('s')).1.is_empty());
    assert_eq!(app.checks.revealed, 3);
    assert_eq!(app.checks.selected, 2);
    let text = screen_text(render(&app).backend().buffer());
    assert!(text.contains("nginx.reloaded") && !text.contains("nginx.site"));
    assert_eq!(
        app.on_terminal(&key('R')).1,
        vec![Effect::RerunCheck("nginx.reloaded")]
    );
    // The re-run result replaces the old one; the summary follows.
    let mut fresh = misrouted_report().checks[2].clone();
    fresh.outcome.summary = "re-run: still fine".into();
    app.apply(Message::CheckRerun(Ok(fresh)));
    assert_eq!(
        app.checks.selected_check().unwrap().outcome.summary,
        "re-run: still fine"
    );
    assert_eq!(app.focus, PaneId::Checks);
}

#[test]
fn hints_name_the_keys_of_a_rebound_keymap() {
    let mut app = checks_app(false);
    // Tall enough for the evidence's last line.
    app.size.height = 60;
    app.keymap = odoo_ops::config::Keymap::parse(
        std::path::Path::new("keymap.toml"),
        "[checks]\nrun_all = [\"A\"]\nstep = [\"space\"]\napply_fix = [\"ctrl+f\"]\n[confirm]\nyes = [\"o\", \"y\"]\n",
    )
    .unwrap();
    let text = screen_text(render(&app).backend().buffer());
    assert!(
        text.contains("No diagnosis yet: A runs every check, space steps through them"),
        "{text}"
    );
    assert_eq!(app.on_terminal(&key('A')).1, vec![Effect::RunChecks]);
    app.apply(Message::ChecksReport(Ok((
        Box::new(misrouted_report()),
        NginxInvocation::default(),
    ))));
    select(&mut app, "nginx.route_websocket");
    app.on_terminal(&enter());
    let text = screen_text(render(&app).backend().buffer());
    assert!(
        text.contains("space step · A run all · R re-run · enter evidence · ctrl+f apply fix"),
        "{text}"
    );
    assert!(text.contains("ctrl+f applies it: diff"), "{text}");
    app.on_terminal(&Event::Key(KeyEvent::new(
        KeyCode::Char('f'),
        KeyModifiers::CONTROL,
    )));
    assert!(app.checks.confirming());
    let text = screen_text(render(&app).backend().buffer());
    assert!(text.contains("o apply · n cancel"), "{text}");
}

/// The pane's title line: what its work is doing, or the report's counts.
fn title(app: &App) -> String {
    screen_text(render(app).backend().buffer())
        .lines()
        .next()
        .unwrap()
        .to_string()
}

/// Effects run as the console runs them: on the job runner, against this host; every
/// event becomes a message for the app, until the Checks pane has nothing in flight.
fn run_jobs(app: &mut App, effects: Vec<Effect>) {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let target = odoo_ops::target::Target::local();
        let (runner, mut events) = JobRunner::new();
        for effect in effects {
            runner.submit(ConsoleJob::new(&target, effect).expect("a job"));
        }
        let deadline = std::time::Duration::from_secs(60);
        while app.checks.stage != Stage::Idle {
            let event = tokio::time::timeout(deadline, events.recv())
                .await
                .unwrap_or_else(|_| panic!("the pane is stuck in {:?}", app.checks.stage))
                .expect("the runner lives");
            if let Some(message) = odoo_ops::tui::jobs::message(event) {
                app.apply(message);
            }
        }
    });
}

#[test]
fn run_all_pressed_during_a_rerun_runs_after_it_and_the_pane_settles() {
    // The reported lock: `R` in flight, then `a`; the diagnosis was dropped and the pane
    // said "running…" for good.
    let mut app = checks_app(false);
    with_report(&mut app);
    select(&mut app, "nginx.reloaded");
    let mut effects = app.on_terminal(&key('R')).1;
    effects.extend(app.on_terminal(&key('a')).1);
    assert_eq!(
        effects,
        vec![Effect::RerunCheck("nginx.reloaded"), Effect::RunChecks]
    );
    assert!(title(&app).contains("running…"), "{}", title(&app));
    let before = app.checks.report.as_ref().unwrap().target.clone();
    run_jobs(&mut app, effects);
    let title = title(&app);
    assert!(!title.contains("running…"), "{title}");
    assert!(
        title.contains(" pass · "),
        "the fresh report's counts: {title}"
    );
    // This host's diagnosis replaced the recorded one.
    assert_ne!(app.checks.report.as_ref().unwrap().target, before);
}

#[test]
fn a_fix_confirmed_during_a_diagnosis_waits_for_it_and_then_applies() {
    let mut app = checks_app(false);
    with_report(&mut app);
    assert_eq!(app.on_terminal(&key('a')).1, vec![Effect::RunChecks]);
    select(&mut app, "nginx.route_websocket");
    app.on_terminal(&key('F'));
    let fix = app.on_terminal(&key('y')).1;
    assert!(matches!(fix.as_slice(), [Effect::ApplyFix(..)]), "{fix:?}");
    let fix = fix[0].clone();
    // Not "applying…": the fix has not started.
    let t = title(&app);
    assert!(t.contains("fix waits for the running check…"), "{t}");
    assert!(!t.contains("applying…"), "{t}");
    app.apply(Message::Job(fix.clone(), JobUpdate::Queued));
    // The diagnosis that ran first ends; the fix still waits its turn.
    app.apply(Message::ChecksReport(Ok((
        Box::new(misrouted_report()),
        NginxInvocation::default(),
    ))));
    assert!(title(&app).contains("fix waits for the running check…"));
    app.apply(Message::Job(fix.clone(), JobUpdate::Started));
    assert!(title(&app).contains("applying…"), "{}", title(&app));
    // Its result, then the diagnosis that follows every fix.
    app.apply(Message::FixApplied(Err("nginx -t failed; reverted".into())));
    assert!(title(&app).contains("running…"), "{}", title(&app));
    app.apply(Message::ChecksReport(Ok((
        Box::new(misrouted_report()),
        NginxInvocation::default(),
    ))));
    assert_eq!(app.checks.stage, Stage::Idle);
    let text = screen_text(render(&app).backend().buffer());
    assert!(
        text.contains("fix failed: nginx -t failed; reverted"),
        "{text}"
    );
}

#[test]
fn a_dropped_request_never_leaves_the_pane_waiting() {
    let mut app = checks_app(false);
    with_report(&mut app);
    select(&mut app, "nginx.route_websocket");
    app.on_terminal(&key('F'));
    let fix = app.on_terminal(&key('y')).1.remove(0);
    app.apply(Message::Job(
        fix,
        JobUpdate::Dropped(DropReason::Replaced { by: 9 }),
    ));
    assert_eq!(app.checks.stage, Stage::Idle);
    let text = screen_text(render(&app).backend().buffer());
    assert!(
        text.contains("fix NOT applied: replaced by a newer request before it ran"),
        "{text}"
    );
    assert_eq!(app.on_terminal(&key('a')).1, vec![Effect::RunChecks]);
    app.apply(Message::Job(
        Effect::RunChecks,
        JobUpdate::Dropped(DropReason::Cancelled),
    ));
    assert_eq!(app.checks.stage, Stage::Idle);
    assert!(!title(&app).contains("running…"));
}
