//! One verify: find what to verify, run every gate at once (each with its own timeout),
//! and, when asked to wait for readiness, run them again until every hard gate passes in
//! the same round or the deadline comes (polling, never a fixed sleep). A failure is
//! explained with its container's log and health log and the diagnosis' root cause.
//!
//! In the first round each gate waits only for the discovery it needs: the operator's
//! own gates for nothing, the edge gates for nginx's configuration, Odoo's gates for Odoo.
//! The process snapshot (the slowest piece of discovery) and nginx's upstream only
//! confirm what was found without them: nginx's configuration read with the usual
//! invocation, and Odoo chosen by the locate rule on Docker's containers alone. When they
//! say otherwise, the gates concerned run again on what they say, so the verdicts are
//! those of a verify that waited for them.

use std::collections::HashMap;
use std::future::{Future, ready};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::FutureExt;
use futures::channel::oneshot;
use futures::future::join_all;

use super::context;
use super::early::Early;
use super::extra;
use super::gates::{container, health};
use super::model::{Finding, GateResult, GateStatus, Overall, VerifyReport};
use super::options::{EdgeSelector, VerifyOptions};
use super::subject::{self, Subject};
use super::timeline::{Timeline, steps};
use crate::checks::OdooLocation;
use crate::checks::gather::edge::{self, EdgePlan};
use crate::checks::gather::nginx::{self, FirstRound};
use crate::checks::obs::OdooRuntime;
use crate::host::processes::{self, Processes};
use crate::odoo::locate::{self, Chosen, Located};
use crate::redact;
use crate::target::Target;

/// Where the edge gates connect, and the host ports nginx's upstream names.
type Edge = (Option<Result<EdgePlan, String>>, Vec<u16>);

/// Run the gates against `target` as `options` say.
pub async fn run(target: &Target, options: &VerifyOptions) -> VerifyReport {
    let start = Instant::now();
    let timeline = Timeline::new(start);
    let deadline = options.wait.map(|w| start + w);
    let First {
        mut subject,
        edge,
        upstream,
        mut gates,
        baseline,
    } = first_round(target, options, &timeline).await;
    let mut rounds = 1;
    let mut attempts: HashMap<String, u32> = HashMap::new();
    count_attempts(&mut attempts, &mut gates);
    loop {
        let ready = gates
            .iter()
            .filter(|g| g.hard)
            .all(|g| g.status == GateStatus::Pass);
        match deadline {
            Some(d) if !ready && Instant::now() + options.poll_interval < d => {
                tokio::time::sleep(options.poll_interval).await;
                // The site nginx serves does not change while waiting: its upstream is
                // reused; Odoo (a container recreated has a new id) is found afresh.
                let procs = async { Arc::new(processes::snapshot(target).await) };
                let upstream = async { upstream.clone() };
                subject = subject::discover(target, options, procs, upstream, |_| {}).await;
                rounds += 1;
                gates = round(target, options, &subject, &edge, baseline, start).await;
                count_attempts(&mut attempts, &mut gates);
            }
            _ => break,
        }
    }
    let status = VerifyReport::overall(&gates);
    explain(&subject, options, &mut gates).await;
    let root_cause = if status == Overall::Failed && options.diagnose_on_failure {
        diagnosis_root_cause(target, options).await
    } else {
        None
    };
    VerifyReport {
        target: target.describe(),
        status,
        subject: subject.describe(),
        gates,
        root_cause,
        rounds,
        waited_up_to_secs: options.wait.map(|w| w.as_secs()),
        discovery: timeline.steps(),
        elapsed_ms: start.elapsed().as_millis() as u64,
    }
}

fn count_attempts(attempts: &mut HashMap<String, u32>, gates: &mut [GateResult]) {
    for g in gates {
        let n = attempts.entry(g.id.clone()).or_default();
        *n += 1;
        g.attempts = *n;
    }
}

/// What the first round found and judged.
struct First {
    subject: Subject,
    edge: Option<Result<EdgePlan, String>>,
    upstream: Vec<u16>,
    gates: Vec<GateResult>,
    baseline: Option<i64>,
}

/// Discovery and the gates at once: each gate awaits only the discovery it needs (shared
/// futures), and what was found before the process snapshot is confirmed by it.
async fn first_round(target: &Target, options: &VerifyOptions, timeline: &Timeline) -> First {
    let origin = timeline.origin();
    // Gates started as soon as Odoo's container is seen, before its odoo.conf is read.
    let (sighted_tx, sighted_rx) = oneshot::channel();
    let seen_gates = Early::start(
        sighted_rx,
        options.database.as_deref(),
        options.gate_timeout,
        origin,
        timeline,
    );
    let sighted = |sighting| {
        timeline.record_span(steps::ODOO_SEEN, origin, Instant::now());
        let _ = sighted_tx.send(sighting);
    };
    let from_nginx = options.edge == EdgeSelector::FromNginx;
    let needs_procs = from_nginx || !matches!(options.discovery.odoo, OdooLocation::Container(_));
    let procs = timeline
        .step(steps::PROCESS_SNAPSHOT, processes::snapshot(target))
        .map(Arc::new)
        .shared();
    // The usual invocation's `nginx -t`/`-T`, started with the snapshot.
    let early = async {
        match from_nginx {
            true => Some(
                timeline
                    .step(
                        steps::NGINX_DUMP,
                        nginx::first_round_early(target, &options.discovery),
                    )
                    .await,
            ),
            false => None,
        }
    }
    .shared();
    // The edge as that dump says, before the snapshot has said which nginx runs...
    let guessed_edge = {
        let early = early.clone();
        async move { resolve_edge(target, options, &Processes::default(), early.await).await }
    }
    .shared();
    // ... and as the running master's own invocation says (the same in the usual case).
    let confirmed_edge = {
        let (procs, early) = (procs.clone(), early.clone());
        async move {
            if !from_nginx {
                return resolve_edge(target, options, &Processes::default(), None).await;
            }
            let (procs, early) = tokio::join!(procs, early);
            timeline
                .step(
                    steps::NGINX_CONFIRMED,
                    resolve_edge(target, options, &procs, early),
                )
                .await
        }
    }
    .shared();

    let auto = options.discovery.odoo == OdooLocation::Auto;
    // Docker's containers for the confirmation below, listed from the start beside Odoo's
    // own discovery: listed after the snapshot, the request waited in dockerd behind the
    // gates' execs.
    let listed = async {
        match auto {
            true => list_containers(target, options).await,
            false => Ok(Vec::new()),
        }
    }
    .shared();
    let odoo_gates = async {
        let t = Instant::now();
        let mut subject = if auto {
            // The locate rule on Docker's containers alone (by what Odoo is: the compose
            // service `odoo`...), without waiting for the snapshot or nginx's upstream:
            // confirmed below with both.
            let none = ready(Arc::new(Processes::default()));
            subject::discover(target, options, none, ready(Vec::new()), sighted).await
        } else {
            let upstream = confirmed_edge.clone().map(|(_, u)| u);
            subject::discover(target, options, procs.clone(), upstream, sighted).await
        };
        timeline.record(
            if auto {
                steps::ODOO_GUESSED
            } else {
                steps::ODOO_FOUND
            },
            t,
        );
        let baseline = options
            .restart_baseline
            .or_else(|| container::restart_count(&subject));
        if !auto {
            let gates = odoo_round(target, options, &subject, baseline, origin, &seen_gates).await;
            return (subject, baseline, gates);
        }
        // The gates run while the snapshot and nginx's confirmed upstream come in and the
        // locate rule is applied again with them.
        let confirm = async {
            let ((_, upstream), procs, list) =
                tokio::join!(confirmed_edge.clone(), procs.clone(), listed.clone());
            let t = Instant::now();
            let located = locate::locate(&procs, list, &upstream);
            (t, Instant::now(), located, procs, upstream)
        };
        let (gates, (t, ended, located, procs, upstream)) = tokio::join!(
            odoo_round(target, options, &subject, baseline, origin, &seen_gates),
            confirm
        );
        if same_choice(&located, &subject) {
            timeline.record_span(steps::ODOO_CONFIRMED, t, ended);
            // The notes (every other candidate, with why not) are the snapshot's; a gate
            // that did not pass may show them, so it is judged again with them.
            let notes_changed = subject.odoo.located != located.notes;
            subject.odoo.located = located.notes;
            if notes_changed && gates.iter().any(|g| g.status != GateStatus::Pass) {
                let gates =
                    odoo_round(target, options, &subject, baseline, origin, &seen_gates).await;
                return (subject, baseline, gates);
            }
            return (subject, baseline, gates);
        }
        timeline.record_span(steps::ODOO_CHOSEN_AGAIN, t, ended);
        let subject =
            subject::discover(target, options, ready(procs), ready(upstream), |_| {}).await;
        let baseline = options
            .restart_baseline
            .or_else(|| container::restart_count(&subject));
        let gates = odoo_round(target, options, &subject, baseline, origin, &seen_gates).await;
        (subject, baseline, gates)
    };
    let edge_gates = async {
        let (guessed, _) = guessed_edge.clone().await;
        let gates = edge_round(target, options, None, &guessed, origin).await;
        let (confirmed, _) = confirmed_edge.clone().await;
        if confirmed == guessed {
            gates
        } else {
            edge_round(target, options, None, &confirmed, origin).await
        }
    };
    // The snapshot and the confirmation are driven from the start too: a shared future
    // runs only while something polls it, and the gates await them only at their end.
    let ((subject, baseline, odoo), mut edges, extras, _, _, _, _) = tokio::join!(
        odoo_gates,
        edge_gates,
        extra_gates(target, options, origin),
        driven(needs_procs, procs.clone()),
        driven(auto, listed.clone()),
        confirmed_edge.clone(),
        seen_gates.drive()
    );
    // The requests through the edge needed only nginx's configuration; a failure among
    // them is explained by Odoo's container, known by now.
    for g in &mut edges {
        g.container = subject.container_name();
    }
    let (edge, upstream) = confirmed_edge.await;
    First {
        gates: assemble(odoo, edges, extras),
        subject,
        edge,
        upstream,
        baseline,
    }
}

/// The process snapshot, when anything will need it (Odoo found by the locate rule, or
/// nginx's invocation); otherwise not taken at all (a deploy names the container and the
/// edge).
async fn driven<F: Future>(wanted: bool, snapshot: F) {
    if wanted {
        snapshot.await;
    }
}

/// Docker's containers (in the operator's project when named), as the locate rule takes
/// them (what Odoo's discovery lists; see [`crate::checks::gather::odoo::gather`]).
async fn list_containers(
    target: &Target,
    options: &VerifyOptions,
) -> Result<Vec<locate::ContainerCandidate>, String> {
    match target.docker().await {
        Ok(docker) => {
            locate::list_containers(&docker, options.discovery.compose_project.as_deref()).await
        }
        Err(e) => Err(format!("{e:#}")),
    }
}

/// The rule chose the Odoo already found (the same container), or nothing both times.
fn same_choice(located: &Located, subject: &Subject) -> bool {
    match (&located.chosen, &subject.odoo.runtime) {
        (Some(Chosen::Container(c)), OdooRuntime::Container(found)) => c.id == found.id,
        (None, OdooRuntime::NotFound { .. }) => located.docker_error == subject.odoo.docker_error,
        _ => false,
    }
}

/// The edge to request, and the host ports nginx's upstream names.
async fn resolve_edge(
    target: &Target,
    options: &VerifyOptions,
    procs: &Processes,
    early: Option<FirstRound>,
) -> Edge {
    match &options.edge {
        EdgeSelector::Skip => (None, Vec::new()),
        EdgeSelector::Plan(p) => (Some(Ok(p.clone())), Vec::new()),
        EdgeSelector::FromNginx => {
            let obs = nginx::configuration(target, procs, &options.discovery, early).await;
            let upstream = nginx::upstream_ports(&obs);
            let plan = match &obs.site {
                Some(site) => edge::plan(site, options.discovery.edge_connect)
                    .ok_or_else(|| "the site's server block has no listen".to_string()),
                None => Err(match (&obs.parse_error, &obs.dump) {
                    (Some(e), _) => format!("nginx's configuration could not be parsed: {e}"),
                    (None, Some(dump)) if !dump.ok() => format!(
                        "`{}` failed: {}",
                        dump.command,
                        dump.lines().first().cloned().unwrap_or_default()
                    ),
                    _ => match &options.discovery.domain {
                        Some(d) => format!("nginx serves no Odoo site named {d}"),
                        None => "nginx serves no Odoo site".to_string(),
                    },
                }),
            };
            (Some(plan), upstream)
        }
    }
}

/// Every gate once, concurrently, on a subject already found (the rounds after the first).
async fn round(
    target: &Target,
    options: &VerifyOptions,
    subject: &Subject,
    edge: &Option<Result<EdgePlan, String>>,
    baseline: Option<i64>,
    origin: Instant,
) -> Vec<GateResult> {
    let none = Early::none();
    let (odoo, edges, extras) = tokio::join!(
        odoo_round(target, options, subject, baseline, origin, &none),
        edge_round(target, options, subject.container_name(), edge, origin),
        extra_gates(target, options, origin)
    );
    assemble(odoo, edges, extras)
}

/// The report's order: container and internal health, the edge, the database and the
/// registry, then the operator's own gates.
fn assemble(
    mut odoo: Vec<GateResult>,
    edges: Vec<GateResult>,
    extras: Vec<GateResult>,
) -> Vec<GateResult> {
    let rest = odoo.split_off(3.min(odoo.len()));
    odoo.into_iter()
        .chain(edges)
        .chain(rest)
        .chain(extras)
        .map(soften)
        .collect()
}

/// The gates that need Odoo found: container, internal health, database, registry; those
/// `early` started on Odoo's container before its odoo.conf was read are kept when they
/// ran on the same inputs as this subject gives them.
async fn odoo_round(
    target: &Target,
    options: &VerifyOptions,
    subject: &Subject,
    baseline: Option<i64>,
    origin: Instant,
    early: &Early<'_>,
) -> Vec<GateResult> {
    let timeout = options.gate_timeout;
    let container_gate = timed(
        origin,
        "container",
        "Odoo container up and not restarting",
        timeout,
        async { container::judge(subject, baseline) },
    );
    let http = timed(
        origin,
        "health.http",
        "Internal health on the HTTP port (with db_server_status)",
        timeout,
        health::internal(target, subject, false, timeout),
    );
    let gevent = timed(
        origin,
        "health.gevent",
        "Internal health on the gevent port (with db_server_status)",
        timeout,
        health::internal(target, subject, true, timeout),
    );
    let db = early.db_gates(subject, timeout, origin);
    let registry_gate = early.registry(subject, timeout, origin);
    let (c, h, g, (r, m), reg) = tokio::join!(container_gate, http, gevent, db, registry_gate);
    vec![c, h, g, r, m, reg]
}

/// The operator's own gates: they need nothing found.
async fn extra_gates(target: &Target, options: &VerifyOptions, origin: Instant) -> Vec<GateResult> {
    join_all(options.extra.iter().map(|g| async move {
        let title = format!("Extra gate {} ({})", g.name, g.url.text);
        let mut result =
            timed_owned(origin, g.id(), title, g.timeout(), extra::run(target, g)).await;
        result.hard = g.hard;
        result
    }))
    .await
}

/// The three edge gates from one round of requests (health, login, websocket at once).
/// `container`: Odoo's, whose log explains a failure (`None` before Odoo is found).
async fn edge_round(
    target: &Target,
    options: &VerifyOptions,
    container: Option<String>,
    edge: &Option<Result<EdgePlan, String>>,
    origin: Instant,
) -> Vec<GateResult> {
    const GATES: [(&str, &str); 3] = [
        ("edge.health", "Edge health over HTTPS (through nginx)"),
        (
            "edge.login",
            "Login page through the edge (200 with the login form)",
        ),
        (
            "edge.websocket",
            "Websocket handshake through the edge (101)",
        ),
    ];
    let started = Instant::now();
    let findings: Vec<Finding> = match edge {
        None => return Vec::new(),
        Some(Err(why)) => GATES
            .iter()
            .map(|_| Finding::could_not_check(format!("the edge is unknown: {why}")))
            .collect(),
        Some(Ok(plan)) => {
            let d = &options.discovery;
            let obs = edge::gather(target, plan, &d.extra_root_certs, options.gate_timeout).await;
            health::edge(&obs, container).into()
        }
    };
    GATES
        .iter()
        .zip(findings)
        .map(|((id, title), f)| result(id.to_string(), title.to_string(), f, origin, started))
        .collect()
}

pub(super) async fn timed(
    origin: Instant,
    id: &str,
    title: &str,
    timeout: Duration,
    gate: impl Future<Output = Finding>,
) -> GateResult {
    timed_owned(origin, id.to_string(), title.to_string(), timeout, gate).await
}

/// Run one gate within its timeout (plus a margin for its own inner bounds to speak first).
async fn timed_owned(
    origin: Instant,
    id: String,
    title: String,
    timeout: Duration,
    gate: impl Future<Output = Finding>,
) -> GateResult {
    let started = Instant::now();
    let bound = timeout + Duration::from_secs(1);
    let finding = tokio::time::timeout(bound, gate).await.unwrap_or_else(|_| {
        Finding::fail(format!("did not finish within {} s", bound.as_secs_f32()))
    });
    result(id, title, finding, origin, started)
}

/// A gate's result; it ran from `started` until now (`origin`: the verify's start).
fn result(id: String, title: String, f: Finding, origin: Instant, started: Instant) -> GateResult {
    GateResult {
        id,
        title,
        hard: true,
        status: f.status,
        summary: redact::line(&f.summary),
        evidence: f.evidence.iter().map(|l| redact::line(l)).collect(),
        attempts: 1,
        elapsed_ms: started.elapsed().as_millis() as u64,
        started_ms: started.saturating_duration_since(origin).as_millis() as u64,
        context: None,
        container: f.container,
    }
}

/// A soft gate that fails, or cannot look, warns: it never decides the outcome.
fn soften(mut g: GateResult) -> GateResult {
    if !g.hard && matches!(g.status, GateStatus::Fail | GateStatus::CouldNotCheck) {
        g.status = GateStatus::Warn;
    }
    g
}

/// Each failed gate gets its container's log tail and health log, read once per container.
async fn explain(subject: &Subject, options: &VerifyOptions, gates: &mut [GateResult]) {
    let Ok(docker) = &subject.docker else {
        return;
    };
    let mut names: Vec<String> = gates
        .iter()
        .filter(|g| g.status == GateStatus::Fail)
        .filter_map(|g| g.container.clone())
        .collect();
    names.sort();
    names.dedup();
    let contexts: HashMap<String, _> = join_all(names.into_iter().map(|n| async move {
        let c = context::gather(docker, &n, options.log_tail).await;
        (n, c)
    }))
    .await
    .into_iter()
    .collect();
    for g in gates.iter_mut().filter(|g| g.status == GateStatus::Fail) {
        if let Some(name) = &g.container {
            g.context = contexts.get(name).cloned();
        }
    }
}

/// The diagnosis' root cause, within its own deadline.
async fn diagnosis_root_cause(target: &Target, options: &VerifyOptions) -> Option<String> {
    let (report, _) = crate::checks::diagnose(target, &options.discovery).await;
    report
        .root_cause
        .map(|c| redact::line(&format!("{} ({})", c.sentence, c.check)))
}
