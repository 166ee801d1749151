//! Building the console's state the way the app does, for snapshot and behaviour tests.

use odoo_ops::config::Settings;
use odoo_ops::host::{HostFacts, parse_report};
use odoo_ops::tui::app::{App, Connection};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;

/// A droplet's facts, parsed from a report recorded on one (tests/fixtures).
pub fn droplet_facts() -> HostFacts {
    let mut facts = parse_report(include_str!("../fixtures/host-report-droplet.txt"));
    facts.docker.answers = true;
    facts.docker.version = Some("27.3.1".into());
    facts.docker.root_dir = Some("/var/lib/docker".into());
    facts
}

pub fn app_with(settings: Settings, width: u16, height: u16) -> App {
    let mut app = App::new(settings, false, "odoo-prod-1".into(), Connection::Local);
    app.size = Rect::new(0, 0, width, height);
    app
}

/// The app as an operator sees it on a droplet once the Host pane has loaded.
pub fn loaded_app(width: u16, height: u16) -> App {
    let mut app = app_with(Settings::builtin(), width, height);
    app.host.apply(Ok(droplet_facts()));
    app
}

pub fn render(app: &App) -> Terminal<TestBackend> {
    let mut terminal = Terminal::new(TestBackend::new(app.size.width, app.size.height)).unwrap();
    terminal
        .draw(|frame| odoo_ops::tui::draw::draw(frame, app))
        .unwrap();
    terminal
}

/// The first cell whose symbol starts `text` on screen, for style assertions.
pub fn find(buffer: &Buffer, text: &str) -> Option<(u16, u16)> {
    let area = buffer.area;
    for y in 0..area.height {
        let row: String = (0..area.width)
            .map(|x| buffer[(x, y)].symbol().to_string())
            .collect();
        if let Some(byte) = row.find(text) {
            let x = row[..byte].chars().count() as u16;
            return Some((x, y));
        }
    }
    None
}

pub fn screen_text(buffer: &Buffer) -> String {
    let area = buffer.area;
    (0..area.height)
        .map(|y| {
            (0..area.width)
                .map(|x| buffer[(x, y)].symbol().to_string())
                .collect::<String>()
        })
        .collect::<Vec<_>>()
        .join("\n")
}
