//! One log entry as the console keeps it: where it came from, when, how severe, its
//! parsed fields, and its text (the first line plus any continuation lines, such as a
//! Python traceback, that belong to it).
//!
//! The text is one allocation; fields are byte ranges into it. That keeps 100,000
//! entries small and makes a regex over "the whole entry" a single search.

use std::fmt;

/// Which follower produced a line; an index into the worker's source table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct SourceId(pub u16);

/// Severity, ordered so `level >= Level::Warning` means "warnings and worse".
/// `Unknown` sorts lowest: a plain line is shown unless a level filter is on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub enum Level {
    #[default]
    Unknown,
    Debug,
    Info,
    Warning,
    Error,
    Critical,
}

impl Level {
    pub const ALL: [Level; 6] = [
        Level::Unknown,
        Level::Debug,
        Level::Info,
        Level::Warning,
        Level::Error,
        Level::Critical,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Level::Unknown => "-",
            Level::Debug => "DEBUG",
            Level::Info => "INFO",
            Level::Warning => "WARNING",
            Level::Error => "ERROR",
            Level::Critical => "CRITICAL",
        }
    }

    /// Odoo's level names (`DEBUG_RPC`, `DEBUG_SQL` are debug too).
    pub fn from_odoo(word: &str) -> Option<Level> {
        Some(match word {
            "INFO" => Level::Info,
            "WARNING" | "WARN" => Level::Warning,
            "ERROR" => Level::Error,
            "CRITICAL" | "FATAL" => Level::Critical,
            w if w.starts_with("DEBUG") => Level::Debug,
            _ => return None,
        })
    }

    /// nginx's error.log levels.
    pub fn from_nginx(word: &str) -> Option<Level> {
        Some(match word {
            "debug" => Level::Debug,
            "info" | "notice" => Level::Info,
            "warn" => Level::Warning,
            "error" => Level::Error,
            "crit" | "alert" | "emerg" => Level::Critical,
            _ => return None,
        })
    }

    /// An access-log line is as severe as its status: 5xx is an error, 4xx a warning.
    pub fn from_status(status: u16) -> Level {
        match status {
            500.. => Level::Error,
            400..=499 => Level::Warning,
            _ => Level::Info,
        }
    }

    pub fn is_error(self) -> bool {
        self >= Level::Error
    }
}

impl fmt::Display for Level {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Which grammar recognised the first line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum LineKind {
    /// Not recognised: kept verbatim, never dropped.
    #[default]
    Plain,
    Odoo,
    NginxError,
    NginxAccess,
}

/// A byte range into [`LogLine::text`]; empty when the field is absent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Span {
    pub start: u32,
    pub end: u32,
}

impl Span {
    pub fn new(start: usize, end: usize) -> Span {
        Span {
            start: start as u32,
            end: end as u32,
        }
    }

    pub fn is_empty(self) -> bool {
        self.start >= self.end
    }

    pub fn shifted(self, by: usize) -> Span {
        if self.is_empty() {
            self
        } else {
            Span::new(self.start as usize + by, self.end as usize + by)
        }
    }
}

/// Parsed fields of a first line. Which ones are set depends on [`LineKind`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Fields {
    pub db: Span,
    pub logger: Span,
    pub message: Span,
    pub client: Span,
    pub request: Span,
    pub upstream: Span,
}

/// What a parser found in one line, before it becomes a [`LogLine`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Header {
    pub kind: LineKind,
    pub ts: Option<i64>,
    pub level: Level,
    pub pid: Option<u32>,
    pub status: Option<u16>,
    pub fields: Fields,
}

/// One entry in the buffer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogLine {
    /// Arrival order across all sources; unique.
    pub seq: u64,
    pub source: SourceId,
    /// Milliseconds since the Unix epoch, UTC. Lines without a time of their own take
    /// the time Docker stamped them with, or the previous line's.
    pub ts: Option<i64>,
    pub level: Level,
    pub kind: LineKind,
    pub pid: Option<u32>,
    /// HTTP status of an access line.
    pub status: Option<u16>,
    /// The continuation lines hold a Python traceback: "jump to error" stops here even
    /// when the line itself was logged below ERROR.
    pub traceback: bool,
    fields: Fields,
    /// The first line, then `\n` and each continuation line.
    text: Box<str>,
    first_len: u32,
}

impl LogLine {
    pub fn new(source: SourceId, header: Header, text: String) -> LogLine {
        let first_len = text.find('\n').unwrap_or(text.len());
        let traceback = first_len < text.len() && looks_like_traceback(&text[first_len..]);
        let first_len = first_len as u32;
        LogLine {
            seq: 0,
            source,
            ts: header.ts,
            level: header.level,
            kind: header.kind,
            pid: header.pid,
            status: header.status,
            traceback,
            fields: header.fields,
            text: text.into_boxed_str(),
            first_len,
        }
    }

    /// A line no grammar recognised.
    pub fn plain(source: SourceId, ts: Option<i64>, text: String) -> LogLine {
        let header = Header {
            ts,
            ..Header::default()
        };
        LogLine::new(source, header, text)
    }

    /// The whole entry, continuation lines included (what filters and search look at).
    pub fn text(&self) -> &str {
        &self.text
    }

    pub fn first_line(&self) -> &str {
        &self.text[..self.first_len as usize]
    }

    /// Lines after the first (a traceback), without their `\n`.
    pub fn continuation(&self) -> impl Iterator<Item = &str> {
        self.text[self.first_len as usize..]
            .strip_prefix('\n')
            .map(|rest| rest.split('\n'))
            .into_iter()
            .flatten()
    }

    pub fn continuation_count(&self) -> usize {
        self.continuation().count()
    }

    /// Number of display rows when not wrapped.
    pub fn rows(&self) -> usize {
        1 + self.text[self.first_len as usize..]
            .bytes()
            .filter(|b| *b == b'\n')
            .count()
    }

    /// Byte offset of the first line's end, for callers mapping match ranges to rows.
    pub fn first_len(&self) -> usize {
        self.first_len as usize
    }

    pub fn fields(&self) -> Fields {
        self.fields
    }

    fn field(&self, span: Span) -> Option<&str> {
        (!span.is_empty()).then(|| &self.text[span.start as usize..span.end as usize])
    }

    pub fn db(&self) -> Option<&str> {
        self.field(self.fields.db)
    }
    pub fn logger(&self) -> Option<&str> {
        self.field(self.fields.logger)
    }
    pub fn message(&self) -> Option<&str> {
        self.field(self.fields.message)
    }
    pub fn client(&self) -> Option<&str> {
        self.field(self.fields.client)
    }
    pub fn request(&self) -> Option<&str> {
        self.field(self.fields.request)
    }
    pub fn upstream(&self) -> Option<&str> {
        self.field(self.fields.upstream)
    }

    /// Worth stopping at for "next error".
    pub fn is_error(&self) -> bool {
        self.level.is_error() || self.traceback
    }

    /// Heap bytes this entry holds, for the buffer's byte bound.
    pub fn weight(&self) -> usize {
        self.text.len() + std::mem::size_of::<LogLine>()
    }
}

/// `Traceback (most recent call last):`, or a Python exception line such as
/// `RuntimeError: Couldn't bind the websocket.` (Odoo sometimes logs only the frames).
fn looks_like_traceback(rest: &str) -> bool {
    rest.split('\n').any(|l| {
        l.starts_with("Traceback (most recent call last)")
            || l.split_once(": ").is_some_and(|(name, _)| {
                !name.is_empty()
                    && !name.starts_with(' ')
                    && (name.ends_with("Error") || name.ends_with("Exception"))
                    && name
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'_')
            })
    })
}
