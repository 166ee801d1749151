//! Writing the current view to a file: exactly the entries shown, in order, each with its
//! continuation lines, prefixed by its source when several sources are merged.

use std::io::Write;
use std::path::Path;

use super::line::LogLine;

/// Write `lines` to `path` (created or truncated, mode 0600: logs may hold personal data),
/// secrets hidden by [`crate::redact`].
/// Returns the number of entries written.
pub fn write<'a>(
    path: &Path,
    lines: impl Iterator<Item = &'a LogLine>,
    source_names: &[String],
    with_source: bool,
) -> std::io::Result<usize> {
    use std::os::unix::fs::OpenOptionsExt;
    let file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)?;
    let mut out = std::io::BufWriter::with_capacity(1 << 16, file);
    let mut count = 0;
    for line in lines {
        if with_source {
            let name = source_names
                .get(line.source.0 as usize)
                .map_or("?", String::as_str);
            write!(out, "[{name}] ")?;
        }
        // An exported file travels (tickets, chat): a password in a URL or an option does not.
        out.write_all(crate::redact::text(line.text()).as_bytes())?;
        out.write_all(b"\n")?;
        count += 1;
    }
    out.flush()?;
    Ok(count)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::logs::line::SourceId;

    #[test]
    fn writes_each_entry_with_its_continuation_and_source() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("view.log");
        let lines = [
            LogLine::plain(SourceId(0), None, "first\n  traceback".into()),
            LogLine::plain(SourceId(1), None, "second".into()),
        ];
        let names = vec!["odoo".to_string(), "nginx".to_string()];
        assert_eq!(write(&path, lines.iter(), &names, true).unwrap(), 2);
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            "[odoo] first\n  traceback\n[nginx] second\n"
        );
    }

    #[test]
    fn a_password_in_a_url_is_not_exported() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("view.log");
        let lines = [LogLine::plain(
            SourceId(0),
            None,
            "ERROR connecting to postgres://odoo:hunter2@db:5432/odoo\n  --db_password=hunter3"
                .into(),
        )];
        write(&path, lines.iter(), &[], false).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(
            text,
            "ERROR connecting to postgres://odoo:<redacted>@db:5432/odoo\n  --db_password=<redacted>\n"
        );
    }
}
