//! nginx's observations: the master and its -c/-p, `nginx -t`, `nginx -T` parsed, when
//! the configuration was last loaded, and the error log's recent upstream failures.

use std::path::{Path, PathBuf};

use super::{DiagnoseOptions, run, run_split};
use crate::checks::obs::{ErrorLogObs, NginxObs, Ran, ReloadObs};
use crate::host::processes::{Processes, SHOWN_COMMAND};
use crate::nginx::error_log::summarize;
use crate::nginx::process::{DEFAULT_BINARY, find_master};
use crate::nginx::{NginxConfig, NginxInvocation, odoo_sites, select_site};
use crate::target::{Command, Target};

/// The packaged default error log when the configuration names none.
pub const DEFAULT_ERROR_LOG: &str = "/var/log/nginx/error.log";
/// How much of the error log's end is read.
const ERROR_LOG_TAIL_BYTES: &str = "1048576";

/// The invocation to use: the running master's own (found through its sockets and its
/// verified program, [`find_master`]), with the operator's overrides; whether a master
/// runs; and a sentence for each process refused as one.
pub fn invocation(
    procs: &Processes,
    options: &DiagnoseOptions,
) -> (NginxInvocation, bool, Vec<String>) {
    let search = find_master(procs, options.nginx_conf.as_deref());
    let running = search.master.is_some();
    let mut inv = search.master.unwrap_or_default();
    if let Some(b) = &options.nginx_binary {
        inv.binary = b.clone();
    }
    if options.nginx_conf.is_some() {
        inv.conf = options.nginx_conf.clone();
    }
    if options.nginx_prefix.is_some() {
        inv.prefix = options.nginx_prefix.clone();
    }
    (inv, running, search.notes)
}

/// `nginx -t` and `nginx -T` for one invocation: the first round of the nginx probe.
pub struct FirstRound {
    dump_command: Command,
    test: Ran,
    dump: Ran,
    dump_stdout: String,
}

/// Run the first round before `ps` has said how nginx is invoked, guessing the usual
/// case: a master started without `-c` (systemd, the packaged default), or the files the
/// options name. [`gather`] uses it only when the guess was right.
pub async fn first_round_early(target: &Target, options: &DiagnoseOptions) -> FirstRound {
    let (guess, _, _) = invocation(&Processes::default(), options);
    first_round(target, &guess).await
}

async fn first_round(target: &Target, invocation: &NginxInvocation) -> FirstRound {
    let (test_cmd, dump_command) = (invocation.command(&["-t"]), invocation.command(&["-T"]));
    let (test, (dump, dump_stdout, _)) =
        tokio::join!(run(target, &test_cmd), run_split(target, &dump_command));
    FirstRound {
        dump_command,
        test,
        dump,
        dump_stdout,
    }
}

/// Everything about nginx: its configuration, then its history (reload, error log).
pub async fn gather(
    target: &Target,
    procs: &Processes,
    options: &DiagnoseOptions,
    early: Option<FirstRound>,
) -> NginxObs {
    let mut obs = configuration(target, procs, options, early).await;
    history(target, &mut obs, options).await;
    obs
}

/// Which nginx runs and how, `nginx -t`, and `nginx -T` parsed: all the edge checks
/// need, so they can start before [`history`] is read.
pub async fn configuration(
    target: &Target,
    procs: &Processes,
    options: &DiagnoseOptions,
    early: Option<FirstRound>,
) -> NginxObs {
    let (invocation, running, refused) = invocation(procs, options);
    let mut obs = NginxObs {
        invocation: invocation.clone(),
        running,
        refused,
        ps_command: SHOWN_COMMAND.into(),
        domain: options.domain.clone(),
        ..Default::default()
    };
    // The early round ran `nginx` through PATH: it counts when PATH's nginx is the file
    // the verified master runs (the usual case), with the same -c/-p.
    let as_early = NginxInvocation {
        binary: DEFAULT_BINARY.into(),
        ..invocation.clone()
    };
    let same_program = procs.path_nginx.as_deref() == Some(Path::new(&invocation.binary));
    let round = match early {
        // Over SSH this saves a round trip after the process snapshot in the usual case.
        Some(round)
            if round.dump_command == invocation.command(&["-T"])
                || (same_program && round.dump_command == as_early.command(&["-T"])) =>
        {
            round
        }
        _ => first_round(target, &invocation).await,
    };
    let FirstRound {
        test,
        dump,
        dump_stdout,
        ..
    } = round;
    obs.test = Some(test);
    if dump.ok() {
        // nginx -T prints the test verdict on stderr and the files on stdout.
        match NginxConfig::parse_dump(&dump_stdout) {
            Ok(config) => {
                obs.sites = odoo_sites(&config);
                obs.site = select_site(&obs.sites, options.domain.as_deref());
                obs.config = Some(config);
            }
            Err(e) => obs.parse_error = Some(e.to_string()),
        }
    }
    obs.dump = Some(dump);
    obs
}

/// The host ports the site's upstream names (`/`'s, then the websocket's): what the Odoo
/// nginx actually reaches listens there ([`crate::odoo::locate`]). A name other than
/// `localhost` (a compose network's `odoo`) is not a host port and is left out.
pub fn upstream_ports(obs: &NginxObs) -> Vec<u16> {
    let Some(site) = &obs.site else {
        return Vec::new();
    };
    let mut ports = Vec::new();
    for path in ["/", "/websocket"] {
        let endpoints = site
            .route(path)
            .and_then(|l| l.proxy_pass.as_ref())
            .map(|p| p.endpoints.as_slice())
            .unwrap_or_default();
        for e in endpoints {
            let local = e.host == "localhost"
                || e.host
                    .trim_matches(['[', ']'])
                    .parse::<std::net::IpAddr>()
                    .is_ok();
            if local && !ports.contains(&e.port) {
                ports.push(e.port);
            }
        }
    }
    ports
}

/// When the running configuration was loaded against its files' times, and the error
/// log's recent upstream failures.
pub async fn history(target: &Target, obs: &mut NginxObs, options: &DiagnoseOptions) {
    let (reload, error_log) = tokio::join!(
        reload_times(target, obs),
        error_log(target, obs, options.error_log_minutes),
    );
    obs.reload = reload;
    obs.error_log = error_log;
}

/// Worker start times come from `/proc/PID/stat` (clock ticks since boot), put on the
/// wall clock with the boot time derived from `date` and `/proc/uptime` (10 ms precision;
/// `/proc/stat`'s btime is whole seconds, too coarse to compare with a file's mtime).
const RELOAD_SCRIPT: &str = r#"
echo "clock $(date +%s.%N) $(cut -d' ' -f1 /proc/uptime) $(getconf CLK_TCK)"
while [ $# -gt 0 ] && [ "$1" != "--" ]; do
  echo "worker $(cut -d' ' -f22 "/proc/$1/stat" 2>/dev/null)"
  shift
done
[ $# -gt 0 ] && shift
[ $# -gt 0 ] && stat -L -c 'file %.9Y %n' "$@" 2>/dev/null
true
"#;

async fn reload_times(target: &Target, obs: &NginxObs) -> Option<ReloadObs> {
    let config = obs.config.as_ref()?;
    if obs.invocation.worker_pids.is_empty() {
        return None;
    }
    let mut cmd = Command::script(RELOAD_SCRIPT);
    for pid in &obs.invocation.worker_pids {
        cmd = cmd.arg(pid.to_string());
    }
    cmd = cmd.arg("--");
    for f in &config.files {
        cmd = cmd.arg(f.path.to_string_lossy());
    }
    let ran = run(target, &cmd).await;
    Some(parse_reload(&ran.output))
}

/// Parse the reload script's output (pure, for tests).
pub fn parse_reload(output: &str) -> ReloadObs {
    let mut reload = ReloadObs {
        command: "stat -c '%.9Y %n' CONFIG_FILES; cut -d' ' -f22 /proc/WORKER/stat".into(),
        ..Default::default()
    };
    let mut boot = None;
    let mut ticks_per_sec = 100.0;
    for line in output.lines() {
        let words: Vec<&str> = line.split_whitespace().collect();
        match words.as_slice() {
            ["clock", now, uptime, clk] => {
                if let (Ok(n), Ok(u)) = (now.parse::<f64>(), uptime.parse::<f64>()) {
                    boot = Some(n - u);
                }
                ticks_per_sec = clk.parse().unwrap_or(100.0);
            }
            ["worker", ticks] => {
                if let (Some(b), Ok(t)) = (boot, ticks.parse::<f64>()) {
                    let started = b + t / ticks_per_sec;
                    reload.workers_started = Some(
                        reload
                            .workers_started
                            .map_or(started, |w: f64| w.min(started)),
                    );
                }
            }
            ["file", mtime, ..] => {
                if let (Ok(m), Some(path)) = (mtime.parse::<f64>(), line.splitn(3, ' ').nth(2)) {
                    reload.files.push((path.to_string(), m));
                }
            }
            _ => {}
        }
    }
    reload
}

/// The error log path: the main context's `error_log`, relative to the prefix.
pub fn error_log_path(config: Option<&NginxConfig>, prefix: Option<&Path>) -> Option<PathBuf> {
    let named = config
        .and_then(|c| c.main_directive("error_log"))
        .and_then(|d| d.arg(0).map(str::to_string));
    match named {
        Some(p) if p == "stderr" || p.starts_with("syslog:") || p.starts_with("memory:") => None,
        Some(p) if Path::new(&p).is_absolute() => Some(PathBuf::from(p)),
        Some(p) => Some(prefix.unwrap_or(Path::new("/usr/share/nginx")).join(p)),
        None => Some(match prefix {
            Some(pre) => pre.join("logs/error.log"),
            None => PathBuf::from(DEFAULT_ERROR_LOG),
        }),
    }
}

const ERROR_LOG_SCRIPT: &str = r#"
date -d "-$1 min" '+%Y/%m/%d %H:%M:%S'
echo @@log
tail -c "$2" "$3"
"#;

async fn error_log(target: &Target, obs: &NginxObs, minutes: u32) -> Option<ErrorLogObs> {
    let path = error_log_path(obs.config.as_ref(), obs.invocation.prefix.as_deref())?;
    let cmd = Command::script(ERROR_LOG_SCRIPT)
        .arg(minutes.to_string())
        .arg(ERROR_LOG_TAIL_BYTES)
        .arg(path.to_string_lossy());
    let (ran, stdout, stderr) = run_split(target, &cmd).await;
    let mut out = ErrorLogObs {
        path: path.display().to_string(),
        command: format!("tail -c {ERROR_LOG_TAIL_BYTES} {}", path.display()),
        minutes,
        ..Default::default()
    };
    let Some((since, log)) = stdout.split_once("@@log\n") else {
        out.error = Some(stderr.trim().to_string());
        return Some(out);
    };
    if !ran.ok() && log.is_empty() {
        out.error = Some(stderr.trim().to_string());
        return Some(out);
    }
    let since = since.trim().to_string();
    out.summary = summarize(log, (!since.is_empty()).then_some(since.as_str()));
    out.since = Some(since);
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reload_times_are_put_on_the_wall_clock() {
        let r = parse_reload(
            "clock 1000.50 100.25 100\nworker 5000\nworker 4000\nfile 950.123456789 /etc/nginx/nginx.conf\nfile 990.0 /etc/nginx/sites enabled/odoo\n",
        );
        // boot at 900.25; the oldest worker started 40 s later.
        assert_eq!(r.workers_started, Some(940.25));
        assert_eq!(
            r.files[0],
            ("/etc/nginx/nginx.conf".to_string(), 950.123456789)
        );
        assert_eq!(r.files[1].0, "/etc/nginx/sites enabled/odoo");
    }

    #[test]
    fn error_log_paths() {
        assert_eq!(
            error_log_path(None, None),
            Some(PathBuf::from(DEFAULT_ERROR_LOG))
        );
        assert_eq!(
            error_log_path(None, Some(Path::new("/t"))),
            Some(PathBuf::from("/t/logs/error.log"))
        );
        let c = NginxConfig::parse_dump("# configuration file /t/nginx.conf:\nerror_log stderr;\n")
            .unwrap();
        assert_eq!(error_log_path(Some(&c), None), None);
    }
}
