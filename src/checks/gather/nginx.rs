//! nginx's observations: the master and its -c/-p, `nginx -t`, `nginx -T` parsed, when
//! the configuration was last loaded, and the error log's recent upstream failures.

use std::path::{Path, PathBuf};

use super::{DiagnoseOptions, run, run_split};
use crate::checks::obs::{ErrorLogObs, NginxObs, ReloadObs};
use crate::nginx::error_log::summarize;
use crate::nginx::process::{ProcessRow, find_master};
use crate::nginx::{NginxConfig, NginxInvocation, odoo_sites, select_site};
use crate::target::{Command, Target};

/// The packaged default error log when the configuration names none.
pub const DEFAULT_ERROR_LOG: &str = "/var/log/nginx/error.log";
/// How much of the error log's end is read.
const ERROR_LOG_TAIL_BYTES: &str = "1048576";

/// The invocation to use: the running master's own, with the operator's overrides.
pub fn invocation(rows: &[ProcessRow], options: &DiagnoseOptions) -> (NginxInvocation, bool) {
    let master = find_master(rows, options.nginx_conf.as_deref());
    let running = master.is_some();
    let mut inv = master.unwrap_or_default();
    if let Some(b) = &options.nginx_binary {
        inv.binary = b.clone();
    }
    if options.nginx_conf.is_some() {
        inv.conf = options.nginx_conf.clone();
    }
    if options.nginx_prefix.is_some() {
        inv.prefix = options.nginx_prefix.clone();
    }
    (inv, running)
}

pub async fn gather(target: &Target, rows: &[ProcessRow], options: &DiagnoseOptions) -> NginxObs {
    let (invocation, running) = invocation(rows, options);
    let mut obs = NginxObs {
        invocation: invocation.clone(),
        running,
        ps_command: "ps -eo pid=,ppid=,args=".into(),
        domain: options.domain.clone(),
        ..Default::default()
    };
    let (test_cmd, dump_cmd) = (invocation.command(&["-t"]), invocation.command(&["-T"]));
    let (test, (dump, dump_stdout, _)) =
        tokio::join!(run(target, &test_cmd), run_split(target, &dump_cmd));
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
    let (reload, error_log) = tokio::join!(
        reload_times(target, &obs),
        error_log(target, &obs, options.error_log_minutes),
    );
    obs.reload = reload;
    obs.error_log = error_log;
    obs
}

const RELOAD_SCRIPT: &str = r#"
clk=$(getconf CLK_TCK); bt=$(awk '/^btime/ {print $2}' /proc/stat)
while [ $# -gt 0 ] && [ "$1" != "--" ]; do
  awk -v clk="$clk" -v bt="$bt" '{ printf "worker %.3f\n", bt + $22 / clk }' "/proc/$1/stat" 2>/dev/null
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
    let mut reload = ReloadObs {
        command: "stat config files; /proc/PID/stat of the workers".into(),
        ..Default::default()
    };
    for line in ran.output.lines() {
        if let Some(t) = line
            .strip_prefix("worker ")
            .and_then(|t| t.trim().parse::<f64>().ok())
        {
            reload.workers_started = Some(reload.workers_started.map_or(t, |w: f64| w.min(t)));
        } else if let Some(rest) = line.strip_prefix("file ")
            && let Some((t, path)) = rest.split_once(' ')
            && let Ok(t) = t.parse::<f64>()
        {
            reload.files.push((path.to_string(), t));
        }
    }
    Some(reload)
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
