//! What a deploy would do, said before it is confirmed (the command line's preview and the
//! Deploy pane's): from which release to which, the zero-downtime switch or a maintenance
//! window for modules with its backup, and the steps. Read-only: nothing on the host is
//! touched.

use std::path::PathBuf;

use super::module_window::{ModuleWindow, describe_plan};
use super::orchestrate;
use super::request::StackParts;
use super::switch_clone::image_repository;
use crate::target::{Command, Target};

/// A deploy's plan, as the operator confirms it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeployPreview {
    /// The host, as the target names it.
    pub host: String,
    /// What runs now: `18.0-1 (3fa9c2d1e0b4)`, or why it could not be read.
    pub from: Result<String, String>,
    pub to: String,
    /// The new image, `repo:tag`, and whether the host has it (nothing is pulled).
    pub image: Option<(String, bool)>,
    /// The module window's plan (`install project then upgrade base`), when modules are named.
    pub modules: Option<String>,
    /// Where the window's backup goes.
    pub backup_dir: Option<PathBuf>,
    /// The steps, in words.
    pub steps: String,
}

impl DeployPreview {
    /// Whether it runs zero-downtime (no module named).
    pub fn zero_downtime(&self) -> bool {
        self.modules.is_none()
    }
}

/// The steps of a deploy to `tag`, in words.
pub fn steps(tag: &str, window: Option<&ModuleWindow>) -> String {
    match window {
        None => format!(
            "lock, preflight, start {tag} beside the running release, gates on its own ports, \
             switch nginx, drain, gates through nginx; on failure switch back"
        ),
        Some(w) => format!(
            "lock, preflight, backup, maintenance page (503), stop the running release, \
             {} in a one-off container of {tag}, start {tag}, gates, page off, gates through nginx; \
             on failure restore the backup and start the previous release",
            describe_plan(&w.plan)
        ),
    }
}

/// The preview of a deploy of `tag` on the stack `parts` names.
pub async fn preview(
    target: &Target,
    parts: &StackParts,
    tag: &str,
    window: Option<&ModuleWindow>,
) -> DeployPreview {
    let project = parts.project().unwrap_or_default();
    let current = orchestrate::current(target, &project, "odoo").await;
    let image = match &current {
        Ok(c) => {
            let image = format!("{}:{tag}", image_repository(&c.image));
            let present = target
                .run(&Command::new("docker").args(["image", "inspect", "-f", "{{.Id}}", &image]))
                .await
                .map(|o| o.success())
                .unwrap_or(false);
            Some((image, present))
        }
        Err(_) => None,
    };
    DeployPreview {
        host: target.describe(),
        from: current
            .map(|c| format!("{} ({})", c.tag, short_id(&c.image_id)))
            .map_err(|e| format!("{e:#}")),
        to: tag.to_string(),
        image,
        modules: window.map(|w| describe_plan(&w.plan)),
        backup_dir: window.map(|w| w.backup_dir.clone()),
        steps: steps(tag, window),
    }
}

/// The first 12 hex digits of an image id.
pub fn short_id(id: &str) -> String {
    id.strip_prefix("sha256:")
        .unwrap_or(id)
        .chars()
        .take(12)
        .collect()
}
