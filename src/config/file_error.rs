//! An error in a file the operator wrote, located precisely enough to fix it.

use std::fmt;
use std::path::{Path, PathBuf};

/// `path:line:column: key `name`: what is wrong`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileError {
    pub path: PathBuf,
    pub line: usize,
    pub column: usize,
    pub key: Option<String>,
    pub message: String,
}

impl fmt::Display for FileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}: ", self.path.display(), self.line, self.column)?;
        if let Some(key) = &self.key {
            write!(f, "key `{key}`: ")?;
        }
        write!(f, "{}", self.message)
    }
}

impl std::error::Error for FileError {}

impl FileError {
    /// Locate a byte offset in `text` as a 1-based line and column, and name the key that
    /// the line assigns (`key = value`), if any.
    pub fn at(path: &Path, text: &str, offset: usize, message: impl Into<String>) -> Self {
        let offset = offset.min(text.len());
        let before = &text[..offset];
        let line = before.matches('\n').count() + 1;
        let line_start = before.rfind('\n').map(|i| i + 1).unwrap_or(0);
        let column = before[line_start..].chars().count() + 1;
        let line_text = text[line_start..].lines().next().unwrap_or("");
        let key = line_text
            .split_once('=')
            .map(|(k, _)| k.trim().trim_matches('"').to_string())
            .filter(|k| !k.is_empty() && !k.starts_with('['));
        Self {
            path: path.to_path_buf(),
            line,
            column,
            key,
            message: message.into(),
        }
    }

    /// From a TOML parse or shape error. Messages like "unknown field `x`" name the key
    /// themselves; we still point at its line.
    pub fn from_toml(path: &Path, text: &str, err: &toml::de::Error) -> Self {
        let offset = err.span().map(|s| s.start).unwrap_or(0);
        let mut e = Self::at(path, text, offset, err.message().trim().to_string());
        if let Some(unknown) = err
            .message()
            .strip_prefix("unknown field `")
            .and_then(|rest| rest.split('`').next())
        {
            e.key = Some(unknown.to_string());
        }
        e
    }
}

/// Parse TOML into `T`, turning any error into a located [`FileError`].
pub fn parse_toml<T: serde::de::DeserializeOwned>(path: &Path, text: &str) -> Result<T, FileError> {
    toml::from_str(text).map_err(|e| FileError::from_toml(path, text, &e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locates_line_column_and_key() {
        let text = "a = 1\n  colour = \"x\"\n";
        let e = FileError::at(Path::new("t.toml"), text, text.find('"').unwrap(), "bad");
        assert_eq!((e.line, e.column), (2, 12));
        assert_eq!(e.key.as_deref(), Some("colour"));
        assert_eq!(e.to_string(), "t.toml:2:12: key `colour`: bad");
    }
}
