//! Background jobs the console's panes rely on, in the manner of gitui's `asyncjob`: one
//! running job per kind, one queued `next` that a newer request replaces, cancel, and
//! progress. No request is ever lost without a word: each one ends in exactly one of
//! [`JobEvent::Finished`] or [`JobEvent::Dropped`] (replaced while queued, or cancelled),
//! so whoever asked can always leave its "running…" state.
//!
//! Free of any UI: a job is data ([`Job`]) that knows its kind and how to run; the runner
//! reports what happens to it on one channel, in the order it happened.

use std::collections::HashMap;
use std::fmt;
use std::hash::Hash;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use futures::future::BoxFuture;
use tokio::sync::mpsc;
use tokio::task::AbortHandle;

/// Which request a job answers: given by [`JobRunner::submit`], carried by its events.
pub type JobId = u64;

/// A piece of background work.
pub trait Job: Clone + Send + 'static {
    /// Jobs of one kind run one at a time.
    type Kind: Copy + Eq + Hash + fmt::Debug + Send + 'static;
    /// What a running job reports before it ends.
    type Progress: Send + 'static;
    /// What it ends with.
    type Output: Send + 'static;

    fn kind(&self) -> Self::Kind;
    fn run(self, progress: Progress<Self>) -> BoxFuture<'static, Self::Output>;
}

/// Why a request ends without its job's output.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DropReason {
    /// It waited behind a running job and a newer request of its kind took its place.
    Replaced { by: JobId },
    /// [`JobRunner::cancel`]: queued, or running and stopped at its next await point.
    Cancelled,
}

/// What happened to a request, in order. Every request gets `Queued` or `Started`, then
/// perhaps `Started` and `Progress`, then exactly one of `Finished` or `Dropped`.
pub enum JobEvent<J: Job> {
    /// It waits for the running job of its kind.
    Queued {
        id: JobId,
        job: J,
    },
    Started {
        id: JobId,
        job: J,
    },
    Progress {
        id: JobId,
        kind: J::Kind,
        progress: J::Progress,
    },
    Finished {
        id: JobId,
        kind: J::Kind,
        output: J::Output,
    },
    Dropped {
        id: JobId,
        job: J,
        reason: DropReason,
    },
}

impl<J: Job + fmt::Debug> fmt::Debug for JobEvent<J>
where
    J::Progress: fmt::Debug,
    J::Output: fmt::Debug,
{
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            JobEvent::Queued { id, job } => write!(f, "Queued({id}, {job:?})"),
            JobEvent::Started { id, job } => write!(f, "Started({id}, {job:?})"),
            JobEvent::Progress { id, progress, .. } => write!(f, "Progress({id}, {progress:?})"),
            JobEvent::Finished { id, output, .. } => write!(f, "Finished({id}, {output:?})"),
            JobEvent::Dropped { id, job, reason } => {
                write!(f, "Dropped({id}, {job:?}, {reason:?})")
            }
        }
    }
}

/// Handed to a running job to report progress on the runner's channel.
pub struct Progress<J: Job> {
    id: JobId,
    kind: J::Kind,
    events: mpsc::UnboundedSender<JobEvent<J>>,
}

impl<J: Job> Progress<J> {
    pub fn report(&self, progress: J::Progress) {
        let _ = self.events.send(JobEvent::Progress {
            id: self.id,
            kind: self.kind,
            progress,
        });
    }
}

/// One kind's running job and the request waiting behind it.
struct Slot<J> {
    running: Option<(JobId, J, AbortHandle)>,
    next: Option<(JobId, J)>,
}

impl<J> Default for Slot<J> {
    fn default() -> Self {
        Slot {
            running: None,
            next: None,
        }
    }
}

struct Shared<J: Job> {
    slots: Mutex<HashMap<J::Kind, Slot<J>>>,
    ids: AtomicU64,
    events: mpsc::UnboundedSender<JobEvent<J>>,
}

/// Runs jobs on the current tokio runtime. Cheap to clone; clones share the slots.
pub struct JobRunner<J: Job> {
    shared: Arc<Shared<J>>,
}

impl<J: Job> Clone for JobRunner<J> {
    fn clone(&self) -> Self {
        JobRunner {
            shared: self.shared.clone(),
        }
    }
}

impl<J: Job> JobRunner<J> {
    /// A runner and the channel its events arrive on.
    pub fn new() -> (JobRunner<J>, mpsc::UnboundedReceiver<JobEvent<J>>) {
        let (events, rx) = mpsc::unbounded_channel();
        let shared = Shared {
            slots: Mutex::new(HashMap::new()),
            ids: AtomicU64::new(1),
            events,
        };
        (
            JobRunner {
                shared: Arc::new(shared),
            },
            rx,
        )
    }

    /// Start `job` now if nothing of its kind runs; otherwise queue it as the kind's
    /// `next`, replacing (and reporting as dropped) a request that was waiting there.
    pub fn submit(&self, job: J) -> JobId {
        let id = self.shared.ids.fetch_add(1, Ordering::Relaxed);
        let mut slots = self.slots();
        let slot = slots.entry(job.kind()).or_default();
        if slot.running.is_some() {
            if let Some((old, replaced)) = slot.next.take() {
                self.send(JobEvent::Dropped {
                    id: old,
                    job: replaced,
                    reason: DropReason::Replaced { by: id },
                });
            }
            self.send(JobEvent::Queued {
                id,
                job: job.clone(),
            });
            slot.next = Some((id, job));
        } else {
            self.start(slot, id, job);
        }
        id
    }

    /// Drop the kind's queued request and stop its running job (at its next await
    /// point). Returns whether there was anything to cancel.
    pub fn cancel(&self, kind: J::Kind) -> bool {
        let mut slots = self.slots();
        let Some(slot) = slots.get_mut(&kind) else {
            return false;
        };
        let mut any = false;
        if let Some((id, job)) = slot.next.take() {
            self.send(JobEvent::Dropped {
                id,
                job,
                reason: DropReason::Cancelled,
            });
            any = true;
        }
        if let Some((id, job, task)) = slot.running.take() {
            task.abort();
            self.send(JobEvent::Dropped {
                id,
                job,
                reason: DropReason::Cancelled,
            });
            any = true;
        }
        any
    }

    /// [`JobRunner::cancel`] for every kind: the work is moot (the console left the host
    /// it was about).
    pub fn cancel_all(&self) {
        let kinds: Vec<J::Kind> = self.slots().keys().copied().collect();
        for kind in kinds {
            self.cancel(kind);
        }
    }

    /// Whether a job of this kind runs or waits.
    pub fn is_busy(&self, kind: J::Kind) -> bool {
        self.slots()
            .get(&kind)
            .is_some_and(|s| s.running.is_some() || s.next.is_some())
    }

    fn slots(&self) -> MutexGuard<'_, HashMap<J::Kind, Slot<J>>> {
        // A panic while the lock is held cannot leave a slot half-changed: every change
        // is one assignment. Keep going with what is there.
        self.shared
            .slots
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn send(&self, event: JobEvent<J>) {
        // Nobody listening means the console is closing; the work is moot.
        let _ = self.shared.events.send(event);
    }

    /// Called with the slots locked, so the task's own end (which takes the lock) is
    /// recorded after it was started, and events keep their order.
    fn start(&self, slot: &mut Slot<J>, id: JobId, job: J) {
        let kind = job.kind();
        self.send(JobEvent::Started {
            id,
            job: job.clone(),
        });
        let progress = Progress {
            id,
            kind,
            events: self.shared.events.clone(),
        };
        let work = job.clone().run(progress);
        let runner = self.clone();
        let task = tokio::spawn(async move {
            let output = work.await;
            runner.finished(kind, id, output);
            // The job's own allocations and frames are gone by now.
            crate::memory::return_free_pages();
            crate::memory::return_unused_stack();
        });
        slot.running = Some((id, job, task.abort_handle()));
    }

    fn finished(&self, kind: J::Kind, id: JobId, output: J::Output) {
        let mut slots = self.slots();
        let slot = slots.entry(kind).or_default();
        // Cancelled after its work ended but before this: its `Dropped` was sent already.
        if slot
            .running
            .as_ref()
            .is_none_or(|(running, ..)| *running != id)
        {
            return;
        }
        slot.running = None;
        self.send(JobEvent::Finished { id, kind, output });
        if let Some((next, job)) = slot.next.take() {
            self.start(slot, next, job);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;
    use tokio::sync::Semaphore;

    /// A job that waits for a permit from its gate, so a test decides when it ends.
    #[derive(Clone)]
    struct Gated {
        kind: &'static str,
        name: &'static str,
        gate: Arc<Semaphore>,
    }

    impl fmt::Debug for Gated {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            write!(f, "{}", self.name)
        }
    }

    impl Job for Gated {
        type Kind = &'static str;
        type Progress = &'static str;
        type Output = &'static str;
        fn kind(&self) -> &'static str {
            self.kind
        }
        fn run(self, progress: Progress<Self>) -> BoxFuture<'static, &'static str> {
            Box::pin(async move {
                progress.report("waiting");
                self.gate.acquire().await.unwrap().forget();
                self.name
            })
        }
    }

    fn job(kind: &'static str, name: &'static str, gate: &Arc<Semaphore>) -> Gated {
        Gated {
            kind,
            name,
            gate: gate.clone(),
        }
    }

    /// Events until the channel is quiet, written as short words for comparison.
    async fn drain(rx: &mut mpsc::UnboundedReceiver<JobEvent<Gated>>) -> Vec<String> {
        let mut seen = Vec::new();
        while let Ok(Some(event)) =
            tokio::time::timeout(Duration::from_millis(100), rx.recv()).await
        {
            seen.push(match event {
                JobEvent::Queued { job, .. } => format!("queued {}", job.name),
                JobEvent::Started { job, .. } => format!("started {}", job.name),
                JobEvent::Progress { progress, .. } => format!("progress {progress}"),
                JobEvent::Finished { output, .. } => format!("finished {output}"),
                JobEvent::Dropped { job, reason, .. } => match reason {
                    DropReason::Replaced { .. } => format!("replaced {}", job.name),
                    DropReason::Cancelled => format!("cancelled {}", job.name),
                },
            });
        }
        seen
    }

    #[tokio::test]
    async fn a_request_made_while_one_runs_waits_and_then_runs() {
        let (runner, mut rx) = JobRunner::new();
        let gate = Arc::new(Semaphore::new(0));
        runner.submit(job("checks", "rerun", &gate));
        runner.submit(job("checks", "diagnose", &gate));
        assert_eq!(
            drain(&mut rx).await,
            ["started rerun", "queued diagnose", "progress waiting"]
        );
        gate.add_permits(2);
        assert_eq!(
            drain(&mut rx).await,
            [
                "finished rerun",
                "started diagnose",
                "progress waiting",
                "finished diagnose"
            ]
        );
        assert!(!runner.is_busy("checks"));
    }

    #[tokio::test]
    async fn a_newer_request_replaces_the_waiting_one_and_says_so() {
        let (runner, mut rx) = JobRunner::new();
        let gate = Arc::new(Semaphore::new(0));
        runner.submit(job("checks", "first", &gate));
        let second = runner.submit(job("checks", "second", &gate));
        let third = runner.submit(job("checks", "third", &gate));
        let mut replaced_by = None;
        let mut seen = Vec::new();
        while let Ok(Some(event)) =
            tokio::time::timeout(Duration::from_millis(100), rx.recv()).await
        {
            if let JobEvent::Dropped {
                id,
                reason: DropReason::Replaced { by },
                ..
            } = &event
            {
                assert_eq!(*id, second);
                replaced_by = Some(*by);
            }
            seen.push(event);
        }
        assert_eq!(replaced_by, Some(third), "{seen:?}");
        gate.add_permits(3);
        let rest = drain(&mut rx).await;
        assert_eq!(
            rest,
            [
                "finished first",
                "started third",
                "progress waiting",
                "finished third"
            ]
        );
    }

    #[tokio::test]
    async fn cancel_drops_the_waiting_request_and_stops_the_running_one() {
        let (runner, mut rx) = JobRunner::new();
        let gate = Arc::new(Semaphore::new(0));
        runner.submit(job("checks", "running", &gate));
        runner.submit(job("checks", "waiting", &gate));
        drain(&mut rx).await;
        assert!(runner.cancel("checks"));
        assert_eq!(
            drain(&mut rx).await,
            ["cancelled waiting", "cancelled running"]
        );
        assert!(!runner.is_busy("checks"));
        // The stopped job never finishes, even when its gate opens.
        gate.add_permits(2);
        assert_eq!(drain(&mut rx).await, Vec::<String>::new());
        assert!(!runner.cancel("checks"), "nothing left to cancel");
        // The kind takes new work at once.
        runner.submit(job("checks", "after", &gate));
        assert_eq!(
            drain(&mut rx).await,
            ["started after", "progress waiting", "finished after"]
        );
    }

    #[tokio::test]
    async fn kinds_run_side_by_side_one_job_each() {
        let (runner, mut rx) = JobRunner::new();
        let checks = Arc::new(Semaphore::new(0));
        let host = Arc::new(Semaphore::new(0));
        runner.submit(job("checks", "diagnose", &checks));
        runner.submit(job("host", "facts", &host));
        runner.submit(job("checks", "rerun", &checks));
        let seen = drain(&mut rx).await;
        assert!(seen.contains(&"started diagnose".to_string()), "{seen:?}");
        assert!(seen.contains(&"started facts".to_string()), "{seen:?}");
        assert!(seen.contains(&"queued rerun".to_string()), "{seen:?}");
        assert!(!seen.contains(&"started rerun".to_string()), "{seen:?}");
        // The host job ends while the diagnosis still runs: Checks' queue is untouched.
        host.add_permits(1);
        assert_eq!(drain(&mut rx).await, ["finished facts"]);
        assert!(runner.is_busy("checks") && !runner.is_busy("host"));
    }

    #[tokio::test]
    async fn every_request_ends_in_exactly_one_finished_or_dropped() {
        let (runner, mut rx) = JobRunner::new();
        let gate = Arc::new(Semaphore::new(0));
        let mut ids = Vec::new();
        for name in ["a", "b", "c", "d", "e"] {
            ids.push(runner.submit(job("checks", name, &gate)));
        }
        runner.cancel("checks");
        ids.push(runner.submit(job("checks", "f", &gate)));
        ids.push(runner.submit(job("checks", "g", &gate)));
        gate.add_permits(10);
        let mut ends: HashMap<JobId, usize> = HashMap::new();
        while let Ok(Some(event)) =
            tokio::time::timeout(Duration::from_millis(100), rx.recv()).await
        {
            if let JobEvent::Finished { id, .. } | JobEvent::Dropped { id, .. } = event {
                *ends.entry(id).or_default() += 1;
            }
        }
        for id in ids {
            assert_eq!(ends.get(&id), Some(&1), "request {id}: {ends:?}");
        }
    }
}
