//! Where each pane goes. A pure function of the screen size and the app's toggles, used by
//! both drawing and mouse hit-testing so they always agree.

use ratatui::layout::{Constraint, Layout, Position, Rect};

use super::app::App;
use super::panes::PaneId;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScreenLayout {
    pub panes: Vec<(PaneId, Rect)>,
    pub console_log: Option<Rect>,
    pub status_bar: Rect,
}

impl ScreenLayout {
    pub fn compute(area: Rect, app: &App) -> ScreenLayout {
        let [body, status_bar] =
            Layout::vertical([Constraint::Min(1), Constraint::Length(1)]).areas(area);
        let (main, console_log) = if app.show_console_log {
            let [main, log] =
                Layout::vertical([Constraint::Min(6), Constraint::Length(10)]).areas(body);
            (main, Some(log))
        } else {
            (body, None)
        };
        let panes = if app.zoomed || is_compact(main) {
            vec![(app.focus, main)]
        } else {
            grid(main)
        };
        ScreenLayout {
            panes,
            console_log,
            status_bar,
        }
    }

    pub fn pane_at(&self, at: Position) -> Option<PaneId> {
        self.panes
            .iter()
            .find(|(_, r)| r.contains(at))
            .map(|(p, _)| *p)
    }
}

/// Below this the grid gives each pane too little to be useful (at 80x24 the Logs pane
/// showed one line and the Containers table lost its STATE column), so a small terminal
/// shows the focused pane alone, as zoom does, and the number keys move between panes.
/// Fewer panes in a smaller grid was tried on paper: any split of 23 rows leaves Logs or
/// Containers under ten rows, which is what made the grid useless there.
pub const COMPACT_BELOW: (u16, u16) = (100, 30);

/// A body area (screen minus status bar) too small for the grid.
pub fn is_compact(body: Rect) -> bool {
    body.width < COMPACT_BELOW.0 || body.height + 1 < COMPACT_BELOW.1
}

/// Host and Droplets on the left, Containers and Logs on the right (the most watched),
/// Modules, Checks and Deploy along the bottom.
fn grid(area: Rect) -> Vec<(PaneId, Rect)> {
    // The top row fits the Host pane's facts (12 lines) on a 40-line terminal.
    let [top, middle, bottom] = Layout::vertical([
        Constraint::Min(14),
        Constraint::Percentage(35),
        Constraint::Percentage(22),
    ])
    .areas(area);
    let [host, containers] =
        Layout::horizontal([Constraint::Percentage(40), Constraint::Percentage(60)]).areas(top);
    let [droplets, logs] =
        Layout::horizontal([Constraint::Percentage(40), Constraint::Percentage(60)]).areas(middle);
    let [modules, checks, deploy] = Layout::horizontal([
        Constraint::Percentage(30),
        Constraint::Percentage(40),
        Constraint::Percentage(30),
    ])
    .areas(bottom);
    vec![
        (PaneId::Host, host),
        (PaneId::Droplets, droplets),
        (PaneId::Containers, containers),
        (PaneId::Logs, logs),
        (PaneId::Checks, checks),
        (PaneId::Modules, modules),
        (PaneId::Deploy, deploy),
    ]
}
