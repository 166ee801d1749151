//! Panes whose feature has not landed: what they will show, and why they are empty now.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Wrap};

use super::{PaneContext, PaneId};

/// What the pane will show, and what it needs first.
pub fn explanation(pane: PaneId) -> (&'static str, &'static str) {
    match pane {
        PaneId::Host => ("Facts about the host.", "Loading."),
        PaneId::Droplets => (
            "Your DigitalOcean droplets: name, status, region, size, public IPv4, tags; pick one to connect.",
            "Empty: the DigitalOcean client is not part of this build yet.",
        ),
        PaneId::Containers => (
            "The compose stack on this host: service, image:tag, state, health, restarts, OOM kills, uptime, ports.",
            "Empty: the Containers pane is not part of this build yet.",
        ),
        PaneId::Logs => (
            "Odoo container logs and nginx access/error logs, merged or one at a time: follow, filter, search.",
            "Empty: the Logs pane is not part of this build yet.",
        ),
        PaneId::Checks => (
            "The 502 diagnosis and the verify gates, step by step: what ran, the evidence, the verdict and the fix.",
            "Empty: the checks are not part of this build yet.",
        ),
        PaneId::Modules => (
            "Odoo module states from ir_module_module: installed, to upgrade, to install, uninstalled, with versions.",
            "Empty: reading module states is not part of this build yet.",
        ),
        PaneId::Deploy => (
            "Deploy a new image tag, verify it, roll back; the bootstrap wizard for a fresh droplet.",
            "Empty: deploy and bootstrap are not part of this build yet.",
        ),
    }
}

pub fn draw(frame: &mut Frame, area: Rect, pane: PaneId, ctx: &PaneContext) {
    let (what, why) = explanation(pane);
    let text = vec![
        Line::from(Span::styled(what, ctx.theme.text())),
        Line::default(),
        Line::from(Span::styled(why, ctx.theme.muted())),
    ];
    let paragraph = Paragraph::new(text)
        .wrap(Wrap { trim: true })
        .block(ctx.block(pane, None));
    frame.render_widget(paragraph, area);
}
