//! The releases a stack has had on its host: one JSON line per deploy or rollback,
//! appended when it ends (`releases.jsonl` in the stack's state), listed newest first for
//! the operator to pick one to roll back to.

use color_eyre::eyre::{Result, bail};
use serde::{Deserialize, Serialize};

use super::journal::Outcome;
use super::stack_state::StackState;
use crate::target::{Command, Target};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Release {
    pub tag: String,
    /// The image digest that ran (a tag can be pushed again; this cannot).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub digest: Option<String>,
    /// When the deploy ended (epoch ms, UTC).
    pub deployed_ms: i64,
    /// Who deployed it (`alice@laptop`).
    pub by: String,
    pub outcome: Outcome,
    pub deploy_id: String,
}

/// Add `release` to the stack's list.
pub async fn record(target: &Target, state: &StackState, release: &Release) -> Result<()> {
    state.ensure(target).await?;
    const APPEND: &str = r#"umask 077
cat >> "$1""#;
    let mut line = serde_json::to_vec(release)?;
    line.push(b'\n');
    let file = state.releases_file();
    let out = target
        .run(
            &Command::script(APPEND)
                .arg(file.to_string_lossy())
                .stdin(line),
        )
        .await?;
    if !out.success() {
        bail!(
            "could not record the release in {} on {}: {}",
            file.display(),
            target.describe(),
            out.stderr_text().trim()
        );
    }
    Ok(())
}

/// Every release recorded for the stack, newest first; none when nothing was ever deployed.
pub async fn list(target: &Target, state: &StackState) -> Result<Vec<Release>> {
    if !state.exists(target).await? {
        return Ok(Vec::new());
    }
    const READ: &str = r#"[ -f "$1" ] || exit 0
cat -- "$1""#;
    let file = state.releases_file();
    let out = target
        .run(&Command::script(READ).arg(file.to_string_lossy()))
        .await?;
    if !out.success() {
        bail!(
            "could not read {} on {}: {}",
            file.display(),
            target.describe(),
            out.stderr_text().trim()
        );
    }
    Ok(newest_first(&out.stdout_text()))
}

/// Parse the lines (a torn or foreign one is skipped) and sort by end time, newest first;
/// equal times keep the file's order reversed (the later line is the later release).
fn newest_first(text: &str) -> Vec<Release> {
    let mut releases: Vec<Release> = text
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect();
    releases.reverse();
    releases.sort_by_key(|r| std::cmp::Reverse(r.deployed_ms));
    releases
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn newest_first_whatever_the_order_written() {
        let r = |tag: &str, ms| Release {
            tag: tag.into(),
            digest: None,
            deployed_ms: ms,
            by: "me".into(),
            outcome: Outcome::Passed,
            deploy_id: tag.into(),
        };
        let text = [r("a", 1), r("c", 3), r("b", 2), r("c2", 3)]
            .iter()
            .map(|r| serde_json::to_string(r).unwrap())
            .collect::<Vec<_>>()
            .join("\n")
            + "\n{torn";
        let tags: Vec<String> = newest_first(&text).into_iter().map(|r| r.tag).collect();
        assert_eq!(tags, ["c2", "c", "b", "a"]);
    }
}
