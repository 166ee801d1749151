//! Odoo's log line: `2026-11-22 02:02:12,655 19956 INFO odootest odoo.modules.registry: Registry loaded in 0.660s`
//! (date time,ms pid LEVEL db-or-? logger: message). With a colour terminal Odoo wraps
//! the level in ANSI escapes; those are looked through.

use crate::logs::line::{Fields, Header, LineKind, Span};
use crate::logs::{line::Level, time};

pub fn parse(line: &str) -> Option<Header> {
    let b = line.as_bytes();
    let ts = time::odoo(b)?;
    if b.get(23) != Some(&b' ') {
        return None;
    }
    let mut i = 24;
    let pid_start = i;
    let mut pid: u32 = 0;
    while i < b.len() && b[i].is_ascii_digit() {
        pid = pid.checked_mul(10)?.checked_add((b[i] - b'0') as u32)?;
        i += 1;
    }
    if i == pid_start || b.get(i) != Some(&b' ') {
        return None;
    }
    i += 1;
    let level_end = i + memchr::memchr(b' ', &b[i..])?;
    let word = &line[i..level_end];
    let level = if word.contains('\x1b') {
        Level::from_odoo(&strip_ansi(word))?
    } else {
        Level::from_odoo(word)?
    };
    i = level_end + 1;
    let db_end = i + memchr::memchr(b' ', &b[i..]).unwrap_or(b.len() - i);
    let db = Span::new(i, db_end);
    let rest = (db_end + 1).min(b.len());
    let (logger, message) = match memchr::memmem::find(&b[rest..], b": ") {
        Some(at) => (
            Span::new(rest, rest + at),
            Span::new(rest + at + 2, b.len()),
        ),
        None => (Span::default(), Span::new(rest, b.len())),
    };
    Some(Header {
        kind: LineKind::Odoo,
        ts: Some(ts),
        level,
        pid: Some(pid),
        status: None,
        fields: Fields {
            db,
            logger,
            message,
            ..Fields::default()
        },
    })
}

fn strip_ansi(word: &str) -> String {
    let mut out = String::with_capacity(word.len());
    let mut chars = word.chars();
    while let Some(c) = chars.next() {
        if c == '\x1b' {
            // CSI: ESC [ params final-byte
            for c in chars.by_ref() {
                if c.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::logs::line::{LogLine, SourceId};

    fn parsed(line: &str) -> LogLine {
        LogLine::new(SourceId(0), parse(line).expect(line), line.to_string())
    }

    #[test]
    fn every_field_of_a_registry_line() {
        let l = parsed(
            "2026-11-22 02:02:12,655 19956 INFO odootest odoo.modules.registry: Registry loaded in 0.660s",
        );
        assert_eq!(l.level, Level::Info);
        assert_eq!(l.pid, Some(19956));
        assert_eq!(l.db(), Some("odootest"));
        assert_eq!(l.logger(), Some("odoo.modules.registry"));
        assert_eq!(l.message(), Some("Registry loaded in 0.660s"));
        assert_eq!(
            l.ts.map(crate::logs::time::format_ms).as_deref(),
            Some("2026-11-22 02:02:12.655")
        );
    }

    #[test]
    fn no_database_is_a_question_mark_and_werkzeug_keeps_its_quotes() {
        let l = parsed(
            r#"2026-11-22 02:02:16,314 19969 INFO odootest werkzeug: 127.0.0.1 - - [22/Nov/2026 02:02:16] "GET /websocket?version=18.0-3 HTTP/1.1" 500 - 4 0.004 0.010"#,
        );
        assert_eq!(l.logger(), Some("werkzeug"));
        assert!(l.message().unwrap().contains("\" 500 - 4"));
        let l = parsed("2026-11-22 02:02:11,240 19956 INFO ? odoo: Odoo version 18.0 ");
        assert_eq!(l.db(), Some("?"));
        assert_eq!(l.message(), Some("Odoo version 18.0 "));
    }

    #[test]
    fn levels_including_coloured_ones() {
        for (word, level) in [
            ("ERROR", Level::Error),
            ("WARNING", Level::Warning),
            ("CRITICAL", Level::Critical),
            ("DEBUG_RPC", Level::Debug),
            ("\x1b[1;31m\x1b[1;49mERROR\x1b[0m", Level::Error),
        ] {
            let line = format!("2026-11-22 02:02:12,655 7 {word} db odoo.http: boom");
            assert_eq!(parse(&line).map(|h| h.level), Some(level), "{word:?}");
        }
    }

    #[test]
    fn not_odoo_lines() {
        for line in [
            "  File \"/opt/odoo/src/odoo/http.py\", line 2060, in _serve_db",
            "RuntimeError: Couldn't bind the websocket.",
            "2026-11-22 02:02:12,655 abc INFO db x: y",
            "2026-11-22 02:02:12,655 12 LOUD db x: y",
            "",
        ] {
            assert!(parse(line).is_none(), "{line}");
        }
    }
}
