//! Backups and restores of an Odoo database and its filestore, in Odoo's own zip format
//! (`dump.sql`, `manifest.json`, `filestore/`), so Odoo's database manager and common
//! tools restore them too. The engine of `odoo-ops backup` / `restore`, and of deploy and
//! rollback. No UI here.

pub mod archive;
pub mod checksums;
pub mod create;
pub mod filestore;
pub mod manifest;
pub mod names;
pub mod pipe;
pub mod restore;
pub mod retention;
pub mod stack;

pub use create::{BackupOptions, BackupReport, backup};
pub use restore::{RestoreOptions, RestoreReport, restore};
pub use stack::{Stack, StackSpec};

/// Where backups go: the config's `[backup] dir`, else `backups/` in the state dir.
pub fn default_dir(settings: &crate::config::Settings) -> Option<std::path::PathBuf> {
    settings
        .config
        .backup
        .dir
        .clone()
        .or_else(|| crate::config::state_dir().map(|d| d.join("backups")))
}
