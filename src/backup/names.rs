//! What backups and the databases a restore makes are called.
//!
//! Backup files are named as Odoo's database manager names its downloads
//! (`DBNAME_YYYY-MM-DD_HH-MM-SS.zip`, UTC), so both kinds sort and read alike.

use std::time::{SystemTime, UNIX_EPOCH};

use crate::logs::time::civil_from_ms;

/// PostgreSQL truncates identifiers longer than this (NAMEDATALEN - 1): a longer name
/// would silently become another one.
pub const MAX_DB_NAME: usize = 63;

/// A moment in UTC, as the names need it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stamp {
    pub y: i64,
    pub mo: u32,
    pub d: u32,
    pub h: u32,
    pub mi: u32,
    pub s: u32,
}

impl Stamp {
    pub fn now() -> Stamp {
        let ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_millis() as i64)
            .unwrap_or(0);
        Stamp::from_ms(ms)
    }

    pub fn from_ms(ms: i64) -> Stamp {
        let (y, mo, d, h, mi, s, _) = civil_from_ms(ms);
        Stamp { y, mo, d, h, mi, s }
    }

    /// `2026-11-30_11-16-38`, as in Odoo's backup file names.
    pub fn file_part(&self) -> String {
        format!(
            "{:04}-{:02}-{:02}_{:02}-{:02}-{:02}",
            self.y, self.mo, self.d, self.h, self.mi, self.s
        )
    }

    /// `20261130_111638`: database names stay short and need no quoting.
    pub fn db_part(&self) -> String {
        format!(
            "{:04}{:02}{:02}_{:02}{:02}{:02}",
            self.y, self.mo, self.d, self.h, self.mi, self.s
        )
    }

    /// `2026-11-30T11:16:38Z`.
    pub fn rfc3339(&self) -> String {
        format!(
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
            self.y, self.mo, self.d, self.h, self.mi, self.s
        )
    }
}

/// `odoo_2026-11-30_11-16-38.zip`.
pub fn backup_file(db: &str, at: &Stamp) -> String {
    format!("{db}_{}.zip", at.file_part())
}

/// The checksums written beside a backup: `odoo_2026-11-30_11-16-38.zip.sha256.json`.
pub fn checksums_file(zip_name: &str) -> String {
    format!("{zip_name}.sha256.json")
}

/// Whether a file name is one of `db`'s backups (for retention: another database's
/// backups in the same directory are not counted or removed).
pub fn is_backup_of(file_name: &str, db: &str) -> bool {
    let Some(rest) = file_name
        .strip_prefix(db)
        .and_then(|r| r.strip_prefix('_'))
        .and_then(|r| r.strip_suffix(".zip"))
    else {
        return false;
    };
    // Exactly the stamp: `odoo_2026-...` must not count as a backup of `odoo`'s
    // namesake `odoo_test`'s and vice versa.
    rest.len() == 19
        && rest.bytes().enumerate().all(|(i, b)| match i {
            4 | 7 | 13 | 16 => b == b'-',
            10 => b == b'_',
            _ => b.is_ascii_digit(),
        })
}

/// The database a restore loads into, beside the current one.
pub fn restore_db(db: &str, at: &Stamp) -> String {
    format!("{db}_restore_{}", at.db_part())
}

/// What the current database becomes when the restored one takes its name (kept).
pub fn before_restore_db(db: &str, at: &Stamp) -> String {
    format!("{db}_before_restore_{}", at.db_part())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_odoo_and_sort_by_time() {
        // 2026-11-30T11:16:38Z
        let at = Stamp::from_ms(1_796_037_398_000);
        assert_eq!(at.rfc3339(), "2026-11-30T11:16:38Z");
        assert_eq!(backup_file("odoo", &at), "odoo_2026-11-30_11-16-38.zip");
        assert_eq!(restore_db("odoo", &at), "odoo_restore_20261130_111638");
        assert_eq!(
            before_restore_db("odoo", &at),
            "odoo_before_restore_20261130_111638"
        );
        assert!(is_backup_of("odoo_2026-11-30_11-16-38.zip", "odoo"));
        assert!(!is_backup_of("odoo_test_2026-11-30_11-16-38.zip", "odoo"));
        assert!(!is_backup_of(
            "odoo_2026-11-30_11-16-38.zip.sha256.json",
            "odoo"
        ));
        assert!(!is_backup_of("odoo_2026-11-30_11-16-38.zip", "odoo_test"));
    }
}
