//! The wizard's steps and the record of which are done, kept in a state file so that a
//! re-run continues where the last one stopped and a failure can say what was already done.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

/// The steps, in the order they run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Step {
    Choose,
    CreateDroplet,
    WaitReady,
    Dns,
    Stack,
    Tls,
    ModulesVerify,
    InstallConsole,
}

impl Step {
    pub const ALL: [Step; 8] = [
        Step::Choose,
        Step::CreateDroplet,
        Step::WaitReady,
        Step::Dns,
        Step::Stack,
        Step::Tls,
        Step::ModulesVerify,
        Step::InstallConsole,
    ];

    /// What the step does, for the form's list and for "already done: …".
    /// The name in `--skip` and in the JSON report: `create_droplet`, `tls`...
    pub fn key(self) -> &'static str {
        match self {
            Step::Choose => "choose",
            Step::CreateDroplet => "create_droplet",
            Step::WaitReady => "wait_ready",
            Step::Dns => "dns",
            Step::Stack => "stack",
            Step::Tls => "tls",
            Step::ModulesVerify => "modules_verify",
            Step::InstallConsole => "install_console",
        }
    }

    pub fn from_key(key: &str) -> Option<Step> {
        Step::ALL
            .into_iter()
            .find(|s| s.key() == key.replace('-', "_"))
    }

    pub fn title(self) -> &'static str {
        match self {
            Step::Choose => "choose name, region, size, key, domain, image and modules",
            Step::CreateDroplet => "create the droplet and wait until it is active",
            Step::WaitReady => "wait for SSH and for cloud-init to finish",
            Step::Dns => "point the domain at the droplet",
            Step::Stack => "upload the stack files, start the stack, wait for health",
            Step::Tls => "issue the TLS certificate (staging first, then real)",
            Step::ModulesVerify => "install the modules plan and verify every gate",
            Step::InstallConsole => "leave odoo-ops installed on the droplet",
        }
    }

    /// Whether undoing the step would mean deleting something that costs money.
    pub fn created_billable(self) -> bool {
        self == Step::CreateDroplet
    }
}

/// One step done: when, and what it left that later steps or an undo need.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Done {
    pub step: Step,
    /// RFC 3339, UTC.
    pub at: String,
    /// A short fact the step established (the droplet's id, its address, the certificate's
    /// expiry...): never a secret.
    pub fact: String,
}

/// The state file's content.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Progress {
    pub done: Vec<Done>,
    /// The droplet this bootstrap created, which an undo may delete (after confirmation).
    pub droplet_id: Option<u64>,
    /// Its public IPv4 once it was active: where SSH, DNS and the stack go.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub droplet_ipv4: Option<String>,
    /// The answers step 1 was done with, by field key ([`super::amend::record`]), so a
    /// later run from an edited answers file knows what changed. `None` in a state file
    /// written before they were recorded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub answers: Option<BTreeMap<String, String>>,
}

impl Progress {
    /// The first step not done yet, or `None` when the bootstrap is complete.
    pub fn next(&self) -> Option<Step> {
        Step::ALL.into_iter().find(|s| !self.is_done(*s))
    }

    /// What a done step recorded, `None` when it is not done.
    pub fn fact(&self, step: Step) -> Option<&str> {
        self.done
            .iter()
            .find(|d| d.step == step)
            .map(|d| d.fact.as_str())
    }

    pub fn is_done(&self, step: Step) -> bool {
        self.done.iter().any(|d| d.step == step)
    }

    /// Record a step as done (again: a re-run replaces the earlier record).
    pub fn record(&mut self, step: Step, at: String, fact: String) {
        self.done.retain(|d| d.step != step);
        self.done.push(Done { step, at, fact });
        self.done.sort_by_key(|d| d.step);
    }

    /// Going back to a step forgets it and every step after it, so they run again.
    pub fn go_back_to(&mut self, step: Step) {
        self.done.retain(|d| d.step < step);
    }

    /// "Already done: …" for a failed step's message.
    pub fn describe_done(&self) -> String {
        if self.done.is_empty() {
            return "nothing was done yet".into();
        }
        let parts: Vec<String> = self
            .done
            .iter()
            .map(|d| format!("{} ({})", d.step.title(), d.fact))
            .collect();
        format!("already done: {}", parts.join("; "))
    }

    /// Read the state file; a missing file is a bootstrap not started.
    pub fn load(path: &Path) -> color_eyre::Result<Progress> {
        match std::fs::read(path) {
            Ok(bytes) => serde_json::from_slice(&bytes).map_err(|e| {
                color_eyre::eyre::eyre!("{}: not a bootstrap state file: {e}", path.display())
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Progress::default()),
            Err(e) => Err(color_eyre::eyre::eyre!("{}: {e}", path.display())),
        }
    }

    /// Write the state file atomically: a crash mid-write leaves the previous record whole.
    pub fn save(&self, path: &Path) -> color_eyre::Result<()> {
        let tmp = path.with_extension("json.partial");
        std::fs::write(&tmp, serde_json::to_vec_pretty(self)?)?;
        std::fs::rename(&tmp, path)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_rerun_continues_after_the_last_done_step_and_back_forgets_later_ones() {
        let mut p = Progress::default();
        assert_eq!(p.next(), Some(Step::Choose));
        p.record(Step::Choose, "t0".into(), "erp-prod-1".into());
        p.record(Step::CreateDroplet, "t1".into(), "droplet 42".into());
        p.record(Step::WaitReady, "t2".into(), "cloud-init done".into());
        assert_eq!(p.next(), Some(Step::Dns));
        p.go_back_to(Step::CreateDroplet);
        assert_eq!(p.next(), Some(Step::CreateDroplet));
        assert!(p.describe_done().contains("erp-prod-1"));
    }

    #[test]
    fn the_state_file_round_trips_and_a_missing_one_is_a_fresh_start() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("bootstrap.json");
        assert_eq!(Progress::load(&path).unwrap(), Progress::default());
        let mut p = Progress {
            droplet_id: Some(42),
            ..Default::default()
        };
        p.record(Step::Choose, "t0".into(), "x".into());
        p.save(&path).unwrap();
        assert_eq!(Progress::load(&path).unwrap(), p);
        std::fs::write(&path, "{").unwrap();
        let e = Progress::load(&path).unwrap_err().to_string();
        assert!(e.contains("bootstrap.json"), "{e}");
    }
}
