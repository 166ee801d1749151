//! Colours as data: built-in presets embedded from `themes/`, user themes in the config
//! dir that name only the colours they change.

use std::collections::BTreeMap;
use std::path::Path;
use std::str::FromStr;

use ratatui::style::{Color, Modifier, Style};
use serde::Deserialize;
use toml::Spanned;

use super::file_error::{FileError, parse_toml};

/// Built-in themes, by name, as shipped in `themes/`.
pub const PRESETS: [(&str, &str); 3] = [
    ("dark", include_str!("../../themes/dark.toml")),
    ("light", include_str!("../../themes/light.toml")),
    (
        "high-contrast",
        include_str!("../../themes/high-contrast.toml"),
    ),
];

macro_rules! theme_colors {
    ($($field:ident: $doc:literal = $default:expr,)*) => {
        /// Every colour the console uses, by role rather than by hue, so a theme can say
        /// "failures are magenta" without knowing where failures show.
        #[derive(Debug, Clone, PartialEq, Eq)]
        pub struct Colors { $(#[doc = $doc] pub $field: Color,)* }

        impl Colors {
            /// The dark preset: the terminal's own background and foreground.
            pub fn dark() -> Self { Self { $($field: $default,)* } }
        }

        #[derive(Debug, Default, Deserialize)]
        #[serde(deny_unknown_fields)]
        struct ColorsPatch { $($field: Option<Spanned<String>>,)* }

        impl ColorsPatch {
            fn apply(self, colors: &mut Colors, path: &Path, text: &str) -> Result<(), FileError> {
                $(if let Some(value) = self.$field {
                    colors.$field = parse_color(&value, path, text)?;
                })*
                Ok(())
            }
        }

        /// Role names, for help texts and tests.
        pub const COLOR_ROLES: &[&str] = &[$(stringify!($field),)*];
    };
}

theme_colors! {
    foreground: "text" = Color::Reset,
    background: "behind everything; `reset` keeps the terminal's own" = Color::Reset,
    muted: "secondary text, empty-pane explanations" = Color::DarkGray,
    border: "unfocused pane borders" = Color::DarkGray,
    border_focused: "the focused pane's border" = Color::Cyan,
    title: "pane titles" = Color::Gray,
    title_focused: "the focused pane's title" = Color::Cyan,
    selection_fg: "selected row text" = Color::Black,
    selection_bg: "selected row background" = Color::Cyan,
    ok: "passing checks, running containers" = Color::Green,
    warn: "warnings" = Color::Yellow,
    error: "failures, errors" = Color::Red,
    info: "informational highlights" = Color::Blue,
    accent: "keys in help, the palette prompt" = Color::Magenta,
    status_fg: "status bar text" = Color::Gray,
    status_bg: "status bar background" = Color::Reset,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Theme {
    pub name: String,
    pub colors: Colors,
    /// With `NO_COLOR`, meaning moves to bold/reverse/underline instead of hue.
    pub monochrome: bool,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ThemeFile {
    name: Option<String>,
    /// The preset this file starts from; `dark` unless named.
    extends: Option<Spanned<String>>,
    #[serde(default)]
    colors: ColorsPatch,
}

impl Default for Theme {
    fn default() -> Self {
        Self {
            name: "dark".into(),
            colors: Colors::dark(),
            monochrome: false,
        }
    }
}

impl Theme {
    /// A built-in theme by name.
    pub fn preset(name: &str) -> Option<Theme> {
        let (_, text) = PRESETS.iter().find(|(n, _)| *n == name)?;
        let path = Path::new("themes").join(format!("{name}.toml"));
        Some(Theme::parse(&path, text).expect("shipped themes parse (tested)"))
    }

    /// Parse a theme file over the preset it extends (`dark` unless it says).
    pub fn parse(path: &Path, text: &str) -> Result<Theme, FileError> {
        Theme::parse_over(path, text, "dark")
    }

    /// Parse a theme file over `implied_base` unless it names its own `extends`.
    pub fn parse_over(path: &Path, text: &str, implied_base: &str) -> Result<Theme, FileError> {
        let file: ThemeFile = parse_toml(path, text)?;
        let mut theme = match &file.extends {
            None if implied_base == "dark" => Theme::default(),
            None => Theme::preset(implied_base).unwrap_or_default(),
            Some(base) if base.get_ref() == "dark" => Theme::default(),
            Some(base) => {
                let preset = PRESETS.iter().find(|(n, _)| *n == base.get_ref());
                match preset {
                    Some((name, preset_text)) => Theme::parse(
                        &Path::new("themes").join(format!("{name}.toml")),
                        preset_text,
                    )?,
                    None => {
                        return Err(FileError::at(
                            path,
                            text,
                            base.span().start,
                            format!(
                                "unknown theme `{}` to extend; built-in themes are {}",
                                base.get_ref(),
                                preset_names()
                            ),
                        ));
                    }
                }
            }
        };
        file.colors.apply(&mut theme.colors, path, text)?;
        theme.name = file.name.unwrap_or_else(|| {
            path.file_stem()
                .unwrap_or_default()
                .to_string_lossy()
                .into()
        });
        Ok(theme)
    }

    /// The same theme with every hue dropped, for `NO_COLOR`.
    pub fn without_color(mut self) -> Theme {
        let c = &mut self.colors;
        for color in [
            &mut c.foreground,
            &mut c.background,
            &mut c.muted,
            &mut c.border,
            &mut c.border_focused,
            &mut c.title,
            &mut c.title_focused,
            &mut c.selection_fg,
            &mut c.selection_bg,
            &mut c.ok,
            &mut c.warn,
            &mut c.error,
            &mut c.info,
            &mut c.accent,
            &mut c.status_fg,
            &mut c.status_bg,
        ] {
            *color = Color::Reset;
        }
        self.monochrome = true;
        self
    }

    // Styles by role. Monochrome themes keep meaning with modifiers.

    pub fn text(&self) -> Style {
        Style::default()
            .fg(self.colors.foreground)
            .bg(self.colors.background)
    }
    pub fn muted(&self) -> Style {
        self.mono(Style::default().fg(self.colors.muted), Modifier::DIM)
    }
    pub fn border(&self, focused: bool) -> Style {
        if focused {
            self.mono(
                Style::default().fg(self.colors.border_focused),
                Modifier::BOLD,
            )
        } else {
            Style::default().fg(self.colors.border)
        }
    }
    pub fn title(&self, focused: bool) -> Style {
        if focused {
            self.mono(
                Style::default()
                    .fg(self.colors.title_focused)
                    .add_modifier(Modifier::BOLD),
                Modifier::REVERSED,
            )
        } else {
            Style::default().fg(self.colors.title)
        }
    }
    pub fn selection(&self) -> Style {
        self.mono(
            Style::default()
                .fg(self.colors.selection_fg)
                .bg(self.colors.selection_bg),
            Modifier::REVERSED,
        )
    }
    pub fn ok(&self) -> Style {
        Style::default().fg(self.colors.ok)
    }
    pub fn warn(&self) -> Style {
        self.mono(Style::default().fg(self.colors.warn), Modifier::BOLD)
    }
    pub fn error(&self) -> Style {
        self.mono(
            Style::default()
                .fg(self.colors.error)
                .add_modifier(Modifier::BOLD),
            Modifier::REVERSED,
        )
    }
    pub fn info(&self) -> Style {
        Style::default().fg(self.colors.info)
    }
    pub fn accent(&self) -> Style {
        self.mono(Style::default().fg(self.colors.accent), Modifier::BOLD)
    }
    pub fn status_bar(&self) -> Style {
        self.mono(
            Style::default()
                .fg(self.colors.status_fg)
                .bg(self.colors.status_bg),
            Modifier::REVERSED,
        )
    }

    fn mono(&self, style: Style, instead: Modifier) -> Style {
        if self.monochrome {
            style.add_modifier(instead)
        } else {
            style
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

fn parse_color(value: &Spanned<String>, path: &Path, text: &str) -> Result<Color, FileError> {
    Color::from_str(value.get_ref()).map_err(|_| {
        FileError::at(
            path,
            text,
            value.span().start,
            format!(
                "`{}` is not a colour; use a name (red, darkgray, reset), an index (0-255) or #rrggbb",
                value.get_ref()
            ),
        )
    })
}

/// Names of the roles with their colours, for `--theme` listings and debugging.
pub fn describe(theme: &Theme) -> BTreeMap<&'static str, String> {
    let c = &theme.colors;
    let values = [
        c.foreground,
        c.background,
        c.muted,
        c.border,
        c.border_focused,
        c.title,
        c.title_focused,
        c.selection_fg,
        c.selection_bg,
        c.ok,
        c.warn,
        c.error,
        c.info,
        c.accent,
        c.status_fg,
        c.status_bg,
    ];
    COLOR_ROLES
        .iter()
        .copied()
        .zip(values.iter().map(|c| c.to_string()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shipped_dark_equals_the_built_in_default() {
        assert_eq!(Theme::preset("dark").unwrap(), Theme::default());
    }

    #[test]
    fn every_shipped_theme_parses_and_names_itself() {
        for (name, _) in PRESETS {
            assert_eq!(Theme::preset(name).unwrap().name, name);
        }
    }

    #[test]
    fn a_user_theme_overrides_only_what_it_names() {
        let t = Theme::parse(
            Path::new("mine.toml"),
            "extends = \"light\"\n[colors]\nerror = \"#ff00ff\"\n",
        )
        .unwrap();
        let light = Theme::preset("light").unwrap();
        assert_eq!(t.colors.error, Color::Rgb(255, 0, 255));
        assert_eq!(t.colors.ok, light.colors.ok);
        assert_eq!(t.colors.border_focused, light.colors.border_focused);
        assert_eq!(t.name, "mine");
    }

    #[test]
    fn a_bad_colour_names_file_line_column_and_key() {
        let e =
            Theme::parse(Path::new("/x/mine.toml"), "[colors]\nok = \"greenish\"\n").unwrap_err();
        assert_eq!(e.line, 2);
        assert_eq!(e.column, 6);
        assert_eq!(e.key.as_deref(), Some("ok"));
        assert!(
            e.to_string()
                .starts_with("/x/mine.toml:2:6: key `ok`: `greenish` is not a colour"),
            "{e}"
        );
    }

    #[test]
    fn an_unknown_role_is_an_error_not_ignored() {
        let e = Theme::parse(Path::new("t.toml"), "[colors]\n\nborderr = \"red\"\n").unwrap_err();
        assert_eq!((e.line, e.key.as_deref()), (3, Some("borderr")));
    }

    #[test]
    fn no_color_keeps_meaning_with_modifiers() {
        let t = Theme::default().without_color();
        assert_eq!(t.error().fg, Some(Color::Reset));
        assert!(t.error().add_modifier.contains(Modifier::REVERSED));
        assert!(t.border(true).add_modifier.contains(Modifier::BOLD));
    }
}
