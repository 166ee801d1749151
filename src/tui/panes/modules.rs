//! The Modules pane: Odoo's module states ([`crate::odoo::modules`]), read by a job when
//! the pane is first focused and on refresh. Counts per state in the title; pending
//! modules first and highlighted, with the sentence that says why they matter; filter by
//! state (cycles) and by name (typed, as the Logs pane's filter); the selected module's
//! dependencies and reverse dependencies on Enter. Filter and detail do no I/O.

use crossterm::event::KeyEvent;
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Wrap};

use super::{PaneContext, PaneId};
use crate::config::keymap::Action;
use crate::odoo::modules::inventory::{Inventory, Module, PENDING_SENTENCE};
use crate::tui::effect::Effect;
use crate::tui::text_input::{Edit, TextInput};

/// What a load brought back: the modules and how they were read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModulesLoaded {
    pub inventory: Inventory,
    /// `docker exec DB psql ...`: which access was used.
    pub access: String,
    pub database: String,
}

#[derive(Debug, Clone, Default)]
pub struct ModulesPane {
    pub loaded: Option<ModulesLoaded>,
    pub loading: bool,
    pub error: Option<String>,
    /// Only this state; `None` = all.
    pub state_filter: Option<String>,
    /// Names containing this (case-insensitive).
    pub name_filter: String,
    /// The name being typed, while typing.
    pub input: Option<TextInput>,
    pub selected: usize,
    pub detail: bool,
    pub rows: u16,
}

impl ModulesPane {
    /// The load to start when the pane is focused and has nothing yet.
    pub fn on_focus(&mut self) -> Vec<Effect> {
        if self.loaded.is_none() && !self.loading && self.error.is_none() {
            self.loading = true;
            return vec![Effect::LoadModules];
        }
        Vec::new()
    }

    pub fn apply(&mut self, result: Result<ModulesLoaded, String>) {
        self.loading = false;
        match result {
            Ok(loaded) => {
                self.error = None;
                self.loaded = Some(loaded);
                self.clamp();
            }
            Err(e) => self.error = Some(e),
        }
    }

    pub fn is_typing(&self) -> bool {
        self.input.is_some()
    }

    /// The modules the filters let through, in the inventory's order (pending first).
    pub fn visible(&self) -> Vec<&Module> {
        let Some(loaded) = &self.loaded else {
            return Vec::new();
        };
        let needle = self.name_filter.to_lowercase();
        loaded
            .inventory
            .modules
            .iter()
            .filter(|m| self.state_filter.as_deref().is_none_or(|s| m.state == s))
            .filter(|m| needle.is_empty() || m.name.to_lowercase().contains(&needle))
            .collect()
    }

    fn clamp(&mut self) {
        let n = self.visible().len();
        self.selected = self.selected.min(n.saturating_sub(1));
    }

    /// The states present, in the order the state filter cycles through them.
    fn states(&self) -> Vec<String> {
        let Some(loaded) = &self.loaded else {
            return Vec::new();
        };
        let mut states: Vec<String> = loaded.inventory.counts().into_keys().collect();
        states.sort_by_key(|s| (!crate::odoo::modules::inventory::is_pending(s), s.clone()));
        states
    }

    pub fn on_action(&mut self, action: Action) -> Vec<Effect> {
        let page = usize::from(self.rows.max(2) - 1);
        let last = self.visible().len().saturating_sub(1);
        match action {
            Action::Refresh => {
                self.loading = true;
                return vec![Effect::LoadModules];
            }
            Action::Up => self.selected = self.selected.saturating_sub(1),
            Action::Down => self.selected = (self.selected + 1).min(last),
            Action::PageUp => self.selected = self.selected.saturating_sub(page),
            Action::PageDown => self.selected = (self.selected + page).min(last),
            Action::Top => self.selected = 0,
            Action::Bottom => self.selected = last,
            Action::ModulesDetail => self.detail = !self.detail,
            Action::ModulesFilter => self.input = Some(TextInput::with_text(&self.name_filter)),
            Action::ModulesState => {
                let states = self.states();
                self.state_filter = match &self.state_filter {
                    None => states.first().cloned(),
                    Some(current) => states
                        .iter()
                        .position(|s| s == current)
                        .and_then(|i| states.get(i + 1))
                        .cloned(),
                };
                self.selected = 0;
            }
            _ => {}
        }
        Vec::new()
    }

    /// Esc: close the detail, else drop the name filter, else the state filter.
    pub fn back(&mut self) -> Option<Vec<Effect>> {
        if std::mem::take(&mut self.detail) {
            return Some(Vec::new());
        }
        if !self.name_filter.is_empty() {
            self.name_filter.clear();
        } else if self.state_filter.take().is_none() {
            return None;
        }
        self.selected = 0;
        Some(Vec::new())
    }

    /// Keys while the name filter is typed (Enter applies, Esc keeps the old one).
    pub fn on_key(&mut self, key: &KeyEvent) -> Vec<Effect> {
        let Some(input) = &mut self.input else {
            return Vec::new();
        };
        match input.on_key(key) {
            Edit::Editing => {}
            Edit::Cancel => self.input = None,
            Edit::Submit => {
                self.name_filter = input.text().trim().to_string();
                self.input = None;
                self.selected = 0;
            }
        }
        Vec::new()
    }

    pub fn draw(&self, frame: &mut Frame, area: Rect, ctx: &PaneContext) {
        let theme = ctx.theme;
        let note = match (&self.loaded, self.loading) {
            (_, true) => Some(Span::styled(" loading… ", theme.muted())),
            (Some(l), false) => Some(Span::styled(
                format!(" {} ", l.inventory.counts_line()),
                theme.muted(),
            )),
            _ => None,
        };
        let block = ctx.block(PaneId::Modules, note);
        let inner = block.inner(area);
        frame.render_widget(block, area);
        let mut head: Vec<Line> = Vec::new();
        if let Some(e) = &self.error {
            head.push(Line::from(vec![
                Span::styled("could not read the module states: ", theme.error()),
                Span::styled(e.clone(), theme.text()),
            ]));
        }
        let Some(loaded) = &self.loaded else {
            if self.error.is_none() {
                let text = if self.loading {
                    "Reading ir_module_module…"
                } else {
                    "Odoo's module states (ir_module_module), read when this pane is first focused."
                };
                head.push(Line::from(Span::styled(text, theme.muted())));
            }
            frame.render_widget(Paragraph::new(head).wrap(Wrap { trim: false }), inner);
            return;
        };
        head.push(Line::from(vec![
            Span::styled(format!("{}  ", loaded.database), theme.accent()),
            Span::styled(format!("read by {}", loaded.access), theme.muted()),
        ]));
        let pending: Vec<&str> = loaded
            .inventory
            .pending()
            .map(|m| m.name.as_str())
            .collect();
        if !pending.is_empty() {
            head.push(Line::from(vec![
                Span::styled(format!("PENDING {}: ", pending.join(", ")), theme.warn()),
                Span::styled(PENDING_SENTENCE, theme.warn()),
            ]));
        }
        head.push(filter_line(self, ctx));
        let detail_height = if self.detail { 6 } else { 0 };
        let head_height = head
            .iter()
            .map(|l| (l.width() as u16).div_ceil(inner.width.max(1)).max(1))
            .sum::<u16>();
        let [head_area, list_area, detail_area] = Layout::vertical([
            Constraint::Length(head_height),
            Constraint::Min(1),
            Constraint::Length(detail_height),
        ])
        .areas(inner);
        frame.render_widget(Paragraph::new(head).wrap(Wrap { trim: false }), head_area);

        let visible = self.visible();
        let rows = usize::from(list_area.height.saturating_sub(1));
        let start = self.selected.saturating_sub(rows.saturating_sub(1));
        let width = visible
            .iter()
            .map(|m| m.name.len())
            .max()
            .unwrap_or(4)
            .clamp(4, 28);
        let mut lines = vec![Line::from(Span::styled(
            format!(
                "{:<width$}  {:<13} {:<12} TITLE",
                "NAME", "STATE", "VERSION"
            ),
            theme.muted(),
        ))];
        for (i, m) in visible.iter().enumerate().skip(start).take(rows) {
            let mut style = if m.pending() {
                theme.warn()
            } else if m.state == "installed" {
                theme.text()
            } else {
                theme.muted()
            };
            if i == self.selected && ctx.focused {
                style = theme.selection();
            }
            lines.push(Line::from(Span::styled(
                format!(
                    "{:<width$}  {:<13} {:<12} {}",
                    m.name,
                    m.state,
                    m.latest_version,
                    m.shortdesc.lines().next().unwrap_or_default()
                ),
                style,
            )));
        }
        if visible.is_empty() {
            lines.push(Line::from(Span::styled(
                "no module matches the filter",
                theme.muted(),
            )));
        }
        frame.render_widget(Paragraph::new(lines), list_area);

        if self.detail
            && let Some(m) = visible.get(self.selected)
        {
            let deps = loaded.inventory.dependencies(&m.name);
            let rdeps = loaded.inventory.dependents(&m.name);
            let list = |v: &[String]| {
                if v.is_empty() {
                    "none".to_string()
                } else {
                    v.join(", ")
                }
            };
            let detail = vec![
                Line::from(Span::styled(
                    format!(
                        "{} — {} ({}){}{}",
                        m.name,
                        m.shortdesc,
                        if m.author.is_empty() { "?" } else { &m.author },
                        if m.application { ", application" } else { "" },
                        if m.auto_install { ", auto-install" } else { "" }
                    ),
                    theme.accent(),
                )),
                Line::from(vec![
                    Span::styled("depends on   ", theme.muted()),
                    Span::styled(list(deps), theme.text()),
                ]),
                Line::from(vec![
                    Span::styled("needed by    ", theme.muted()),
                    Span::styled(list(&rdeps), theme.text()),
                ]),
            ];
            frame.render_widget(
                Paragraph::new(detail).wrap(Wrap { trim: false }),
                detail_area,
            );
        }
    }
}

/// `filter: state installed · name proj` with the keys that change it.
fn filter_line(pane: &ModulesPane, ctx: &PaneContext) -> Line<'static> {
    let theme = ctx.theme;
    if let Some(typed) = &pane.input {
        let (before, after) = typed.split_at_cursor();
        return Line::from(vec![
            Span::styled("name filter: ", theme.accent()),
            Span::styled(before.to_string(), theme.text()),
            Span::styled("▏", theme.accent()),
            Span::styled(after.to_string(), theme.text()),
            Span::styled("  (enter apply · esc cancel)", theme.muted()),
        ]);
    }
    let state = pane.state_filter.as_deref().unwrap_or("all");
    let name = if pane.name_filter.is_empty() {
        "any".to_string()
    } else {
        pane.name_filter.clone()
    };
    Line::from(vec![
        Span::styled(format!("state {state} · name {name}  "), theme.text()),
        Span::styled(
            ctx.hints(&[
                (Action::ModulesState, "state"),
                (Action::ModulesFilter, "name"),
                (Action::ModulesDetail, "detail"),
                (Action::Refresh, "refresh"),
            ]),
            theme.muted(),
        ),
    ])
}
