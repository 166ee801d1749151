//! Grammars for the first line of an entry. Each returns `None` for a line it does not
//! recognise; the assembler then treats the line as a continuation or as plain text.

pub mod nginx;
pub mod odoo;

use super::line::Header;

/// What a source is expected to write.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Format {
    /// Try every grammar (a container could be Odoo or nginx).
    #[default]
    Auto,
    Odoo,
    NginxError,
    NginxAccess,
    /// Keep every line verbatim.
    Plain,
}

impl Format {
    pub fn name(self) -> &'static str {
        match self {
            Format::Auto => "auto",
            Format::Odoo => "odoo",
            Format::NginxError => "nginx-error",
            Format::NginxAccess => "nginx-access",
            Format::Plain => "plain",
        }
    }
}

/// Recognise a first line in `format`.
pub fn header(format: Format, line: &str) -> Option<Header> {
    match format {
        Format::Odoo => odoo::parse(line),
        Format::NginxError => nginx::parse_error(line),
        Format::NginxAccess => nginx::parse_access(line),
        Format::Plain => None,
        // The fifth byte tells the grammars apart: `2026-` Odoo, `2026/` nginx error,
        // anything else can only be an access line.
        Format::Auto => match line.as_bytes().get(4) {
            Some(b'-') => odoo::parse(line),
            Some(b'/') => nginx::parse_error(line),
            _ => nginx::parse_access(line),
        },
    }
}
