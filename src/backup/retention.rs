//! Keep the N newest backups of a database in a directory; remove the rest (and their
//! checksum files). Names carry the UTC time, so name order is time order.

use std::path::{Path, PathBuf};

use color_eyre::eyre::{Result, eyre};

use super::names;

/// Remove all but the `keep` newest backups of `db` in `dir`; `just_made` is never
/// removed, whatever the clock did. Returns what was removed.
pub fn prune(dir: &Path, db: &str, keep: usize, just_made: &str) -> Result<Vec<PathBuf>> {
    let mut backups: Vec<String> = std::fs::read_dir(dir)
        .map_err(|e| eyre!("{}: {e}", dir.display()))?
        .filter_map(|e| e.ok())
        .filter_map(|e| e.file_name().into_string().ok())
        .filter(|n| names::is_backup_of(n, db))
        .collect();
    backups.sort_unstable_by(|a, b| b.cmp(a));
    let mut removed = Vec::new();
    for name in backups.iter().skip(keep.max(1)) {
        if name == just_made {
            continue;
        }
        let path = dir.join(name);
        std::fs::remove_file(&path).map_err(|e| eyre!("{}: {e}", path.display()))?;
        let _ = std::fs::remove_file(dir.join(names::checksums_file(name)));
        removed.push(path);
    }
    Ok(removed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_the_newest_of_this_database_only() {
        let dir = tempfile::tempdir().unwrap();
        let touch = |n: &str| std::fs::write(dir.path().join(n), b"x").unwrap();
        for d in 1..=4 {
            let name = format!("odoo_2026-11-0{d}_10-00-00.zip");
            touch(&name);
            touch(&names::checksums_file(&name));
        }
        touch("odoo_test_2026-11-01_10-00-00.zip");
        let removed = prune(dir.path(), "odoo", 2, "odoo_2026-11-04_10-00-00.zip").unwrap();
        let removed: Vec<String> = removed
            .iter()
            .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
            .collect();
        assert_eq!(
            removed,
            [
                "odoo_2026-11-02_10-00-00.zip",
                "odoo_2026-11-01_10-00-00.zip"
            ]
        );
        let mut left: Vec<String> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        left.sort();
        assert_eq!(
            left,
            [
                "odoo_2026-11-03_10-00-00.zip",
                "odoo_2026-11-03_10-00-00.zip.sha256.json",
                "odoo_2026-11-04_10-00-00.zip",
                "odoo_2026-11-04_10-00-00.zip.sha256.json",
                "odoo_test_2026-11-01_10-00-00.zip",
            ]
        );
    }
}
