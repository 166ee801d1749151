//! The console's state and how events change it. No I/O here: work is returned as
//! [`Effect`]s for the event loop to start.

use crossterm::event::{Event, KeyEvent, KeyEventKind, MouseButton, MouseEventKind};
use ratatui::layout::{Position, Rect};

use super::effect::Effect;
use super::jobs::JobKind;
use super::layout::ScreenLayout;
use super::message::{JobUpdate, Message};
use super::palette::Palette;
use super::panes::checks::ChecksPane;
use super::panes::containers::ContainersPane;
use super::panes::deploy::DeployPane;
use super::panes::droplets::DropletsPane;
use super::panes::host::HostPane;
use super::panes::logs::LogsPane;
use super::panes::modules::ModulesPane;
use super::panes::scroll::Viewport;
use super::panes::{self, PaneId};
use super::text_input::Edit;
use super::wizard::BootstrapWizard;
use crate::config::keymap::{Action, Context};
use crate::config::{Keymap, Settings, Theme};
use crate::jobs::DropReason;

/// A modal layer over the panes; it takes keys first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Overlay {
    None,
    Help {
        scroll: u16,
    },
    Palette(Palette),
    /// Connecting to another host met a key known_hosts does not have: trust it?
    HostKey(crate::ssh::HostKeyQuestion),
    /// Connecting to another host was refused or failed (a changed host key, above all):
    /// said loudly until dismissed; the console stays on the host it was on.
    ConnectFailed {
        host: String,
        why: String,
    },
}

/// The panes about the host the console is on, as they are before anything is known.
fn host_panes(
    settings: &Settings,
    readonly: bool,
) -> (
    HostPane,
    ContainersPane,
    LogsPane,
    ChecksPane,
    DeployPane,
    ModulesPane,
) {
    let backup_dir = crate::backup::default_dir(settings);
    let mut deploy = DeployPane::new(readonly);
    deploy.runs.parts.backup_dir = backup_dir.clone();
    deploy.runs.parts.backup_keep = settings.config.backup.keep;
    (
        HostPane {
            loading: true,
            ..HostPane::default()
        },
        ContainersPane::new(readonly),
        LogsPane::default(),
        ChecksPane::new(readonly),
        deploy,
        ModulesPane {
            backup_dir,
            ..ModulesPane::new(readonly)
        },
    )
}

/// How the status bar shows the link to the host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Connection {
    Local,
    Connected,
    Reconnecting { attempt: u32 },
    Lost(String),
}

impl From<crate::ssh::connection::ConnectionState> for Connection {
    fn from(state: crate::ssh::connection::ConnectionState) -> Self {
        use crate::ssh::connection::ConnectionState;
        match state {
            ConnectionState::Connected => Connection::Connected,
            ConnectionState::Reconnecting { attempt, .. } => Connection::Reconnecting { attempt },
            ConnectionState::Failed(why) => Connection::Lost(why),
        }
    }
}

pub struct App {
    pub settings: Settings,
    pub theme: Theme,
    pub keymap: Keymap,
    pub readonly: bool,
    pub host_label: String,
    /// The host the console was on before the last switch (what "back" returns to).
    pub previous_host: Option<String>,
    /// A connection to another host under way (its name), shown in the status bar.
    pub connecting: Option<String>,
    pub connection: Connection,
    pub focus: PaneId,
    pub zoomed: bool,
    pub overlay: Overlay,
    pub show_console_log: bool,
    pub last_error: Option<String>,
    /// A one-line notice (theme switched, warning at start) shown in the status bar.
    pub notice: Option<String>,
    pub size: Rect,
    pub host: HostPane,
    pub containers: ContainersPane,
    pub logs: LogsPane,
    pub checks: ChecksPane,
    pub deploy: DeployPane,
    pub modules: ModulesPane,
    pub droplets: DropletsPane,
    /// The bootstrap wizard: over the panes while open; a run goes on when it is closed.
    pub bootstrap: BootstrapWizard,
    pub should_quit: bool,
}

impl App {
    pub fn new(
        settings: Settings,
        readonly: bool,
        host_label: String,
        connection: Connection,
    ) -> App {
        let notice = (!settings.warnings.is_empty()).then(|| settings.warnings.join(" · "));
        let (host, containers, logs, checks, deploy, modules) = host_panes(&settings, readonly);
        App {
            theme: settings.theme.clone(),
            keymap: settings.keymap.clone(),
            settings,
            readonly,
            host_label,
            previous_host: None,
            connecting: None,
            connection,
            focus: PaneId::Host,
            zoomed: false,
            overlay: Overlay::None,
            show_console_log: false,
            last_error: None,
            notice,
            size: Rect::default(),
            host,
            containers,
            logs,
            checks,
            deploy,
            modules,
            droplets: DropletsPane::new(readonly),
            bootstrap: BootstrapWizard::new(
                crate::config::state_dir().map(|d| d.join("bootstrap")),
                readonly,
            ),
            should_quit: false,
        }
    }

    /// The work to start when the console opens: the host's facts, and the diagnosis,
    /// so that an operator with a 502 sees its cause without asking.
    pub fn startup_effects(&mut self) -> Vec<Effect> {
        let mut effects = vec![Effect::RefreshHost];
        effects.extend(self.checks.on_action(Action::ChecksRunAll));
        effects.extend(self.deploy.on_start());
        effects
    }

    /// A connection to another host needs the operator's word on its key.
    pub fn ask_host_key(&mut self, question: crate::ssh::HostKeyQuestion) {
        self.overlay = Overlay::HostKey(question);
    }

    /// The console now works on another host, `label`: every pane about a host starts
    /// over, loading, so nothing of the old host shows under the new one's name. Returns
    /// the work a console opening on that host starts.
    pub fn host_switched(&mut self, label: String, connection: Connection) -> Vec<Effect> {
        let (host, containers, logs, checks, deploy, modules) =
            host_panes(&self.settings, self.readonly);
        self.host = host;
        self.containers = containers;
        self.logs = logs;
        self.checks = checks;
        self.deploy = deploy;
        self.modules = modules;
        self.previous_host = Some(std::mem::replace(&mut self.host_label, label));
        self.connection = connection;
        self.connecting = None;
        self.last_error = None;
        self.notice = Some(format!("now on {}", self.host_label));
        tracing::info!("the console moved to {}", self.host_label);
        let mut effects = self.startup_effects();
        if self.focus == PaneId::Modules {
            effects.extend(self.modules.on_focus());
        }
        effects
    }

    /// Connecting to `host` failed or was refused; the console stays where it was.
    pub fn connect_failed(&mut self, host: String, why: String) {
        tracing::warn!("connecting to {host}: {why}");
        self.connecting = None;
        if matches!(self.overlay, Overlay::HostKey(_)) {
            self.overlay = Overlay::None;
        }
        self.last_error = Some(format!("could not connect to {host}"));
        self.overlay = Overlay::ConnectFailed { host, why };
    }

    /// The link to the host changed; `now` is the time of day it happened (`HH:MM:SS`).
    /// While it is down, what the panes show is marked stale since then; when it is back,
    /// the host's facts, the containers and the diagnosis are gathered again.
    pub fn connection_changed(&mut self, connection: Connection, now: &str) -> Vec<Effect> {
        let was_up = matches!(self.connection, Connection::Connected | Connection::Local);
        let is_up = matches!(connection, Connection::Connected | Connection::Local);
        self.connection = connection;
        match (was_up, is_up) {
            (true, false) => {
                self.host.mark_stale(now);
                self.containers.mark_stale(now);
                Vec::new()
            }
            (false, true) => {
                let mut effects = vec![
                    Effect::RefreshHost,
                    Effect::Docker(crate::docker::DockerCommand::Refresh),
                ];
                effects.extend(self.checks.on_action(Action::ChecksRunAll));
                effects
            }
            _ => Vec::new(),
        }
    }

    pub fn layout(&self) -> ScreenLayout {
        ScreenLayout::compute(self.size, self)
    }

    /// What the scrolled views have on screen, from the layout the next frame draws: the
    /// pane less its borders and the rows the pane keeps for itself around the view.
    fn set_viewports(&mut self) {
        let layout = self.layout();
        let inner = |pane: PaneId, above: u16, below: u16| {
            layout
                .panes
                .iter()
                .find(|(p, _)| *p == pane)
                .map(|(_, r)| Viewport {
                    rows: r.height.saturating_sub(2 + above + below),
                    cols: r.width.saturating_sub(2),
                })
                .unwrap_or_default()
        };
        // Containers: the details and hints lines below; Deploy: the form above, hints below.
        self.containers.viewport = inner(PaneId::Containers, 0, 2);
        self.deploy.viewport = inner(PaneId::Deploy, 5, 1);
    }

    /// A click on a row selects it, as in any table: the pane says which row was drawn
    /// there, by the rule it draws with.
    fn click_row(&mut self, pane: PaneId, rect: Rect, at: Position) {
        match pane {
            PaneId::Containers => {
                self.set_viewports();
                let top = rect.y + 1;
                if at.y >= top && at.y < top + self.containers.viewport.rows {
                    self.containers.click(at.y - top);
                }
            }
            PaneId::Checks => {
                let ctx = panes::context(pane, self);
                if let Some(i) = self.checks.row_at(rect, &ctx, at) {
                    self.checks.click(i);
                }
            }
            PaneId::Modules => {
                let ctx = panes::context(pane, self);
                if let Some(i) = self.modules.row_at(rect, &ctx, at) {
                    self.modules.click(i);
                }
            }
            _ => {}
        }
    }

    /// A terminal event. Returns the work it asks for; `changed` says whether to redraw.
    pub fn on_terminal(&mut self, event: &Event) -> (bool, Vec<Effect>) {
        match event {
            Event::Key(key) if key.kind != KeyEventKind::Release => (true, self.on_key(key)),
            // The wizard covers the panes: a click or a wheel there is not for them.
            Event::Mouse(_) if self.bootstrap.open => (false, Vec::new()),
            Event::Mouse(mouse) => match mouse.kind {
                MouseEventKind::Down(MouseButton::Left) => {
                    let at = Position::new(mouse.column, mouse.row);
                    let layout = self.layout();
                    match layout.pane_at(at) {
                        Some(pane) if self.overlay == Overlay::None => {
                            self.focus = pane;
                            if let Some((_, rect)) = layout.panes.iter().find(|(p, _)| *p == pane) {
                                self.click_row(pane, *rect, at);
                            }
                            (true, Vec::new())
                        }
                        _ => (false, Vec::new()),
                    }
                }
                MouseEventKind::ScrollDown => (true, self.on_pane_action(Action::Down)),
                MouseEventKind::ScrollUp => (true, self.on_pane_action(Action::Up)),
                MouseEventKind::ScrollLeft => (true, self.on_pane_action(Action::LogsScrollLeft)),
                MouseEventKind::ScrollRight => (true, self.on_pane_action(Action::LogsScrollRight)),
                _ => (false, Vec::new()),
            },
            Event::Resize(w, h) => {
                self.size = Rect::new(0, 0, *w, *h);
                (true, Vec::new())
            }
            _ => (false, Vec::new()),
        }
    }

    fn on_key(&mut self, key: &KeyEvent) -> Vec<Effect> {
        match &mut self.overlay {
            Overlay::Help { scroll } => {
                match self.keymap.action(Context::Help, key) {
                    Some(Action::CloseHelp) => self.overlay = Overlay::None,
                    Some(Action::HelpUp) => *scroll = scroll.saturating_sub(1),
                    Some(Action::HelpDown) => *scroll = scroll.saturating_add(1),
                    _ => {}
                }
                Vec::new()
            }
            Overlay::Palette(palette) => {
                let action = self.keymap.action(Context::Palette, key);
                match action {
                    Some(Action::PaletteClose) => self.overlay = Overlay::None,
                    Some(Action::PaletteUp) => palette.select_previous(),
                    Some(Action::PaletteDown) => palette.select_next(),
                    Some(Action::PaletteRun) => {
                        let chosen = palette.chosen();
                        self.overlay = Overlay::None;
                        if let Some(command) = chosen {
                            return self.run_palette_command(command);
                        }
                    }
                    // Enter runs the entry (above); Esc, whatever the keymap, leaves.
                    _ => {
                        if palette.edit(key) == Edit::Cancel {
                            self.overlay = Overlay::None;
                        }
                    }
                }
                Vec::new()
            }
            // Nothing is trusted by any key but yes: every other key leaves the question up.
            Overlay::HostKey(question) => {
                let answer = match self.keymap.action(Context::Confirm, key) {
                    Some(Action::Confirm) => true,
                    Some(Action::Cancel) => false,
                    _ => return Vec::new(),
                };
                let host = question.host.clone();
                self.overlay = Overlay::None;
                if answer {
                    self.notice = Some(format!("trusting the key of {host}; connecting…"));
                } else {
                    self.notice = Some(format!("the key of {host} was not trusted"));
                }
                vec![Effect::AnswerHostKey(answer)]
            }
            Overlay::ConnectFailed { .. } => {
                let dismiss = matches!(
                    self.keymap.action(Context::Global, key),
                    Some(Action::Back | Action::Quit)
                ) || key.code == crossterm::event::KeyCode::Enter;
                if dismiss {
                    self.overlay = Overlay::None;
                }
                Vec::new()
            }
            // The wizard, while open, takes every key (its form is typed into).
            Overlay::None if self.bootstrap.open => self.bootstrap.on_key(key, &self.keymap),
            // A pane's own prompt takes the keys first: typed text, or a yes/no.
            Overlay::None if self.focus == PaneId::Logs && self.logs.is_typing() => {
                self.logs.on_key(key)
            }
            Overlay::None
                if self.focus == PaneId::Containers && self.containers.is_confirming() =>
            {
                match self.keymap.action(Context::Confirm, key) {
                    Some(answer) => self.containers.on_confirm(answer),
                    None => Vec::new(),
                }
            }
            Overlay::None if self.focus == PaneId::Modules && self.modules.is_typing() => {
                self.modules.on_key(key)
            }
            Overlay::None if self.focus == PaneId::Droplets && self.droplets.is_typing() => {
                self.droplets.on_key(key)
            }
            Overlay::None if self.focus == PaneId::Droplets && self.droplets.is_confirming() => {
                match self.keymap.action(Context::Confirm, key) {
                    Some(answer) => self.droplets.on_confirm(answer),
                    None => Vec::new(),
                }
            }
            Overlay::None if self.focus == PaneId::Modules && self.modules.is_confirming() => {
                match self.keymap.action(Context::Confirm, key) {
                    Some(answer) => self.modules.on_confirm(answer),
                    None => Vec::new(),
                }
            }
            Overlay::None if self.focus == PaneId::Deploy && self.deploy.is_typing() => {
                self.deploy.on_key(key)
            }
            Overlay::None if self.focus == PaneId::Deploy && self.deploy.is_confirming() => {
                match self.keymap.action(Context::Confirm, key) {
                    Some(answer) => self.deploy.on_confirm(answer),
                    None => Vec::new(),
                }
            }
            // A fix waiting for yes/no takes the Confirm keys.
            Overlay::None if self.focus == PaneId::Checks && self.checks.confirming() => {
                match self.keymap.action(Context::Confirm, key) {
                    Some(action) => self.checks.on_action(action),
                    None => Vec::new(),
                }
            }
            Overlay::None => match self.keymap.action(self.focus.context(), key) {
                Some(action) => self.on_action(action),
                None => Vec::new(),
            },
        }
    }

    /// An action from a key, the palette or a test.
    pub fn on_action(&mut self, action: Action) -> Vec<Effect> {
        let before = self.focus;
        let mut effects = self.on_action_inner(action);
        // The Modules pane reads its data when it is first looked at.
        if self.focus == PaneId::Modules && before != PaneId::Modules {
            effects.extend(self.modules.on_focus());
        }
        if self.focus == PaneId::Droplets && before != PaneId::Droplets {
            effects.extend(self.droplets.on_focus());
        }
        effects
    }

    fn on_action_inner(&mut self, action: Action) -> Vec<Effect> {
        match action {
            Action::Quit => {
                self.should_quit = true;
                return vec![Effect::Quit];
            }
            Action::FocusNext => self.focus = self.focus.next(),
            Action::FocusPrev => self.focus = self.focus.prev(),
            Action::FocusHost => self.focus = PaneId::Host,
            Action::FocusDroplets => self.focus = PaneId::Droplets,
            Action::FocusContainers => self.focus = PaneId::Containers,
            Action::FocusLogs => self.focus = PaneId::Logs,
            Action::FocusChecks => self.focus = PaneId::Checks,
            Action::FocusModules => self.focus = PaneId::Modules,
            Action::FocusDeploy => self.focus = PaneId::Deploy,
            Action::ToggleZoom => self.zoomed = !self.zoomed,
            Action::Back => return self.back(),
            Action::PreviousHost => return self.go_to_previous_host(),
            // From the Droplets pane or the palette, whichever pane has the focus.
            Action::DropletsBootstrap => return self.bootstrap.open(),
            Action::Help => self.overlay = Overlay::Help { scroll: 0 },
            Action::Palette => self.overlay = Overlay::Palette(Palette::new(self)),
            Action::ToggleConsoleLog => self.show_console_log = !self.show_console_log,
            Action::CycleTheme => self.cycle_theme(),
            // With the link given up, refreshing anything starts with reconnecting.
            Action::Refresh if matches!(self.connection, Connection::Lost(_)) => {
                return vec![Effect::Reconnect];
            }
            _ => return self.on_pane_action(action),
        }
        Vec::new()
    }

    /// Back to the host before the last switch, once nothing else is being connected.
    fn go_to_previous_host(&mut self) -> Vec<Effect> {
        if let Some(busy) = &self.connecting {
            self.notice = Some(format!("still connecting to {busy}"));
            return Vec::new();
        }
        match &self.previous_host {
            Some(previous) => {
                self.connecting = Some(previous.clone());
                vec![Effect::PreviousHost]
            }
            None => {
                self.notice = Some("the console has not been on another host".into());
                Vec::new()
            }
        }
    }

    /// Enter on a droplet: connect to it, unless it is the host already shown or a
    /// connection is under way.
    fn connect(&mut self, effects: Vec<Effect>) -> Vec<Effect> {
        effects
            .into_iter()
            .filter(|effect| {
                let Effect::Connect(request) = effect else {
                    return true;
                };
                if let Some(busy) = &self.connecting {
                    self.notice = Some(format!("still connecting to {busy}"));
                    return false;
                }
                if self.host_label.starts_with(&format!("{} (", request.name)) {
                    self.notice = Some(format!("the console is on {} already", request.name));
                    return false;
                }
                self.connecting = Some(request.name.clone());
                self.notice = None;
                true
            })
            .collect()
    }

    /// Esc: leave the innermost thing open in the focused pane (an inspect view, evidence,
    /// a search, then a filter), else the zoom, as Esc does in any other tool.
    fn back(&mut self) -> Vec<Effect> {
        let left = match self.focus {
            PaneId::Logs => self.logs.back(),
            PaneId::Containers => self.containers.back(),
            PaneId::Checks => self.checks.back(),
            PaneId::Modules => self.modules.back(),
            PaneId::Droplets => self.droplets.back(),
            _ => None,
        };
        left.unwrap_or_else(|| {
            self.zoomed = false;
            Vec::new()
        })
    }

    fn on_pane_action(&mut self, action: Action) -> Vec<Effect> {
        self.set_viewports();
        match self.focus {
            PaneId::Host => self.host.on_action(action),
            PaneId::Logs => self.logs.on_action(action),
            PaneId::Containers => {
                let effects = self.containers.on_action(action);
                if effects
                    .iter()
                    .any(|e| matches!(e, Effect::OpenContainerLogs { .. }))
                {
                    self.focus = PaneId::Logs;
                }
                effects
            }
            PaneId::Checks => self.checks.on_action(action),
            PaneId::Deploy => self.deploy.on_action(action),
            PaneId::Modules => self.modules.on_action(action),
            PaneId::Droplets => {
                let effects = self.droplets.on_action(action);
                self.connect(effects)
            }
        }
    }

    fn run_palette_command(&mut self, command: super::palette::PaletteCommand) -> Vec<Effect> {
        use super::palette::PaletteCommand;
        match command {
            PaletteCommand::Action(action) => self.on_action(action),
            PaletteCommand::Theme(name) => {
                self.set_theme(&name);
                Vec::new()
            }
        }
    }

    fn cycle_theme(&mut self) {
        let names = self.settings.available_themes();
        let current = names.iter().position(|n| *n == self.theme.name);
        let next = current.map(|i| (i + 1) % names.len()).unwrap_or(0);
        if let Some(name) = names.get(next).cloned() {
            self.set_theme(&name);
        }
    }

    /// Switch theme; a broken user theme keeps the current one and says why.
    pub fn set_theme(&mut self, name: &str) {
        match self.settings.theme_named(name) {
            Ok(theme) => {
                self.notice = Some(format!("theme: {}", theme.name));
                tracing::info!("theme switched to {}", theme.name);
                self.theme = theme;
            }
            Err(e) => {
                let message = format!("{e}; keeping the {} theme", self.theme.name);
                tracing::warn!("{message}");
                self.last_error = Some(message);
            }
        }
    }

    /// Where a request stands in the job runner: the pane that asked follows it; a
    /// request no pane follows is never dropped unseen either.
    fn on_job(&mut self, effect: &Effect, update: JobUpdate) {
        match JobKind::of(effect) {
            Some(JobKind::Checks) => self.checks.on_job(effect, update),
            Some(JobKind::Deploy | JobKind::Releases | JobKind::DeployPlan) => {
                self.deploy.runs.on_job(effect, update)
            }
            Some(JobKind::Bootstrap) => self.bootstrap.on_job(update),
            kind => {
                if let JobUpdate::Dropped(reason) = update {
                    let why = match reason {
                        DropReason::Replaced { .. } => "replaced by a newer request",
                        DropReason::Cancelled => "cancelled",
                    };
                    // Not the effect itself: a stack plan carries the rendered secrets.
                    tracing::info!("a {kind:?} job was {why}");
                    self.notice = Some(format!("a background request was {why}"));
                }
            }
        }
    }

    /// A background result arrived.
    pub fn apply(&mut self, message: Message) -> bool {
        match message {
            Message::HostFacts(result) => {
                if let Err(e) = &result {
                    self.last_error = Some(format!("host: {e}"));
                    tracing::warn!("host refresh failed: {e}");
                }
                self.host.apply(result);
            }
            Message::Logs(snapshot) => self.logs.apply(snapshot),
            Message::Containers(model) => {
                let now = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_or(0, |d| d.as_secs() as i64);
                self.containers.apply(model, now);
            }
            Message::Docker(event) => self.containers.apply_event(event),
            Message::ChecksReport(result) => self
                .checks
                .apply_report(result.map(|(report, nginx)| (*report, nginx))),
            Message::StackPlanned(request, result) => self.deploy.apply_plan(request, result),
            Message::StackWritten(result) => {
                if let Err(e) = &result {
                    tracing::warn!("writing the stack's files failed: {e}");
                }
                self.deploy.apply_written(result);
            }
            Message::CheckRerun(result) => self.checks.apply_rerun(result),
            Message::HostNotice(note) => {
                tracing::warn!("{note}");
                self.last_error = Some(note);
            }
            Message::Job(effect, update) => self.on_job(&effect, update),
            Message::Modules(result) => self.modules.apply(result),
            Message::ModulesDisk(result) => self.modules.apply_disk(result),
            Message::ModulePlanRead(result) => self.modules.apply_plan_read(result),
            Message::ModuleRunLine(line) => self.modules.apply_run_line(line),
            Message::ModuleRunDone(result) => self.modules.apply_run_done(result),
            Message::ModulesReset(result) => self.modules.apply_reset(result),
            Message::Droplets(event) => self.droplets.apply(event),
            Message::Bootstrap(event) => self.bootstrap.apply(event),
            Message::Deploys(result) => {
                if self.deploy.apply_deploys(result)
                    && let Some(d) = &self.deploy.runs.unfinished
                {
                    self.notice = Some(format!(
                        "an unfinished {} of {}: resume or roll back in the Deploy pane",
                        d.operation, d.to.tag
                    ));
                }
            }
            Message::DeployStep(step) => self.deploy.runs.apply_step(step),
            Message::DeployPreviewed(result) => self.deploy.runs.apply_preview(result),
            Message::DeployPlanRead(path, result) => self.deploy.runs.apply_plan_read(path, result),
            Message::DeployDone(done) => {
                if done.verdict != crate::deploy::orchestrate::Verdict::Passed {
                    tracing::warn!("deploy: {}", done.message);
                }
                self.deploy.runs.apply_done(done);
            }
            Message::FixApplied(result) => {
                if let Err(e) = &result {
                    tracing::warn!("applying a fix failed: {e}");
                }
                self.checks.apply_fix_result(result);
            }
        }
        true
    }
}
