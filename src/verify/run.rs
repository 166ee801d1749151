//! One verify: find what to verify, run every gate at once (each with its own timeout),
//! and, when asked to wait for readiness, run them again until every hard gate passes in
//! the same round or the deadline comes (polling, never a fixed sleep). A failure is
//! explained with its container's log and health log and the diagnosis' root cause.

use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::FutureExt;
use futures::future::join_all;

use super::context;
use super::extra;
use super::gates::{container, database, health, registry};
use super::model::{Finding, GateResult, GateStatus, Overall, VerifyReport};
use super::options::{EdgeSelector, VerifyOptions};
use super::subject::{self, Subject};
use crate::checks::gather::edge::{self, EdgePlan};
use crate::checks::gather::nginx;
use crate::host::processes::{self, Processes};
use crate::redact;
use crate::target::Target;

/// Run the gates against `target` as `options` say.
pub async fn run(target: &Target, options: &VerifyOptions) -> VerifyReport {
    let start = Instant::now();
    let deadline = options.wait.map(|w| start + w);
    // The site nginx serves does not change while waiting: read once. Its upstream is
    // where the one rule looks for Odoo first: Odoo's discovery gets it as soon as nginx's
    // configuration is parsed, and both share one process snapshot.
    let procs = async { Arc::new(processes::snapshot(target).await) }.shared();
    let (upstream_tx, upstream_rx) = tokio::sync::oneshot::channel::<Vec<u16>>();
    let edge = async {
        let (plan, upstream) = resolve_edge(target, options, procs.clone()).await;
        let _ = upstream_tx.send(upstream.clone());
        (plan, upstream)
    };
    let first = subject::discover(target, options, procs.clone(), async {
        upstream_rx.await.unwrap_or_default()
    });
    let ((edge, upstream), mut subject) = tokio::join!(edge, first);
    drop(procs);
    let baseline = options
        .restart_baseline
        .or_else(|| container::restart_count(&subject));
    let mut rounds = 0;
    let mut attempts: HashMap<String, u32> = HashMap::new();
    let mut gates;
    loop {
        rounds += 1;
        gates = round(target, options, &subject, &edge, baseline).await;
        for g in &mut gates {
            let n = attempts.entry(g.id.clone()).or_default();
            *n += 1;
            g.attempts = *n;
        }
        let ready = gates
            .iter()
            .filter(|g| g.hard)
            .all(|g| g.status == GateStatus::Pass);
        match deadline {
            Some(d) if !ready && Instant::now() + options.poll_interval < d => {
                tokio::time::sleep(options.poll_interval).await;
                let procs = async { Arc::new(processes::snapshot(target).await) };
                subject =
                    subject::discover(target, options, procs, async { upstream.clone() }).await;
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
        elapsed_ms: start.elapsed().as_millis() as u64,
    }
}

/// The edge to request, and the host ports nginx's upstream names.
async fn resolve_edge(
    target: &Target,
    options: &VerifyOptions,
    procs: impl Future<Output = Arc<Processes>>,
) -> (Option<Result<EdgePlan, String>>, Vec<u16>) {
    match &options.edge {
        EdgeSelector::Skip => (None, Vec::new()),
        EdgeSelector::Plan(p) => (Some(Ok(p.clone())), Vec::new()),
        EdgeSelector::FromNginx => {
            let (procs, early) =
                tokio::join!(procs, nginx::first_round_early(target, &options.discovery));
            let obs = nginx::configuration(target, &procs, &options.discovery, Some(early)).await;
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

/// Every gate once, concurrently.
async fn round(
    target: &Target,
    options: &VerifyOptions,
    subject: &Subject,
    edge: &Option<Result<EdgePlan, String>>,
    baseline: Option<i64>,
) -> Vec<GateResult> {
    let timeout = options.gate_timeout;
    let container_gate = timed(
        "container",
        "Odoo container up and not restarting",
        timeout,
        async { container::judge(subject, baseline) },
    );
    let http = timed(
        "health.http",
        "Internal health on the HTTP port (with db_server_status)",
        timeout,
        health::internal(target, subject, false, timeout),
    );
    let gevent = timed(
        "health.gevent",
        "Internal health on the gevent port (with db_server_status)",
        timeout,
        health::internal(target, subject, true, timeout),
    );
    let ready = timed(
        "db.ready",
        "Database ready (pg_isready in its container)",
        timeout,
        database::ready(subject, timeout),
    );
    let modules = timed(
        "db.modules",
        "Modules settled (none to install, upgrade or remove)",
        timeout,
        database::modules(subject, options.database.as_deref(), timeout),
    );
    let registry_gate = timed(
        "odoo.registry",
        "Registry loaded since this start, no CRITICAL",
        timeout,
        registry::judge(subject, timeout),
    );
    let edge_gates = edge_round(target, options, subject, edge);
    let extras = join_all(options.extra.iter().map(|g| async move {
        let title = format!("Extra gate {} ({})", g.name, g.url.text);
        let mut result = timed_owned(g.id(), title, g.timeout(), extra::run(target, g)).await;
        result.hard = g.hard;
        result
    }));
    let (c, h, g, r, m, reg, e, x) = tokio::join!(
        container_gate,
        http,
        gevent,
        ready,
        modules,
        registry_gate,
        edge_gates,
        extras
    );
    let mut gates = vec![c, h, g];
    gates.extend(e);
    gates.extend([r, m, reg]);
    gates.extend(x);
    gates.into_iter().map(soften).collect()
}

/// The three edge gates from one round of requests (health, login, websocket at once).
async fn edge_round(
    target: &Target,
    options: &VerifyOptions,
    subject: &Subject,
    edge: &Option<Result<EdgePlan, String>>,
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
            health::edge(&obs, subject.container_name()).into()
        }
    };
    let ms = started.elapsed().as_millis() as u64;
    GATES
        .iter()
        .zip(findings)
        .map(|((id, title), f)| result(id.to_string(), title.to_string(), f, ms))
        .collect()
}

async fn timed(
    id: &str,
    title: &str,
    timeout: Duration,
    gate: impl Future<Output = Finding>,
) -> GateResult {
    timed_owned(id.to_string(), title.to_string(), timeout, gate).await
}

/// Run one gate within its timeout (plus a margin for its own inner bounds to speak first).
async fn timed_owned(
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
    result(id, title, finding, started.elapsed().as_millis() as u64)
}

fn result(id: String, title: String, f: Finding, elapsed_ms: u64) -> GateResult {
    GateResult {
        id,
        title,
        hard: true,
        status: f.status,
        summary: redact::line(&f.summary),
        evidence: f.evidence.iter().map(|l| redact::line(l)).collect(),
        attempts: 1,
        elapsed_ms,
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
