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
    /// Servers the last facts listed that the last look did not know: one of them
    /// listed again calls for a look.
    seen_once: Vec<u32>,
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
            seen_once: Vec::new(),
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

    /// Fresh host facts: look again when an Odoo server not there at the last look is
    /// listed by two facts in a row, not on every refresh (a look is a full process
    /// snapshot: a dozen processes). A busy host starts and ends Python processes (and
    /// containers) all the time; one that lives across two refreshes (10 s) may be an
    /// Odoo, and others coming and going around it do not put its look off.
    pub fn on_host_facts(&mut self, facts: &HostFacts) {
        let now = &facts.odoo_server_pids;
        let (look, new) = look_again(self.looked_for.as_deref(), &self.seen_once, now);
        match look {
            Look::No | Look::AfterNextFacts => self.seen_once = new,
            // Recorded only once a look starts: a server seen while one runs is looked
            // at with the next facts.
            Look::Now => {
                if self.look_on_host() {
                    self.looked_for = Some(now.clone());
                    self.seen_once.clear();
                } else {
                    self.seen_once = new;
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

/// Whether the host's Odoo servers call for a look, and the servers new since the last
/// one: the very first facts are looked at at once (the look at start may have missed a
/// server starting then); afterwards, a new server is looked for once two facts in a row
/// list it. A server that went away calls for nothing.
fn look_again(looked_for: Option<&[u32]>, seen_once: &[u32], now: &[u32]) -> (Look, Vec<u32>) {
    let Some(last) = looked_for else {
        return (Look::Now, now.to_vec());
    };
    let new: Vec<u32> = now.iter().copied().filter(|p| !last.contains(p)).collect();
    let look = if new.is_empty() {
        Look::No
    } else if new.iter().any(|p| seen_once.contains(p)) {
        Look::Now
    } else {
        Look::AfterNextFacts
    };
    (look, new)
}

#[cfg(test)]
mod odoo_process_tests {
    use super::{Look, look_again};

    #[test]
    fn a_new_odoo_server_is_looked_for_once_it_stays_whatever_comes_and_goes_beside_it() {
        assert_eq!(look_again(None, &[], &[]).0, Look::Now, "the first facts");
        assert_eq!(look_again(Some(&[]), &[], &[]).0, Look::No);
        let (look, new) = look_again(Some(&[]), &[], &[900]);
        assert_eq!(look, Look::AfterNextFacts, "an odoo-bin started");
        assert_eq!(new, [900]);
        assert_eq!(look_again(Some(&[]), &[900], &[900]).0, Look::Now);
        assert_eq!(
            look_again(Some(&[]), &[900], &[]).0,
            Look::No,
            "a short-lived Python process is never looked for"
        );
        assert_eq!(
            look_again(Some(&[900]), &[], &[]).0,
            Look::No,
            "a server that went away"
        );
        // Others come and go beside a new server: it is looked for on its second facts.
        let (look, new) = look_again(Some(&[1]), &[], &[1, 900, 31]);
        assert_eq!(look, Look::AfterNextFacts);
        assert_eq!(look_again(Some(&[1]), &new, &[1, 900, 44]).0, Look::Now);
        assert_eq!(
            look_again(Some(&[1]), &[31], &[1, 44]).0,
            Look::AfterNextFacts,
            "churn alone is never looked at at once"
        );
    }
}
