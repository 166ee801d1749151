//! `screenshots/` is made from the real app's drawing code by this test. It fails when a
//! pane changed and the screenshots did not; `UPDATE_SCREENSHOTS=1 cargo test --test
//! screenshots` (or scripts/screenshots.sh) writes them anew.

mod support;

use std::path::Path;

use odoo_ops::config::keymap::Action;
use odoo_ops::tui::app::App;
use support::app::{loaded_app, render};
use support::screenshot::{to_svg, to_text};

fn scenes() -> Vec<(&'static str, App)> {
    let overview = loaded_app(140, 42);
    let mut help = loaded_app(140, 42);
    help.on_action(Action::Help);
    let mut palette = loaded_app(140, 42);
    palette.on_action(Action::Palette);
    let mut light = loaded_app(140, 42);
    light.set_theme("light");
    light.notice = None;
    let mut high_contrast = loaded_app(140, 42);
    high_contrast.set_theme("high-contrast");
    high_contrast.notice = None;
    vec![
        ("overview", overview),
        ("help", help),
        ("palette", palette),
        ("theme-light", light),
        ("theme-high-contrast", high_contrast),
    ]
}

#[test]
fn screenshots_are_current() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("screenshots");
    let update = std::env::var_os("UPDATE_SCREENSHOTS").is_some();
    let mut stale = Vec::new();
    for (name, app) in scenes() {
        let terminal = render(&app);
        let buffer = terminal.backend().buffer();
        for (ext, content) in [("txt", to_text(buffer)), ("svg", to_svg(buffer))] {
            let path = dir.join(format!("{name}.{ext}"));
            if update {
                std::fs::create_dir_all(&dir).unwrap();
                std::fs::write(&path, &content).unwrap();
            } else if std::fs::read_to_string(&path).ok().as_deref() != Some(content.as_str()) {
                stale.push(path.display().to_string());
            }
        }
    }
    assert!(
        stale.is_empty(),
        "screenshots are out of date: {stale:?}\nrun `UPDATE_SCREENSHOTS=1 cargo test --test screenshots`"
    );
}
