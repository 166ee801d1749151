//! The bootstrap's engine: the steps in order, from the state file, each idempotent.
//!
//! A step already recorded as done is reported as such and not run again (the droplet is
//! still looked up: a droplet deleted since is created anew). Each step done is written
//! to the state file at once, so a run stopped anywhere (killed, failed, `until`) continues
//! where it stopped. Progress goes out through a callback, so the console's form and the
//! headless CLI show the same events; there is no UI code here.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::time::Duration;

use serde::Serialize;

use super::answers::Answers;
use super::edge::EdgeSetup;
use super::remote::{self, Droplet};
use super::resolve::Resolver;
use super::steps::{Progress, Step};
use crate::digitalocean::Client;

/// Everything a run needs besides the DigitalOcean client.
#[derive(Debug, Clone)]
pub struct Setup {
    pub answers: Answers,
    pub state_file: PathBuf,
    /// How SSH reaches the new droplet.
    pub reach: remote::Reach,
    /// What says the droplet's first boot is over; exit 0 done, 2 degraded, else failed.
    pub ready_command: Vec<String>,
    /// Waits: SSH to answer, DNS to resolve, the stack to be healthy, the create action.
    pub waits: Waits,
    /// Which DNS says where the domain points: step 4 waits on it, step 6's preflight
    /// checks it.
    pub resolver: Resolver,
    /// The stack's directory on the droplet.
    pub stack_dir: PathBuf,
    /// The droplet's nginx and certbot, and the CA (steps 5 to 7).
    pub edge: EdgeSetup,
    /// Where the console is left on the droplet, and which binary is copied there.
    pub install_path: PathBuf,
    pub console_binary: PathBuf,
    /// Where the verification's proofs are written (on this machine).
    pub proofs: PathBuf,
    /// Steps the operator chose to leave out this run: reported as not done, not recorded.
    pub skip: BTreeSet<Step>,
    /// Stop after this step (the form's "next", or a partial run).
    pub until: Option<Step>,
}

#[derive(Debug, Clone, Copy)]
pub struct Waits {
    pub ssh: Duration,
    pub dns: Duration,
    pub dns_poll: Duration,
    pub stack: Duration,
    pub action_poll: Duration,
    pub droplet_active: Duration,
}

impl Default for Waits {
    fn default() -> Self {
        Waits {
            ssh: Duration::from_secs(600),
            dns: Duration::from_secs(1800),
            dns_poll: Duration::from_secs(15),
            stack: Duration::from_secs(600),
            action_poll: Duration::from_secs(5),
            droplet_active: Duration::from_secs(600),
        }
    }
}

/// `cloud-init status --wait --format json`: blocks until the first boot's modules ran.
pub fn default_ready_command() -> Vec<String> {
    ["cloud-init", "status", "--wait", "--format", "json"]
        .map(String::from)
        .to_vec()
}

impl Setup {
    /// The defaults for a real droplet: root on port 22, the stack in /opt/odoo, the console
    /// at /usr/local/bin/odoo-ops.
    pub fn new(answers: Answers, state_file: PathBuf, reach: remote::Reach) -> Setup {
        Setup {
            edge: EdgeSetup::new(&answers),
            answers,
            state_file,
            reach,
            ready_command: default_ready_command(),
            waits: Waits::default(),
            resolver: Resolver::System,
            stack_dir: PathBuf::from(crate::deploy::DEFAULT_STACK_DIR),
            install_path: PathBuf::from("/usr/local/bin/odoo-ops"),
            console_binary: std::env::current_exe().unwrap_or_else(|_| "odoo-ops".into()),
            proofs: PathBuf::from("proofs"),
            skip: BTreeSet::new(),
            until: None,
        }
    }
}

/// What a run tells as it goes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Event {
    Started {
        step: Step,
    },
    /// Recorded as done by an earlier run; nothing was changed.
    AlreadyDone {
        step: Step,
        fact: String,
    },
    /// Something the operator must see (a host key accepted, a DNS record to set).
    Notice {
        step: Step,
        text: String,
    },
    Warning {
        step: Step,
        text: String,
    },
    Done {
        step: Step,
        fact: String,
    },
    /// Left out this run (`--skip`, or not available in this build): not recorded.
    NotDone {
        step: Step,
        why: String,
    },
}

/// A step that failed, and what the operator can do about it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Failure {
    pub step: Step,
    pub error: String,
    /// "already done: …" from the state file.
    pub already_done: String,
    /// The droplet an undo would delete.
    pub droplet_id: Option<u64>,
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "step {:?} ({}) failed: {}\n{}",
            self.step.key(),
            self.step.title(),
            self.error,
            self.already_done
        )
    }
}

/// How a run ended when no step failed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finished {
    pub progress: Progress,
    /// Steps not done (skipped this run, or after `until`).
    pub not_done: Vec<Step>,
}

/// Run the steps not yet done, in order, reporting to `report`.
pub async fn run(
    setup: &Setup,
    client: &Client,
    report: &mut (dyn FnMut(Event) + Send),
) -> Result<Finished, Failure> {
    let mut progress = Progress::load(&setup.state_file).map_err(|e| Failure {
        step: Step::Choose,
        error: format!("{e:#}"),
        already_done: "nothing could be read from the state file".into(),
        droplet_id: None,
    })?;
    check_answers(setup, &mut progress, report)?;
    let mut host: Option<remote::Host> = None;
    let mut not_done = Vec::new();
    let mut stopped = false;
    for step in Step::ALL {
        if stopped {
            not_done.push(step);
            continue;
        }
        if setup.skip.contains(&step) && !progress.is_done(step) {
            report(Event::NotDone {
                step,
                why: "skipped on request (--skip)".into(),
            });
            not_done.push(step);
            stopped = setup.until == Some(step);
            continue;
        }
        let outcome = run_step(step, setup, client, &mut progress, &mut host, report).await;
        match outcome {
            Ok(Some(fact)) => {
                progress.record(
                    step,
                    crate::deploy::clock::rfc3339(crate::deploy::clock::now_ms()),
                    fact.clone(),
                );
                save(setup, &progress, step)?;
                report(Event::Done { step, fact });
            }
            Ok(None) => {}
            Err(error) => {
                // What the step itself saved (a droplet's id) must outlive its failure.
                let _ = progress.save(&setup.state_file);
                return Err(Failure {
                    step,
                    error,
                    already_done: progress.describe_done(),
                    droplet_id: progress.droplet_id,
                });
            }
        }
        stopped = setup.until == Some(step);
    }
    Ok(Finished { progress, not_done })
}

/// The answers file against the answers step 1 recorded, before any step: a fixed answer
/// changed refuses the run with nothing changed; an editable one sends the state back to
/// the first step that reads it (the rule of [`super::amend`], the console's too).
fn check_answers(
    setup: &Setup,
    progress: &mut Progress,
    report: &mut (dyn FnMut(Event) + Send),
) -> Result<(), Failure> {
    let before = progress.clone();
    let now = crate::deploy::clock::rfc3339(crate::deploy::clock::now_ms());
    let rewound =
        super::amend::from_record(progress, &setup.answers, now).map_err(|error| Failure {
            step: Step::Choose,
            error,
            already_done: progress.describe_done(),
            droplet_id: progress.droplet_id,
        })?;
    if *progress != before {
        save(setup, progress, Step::Choose)?;
    }
    if let Some(rewound) = rewound {
        report(Event::Notice {
            step: Step::Choose,
            text: rewound.said,
        });
    }
    Ok(())
}

fn save(setup: &Setup, progress: &Progress, step: Step) -> Result<(), Failure> {
    progress.save(&setup.state_file).map_err(|e| Failure {
        step,
        error: format!("the step was done but the state file could not be written: {e:#}"),
        already_done: progress.describe_done(),
        droplet_id: progress.droplet_id,
    })
}

/// One step: `Ok(Some(fact))` done now, `Ok(None)` already done (reported here).
async fn run_step(
    step: Step,
    setup: &Setup,
    client: &Client,
    progress: &mut Progress,
    host: &mut Option<remote::Host>,
    report: &mut (dyn FnMut(Event) + Send),
) -> Result<Option<String>, String> {
    // The droplet is looked up even when recorded: one deleted since is made again, and
    // everything after it with it.
    if step == Step::CreateDroplet && progress.is_done(step) {
        let id = progress.droplet_id.unwrap_or_default();
        match client.droplet(id).await {
            Ok(_) => {}
            Err(e) if e.status() == Some(404) => {
                report(Event::Notice {
                    step,
                    text: format!(
                        "droplet {id} recorded in the state file no longer exists: creating a new one"
                    ),
                });
                progress.go_back_to(Step::CreateDroplet);
                progress.droplet_id = None;
                progress.droplet_ipv4 = None;
                let _ = progress.save(&setup.state_file);
            }
            Err(e) => return Err(format!("cannot look up droplet {id}: {e}")),
        }
    }
    if let Some(fact) = progress.fact(step) {
        report(Event::AlreadyDone {
            step,
            fact: fact.to_string(),
        });
        return Ok(None);
    }
    report(Event::Started { step });
    match step {
        Step::Choose => {
            // What a later run from an edited answers file is compared with.
            progress.answers = Some(super::amend::record(&setup.answers));
            Ok(Some(super::amend::choose_fact(&setup.answers)))
        }
        Step::CreateDroplet => {
            let droplet = super::droplet::create(setup, client, progress, report).await?;
            Ok(Some(format!("droplet {} at {}", droplet.id, droplet.ipv4)))
        }
        Step::WaitReady => {
            let droplet = recorded_droplet(progress)?;
            let connected = remote::Host::wait_for_ssh(setup, &droplet, report).await?;
            let fact = super::ready::cloud_init_done(setup, &connected, report).await?;
            *host = Some(connected);
            Ok(Some(fact))
        }
        Step::Dns => {
            let droplet = recorded_droplet(progress)?;
            super::dns::point(setup, client, &droplet, report)
                .await
                .map(Some)
        }
        Step::Stack => {
            let h = connected(setup, progress, host, report).await?;
            super::stack::up(setup, h, report).await.map(Some)
        }
        Step::Tls => {
            let h = connected(setup, progress, host, report).await?;
            super::certificate::issue(setup, h, report).await.map(Some)
        }
        Step::ModulesVerify => {
            let h = connected(setup, progress, host, report).await?;
            let tls_done = progress.is_done(Step::Tls);
            super::modules_verify::run(setup, h, tls_done, report)
                .await
                .map(Some)
        }
        Step::InstallConsole => {
            let h = connected(setup, progress, host, report).await?;
            super::console::install(setup, h, report).await.map(Some)
        }
    }
}

fn recorded_droplet(progress: &Progress) -> Result<Droplet, String> {
    match (progress.droplet_id, &progress.droplet_ipv4) {
        (Some(id), Some(ip)) => Ok(Droplet {
            id,
            ipv4: ip.clone(),
        }),
        _ => Err("the state file records no droplet address; run the create step again".into()),
    }
}

/// The SSH connection, made once per run (its key already recorded by WaitReady).
async fn connected<'a>(
    setup: &Setup,
    progress: &Progress,
    host: &'a mut Option<remote::Host>,
    report: &mut (dyn FnMut(Event) + Send),
) -> Result<&'a remote::Host, String> {
    if host.is_none() {
        let droplet = recorded_droplet(progress)?;
        *host = Some(remote::Host::wait_for_ssh(setup, &droplet, report).await?);
    }
    Ok(host.as_ref().expect("set just above"))
}

/// The droplet an undo would delete, `None` when the state file records none.
pub fn undo_target(setup: &Setup) -> Result<Option<u64>, String> {
    Progress::load(&setup.state_file)
        .map(|p| p.droplet_id)
        .map_err(|e| format!("{e:#}"))
}

/// Undo: delete the droplet this bootstrap created (the caller asked for confirmation)
/// and forget every step, so the next run starts from the beginning. A droplet already
/// gone is no error.
pub async fn undo(setup: &Setup, client: &Client) -> Result<String, String> {
    let progress = Progress::load(&setup.state_file).map_err(|e| format!("{e:#}"))?;
    let said = match progress.droplet_id {
        Some(id) => match client.delete_droplet(id).await {
            Ok(()) => format!("droplet {id} deleted"),
            Err(e) if e.status() == Some(404) => format!("droplet {id} was already gone"),
            Err(e) => return Err(format!("cannot delete droplet {id}: {e}")),
        },
        None => "no droplet was created by this bootstrap".to_string(),
    };
    Progress::default()
        .save(&setup.state_file)
        .map_err(|e| format!("{said}, but the state file could not be reset: {e:#}"))?;
    Ok(said)
}
