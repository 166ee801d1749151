//! The DigitalOcean API token: where it comes from, and a type that never shows it.
//!
//! Looked for as doctl does, then in odoo-ops' own config: `DIGITALOCEAN_ACCESS_TOKEN`;
//! doctl's `config.yaml` (its current context: `context`, or `DIGITALOCEAN_CONTEXT`;
//! `default` means `access-token`, any other name `auth-contexts[name]`); `[digitalocean]
//! token` in config.toml. The token is a secret: its `Debug` is redacted, it has no
//! `Display`, and only the client's `Authorization` header (marked sensitive) holds it.

use std::path::{Path, PathBuf};

use serde::Deserialize;

/// The environment variable doctl and every DigitalOcean tool read first.
pub const TOKEN_ENV: &str = "DIGITALOCEAN_ACCESS_TOKEN";
/// doctl's context override.
pub const CONTEXT_ENV: &str = "DIGITALOCEAN_CONTEXT";

/// A DigitalOcean personal access token.
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[serde(transparent)]
pub struct Token(String);

impl Token {
    pub fn new(token: impl Into<String>) -> Token {
        Token(token.into().trim().to_string())
    }

    /// The token itself, for the `Authorization` header and nothing else.
    pub(crate) fn expose(&self) -> &str {
        &self.0
    }

    fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl std::fmt::Debug for Token {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(crate::redact::REDACTED)
    }
}

/// Where the token was found, said to the operator (never the token itself).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenSource {
    Env,
    Doctl { path: PathBuf, context: String },
    Config,
}

impl std::fmt::Display for TokenSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TokenSource::Env => write!(f, "${TOKEN_ENV}"),
            TokenSource::Doctl { path, context } => {
                write!(f, "doctl's {} (context {context})", path.display())
            }
            TokenSource::Config => write!(f, "config.toml [digitalocean] token"),
        }
    }
}

/// How to give odoo-ops a token: the message shown where one is missing.
pub const HOW_TO_SET: &str = "no DigitalOcean token: set DIGITALOCEAN_ACCESS_TOKEN, or run `doctl auth init`, or put `token = \"...\"` under [digitalocean] in odoo-ops' config.toml (a token with droplet read/write scopes, from the control panel's API page)";

/// The token, from the first place that has one; `configured` is config.toml's.
/// An unreadable doctl file is skipped (doctl itself may not be installed), a broken one
/// is an error: the operator meant it to be read.
pub fn resolve(configured: Option<&Token>) -> Result<(Token, TokenSource), String> {
    resolve_from(
        std::env::var(TOKEN_ENV).ok(),
        std::env::var(CONTEXT_ENV).ok(),
        doctl_config_path().as_deref(),
        configured,
    )
}

/// [`resolve`] with its inputs given: for tests.
pub fn resolve_from(
    env: Option<String>,
    context: Option<String>,
    doctl: Option<&Path>,
    configured: Option<&Token>,
) -> Result<(Token, TokenSource), String> {
    if let Some(token) = env.map(Token::new).filter(|t| !t.is_empty()) {
        return Ok((token, TokenSource::Env));
    }
    if let Some(path) = doctl
        && let Ok(text) = std::fs::read_to_string(path)
    {
        let config = DoctlConfig::parse(&text).map_err(|e| format!("{}: {e}", path.display()))?;
        let context = context
            .filter(|c| !c.is_empty())
            .or(config.context.clone())
            .unwrap_or_else(|| "default".into());
        if let Some(token) = config.token(&context) {
            let source = TokenSource::Doctl {
                path: path.to_path_buf(),
                context,
            };
            return Ok((token, source));
        }
    }
    match configured.filter(|t| !t.is_empty()) {
        Some(token) => Ok((token.clone(), TokenSource::Config)),
        None => Err(HOW_TO_SET.to_string()),
    }
}

/// `$XDG_CONFIG_HOME/doctl/config.yaml`, else `~/.config/doctl/config.yaml` (doctl's own
/// place on Linux).
pub fn doctl_config_path() -> Option<PathBuf> {
    let base = std::env::var_os("XDG_CONFIG_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| directories::BaseDirs::new().map(|d| d.home_dir().join(".config")))?;
    Some(base.join("doctl").join("config.yaml"))
}

/// The three keys of doctl's config that name a token. doctl writes this file itself
/// (viper): top-level `key: value` lines, `auth-contexts:` a map of plain or quoted
/// scalars one level in. Only that shape is read; anything else in the file is skipped,
/// so no YAML library is needed for three keys.
#[derive(Debug, Default, PartialEq, Eq)]
struct DoctlConfig {
    access_token: Option<Token>,
    context: Option<String>,
    auth_contexts: Vec<(String, Token)>,
}

impl DoctlConfig {
    fn parse(text: &str) -> Result<DoctlConfig, String> {
        let mut config = DoctlConfig::default();
        let mut in_contexts = false;
        for (n, raw) in text.lines().enumerate() {
            let line = strip_comment(raw);
            if line.trim().is_empty() {
                continue;
            }
            let indented = line.starts_with([' ', '\t']);
            if !indented {
                in_contexts = false;
            }
            let Some((key, value)) = line.trim().split_once(':') else {
                continue;
            };
            let key = unquote(key.trim())
                .map_err(|e| format!("line {}: {e}", n + 1))?
                .to_string();
            let value = unquote(value.trim()).map_err(|e| format!("line {}: {e}", n + 1))?;
            if indented {
                if in_contexts && !value.is_empty() {
                    config.auth_contexts.push((key, Token::new(value)));
                }
                continue;
            }
            match key.as_str() {
                "access-token" => config.access_token = Some(Token::new(value)),
                "context" => config.context = Some(value.to_string()),
                "auth-contexts" => in_contexts = value.is_empty(),
                _ => {}
            }
        }
        Ok(config)
    }

    /// The token of a context; `default` is the top-level `access-token`.
    fn token(&self, context: &str) -> Option<Token> {
        let token = if context == "default" {
            self.access_token.clone()
        } else {
            self.auth_contexts
                .iter()
                .find(|(name, _)| name == context)
                .map(|(_, t)| t.clone())
        };
        token.filter(|t| !t.is_empty())
    }
}

/// A line without a trailing ` # comment` (a `#` inside quotes stays).
fn strip_comment(line: &str) -> &str {
    let mut quote = None;
    for (i, c) in line.char_indices() {
        match (quote, c) {
            (None, '"' | '\'') => quote = Some(c),
            (Some(q), c) if c == q => quote = None,
            (None, '#') if i == 0 || line[..i].ends_with([' ', '\t']) => return &line[..i],
            _ => {}
        }
    }
    line
}

/// A plain, `'single'` or `"double"` quoted scalar (tokens and context names hold no
/// escapes; a backslash in a double-quoted one is refused rather than misread).
fn unquote(value: &str) -> Result<&str, String> {
    for q in ['"', '\''] {
        if let Some(rest) = value.strip_prefix(q) {
            let inner = rest
                .strip_suffix(q)
                .ok_or_else(|| format!("unterminated quote {q}"))?;
            if q == '"' && inner.contains('\\') {
                return Err("escapes in a double-quoted value are not read".into());
            }
            return Ok(inner);
        }
    }
    Ok(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    const DOCTL: &str = "access-token: dop_v1_default\nauth-contexts:\n  staging: dop_v1_staging\n  \"prod\": 'dop_v1_prod' # the real one\ncontext: prod\noutput: text\n";

    fn write(text: &str) -> tempfile::NamedTempFile {
        let file = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(file.path(), text).unwrap();
        file
    }

    #[test]
    fn the_environment_wins_then_doctl_current_context_then_config() {
        let file = write(DOCTL);
        let configured = Token::new("from-config");
        let (t, s) = resolve_from(
            Some("from-env".into()),
            None,
            Some(file.path()),
            Some(&configured),
        )
        .unwrap();
        assert_eq!((t.expose(), s), ("from-env", TokenSource::Env));
        let (t, s) = resolve_from(None, None, Some(file.path()), Some(&configured)).unwrap();
        assert_eq!(t.expose(), "dop_v1_prod");
        assert!(matches!(s, TokenSource::Doctl { context, .. } if context == "prod"));
        let (t, _) = resolve_from(None, Some("default".into()), Some(file.path()), None).unwrap();
        assert_eq!(t.expose(), "dop_v1_default");
        let (t, s) = resolve_from(
            None,
            Some("nope".into()),
            Some(file.path()),
            Some(&configured),
        )
        .unwrap();
        assert_eq!((t.expose(), s), ("from-config", TokenSource::Config));
        let err = resolve_from(Some(" ".into()), None, None, None).unwrap_err();
        assert!(err.contains("DIGITALOCEAN_ACCESS_TOKEN"), "{err}");
    }

    #[test]
    fn a_context_without_a_name_is_default() {
        let file = write("access-token: \"dop_v1_only\"\n");
        let (t, s) = resolve_from(None, None, Some(file.path()), None).unwrap();
        assert_eq!(t.expose(), "dop_v1_only");
        assert!(matches!(s, TokenSource::Doctl { context, .. } if context == "default"));
    }

    #[test]
    fn debug_never_shows_the_token() {
        let token = Token::new("dop_v1_secret");
        assert_eq!(format!("{token:?}"), "<redacted>");
        let source = TokenSource::Env;
        assert!(!format!("{source} {source:?}").contains("secret"));
    }
}
