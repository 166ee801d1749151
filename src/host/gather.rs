use color_eyre::eyre::{Result, WrapErr, bail};

use super::{HostFacts, parse_report};
use crate::target::{Command, Target};

/// Everything the Host pane shows, read from `/proc` and a few standard tools in one
/// round trip. Each section starts with a `@@name` marker so parsing never depends on
/// what the previous section printed.
///
/// It runs every 10 s for as long as the console is open, so it costs what it must and
/// no more. The files (`/proc`'s, `/etc/os-release`, and every process' `stat`) are read
/// by one `grep -H ''`, which prints each line after its file's name: a shell loop that
/// `read` them cost three times the CPU (dash reads a byte per system call), and a `cat`
/// per file sixteen processes. A refresh starts `df`, `id`, that `grep` and, for a login
/// other than root, `sudo`. The files section comes last: a process may name itself
/// anything, newlines and `@@` included, and a line of its `stat` cut by such a name has
/// no file name before it, so the parser skips it (see [`super::parse::parse_report`]).
/// `printf` because dash's `echo` expands backslashes.
pub const REPORT_SCRIPT: &str = r#"
uid=
while read -r k v rest; do
  case $k in Uid:) uid=$v ;; Cpus_allowed_list:) cpus=$v; break ;; esac
done < /proc/self/status
echo @@cpus_allowed; printf '%s\n' "$cpus"
echo @@df; df -Pk / /var/lib/docker 2>/dev/null
echo @@docker_socket; test -S /var/run/docker.sock && echo present
echo @@id; id
echo @@sudo; if [ "$uid" = 0 ]; then echo yes; else sudo -n true 2>/dev/null && echo yes; fi
echo @@files
grep -H '' /proc/sys/kernel/hostname /proc/sys/kernel/osrelease /etc/os-release \
  /proc/uptime /proc/loadavg /proc/meminfo /proc/net/tcp /proc/net/tcp6 \
  /proc/[0-9]*/stat 2>/dev/null
echo @@end
"#;

/// Gather the host's facts: the script and the Docker API call go out together, so over
/// SSH a refresh costs the round trips of the slower of the two.
pub async fn gather(target: &Target) -> Result<HostFacts> {
    let script = Command::script(REPORT_SCRIPT);
    let (output, docker) = tokio::join!(target.run(&script), docker_info(target));
    let output = output.wrap_err("could not read the host's facts")?;
    if !output.stdout_text().contains("@@end") {
        bail!(
            "the host report stopped early (exit {:?}): {}",
            output.status,
            output.stderr_text().trim()
        );
    }
    let mut facts = parse_report(&output.stdout_text());
    match docker {
        Ok((version, root)) => {
            facts.docker.answers = true;
            facts.docker.version = Some(version);
            facts.docker.root_dir = Some(root);
        }
        Err(e) => facts.docker.error = Some(format!("{e:#}")),
    }
    Ok(facts)
}

async fn docker_info(target: &Target) -> Result<(String, String)> {
    let docker = target.docker().await?;
    let info = tokio::time::timeout(std::time::Duration::from_secs(5), docker.info())
        .await
        .wrap_err("Docker's socket did not answer within 5 s")??;
    Ok((
        info.server_version.unwrap_or_default(),
        info.docker_root_dir.unwrap_or_default(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The processes one refresh starts (`df`, `id`, `grep` as root), counted exactly: the script runs as the first
    /// process of a PID namespace of its own, so the PID a probe gets afterwards is one
    /// more than every process started before it. Needs root, as the test machines have.
    #[test]
    fn a_refresh_starts_at_most_three_processes() {
        let out = std::process::Command::new("unshare")
            .args(["--pid", "--fork", "sh", "-c"])
            .arg(format!(
                "sh -c '{}' odoo-ops >/dev/null; sh -c 'echo $$'",
                REPORT_SCRIPT.replace('\'', "'\\''")
            ))
            .output()
            .expect("unshare runs");
        assert!(out.status.success(), "{out:?}");
        let probe: u32 = String::from_utf8_lossy(&out.stdout).trim().parse().unwrap();
        // pid 1 the outer sh, 2 the report's sh, then its children, then the probe.
        let children = probe - 3;
        assert!(children <= 3, "one refresh started {children} processes");
    }

    /// The script's report read on this machine gives the facts the pane shows.
    #[test]
    fn the_report_reads_this_machine() {
        let out = std::process::Command::new("sh")
            .args(["-c", REPORT_SCRIPT, "odoo-ops"])
            .output()
            .unwrap();
        let facts = parse_report(&String::from_utf8_lossy(&out.stdout));
        let hostname = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap();
        assert_eq!(facts.hostname, hostname.trim());
        assert_eq!(
            facts.cpus as usize,
            std::thread::available_parallelism().unwrap().get()
        );
        assert!(facts.memory.total_kib > 0 && facts.uptime_secs > 0);
        assert!(!facts.kernel.is_empty() && facts.os != "unknown");
        let uid = unsafe { libc::geteuid() };
        assert_eq!(facts.user.is_root, uid == 0);
        assert!(!facts.user.name.is_empty());
        assert!(!facts.disks.is_empty());
    }
}
