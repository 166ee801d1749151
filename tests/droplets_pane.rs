//! The Droplets pane: snapshots on TestBackend of droplets listed (read from the stand-in
//! DigitalOcean API by the real client), filtered, an action asked and confirmed; and the
//! state without a token.

mod support;

use crossterm::event::{Event, KeyCode, KeyEvent, KeyModifiers};
use odoo_ops::config::Settings;
use odoo_ops::config::keymap::Action;
use odoo_ops::digitalocean::{Client, DropletAction, DropletFilter, RetryPolicy, Token};
use odoo_ops::tui::effect::Effect;
use odoo_ops::tui::message::Message;
use odoo_ops::tui::panes::droplets::{DropletsEvent, ListError};
use support::app::{app_with, find, render, screen_text};
use support::do_api::{DoApi, TOKEN};

fn key(app: &mut odoo_ops::tui::app::App, code: KeyCode) -> Vec<Effect> {
    app.on_terminal(&Event::Key(KeyEvent::new(code, KeyModifiers::NONE)))
        .1
}

fn typed(app: &mut odoo_ops::tui::app::App, text: &str) {
    for c in text.chars() {
        key(app, KeyCode::Char(c));
    }
}

/// 2026-11-30T12:00:00Z: the stand-in's droplets were made on 2026-11-01 08:00.
const NOW_MS: i64 = 1_796_040_000_000;

/// The droplets as the real client reads them from the stand-in.
fn listed(count: usize) -> (DoApi, DropletsEvent) {
    let api = DoApi::start(count);
    let client = Client::new(&Token::new(TOKEN), &api.url, RetryPolicy::default()).unwrap();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let droplets = runtime
        .block_on(client.droplets(&DropletFilter::default()))
        .unwrap();
    let event = DropletsEvent::Listed {
        result: Ok(droplets),
        now_ms: NOW_MS,
        rate_limit: client.rate_limit(),
    };
    (api, event)
}

#[test]
fn droplets_listed_with_their_columns_and_the_rate_limit_in_the_status_bar() {
    let (_api, event) = listed(9);
    let mut app = app_with(Settings::builtin(), 110, 20);
    let effects = app.on_action(Action::FocusDroplets);
    assert_eq!(effects, [Effect::LoadDroplets], "read when first focused");
    app.on_action(Action::ToggleZoom);
    app.apply(Message::Droplets(event));
    let terminal = render(&app);
    let text = screen_text(terminal.backend().buffer());
    // The reset time changes from run to run; the budget left does not.
    assert!(text.contains("DO API 4999/5000"), "{text}");
    insta::assert_snapshot!("droplets_listed", text);
    // Refocusing does not read again; refresh does.
    app.on_action(Action::FocusHost);
    assert!(app.on_action(Action::FocusDroplets).is_empty());
    assert_eq!(app.on_action(Action::Refresh), [Effect::LoadDroplets]);
}

#[test]
fn filters_by_tag_and_name_and_enter_connects_to_the_droplet() {
    let (_api, event) = listed(30);
    let mut app = app_with(Settings::builtin(), 110, 16);
    app.on_action(Action::FocusDroplets);
    app.on_action(Action::ToggleZoom);
    app.apply(Message::Droplets(event));
    key(&mut app, KeyCode::Char('t'));
    typed(&mut app, "prod");
    key(&mut app, KeyCode::Enter);
    key(&mut app, KeyCode::Char('/'));
    typed(&mut app, "WEB-001");
    let typing = screen_text(render(&app).backend().buffer());
    assert!(typing.contains("name filter: WEB-001▏"), "{typing}");
    key(&mut app, KeyCode::Enter);
    key(&mut app, KeyCode::Down);
    // web-0012 and web-0015 are tagged prod; the second is selected.
    assert_eq!(
        key(&mut app, KeyCode::Enter),
        [Effect::Connect(odoo_ops::tui::connect::ConnectRequest {
            name: "web-0015".into(),
            address: "203.0.113.16".into(),
        })]
    );
    let terminal = render(&app);
    let text = screen_text(terminal.backend().buffer());
    insta::assert_snapshot!("droplets_filtered_and_connecting", text);
    assert!(
        text.contains("connecting to web-0015 (203.0.113.16)…"),
        "{text}"
    );
    assert!(!text.contains("web-0013"));
    // Esc drops the notice, then the name filter, then the tag filter.
    for _ in 0..3 {
        key(&mut app, KeyCode::Esc);
    }
    assert_eq!(app.droplets.visible().len(), 30);
}

#[test]
fn an_action_asks_first_and_no_is_nothing() {
    let (_api, event) = listed(3);
    let mut app = app_with(Settings::builtin(), 110, 14);
    app.on_action(Action::FocusDroplets);
    app.on_action(Action::ToggleZoom);
    app.apply(Message::Droplets(event));
    key(&mut app, KeyCode::Down);
    assert!(key(&mut app, KeyCode::Char('R')).is_empty());
    let terminal = render(&app);
    let text = screen_text(terminal.backend().buffer());
    insta::assert_snapshot!("droplets_reboot_asks_first", text);
    let (x, y) = find(terminal.backend().buffer(), "Reboot web-0001?").unwrap();
    assert_eq!(
        terminal.backend().buffer()[(x, y)].fg,
        ratatui::style::Color::Yellow
    );
    assert!(key(&mut app, KeyCode::Char('n')).is_empty());
    assert!(app.droplets.confirm.is_none());

    key(&mut app, KeyCode::Char('S'));
    let effects = key(&mut app, KeyCode::Char('y'));
    assert_eq!(
        effects,
        [Effect::DropletAction {
            id: 3_000_001,
            name: "web-0001".into(),
            action: DropletAction::Snapshot("web-0001-20261130-1200".into()),
        }]
    );
    app.apply(Message::Droplets(DropletsEvent::Acted {
        droplet: "web-0001".into(),
        verb: "snapshot",
        result: Err("DigitalOcean answered 422 to POST /v2/droplets/3000001/actions: Droplet is locked (unprocessable_entity), request id 77".into()),
    }));
    let text = screen_text(render(&app).backend().buffer());
    assert!(
        text.contains("snapshot of web-0001 failed: DigitalOcean answered 422"),
        "{text}"
    );
    assert!(text.contains("request id 77"), "{text}");
}

#[test]
fn a_readonly_console_offers_no_droplet_action() {
    let (_api, event) = listed(2);
    let mut app = odoo_ops::tui::app::App::new(
        Settings::builtin(),
        true,
        "odoo-prod-1".into(),
        odoo_ops::tui::app::Connection::Local,
    );
    app.size = ratatui::layout::Rect::new(0, 0, 110, 12);
    app.on_action(Action::FocusDroplets);
    app.apply(Message::Droplets(event));
    assert!(key(&mut app, KeyCode::Char('P')).is_empty());
    assert!(app.droplets.confirm.is_none());
    let text = screen_text(render(&app).backend().buffer());
    assert!(!text.contains("power cycle"), "{text}");
}

#[test]
fn without_a_token_the_pane_says_how_to_set_one() {
    let mut app = app_with(Settings::builtin(), 100, 12);
    app.on_action(Action::FocusDroplets);
    app.on_action(Action::ToggleZoom);
    let how = odoo_ops::digitalocean::token::resolve_from(None, None, None, None).unwrap_err();
    app.apply(Message::Droplets(DropletsEvent::Listed {
        result: Err(ListError::NoToken(how)),
        now_ms: NOW_MS,
        rate_limit: None,
    }));
    let text = screen_text(render(&app).backend().buffer());
    insta::assert_snapshot!("droplets_without_a_token", text);
    assert!(text.contains("DIGITALOCEAN_ACCESS_TOKEN"));
    assert!(text.contains("doctl auth init"));
}
