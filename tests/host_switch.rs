//! Moving the console to another host while it runs: the host-key question asked inside
//! the console (a modal: the host, the key type, the SHA256 fingerprint; only yes
//! trusts), a changed key refused loudly, the panes reset for the new host, and the
//! connection itself made against real sshds (their keys recorded only on yes).

mod support;

use std::time::Duration;

use crossterm::event::{Event, KeyCode, KeyEvent, KeyModifiers};
use odoo_ops::config::Settings;
use odoo_ops::config::keymap::Action;
use odoo_ops::digitalocean::{Client, DropletFilter, RetryPolicy, Token};
use odoo_ops::ssh::{Environment, HostKeyQuestion};
use odoo_ops::tui::app::{App, Connection, Overlay};
use odoo_ops::tui::connect::{self, ConnectEvent, ConnectRequest};
use odoo_ops::tui::effect::Effect;
use odoo_ops::tui::message::Message;
use odoo_ops::tui::panes::droplets::DropletsEvent;
use support::app::{app_with, droplet_facts, find, render, screen_text};
use support::do_api::{DoApi, TOKEN};
use support::sshd::Sshd;

fn key(app: &mut App, code: KeyCode) -> Vec<Effect> {
    app.on_terminal(&Event::Key(KeyEvent::new(code, KeyModifiers::NONE)))
        .1
}

fn question() -> HostKeyQuestion {
    HostKeyQuestion {
        host: "[127.0.0.3]:2222".into(),
        key_type: "ssh-ed25519".into(),
        fingerprint: "SHA256:uNiVztksCsDhcc0u9e8BujQXVUpKZIDTMczCvj3tD2s".into(),
        known_hosts: "/root/.ssh/known_hosts".into(),
    }
}

#[test]
fn the_host_key_modal_shows_the_fingerprint_and_only_yes_trusts() {
    let mut app = app_with(Settings::builtin(), 100, 24);
    app.ask_host_key(question());
    let terminal = render(&app);
    let text = screen_text(terminal.backend().buffer());
    insta::assert_snapshot!("host_key_modal", text);
    assert!(text.contains("[127.0.0.3]:2222"), "{text}");
    assert!(text.contains("ssh-ed25519"), "{text}");
    assert!(
        text.contains("SHA256:uNiVztksCsDhcc0u9e8BujQXVUpKZIDTMczCvj3tD2s"),
        "{text}"
    );
    assert!(text.contains("y yes · n esc no"), "{text}");
    // Any other key leaves the question up: nothing is accepted by accident.
    for code in [KeyCode::Enter, KeyCode::Char('q'), KeyCode::Char('Y')] {
        assert!(key(&mut app, code).is_empty());
        assert!(matches!(app.overlay, Overlay::HostKey(_)));
    }
    assert!(!app.should_quit);
    assert_eq!(
        key(&mut app, KeyCode::Char('n')),
        [Effect::AnswerHostKey(false)]
    );
    assert_eq!(app.overlay, Overlay::None);

    app.ask_host_key(question());
    assert_eq!(
        key(&mut app, KeyCode::Char('y')),
        [Effect::AnswerHostKey(true)]
    );
    assert_eq!(app.overlay, Overlay::None);
}

#[test]
fn enter_on_a_droplet_asks_to_connect_once_and_not_to_the_host_already_shown() {
    let mut app = app_with(Settings::builtin(), 110, 20);
    app.on_action(Action::FocusDroplets);
    let api = DoApi::start(2);
    api.set_public_ipv4(0, "127.0.0.2");
    api.set_public_ipv4(1, "127.0.0.3");
    let client = Client::new(&Token::new(TOKEN), &api.url, RetryPolicy::default()).unwrap();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let droplets = runtime
        .block_on(client.droplets(&DropletFilter::default()))
        .unwrap();
    app.apply(Message::Droplets(DropletsEvent::Listed {
        result: Ok(droplets),
        now_ms: 1_796_040_000_000,
        rate_limit: None,
    }));
    key(&mut app, KeyCode::Down);
    let effects = key(&mut app, KeyCode::Enter);
    assert_eq!(
        effects,
        [Effect::Connect(ConnectRequest {
            name: "web-0001".into(),
            address: "127.0.0.3".into()
        })]
    );
    let text = screen_text(render(&app).backend().buffer());
    assert!(text.contains("connecting to web-0001…"), "{text}");
    // One connection at a time.
    assert!(key(&mut app, KeyCode::Enter).is_empty());

    // Connected: the panes start over for beta, and "back" returns to where it was.
    app.host.apply(Ok(droplet_facts()));
    let effects = app.host_switched("web-0001 (root@127.0.0.3:22)".into(), Connection::Connected);
    assert!(effects.contains(&Effect::RefreshHost), "{effects:?}");
    assert!(effects.contains(&Effect::RunChecks), "{effects:?}");
    assert!(app.host.loading && app.host.facts.is_none());
    assert_eq!(app.previous_host.as_deref(), Some("odoo-prod-1"));
    assert!(
        key(&mut app, KeyCode::Enter).is_empty(),
        "already on web-0001"
    );
    let text = screen_text(render(&app).backend().buffer());
    assert!(text.contains("web-0001 (root@127.0.0.3:22)"), "{text}");
    assert!(!text.contains("odoo-prod-1 "), "{text}");
    assert_eq!(key(&mut app, KeyCode::Char('B')), [Effect::PreviousHost]);
    assert_eq!(app.connecting.as_deref(), Some("odoo-prod-1"));
}

/// A home whose ~/.ssh/config says how to reach `sshd` at its address (its port and the
/// authorized key), with no agent: the operator's own files, nothing test-only.
fn home_for(dir: &std::path::Path, servers: &[&Sshd]) -> Environment {
    let home = dir.join("home");
    std::fs::create_dir_all(home.join(".ssh")).unwrap();
    let config: String = servers
        .iter()
        .map(|s| {
            format!(
                "Host {}\n  Port {}\n  IdentityFile {}\n  IdentitiesOnly yes\n",
                s.address,
                s.port,
                s.client_key.display()
            )
        })
        .collect();
    std::fs::write(home.join(".ssh/config"), config).unwrap();
    Environment {
        home,
        agent_socket: None,
        local_user: "root".into(),
    }
}

/// Connect as the console does, answering the host-key question (if one comes) with
/// `answer`; returns the question asked and the outcome.
async fn connect_answering(
    sshd: &Sshd,
    env: &Environment,
    answer: bool,
) -> (Option<HostKeyQuestion>, Result<String, String>) {
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let request = ConnectRequest {
        name: "beta".into(),
        address: sshd.address.clone(),
    };
    let _task = connect::spawn(request, Default::default(), env.clone(), tx);
    let mut asked = None;
    loop {
        let event = tokio::time::timeout(Duration::from_secs(30), rx.recv())
            .await
            .expect("the connection reports within 30 s")
            .expect("the connection reports");
        match event {
            ConnectEvent::Ask(ask) => {
                asked = Some(ask.question);
                ask.answer.send(answer).unwrap();
            }
            ConnectEvent::Done { result, .. } => {
                return (asked, result.map(|(_, label)| label));
            }
        }
    }
}

#[tokio::test]
async fn connecting_asks_about_an_unknown_key_and_records_it_only_on_yes() {
    let sshd = Sshd::start_as("droplet-beta", "127.0.0.3");
    let dir = tempfile::tempdir().unwrap();
    let env = home_for(dir.path(), &[&sshd]);
    let known_hosts = env.home.join(".ssh/known_hosts");

    let (asked, result) = connect_answering(&sshd, &env, false).await;
    let asked = asked.expect("an unknown key is asked about");
    assert_eq!(asked.host, format!("[127.0.0.3]:{}", sshd.port));
    assert_eq!(asked.key_type, "ssh-ed25519");
    assert_eq!(asked.fingerprint, sshd.host_key_fingerprint());
    assert_eq!(asked.known_hosts, known_hosts);
    let why = result.expect_err("no is not connected");
    assert!(why.contains("not accepted"), "{why}");
    assert!(
        std::fs::read_to_string(&known_hosts)
            .unwrap_or_default()
            .is_empty(),
        "nothing recorded on no"
    );

    let (asked, result) = connect_answering(&sshd, &env, true).await;
    assert!(asked.is_some());
    assert_eq!(
        result.unwrap(),
        format!("beta (root@127.0.0.3:{})", sshd.port)
    );
    assert_eq!(
        std::fs::read_to_string(&known_hosts).unwrap(),
        sshd.known_hosts_line()
    );

    // Known now: no question the next time.
    let (asked, result) = connect_answering(&sshd, &env, false).await;
    assert!(asked.is_none());
    assert!(result.is_ok(), "{result:?}");
}

#[tokio::test]
async fn a_changed_key_is_refused_without_a_question_and_shown_loudly() {
    let mut sshd = Sshd::start_as("droplet-beta", "127.0.0.3");
    let dir = tempfile::tempdir().unwrap();
    let env = home_for(dir.path(), &[&sshd]);
    let known_hosts = env.home.join(".ssh/known_hosts");
    std::fs::write(&known_hosts, sshd.known_hosts_line()).unwrap();
    sshd.replace_host_key("ed25519");

    let (asked, result) = connect_answering(&sshd, &env, true).await;
    assert!(asked.is_none(), "a changed key is never asked about");
    let why = result.expect_err("a changed key is refused");
    assert!(why.contains("REFUSED") && why.contains("CHANGED"), "{why}");
    let recorded = std::fs::read_to_string(&known_hosts).unwrap();
    assert_eq!(recorded.lines().count(), 1, "nothing recorded: {recorded}");

    let mut app = app_with(Settings::builtin(), 120, 26);
    app.connect_failed(
        "beta".into(),
        why.replace(dir.path().to_str().unwrap(), "~"),
    );
    let terminal = render(&app);
    let text = screen_text(terminal.backend().buffer());
    assert!(text.contains("REFUSED: the host key of"), "{text}");
    assert!(text.contains("the console stays on odoo-prod-1"), "{text}");
    assert!(!text.contains("y yes"), "no yes is offered: {text}");
    let (x, y) = find(terminal.backend().buffer(), "REFUSED").unwrap();
    assert_eq!(
        terminal.backend().buffer()[(x, y)].fg,
        ratatui::style::Color::Red
    );
    // The key's fingerprints and the port change per run.
    let stable = text
        .split('\n')
        .map(|line| {
            if line.contains("SHA256:") || line.contains("127.0.0.3") {
                "<varies>".to_string()
            } else {
                line.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join("\n");
    insta::assert_snapshot!("host_key_changed_refused", stable);
    // y does not trust it; esc closes, and the console is where it was.
    assert!(key(&mut app, KeyCode::Char('y')).is_empty());
    assert!(matches!(app.overlay, Overlay::ConnectFailed { .. }));
    key(&mut app, KeyCode::Esc);
    assert_eq!(app.overlay, Overlay::None);
    assert_eq!(app.host_label, "odoo-prod-1");
}
