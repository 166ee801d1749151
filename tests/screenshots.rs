//! `screenshots/` is made by this test from the real app driving real parts: the
//! console's Docker and logs workers and its diagnosis watch a compose project on the
//! real Docker engine (PostgreSQL as `db`, a healthy Odoo stand-in, a release that
//! crash-loops) behind a real nginx that answers 502 (tests/support/scene.rs). The app
//! draws what they publish; this run's ports, ids, paths and times are replaced by fixed
//! text of the same width. The Host pane shows facts recorded on a droplet (this
//! machine's own change by the second).
//!
//! The test fails when the app's drawing of these scenes changed and the screenshots did
//! not (the normalised text is compared); `UPDATE_SCREENSHOTS=1 cargo test --release
//! --locked --test screenshots` (or scripts/screenshots.sh) writes them anew.

mod support;

use std::path::Path;

use odoo_ops::config::keymap::Action;
use odoo_ops::tui::app::App;
use odoo_ops::tui::message::Message;
use odoo_ops::tui::panes::PaneId;
use ratatui::buffer::Buffer;
use support::app::{loaded_app, render, screen_text};
use support::scene::{RESTARTS, Scene};
use support::screenshot::{to_svg, to_text};

const WIDTH: u16 = 140;
const HEIGHT: u16 = 42;

/// Rows of log text the Logs pane has in this layout (its height less borders, the
/// sources line and the bottom line), as the event loop tells the logs worker.
fn logs_rows(app: &App) -> u16 {
    app.layout()
        .panes
        .iter()
        .find(|(p, _)| *p == PaneId::Logs)
        .map_or(0, |(_, r)| r.height.saturating_sub(4))
}

/// Select the diagnosis's root cause in the Checks pane (failures come first, but not
/// necessarily the root cause first).
fn select_root_cause(app: &mut App, scene: &Scene) {
    let root = scene.report.root_cause.as_ref().expect("a root cause");
    let count = scene.report.checks.len();
    for i in 0..count {
        app.checks.selected = i;
        if app
            .checks
            .selected_check()
            .is_some_and(|c| c.id == root.check)
        {
            return;
        }
    }
    panic!("the root cause {} is not listed", root.check);
}

/// The app with the scene's containers, diagnosis and logs, after `keys` (the root cause
/// selected first when `root` is set), drawn and normalised.
fn draw(scene: &Scene, theme: Option<&str>, root: bool, keys: &[Action]) -> Buffer {
    let mut app = loaded_app(WIDTH, HEIGHT);
    app.apply(Message::Containers(scene.containers.clone()));
    app.apply(Message::ChecksReport(Ok((
        Box::new(scene.report.clone()),
        scene.invocation.clone(),
    ))));
    if let Some(theme) = theme {
        app.set_theme(theme);
    }
    if root {
        select_root_cause(&mut app, scene);
    }
    for key in keys {
        app.on_action(*key);
    }
    app.notice = None;
    app.apply(Message::Logs(scene.logs(logs_rows(&app))));
    let terminal = render(&app);
    let mut buffer = terminal.backend().buffer().clone();
    scene.normalise(&mut buffer);
    buffer
}

fn scenes(scene: &Scene) -> Vec<(&'static str, Buffer)> {
    use Action::*;
    vec![
        ("overview", draw(scene, None, false, &[])),
        (
            "containers",
            draw(scene, None, false, &[FocusContainers, ToggleZoom]),
        ),
        ("logs", draw(scene, None, false, &[FocusLogs, ToggleZoom])),
        (
            "checks",
            draw(
                scene,
                None,
                true,
                &[FocusChecks, ToggleZoom, ChecksEvidence],
            ),
        ),
        (
            "fix-preview",
            draw(
                scene,
                None,
                true,
                &[FocusChecks, ToggleZoom, ChecksApplyFix],
            ),
        ),
        ("help", draw(scene, None, false, &[Help])),
        ("palette", draw(scene, None, false, &[Palette])),
        ("theme-light", draw(scene, Some("light"), false, &[])),
        (
            "theme-high-contrast",
            draw(scene, Some("high-contrast"), false, &[]),
        ),
    ]
}

/// What the scenes must show for the screenshots to show the product.
fn assert_shows_the_product(shots: &[(&str, Buffer)]) {
    let text = |name: &str| screen_text(&shots.iter().find(|(n, _)| *n == name).unwrap().1);
    let containers = text("containers");
    for service in ["db", "odoo", "odoo-worker"] {
        assert!(containers.contains(service), "no {service}:\n{containers}");
    }
    assert!(
        containers.contains(&format!(" {RESTARTS} ")) && containers.contains("restarting"),
        "the crash loop is not shown:\n{containers}"
    );
    let logs = text("logs");
    assert!(
        logs.contains("Traceback (most recent call last)") && logs.contains("SystemError"),
        "no traceback in the logs:\n{logs}"
    );
    let checks = text("checks");
    assert!(
        checks.contains("127.0.0.1:18070"),
        "the root cause (nginx's upstream on a port where nothing listens) is not shown:\n{checks}"
    );
    let fix = text("fix-preview");
    assert!(
        fix.contains("-    server 127.0.0.1:18070;")
            && fix.contains("+    server 127.0.0.1:18069;"),
        "the fix's diff is not shown:\n{fix}"
    );
}

#[test]
fn screenshots_are_current() {
    // The Logs pane's heights: the overview's layout, and zoomed.
    let overview = loaded_app(WIDTH, HEIGHT);
    let mut zoomed = loaded_app(WIDTH, HEIGHT);
    zoomed.on_action(Action::FocusLogs);
    zoomed.on_action(Action::ToggleZoom);
    let scene = Scene::start(&[logs_rows(&overview), logs_rows(&zoomed)]);
    let shots = scenes(&scene);
    assert_shows_the_product(&shots);
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("screenshots");
    let update = std::env::var_os("UPDATE_SCREENSHOTS").is_some();
    let mut stale = Vec::new();
    for (name, buffer) in &shots {
        let text = to_text(buffer);
        let txt = dir.join(format!("{name}.txt"));
        if update {
            std::fs::create_dir_all(&dir).unwrap();
            std::fs::write(&txt, &text).unwrap();
            std::fs::write(dir.join(format!("{name}.svg")), to_svg(buffer)).unwrap();
        } else {
            let old = std::fs::read_to_string(&txt).unwrap_or_default();
            if old != text {
                // The first row that changed, to say what did.
                let row = old
                    .lines()
                    .zip(text.lines())
                    .find(|(a, b)| a != b)
                    .map(|(a, b)| format!("\n  was: {a}\n  now: {b}"))
                    .unwrap_or_default();
                stale.push(format!("{}{row}", txt.display()));
            }
        }
    }
    assert!(
        stale.is_empty(),
        "screenshots are out of date:\n{}\nrun `UPDATE_SCREENSHOTS=1 cargo test --release --locked --test screenshots`",
        stale.join("\n")
    );
}

/// Backgrounds are drawn edge to edge: in the light theme every cell has one, so each
/// row's rects must cover the row with no gap or overlap between neighbours (a gap shows
/// as a thin dark seam of the page colour).
#[test]
fn svg_backgrounds_leave_no_seams() {
    let mut app = loaded_app(WIDTH, HEIGHT);
    app.set_theme("light");
    app.notice = None;
    let svg = to_svg(render(&app).backend().buffer());
    let rect = regex::Regex::new(r#"<rect x="(\d+)" y="(\d+)" width="(\d+)" height="17""#).unwrap();
    let mut rows: std::collections::BTreeMap<u32, Vec<(u32, u32)>> = Default::default();
    for c in rect.captures_iter(&svg) {
        let n = |i: usize| c[i].parse::<u32>().unwrap();
        rows.entry(n(2)).or_default().push((n(1), n(1) + n(3)));
    }
    assert_eq!(rows.len(), HEIGHT as usize, "a row without backgrounds");
    let width = (WIDTH as f32 * 8.4).round() as u32;
    for (y, mut runs) in rows {
        runs.sort();
        assert_eq!(runs[0].0, 0, "row {y} starts at {}", runs[0].0);
        for pair in runs.windows(2) {
            assert_eq!(
                pair[0].1, pair[1].0,
                "row {y}: a seam or overlap at {pair:?}"
            );
        }
        assert_eq!(runs.last().unwrap().1, width, "row {y} ends short");
    }
}
