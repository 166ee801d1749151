//! Gate `container`: Odoo is up and not restarting, as Docker's API says it (state,
//! restart count, health), or, for Odoo on the host, its server process runs.

use crate::checks::obs::OdooRuntime;
use crate::verify::model::Finding;
use crate::verify::subject::Subject;

/// `baseline`: the restart count the first round saw; a higher one later means the
/// container restarted while it was being verified (a crash loop caught between crashes).
pub fn judge(subject: &Subject, baseline: Option<i64>) -> Finding {
    let name = subject.container_name();
    match &subject.odoo.runtime {
        OdooRuntime::Container(c) => {
            let mut evidence = vec![
                format!("docker inspect {}", c.name),
                format!(
                    "state {}, started at {}, restart count {}, image {}",
                    c.status, c.started_at, c.restart_count, c.image
                ),
            ];
            let health = subject
                .inspect
                .as_ref()
                .and_then(|i| i.state.as_ref())
                .and_then(|s| s.health.as_ref());
            let health_status = health
                .and_then(|h| h.status)
                .map(|s| s.to_string())
                .filter(|s| !s.is_empty() && s != "none");
            if let Some(h) = &health_status {
                evidence.push(format!(
                    "health {h} (failing streak {})",
                    health.and_then(|h| h.failing_streak).unwrap_or(0)
                ));
            }
            let finding = if c.restarting {
                Finding::fail(format!(
                    "{} is restarting (restart count {}, last exit code {})",
                    c.name,
                    c.restart_count,
                    c.exit_code.unwrap_or_default()
                ))
            } else if !c.running {
                let oom = if c.oom_killed {
                    ", killed by the OOM killer"
                } else {
                    ""
                };
                Finding::fail(format!(
                    "{} is {} (exit code {}{oom})",
                    c.name,
                    c.status,
                    c.exit_code.unwrap_or_default()
                ))
            } else if let Some(b) = baseline.filter(|b| c.restart_count > *b) {
                Finding::fail(format!(
                    "{} restarted during the verify (restart count {b} -> {})",
                    c.name, c.restart_count
                ))
            } else if health_status.as_deref() == Some("unhealthy") {
                Finding::fail(format!("{} runs but Docker reports it unhealthy", c.name))
            } else if health_status.as_deref() == Some("starting") {
                Finding::fail(format!(
                    "{} runs; its health check has not passed yet",
                    c.name
                ))
            } else {
                Finding::pass(format!(
                    "{} running since {}{}",
                    c.name,
                    c.started_at,
                    health_status.map(|h| format!(", {h}")).unwrap_or_default()
                ))
            };
            finding.lines(evidence).in_container(name)
        }
        OdooRuntime::Process {
            process: Some(p),
            config,
        } => Finding::pass(format!("Odoo runs on the host as process {}", p.pid)).line(format!(
            "pid {} `{}`, config {}",
            p.pid,
            p.args,
            config
                .as_ref()
                .map_or("unknown".into(), |c| c.display().to_string())
        )),
        OdooRuntime::Process {
            process: None,
            config,
        } => Finding::fail(format!(
            "no Odoo process runs with {}",
            config
                .as_ref()
                .map_or("that config".into(), |c| c.display().to_string())
        )),
        OdooRuntime::NotFound { looked } => {
            let finding = match &subject.odoo.docker_error {
                Some(e) => Finding::could_not_check(format!(
                    "no Odoo found, and Docker could not be asked: {e}"
                )),
                None => Finding::fail("no Odoo container or process found"),
            };
            finding
                .line(format!("looked: {looked}"))
                .lines(subject.odoo.located.iter().cloned())
        }
    }
}

/// The restart count a round saw, to compare later rounds with.
pub fn restart_count(subject: &Subject) -> Option<i64> {
    match &subject.odoo.runtime {
        OdooRuntime::Container(c) => Some(c.restart_count),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checks::obs::{ContainerObs, OdooObs};
    use crate::verify::model::GateStatus;

    fn subject(c: ContainerObs) -> Subject {
        Subject {
            odoo: OdooObs {
                runtime: OdooRuntime::Container(c),
                ..Default::default()
            },
            inspect: None,
            http_port: Some(8069),
            gevent_port: Some(8072),
            docker: Err("not asked".into()),
            db: Ok(None),
        }
    }

    fn running() -> ContainerObs {
        ContainerObs {
            name: "prod-odoo-1".into(),
            status: "running".into(),
            running: true,
            started_at: "2026-11-30T10:00:00Z".into(),
            ..Default::default()
        }
    }

    #[test]
    fn up_restarting_dead_and_restarted_meanwhile() {
        let f = judge(&subject(running()), None);
        assert_eq!(f.status, GateStatus::Pass);
        assert_eq!(f.container.as_deref(), Some("prod-odoo-1"));

        let mut c = running();
        c.restarting = true;
        c.restart_count = 4;
        let f = judge(&subject(c), None);
        assert_eq!(f.status, GateStatus::Fail);
        assert!(
            f.summary.contains("restarting (restart count 4"),
            "{}",
            f.summary
        );

        let mut c = running();
        c.running = false;
        c.status = "exited".into();
        c.exit_code = Some(137);
        c.oom_killed = true;
        let f = judge(&subject(c), None);
        assert!(
            f.summary
                .contains("exited (exit code 137, killed by the OOM killer)")
        );

        // Running between two crashes: caught by the count going up during the verify.
        let mut c = running();
        c.restart_count = 3;
        let f = judge(&subject(c), Some(2));
        assert_eq!(f.status, GateStatus::Fail);
        assert!(
            f.summary
                .contains("restarted during the verify (restart count 2 -> 3)")
        );
    }

    #[test]
    fn no_odoo_is_a_failure_unless_docker_could_not_be_asked() {
        let mut s = subject(running());
        s.odoo.runtime = OdooRuntime::NotFound {
            looked: "docker ps -a".into(),
        };
        assert_eq!(judge(&s, None).status, GateStatus::Fail);
        s.odoo.docker_error = Some("permission denied".into());
        assert_eq!(judge(&s, None).status, GateStatus::CouldNotCheck);
    }
}
