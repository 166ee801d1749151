//! Which nginx is running and how it was started: the master's own `-c`/`-p`, so every
//! `nginx -t`/`-T`/`-s reload` talks about the configuration that is really in use.
//!
//! The master is found through what the kernel says ([`crate::host::processes`]): the
//! process owning nginx's listening sockets, its program (`/proc/PID/exe`) and its user,
//! never its title, which any local user can forge.

use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::host::processes::{Process, Processes};
use crate::target::Command;

/// The packaged default when no master runs and nothing was configured.
pub const DEFAULT_BINARY: &str = "nginx";

/// How to invoke nginx for the instance being diagnosed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct NginxInvocation {
    pub binary: String,
    /// `-c FILE`; `None` is nginx's compiled-in default (`/etc/nginx/nginx.conf` on Debian).
    pub conf: Option<PathBuf>,
    /// `-p DIR`.
    pub prefix: Option<PathBuf>,
    /// The running master, when there is one.
    pub master_pid: Option<u32>,
    /// Its worker processes.
    pub worker_pids: Vec<u32>,
}

impl NginxInvocation {
    /// `nginx [-p PREFIX] [-c CONF] ARGS...`.
    pub fn command(&self, args: &[&str]) -> Command {
        let mut c = Command::new(if self.binary.is_empty() {
            DEFAULT_BINARY
        } else {
            &self.binary
        });
        if let Some(p) = &self.prefix {
            c = c.arg("-p").arg(p.to_string_lossy());
        }
        if let Some(conf) = &self.conf {
            c = c.arg("-c").arg(conf.to_string_lossy());
        }
        c.args(args.iter().copied())
    }
}

/// The configuration a master started without `-c` reads: nginx's compiled-in default,
/// `/etc/nginx/nginx.conf` in Debian's, Ubuntu's and nginx.org's packages. Asking the
/// binary (`nginx -V`) would cost a round trip for what every packaged build agrees on.
pub const DEFAULT_CONF: &str = "/etc/nginx/nginx.conf";

/// Whether a program file is nginx (`nginx`, `nginx-debug`, OpenResty's `openresty`).
fn is_nginx_program(name: &str) -> bool {
    name.starts_with("nginx") || name == "openresty"
}

/// The master found, and a sentence for each process that claimed to be one and was
/// refused (for the evidence).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MasterSearch {
    pub master: Option<NginxInvocation>,
    pub notes: Vec<String>,
}

/// Why a process is not trusted as nginx's master, or `None` when it is.
///
/// Trust: the process owns a listening socket (the kernel says so), its program is an
/// nginx binary that root owns and no one else may write (so executing it as root runs
/// what root installed), and it runs as root. Only then are the `-c`/`-p` on its command
/// line used: a root master's argv was written by whoever started it as root, while a
/// master run by another user could point `nginx -T` (run by us as root) at any file.
fn refusal(p: &Process) -> Option<String> {
    let Some(name) = p.exe_name() else {
        return Some("its program could not be read (/proc/PID/exe)".into());
    };
    if !is_nginx_program(name) {
        return Some(format!(
            "its program is {}, not nginx",
            p.exe.as_deref().unwrap_or(Path::new("?")).display()
        ));
    }
    if p.listen_ports.is_empty() {
        return Some("it listens on no TCP port".into());
    }
    if let Err(why) = p.exe_trusted() {
        return Some(why.to_string());
    }
    if p.uid != 0 {
        return Some(format!(
            "it runs as uid {}, not root, so its -c/-p are not used",
            p.uid
        ));
    }
    None
}

/// `-c`/`-p` from a verified master's command line: nginx rewrites its argv into the
/// title `nginx: master process /usr/sbin/nginx -c FILE -g daemon on;`. The program word
/// is skipped: what runs is the verified `/proc/PID/exe`, never a path from the title.
fn parse_master_args(p: &Process, exe: &Path) -> NginxInvocation {
    let joined = if p.argv.is_empty() {
        p.title.clone()
    } else {
        p.argv.join(" ")
    };
    let rest = joined
        .strip_prefix("nginx: master process")
        .unwrap_or(&joined)
        .trim();
    let words: Vec<&str> = rest.split_whitespace().collect();
    let mut inv = NginxInvocation {
        binary: exe.display().to_string(),
        master_pid: Some(p.pid),
        ..Default::default()
    };
    let mut i = 1;
    while i < words.len() {
        match words[i] {
            "-c" if i + 1 < words.len() => {
                inv.conf = Some(PathBuf::from(words[i + 1]));
                i += 1;
            }
            "-p" if i + 1 < words.len() => {
                inv.prefix = Some(PathBuf::from(words[i + 1]));
                i += 1;
            }
            _ => {}
        }
        i += 1;
    }
    // A relative -c is relative to the prefix.
    if let (Some(conf), Some(prefix)) = (&inv.conf, &inv.prefix)
        && conf.is_relative()
    {
        inv.conf = Some(prefix.join(conf));
    }
    inv
}

/// Find the running master among the host's processes. With `wanted` (a config path the
/// operator named), only a master reading that file counts (a master started without
/// `-c` reads [`DEFAULT_CONF`]); otherwise systemd's nginx.service MainPID, then a master
/// on 80/443, then the oldest.
pub fn find_master(procs: &Processes, wanted: Option<&Path>) -> MasterSearch {
    let mut search = MasterSearch::default();
    let nginx_listener =
        |p: &Process| p.exe_name().is_some_and(is_nginx_program) && !p.listen_ports.is_empty();
    // A master is not the child of another nginx holding the same sockets (its workers are).
    let claims: Vec<&Process> = procs
        .by_pid
        .values()
        .filter(|p| {
            let titled = p.title.starts_with("nginx: master process");
            let worker = procs.get(p.ppid).is_some_and(|parent| {
                nginx_listener(parent) && parent.exe == p.exe && nginx_listener(p)
            });
            (titled || nginx_listener(p)) && !worker
        })
        .collect();
    let mut masters = Vec::new();
    for p in claims {
        match refusal(p) {
            Some(why) => search.notes.push(format!(
                "refused process {} (uid {}) titled `{}`: {why}; nothing it names is run or read",
                p.pid,
                p.uid,
                p.short_title()
            )),
            None => {
                let exe = p.exe.as_deref().expect("verified");
                let mut inv = parse_master_args(p, exe);
                inv.worker_pids = procs
                    .children_of(p.pid)
                    // A reload leaves the old generation running until its connections
                    // close, titled `... is shutting down`: those serve the configuration
                    // that is no longer loaded, so they do not date the running one.
                    .filter(|c| {
                        c.title.starts_with("nginx: worker process")
                            && !c.title.trim_end().ends_with("is shutting down")
                    })
                    .map(|c| c.pid)
                    .collect();
                masters.push((p, inv));
            }
        }
    }
    if let Some(w) = wanted {
        masters.retain(|(_, inv)| inv.conf.as_deref().unwrap_or(Path::new(DEFAULT_CONF)) == w);
    }
    let rank = |p: &Process| {
        let unit = procs.nginx_unit_main_pid == Some(p.pid);
        let edge = p.listen_ports.contains(&80) || p.listen_ports.contains(&443);
        (!unit, !edge, p.pid)
    };
    masters.sort_by_key(|(p, _)| rank(p));
    search.master = masters.into_iter().next().map(|(_, inv)| inv);
    if search.master.is_none()
        && let Some(limited) = &procs.limited
    {
        search.notes.push(limited.clone());
    }
    search
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::host::processes::parse;

    /// A snapshot as the script prints it: a packaged master on 80 (systemd's), a test
    /// master with -p/-c on 8443, a forged title, and a copied nginx run by a user.
    const SNAPSHOT: &str = "@@ps
    1     0     0 /sbin/init
  812     1     0 nginx: master process /usr/sbin/nginx -g daemon on; master_process on;
  813   812    33 nginx: worker process
  814   812    33 nginx: worker process
  815   812    33 nginx: worker process is shutting down
  900     1     0 nginx: master process nginx -p /tmp/t1 -c nginx.conf
  901   900     0 nginx: worker process
  950   812    33 nginx: cache manager process
  960     1 65534 nginx: master process /tmp/x/nginx -c /tmp/t1/nginx.conf
  970     1  1000 nginx: master process /home/u/nginx
@@tcp
   0: 00000000:0050 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 80 1 0
   1: 00000000:20FB 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 8443 1 0
   2: 00000000:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 8080 1 0
@@fd
/proc/812/fd:
l 6 -> socket:[80]
/proc/813/fd:
l 6 -> socket:[80]
/proc/814/fd:
l 6 -> socket:[80]
/proc/900/fd:
l 6 -> socket:[8443]
/proc/901/fd:
l 6 -> socket:[8443]
/proc/970/fd:
l 6 -> socket:[8080]
@@exe
exe 812 /usr/sbin/nginx
stat 812 0 755 /usr/sbin/nginx
stat 812 0 755 /usr/sbin
stat 812 0 755 /usr
stat 812 0 755 /
argv 812 nginx: master process /usr/sbin/nginx -g daemon on; master_process on;
exe 813 /usr/sbin/nginx
exe 814 /usr/sbin/nginx
exe 815 /usr/sbin/nginx
exe 900 /usr/sbin/nginx
stat 900 0 755 /usr/sbin/nginx
stat 900 0 755 /usr/sbin
stat 900 0 755 /usr
stat 900 0 755 /
argv 900 nginx: master process nginx -p /tmp/t1 -c nginx.conf
exe 901 /usr/sbin/nginx
exe 960 /usr/bin/sleep
exe 970 /home/u/nginx
stat 970 1000 755 /home/u/nginx
stat 970 1000 755 /home/u
stat 970 0 755 /home
stat 970 0 755 /
@@systemd
MainPID=812
@@end
";

    #[test]
    fn packaged_master_uses_defaults_and_its_verified_program() {
        let search = find_master(&parse(SNAPSHOT), None);
        let inv = search.master.unwrap();
        assert_eq!(inv.binary, "/usr/sbin/nginx");
        assert_eq!(inv.conf, None);
        assert_eq!(inv.master_pid, Some(812));
        assert_eq!(inv.worker_pids, [813, 814]);
        assert_eq!(inv.command(&["-t"]).display(), "/usr/sbin/nginx -t");
    }

    #[test]
    fn forged_titles_and_user_programs_are_refused_with_a_sentence() {
        let search = find_master(&parse(SNAPSHOT), Some(Path::new("/tmp/t1/nginx.conf")));
        let notes = search.notes.join("\n");
        assert!(
            notes.contains("refused process 960 (uid 65534) titled `nginx: master process /tmp/x/nginx -c /tmp/t1/nginx.conf`: its program is /usr/bin/sleep, not nginx"),
            "{notes}"
        );
        assert!(
            notes.contains("refused process 970 (uid 1000)")
                && notes.contains("/home/u/nginx is not owned by root"),
            "{notes}"
        );
        // The real master with that config, run through its own program.
        let inv = search.master.unwrap();
        assert_eq!(inv.master_pid, Some(900));
        assert_eq!(
            inv.command(&["-T"]).display(),
            "/usr/sbin/nginx -p /tmp/t1 -c /tmp/t1/nginx.conf -T"
        );
        assert!(
            find_master(&parse(SNAPSHOT), Some(Path::new("/nope.conf")))
                .master
                .is_none()
        );
        assert!(
            find_master(&parse("@@ps\n1 0 0 /sbin/init\n@@end\n"), None)
                .master
                .is_none()
        );
    }

    #[test]
    fn the_default_config_names_a_master_started_without_c() {
        let search = find_master(&parse(SNAPSHOT), Some(Path::new(DEFAULT_CONF)));
        assert_eq!(search.master.unwrap().master_pid, Some(812));
    }
}
