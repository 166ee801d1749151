//! The wizard's work, run as jobs on the console's DigitalOcean client: read the account's
//! regions, sizes and SSH keys (and an unfinished earlier bootstrap), run the engine with
//! its events reported live, undo, go back. The token stays inside the client: nothing
//! here writes or shows it.

use std::path::{Path, PathBuf};

use super::form::{AccountChoices, Choice};
use super::{BootstrapEvent, Earlier, RunRequest};
use crate::bootstrap::amend;
use crate::bootstrap::answers::{Answers, Field};
use crate::bootstrap::remote::Reach;
use crate::bootstrap::run::{self, Setup};
use crate::bootstrap::steps::Progress;
use crate::digitalocean::Client;
use crate::jobs::Progress as JobProgress;
use crate::tui::droplets_job::Cloud;
use crate::tui::effect::Effect;
use crate::tui::jobs::ConsoleJob;
use crate::tui::message::Message;

pub async fn run(
    cloud: Option<Cloud>,
    effect: Effect,
    progress: &JobProgress<ConsoleJob>,
) -> Option<Message> {
    let client = match cloud {
        Some(Ok(client)) => Ok(client),
        Some(Err(e)) => Err(e.to_string()),
        None => Err("no DigitalOcean client".to_string()),
    };
    let event = match effect {
        Effect::LoadBootstrap(dir) => {
            let account = match &client {
                Ok(client) => account(client).await,
                Err(why) => Err(why.clone()),
            };
            let earlier = dir.as_deref().and_then(unfinished).map(Box::new);
            BootstrapEvent::Loaded { account, earlier }
        }
        Effect::RunBootstrap(request) => {
            let client = match client {
                Ok(c) => c,
                Err(why) => return Some(message(BootstrapEvent::NotStarted(why))),
            };
            let setup = match save(&request) {
                Ok(saved) => {
                    if !saved.changed.is_empty() {
                        progress.report(message(BootstrapEvent::Amended {
                            changed: saved.changed,
                            progress: saved.progress,
                        }));
                    }
                    console_setup(&request, saved.answers)
                }
                Err(why) => return Some(message(BootstrapEvent::NotStarted(why))),
            };
            let mut report = |e| progress.report(message(BootstrapEvent::Step(e)));
            BootstrapEvent::Ended(run::run(&setup, &client, &mut report).await)
        }
        Effect::UndoBootstrap(request) => {
            let result = match (client, Answers::load(&request.answers_path)) {
                (Ok(client), Ok(answers)) => {
                    run::undo(&console_setup(&request, answers), &client).await
                }
                (Err(why), _) => Err(why),
                (_, Err(e)) => Err(e.to_string()),
            };
            BootstrapEvent::Undone(result)
        }
        Effect::BootstrapGoBack(request, step) => {
            let result = Progress::load(&request.state_file).and_then(|mut p| {
                p.go_back_to(step);
                p.save(&request.state_file).map(|()| p)
            });
            BootstrapEvent::WentBack(step, result.map_err(|e| format!("{e:#}")))
        }
        _ => return None,
    };
    Some(message(event))
}

fn message(event: BootstrapEvent) -> Message {
    Message::Bootstrap(event)
}

/// What saving the form's answers did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Saved {
    /// As the CLI reads them back.
    pub answers: Answers,
    /// The fields that differ from the answers saved before (none for a new bootstrap).
    pub changed: Vec<Field>,
    /// The state file as it now reads.
    pub progress: Progress,
}

/// Write the form's answers where the CLI reads them and read them back as the CLI does
/// (the same checks, so a file the wizard wrote always works with `--answers`).
pub fn prepare(request: &RunRequest) -> Result<Answers, String> {
    save(request).map(|saved| saved.answers)
}

/// [`prepare`], and for a bootstrap under way (its state file records steps) the change
/// goes through the engine's rule first ([`amend`]): an answer a done step holds, changed,
/// is refused with nothing written; the steps that read a changed answer are forgotten in
/// the state file, so the run that follows does them again with the new values.
pub fn save(request: &RunRequest) -> Result<Saved, String> {
    let path = &request.answers_path;
    let shown = path.display();
    let new = Answers::parse(path, &request.answers_text).map_err(|e| e.to_string())?;
    let mut progress = Progress::load(&request.state_file).map_err(|e| format!("{e:#}"))?;
    let under_way = progress.droplet_id.is_some() || !progress.done.is_empty();
    let changed = if under_way {
        let old = Answers::load(path)
            .map_err(|e| format!("the saved answers cannot be compared with the form's: {e}"))?;
        let now = crate::deploy::clock::rfc3339(crate::deploy::clock::now_ms());
        amend::amend(&mut progress, &old, &new, now)?
    } else {
        Vec::new()
    };
    // The steps forgotten first: should the answers then fail to be written, those steps
    // only run again with the old ones (each is idempotent), never the reverse.
    if !changed.is_empty() {
        progress
            .save(&request.state_file)
            .map_err(|e| format!("the state file could not be written: {e:#}"))?;
    }
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)
            .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    }
    std::fs::write(path, &request.answers_text)
        .map_err(|e| format!("cannot write the answers to {shown}: {e}"))?;
    Ok(Saved {
        answers: Answers::load(path).map_err(|e| e.to_string())?,
        changed,
        progress,
    })
}

/// The engine's setup for a real droplet, as `odoo-ops bootstrap` makes it with no
/// options: root on port 22 with the operator's usual keys and known_hosts; proofs kept
/// beside the answers.
pub fn console_setup(request: &RunRequest, answers: Answers) -> Setup {
    let reach = Reach::droplet_root(&crate::ssh::Environment::from_process(), None, None);
    let mut setup = Setup::new(answers, request.state_file.clone(), reach);
    setup.proofs = request
        .answers_path
        .parent()
        .unwrap_or(Path::new("."))
        .join("proofs");
    setup.skip = request.skip.iter().copied().collect();
    setup
}

/// The account's regions, sizes (those odoo-ops has sizing for) and SSH keys.
async fn account(client: &Client) -> Result<AccountChoices, String> {
    let (regions, sizes, keys) = tokio::join!(client.regions(), client.sizes(), client.ssh_keys());
    let regions = regions.map_err(|e| format!("regions: {e}"))?;
    let sizes = sizes.map_err(|e| format!("sizes: {e}"))?;
    let keys = keys.map_err(|e| format!("SSH keys: {e}"))?;
    Ok(AccountChoices {
        regions: regions
            .into_iter()
            .filter(|r| r.available)
            .map(|r| Choice {
                label: format!("{} ({})", r.slug, r.name),
                value: r.slug,
            })
            .collect(),
        sizes: sizes
            .into_iter()
            .filter(|s| s.available && Field::Size.check(&s.slug).is_ok())
            .map(|s| Choice {
                label: format!(
                    "{} ({} vCPU, {} GB, ${:.0}/month)",
                    s.slug,
                    s.vcpus,
                    s.memory / 1024,
                    s.price_monthly
                ),
                value: s.slug,
            })
            .collect(),
        keys: keys
            .into_iter()
            .map(|k| Choice {
                label: format!("{} ({})", k.name, k.fingerprint),
                value: k.fingerprint,
            })
            .collect(),
    })
}

/// The newest answers file in `dir` whose bootstrap is not complete, with its progress.
fn unfinished(dir: &Path) -> Option<Earlier> {
    let mut found: Vec<(std::time::SystemTime, PathBuf)> = std::fs::read_dir(dir)
        .ok()?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .filter_map(|p| Some((p.metadata().ok()?.modified().ok()?, p)))
        .collect();
    found.sort();
    found.into_iter().rev().find_map(|(_, path)| {
        let progress = Progress::load(&crate::cli::bootstrap::default_state_file(&path)).ok()?;
        let answers = Answers::load(&path).ok()?;
        progress.next().map(|_| Earlier {
            answers_path: path,
            answers,
            progress,
        })
    })
}
