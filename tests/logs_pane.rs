//! The Logs pane in each state, on ratatui's TestBackend, driven through the app's keys:
//! following merged sources, paused on a search hit, a traceback, wrap, the typed
//! prompts, errors and empty states. Colour carries the level, so it is asserted.

mod support;

use std::sync::Arc;

use crossterm::event::{Event, KeyCode, KeyEvent, KeyModifiers};
use odoo_ops::config::Settings;
use odoo_ops::config::keymap::Action;
use odoo_ops::logs::assemble::Assembler;
use odoo_ops::logs::filter;
use odoo_ops::logs::follow::SourceStatus;
use odoo_ops::logs::worker::{LogsCommand, LogsSnapshot, SourceView, WindowLine};
use odoo_ops::logs::{Format, Level, LogLine, SourceId};
use odoo_ops::tui::app::App;
use odoo_ops::tui::effect::Effect;
use ratatui::style::{Color, Modifier};
use support::app::{app_with, find, render, screen_text};

const ODOO_LOG: &str = include_str!("data/sample-odoo.log");
const NGINX_502: &str = include_str!("data/sample-nginx-error-502.log");

fn parse(text: &str, source: u16, format: Format) -> Vec<LogLine> {
    let mut a = Assembler::new(SourceId(source), format);
    let mut out = Vec::new();
    a.push(text.as_bytes(), None, &mut out);
    a.flush(&mut out);
    out
}

fn sources(names: &[&str]) -> Vec<SourceView> {
    names
        .iter()
        .enumerate()
        .map(|(i, n)| SourceView {
            id: SourceId(i as u16),
            name: n.to_string(),
            status: SourceStatus::Following,
            lines: 0,
            hidden: false,
        })
        .collect()
}

/// A snapshot as the worker would publish it for `lines` (already in view order).
fn snapshot(names: &[&str], lines: Vec<LogLine>, search: Option<&str>) -> LogsSnapshot {
    let re = search.map(|s| filter::compile(s).unwrap());
    let window: Vec<WindowLine> = lines
        .into_iter()
        .enumerate()
        .map(|(index, line)| WindowLine {
            index,
            matches: re
                .as_ref()
                .map(|r| filter::match_ranges(r, line.text()))
                .unwrap_or_default(),
            line,
        })
        .collect();
    LogsSnapshot {
        generation: 1,
        sources: sources(names),
        buffered: window.len(),
        matching: window.len(),
        received: window.len() as u64,
        capacity: 100_000,
        follow: true,
        window,
        search: search.map(str::to_string),
        ..LogsSnapshot::default()
    }
}

fn logs_app(width: u16, height: u16, snap: LogsSnapshot) -> App {
    let mut app = app_with(Settings::builtin(), width, height);
    app.on_action(Action::FocusLogs);
    app.zoomed = true;
    app.logs.rows = height - 5;
    app.logs.apply(Arc::new(snap));
    app
}

fn press(app: &mut App, code: KeyCode) -> Vec<Effect> {
    app.on_terminal(&Event::Key(KeyEvent::new(code, KeyModifiers::NONE)))
        .1
}

fn merged() -> Vec<LogLine> {
    // The tail of Odoo's log (including the misroute traceback) and nginx's 502s.
    let mut lines = parse(ODOO_LOG, 0, Format::Odoo);
    lines.drain(..36);
    lines.extend(parse(NGINX_502, 1, Format::NginxError));
    lines.push(parse(
        "127.0.0.1 - - [22/Nov/2026:02:02:17 +0000] \"GET /web/login HTTP/1.1\" 502 157 \"-\" \"curl/8.0\" upstream=127.0.0.1:8069\n",
        2,
        Format::NginxAccess,
    )[0].clone());
    lines.push(parse(
        "2026-11-22 02:02:18,001 19968 WARNING odootest odoo.http: slow request /web/login 3.2s\n",
        0,
        Format::Odoo,
    )[0].clone());
    // The worker keeps the view in time order across sources.
    lines.sort_by_key(|l| l.ts);
    lines
}

#[test]
fn following_merged_sources_colours_each_level() {
    let app = logs_app(
        150,
        56,
        snapshot(&["odoo", "nginx error", "nginx access"], merged(), None),
    );
    let terminal = render(&app);
    insta::assert_snapshot!(terminal.backend());
    let buffer = terminal.backend().buffer();
    // nginx's 502 error line and the access line with status 502 are red.
    let (x, y) = find(buffer, "2026/11/22 02:01:55 [error]").unwrap();
    assert_eq!(buffer[(x, y)].fg, Color::Red);
    let (x, y) = find(buffer, "127.0.0.1 - - [22/Nov/2026:02:02:17").unwrap();
    assert_eq!(buffer[(x, y)].fg, Color::Red);
    // A warning is yellow, an info line in the text colour.
    let (x, y) = find(buffer, "2026-11-22 02:02:18,001").unwrap();
    assert_eq!(buffer[(x, y)].fg, Color::Yellow);
    let (x, y) = find(buffer, "2026-11-22 02:02:16,335").unwrap();
    assert_eq!(buffer[(x, y)].fg, Color::Reset);
    // In time order across sources: nginx's 502s, Odoo's lines, then the newest.
    let text = screen_text(buffer);
    let row = |needle: &str| text.lines().position(|l| l.contains(needle)).unwrap();
    assert!(row("*49 connect() failed") < row("02:02:16,314"));
    assert!(row("02:02:16,829") < row("[22/Nov/2026:02:02:17"));
    assert!(row("[22/Nov/2026:02:02:17") < row("slow request"));
    assert!(text.contains("▶ follow"));
}

#[test]
fn paused_on_a_search_hit_with_the_traceback_below_it() {
    let lines = parse(ODOO_LOG, 0, Format::Odoo);
    let at = lines.iter().position(|l| l.traceback).unwrap();
    let mut snap = snapshot(&["odoo"], lines[at - 2..].to_vec(), Some("websocket"));
    for (i, w) in snap.window.iter_mut().enumerate() {
        w.index = at - 2 + i;
    }
    snap.follow = false;
    snap.cursor = Some(at);
    snap.matching = 49;
    snap.buffered = 49;
    let app = logs_app(110, 44, snap);
    let terminal = render(&app);
    insta::assert_snapshot!(terminal.backend());
    let buffer = terminal.backend().buffer();
    // The entry jumped to is selected; its traceback follows, in the error colour.
    let (x, y) = find(buffer, "2026-11-22 02:02:15,983").unwrap();
    assert_eq!(buffer[(x, y)].bg, Color::Cyan);
    let (x, y) = find(buffer, "RuntimeError: Couldn't bind").unwrap();
    assert_eq!(buffer[(x, y)].fg, Color::Red);
    // Search matches are highlighted.
    let (x, y) = find(buffer, "websocket.py").unwrap();
    assert!(buffer[(x, y)].modifier.contains(Modifier::REVERSED));
    assert!(screen_text(buffer).contains("‖ paused"));
}

#[test]
fn wrap_shows_a_long_line_whole_and_off_cuts_it() {
    let long = format!(
        "2026-11-22 02:02:12,655 1 ERROR shop odoo.http: {}\n",
        "0123456789".repeat(20)
    );
    let mut app = logs_app(
        80,
        12,
        snapshot(&["odoo"], parse(&long, 0, Format::Odoo), None),
    );
    let cut = screen_text(render(&app).backend().buffer());
    assert!(!cut.contains("789012345678901234567890123456789012345678901234567890123456789"));
    assert!(
        press(&mut app, KeyCode::Char('w')).is_empty(),
        "wrap is local"
    );
    let terminal = render(&app);
    insta::assert_snapshot!(terminal.backend());
    let wrapped = screen_text(terminal.backend().buffer());
    assert!(wrapped.contains("wrap on"));
    // Every digit is on screen: 200 of them over several rows.
    let digits: usize = wrapped
        .lines()
        .map(|l| l.chars().filter(char::is_ascii_digit).count())
        .sum();
    assert!(digits >= 200, "{wrapped}");
}

#[test]
fn keys_become_worker_commands() {
    let mut app = logs_app(
        100,
        20,
        snapshot(&["odoo", "nginx error", "nginx access"], merged(), None),
    );
    assert_eq!(
        press(&mut app, KeyCode::Char('e')),
        [Effect::Logs(LogsCommand::NextError)]
    );
    assert_eq!(
        press(&mut app, KeyCode::Char('f')),
        [Effect::Logs(LogsCommand::ToggleFollow)]
    );
    assert_eq!(
        press(&mut app, KeyCode::Char('L')),
        [Effect::Logs(LogsCommand::SetMinLevel(Level::Info))]
    );
    assert_eq!(
        press(&mut app, KeyCode::PageUp),
        [Effect::Logs(LogsCommand::Scroll(-14))]
    );
    // Show the first source alone: the second gets hidden.
    assert_eq!(
        press(&mut app, KeyCode::Char('s')),
        [
            Effect::Logs(LogsCommand::ToggleSource(SourceId(1))),
            Effect::Logs(LogsCommand::ToggleSource(SourceId(2)))
        ]
    );
    // `/` opens the search prompt; typed keys (even `q` and `e`) are text.
    assert!(press(&mut app, KeyCode::Char('/')).is_empty());
    for c in "refused|quit".chars() {
        assert!(press(&mut app, KeyCode::Char(c)).is_empty());
    }
    assert!(!app.should_quit);
    let terminal = render(&app);
    insta::assert_snapshot!(terminal.backend());
    assert!(screen_text(terminal.backend().buffer()).contains("search /refused|quit▏"));
    assert_eq!(
        press(&mut app, KeyCode::Enter),
        [Effect::Logs(LogsCommand::SetSearch(Some(
            "refused|quit".into()
        )))]
    );
    // Export asks for a path, with a default.
    press(&mut app, KeyCode::Char('x'));
    assert_eq!(
        press(&mut app, KeyCode::Enter),
        [Effect::Logs(LogsCommand::Export(
            "odoo-ops-logs.txt".into()
        ))]
    );
    // Esc cancels a prompt without a command.
    press(&mut app, KeyCode::Char('&'));
    assert!(press(&mut app, KeyCode::Esc).is_empty());
    assert!(app.logs.input.is_none());
}

#[test]
fn errors_failures_and_empty_states() {
    let mut snap = snapshot(&["odoo", "nginx error"], Vec::new(), None);
    snap.buffered = 1200;
    snap.matching = 0;
    snap.pattern = Some("nothing-like-this".into());
    snap.error = Some("bad pattern `(oops`: unclosed group".into());
    snap.sources[1].status = SourceStatus::Failed(
        "tail: cannot open '/var/log/nginx/error.log': Permission denied".into(),
    );
    let app = logs_app(120, 10, snap);
    let terminal = render(&app);
    insta::assert_snapshot!(terminal.backend());
    let buffer = terminal.backend().buffer();
    let text = screen_text(buffer);
    assert!(text.contains("No line matches the filter."));
    assert!(text.contains("0 of 1,200 lines"));
    let (x, y) = find(buffer, "bad pattern").unwrap();
    assert_eq!(buffer[(x, y)].fg, Color::Red);
    let (x, y) = find(buffer, "✗ nginx error").unwrap();
    assert_eq!(buffer[(x, y)].fg, Color::Red);

    let empty = logs_app(
        120,
        8,
        LogsSnapshot {
            follow: true,
            ..LogsSnapshot::default()
        },
    );
    let terminal = render(&empty);
    insta::assert_snapshot!(terminal.backend());
    assert!(screen_text(terminal.backend().buffer()).contains("No log source yet"));
}

#[test]
fn scrolled_right_shows_the_rest_of_long_lines_and_says_by_how_much() {
    let long = format!(
        "2026-11-22 02:02:12,655 1 ERROR shop odoo.http: {}needle{}\n",
        "a".repeat(60),
        "b".repeat(60),
    );
    let mut text = long.clone();
    text += "2026-11-22 02:02:13,001 1 INFO shop odoo.modules: short\n";
    let mut app = logs_app(
        80,
        12,
        snapshot(&["odoo"], parse(&text, 0, Format::Odoo), Some("needle")),
    );
    // Keys stay in the pane: no work for the worker.
    for _ in 0..10 {
        assert!(press(&mut app, KeyCode::Right).is_empty());
    }
    assert_eq!(app.logs.hscroll, 80);
    let terminal = render(&app);
    insta::assert_snapshot!(terminal.backend());
    let buffer = terminal.backend().buffer();
    let screen = screen_text(buffer);
    assert!(screen.contains("scrolled right 80 cols"), "{screen}");
    // The first 80 characters are gone (the 48 before the a's, then 32 a's).
    assert!(!screen.contains("odoo.http"));
    let row = format!("┃{}needle", "a".repeat(28));
    assert!(screen.contains(&row), "{screen}");
    // A short line scrolled past its end is blank, not shifted into view.
    assert!(!screen.contains("short"));
    // The search match is highlighted where it now is on screen.
    let (x, y) = find(buffer, "needle").unwrap();
    assert!(buffer[(x, y)].modifier.contains(Modifier::REVERSED));
    assert_eq!(buffer[(x - 1, y)].fg, Color::Red);
    assert!(
        !buffer[(x - 1, y)].modifier.contains(Modifier::REVERSED),
        "only the match is highlighted"
    );

    // Right stops while the longest line still shows text.
    for _ in 0..100 {
        press(&mut app, KeyCode::Right);
    }
    let longest = long.trim_end().chars().count();
    assert!(app.logs.hscroll < longest && app.logs.hscroll > longest - 16);
    assert!(screen_text(render(&app).backend().buffer()).contains("bbbb"));
    // Left goes back to the start, and no further.
    for _ in 0..100 {
        press(&mut app, KeyCode::Left);
    }
    assert_eq!(app.logs.hscroll, 0);
    let screen = screen_text(render(&app).backend().buffer());
    assert!(screen.contains("2026-11-22 02:02:12,655"));
    assert!(!screen.contains("scrolled right"));

    // Wrap shows whole lines: it resets the offset and right does nothing while on.
    press(&mut app, KeyCode::Right);
    press(&mut app, KeyCode::Char('w'));
    assert_eq!(app.logs.hscroll, 0);
    press(&mut app, KeyCode::Right);
    assert_eq!(app.logs.hscroll, 0);
    let screen = screen_text(render(&app).backend().buffer());
    assert!(screen.contains("2026-11-22 02:02:12,655") && screen.contains("short"));
    assert!(!screen.contains("scrolled right"));
}

#[test]
fn hints_name_the_keys_of_a_rebound_keymap() {
    let mut app = logs_app(150, 12, snapshot(&["odoo"], merged(), None));
    let keymap = odoo_ops::config::Keymap::parse(
        std::path::Path::new("keymap.toml"),
        "[logs]\nsearch = [\"ctrl+f\"]\ntoggle_follow = [\"F\", \"f\"]\nscroll_left = [\"<\"]\nscroll_right = [\">\"]\ncycle_level = []\n",
    )
    .unwrap();
    app.keymap = keymap;
    let terminal = render(&app);
    let screen = screen_text(terminal.backend().buffer());
    let bottom = screen.lines().rev().nth(2).unwrap();
    assert!(bottom.contains("ctrl+f search"), "{bottom}");
    assert!(!bottom.contains("/ search"), "{bottom}");
    // The first of several keys; an unbound action has no hint.
    assert!(bottom.contains("F pause"), "{bottom}");
    assert!(
        !bottom.contains("level  ") && !bottom.contains("L level"),
        "{bottom}"
    );
    assert!(bottom.contains("</> scroll"), "{bottom}");
    // The keys do what the hint says.
    app.on_terminal(&Event::Key(KeyEvent::new(
        KeyCode::Char('>'),
        KeyModifiers::NONE,
    )));
    assert_eq!(app.logs.hscroll, 8);
    app.on_terminal(&Event::Key(KeyEvent::new(
        KeyCode::Char('f'),
        KeyModifiers::CONTROL,
    )));
    assert!(app.logs.is_typing());
}

#[test]
fn a_stopped_source_is_not_claimed_as_followed_and_r_restarts_it() {
    let mut snap = snapshot(&["odoo.log", "nginx access"], merged(), None);
    snap.sources[0].status = SourceStatus::Ended("connection lost: host unreachable".into());
    let mut app = logs_app(150, 20, snap.clone());
    let terminal = render(&app);
    insta::assert_snapshot!(terminal.backend());
    let text = screen_text(terminal.backend().buffer());
    let title = text.lines().next().unwrap();
    assert!(title.contains("▶ follow · 1 stopped"), "{title}");
    assert!(text.contains("r restart stopped"), "{text}");
    assert_eq!(
        press(&mut app, KeyCode::Char('r')),
        vec![Effect::Logs(LogsCommand::Revive)]
    );
    // Every source stopped: the header says so, not "follow".
    snap.sources[1].status = SourceStatus::Failed("tail: cannot open".into());
    app.logs.apply(Arc::new(snap));
    let text = screen_text(render(&app).backend().buffer());
    let title = text.lines().next().unwrap();
    assert!(
        title.contains("■ stopped") && !title.contains("follow"),
        "{title}"
    );
}
