//! Which nginx is running and how it was started: the master's own `-c`/`-p`, so every
//! `nginx -t`/`-T`/`-s reload` talks about the configuration that is really in use.

use std::path::{Path, PathBuf};

use serde::Serialize;

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

/// One row of `ps -eo pid=,ppid=,args=`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ProcessRow {
    pub pid: u32,
    pub ppid: u32,
    pub args: String,
}

/// Every process with its parent and command line, for [`parse_ps`].
pub fn ps_command() -> Command {
    Command::new("ps").args(["-eo", "pid=,ppid=,args="])
}

pub fn parse_ps(text: &str) -> Vec<ProcessRow> {
    text.lines()
        .filter_map(|line| {
            let (pid, rest) = line.trim_start().split_once(char::is_whitespace)?;
            let (ppid, args) = rest.trim_start().split_once(char::is_whitespace)?;
            let (pid, ppid) = (pid.parse().ok()?, ppid.parse().ok()?);
            let args = args.trim().to_string();
            Some(ProcessRow { pid, ppid, args })
        })
        .collect()
}

/// Read `-c`, `-p` and the binary from a master's title:
/// `nginx: master process /usr/sbin/nginx -c /etc/nginx/nginx.conf -g daemon on;`.
fn parse_master_title(title: &str) -> Option<NginxInvocation> {
    let rest = title.strip_prefix("nginx: master process")?.trim();
    let words: Vec<&str> = rest.split_whitespace().collect();
    let mut inv = NginxInvocation {
        binary: words.first().copied().unwrap_or(DEFAULT_BINARY).to_string(),
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
    Some(inv)
}

/// Find the running master. With `wanted` (a config path the operator named), only a master
/// started with that config counts; otherwise the first master.
pub fn find_master(rows: &[ProcessRow], wanted: Option<&Path>) -> Option<NginxInvocation> {
    rows.iter().find_map(|row| {
        let mut inv = parse_master_title(&row.args)?;
        if let Some(w) = wanted
            && inv.conf.as_deref() != Some(w)
        {
            return None;
        }
        inv.master_pid = Some(row.pid);
        inv.worker_pids = rows
            .iter()
            .filter(|r| r.ppid == row.pid && r.args.starts_with("nginx: worker process"))
            .map(|r| r.pid)
            .collect();
        Some(inv)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const PS: &str = "    1     0 /sbin/init
  812     1 nginx: master process /usr/sbin/nginx -g daemon on; master_process on;
  813   812 nginx: worker process
  814   812 nginx: worker process
  900     1 nginx: master process nginx -p /tmp/t1 -c nginx.conf
  901   900 nginx: worker process
  950   812 nginx: cache manager process
";

    #[test]
    fn packaged_master_uses_defaults() {
        let rows = parse_ps(PS);
        let inv = find_master(&rows, None).unwrap();
        assert_eq!(inv.binary, "/usr/sbin/nginx");
        assert_eq!(inv.conf, None);
        assert_eq!(inv.master_pid, Some(812));
        assert_eq!(inv.worker_pids, [813, 814]);
        assert_eq!(inv.command(&["-t"]).display(), "/usr/sbin/nginx -t");
    }

    #[test]
    fn named_config_picks_its_master_with_prefix() {
        let rows = parse_ps(PS);
        let inv = find_master(&rows, Some(Path::new("/tmp/t1/nginx.conf"))).unwrap();
        assert_eq!(inv.master_pid, Some(900));
        assert_eq!(inv.prefix.as_deref(), Some(Path::new("/tmp/t1")));
        assert_eq!(
            inv.command(&["-T"]).display(),
            "nginx -p /tmp/t1 -c /tmp/t1/nginx.conf -T"
        );
        assert!(find_master(&rows, Some(Path::new("/nope.conf"))).is_none());
        assert!(find_master(&parse_ps("1 0 /sbin/init\n"), None).is_none());
    }
}
