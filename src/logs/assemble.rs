//! Bytes from a follower become entries: split into lines (any chunking, invalid UTF-8,
//! overlong lines), recognise each first line, and keep continuation lines (a Python
//! traceback) with the Odoo line they belong to.
//!
//! An Odoo entry stays pending until the next first line arrives or the follower calls
//! [`Assembler::flush`] (end of input, or a short idle), because only then is it known
//! that no more traceback lines follow.

use std::borrow::Cow;

use super::line::{Header, LineKind, LogLine, SourceId};
use super::parse::{self, Format};

/// Longer lines are cut into pieces of this size, each kept as its own entry.
pub const MAX_LINE_BYTES: usize = 4 * 1024 * 1024;
/// Continuation lines one entry may collect before the rest become plain entries.
pub const MAX_CONTINUATION_LINES: usize = 2_000;
/// Bytes one entry may grow to through continuation lines.
pub const MAX_ENTRY_BYTES: usize = 4 * 1024 * 1024;

struct Pending {
    header: Header,
    text: String,
    lines: usize,
}

pub struct Assembler {
    source: SourceId,
    format: Format,
    partial: Vec<u8>,
    pending: Option<Pending>,
    /// Time of the last entry, given to lines that carry none of their own.
    last_ts: Option<i64>,
}

impl Assembler {
    pub fn new(source: SourceId, format: Format) -> Assembler {
        Assembler {
            source,
            format,
            partial: Vec::new(),
            pending: None,
            last_ts: None,
        }
    }

    /// True when an entry or a partial line is held back.
    pub fn holds_back(&self) -> bool {
        self.pending.is_some() || !self.partial.is_empty()
    }

    /// Feed raw bytes as they arrived. `stamp` is the time the transport gave them
    /// (Docker's timestamp), used for lines that have none of their own.
    pub fn push(&mut self, mut bytes: &[u8], stamp: Option<i64>, out: &mut Vec<LogLine>) {
        while let Some(nl) = memchr::memchr(b'\n', bytes) {
            let line = &bytes[..nl];
            bytes = &bytes[nl + 1..];
            if self.partial.is_empty() {
                self.line_bytes(line, stamp, out);
            } else {
                let mut whole = std::mem::take(&mut self.partial);
                whole.extend_from_slice(line);
                self.line_bytes(&whole, stamp, out);
            }
        }
        if !bytes.is_empty() {
            self.partial.extend_from_slice(bytes);
            while self.partial.len() >= MAX_LINE_BYTES {
                let rest = self.partial.split_off(MAX_LINE_BYTES);
                let piece = std::mem::replace(&mut self.partial, rest);
                self.line_bytes(&piece, stamp, out);
            }
        }
    }

    /// No more bytes for now: emit what is held back.
    pub fn flush(&mut self, out: &mut Vec<LogLine>) {
        if !self.partial.is_empty() {
            let piece = std::mem::take(&mut self.partial);
            self.line_bytes(&piece, None, out);
        }
        self.flush_pending(out);
    }

    fn flush_pending(&mut self, out: &mut Vec<LogLine>) {
        if let Some(p) = self.pending.take() {
            out.push(LogLine::new(self.source, p.header, p.text));
        }
    }

    fn line_bytes(&mut self, line: &[u8], stamp: Option<i64>, out: &mut Vec<LogLine>) {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        // Invalid UTF-8 becomes U+FFFD: the line is kept, readable where it can be.
        let text = String::from_utf8_lossy(line);
        // Every line is shown, searched, exported and drawn in screenshots from here on:
        // a secret an application logged is hidden before it is kept.
        let text = if crate::redact::may_hold_secret(&text) {
            Cow::Owned(crate::redact::line(&text))
        } else {
            text
        };
        self.line(text, stamp, out);
    }

    fn line(&mut self, text: Cow<'_, str>, stamp: Option<i64>, out: &mut Vec<LogLine>) {
        match parse::header(self.format, &text) {
            Some(mut header) => {
                self.flush_pending(out);
                if header.ts.is_none() {
                    header.ts = stamp.or(self.last_ts);
                }
                self.last_ts = header.ts;
                if header.kind == LineKind::Odoo {
                    self.pending = Some(Pending {
                        header,
                        text: text.into_owned(),
                        lines: 0,
                    });
                } else {
                    out.push(LogLine::new(self.source, header, text.into_owned()));
                }
            }
            None => {
                if let Some(p) = &mut self.pending
                    && p.lines < MAX_CONTINUATION_LINES
                    && p.text.len() + text.len() < MAX_ENTRY_BYTES
                {
                    p.text.push('\n');
                    p.text.push_str(&text);
                    p.lines += 1;
                    return;
                }
                self.flush_pending(out);
                let ts = stamp.or(self.last_ts);
                out.push(LogLine::plain(self.source, ts, text.into_owned()));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::logs::line::Level;

    const SAMPLE: &str = include_str!("../../tests/data/sample-odoo.log");

    fn all(format: Format, chunks: &[&[u8]]) -> Vec<LogLine> {
        let mut a = Assembler::new(SourceId(1), format);
        let mut out = Vec::new();
        for c in chunks {
            a.push(c, None, &mut out);
        }
        a.flush(&mut out);
        out
    }

    #[test]
    fn the_recorded_traceback_stays_with_its_line() {
        let lines = all(Format::Odoo, &[SAMPLE.as_bytes()]);
        // 76 physical lines, 27 of them traceback lines after one entry.
        assert_eq!(lines.len(), 76 - 27);
        let with_tb = lines.iter().find(|l| l.continuation_count() > 0).unwrap();
        assert_eq!(with_tb.continuation_count(), 27);
        assert!(
            with_tb
                .first_line()
                .ends_with("Generating routing map for key None ")
        );
        assert!(
            with_tb
                .continuation()
                .last()
                .unwrap()
                .starts_with("RuntimeError: Couldn't bind the websocket")
        );
        assert!(with_tb.traceback && with_tb.is_error());
        assert!(lines.iter().all(|l| l.kind == LineKind::Odoo));
        assert_eq!(lines.iter().filter(|l| l.is_error()).count(), 1);
    }

    #[test]
    fn any_chunking_gives_the_same_entries() {
        let whole = all(Format::Odoo, &[SAMPLE.as_bytes()]);
        for size in [1, 7, 100, 4096] {
            let chunks: Vec<&[u8]> = SAMPLE.as_bytes().chunks(size).collect();
            assert_eq!(all(Format::Odoo, &chunks), whole, "chunk size {size}");
        }
    }

    #[test]
    fn unparsable_lines_are_kept_as_plain_text() {
        let lines = all(
            Format::Auto,
            &[b"starting up\n2026/11/22 02:01:55 [error] 1#1: *1 boom\nmore noise\n"],
        );
        assert_eq!(lines.len(), 3);
        assert_eq!(lines[0].kind, LineKind::Plain);
        assert_eq!(lines[0].text(), "starting up");
        assert_eq!(lines[1].level, Level::Error);
        // A plain line after nginx gets nginx's time, so merging keeps it in place.
        assert_eq!(lines[2].ts, lines[1].ts);
    }

    #[test]
    fn invalid_utf8_is_kept_with_replacement_characters() {
        let lines = all(Format::Auto, &[b"caf\xe9 \xff\xfe ok\r\n"]);
        assert_eq!(lines.len(), 1);
        assert_eq!(lines[0].text(), "caf\u{fffd} \u{fffd}\u{fffd} ok");
    }

    #[test]
    fn a_megabyte_line_stays_whole_and_a_huge_one_is_cut_not_lost() {
        let mut big = vec![b'x'; 1024 * 1024];
        big.push(b'\n');
        let lines = all(Format::Auto, &[&big[..300_000], &big[300_000..]]);
        assert_eq!(lines.len(), 1);
        assert_eq!(lines[0].text().len(), 1024 * 1024);

        let huge = vec![b'y'; MAX_LINE_BYTES + 10];
        let lines = all(Format::Plain, &[&huge]);
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[0].text().len() + lines[1].text().len(), huge.len());
    }

    #[test]
    fn secrets_logged_by_an_application_are_hidden_before_they_are_kept() {
        let lines = all(
            Format::Odoo,
            &[b"2026-11-22 02:02:12,655 1 ERROR db odoo.sql_db: connect to postgres://odoo:hunter2@db/odoo failed\nTraceback (most recent call last):\n  psycopg2.OperationalError: password=hunter3 refused\n"],
        );
        assert_eq!(lines.len(), 1);
        let text = lines[0].text();
        assert!(
            !text.contains("hunter2") && !text.contains("hunter3"),
            "{text}"
        );
        assert!(
            text.contains("postgres://odoo:<redacted>@db/odoo"),
            "{text}"
        );
        assert_eq!(lines[0].rows(), 3);
    }

    #[test]
    fn a_pending_entry_is_emitted_on_flush_only() {
        let mut a = Assembler::new(SourceId(0), Format::Odoo);
        let mut out = Vec::new();
        a.push(
            b"2026-11-22 02:02:12,655 1 ERROR db odoo.http: boom\nTraceback (most recent call last):\n",
            None,
            &mut out,
        );
        assert!(out.is_empty() && a.holds_back());
        a.flush(&mut out);
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].rows(), 2);
    }
}
