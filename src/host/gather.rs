use color_eyre::eyre::{Result, WrapErr, bail};

use super::{HostFacts, parse_report};
use crate::target::{Command, Target};

/// Everything the Host pane shows, read from `/proc` and a few standard tools in one
/// round trip. Each section starts with a `@@name` marker so parsing never depends on
/// what the previous section printed.
const REPORT_SCRIPT: &str = r#"
echo @@hostname; cat /proc/sys/kernel/hostname
echo @@kernel; uname -r
echo @@os; cat /etc/os-release 2>/dev/null
echo @@cpus; nproc 2>/dev/null || getconf _NPROCESSORS_ONLN
echo @@uptime; cat /proc/uptime
echo @@loadavg; cat /proc/loadavg
echo @@meminfo; cat /proc/meminfo
echo @@df; df -Pk / /var/lib/docker 2>/dev/null
echo @@docker_socket; test -S /var/run/docker.sock && echo present
echo @@comm; cat /proc/[0-9]*/comm 2>/dev/null | sort -u
echo @@tcp; cat /proc/net/tcp 2>/dev/null
echo @@tcp6; cat /proc/net/tcp6 2>/dev/null
echo @@user; id -un; id -u; id -Gn
echo @@sudo; sudo -n true 2>/dev/null && echo yes
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
