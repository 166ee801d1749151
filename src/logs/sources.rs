//! Which logs the console follows, and when it looks for them again.
//!
//! Sources are found at start, and again whenever what they come from may have appeared:
//! Docker's model changed (a container was created or started: its logs, and the log file
//! its odoo.conf names), or the host's facts were refreshed (an Odoo server started on
//! the host since: the log file its `-c` configuration names). The logs worker follows a
//! source found twice only once, and revives it if it had stopped.
//!
//! How a source is found is [`super::discover`]'s business; this module only decides
//! when to ask.

use std::collections::HashSet;

use tokio::task::JoinHandle;

use super::Format;
use super::discover;
use super::worker::{LogsHandle, SourceSpec, container_source_name};
use crate::docker::Model;
use crate::docker::model::State;
use crate::host::HostFacts;
use crate::target::Target;

/// nginx's logs where Debian and the official image put them: followed when nginx's
/// configuration cannot be read to say where they are.
pub const NGINX_LOGS: [(&str, &str, Format); 2] = [
    (
        "nginx access",
        "/var/log/nginx/access.log",
        Format::NginxAccess,
    ),
    (
        "nginx error",
        "/var/log/nginx/error.log",
        Format::NginxError,
    ),
];

pub struct LogSources {
    target: Target,
    logs: LogsHandle,
    /// Containers whose logs are already a source.
    followed: HashSet<String>,
    /// Odoo containers whose odoo.conf was looked at for a log file while running.
    logfile_probed: HashSet<String>,
    /// The look for Odoo servers on the host under way, if any.
    host_look: Option<JoinHandle<()>>,
    /// The Odoo server processes the last look was made for.
    looked_for: Option<Vec<u32>>,
    /// Servers seen once and not yet looked for: a set is looked for when the next facts
    /// list it again.
    seen_once: Option<Vec<u32>>,
}

impl LogSources {
    pub fn new(target: Target, logs: LogsHandle) -> LogSources {
        LogSources {
            target,
            logs,
            followed: HashSet::new(),
            logfile_probed: HashSet::new(),
            host_look: None,
            looked_for: None,
            seen_once: None,
        }
    }

    /// What is looked for once, at start: nginx's logs (those its configuration names for
    /// the Odoo site), and Odoo's log file on the host.
    pub fn start(&mut self) {
        self.look_on_host();
        let (target, logs) = (self.target.clone(), self.logs.clone());
        tokio::spawn(async move {
            for spec in discover::nginx_logfiles(&target).await {
                logs.add_source(spec);
            }
        });
    }

    /// Stop the look for Odoo servers under way (the console left this host).
    pub fn stop(&mut self) {
        if let Some(look) = self.host_look.take() {
            look.abort();
        }
    }

    /// Look for Odoo servers run on the host (systemd, a source install) that name a log
    /// file: at start, and when the host's facts list other Odoo-like processes, so that
    /// an Odoo that was down when the console started is found when it comes back. One
    /// look at a time: false when one is still under way.
    pub fn look_on_host(&mut self) -> bool {
        if self.host_look.as_ref().is_some_and(|j| !j.is_finished()) {
            return false;
        }
        let (target, logs) = (self.target.clone(), self.logs.clone());
        self.host_look = Some(tokio::spawn(async move {
            for spec in discover::host_logfiles(&target).await {
                logs.add_source(spec);
            }
        }));
        true
    }

    /// Fresh host facts: look again when the Odoo servers changed since the last look and
    /// the next facts still list them, not on every refresh (a look is a full process
    /// snapshot: a dozen processes). A busy host starts and ends Python processes all the
    /// time; one that lives across two refreshes (10 s) may be an Odoo.
    pub fn on_host_facts(&mut self, facts: &HostFacts) {
        let now = &facts.odoo_server_pids;
        match look_again(self.looked_for.as_deref(), self.seen_once.as_deref(), now) {
            Look::No => self.seen_once = None,
            Look::AfterNextFacts => self.seen_once = Some(now.clone()),
            // Recorded only once a look starts: a change seen while one runs is looked
            // at with the next facts.
            Look::Now => {
                if self.look_on_host() {
                    self.looked_for = Some(now.clone());
                    self.seen_once = None;
                }
            }
        }
    }

    /// Follow one container's logs (once per container).
    pub fn follow_container(&mut self, container: String, service: &str) {
        if self.followed.insert(container.clone()) {
            let name = container_source_name(service, &container);
            self.logs.add_source(SourceSpec::Container {
                target: self.target.clone(),
                container,
                name,
                since_ms: None,
            });
        }
    }

    /// Odoo's containers are followed as soon as Docker lists them, and so is the log
    /// file their odoo.conf names, looked for in the background once a container runs
    /// (a container created or started later is looked at then).
    pub fn on_containers(&mut self, model: &Model) {
        for c in &model.containers {
            if !crate::odoo::locate::is_odoo_container(&c.service, &c.name, &c.image) {
                continue;
            }
            self.follow_container(c.id.clone(), &c.service);
            if c.state != State::Running || !self.logfile_probed.insert(c.id.clone()) {
                continue;
            }
            let (target, logs, id) = (self.target.clone(), self.logs.clone(), c.id.clone());
            tokio::spawn(async move {
                let Ok(docker) = target.docker().await else {
                    return;
                };
                match discover::container_logfile(&target, &docker, &id).await {
                    // Where a file inside the container is goes with the container; a
                    // file on the host outlives it (its next container writes there too).
                    Some(spec @ SourceSpec::Notice { .. }) => {
                        logs.add_container_source(spec, &id);
                    }
                    Some(spec) => {
                        logs.add_source(spec);
                    }
                    None => {}
                }
            });
        }
    }
}

#[derive(Debug, PartialEq, Eq)]
enum Look {
    No,
    AfterNextFacts,
    Now,
}

/// Whether the host's Odoo servers call for a look: never on the same set as the last
/// look; on a new set, once two facts in a row list it. The very first facts are looked
/// at at once (the look at start is under way or done by then).
fn look_again(looked_for: Option<&[u32]>, seen_once: Option<&[u32]>, now: &[u32]) -> Look {
    match looked_for {
        None => Look::Now,
        Some(last) if last == now => Look::No,
        Some(_) if seen_once == Some(now) => Look::Now,
        Some(_) => Look::AfterNextFacts,
    }
}

#[cfg(test)]
mod odoo_process_tests {
    use super::{Look, look_again};

    #[test]
    fn the_host_is_looked_at_again_only_when_new_odoo_servers_stay() {
        assert_eq!(look_again(None, None, &[]), Look::Now, "the first facts");
        assert_eq!(look_again(Some(&[]), None, &[]), Look::No);
        assert_eq!(
            look_again(Some(&[]), None, &[900]),
            Look::AfterNextFacts,
            "an odoo-bin started: looked for if it is still there next time"
        );
        assert_eq!(look_again(Some(&[]), Some(&[900]), &[900]), Look::Now);
        assert_eq!(
            look_again(Some(&[]), Some(&[900]), &[]),
            Look::No,
            "a short-lived Python process is never looked for"
        );
        assert_eq!(
            look_again(Some(&[900]), Some(&[901]), &[902]),
            Look::AfterNextFacts,
            "churn keeps postponing the look"
        );
        assert_eq!(
            look_again(Some(&[900]), Some(&[901]), &[901]),
            Look::Now,
            "it restarted"
        );
    }
}
