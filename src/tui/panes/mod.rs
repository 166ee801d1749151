//! The panes, and the contract each follows:
//!
//! - Its state is a plain struct owned by [`crate::tui::app::App`].
//! - `draw(&self, frame, area, &PaneContext)` draws from that state only: no I/O, no
//!   mutation, so a snapshot test of any state is one call on a `TestBackend`.
//! - `on_action(&mut self, Action) -> Vec<Effect>` changes state for a key and returns the
//!   work the event loop should start ([`crate::tui::effect::Effect`]); it never does I/O.
//! - Results of that work come back as [`crate::tui::message::Message`]s, which
//!   `App::apply` hands to the pane's `apply` method.

pub mod bootstrap;
pub mod checks;
pub mod columns;
pub mod containers;
pub mod deploy;
pub mod deploy_runs;
pub mod droplets;
pub mod host;
pub mod logs;
pub mod modules;
pub mod scroll;

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, BorderType, Borders};

use crate::config::keymap::{Action, Context};
use crate::config::{Keymap, Theme};

/// Every pane on the screen, in focus order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PaneId {
    Host,
    Droplets,
    Containers,
    Logs,
    Checks,
    Modules,
    Deploy,
}

impl PaneId {
    pub const ALL: [PaneId; 7] = [
        PaneId::Host,
        PaneId::Droplets,
        PaneId::Containers,
        PaneId::Logs,
        PaneId::Checks,
        PaneId::Modules,
        PaneId::Deploy,
    ];

    pub fn title(self) -> &'static str {
        match self {
            PaneId::Host => "Host",
            PaneId::Droplets => "Droplets",
            PaneId::Containers => "Containers",
            PaneId::Logs => "Logs",
            PaneId::Checks => "Checks",
            PaneId::Modules => "Modules",
            PaneId::Deploy => "Deploy",
        }
    }

    /// The keymap context a focused pane looks keys up in first.
    pub fn context(self) -> Context {
        match self {
            PaneId::Logs => Context::Logs,
            PaneId::Containers => Context::Containers,
            PaneId::Checks => Context::Checks,
            PaneId::Deploy => Context::Deploy,
            PaneId::Modules => Context::Modules,
            PaneId::Droplets => Context::Droplets,
            _ => Context::Pane,
        }
    }

    pub fn index(self) -> usize {
        PaneId::ALL.iter().position(|p| *p == self).expect("listed")
    }

    pub fn next(self) -> PaneId {
        PaneId::ALL[(self.index() + 1) % PaneId::ALL.len()]
    }

    pub fn prev(self) -> PaneId {
        PaneId::ALL[(self.index() + PaneId::ALL.len() - 1) % PaneId::ALL.len()]
    }
}

/// What every pane's `draw` needs besides its own state.
pub struct PaneContext<'a> {
    pub theme: &'a Theme,
    /// The active keymap: hints name the keys actually bound.
    pub keymap: &'a Keymap,
    pub focused: bool,
    pub readonly: bool,
    /// The host the console is on, as pane titles name it ([`host_in_title`]).
    pub host: &'a str,
}

impl PaneContext<'_> {
    /// `key what · key what`, from the active keymap; an unbound action is left out.
    pub fn hints(&self, hints: &[(Action, &str)]) -> String {
        hints
            .iter()
            .filter_map(|(action, what)| {
                self.keymap
                    .first_key(*action)
                    .map(|key| format!("{key} {what}"))
            })
            .collect::<Vec<_>>()
            .join(" · ")
    }

    /// The key that does `action`, for a sentence; `(unbound)` when none does.
    pub fn key(&self, action: Action) -> String {
        self.keymap.key_for_sentence(action)
    }

    /// `y yes · n/esc no`: every key that answers an open question.
    pub fn answer_keys(&self) -> String {
        format!(
            "{} yes · {} no",
            self.keymap.keys_label(Action::Confirm),
            self.keymap.keys_label(Action::Cancel)
        )
    }

    /// The bordered block every pane sits in, `width` wide: `[n] Title · host` plus an
    /// optional right-hand note. Every pane about the host names it, so a pane drawn just
    /// after a switch cannot be mistaken for the previous host's; Droplets is about the
    /// account. The host is left out rather than cut where it does not fit beside the
    /// note: a cut name (`web-1` of `web-10`) would name another host.
    pub fn block(&self, pane: PaneId, width: u16, note: Option<Span<'static>>) -> Block<'static> {
        let theme = self.theme;
        let mut title = vec![
            Span::styled(format!(" {} ", pane.index() + 1), theme.muted()),
            Span::styled(format!("{} ", pane.title()), theme.title(self.focused)),
        ];
        let host = format!("· {} ", self.host);
        let used = title.iter().map(Span::width).sum::<usize>()
            + note.as_ref().map_or(0, |n| n.width() + 1)
            + 2; // the corners
        if pane != PaneId::Droplets
            && !self.host.is_empty()
            && used + host.chars().count() <= usize::from(width)
        {
            title.push(Span::styled(host, theme.muted()));
        }
        let mut block = Block::default()
            .borders(Borders::ALL)
            .border_type(if self.focused {
                BorderType::Thick
            } else {
                BorderType::Plain
            })
            .border_style(theme.border(self.focused))
            .style(theme.text())
            .title(Line::from(title));
        if let Some(note) = note {
            block = block.title(Line::from(note).right_aligned());
        }
        block
    }
}

/// What a pane is drawn with: the same for drawing and for hit-testing a click.
pub fn context(pane: PaneId, app: &crate::tui::app::App) -> PaneContext<'_> {
    PaneContext {
        theme: &app.theme,
        keymap: &app.keymap,
        focused: app.focus == pane,
        readonly: app.readonly,
        host: host_in_title(&app.host_label),
    }
}

/// The host as a pane title names it: a droplet's name (`web-1` of `web-1 (root@...)`),
/// else the whole label, which is short (`local`, `deploy@10.0.0.5:22`).
pub fn host_in_title(label: &str) -> &str {
    match label.split_once(" (") {
        Some((name, _)) if label.ends_with(')') => name,
        _ => label,
    }
}

/// Draw a pane by id from the app's state.
pub fn draw(frame: &mut Frame, area: Rect, pane: PaneId, app: &crate::tui::app::App) {
    let ctx = context(pane, app);
    match pane {
        PaneId::Host => app.host.draw(frame, area, &ctx),
        PaneId::Containers => app.containers.draw(frame, area, &ctx),
        PaneId::Logs => app.logs.draw(frame, area, &ctx),
        PaneId::Checks => app.checks.draw(frame, area, &ctx),
        PaneId::Deploy => app.deploy.draw(frame, area, &ctx),
        PaneId::Modules => app.modules.draw(frame, area, &ctx),
        PaneId::Droplets => app.droplets.draw(frame, area, &ctx),
    }
}

#[cfg(test)]
mod tests {
    use super::host_in_title;

    #[test]
    fn a_droplet_is_named_by_its_name_and_a_target_by_its_label() {
        assert_eq!(host_in_title("web-1 (root@10.0.0.5:22)"), "web-1");
        assert_eq!(
            host_in_title("deploy@10.0.0.5:2222"),
            "deploy@10.0.0.5:2222"
        );
        assert_eq!(host_in_title("local"), "local");
        // A label that only contains " (" is kept whole.
        assert_eq!(host_in_title("odd (name"), "odd (name");
    }
}
