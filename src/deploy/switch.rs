//! Replacing the running Odoo container by one of a new image tag without a failed
//! request through nginx ("blue/green" on the host's loopback).
//!
//! 1. Look (nothing touched): the service's one running container, its image, the slot of
//!    ports it publishes; the new image present; nginx's site reaching the old ports; the
//!    compose file taking tag and ports from `.env`. Any doubt refuses here.
//! 2. Start the new container beside the old one: a clone of the old one's configuration
//!    through Docker's API ([`super::switch_clone`]) with the new image on the other slot.
//! 3. Ready: Odoo's health with the database check on both new ports, polled until a
//!    deadline, then the caller's gate ([`ReadyGate`]: the deploy's full verify gates).
//!    Failing either removes the new container; nothing else was changed.
//! 4. Switch: nginx's upstream addresses and `.env` (tag and ports) in one safe change
//!    ([`crate::workflow::safe_change`]: journal, backup, `nginx -t`, commit or revert),
//!    then nginx's graceful reload. A refused `nginx -t` reverts both files and removes
//!    the new container.
//! 5. Drain ([`super::switch_drain`]): wait until nginx's workers from before the reload
//!    have answered their requests and exited (bounded), then stop the old container
//!    with Odoo's stop grace (SIGTERM, then SIGKILL after it), remove it (its volumes
//!    stay), and give the new container the old one's name.
//!
//! The [`SwitchRecord`] returned says what ran before and what runs now (ids, images,
//! digests, ports): a rollback is the same switch back to `from`'s tag.
//!
//! Engine code: it never prints; steps are returned, and reported as they happen through
//! the caller's `on_step`.

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::time::Duration;

use bollard::Docker;
use bollard::models::ContainerInspectResponse;
use bollard::query_parameters::{
    CreateContainerOptionsBuilder, ListContainersOptionsBuilder, RemoveContainerOptionsBuilder,
    RenameContainerOptionsBuilder, StopContainerOptionsBuilder,
};
use color_eyre::eyre::Result;
use futures::future::BoxFuture;
use serde::{Deserialize, Serialize};

use super::switch_clone::{
    CloneTarget, PortPair, Slots, clone_spec, image_repository, image_tag, published_ports,
};
use super::switch_drain::{nginx_workers, wait_drained};
use super::switch_edits::{
    GEVENT_PORT_VAR, HTTP_PORT_VAR, IMAGE_VAR, TAG_VAR, apply_upstream_edits,
    compose_uses_variables, set_env_vars, upstream_edits,
};
use super::switch_ready::{last_log_lines, wait_healthy};
use crate::docker::compose::{PROJECT_LABEL, SERVICE_LABEL};
use crate::nginx::{NginxConfig, NginxInvocation};
use crate::target::Target;
use crate::workflow::{self, ChangeSet, Expect, FileEdit, StateDirs, sha256_hex};

/// Odoo's stop grace when the container names none: compose's `stop_grace_period: 30s`
/// of the rendered stack; Odoo finishes its running requests on SIGTERM.
pub const ODOO_STOP_GRACE: Duration = Duration::from_secs(30);
/// Odoo starts in seconds; a first start that loads a big registry takes longer.
pub const DEFAULT_READY_TIMEOUT: Duration = Duration::from_secs(180);
/// The longest a drain waits for nginx's old workers: Odoo's long requests (reports,
/// imports) run up to `limit_time_real`, but websockets would hold a worker for hours,
/// and those reconnect by themselves.
pub const DEFAULT_DRAIN_TIMEOUT: Duration = Duration::from_secs(60);
/// compose's one-off containers (`docker compose run`) are not the service's.
const ONEOFF_LABEL: &str = "com.docker.compose.oneoff";

/// What to switch to, and where everything is.
#[derive(Debug, Clone)]
pub struct SwitchRequest {
    /// The compose project and service whose container is replaced.
    pub project: String,
    pub service: String,
    /// The new release: the running image's repository with this tag.
    pub tag: String,
    /// Refuse when the tag now names another image (a rollback to a recorded image id,
    /// after someone re-pushed the tag).
    pub expect_image_id: Option<String>,
    pub slots: Slots,
    /// The stack's `.env` and compose file on the host.
    pub env_file: PathBuf,
    pub compose_file: PathBuf,
    /// The running nginx, as its master was started.
    pub nginx: NginxInvocation,
    /// The site's server name, when nginx serves several.
    pub domain: Option<String>,
    pub ready_timeout: Duration,
    pub drain_timeout: Duration,
    /// `None`: the container's own stop timeout, else [`ODOO_STOP_GRACE`].
    pub stop_grace: Option<Duration>,
    /// A switch back from a release that failed: the service's one container is replaced
    /// whatever its state (a crash-looping release is `restarting` or `exited` most of
    /// the time, and is exactly what a rollback must get away from).
    pub leaving_failed: bool,
}

impl SwitchRequest {
    pub fn new(
        project: impl Into<String>,
        tag: impl Into<String>,
        env_file: PathBuf,
        compose_file: PathBuf,
        nginx: NginxInvocation,
    ) -> SwitchRequest {
        SwitchRequest {
            project: project.into(),
            service: "odoo".into(),
            tag: tag.into(),
            expect_image_id: None,
            slots: Slots::default(),
            env_file,
            compose_file,
            nginx,
            domain: None,
            ready_timeout: DEFAULT_READY_TIMEOUT,
            drain_timeout: DEFAULT_DRAIN_TIMEOUT,
            stop_grace: None,
            leaving_failed: false,
        }
    }
}

/// The new container while it is being judged, for a [`ReadyGate`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Candidate {
    pub id: String,
    pub name: String,
    pub image: String,
    pub ports: PortPair,
}

/// More checks before the switch (the deploy's verify gates), run once Odoo's health
/// passes on the new ports. An `Err` is the reason shown, and nothing is switched.
pub trait ReadyGate: Send + Sync {
    fn check<'a>(
        &'a self,
        target: &'a Target,
        candidate: &'a Candidate,
    ) -> BoxFuture<'a, Result<(), String>>;
}

/// One container, as a rollback needs it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContainerRecord {
    pub id: String,
    pub name: String,
    /// `repo:tag`, as the container was created.
    pub image: String,
    pub tag: String,
    /// `sha256:...`: what the tag named at the time.
    pub image_id: String,
    /// `repo@sha256:...` when the image came from a registry.
    pub repo_digests: Vec<String>,
    pub ports: PortPair,
}

/// What a switch did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SwitchRecord {
    pub project: String,
    pub service: String,
    /// What served before (stopped and removed now; its image is kept).
    pub from: ContainerRecord,
    /// What serves now.
    pub to: ContainerRecord,
    /// The safe change that moved nginx and `.env` (its journal id and backups).
    pub change_id: String,
    pub changed_files: Vec<PathBuf>,
    pub backups: Vec<PathBuf>,
    pub drain: String,
    pub steps: Vec<String>,
    /// What went wrong after the switch (nginx serves the new container all the same).
    pub warnings: Vec<String>,
}

impl SwitchRecord {
    /// The switch back, made the same way (new container beside, gates, nginx, drain):
    /// to the release that ran before, refused if its tag now names another image.
    pub fn rollback(&self, like: &SwitchRequest) -> SwitchRequest {
        SwitchRequest {
            tag: self.from.tag.clone(),
            expect_image_id: Some(self.from.image_id.clone()),
            ..like.clone()
        }
    }
}

/// Where a switch stopped. In every stage nothing serves differently than before.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum SwitchStage {
    /// Refused before anything was touched.
    Preflight,
    /// The new container could not be created or started.
    Start,
    /// It did not answer its health on both ports in time.
    Health,
    /// The caller's gate refused it.
    Gate,
    /// nginx refused the new configuration (reverted) or did not reload.
    Nginx,
}

/// A switch that did not happen: the old container still serves.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SwitchFailed {
    pub stage: SwitchStage,
    pub message: String,
    /// The new container's last log lines (secrets redacted), when it ran.
    pub log_tail: Vec<String>,
    pub steps: Vec<String>,
}

impl std::fmt::Display for SwitchFailed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)?;
        if !self.log_tail.is_empty() {
            write!(
                f,
                "\nthe new container's last log lines:\n{}",
                self.log_tail.join("\n")
            )?;
        }
        Ok(())
    }
}

impl std::error::Error for SwitchFailed {}

/// Steps, kept and reported as they happen.
struct Steps<'a> {
    all: Vec<String>,
    on_step: &'a mut (dyn FnMut(&str) + Send),
}

impl Steps<'_> {
    fn push(&mut self, step: impl Into<String>) {
        let step = step.into();
        (self.on_step)(&step);
        self.all.push(step);
    }

    fn fail(&self, stage: SwitchStage, message: impl Into<String>) -> color_eyre::Report {
        color_eyre::Report::new(SwitchFailed {
            stage,
            message: message.into(),
            log_tail: Vec::new(),
            steps: self.all.clone(),
        })
    }
}

/// Everything read before anything is touched.
struct Plan {
    old: ContainerInspectResponse,
    old_record: ContainerRecord,
    new_image: String,
    new_image_id: String,
    new_repo_digests: Vec<String>,
    spec: bollard::models::ContainerCreateBody,
    to: PortPair,
    changes: ChangeSet,
    /// Each changed file's bytes before, to switch back when nginx does not reload.
    before: Vec<(PathBuf, Vec<u8>)>,
}

/// Replace the service's running container by one of `request.tag`. `Ok`: the new
/// container serves through nginx and the old one is gone. `Err` with [`SwitchFailed`]
/// inside: the old container still serves and nothing else changed; other errors are
/// the target's or Docker's and say what is where.
pub async fn switch(
    target: &Target,
    dirs: &StateDirs,
    request: &SwitchRequest,
    gate: Option<&dyn ReadyGate>,
    on_step: &mut (dyn FnMut(&str) + Send),
) -> Result<SwitchRecord> {
    let mut steps = Steps {
        all: Vec::new(),
        on_step,
    };
    let docker = target.docker().await?;
    let plan = plan(target, &docker, request, &mut steps).await?;
    let from = plan.old_record.clone();

    // 2. Start beside the old one.
    let new_name = format!("{}-next", from.name);
    let created = docker
        .create_container(
            Some(
                CreateContainerOptionsBuilder::default()
                    .name(&new_name)
                    .build(),
            ),
            plan.spec.clone(),
        )
        .await
        .map_err(|e| {
            steps.fail(
                SwitchStage::Start,
                format!("could not create {new_name}: {e}"),
            )
        })?;
    let new_id = created.id;
    steps.push(format!(
        "created {new_name} ({}) from {} on 127.0.0.1:{}",
        short(&new_id),
        plan.new_image,
        plan.to
    ));
    if let Err(e) = docker.start_container(&new_id, None).await {
        let message = format!("could not start {new_name}: {e}");
        return Err(abandon(&docker, &new_id, SwitchStage::Start, message, steps).await);
    }
    steps.push(format!("started {new_name}"));

    // 3. Ready, by Odoo's health and then by the caller's gate.
    if let Err(why) = wait_healthy(target, &docker, &new_id, plan.to, request.ready_timeout).await {
        let message = format!(
            "{new_name} ({}) did not become healthy: {why}",
            plan.new_image
        );
        return Err(abandon(&docker, &new_id, SwitchStage::Health, message, steps).await);
    }
    steps.push(format!(
        "{new_name} answers /web/health?db_server_status=1 on 127.0.0.1:{} and :{}",
        plan.to.http, plan.to.gevent
    ));
    if let Some(gate) = gate {
        let candidate = Candidate {
            id: new_id.clone(),
            name: new_name.clone(),
            image: plan.new_image.clone(),
            ports: plan.to,
        };
        if let Err(why) = gate.check(target, &candidate).await {
            let message = format!("{new_name} did not pass the gates: {why}");
            return Err(abandon(&docker, &new_id, SwitchStage::Gate, message, steps).await);
        }
        steps.push(format!("{new_name} passed the gates"));
    }

    // 4. Switch nginx (and .env with it).
    let workers_before = nginx_workers(target, &request.nginx).await;
    let outcome = match workflow::apply(target, dirs, &plan.changes).await {
        Ok(outcome) => outcome,
        Err(e) if e.downcast_ref::<workflow::Refused>().is_some() => {
            let message = format!("nginx and .env were not changed: {e:#}");
            return Err(abandon(&docker, &new_id, SwitchStage::Nginx, message, steps).await);
        }
        Err(e) => {
            // The revert itself failed: the files may point at the new container, so it
            // is left running for whoever puts things right.
            steps.push(format!(
                "{new_name} is left running: the files may point at it"
            ));
            return Err(e);
        }
    };
    for s in &outcome.steps {
        steps.push(s.clone());
    }
    if outcome.reverted {
        let why = outcome
            .test
            .as_ref()
            .map(|t| t.lines().join("; "))
            .unwrap_or_default();
        let message = format!("nginx -t refused the switched site, which was put back: {why}");
        return Err(abandon(&docker, &new_id, SwitchStage::Nginx, message, steps).await);
    }
    if outcome.reloaded == Some(false) {
        switch_back(target, dirs, &plan, &mut steps).await;
        let message = "nginx did not reload; the files were switched back".to_string();
        return Err(abandon(&docker, &new_id, SwitchStage::Nginx, message, steps).await);
    }

    // 5. Drain, stop and remove the old one; the new one takes its name.
    let drain = wait_drained(target, workers_before.as_deref(), request.drain_timeout).await;
    steps.push(drain.clone());
    let mut warnings = Vec::new();
    let grace = request
        .stop_grace
        .or_else(|| {
            plan.old
                .config
                .as_ref()
                .and_then(|c| c.stop_timeout)
                .and_then(|t| u64::try_from(t).ok())
                .map(Duration::from_secs)
        })
        .unwrap_or(ODOO_STOP_GRACE);
    let stop = StopContainerOptionsBuilder::default()
        .t(i32::try_from(grace.as_secs()).unwrap_or(i32::MAX))
        .build();
    match docker.stop_container(&from.id, Some(stop)).await {
        Ok(()) => steps.push(format!(
            "stopped {} (SIGTERM, up to {} s before SIGKILL)",
            from.name,
            grace.as_secs()
        )),
        Err(e) => warnings.push(format!("could not stop {}: {e}", from.name)),
    }
    // Not `-v`: the old container's volumes are the new one's too.
    let remove = RemoveContainerOptionsBuilder::default().force(true).build();
    match docker.remove_container(&from.id, Some(remove)).await {
        Ok(()) => steps.push(format!("removed {} ({})", from.name, short(&from.id))),
        Err(e) => warnings.push(format!("could not remove {}: {e}", from.name)),
    }
    // The old name back, so what looks for the service's container by name (an
    // operator's habit, `docker logs shop-odoo-1`) finds the new one.
    let mut to_name = new_name.clone();
    if warnings.is_empty() {
        let rename = RenameContainerOptionsBuilder::default()
            .name(&from.name)
            .build();
        match docker.rename_container(&new_id, rename).await {
            Ok(()) => {
                steps.push(format!("renamed {new_name} to {}", from.name));
                to_name = from.name.clone();
            }
            Err(e) => warnings.push(format!("could not rename {new_name}: {e}")),
        }
    }
    for w in &warnings {
        steps.push(format!("WARNING {w}"));
    }
    Ok(SwitchRecord {
        project: request.project.clone(),
        service: request.service.clone(),
        to: ContainerRecord {
            id: new_id,
            name: to_name,
            image: plan.new_image.clone(),
            tag: request.tag.clone(),
            image_id: plan.new_image_id.clone(),
            repo_digests: plan.new_repo_digests.clone(),
            ports: plan.to,
        },
        from,
        change_id: outcome.id,
        changed_files: outcome.written,
        backups: outcome.backups,
        drain,
        steps: steps.all,
        warnings,
    })
}

/// 1. Look: everything is read and checked before anything is touched.
async fn plan(
    target: &Target,
    docker: &Docker,
    request: &SwitchRequest,
    steps: &mut Steps<'_>,
) -> Result<Plan> {
    let refuse = |steps: &Steps, m: String| steps.fail(SwitchStage::Preflight, m);
    let old_id = running_container(
        docker,
        &request.project,
        &request.service,
        request.leaving_failed,
    )
    .await
    .map_err(|m| refuse(steps, m))?;
    let old = docker
        .inspect_container(&old_id, None)
        .await
        .map_err(|e| refuse(steps, format!("could not inspect {old_id}: {e}")))?;
    let config = old.config.clone().unwrap_or_default();
    let old_image_ref = config.image.clone().unwrap_or_default();
    let old_image_id = old.image.clone().unwrap_or_default();
    let old_image = docker.inspect_image(&old_image_id).await.ok();
    let name = old
        .name
        .clone()
        .unwrap_or_default()
        .trim_start_matches('/')
        .to_string();
    let published = published_ports(old.host_config.as_ref());
    let (from, to) = request.slots.current_and_next(&published).ok_or_else(|| {
        refuse(
            steps,
            format!(
                "{name} publishes {published:?}, neither slot {} nor {} alone: cannot tell which ports the new container may use",
                request.slots.blue, request.slots.green
            ),
        )
    })?;
    let old_record = ContainerRecord {
        id: old_id.clone(),
        name: name.clone(),
        image: old_image_ref.clone(),
        tag: image_tag(&old_image_ref).to_string(),
        image_id: old_image_id.clone(),
        repo_digests: old_image
            .as_ref()
            .and_then(|i| i.repo_digests.clone())
            .unwrap_or_default(),
        ports: from,
    };
    steps.push(format!(
        "{name} ({}) runs {old_image_ref} on 127.0.0.1:{from}",
        short(&old_id)
    ));

    let new_image = format!("{}:{}", image_repository(&old_image_ref), request.tag);
    let new = docker.inspect_image(&new_image).await.map_err(|e| {
        refuse(
            steps,
            format!("the image {new_image} is not on the host (pull it first): {e}"),
        )
    })?;
    let new_image_id = new.id.clone().unwrap_or_default();
    if let Some(wanted) = &request.expect_image_id
        && *wanted != new_image_id
    {
        return Err(refuse(
            steps,
            format!("{new_image} is now {new_image_id}, not the recorded {wanted}"),
        ));
    }
    if new_image_id == old_image_id {
        return Err(refuse(
            steps,
            format!("{name} already runs {new_image} ({new_image_id})"),
        ));
    }
    let spec = clone_spec(
        &old,
        old_image.as_ref().and_then(|i| i.config.as_ref()),
        &CloneTarget {
            image: &new_image,
            image_id: &new_image_id,
            from,
            to,
        },
    )
    .map_err(|m| refuse(steps, m))?;

    // The compose file must agree with what the switch leaves running.
    let compose = read_text(target, &request.compose_file)
        .await
        .map_err(|m| refuse(steps, m))?;
    compose_uses_variables(&compose).map_err(|m| refuse(steps, m))?;

    // nginx's configuration as the running master loads it.
    let dump = target
        .run(&request.nginx.command(&["-T"]))
        .await
        .map_err(|e| refuse(steps, format!("nginx -T: {e:#}")))?;
    if !dump.success() {
        return Err(refuse(
            steps,
            format!(
                "nginx -T fails before any change: {}",
                dump.stderr_text().trim()
            ),
        ));
    }
    let config = NginxConfig::parse_dump(&dump.stdout_text())
        .map_err(|e| refuse(steps, format!("nginx's configuration: {e}")))?;
    let edits = upstream_edits(&config, request.domain.as_deref(), from, to)
        .map_err(|m| refuse(steps, m))?;
    let mut originals: BTreeMap<PathBuf, String> = BTreeMap::new();
    for e in &edits {
        if !originals.contains_key(&e.file) {
            let text = read_text(target, &e.file)
                .await
                .map_err(|m| refuse(steps, m))?;
            originals.insert(e.file.clone(), text);
        }
    }
    let edited = apply_upstream_edits(&originals, &edits).map_err(|m| refuse(steps, m))?;

    let env = read_text(target, &request.env_file)
        .await
        .map_err(|m| refuse(steps, m))?;
    let new_env = set_env_vars(
        &env,
        &[
            (IMAGE_VAR, image_repository(&old_image_ref).to_string()),
            (TAG_VAR, request.tag.clone()),
            (HTTP_PORT_VAR, to.http.to_string()),
            (GEVENT_PORT_VAR, to.gevent.to_string()),
        ],
    );

    let mut changes = ChangeSet::new(format!(
        "switch {}/{} from {} to {new_image}",
        request.project, request.service, old_image_ref
    ))
    .validated_by(request.nginx.clone());
    let mut before = Vec::new();
    for (path, text) in &edited {
        let old_text = &originals[path];
        changes = changes.file(FileEdit {
            path: path.clone(),
            expect: Expect::Sha256(vec![sha256_hex(old_text.as_bytes())]),
            contents: text.clone().into_bytes(),
            mode: None,
        });
        before.push((path.clone(), old_text.clone().into_bytes()));
    }
    changes = changes.file(FileEdit {
        path: request.env_file.clone(),
        expect: Expect::Sha256(vec![sha256_hex(env.as_bytes())]),
        contents: new_env.into_bytes(),
        mode: None,
    });
    before.push((request.env_file.clone(), env.into_bytes()));
    steps.push(format!(
        "plan: start {new_image} on 127.0.0.1:{to}; then move {} upstream address(es) in {} and the tag and ports in {}",
        edits.len(),
        edited
            .keys()
            .map(|p| p.display().to_string())
            .collect::<Vec<_>>()
            .join(", "),
        request.env_file.display()
    ));
    Ok(Plan {
        old,
        old_record,
        new_image,
        new_image_id,
        new_repo_digests: new.repo_digests.unwrap_or_default(),
        spec,
        to,
        changes,
        before,
    })
}

/// The id of the service's one running container (`any_state`: its one container,
/// running or not). Two containers (a switch that was interrupted, a scaled service) or
/// none: refused, naming them.
async fn running_container(
    docker: &Docker,
    project: &str,
    service: &str,
    any_state: bool,
) -> Result<String, String> {
    let filters = HashMap::from([(
        "label",
        vec![
            format!("{PROJECT_LABEL}={project}"),
            format!("{SERVICE_LABEL}={service}"),
        ],
    )]);
    let options = ListContainersOptionsBuilder::default()
        .all(true)
        .filters(&filters)
        .build();
    let list = docker
        .list_containers(Some(options))
        .await
        .map_err(|e| crate::docker::errors::explain(&format!("{e:#}")))?;
    let list: Vec<_> = list
        .into_iter()
        .filter(|c| {
            c.labels
                .as_ref()
                .and_then(|l| l.get(ONEOFF_LABEL))
                .is_none_or(|v| !v.eq_ignore_ascii_case("true"))
        })
        .collect();
    let describe = |c: &bollard::models::ContainerSummary| {
        format!(
            "{} ({})",
            c.names
                .as_ref()
                .and_then(|n| n.first())
                .map(|n| n.trim_start_matches('/'))
                .unwrap_or("?"),
            c.state.as_ref().map(|s| s.to_string()).unwrap_or_default()
        )
    };
    match list.as_slice() {
        [] => Err(format!(
            "no container of service {service} in compose project {project}"
        )),
        [one]
            if any_state
                || one
                    .state
                    .as_ref()
                    .is_some_and(|s| s.to_string() == "running") =>
        {
            Ok(one.id.clone().unwrap_or_default())
        }
        [one] => Err(format!("{} is not running", describe(one))),
        many => Err(format!(
            "service {service} has {} containers ({}): an interrupted switch or a scaled service; resolve that first",
            many.len(),
            many.iter().map(describe).collect::<Vec<_>>().join(", ")
        )),
    }
}

async fn read_text(target: &Target, path: &std::path::Path) -> Result<String, String> {
    let bytes = target
        .read_file(path)
        .await
        .map_err(|e| format!("could not read {}: {e:#}", path.display()))?;
    String::from_utf8(bytes).map_err(|_| format!("{} is not text", path.display()))
}

/// Remove the new container (its last log lines kept for the error first) and make the
/// failure: the old container was never touched.
async fn abandon(
    docker: &Docker,
    new_id: &str,
    stage: SwitchStage,
    message: String,
    mut steps: Steps<'_>,
) -> color_eyre::Report {
    let log_tail = last_log_lines(docker, new_id).await;
    let remove = RemoveContainerOptionsBuilder::default().force(true).build();
    match docker.remove_container(new_id, Some(remove)).await {
        Ok(()) => steps.push(format!(
            "removed the new container {}; the old one still serves",
            short(new_id)
        )),
        Err(e) => steps.push(format!(
            "could not remove the new container {}: {e}; the old one still serves",
            short(new_id)
        )),
    }
    color_eyre::Report::new(SwitchFailed {
        stage,
        message,
        log_tail,
        steps: steps.all,
    })
}

/// nginx did not reload after the files were committed: the files go back as they were
/// (through the same safe change, which reloads again), so disk and memory agree.
async fn switch_back(target: &Target, dirs: &StateDirs, plan: &Plan, steps: &mut Steps<'_>) {
    let mut back = ChangeSet::new("switch back: nginx did not reload")
        .validated_by(plan.changes.nginx.clone().unwrap_or_default());
    for ((path, old), edit) in plan.before.iter().zip(&plan.changes.files) {
        back = back.file(FileEdit {
            path: path.clone(),
            expect: Expect::Sha256(vec![sha256_hex(&edit.contents)]),
            contents: old.clone(),
            mode: None,
        });
    }
    match workflow::apply(target, dirs, &back).await {
        Ok(o) => {
            for s in o.steps {
                steps.push(s);
            }
        }
        Err(e) => steps.push(format!("could not switch the files back: {e:#}")),
    }
}

fn short(id: &str) -> &str {
    let id = id.trim_start_matches("sha256:");
    &id[..id.len().min(12)]
}
