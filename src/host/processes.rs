//! Which processes run on a host, read from what an unprivileged user cannot forge.
//!
//! A process title (`ps`'s `args`, `/proc/PID/cmdline`) is written by the process itself:
//! any local user can start `sleep` titled `nginx: master process /tmp/x/nginx`. So who a
//! process *is* comes from the kernel: the listening sockets it owns (`/proc/net/tcp{,6}`
//! inodes matched against `/proc/PID/fd` links), the program it runs (`/proc/PID/exe`),
//! the user it runs as, and who owns that program and every directory above it (whoever
//! can write one of them chooses what runs next time). Titles are kept only to describe a
//! process and, for a process already verified this way, to read its `-c`/`-p`.
//!
//! One shell script through the [`Target`] prints all of it: over SSH a diagnosis pays
//! one round trip for the whole process picture. Parsing is pure and tested on text.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::target::{Command, Target};

/// `ps` for every process (pid, parent, effective uid, title); the listening sockets; the
/// socket links of every fd; then, for the processes that own a listening socket or whose
/// title mentions nginx or odoo (so a forged title can be named and refused):
/// the program (`/proc/PID/exe`, ` (deleted)` stripped: after a package upgrade the file
/// on disk is what would be executed), `stat` of that program and each directory above
/// it, and the exact argv. A program path holding a newline is skipped (no real binary
/// has one, and it could forge lines of this report); argv's newlines become spaces.
const SCRIPT: &str = r#"
nl='
'
echo "@@uid $(id -u)"
ps_out=$(ps -eo pid=,ppid=,uid=,args= 2>/dev/null)
tcp=$(cat /proc/net/tcp /proc/net/tcp6 2>/dev/null)
fds=$(ls -l /proc/[0-9]*/fd 2>/dev/null | grep -E '^/proc/|socket:\[')
echo @@ps; printf '%s\n' "$ps_out"
echo @@tcp; printf '%s\n' "$tcp"
echo @@fd; printf '%s\n' "$fds"
pids=$( {
  printf '%s\n' "$tcp" | awk '$4 == "0A" { print "L", $10 }'
  printf '%s\n' "$fds" | awk '/^\/proc\// { split($0, a, "/"); print "P", a[3]; next }
    { i = index($0, "socket:["); if (i) { s = substr($0, i + 8); sub(/\].*/, "", s); print "S", s } }'
  printf '%s\n' "$ps_out" | awk 'tolower($0) ~ /nginx|odoo/ { print "T", $1 }'
} | awk '$1 == "L" { l[$2] = 1; next } $1 == "P" { p = $2; next }
         $1 == "S" { if ($2 in l) print p; next } $1 == "T" { print $2 }' | sort -un)
echo @@exe
for p in $pids; do
  exe=$(readlink "/proc/$p/exe" 2>/dev/null) || continue
  exe=${exe% (deleted)}
  case $exe in *"$nl"*|'') continue ;; esac
  printf 'exe %s %s\n' "$p" "$exe"
  set --; d=$exe
  while [ -n "$d" ]; do set -- "$@" "$d"; d=${d%/*}; done
  stat -c "stat $p %u %a %n" -- "$@" / 2>/dev/null
  printf 'argv %s ' "$p"; tr '\000\n' '\037 ' < "/proc/$p/cmdline" 2>/dev/null; echo
done
echo @@path
p=$(command -v nginx 2>/dev/null) && readlink -f -- "$p"
echo @@systemd
if command -v systemctl >/dev/null 2>&1; then
  systemctl show -p Id -p MainPID nginx.service 2>/dev/null
fi
echo @@end
"#;

/// What the snapshot ran, for evidence.
pub const SHOWN_COMMAND: &str = "ps -eo pid=,ppid=,uid=,args=; /proc/net/tcp{,6} inodes against /proc/PID/fd; readlink /proc/PID/exe; stat EXE and its directories";

/// The unit whose MainPID is asked for (Debian's and Ubuntu's package name it so).
pub const NGINX_UNIT: &str = "nginx.service";

/// One process as the kernel describes it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Process {
    pub pid: u32,
    pub ppid: u32,
    /// Effective uid.
    pub uid: u32,
    /// The title (`ps` args): written by the process itself, for display only.
    pub title: String,
    /// `/proc/PID/exe`, when it was read (selected processes only).
    pub exe: Option<PathBuf>,
    /// Who owns the program and its directories, and their modes, from `/` down.
    pub exe_chain: Vec<PathOwner>,
    /// The exact argv (selected processes only).
    pub argv: Vec<String>,
    /// TCP ports it listens on (host network namespace).
    pub listen_ports: BTreeSet<u16>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PathOwner {
    pub path: PathBuf,
    pub uid: u32,
    pub mode: u32,
}

/// The host's processes and their listening sockets at one moment.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Processes {
    pub by_pid: BTreeMap<u32, Process>,
    /// `systemctl show nginx.service`'s MainPID, when systemd runs it.
    pub nginx_unit_main_pid: Option<u32>,
    /// The file a plain `nginx` runs through this target's `PATH` (the diagnosis's first
    /// `nginx -t` runs before the snapshot is read, and counts if it ran the master's program).
    pub path_nginx: Option<PathBuf>,
    /// The snapshot could not be taken (the script's error).
    pub error: Option<String>,
    /// Who read `/proc`.
    pub login_uid: Option<u32>,
    /// Set when that was not root: what could not be seen.
    pub limited: Option<String>,
}

/// Why a program may not be executed as root.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Untrusted {
    /// `/proc/PID/exe` could not be read (another user's process seen by a non-root login).
    Unknown,
    /// The program or a directory above it is not root's, or others may write to it.
    Writable(PathBuf),
}

impl std::fmt::Display for Untrusted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Untrusted::Unknown => write!(f, "its program could not be read (/proc/PID/exe)"),
            Untrusted::Writable(p) => write!(
                f,
                "{} is not owned by root or is writable by group/others",
                p.display()
            ),
        }
    }
}

impl Process {
    /// The program's file name (`nginx`, `python3.11`, `postgres`); `None` when unread.
    pub fn exe_name(&self) -> Option<&str> {
        self.exe.as_deref()?.file_name()?.to_str()
    }

    /// Whether the program may be executed by root: owned by root and not writable by
    /// group or others, and so is every directory above it (a writable directory lets its
    /// owner swap the file). The check is on the path on disk, which is what would run.
    pub fn exe_trusted(&self) -> Result<&Path, Untrusted> {
        let exe = self.exe.as_deref().ok_or(Untrusted::Unknown)?;
        // The chain must cover the program and every ancestor, or something went unread.
        let expected = exe.ancestors().count();
        if self.exe_chain.len() < expected {
            return Err(Untrusted::Unknown);
        }
        for link in &self.exe_chain {
            if link.uid != 0 || link.mode & 0o022 != 0 {
                return Err(Untrusted::Writable(link.path.clone()));
            }
        }
        Ok(exe)
    }

    /// `title` shortened for a sentence.
    pub fn short_title(&self) -> String {
        shorten(&self.title)
    }

    /// A container's processes show on the host too, under their runtime's shim; the paths
    /// on their command lines are the container's. (Read from parents' titles: forging
    /// one only makes a process be ignored, never trusted.)
    pub fn in_container(&self, all: &Processes) -> bool {
        let mut ppid = self.ppid;
        for _ in 0..64 {
            let Some(parent) = all.by_pid.get(&ppid) else {
                return false;
            };
            let program = parent.title.split_whitespace().next().unwrap_or("");
            let name = program.rsplit('/').next().unwrap_or(program);
            if name.starts_with("containerd-shim") || name == "conmon" {
                return true;
            }
            if parent.ppid == parent.pid || parent.ppid == 0 {
                return false;
            }
            ppid = parent.ppid;
        }
        false
    }
}

impl Processes {
    pub fn get(&self, pid: u32) -> Option<&Process> {
        self.by_pid.get(&pid)
    }

    /// Processes owning a listening socket on `port`, parents before children.
    pub fn listening_on(&self, port: u16) -> Vec<&Process> {
        self.by_pid
            .values()
            .filter(|p| p.listen_ports.contains(&port))
            .collect()
    }

    /// Of the processes sharing a listening socket (a master and the workers it forked),
    /// the one whose parent does not share it.
    pub fn socket_master<'a>(&'a self, owners: &[&'a Process]) -> Option<&'a Process> {
        owners
            .iter()
            .find(|p| !owners.iter().any(|q| q.pid == p.ppid))
            .copied()
    }

    pub fn children_of(&self, pid: u32) -> impl Iterator<Item = &Process> {
        self.by_pid.values().filter(move |p| p.ppid == pid)
    }
}

/// Take the snapshot through the target. Another user's sockets and programs are only
/// visible to root: a login that is not root retries through `sudo -n` (never prompts),
/// and without it the snapshot says what it could not see.
pub async fn snapshot(target: &Target) -> Processes {
    let first = snapshot_with(target, Command::script(SCRIPT)).await;
    if first.error.is_some() || first.login_uid == Some(0) {
        return first;
    }
    let mut elevated = snapshot_with(target, Command::script(SCRIPT).sudo()).await;
    if elevated.error.is_none() && elevated.login_uid == Some(0) {
        return elevated;
    }
    elevated = first;
    elevated.limited = Some(format!(
        "the login (uid {}) is not root and `sudo -n` is not allowed: other users' processes, sockets and programs cannot be verified",
        elevated.login_uid.map_or("?".into(), |u| u.to_string())
    ));
    elevated
}

async fn snapshot_with(target: &Target, cmd: Command) -> Processes {
    match target.run(&cmd).await {
        Ok(out) => {
            let text = out.stdout_text();
            if !text.contains("@@end") {
                return Processes {
                    error: Some(format!(
                        "the process snapshot did not finish (exit {:?}): {}",
                        out.status,
                        out.stderr_text().trim()
                    )),
                    ..Default::default()
                };
            }
            parse(&text)
        }
        Err(e) => Processes {
            error: Some(format!("{e:#}")),
            ..Default::default()
        },
    }
}

/// Parse the snapshot script's output (pure, for tests).
pub fn parse(text: &str) -> Processes {
    let mut out = Processes::default();
    let mut section = "";
    // Listening inode -> port; then pid -> inodes it holds.
    let mut listening: BTreeMap<u64, u16> = BTreeMap::new();
    let mut holder: Option<u32> = None;
    for line in text.lines() {
        if let Some(uid) = line.strip_prefix("@@uid ") {
            out.login_uid = uid.trim().parse().ok();
            continue;
        }
        if let Some(name) = line.strip_prefix("@@") {
            section = match name {
                "ps" => "ps",
                "tcp" => "tcp",
                "fd" => "fd",
                "exe" => "exe",
                "systemd" => "systemd",
                "path" => "path",
                _ => "",
            };
            continue;
        }
        match section {
            "ps" => {
                let mut it = line.split_whitespace();
                let (Some(pid), Some(ppid), Some(uid)) = (it.next(), it.next(), it.next()) else {
                    continue;
                };
                let (Ok(pid), Ok(ppid), Ok(uid)) = (pid.parse(), ppid.parse(), uid.parse()) else {
                    continue;
                };
                let title = it.collect::<Vec<_>>().join(" ");
                out.by_pid.insert(
                    pid,
                    Process {
                        pid,
                        ppid,
                        uid,
                        title,
                        ..Default::default()
                    },
                );
            }
            "tcp" => {
                let cols: Vec<&str> = line.split_whitespace().collect();
                if cols.len() < 10 || cols[3] != "0A" {
                    continue;
                }
                let port = cols[1]
                    .rsplit_once(':')
                    .and_then(|(_, p)| u16::from_str_radix(p, 16).ok());
                if let (Some(port), Ok(inode)) = (port, cols[9].parse::<u64>())
                    && inode != 0
                {
                    listening.insert(inode, port);
                }
            }
            "fd" => {
                if let Some(rest) = line.strip_prefix("/proc/") {
                    holder = rest.split('/').next().and_then(|p| p.parse().ok());
                    continue;
                }
                // `6 -> socket:[4242]`: the link's whole target, so a file someone named
                // `/tmp/socket:[4242]` (linked as `/tmp/socket:[4242]`) is no socket.
                let inode = line
                    .split_once(" -> ")
                    .and_then(|(_, target)| target.strip_prefix("socket:["))
                    .and_then(|s| s.strip_suffix(']'))
                    .and_then(|s| s.parse::<u64>().ok());
                if let (Some(pid), Some(port)) =
                    (holder, inode.and_then(|i| listening.get(&i).copied()))
                    && let Some(p) = out.by_pid.get_mut(&pid)
                {
                    p.listen_ports.insert(port);
                }
            }
            "exe" => parse_exe_line(&mut out, line),
            "path" if !line.is_empty() => out.path_nginx = Some(PathBuf::from(line)),
            "systemd" => {
                if let Some(pid) = line.strip_prefix("MainPID=") {
                    out.nginx_unit_main_pid = pid.trim().parse().ok().filter(|p| *p != 0);
                }
            }
            _ => {}
        }
    }
    out
}

fn parse_exe_line(out: &mut Processes, line: &str) {
    let Some((tag, rest)) = line.split_once(' ') else {
        return;
    };
    let Some((pid, rest)) = rest.split_once(' ') else {
        // `argv PID ` with an empty command line (a kernel thread): nothing to record.
        return;
    };
    let Some(p) = pid
        .parse()
        .ok()
        .and_then(|pid: u32| out.by_pid.get_mut(&pid))
    else {
        return;
    };
    match tag {
        "exe" => p.exe = Some(PathBuf::from(rest)),
        "stat" => {
            let mut it = rest.splitn(3, ' ');
            let (Some(uid), Some(mode), Some(path)) = (it.next(), it.next(), it.next()) else {
                return;
            };
            // Only the program and its own ancestors count (a line for another path
            // cannot be slipped in: it would have to match this process's exe).
            let path = PathBuf::from(path);
            let ok = p
                .exe
                .as_deref()
                .is_some_and(|exe| exe.ancestors().any(|a| a == path));
            if let (true, Ok(uid), Ok(mode)) = (ok, uid.parse(), u32::from_str_radix(mode, 8)) {
                p.exe_chain.push(PathOwner { path, uid, mode });
            }
        }
        "argv" => {
            p.argv = rest
                .split('\u{1f}')
                .filter(|a| !a.is_empty())
                .map(str::to_string)
                .collect();
        }
        _ => {}
    }
}

/// A command line shortened for a sentence: its first 100 characters.
pub fn shorten(title: &str) -> String {
    let t = title.trim();
    if t.chars().count() > 100 {
        format!("{}…", t.chars().take(100).collect::<String>())
    } else {
        t.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SNAPSHOT: &str = "@@uid 0
@@ps
    1     0     0 /sbin/init
  812     1     0 nginx: master process /usr/sbin/nginx -g daemon on; master_process on;
  813   812    33 nginx: worker process
  900     1 65534 nginx: master process /tmp/x/nginx -c /etc/nginx/nginx.conf
  950     1   106 postgres: 15/main: odoo odoo 127.0.0.1(5432) idle
@@tcp
  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 00000000:0050 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 4242 1 0000000000000000 100 0 0 10 0
   1: 0100007F:1F95 0100007F:9C40 01 00000000:00000000 00:00000000 00000000     0        0 4343 1 0000000000000000 100 0 0 10 0
@@fd
/proc/812/fd:
lrwx------ 1 root root 64 Nov 30 12:00 6 -> socket:[4242]
/proc/813/fd:
lrwx------ 1 root root 64 Nov 30 12:00 6 -> socket:[4242]
lrwx------ 1 root root 64 Nov 30 12:00 7 -> socket:[4343]
/proc/900/fd:
lr-x------ 1 root root 64 Nov 30 12:00 3 -> /tmp/socket:[4242]
@@exe
exe 812 /usr/sbin/nginx
stat 812 0 755 /usr/sbin/nginx
stat 812 0 755 /usr/sbin
stat 812 0 755 /usr
stat 812 0 755 /
stat 812 0 1777 /tmp
argv 812 nginx: master process /usr/sbin/nginx -g daemon on; master_process on;
exe 900 /usr/bin/sleep
stat 900 0 755 /usr/bin/sleep
argv 900 nginx: master process /tmp/x/nginx\x1f-c
@@path
/usr/sbin/nginx
@@systemd
Id=nginx.service
MainPID=812
@@end
";

    #[test]
    fn sockets_programs_and_owners() {
        let ps = parse(&SNAPSHOT.replace("\\x1f", "\u{1f}"));
        let master = ps.get(812).unwrap();
        assert_eq!(master.listen_ports, BTreeSet::from([80]));
        assert_eq!(master.exe_name(), Some("nginx"));
        assert_eq!(master.exe_trusted().unwrap(), Path::new("/usr/sbin/nginx"));
        // A stat line for a path that is not this program's (or its directories) is ignored.
        assert_eq!(master.exe_chain.len(), 4);
        // The connected socket (state 01) is no listener.
        assert_eq!(ps.get(813).unwrap().listen_ports, BTreeSet::from([80]));
        assert_eq!(ps.socket_master(&ps.listening_on(80)).unwrap().pid, 812);
        let forged = ps.get(900).unwrap();
        assert!(forged.listen_ports.is_empty());
        assert_eq!(forged.exe_name(), Some("sleep"));
        assert_eq!(forged.exe_trusted(), Err(Untrusted::Unknown));
        assert_eq!(forged.argv, ["nginx: master process /tmp/x/nginx", "-c"]);
        assert_eq!(ps.nginx_unit_main_pid, Some(812));
        assert_eq!(ps.login_uid, Some(0));
        assert_eq!(ps.path_nginx.as_deref(), Some(Path::new("/usr/sbin/nginx")));
    }

    #[test]
    fn a_program_others_can_replace_is_not_trusted() {
        let p = Process {
            exe: Some("/opt/x/nginx".into()),
            exe_chain: vec![
                PathOwner {
                    path: "/opt/x/nginx".into(),
                    uid: 0,
                    mode: 0o755,
                },
                PathOwner {
                    path: "/opt/x".into(),
                    uid: 1000,
                    mode: 0o755,
                },
                PathOwner {
                    path: "/opt".into(),
                    uid: 0,
                    mode: 0o755,
                },
                PathOwner {
                    path: "/".into(),
                    uid: 0,
                    mode: 0o755,
                },
            ],
            ..Default::default()
        };
        assert_eq!(
            p.exe_trusted(),
            Err(Untrusted::Writable(PathBuf::from("/opt/x")))
        );
    }
}
