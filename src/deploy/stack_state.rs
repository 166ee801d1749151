//! A stack's share of odoo-ops' state on its host: one private directory per stack
//! directory under [`StateDirs::deploys`], holding the lock, the step journals and the
//! releases. Two stacks on one droplet (`/opt/shop`, `/opt/staging`) never share a lock.

use std::path::{Path, PathBuf};

use color_eyre::eyre::Result;

use crate::target::Target;
use crate::workflow::StateDirs;
use crate::workflow::state_dir;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StackState {
    /// The stack directory on the host, as the operator named it.
    pub stack_dir: PathBuf,
    /// This stack's state directory on the host.
    pub root: PathBuf,
}

impl StackState {
    /// The state of `stack_dir` under `dirs` (from [`StateDirs::locate`], or a test's own).
    pub fn in_dirs(dirs: &StateDirs, stack_dir: &Path) -> StackState {
        StackState {
            stack_dir: stack_dir.to_path_buf(),
            root: dirs.deploys().join(key(stack_dir)),
        }
    }

    /// The state of `stack_dir` for the login `target` acts as.
    pub async fn locate(target: &Target, stack_dir: &Path) -> Result<StackState> {
        let dirs = StateDirs::locate(target).await?;
        Ok(StackState::in_dirs(&dirs, stack_dir))
    }

    /// The lock file: present while a deploy, rollback or restore runs.
    pub fn lock_file(&self) -> PathBuf {
        self.root.join("lock")
    }

    /// One append-only JSON-lines file per deploy.
    pub fn journal_dir(&self) -> PathBuf {
        self.root.join("journal")
    }

    pub fn releases_file(&self) -> PathBuf {
        self.root.join("releases.jsonl")
    }

    /// Create the directory (private: whoever can write here could fake a release or
    /// steal the lock) and check it is ours alone.
    pub async fn ensure(&self, target: &Target) -> Result<()> {
        state_dir::ensure_private(target, &self.root).await
    }

    /// Whether the directory exists (and is private); nothing was ever recorded if not.
    pub async fn exists(&self, target: &Target) -> Result<bool> {
        state_dir::exists_private(target, &self.root).await
    }
}

/// `opt-odoo-1a2b3c4d` for `/opt/odoo`: readable, and the hash keeps `/opt/a-b` and
/// `/opt/a/b` apart. A trailing `/` does not make another stack.
fn key(stack_dir: &Path) -> String {
    let text = stack_dir.to_string_lossy();
    let text = text.trim_end_matches('/');
    let readable: String = text
        .split('/')
        .filter(|p| !p.is_empty())
        .collect::<Vec<_>>()
        .join("-")
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.' {
                c
            } else {
                '_'
            }
        })
        .take(60)
        .collect();
    let hash = crate::workflow::sha256_hex(text.as_bytes());
    format!("{}-{}", readable.trim_start_matches('.'), &hash[..8])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_stack_has_its_own_directory() {
        let dirs = StateDirs::under(Path::new("/s"));
        let a = StackState::in_dirs(&dirs, Path::new("/opt/odoo"));
        let shown = a.root.to_string_lossy();
        assert!(shown.starts_with("/s/deploys/opt-odoo-"), "{shown}");
        assert_eq!(a, StackState::in_dirs(&dirs, Path::new("/opt/odoo/")));
        assert_ne!(
            StackState::in_dirs(&dirs, Path::new("/opt/a-b")).root,
            StackState::in_dirs(&dirs, Path::new("/opt/a/b")).root
        );
        assert!(dirs.holds(&a.lock_file()));
    }
}
