//! Gates started on Odoo's container as soon as it is seen, before its odoo.conf is read
//! (through Docker's archive API: most of the time Odoo's discovery takes):
//! `odoo.registry`, which needs the container alone, and the database gates, on the
//! database odoo.conf would name if it named none (the compose project's `db`, as the
//! official image assumes).
//!
//! Once the subject is found, an early result is kept only when its gate would have run
//! on exactly the same inputs (the same container; the same database container, role,
//! port and database). Otherwise it is thrown away, the gate cancelled if still running,
//! and the gate runs on what the subject says: a verdict is never about the wrong
//! database, only sooner when the guess was right.

use std::time::{Duration, Instant};

use bollard::Docker;
use futures::FutureExt;
use futures::channel::oneshot;
use futures::future::{AbortHandle, Abortable, Aborted, BoxFuture, Shared, ready};

use super::gates::database::{self, DbTarget};
use super::gates::registry;
use super::model::GateResult;
use super::subject::{Sighting, Subject};
use super::timeline::{Timeline, steps};
use crate::checks::obs::OdooRuntime;

pub const READY: (&str, &str) = ("db.ready", "Database ready (pg_isready in its container)");
pub const MODULES: (&str, &str) = (
    "db.modules",
    "Modules settled (none to install, upgrade or remove)",
);
pub const REGISTRY: (&str, &str) = (
    "odoo.registry",
    "Registry loaded since this start, no CRITICAL",
);

type DbResults = (GateResult, GateResult);

/// The gates started on a sighting, for one round's subject to keep or throw away.
pub struct Early<'a> {
    sighting: Shared<BoxFuture<'static, Option<Sighting>>>,
    db: Shared<BoxFuture<'static, Result<Option<DbResults>, Aborted>>>,
    db_abort: AbortHandle,
    registry: Shared<BoxFuture<'static, Option<GateResult>>>,
    /// The operator's `--database`: part of the database gates' inputs.
    wanted: Option<String>,
    timeline: Option<&'a Timeline>,
}

impl<'a> Early<'a> {
    /// Nothing started early (the rounds after the first: the subject is found at once).
    pub fn none() -> Early<'static> {
        Early {
            sighting: ready(None).boxed().shared(),
            db: ready(Ok(None)).boxed().shared(),
            db_abort: AbortHandle::new_pair().0,
            registry: ready(None).boxed().shared(),
            wanted: None,
            timeline: None,
        }
    }

    /// The gates, started when `sighted` brings Odoo's container (never, when it is
    /// dropped unsent). They run only while [`Early::drive`] or a keep is polled.
    pub fn start(
        sighted: oneshot::Receiver<Sighting>,
        wanted: Option<&str>,
        timeout: Duration,
        origin: Instant,
        timeline: &'a Timeline,
    ) -> Early<'a> {
        let sighting = sighted.map(Result::ok).boxed().shared();
        let wanted = wanted.map(str::to_string);
        let db = {
            let (sighting, wanted) = (sighting.clone(), wanted.clone());
            async move {
                let s = sighting.await?;
                let target = DbTarget::sighted(&s, wanted.as_deref())?;
                Some(db_gates(Some(&s.docker), &target, timeout, origin).await)
            }
        };
        let (db_abort, registration) = AbortHandle::new_pair();
        let db = Abortable::new(db, registration).boxed().shared();
        let registry = {
            let sighting = sighting.clone();
            async move {
                let s = sighting.await?;
                Some(registry_gate(&s.docker, &s, timeout, origin).await)
            }
        }
        .boxed()
        .shared();
        Early {
            sighting,
            db,
            db_abort,
            registry,
            wanted,
            timeline: Some(timeline),
        }
    }

    /// Run the early gates (a shared future runs only while something polls it).
    pub async fn drive(&self) {
        let _ = tokio::join!(self.db.clone(), self.registry.clone());
    }

    /// `db.ready` and `db.modules` on the subject's database: the early results when they
    /// were reached on the same inputs, else run now.
    pub async fn db_gates(
        &self,
        subject: &Subject,
        timeout: Duration,
        origin: Instant,
    ) -> DbResults {
        let target = DbTarget::of(subject, self.wanted.as_deref());
        let guess = self
            .sighting
            .clone()
            .await
            .and_then(|s| DbTarget::sighted(&s, self.wanted.as_deref()));
        match guess {
            Some(guess) if guess == target => {
                self.record(steps::DB_EARLY_KEPT);
                // Not there only when cancelled by a round on another subject.
                if let Ok(Some(results)) = self.db.clone().await {
                    return results;
                }
            }
            Some(_) => {
                self.db_abort.abort();
                self.record(steps::DB_EARLY_DISCARDED);
            }
            None => {}
        }
        db_gates(subject.docker.as_ref().ok(), &target, timeout, origin).await
    }

    /// `odoo.registry`: the early result when it was reached on the subject's container.
    pub async fn registry(
        &self,
        subject: &Subject,
        timeout: Duration,
        origin: Instant,
    ) -> GateResult {
        let same = match (self.sighting.clone().await, &subject.odoo.runtime) {
            (Some(s), OdooRuntime::Container(c)) => s.container == *c && subject.docker.is_ok(),
            _ => false,
        };
        if same && let Some(result) = self.registry.clone().await {
            return result;
        }
        let (id, title) = REGISTRY;
        super::run::timed(
            origin,
            id,
            title,
            timeout,
            registry::judge(subject, timeout),
        )
        .await
    }

    fn record(&self, name: &str) {
        if let Some(t) = self.timeline {
            let now = Instant::now();
            t.record_span(name, now, now);
        }
    }
}

/// Both database gates at once.
async fn db_gates(
    docker: Option<&Docker>,
    target: &DbTarget,
    timeout: Duration,
    origin: Instant,
) -> DbResults {
    use super::run::timed;
    tokio::join!(
        timed(
            origin,
            READY.0,
            READY.1,
            timeout,
            database::ready(docker, target, timeout)
        ),
        timed(
            origin,
            MODULES.0,
            MODULES.1,
            timeout,
            database::modules(docker, target, timeout)
        ),
    )
}

async fn registry_gate(
    docker: &Docker,
    s: &Sighting,
    timeout: Duration,
    origin: Instant,
) -> GateResult {
    let (id, title) = REGISTRY;
    super::run::timed(
        origin,
        id,
        title,
        timeout,
        registry::container(docker, &s.container, timeout),
    )
    .await
}
