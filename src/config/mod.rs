//! What the operator configures: `config.toml` (hosts, defaults), themes and keymaps.
//!
//! Files live in the XDG config dir (`~/.config/odoo-ops/`). A broken file found there is
//! a warning and the defaults are used; a broken file named on the command line is an
//! error, because the operator asked for exactly that file.

pub mod file_error;
pub mod keymap;
pub mod theme;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use color_eyre::eyre::{Result, eyre};
use serde::Deserialize;

pub use file_error::FileError;
pub use keymap::Keymap;
pub use theme::Theme;

/// `config.toml`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Theme name or file used when `--theme` is not given.
    pub theme: Option<String>,
    /// Keymap name or file used when `--keymap` is not given.
    pub keymap: Option<String>,
    /// Hosts by alias: `odoo-ops prod` connects to `hosts.prod`.
    #[serde(default)]
    pub hosts: BTreeMap<String, HostEntry>,
    #[serde(default)]
    pub logs: LogsConfig,
    #[serde(default)]
    pub backup: BackupConfig,
    #[serde(default)]
    pub verify: VerifyConfig,
    #[serde(default)]
    pub digitalocean: DigitalOceanConfig,
}

/// `[digitalocean]`: the API token when neither `DIGITALOCEAN_ACCESS_TOKEN` nor doctl's
/// config has one, and the API's address (as `DIGITALOCEAN_API_URL`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DigitalOceanConfig {
    /// Its `Debug` is redacted: a printed config never shows it.
    pub token: Option<crate::digitalocean::Token>,
    pub api_url: Option<String>,
}

/// `[backup]`: where `odoo-ops backup` (and deploy's backup) writes, and how many it keeps.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BackupConfig {
    /// Default: `backups/` in the state dir.
    pub dir: Option<PathBuf>,
    /// Keep this many newest backups of each database (default 7).
    pub keep: Option<usize>,
    /// The compose project of the stack (default `odoo`).
    pub compose_project: Option<String>,
    /// The database (default `odoo`).
    pub db: Option<String>,
}

/// `[verify]`: the operator's own gates (`[[verify.gates]]`, see [`crate::verify::extra`]).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VerifyConfig {
    #[serde(default)]
    pub gates: Vec<crate::verify::ExtraGate>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HostEntry {
    /// Address or name to connect to.
    pub host: String,
    pub user: Option<String>,
    pub port: Option<u16>,
    pub identity_file: Option<PathBuf>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogsConfig {
    /// Lines kept in memory by the Logs pane.
    pub buffer_lines: usize,
}

impl Default for LogsConfig {
    fn default() -> Self {
        Self {
            buffer_lines: 100_000,
        }
    }
}

/// Which files to load; `None` means "the usual place, if there is one".
#[derive(Debug, Clone, Default)]
pub struct LoadOptions {
    pub config: Option<PathBuf>,
    pub theme: Option<String>,
    pub keymap: Option<String>,
}

/// Everything loaded, plus warnings about files that were skipped.
#[derive(Debug, Clone)]
pub struct Settings {
    pub config: Config,
    pub theme: Theme,
    pub keymap: Keymap,
    /// The config dir that was searched, for help texts.
    pub config_dir: Option<PathBuf>,
    pub warnings: Vec<String>,
    /// Every theme the console can switch to, read once at start so a switch is no I/O:
    /// presets and the user's `themes/*.toml`, each loaded or with the reason it is broken.
    pub themes: Vec<(String, std::result::Result<Theme, String>)>,
}

/// `$XDG_CONFIG_HOME/odoo-ops`, or `~/.config/odoo-ops`.
pub fn config_dir() -> Option<PathBuf> {
    directories::ProjectDirs::from("", "", "odoo-ops").map(|d| d.config_dir().to_path_buf())
}

/// `$XDG_STATE_HOME/odoo-ops` (journals, the console's log), falling back to the data dir.
pub fn state_dir() -> Option<PathBuf> {
    directories::ProjectDirs::from("", "", "odoo-ops")
        .map(|d| d.state_dir().unwrap_or(d.data_local_dir()).to_path_buf())
}

impl Settings {
    /// The built-in defaults with no files read: for tests and screenshots.
    pub fn builtin() -> Settings {
        Settings {
            config: Config::default(),
            theme: Theme::default(),
            keymap: Keymap::builtin(),
            config_dir: None,
            warnings: Vec::new(),
            themes: load_themes(None),
        }
    }

    /// Load config, theme and keymap. Errors only for files named explicitly.
    pub fn load(options: &LoadOptions) -> Result<Settings> {
        let dir = config_dir();
        let mut warnings = Vec::new();

        let config = match &options.config {
            Some(path) => load_config(path)?,
            None => match dir
                .as_ref()
                .map(|d| d.join("config.toml"))
                .filter(|p| p.exists())
            {
                Some(path) => load_config(&path).unwrap_or_else(|e| {
                    warnings.push(format!("using the default settings: {e}"));
                    Config::default()
                }),
                None => Config::default(),
            },
        };

        let theme = match (&options.theme, &config.theme) {
            (Some(spec), _) => resolve_theme(spec, dir.as_deref())?,
            (None, Some(spec)) => resolve_theme(spec, dir.as_deref()).unwrap_or_else(|e| {
                warnings.push(format!("using the dark theme: {e}"));
                Theme::default()
            }),
            (None, None) => {
                // A user file named like a preset (`dark.toml`) refines that preset.
                resolve_theme("dark", dir.as_deref()).unwrap_or_else(|e| {
                    warnings.push(format!("using the dark theme: {e}"));
                    Theme::default()
                })
            }
        };
        let theme = if no_color() {
            theme.without_color()
        } else {
            theme
        };

        let keymap = match (&options.keymap, &config.keymap) {
            (Some(spec), _) => resolve_keymap(spec, dir.as_deref())?,
            (None, Some(spec)) => resolve_keymap(spec, dir.as_deref()).unwrap_or_else(|e| {
                warnings.push(format!("using the default keymap: {e}"));
                Keymap::builtin()
            }),
            (None, None) => match dir
                .as_ref()
                .map(|d| d.join("keymap.toml"))
                .filter(|p| p.exists())
            {
                Some(path) => read_keymap(&path).unwrap_or_else(|e| {
                    warnings.push(format!("using the default keymap: {e}"));
                    Keymap::builtin()
                }),
                None => Keymap::builtin(),
            },
        };

        let themes = load_themes(dir.as_deref());
        Ok(Settings {
            config,
            theme,
            keymap,
            config_dir: dir,
            warnings,
            themes,
        })
    }

    /// Every theme that can be switched to: presets, then the user's themes by name.
    pub fn available_themes(&self) -> Vec<String> {
        self.themes.iter().map(|(name, _)| name.clone()).collect()
    }

    /// A theme by name for a switch inside the console, from what was loaded at start.
    pub fn theme_named(&self, name: &str) -> Result<Theme> {
        let theme = match self.themes.iter().find(|(n, _)| n == name) {
            Some((_, Ok(theme))) => theme.clone(),
            Some((_, Err(why))) => return Err(eyre!("{why}")),
            None => return Err(eyre!("unknown theme `{name}`")),
        };
        Ok(if no_color() {
            theme.without_color()
        } else {
            theme
        })
    }
}

/// Presets and the user's `themes/*.toml` (a user file named like a preset refines it),
/// each parsed now; a broken one keeps its error for when it is chosen.
fn load_themes(dir: Option<&Path>) -> Vec<(String, std::result::Result<Theme, String>)> {
    let mut names: Vec<String> = theme::PRESETS.iter().map(|(n, _)| n.to_string()).collect();
    if let Some(dir) = dir
        && let Ok(entries) = std::fs::read_dir(dir.join("themes"))
    {
        let mut user: Vec<String> = entries
            .flatten()
            .filter_map(|e| {
                let path = e.path();
                if path.extension()? != "toml" {
                    return None;
                }
                Some(path.file_stem()?.to_string_lossy().into_owned())
            })
            .filter(|n| !names.contains(n))
            .collect();
        user.sort();
        names.extend(user);
    }
    names
        .into_iter()
        .map(|name| {
            let theme = resolve_theme(&name, dir).map_err(|e| e.to_string());
            (name, theme)
        })
        .collect()
}

/// `NO_COLOR` set to anything non-empty (no-color.org).
pub fn no_color() -> bool {
    std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty())
}

fn read(path: &Path) -> Result<String> {
    std::fs::read_to_string(path).map_err(|e| eyre!("{}: {e}", path.display()))
}

fn load_config(path: &Path) -> Result<Config> {
    let text = read(path)?;
    Ok(file_error::parse_toml(path, &text)?)
}

fn is_file_spec(spec: &str) -> bool {
    spec.contains('/') || spec.ends_with(".toml")
}

/// A theme by file path, by user theme name (`themes/NAME.toml` in the config dir, which
/// refines the preset of the same name if there is one), or by preset name.
fn resolve_theme(spec: &str, dir: Option<&Path>) -> Result<Theme> {
    if is_file_spec(spec) {
        let path = Path::new(spec);
        return Ok(Theme::parse(path, &read(path)?)?);
    }
    if let Some(path) = dir
        .map(|d| d.join("themes").join(format!("{spec}.toml")))
        .filter(|p| p.exists())
    {
        // A user `light.toml` without `extends` refines the light preset.
        let base = if Theme::preset(spec).is_some() {
            spec
        } else {
            "dark"
        };
        return Ok(Theme::parse_over(&path, &read(&path)?, base)?);
    }
    Theme::preset(spec).ok_or_else(|| {
        eyre!(
            "unknown theme `{spec}`; built-in themes are {}",
            theme::preset_names()
        )
    })
}

fn read_keymap(path: &Path) -> Result<Keymap> {
    Ok(Keymap::parse(path, &read(path)?)?)
}

fn resolve_keymap(spec: &str, dir: Option<&Path>) -> Result<Keymap> {
    if is_file_spec(spec) {
        return read_keymap(Path::new(spec));
    }
    if let Some(path) = dir
        .map(|d| d.join("keymaps").join(format!("{spec}.toml")))
        .filter(|p| p.exists())
    {
        return read_keymap(&path);
    }
    Keymap::preset(spec).ok_or_else(|| {
        eyre!(
            "unknown keymap `{spec}`; built-in keymaps are {}",
            keymap::preset_names()
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn themes_are_read_once_and_a_switch_touches_no_file() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("themes")).unwrap();
        std::fs::write(
            dir.path().join("themes/ocean.toml"),
            "[colors]\nok = \"#00ffaa\"\n",
        )
        .unwrap();
        std::fs::write(
            dir.path().join("themes/broken.toml"),
            "[colors]\nok = \"greenish\"\n",
        )
        .unwrap();
        let mut settings = Settings::builtin();
        settings.themes = load_themes(Some(dir.path()));
        assert_eq!(
            settings.available_themes(),
            ["dark", "light", "high-contrast", "broken", "ocean"]
        );
        // Gone from disk: the switch still works, from what was loaded at start.
        std::fs::remove_dir_all(dir.path().join("themes")).unwrap();
        let ocean = settings.theme_named("ocean").unwrap();
        assert_eq!(ocean.colors.ok, ratatui::style::Color::Rgb(0, 255, 170));
        let err = settings.theme_named("broken").unwrap_err().to_string();
        assert!(err.contains("broken.toml:2:6: key `ok`"), "{err}");
    }
}
