//! The command palette: every action and every theme by name, filtered as you type.

use crossterm::event::KeyEvent;

use super::text_input::{Edit, TextInput};

use super::app::App;
use crate::config::keymap::{Action, Context};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PaletteCommand {
    Action(Action),
    Theme(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PaletteEntry {
    pub label: String,
    pub detail: String,
    pub command: PaletteCommand,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Palette {
    pub input: TextInput,
    pub entries: Vec<PaletteEntry>,
    pub selected: usize,
}

impl Palette {
    pub fn new(app: &App) -> Palette {
        // The focused pane's own actions first (restart, export, run checks, apply a
        // fix...): what the operator opened the palette for is usually about that pane.
        let focused = app.focus.context();
        let pane_first = Action::ALL
            .iter()
            .filter(|a| focused != Context::Pane && a.context() == focused);
        let everywhere = Action::ALL
            .iter()
            .filter(|a| {
                matches!(a.context(), Context::Global | Context::Pane)
                    // A new droplet is asked for from anywhere, not only the Droplets pane.
                    || (**a == Action::DropletsBootstrap && focused != Context::Droplets)
            })
            .filter(|a| !matches!(a, Action::Palette | Action::Back));
        // Going back names the host it goes back to, and is offered only when there is one.
        let back_to = app.previous_host.as_ref();
        let everywhere = everywhere.filter(|a| **a != Action::PreviousHost || back_to.is_some());
        let mut entries: Vec<PaletteEntry> = pane_first
            .chain(everywhere)
            .map(|a| PaletteEntry {
                label: match (a, back_to) {
                    (Action::PreviousHost, Some(host)) => format!("back to {host}"),
                    _ => a.name().replace('_', " "),
                },
                detail: format!("{} · {}", a.description(), app.keymap.keys_label(*a)),
                command: PaletteCommand::Action(*a),
            })
            .collect();
        entries.extend(
            app.settings
                .available_themes()
                .into_iter()
                .map(|name| PaletteEntry {
                    label: format!("theme {name}"),
                    detail: "switch theme".into(),
                    command: PaletteCommand::Theme(name),
                }),
        );
        Palette {
            input: TextInput::default(),
            entries,
            selected: 0,
        }
    }

    /// Entries whose label contains every word typed, in order of the list.
    pub fn visible(&self) -> Vec<&PaletteEntry> {
        let words: Vec<String> = self
            .input
            .text()
            .split_whitespace()
            .map(str::to_lowercase)
            .collect();
        self.entries
            .iter()
            .filter(|e| words.iter().all(|w| e.label.contains(w.as_str())))
            .collect()
    }

    pub fn chosen(&self) -> Option<PaletteCommand> {
        self.visible().get(self.selected).map(|e| e.command.clone())
    }

    pub fn select_next(&mut self) {
        let n = self.visible().len();
        if n > 0 {
            self.selected = (self.selected + 1) % n;
        }
    }

    pub fn select_previous(&mut self) {
        let n = self.visible().len();
        if n > 0 {
            self.selected = (self.selected + n - 1) % n;
        }
    }

    /// Typing into the filter; Esc (cancel) closes the palette, Enter runs the entry.
    pub fn edit(&mut self, key: &KeyEvent) -> Edit {
        let before = self.input.text().len();
        let edit = self.input.on_key(key);
        if self.input.text().len() != before {
            self.selected = 0;
        }
        edit
    }
}
