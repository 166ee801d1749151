//! Which entries are shown (filter) and which are highlighted (search).
//!
//! Patterns are regular expressions with "smart case": all-lowercase means case
//! insensitive, as in most pagers and editors.

use regex::{Regex, RegexBuilder};

use super::line::{Level, LogLine, SourceId};

/// Compile a user pattern; the error names what is wrong with it.
pub fn compile(pattern: &str) -> Result<Regex, String> {
    let insensitive = !pattern.chars().any(char::is_uppercase);
    RegexBuilder::new(pattern)
        .case_insensitive(insensitive)
        .size_limit(1 << 22)
        .build()
        .map_err(|e| format!("bad pattern `{pattern}`: {e}"))
}

#[derive(Debug, Clone, Default)]
pub struct Filter {
    /// Entries below this level are hidden (`Unknown` shows everything).
    pub min_level: Level,
    /// Sources switched off.
    pub hidden: Vec<SourceId>,
    /// Only entries whose text (continuation lines included) matches.
    pub pattern: Option<Regex>,
}

impl Filter {
    pub fn matches(&self, line: &LogLine) -> bool {
        line.level >= self.min_level
            && !self.hidden.contains(&line.source)
            && self
                .pattern
                .as_ref()
                .is_none_or(|p| p.is_match(line.text()))
    }

    pub fn is_active(&self) -> bool {
        self.min_level != Level::Unknown || !self.hidden.is_empty() || self.pattern.is_some()
    }

    /// `level≥WARNING source-off:2 /odoo\.http/`, for the pane's title.
    pub fn describe(&self) -> String {
        let mut parts = Vec::new();
        if self.min_level != Level::Unknown {
            parts.push(format!("level≥{}", self.min_level));
        }
        if !self.hidden.is_empty() {
            parts.push(format!("{} source(s) hidden", self.hidden.len()));
        }
        if let Some(p) = &self.pattern {
            parts.push(format!("/{}/", p.as_str()));
        }
        parts.join(" ")
    }
}

/// Byte ranges of every search match in an entry's text, for highlighting.
pub fn match_ranges(pattern: &Regex, text: &str) -> Vec<(usize, usize)> {
    pattern
        .find_iter(text)
        .filter(|m| !m.is_empty())
        .map(|m| (m.start(), m.end()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::logs::line::Header;

    fn line(level: Level, source: u16, text: &str) -> LogLine {
        let header = Header {
            level,
            ..Header::default()
        };
        LogLine::new(SourceId(source), header, text.into())
    }

    #[test]
    fn level_source_and_pattern_combine() {
        let f = Filter {
            min_level: Level::Warning,
            hidden: vec![SourceId(2)],
            pattern: Some(compile("upstream").unwrap()),
        };
        assert!(f.matches(&line(Level::Error, 1, "connect() to UPSTREAM failed")));
        assert!(!f.matches(&line(Level::Info, 1, "upstream")));
        assert!(!f.matches(&line(Level::Error, 2, "upstream")));
        assert!(!f.matches(&line(Level::Error, 1, "downstream")));
    }

    #[test]
    fn smart_case_and_bad_patterns() {
        assert!(
            compile("Error").unwrap().is_match("Error")
                && !compile("Error").unwrap().is_match("error")
        );
        assert!(compile("error").unwrap().is_match("ERROR"));
        assert!(
            compile("(unclosed")
                .unwrap_err()
                .contains("bad pattern `(unclosed`")
        );
    }

    #[test]
    fn ranges_for_highlight() {
        let p = compile("ab").unwrap();
        assert_eq!(match_ranges(&p, "xxABxab"), vec![(2, 4), (5, 7)]);
    }
}
