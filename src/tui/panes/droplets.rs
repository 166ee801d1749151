//! The Droplets pane: the DigitalOcean droplets the token sees ([`crate::digitalocean`]),
//! listed by a job when the pane is first focused and on refresh. Columns and filter are
//! the CLI's (`digitalocean::listing`); filter by tag and by a part of the name (typed with
//! the shared text input); reboot, power cycle and snapshot after a yes/no; Enter connects
//! the console to the droplet (the event loop replaces the host session). Without a token it says how to set one.

use crossterm::event::KeyEvent;
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Wrap};

use super::{PaneContext, PaneId};
use crate::config::keymap::Action;
use crate::digitalocean::listing::{self, DropletRow, HEADERS, ListFilter};
use crate::digitalocean::{Droplet, DropletAction, RateLimit};
use crate::tui::connect::ConnectRequest;
use crate::tui::effect::Effect;
use crate::tui::text_input::{Edit, TextInput};

/// What a droplets job brings back.
#[derive(Debug, Clone, PartialEq)]
pub enum DropletsEvent {
    /// The list (or why there is none), when it was read, and the rate limit left.
    Listed {
        result: Result<Vec<Droplet>, ListError>,
        now_ms: i64,
        rate_limit: Option<RateLimit>,
    },
    /// An action was asked for: DigitalOcean's answer (the list is read again after).
    Acted {
        droplet: String,
        verb: &'static str,
        result: Result<(), String>,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ListError {
    /// No token is configured: how to set one.
    NoToken(String),
    Failed(String),
}

/// Where the pane stands: one stage, not loose flags.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Stage {
    /// Not looked at yet.
    #[default]
    Idle,
    Loading,
    Listed,
    NoToken(String),
    /// The last read failed (the list before it, if any, is kept and marked).
    Failed(String),
}

/// An action waiting for yes or no.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pending {
    pub id: u64,
    pub name: String,
    pub action: DropletAction,
}

/// Which filter is being typed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FilterField {
    Name,
    Tag,
}

#[derive(Debug, Clone, Default)]
pub struct DropletsPane {
    pub stage: Stage,
    pub droplets: Vec<Droplet>,
    /// When the list was read (ages are counted from it).
    pub read_at_ms: i64,
    pub filter: ListFilter,
    pub input: Option<(FilterField, TextInput)>,
    pub selected: usize,
    pub confirm: Option<Pending>,
    /// The last action's outcome, or the connection Enter asked for.
    pub notice: Option<String>,
    pub rate_limit: Option<RateLimit>,
    pub readonly: bool,
    pub rows: u16,
}

impl DropletsPane {
    pub fn new(readonly: bool) -> DropletsPane {
        DropletsPane {
            readonly,
            ..DropletsPane::default()
        }
    }

    /// The read to start when the pane is first focused.
    pub fn on_focus(&mut self) -> Vec<Effect> {
        if self.stage == Stage::Idle {
            self.stage = Stage::Loading;
            return vec![Effect::LoadDroplets];
        }
        Vec::new()
    }

    pub fn apply(&mut self, event: DropletsEvent) {
        match event {
            DropletsEvent::Listed {
                result,
                now_ms,
                rate_limit,
            } => {
                if rate_limit.is_some() {
                    self.rate_limit = rate_limit;
                }
                match result {
                    Ok(droplets) => {
                        self.droplets = droplets;
                        self.read_at_ms = now_ms;
                        self.stage = Stage::Listed;
                        self.clamp();
                    }
                    Err(ListError::NoToken(how)) => self.stage = Stage::NoToken(how),
                    Err(ListError::Failed(why)) => self.stage = Stage::Failed(why),
                }
            }
            DropletsEvent::Acted {
                droplet,
                verb,
                result,
            } => {
                self.notice = Some(match result {
                    Ok(()) => format!("{verb} of {droplet} asked; DigitalOcean is doing it"),
                    Err(why) => format!("{verb} of {droplet} failed: {why}"),
                });
            }
        }
    }

    pub fn is_typing(&self) -> bool {
        self.input.is_some()
    }

    pub fn is_confirming(&self) -> bool {
        self.confirm.is_some()
    }

    /// The rows the filter lets through, sorted by name.
    pub fn visible(&self) -> Vec<DropletRow> {
        listing::rows(&self.droplets, &self.filter, self.read_at_ms)
    }

    fn clamp(&mut self) {
        let n = self.visible().len();
        self.selected = self.selected.min(n.saturating_sub(1));
    }

    fn selected_row(&self) -> Option<DropletRow> {
        self.visible().into_iter().nth(self.selected)
    }

    pub fn on_action(&mut self, action: Action) -> Vec<Effect> {
        let page = usize::from(self.rows.max(2) - 1);
        let last = self.visible().len().saturating_sub(1);
        match action {
            Action::Refresh => {
                self.stage = Stage::Loading;
                return vec![Effect::LoadDroplets];
            }
            Action::Up => self.selected = self.selected.saturating_sub(1),
            Action::Down => self.selected = (self.selected + 1).min(last),
            Action::PageUp => self.selected = self.selected.saturating_sub(page),
            Action::PageDown => self.selected = (self.selected + page).min(last),
            Action::Top => self.selected = 0,
            Action::Bottom => self.selected = last,
            Action::DropletsFilterName => {
                let text = self.filter.name.clone().unwrap_or_default();
                self.input = Some((FilterField::Name, TextInput::with_text(&text)));
            }
            Action::DropletsFilterTag => {
                let text = self.filter.tag.clone().unwrap_or_default();
                self.input = Some((FilterField::Tag, TextInput::with_text(&text)));
            }
            Action::DropletsConnect => match self.selected_row() {
                Some(DropletRow {
                    name,
                    public_ipv4: Some(address),
                    ..
                }) => {
                    self.notice = Some(format!("connecting to {name} ({address})…"));
                    return vec![Effect::Connect(ConnectRequest { name, address })];
                }
                Some(row) => {
                    self.notice = Some(format!(
                        "{}: no public IPv4 yet (status {})",
                        row.name, row.status
                    ))
                }
                None => {}
            },
            Action::DropletsReboot | Action::DropletsPowerCycle | Action::DropletsSnapshot => {
                if self.readonly {
                    self.notice = Some("read-only session: droplet actions are off".into());
                    return Vec::new();
                }
                if let Some(row) = self.selected_row() {
                    let action = match action {
                        Action::DropletsReboot => DropletAction::Reboot,
                        Action::DropletsPowerCycle => DropletAction::PowerCycle,
                        _ => DropletAction::Snapshot(snapshot_name(&row.name, self.read_at_ms)),
                    };
                    self.confirm = Some(Pending {
                        id: row.id,
                        name: row.name,
                        action,
                    });
                }
            }
            _ => {}
        }
        Vec::new()
    }

    /// The answer to the question an action asked.
    pub fn on_confirm(&mut self, answer: Action) -> Vec<Effect> {
        match (answer, self.confirm.take()) {
            (Action::Confirm, Some(pending)) => {
                self.notice = Some(format!(
                    "asking DigitalOcean to {} {}…",
                    pending.action.verb(),
                    pending.name
                ));
                vec![Effect::DropletAction {
                    id: pending.id,
                    name: pending.name,
                    action: pending.action,
                }]
            }
            (Action::Cancel, _) => Vec::new(),
            (_, pending) => {
                self.confirm = pending;
                Vec::new()
            }
        }
    }

    /// Esc: drop the notice, then the name filter, then the tag filter.
    pub fn back(&mut self) -> Option<Vec<Effect>> {
        if self.notice.take().is_some() {
            return Some(Vec::new());
        }
        if self.filter.name.take().is_none() && self.filter.tag.take().is_none() {
            return None;
        }
        self.selected = 0;
        Some(Vec::new())
    }

    /// Keys while a filter is typed (Enter applies, Esc keeps the old one).
    pub fn on_key(&mut self, key: &KeyEvent) -> Vec<Effect> {
        let Some((field, input)) = &mut self.input else {
            return Vec::new();
        };
        match input.on_key(key) {
            Edit::Editing => {}
            Edit::Cancel => self.input = None,
            Edit::Submit => {
                let text = input.text().trim().to_string();
                let value = (!text.is_empty()).then_some(text);
                match field {
                    FilterField::Name => self.filter.name = value,
                    FilterField::Tag => self.filter.tag = value,
                }
                self.input = None;
                self.selected = 0;
            }
        }
        Vec::new()
    }

    pub fn draw(&self, frame: &mut Frame, area: Rect, ctx: &PaneContext) {
        let theme = ctx.theme;
        let note = match &self.stage {
            Stage::Loading => Some(Span::styled(" loading… ", theme.muted())),
            Stage::Listed | Stage::Failed(_)
                if !self.droplets.is_empty() || self.stage == Stage::Listed =>
            {
                Some(Span::styled(
                    format!(" {} of {} ", self.visible().len(), self.droplets.len()),
                    theme.muted(),
                ))
            }
            _ => None,
        };
        let block = ctx.block(PaneId::Droplets, area.width, note);
        let inner = block.inner(area);
        frame.render_widget(block, area);

        let mut head: Vec<Line> = Vec::new();
        match &self.stage {
            Stage::Idle => head.push(Line::from(Span::styled(
                "Your DigitalOcean droplets, read when this pane is first focused.",
                theme.muted(),
            ))),
            Stage::NoToken(how) => {
                head.push(Line::from(Span::styled(
                    "No DigitalOcean token.",
                    theme.warn(),
                )));
                head.push(Line::from(Span::styled(how.clone(), theme.text())));
                head.push(Line::from(Span::styled(
                    format!("Then {} to read the droplets.", ctx.key(Action::Refresh)),
                    theme.muted(),
                )));
            }
            Stage::Failed(why) => head.push(Line::from(vec![
                Span::styled("could not list the droplets: ", theme.error()),
                Span::styled(why.clone(), theme.text()),
            ])),
            Stage::Loading if self.droplets.is_empty() => head.push(Line::from(Span::styled(
                "Asking DigitalOcean for the droplets…",
                theme.muted(),
            ))),
            _ => {}
        }
        let listed = !self.droplets.is_empty() || self.stage == Stage::Listed;
        if !listed {
            frame.render_widget(Paragraph::new(head).wrap(Wrap { trim: false }), inner);
            return;
        }
        if let Some(pending) = &self.confirm {
            head.push(Line::from(vec![
                Span::styled(
                    format!("{} {}? ", capitalised(pending.action.verb()), pending.name),
                    theme.warn(),
                ),
                Span::styled(
                    match &pending.action {
                        DropletAction::Snapshot(name) => format!("(snapshot {name:?}) "),
                        _ => String::new(),
                    },
                    theme.text(),
                ),
                Span::styled(ctx.answer_keys(), theme.muted()),
            ]));
        } else if let Some(notice) = &self.notice {
            head.push(Line::from(Span::styled(notice.clone(), theme.accent())));
        }
        head.push(filter_line(self, ctx));
        let head_height = head
            .iter()
            .map(|l| (l.width() as u16).div_ceil(inner.width.max(1)).max(1))
            .sum::<u16>();
        let [head_area, list_area] =
            Layout::vertical([Constraint::Length(head_height), Constraint::Min(1)]).areas(inner);
        frame.render_widget(Paragraph::new(head).wrap(Wrap { trim: false }), head_area);

        let visible = self.visible();
        let cells: Vec<[String; 7]> = visible.iter().map(DropletRow::cells).collect();
        let mut widths = HEADERS.map(|h| h.chars().count());
        for row in &cells {
            for (w, c) in widths.iter_mut().zip(row) {
                *w = (*w).max(c.chars().count());
            }
        }
        let line = |row: &[String]| {
            row.iter()
                .zip(widths)
                .map(|(c, w)| format!("{c:<w$}"))
                .collect::<Vec<_>>()
                .join("  ")
        };
        let rows = usize::from(list_area.height.saturating_sub(1));
        let start = self.selected.saturating_sub(rows.saturating_sub(1));
        let mut lines = vec![Line::from(Span::styled(
            line(&HEADERS.map(str::to_string)),
            theme.muted(),
        ))];
        for (i, (row, text)) in visible
            .iter()
            .zip(&cells)
            .enumerate()
            .skip(start)
            .take(rows)
        {
            let mut style = match row.status.as_str() {
                "active" => theme.text(),
                "new" => theme.warn(),
                _ => theme.muted(),
            };
            if i == self.selected && ctx.focused {
                style = theme.selection();
            }
            lines.push(Line::from(Span::styled(line(text), style)));
        }
        if visible.is_empty() {
            lines.push(Line::from(Span::styled(
                if self.droplets.is_empty() {
                    "this account has no droplet"
                } else {
                    "no droplet matches the filter"
                },
                theme.muted(),
            )));
        }
        frame.render_widget(Paragraph::new(lines), list_area);
    }
}

/// `odoo-prod-1-20261130-1200`: a snapshot name that says what and when.
fn snapshot_name(droplet: &str, now_ms: i64) -> String {
    let stamp = crate::deploy::clock::compact(now_ms);
    // 20261130T120107Z → 20261130-1201
    format!("{droplet}-{}-{}", &stamp[..8], &stamp[9..13])
}

fn capitalised(text: &str) -> String {
    let mut chars = text.chars();
    chars
        .next()
        .map(|c| c.to_uppercase().collect::<String>() + chars.as_str())
        .unwrap_or_default()
}

/// `tag prod · name web  / name · t tag · …` with the keys that change it.
fn filter_line(pane: &DropletsPane, ctx: &PaneContext) -> Line<'static> {
    let theme = ctx.theme;
    if let Some((field, typed)) = &pane.input {
        let (before, after) = typed.split_at_cursor();
        let label = match field {
            FilterField::Name => "name filter: ",
            FilterField::Tag => "tag filter: ",
        };
        return Line::from(vec![
            Span::styled(label, theme.accent()),
            Span::styled(before.to_string(), theme.text()),
            Span::styled("▏", theme.accent()),
            Span::styled(after.to_string(), theme.text()),
            Span::styled("  (enter apply · esc cancel)", theme.muted()),
        ]);
    }
    let tag = pane.filter.tag.as_deref().unwrap_or("any");
    let name = pane.filter.name.as_deref().unwrap_or("any");
    let mut hints = vec![
        (Action::DropletsFilterTag, "tag"),
        (Action::DropletsFilterName, "name"),
        (Action::DropletsConnect, "connect"),
    ];
    if !ctx.readonly {
        hints.extend([
            (Action::DropletsReboot, "reboot"),
            (Action::DropletsPowerCycle, "power cycle"),
            (Action::DropletsSnapshot, "snapshot"),
            (Action::DropletsBootstrap, "new droplet"),
        ]);
    }
    hints.push((Action::Refresh, "refresh"));
    Line::from(vec![
        Span::styled(format!("tag {tag} · name {name}  "), theme.text()),
        Span::styled(ctx.hints(&hints), theme.muted()),
    ])
}
