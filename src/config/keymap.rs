//! Keys as data: every action is rebindable, per context. Built-in keymaps are embedded
//! from `keymaps/`; a user keymap names only the actions it rebinds.

use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;
use std::str::FromStr;

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use serde::Deserialize;
use toml::Spanned;

use super::file_error::{FileError, parse_toml};

pub const PRESETS: [(&str, &str); 2] = [
    ("default", include_str!("../../keymaps/default.toml")),
    ("vim", include_str!("../../keymaps/vim.toml")),
];

/// Where a key is looked up: a modal context first, then `global`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Context {
    /// Anywhere, unless a modal context took the key.
    Global,
    /// Moving within the focused pane.
    Pane,
    /// The help overlay.
    Help,
    /// The command palette (printable keys are typed into it).
    Palette,
    /// A yes/no question before a change.
    Confirm,
    /// The focused Logs pane (then `pane`, then `global`).
    Logs,
    /// The focused Containers pane (then `pane`, then `global`).
    Containers,
    /// The focused Checks pane (then `pane`, then `global`).
    Checks,
    /// The focused Deploy pane (then `pane`, then `global`).
    Deploy,
    /// The focused Modules pane (then `pane`, then `global`).
    Modules,
    /// The focused Droplets pane (then `pane`, then `global`).
    Droplets,
    /// The bootstrap wizard's form (printable keys are typed into the field).
    Wizard,
    /// The bootstrap wizard's steps as they run (then `up`/`down` of `pane`, `back` of
    /// `global` to close it).
    WizardSteps,
}

impl Context {
    pub const ALL: [Context; 13] = [
        Context::Global,
        Context::Pane,
        Context::Droplets,
        Context::Logs,
        Context::Containers,
        Context::Checks,
        Context::Deploy,
        Context::Modules,
        Context::Help,
        Context::Palette,
        Context::Confirm,
        Context::Wizard,
        Context::WizardSteps,
    ];

    /// A pane's own context: looked up before `pane` and `global`, and may not shadow them.
    pub fn is_pane_specific(self) -> bool {
        matches!(
            self,
            Context::Logs
                | Context::Containers
                | Context::Checks
                | Context::Deploy
                | Context::Modules
                | Context::Droplets
        )
    }

    pub fn name(self) -> &'static str {
        match self {
            Context::Global => "global",
            Context::Pane => "pane",
            Context::Help => "help",
            Context::Palette => "palette",
            Context::Confirm => "confirm",
            Context::Logs => "logs",
            Context::Containers => "containers",
            Context::Checks => "checks",
            Context::Deploy => "deploy",
            Context::Modules => "modules",
            Context::Droplets => "droplets",
            Context::Wizard => "wizard",
            Context::WizardSteps => "wizard_steps",
        }
    }
}

macro_rules! actions {
    ($($variant:ident $name:literal in $ctx:ident: $doc:literal,)*) => {
        /// Everything a key can do.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub enum Action { $(#[doc = $doc] $variant,)* }

        impl Action {
            pub const ALL: &[Action] = &[$(Action::$variant,)*];
            pub fn name(self) -> &'static str { match self { $(Action::$variant => $name,)* } }
            pub fn description(self) -> &'static str { match self { $(Action::$variant => $doc,)* } }
            pub fn context(self) -> Context { match self { $(Action::$variant => Context::$ctx,)* } }
            pub fn from_name(name: &str) -> Option<Action> {
                match name { $($name => Some(Action::$variant),)* _ => None }
            }
        }
    };
}

actions! {
    Quit "quit" in Global: "quit the console",
    FocusNext "focus_next" in Global: "focus the next pane",
    FocusPrev "focus_prev" in Global: "focus the previous pane",
    FocusHost "focus_host" in Global: "focus the Host pane",
    FocusDroplets "focus_droplets" in Global: "focus the Droplets pane",
    FocusContainers "focus_containers" in Global: "focus the Containers pane",
    FocusLogs "focus_logs" in Global: "focus the Logs pane",
    FocusChecks "focus_checks" in Global: "focus the Checks pane",
    FocusModules "focus_modules" in Global: "focus the Modules pane",
    FocusDeploy "focus_deploy" in Global: "focus the Deploy pane",
    ToggleZoom "toggle_zoom" in Global: "zoom the focused pane, or unzoom",
    Help "help" in Global: "show the keys of the active keymap",
    Palette "palette" in Global: "open the command palette",
    ToggleConsoleLog "toggle_console_log" in Global: "show or hide the console's own log",
    CycleTheme "cycle_theme" in Global: "switch to the next theme",
    Refresh "refresh" in Global: "refresh the focused pane now",
    Back "back" in Global: "leave what is open: a search, a filter, evidence, inspect, zoom",
    PreviousHost "previous_host" in Global: "connect the console back to the host it was on before",
    Up "up" in Pane: "move up",
    Down "down" in Pane: "move down",
    PageUp "page_up" in Pane: "move a page up",
    PageDown "page_down" in Pane: "move a page down",
    Top "top" in Pane: "go to the first line",
    Bottom "bottom" in Pane: "go to the last line",
    CloseHelp "close" in Help: "close the help",
    HelpUp "scroll_up" in Help: "scroll the help up",
    HelpDown "scroll_down" in Help: "scroll the help down",
    PaletteClose "close_palette" in Palette: "close the palette",
    PaletteRun "run" in Palette: "run the selected command",
    PaletteUp "previous" in Palette: "select the previous command",
    PaletteDown "next" in Palette: "select the next command",
    Confirm "yes" in Confirm: "confirm the change",
    Cancel "no" in Confirm: "cancel",
    LogsFollow "toggle_follow" in Logs: "follow the newest lines, or pause",
    LogsFilter "filter" in Logs: "filter by a regex (empty clears)",
    LogsSearch "search" in Logs: "search a regex and highlight it",
    LogsNextMatch "next_match" in Logs: "jump to the next search match",
    LogsPrevMatch "prev_match" in Logs: "jump to the previous search match",
    LogsNextError "next_error" in Logs: "jump to the next error",
    LogsPrevError "prev_error" in Logs: "jump to the previous error",
    LogsLevel "cycle_level" in Logs: "show only this level and worse (cycles)",
    LogsSource "cycle_source" in Logs: "show one source, then the next, then all",
    LogsWrap "toggle_wrap" in Logs: "wrap long lines, or cut them",
    LogsScrollLeft "scroll_left" in Logs: "scroll long lines left (wrap off)",
    LogsScrollRight "scroll_right" in Logs: "scroll long lines right (wrap off)",
    LogsExport "export" in Logs: "write the current view to a file",
    ContainerLogs "open_logs" in Containers: "show the selected container's logs",
    ContainerInspect "inspect" in Containers: "inspect the selected container (JSON)",
    ContainerRestart "restart" in Containers: "restart the selected container (asks first)",
    ContainerStop "stop" in Containers: "stop the selected container (asks first)",
    ContainerStart "start" in Containers: "start the selected container (asks first)",
    ChecksStep "step" in Checks: "run the diagnosis and reveal the next check",
    ChecksRunAll "run_all" in Checks: "run every check",
    ChecksRerun "rerun" in Checks: "re-run the selected check",
    ChecksEvidence "evidence" in Checks: "open or close the selected check's evidence",
    ChecksApplyFix "apply_fix" in Checks: "apply the selected check's fix (shows the diff, asks first)",
    DeployEdit "edit" in Deploy: "edit the selected field (a choice steps to its next value)",
    DeployPreview "preview" in Deploy: "render the stack's files and show what would change",
    DeployWrite "write" in Deploy: "write the previewed files (asks first; backups kept)",
    DeployHistory "history" in Deploy: "show the releases and deploys, or the stack files",
    DeployRollback "rollback" in Deploy: "roll back to the selected release, or an unfinished deploy (asks first)",
    DeployResume "resume" in Deploy: "resume the unfinished deploy (asks first)",
    DeployNew "deploy" in Deploy: "deploy a new tag, modules optional (asks first)",
    ModulesFilter "filter_name" in Modules: "filter modules by name (empty clears)",
    ModulesState "cycle_state" in Modules: "show one module state, then the next, then all",
    ModulesDetail "detail" in Modules: "open or close the selected module's dependencies",
    ModulesMark "mark" in Modules: "mark or unmark the selected module for install or upgrade",
    ModulesInstall "install" in Modules: "install the marked (else the selected) modules (asks first)",
    ModulesUpgrade "upgrade" in Modules: "upgrade the marked (else the selected) modules (asks first)",
    ModulesPlanFile "run_plan" in Modules: "run a module plan file (TOML phases; asks first)",
    ModulesResetPending "reset_pending" in Modules: "reset pending modules as Odoo's cancel buttons do (asks first)",
    DropletsFilterName "filter_by_name" in Droplets: "filter droplets by a part of the name (empty clears)",
    DropletsFilterTag "filter_by_tag" in Droplets: "filter droplets by a tag (empty clears)",
    DropletsReboot "reboot" in Droplets: "reboot the selected droplet (asks first)",
    DropletsPowerCycle "power_cycle" in Droplets: "power cycle the selected droplet (asks first)",
    DropletsSnapshot "snapshot" in Droplets: "snapshot the selected droplet (asks first)",
    DropletsConnect "connect" in Droplets: "connect the console to the selected droplet",
    DropletsBootstrap "new_droplet" in Droplets: "new droplet: open the bootstrap wizard (a form, then its eight steps)",
    WizardNextField "next_field" in Wizard: "go to the next field",
    WizardPrevField "previous_field" in Wizard: "go to the previous field",
    WizardNextChoice "next_choice" in Wizard: "put the account's next region, size or SSH key in the field",
    WizardStart "start_bootstrap" in Wizard: "start the bootstrap once every field is valid (asks first)",
    WizardClose "close_wizard" in Wizard: "undo the edit of this field, else close the wizard (answers kept)",
    WizardContinue "continue" in WizardSteps: "continue: run the failed or remaining steps again",
    WizardSkip "skip_step" in WizardSteps: "leave the failed step out this run and go on",
    WizardUndo "undo" in WizardSteps: "undo: delete the droplet this bootstrap created (asks first)",
    WizardGoBack "go_back" in WizardSteps: "go back to the selected step: it and those after it run again",
    WizardEditAnswers "edit_answers" in WizardSteps: "back to the form (answers kept)",
}

/// A key with its modifiers, written like `ctrl+c`, `shift+tab`, `?`, `f5`, `pagedown`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct KeyBinding {
    pub code: KeyCodeOrd,
    pub modifiers: u8,
}

/// `KeyCode` with an order, so bindings sort stably in help.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum KeyCodeOrd {
    Char(char),
    F(u8),
    Named(u8),
}

const NAMED: [(&str, KeyCode); 14] = [
    ("enter", KeyCode::Enter),
    ("esc", KeyCode::Esc),
    ("tab", KeyCode::Tab),
    ("backtab", KeyCode::BackTab),
    ("backspace", KeyCode::Backspace),
    ("up", KeyCode::Up),
    ("down", KeyCode::Down),
    ("left", KeyCode::Left),
    ("right", KeyCode::Right),
    ("home", KeyCode::Home),
    ("end", KeyCode::End),
    ("pageup", KeyCode::PageUp),
    ("pagedown", KeyCode::PageDown),
    ("delete", KeyCode::Delete),
];

const CTRL: u8 = 1;
const ALT: u8 = 2;
const SHIFT: u8 = 4;

impl KeyBinding {
    /// The binding a terminal key event matches. Shift is folded into the character for
    /// printable keys (`G`, `?`), as terminals report it both ways.
    pub fn from_event(event: &KeyEvent) -> Option<KeyBinding> {
        let mut modifiers = 0;
        if event.modifiers.contains(KeyModifiers::CONTROL) {
            modifiers |= CTRL;
        }
        if event.modifiers.contains(KeyModifiers::ALT) {
            modifiers |= ALT;
        }
        let code = match event.code {
            KeyCode::Char(c) => {
                let c = if modifiers & CTRL != 0 {
                    c.to_ascii_lowercase()
                } else {
                    c
                };
                KeyCodeOrd::Char(c)
            }
            KeyCode::F(n) => KeyCodeOrd::F(n),
            KeyCode::BackTab => {
                return Some(KeyBinding {
                    code: named_index(KeyCode::BackTab)?,
                    modifiers,
                });
            }
            other => {
                if event.modifiers.contains(KeyModifiers::SHIFT) {
                    modifiers |= SHIFT;
                }
                named_index(other)?
            }
        };
        Some(KeyBinding { code, modifiers })
    }
}

fn named_index(code: KeyCode) -> Option<KeyCodeOrd> {
    NAMED
        .iter()
        .position(|(_, c)| *c == code)
        .map(|i| KeyCodeOrd::Named(i as u8))
}

impl FromStr for KeyBinding {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        let mut modifiers = 0;
        let mut rest = text;
        loop {
            let lower = rest.to_ascii_lowercase();
            if let Some(r) = lower.strip_prefix("ctrl+").map(|_| &rest[5..]) {
                modifiers |= CTRL;
                rest = r;
            } else if let Some(r) = lower.strip_prefix("alt+").map(|_| &rest[4..]) {
                modifiers |= ALT;
                rest = r;
            } else if let Some(r) = lower.strip_prefix("shift+").map(|_| &rest[6..]) {
                modifiers |= SHIFT;
                rest = r;
            } else {
                break;
            }
        }
        let mut chars = rest.chars();
        let code = match (chars.next(), chars.next()) {
            (Some(c), None) => {
                if modifiers & SHIFT != 0 {
                    // `shift+g` is how terminals send `G`.
                    modifiers &= !SHIFT;
                    KeyCodeOrd::Char(c.to_ascii_uppercase())
                } else if modifiers & CTRL != 0 {
                    KeyCodeOrd::Char(c.to_ascii_lowercase())
                } else {
                    KeyCodeOrd::Char(c)
                }
            }
            _ => {
                let lower = rest.to_ascii_lowercase();
                if lower == "space" {
                    KeyCodeOrd::Char(' ')
                } else if let Some(n) = lower.strip_prefix('f').and_then(|n| n.parse::<u8>().ok()) {
                    KeyCodeOrd::F(n)
                } else if lower == "shift+tab" {
                    named_index(KeyCode::BackTab).expect("backtab is named")
                } else if let Some(i) = NAMED.iter().position(|(n, _)| *n == lower) {
                    if NAMED[i].1 == KeyCode::Tab && modifiers & SHIFT != 0 {
                        modifiers &= !SHIFT;
                        named_index(KeyCode::BackTab).expect("backtab is named")
                    } else {
                        KeyCodeOrd::Named(i as u8)
                    }
                } else {
                    return Err(format!(
                        "`{text}` is not a key; write a character, f1-f12, space, or one of {}, with optional ctrl+, alt+, shift+",
                        NAMED.iter().map(|(n, _)| *n).collect::<Vec<_>>().join(", ")
                    ));
                }
            }
        };
        Ok(KeyBinding { code, modifiers })
    }
}

impl fmt::Display for KeyBinding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.modifiers & CTRL != 0 {
            write!(f, "ctrl+")?;
        }
        if self.modifiers & ALT != 0 {
            write!(f, "alt+")?;
        }
        if self.modifiers & SHIFT != 0 {
            write!(f, "shift+")?;
        }
        match self.code {
            KeyCodeOrd::Char(' ') => write!(f, "space"),
            KeyCodeOrd::Char(c) => write!(f, "{c}"),
            KeyCodeOrd::F(n) => write!(f, "f{n}"),
            KeyCodeOrd::Named(i) => write!(f, "{}", NAMED[i as usize].0),
        }
    }
}

/// Bindings of one context: key → action, and its reverse for help.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Keymap {
    pub name: String,
    bindings: BTreeMap<Context, BTreeMap<Action, Vec<KeyBinding>>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct KeymapFile {
    name: Option<String>,
    extends: Option<Spanned<String>>,
    global: Option<ContextTable>,
    pane: Option<ContextTable>,
    logs: Option<ContextTable>,
    containers: Option<ContextTable>,
    checks: Option<ContextTable>,
    deploy: Option<ContextTable>,
    modules: Option<ContextTable>,
    droplets: Option<ContextTable>,
    wizard: Option<ContextTable>,
    wizard_steps: Option<ContextTable>,
    help: Option<ContextTable>,
    palette: Option<ContextTable>,
    confirm: Option<ContextTable>,
}

type ContextTable = BTreeMap<Spanned<String>, Vec<Spanned<String>>>;

impl KeymapFile {
    fn contexts(&self) -> impl Iterator<Item = (Context, &ContextTable)> {
        [
            (Context::Global, &self.global),
            (Context::Pane, &self.pane),
            (Context::Logs, &self.logs),
            (Context::Containers, &self.containers),
            (Context::Checks, &self.checks),
            (Context::Deploy, &self.deploy),
            (Context::Modules, &self.modules),
            (Context::Droplets, &self.droplets),
            (Context::Wizard, &self.wizard),
            (Context::WizardSteps, &self.wizard_steps),
            (Context::Help, &self.help),
            (Context::Palette, &self.palette),
            (Context::Confirm, &self.confirm),
        ]
        .into_iter()
        .filter_map(|(c, t)| t.as_ref().map(|t| (c, t)))
    }
}

impl Keymap {
    /// The built-in default keymap, as code; `keymaps/default.toml` must equal it.
    pub fn builtin() -> Keymap {
        use Action::*;
        let table: &[(Action, &[&str])] = &[
            (Quit, &["q", "ctrl+c"]),
            (FocusNext, &["tab"]),
            (FocusPrev, &["backtab"]),
            (FocusHost, &["1"]),
            (FocusDroplets, &["2"]),
            (FocusContainers, &["3"]),
            (FocusLogs, &["4"]),
            (FocusChecks, &["5"]),
            (FocusModules, &["6"]),
            (FocusDeploy, &["7"]),
            (ToggleZoom, &["z"]),
            (Help, &["?", "f1"]),
            (Palette, &[":", "ctrl+p"]),
            (ToggleConsoleLog, &["`"]),
            (CycleTheme, &["T"]),
            (Refresh, &["r", "f5"]),
            (Back, &["esc"]),
            (PreviousHost, &["B"]),
            (Up, &["up"]),
            (Down, &["down"]),
            (PageUp, &["pageup"]),
            (PageDown, &["pagedown"]),
            (Top, &["home"]),
            (Bottom, &["end"]),
            (CloseHelp, &["esc", "?", "q"]),
            (HelpUp, &["up"]),
            (HelpDown, &["down"]),
            (PaletteClose, &["esc"]),
            (PaletteRun, &["enter"]),
            (PaletteUp, &["up"]),
            (PaletteDown, &["down"]),
            (Confirm, &["y"]),
            (Cancel, &["n", "esc"]),
            (LogsFollow, &["f"]),
            (LogsFilter, &["&"]),
            (LogsSearch, &["/"]),
            (LogsNextMatch, &["n"]),
            (LogsPrevMatch, &["N"]),
            (LogsNextError, &["e"]),
            (LogsPrevError, &["E"]),
            (LogsLevel, &["L"]),
            (LogsSource, &["s"]),
            (LogsWrap, &["w"]),
            (LogsScrollLeft, &["left"]),
            (LogsScrollRight, &["right"]),
            (LogsExport, &["x"]),
            (ContainerLogs, &["enter"]),
            (ContainerInspect, &["i"]),
            (ContainerRestart, &["R"]),
            (ContainerStop, &["S"]),
            (ContainerStart, &["U"]),
            (ChecksStep, &["s"]),
            (ChecksRunAll, &["a"]),
            (ChecksRerun, &["R"]),
            (ChecksEvidence, &["enter"]),
            (ChecksApplyFix, &["F"]),
            (DeployEdit, &["enter"]),
            (DeployPreview, &["p"]),
            (DeployWrite, &["w"]),
            (DeployHistory, &["d"]),
            (DeployRollback, &["b"]),
            (DeployResume, &["c"]),
            (DeployNew, &["t"]),
            (ModulesFilter, &["/"]),
            (ModulesState, &["s"]),
            (ModulesDetail, &["enter"]),
            (ModulesMark, &["space"]),
            (ModulesInstall, &["i"]),
            (ModulesUpgrade, &["u"]),
            (ModulesPlanFile, &["p"]),
            (ModulesResetPending, &["X"]),
            (DropletsFilterName, &["/"]),
            (DropletsFilterTag, &["t"]),
            (DropletsReboot, &["R"]),
            (DropletsPowerCycle, &["P"]),
            (DropletsSnapshot, &["S"]),
            (DropletsConnect, &["enter"]),
            (DropletsBootstrap, &["n"]),
            (WizardNextField, &["tab", "down"]),
            (WizardPrevField, &["backtab", "up"]),
            (WizardNextChoice, &["pagedown"]),
            (WizardStart, &["enter"]),
            (WizardClose, &["esc"]),
            (WizardContinue, &["r"]),
            (WizardSkip, &["s"]),
            (WizardUndo, &["u"]),
            (WizardGoBack, &["b"]),
            (WizardEditAnswers, &["e"]),
        ];
        let mut keymap = Keymap {
            name: "default".into(),
            bindings: BTreeMap::new(),
        };
        for (action, keys) in table {
            let keys = keys
                .iter()
                .map(|k| k.parse().expect("built-in keys parse"))
                .collect();
            keymap
                .bindings
                .entry(action.context())
                .or_default()
                .insert(*action, keys);
        }
        keymap
    }

    pub fn preset(name: &str) -> Option<Keymap> {
        let (_, text) = PRESETS.iter().find(|(n, _)| *n == name)?;
        let path = Path::new("keymaps").join(format!("{name}.toml"));
        Some(Keymap::parse(&path, text).expect("shipped keymaps parse (tested)"))
    }

    /// Parse a keymap file over the keymap it extends (`default` unless named). Each
    /// action it names gets exactly the keys it lists; `[]` unbinds an action.
    pub fn parse(path: &Path, text: &str) -> Result<Keymap, FileError> {
        let file: KeymapFile = parse_toml(path, text)?;
        let at = |offset: usize, msg: String| FileError::at(path, text, offset, msg);
        let mut keymap = match &file.extends {
            None => Keymap::builtin(),
            Some(base) if base.get_ref() == "default" => Keymap::builtin(),
            Some(base) => match PRESETS.iter().find(|(n, _)| *n == base.get_ref()) {
                Some((name, preset)) => {
                    Keymap::parse(&Path::new("keymaps").join(format!("{name}.toml")), preset)?
                }
                None => {
                    return Err(at(
                        base.span().start,
                        format!(
                            "unknown keymap `{}` to extend; built-in keymaps are default, vim",
                            base.get_ref()
                        ),
                    ));
                }
            },
        };
        // Where each (context, key) was bound in this file, to point at the clash.
        let mut named_here: BTreeMap<(Context, KeyBinding), usize> = BTreeMap::new();
        for (context, actions) in file.contexts() {
            for (action_name, keys) in actions {
                let action = Action::from_name(action_name.get_ref())
                    .filter(|a| a.context() == context)
                    .ok_or_else(|| {
                        let known: Vec<&str> = Action::ALL
                            .iter()
                            .filter(|a| a.context() == context)
                            .map(|a| a.name())
                            .collect();
                        let mut e = at(
                            action_name.span().start,
                            format!(
                                "no action `{}` in [{}]; its actions are {}",
                                action_name.get_ref(),
                                context.name(),
                                known.join(", ")
                            ),
                        );
                        e.key = Some(action_name.get_ref().clone());
                        e
                    })?;
                let mut parsed = Vec::new();
                for key in keys {
                    let binding: KeyBinding = key.get_ref().parse().map_err(|msg| {
                        let mut e = at(key.span().start, msg);
                        e.key = Some(action.name().into());
                        e
                    })?;
                    named_here.insert((context, binding), key.span().start);
                    parsed.push(binding);
                }
                keymap
                    .bindings
                    .entry(context)
                    .or_default()
                    .insert(action, parsed);
            }
        }
        if let Some((context, key, first, second)) = keymap.first_clash() {
            let offset = named_here.get(&(context, key)).copied().unwrap_or(0);
            let mut e = at(
                offset,
                format!(
                    "key `{key}` is bound to both `{}` and `{}` in [{}]; unbind one (an action may be set to [])",
                    first.name(),
                    second.name(),
                    context.name()
                ),
            );
            e.key = Some(second.name().into());
            return Err(e);
        }
        keymap.name = file.name.unwrap_or_else(|| {
            path.file_stem()
                .unwrap_or_default()
                .to_string_lossy()
                .into()
        });
        Ok(keymap)
    }

    /// Two actions on one key in one context. Global keys may be shadowed by a modal
    /// context on purpose (`q` closes help instead of quitting).
    fn first_clash(&self) -> Option<(Context, KeyBinding, Action, Action)> {
        for (context, actions) in &self.bindings {
            let mut seen: BTreeMap<KeyBinding, Action> = BTreeMap::new();
            for (action, keys) in actions {
                for key in keys {
                    if let Some(first) = seen.insert(*key, *action) {
                        return Some((*context, *key, first, *action));
                    }
                }
            }
        }
        // The pane context is reached through global keys too, so a clash there is real;
        // a pane's own context is reached through both.
        let empty = BTreeMap::new();
        let global = self.bindings.get(&Context::Global).unwrap_or(&empty);
        let pane = self.bindings.get(&Context::Pane).unwrap_or(&empty);
        let clash = |ctx: Context,
                     upper: &BTreeMap<Action, Vec<KeyBinding>>,
                     lower: &BTreeMap<Action, Vec<KeyBinding>>| {
            for (u_action, u_keys) in upper {
                for (l_action, l_keys) in lower {
                    if let Some(key) = u_keys.iter().find(|k| l_keys.contains(k)) {
                        return Some((ctx, *key, *u_action, *l_action));
                    }
                }
            }
            None
        };
        if let Some(c) = clash(Context::Pane, global, pane) {
            return Some(c);
        }
        for ctx in Context::ALL.into_iter().filter(|c| c.is_pane_specific()) {
            let own = self.bindings.get(&ctx).unwrap_or(&empty);
            if let Some(c) = clash(ctx, global, own).or_else(|| clash(ctx, pane, own)) {
                return Some(c);
            }
        }
        None
    }

    /// The action a key means in `context`. `pane` falls back to `global`.
    pub fn action(&self, context: Context, key: &KeyEvent) -> Option<Action> {
        let binding = KeyBinding::from_event(key)?;
        let lookup = |ctx: Context| {
            self.bindings.get(&ctx).and_then(|actions| {
                actions
                    .iter()
                    .find(|(_, keys)| keys.contains(&binding))
                    .map(|(a, _)| *a)
            })
        };
        match context {
            Context::Pane | Context::Global => {
                lookup(Context::Pane).or_else(|| lookup(Context::Global))
            }
            own if own.is_pane_specific() => lookup(own)
                .or_else(|| lookup(Context::Pane))
                .or_else(|| lookup(Context::Global)),
            modal => lookup(modal),
        }
    }

    pub fn keys(&self, action: Action) -> &[KeyBinding] {
        self.bindings
            .get(&action.context())
            .and_then(|a| a.get(&action))
            .map(Vec::as_slice)
            .unwrap_or(&[])
    }

    /// The key a hint names for an action: its first binding, `None` when unbound.
    pub fn first_key(&self, action: Action) -> Option<String> {
        self.keys(action).first().map(ToString::to_string)
    }

    /// The key that does `action`, for a sentence; `(unbound)` when none does.
    pub fn key_for_sentence(&self, action: Action) -> String {
        self.first_key(action).unwrap_or_else(|| "(unbound)".into())
    }

    /// `?`/`f1`: the keys of an action as help shows them.
    pub fn keys_label(&self, action: Action) -> String {
        let keys = self.keys(action);
        if keys.is_empty() {
            "(unbound)".into()
        } else {
            keys.iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(" ")
        }
    }
}

pub fn preset_names() -> String {
    PRESETS
        .iter()
        .map(|(n, _)| *n)
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(code: KeyCode, mods: KeyModifiers) -> KeyEvent {
        KeyEvent::new(code, mods)
    }

    #[test]
    fn shipped_default_equals_the_built_in() {
        assert_eq!(Keymap::preset("default").unwrap(), Keymap::builtin());
    }

    #[test]
    fn shipped_vim_parses_and_moves_with_hjkl() {
        let vim = Keymap::preset("vim").unwrap();
        assert_eq!(
            vim.action(Context::Pane, &key(KeyCode::Char('j'), KeyModifiers::NONE)),
            Some(Action::Down)
        );
        assert_eq!(
            vim.action(Context::Pane, &key(KeyCode::Char('G'), KeyModifiers::SHIFT)),
            Some(Action::Bottom)
        );
    }

    #[test]
    fn every_action_has_a_key_in_the_default() {
        let k = Keymap::builtin();
        for a in Action::ALL {
            assert!(!k.keys(*a).is_empty(), "{} unbound", a.name());
        }
    }

    #[test]
    fn a_user_keymap_overrides_only_what_it_names() {
        let k = Keymap::parse(Path::new("mine.toml"), "[global]\nquit = [\"ctrl+q\"]\n").unwrap();
        assert_eq!(
            k.action(
                Context::Global,
                &key(KeyCode::Char('q'), KeyModifiers::CONTROL)
            ),
            Some(Action::Quit)
        );
        assert_eq!(
            k.action(
                Context::Global,
                &key(KeyCode::Char('q'), KeyModifiers::NONE)
            ),
            None
        );
        assert_eq!(k.keys(Action::Help), Keymap::builtin().keys(Action::Help));
    }

    #[test]
    fn two_actions_on_one_key_is_an_error_naming_the_line() {
        let e = Keymap::parse(Path::new("k.toml"), "[global]\n\nrefresh = [\"q\"]\n").unwrap_err();
        assert_eq!((e.line, e.column), (3, 12));
        assert!(
            e.message
                .contains("`q` is bound to both `quit` and `refresh`"),
            "{e}"
        );
    }

    #[test]
    fn bad_key_and_unknown_action_are_located() {
        let e = Keymap::parse(Path::new("k.toml"), "[global]\nquit = [\"ctrl+\"]\n").unwrap_err();
        assert_eq!((e.line, e.key.as_deref()), (2, Some("quit")));
        let e = Keymap::parse(Path::new("k.toml"), "[pane]\nfly = [\"x\"]\n").unwrap_err();
        assert_eq!((e.line, e.key.as_deref()), (2, Some("fly")));
        assert!(e.message.contains("no action `fly` in [pane]"));
    }

    #[test]
    fn pane_keys_fall_back_to_pane_and_global_and_may_not_shadow_them() {
        let k = Keymap::builtin();
        let press = |c| key(KeyCode::Char(c), KeyModifiers::NONE);
        assert_eq!(
            k.action(Context::Logs, &press('e')),
            Some(Action::LogsNextError)
        );
        assert_eq!(k.action(Context::Logs, &press('q')), Some(Action::Quit));
        assert_eq!(
            k.action(Context::Containers, &key(KeyCode::Down, KeyModifiers::NONE)),
            Some(Action::Down)
        );
        // `e` means nothing in the Host pane.
        assert_eq!(k.action(Context::Pane, &press('e')), None);
        let e = Keymap::parse(Path::new("k.toml"), "[logs]\nexport = [\"q\"]\n").unwrap_err();
        assert!(
            e.message
                .contains("`q` is bound to both `quit` and `export`"),
            "{e}"
        );
    }

    #[test]
    fn keys_round_trip_through_text() {
        for text in [
            "q", "ctrl+c", "backtab", "f5", "?", "G", "space", "pagedown", "alt+x",
        ] {
            let k: KeyBinding = text.parse().unwrap();
            assert_eq!(k.to_string(), text);
        }
        assert_eq!("shift+g".parse::<KeyBinding>().unwrap().to_string(), "G");
        assert_eq!(
            "shift+tab".parse::<KeyBinding>().unwrap().to_string(),
            "backtab"
        );
    }
}
