//! Keys that behave as everywhere else: Esc leaves whatever is open (an input, cancelling
//! it; a search; inspect; zoom), ctrl+u clears an input, End reaches the end of a scrolled
//! view and Down does not pass it, and the palette offers the focused pane's actions.
//! Driven through `App::on_terminal` as the event loop does.

mod support;

use crossterm::event::{Event, KeyCode, KeyEvent, KeyModifiers};
use odoo_ops::logs::worker::LogsCommand;
use odoo_ops::tui::app::{App, Overlay};
use odoo_ops::tui::effect::Effect;
use odoo_ops::tui::palette::PaletteCommand;
use odoo_ops::tui::panes::PaneId;
use odoo_ops::tui::panes::containers::Inspect;
use support::app::{loaded_app, render, screen_text};

fn press(app: &mut App, code: KeyCode) -> Vec<Effect> {
    app.on_terminal(&Event::Key(KeyEvent::new(code, KeyModifiers::NONE)))
        .1
}

fn ctrl(app: &mut App, c: char) {
    app.on_terminal(&Event::Key(KeyEvent::new(
        KeyCode::Char(c),
        KeyModifiers::CONTROL,
    )));
}

fn typed(app: &mut App, text: &str) {
    for c in text.chars() {
        press(app, KeyCode::Char(c));
    }
}

#[test]
fn esc_cancels_a_deploy_field_and_enter_keeps_it() {
    let mut app = loaded_app(120, 40);
    typed(&mut app, "7");
    assert_eq!(app.focus, PaneId::Deploy);
    press(&mut app, KeyCode::Enter);
    typed(&mut app, "erp.example.com");
    press(&mut app, KeyCode::Enter);
    assert_eq!(app.deploy.domain, "erp.example.com");
    // Typing then Esc leaves the value as it was.
    press(&mut app, KeyCode::Enter);
    typed(&mut app, ".typo");
    assert!(screen_text(render(&app).backend().buffer()).contains("erp.example.com.typo"));
    press(&mut app, KeyCode::Esc);
    assert!(!app.deploy.is_typing());
    assert_eq!(app.deploy.domain, "erp.example.com");
    // ctrl+u clears what is before the cursor.
    press(&mut app, KeyCode::Enter);
    ctrl(&mut app, 'u');
    typed(&mut app, "shop.example.com");
    press(&mut app, KeyCode::Enter);
    assert_eq!(app.deploy.domain, "shop.example.com");
}

#[test]
fn esc_drops_the_logs_search_then_the_filter_then_the_zoom() {
    let mut app = loaded_app(120, 40);
    typed(&mut app, "4z");
    assert!(app.zoomed);
    // A search typed and cancelled sends nothing.
    typed(&mut app, "/");
    typed(&mut app, "refused");
    assert!(press(&mut app, KeyCode::Esc).is_empty());
    assert!(!app.logs.is_typing());
    assert!(app.zoomed, "Esc closed the input only");
    // With a search and a filter applied, Esc drops the search first, then the filter.
    let mut snap = (*app.logs.snapshot).clone();
    snap.search = Some("refused".into());
    snap.pattern = Some("odoo".into());
    app.logs.apply(std::sync::Arc::new(snap.clone()));
    assert!(matches!(
        press(&mut app, KeyCode::Esc).as_slice(),
        [Effect::Logs(LogsCommand::SetSearch(None))]
    ));
    snap.search = None;
    app.logs.apply(std::sync::Arc::new(snap.clone()));
    assert!(matches!(
        press(&mut app, KeyCode::Esc).as_slice(),
        [Effect::Logs(LogsCommand::SetPattern(None))]
    ));
    snap.pattern = None;
    app.logs.apply(std::sync::Arc::new(snap));
    press(&mut app, KeyCode::Esc);
    assert!(!app.zoomed);
}

#[test]
fn inspect_end_reaches_the_last_line_and_esc_closes_it() {
    let mut app = loaded_app(120, 40);
    typed(&mut app, "3z");
    let json: String = (0..300)
        .map(|n| format!("  \"line {n}\": {n},\n"))
        .collect();
    app.containers.inspect = Some(Inspect {
        name: "odoo".into(),
        text: Some(Ok(json)),
        scroll: 0,
    });
    press(&mut app, KeyCode::End);
    let screen = screen_text(render(&app).backend().buffer());
    assert!(screen.contains("\"line 299\": 299"), "{screen}");
    let at_end = app.containers.inspect.as_ref().unwrap().scroll;
    press(&mut app, KeyCode::Down);
    press(&mut app, KeyCode::PageDown);
    assert_eq!(
        app.containers.inspect.as_ref().unwrap().scroll,
        at_end,
        "nothing past the end"
    );
    press(&mut app, KeyCode::Up);
    assert_eq!(app.containers.inspect.as_ref().unwrap().scroll, at_end - 1);
    press(&mut app, KeyCode::Home);
    assert!(screen_text(render(&app).backend().buffer()).contains("\"line 0\": 0"));
    press(&mut app, KeyCode::Esc);
    assert!(app.containers.inspect.is_none());
    assert!(app.zoomed, "the first Esc closed inspect only");
    press(&mut app, KeyCode::Esc);
    assert!(!app.zoomed);
}

#[test]
fn the_palette_offers_the_focused_panes_actions_and_esc_closes_it() {
    let mut app = loaded_app(120, 40);
    typed(&mut app, "3:");
    let Overlay::Palette(palette) = &app.overlay else {
        panic!("the palette is open");
    };
    let first = &palette.visible()[0];
    assert_eq!(
        first.label, "open logs",
        "Containers' own actions come first"
    );
    typed(&mut app, "restart");
    let Overlay::Palette(palette) = &app.overlay else {
        panic!("the palette is open");
    };
    assert!(
        palette.visible().iter().any(|e| e.command
            == PaletteCommand::Action(odoo_ops::config::keymap::Action::ContainerRestart)),
        "restart is offered"
    );
    press(&mut app, KeyCode::Esc);
    assert_eq!(app.overlay, Overlay::None);
    // In the Checks pane the palette offers running the checks and applying a fix.
    typed(&mut app, "5:");
    let Overlay::Palette(palette) = &app.overlay else {
        panic!("the palette is open");
    };
    let labels: Vec<&str> = palette.visible().iter().map(|e| e.label.as_str()).collect();
    assert!(
        labels.contains(&"run all") && labels.contains(&"apply fix"),
        "{labels:?}"
    );
}
