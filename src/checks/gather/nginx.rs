//! nginx's observations: the master and its -c/-p, `nginx -t`, `nginx -T` parsed, when
//! the configuration was last loaded, and the error log's recent upstream failures.

use std::path::{Path, PathBuf};

use super::{DiagnoseOptions, run, run_split};
use crate::checks::obs::{ErrorLogObs, NginxObs, Ran, ReloadObs};
use crate::host::processes::{Processes, SHOWN_COMMAND};
use crate::nginx::error_log::summarize;
use crate::nginx::process::{DEFAULT_BINARY, find_master};
use crate::nginx::{Directive, NginxConfig, NginxInvocation, OdooSite, odoo_sites, select_site};
use crate::target::{Command, Target};

/// The packaged default error log when the configuration names none.
pub const DEFAULT_ERROR_LOG: &str = "/var/log/nginx/error.log";
/// The packaged default access log when the configuration names none.
pub const DEFAULT_ACCESS_LOG: &str = "/var/log/nginx/access.log";
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
#[derive(Clone)]
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
        limited_view: procs.limited.clone(),
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
        Some(p) => log_file(&p, prefix),
        None => Some(match prefix {
            Some(pre) => pre.join("logs/error.log"),
            None => PathBuf::from(DEFAULT_ERROR_LOG),
        }),
    }
}

/// A log directive's file, relative to the prefix; `None` for what is not a file.
fn log_file(named: &str, prefix: Option<&Path>) -> Option<PathBuf> {
    if named == "stderr"
        || named == "off"
        || named.starts_with("syslog:")
        || named.starts_with("memory:")
    {
        return None;
    }
    if Path::new(named).is_absolute() {
        return Some(PathBuf::from(named));
    }
    Some(prefix.unwrap_or(Path::new("/usr/share/nginx")).join(named))
}

/// Every error log the Odoo site's upstream failures can land in: the main one, and the
/// site's own `error_log` (server or location level), else the http level's. A server
/// with its own `error_log` logs its 502s there and nowhere else (the rendered site logs
/// to `odoo.error.log`), so reading only the main file misses them.
pub fn error_log_paths(
    config: Option<&NginxConfig>,
    site: Option<&OdooSite>,
    prefix: Option<&Path>,
) -> Vec<PathBuf> {
    let mut paths: Vec<PathBuf> = error_log_path(config, prefix).into_iter().collect();
    let mut add = |d: &Directive| {
        if let Some(p) = d.arg(0).and_then(|a| log_file(a, prefix))
            && !paths.contains(&p)
        {
            paths.push(p);
        }
    };
    let (Some(config), Some(site)) = (config, site) else {
        return paths;
    };
    let http = config.http();
    let server = http
        .iter()
        .find(|d| d.name == "server" && d.file == site.file && d.line == site.line);
    let own: Vec<&Directive> = server
        .map(|s| nested(s.children(), "error_log"))
        .unwrap_or_default();
    let server_level = server.is_some_and(|s| s.children().iter().any(|d| d.name == "error_log"));
    if !server_level {
        for d in http.iter().filter(|d| d.name == "error_log") {
            add(d);
        }
    }
    for d in own {
        add(d);
    }
    paths
}

/// Every access log the Odoo site's requests are written to: the site's own
/// `access_log` (server or location level), else the http level's, else nginx's
/// compiled-in default. A 502 in the rendered site shows in `odoo.access.log` only.
pub fn access_log_paths(
    config: Option<&NginxConfig>,
    site: Option<&OdooSite>,
    prefix: Option<&Path>,
) -> Vec<PathBuf> {
    let default = || match prefix {
        Some(pre) => pre.join("logs/access.log"),
        None => PathBuf::from(DEFAULT_ACCESS_LOG),
    };
    let Some(config) = config else {
        return vec![default()];
    };
    let http = config.http();
    let server = site.and_then(|site| {
        http.iter()
            .find(|d| d.name == "server" && d.file == site.file && d.line == site.line)
    });
    let own: Vec<&Directive> = server
        .map(|s| nested(s.children(), "access_log"))
        .unwrap_or_default();
    let server_level = server.is_some_and(|s| s.children().iter().any(|d| d.name == "access_log"));
    let mut named: Vec<&Directive> = Vec::new();
    if !server_level {
        named.extend(http.iter().filter(|d| d.name == "access_log"));
    }
    let inherits_default = !server_level && named.is_empty();
    named.extend(own);
    let mut paths = Vec::new();
    if inherits_default {
        paths.push(default());
    }
    for d in named {
        if let Some(p) = d.arg(0).and_then(|a| log_file(a, prefix))
            && !paths.contains(&p)
        {
            paths.push(p);
        }
    }
    paths
}

/// Directives named `name` in `children` and in the blocks nested in them.
fn nested<'a>(children: &'a [Directive], name: &str) -> Vec<&'a Directive> {
    let mut out = Vec::new();
    for d in children {
        if d.name == name {
            out.push(d);
        }
        out.extend(nested(d.children(), name));
    }
    out
}

/// Reads the error logs in one round trip. The running configuration was loaded when
/// the current workers started (the last start or reload); lines before that came from a
/// configuration that is no longer loaded, so the window starts there when it is later
/// than `minutes` ago. Times are formatted by the target's `date`, in its local time,
/// as nginx writes them. The boot time is taken from the clock to the nanosecond: with
/// whole seconds it is up to 1 s early, and the load time then falls in the second of
/// lines the old configuration wrote just before a reload.
const ERROR_LOG_SCRIPT: &str = r#"
minutes=$1; bytes=$2; shift 2
echo "window $(date -d "-$minutes min" '+%Y/%m/%d %H:%M:%S')"
ticks=
while [ $# -gt 0 ] && [ "$1" != "--" ]; do
  t=$(cut -d' ' -f22 "/proc/$1/stat" 2>/dev/null) && ticks="$ticks $t"
  shift
done
[ $# -gt 0 ] && shift
if [ -n "$ticks" ]; then
  start=$(for t in $ticks; do echo "$t"; done | awk -v up="$(cut -d' ' -f1 /proc/uptime)" -v now="$(date +%s.%N)" -v clk="$(getconf CLK_TCK)" 'NF { t = $1 / clk; if (min == "" || t < min) min = t } END { if (min != "") printf "%d\n", now - up + min }')
  [ -n "$start" ] && echo "loaded $(date -d "@$start" '+%Y/%m/%d %H:%M:%S')"
fi
for f in "$@"; do
  echo "@@log $f"
  if tail -c "$bytes" -- "$f" 2>&1; then echo; else echo "@@failed"; fi
done
true
"#;

/// The script's output: the window's start, the load time, and each file's text or error.
#[derive(Debug, Default, PartialEq)]
pub struct ErrorLogRead {
    pub window: Option<String>,
    pub loaded: Option<String>,
    /// (path, text or error)
    pub files: Vec<(String, Result<String, String>)>,
}

/// Parse [`ERROR_LOG_SCRIPT`]'s output (pure, for tests).
pub fn parse_error_log_read(stdout: &str) -> ErrorLogRead {
    let mut read = ErrorLogRead::default();
    let mut current: Option<(String, String)> = None;
    let finish = |cur: Option<(String, String)>,
                  files: &mut Vec<(String, Result<String, String>)>| {
        if let Some((path, text)) = cur {
            match text.strip_suffix("@@failed\n") {
                Some(err) => files.push((path, Err(err.trim().to_string()))),
                None => files.push((path, Ok(text))),
            }
        }
    };
    for line in stdout.split_inclusive('\n') {
        if let Some(path) = line.strip_prefix("@@log ") {
            finish(current.take(), &mut read.files);
            current = Some((path.trim_end_matches('\n').to_string(), String::new()));
            continue;
        }
        match &mut current {
            Some((_, text)) => text.push_str(line),
            None => {
                let line = line.trim_end();
                if let Some(w) = line.strip_prefix("window ") {
                    read.window = Some(w.to_string());
                } else if let Some(l) = line.strip_prefix("loaded ") {
                    read.loaded = Some(l.to_string());
                }
            }
        }
    }
    finish(current, &mut read.files);
    read
}

async fn error_log(target: &Target, obs: &NginxObs, minutes: u32) -> Option<ErrorLogObs> {
    let paths = error_log_paths(
        obs.config.as_ref(),
        obs.site.as_ref(),
        obs.invocation.prefix.as_deref(),
    );
    if paths.is_empty() {
        return None;
    }
    let mut cmd = Command::script(ERROR_LOG_SCRIPT)
        .arg(minutes.to_string())
        .arg(ERROR_LOG_TAIL_BYTES);
    for pid in &obs.invocation.worker_pids {
        cmd = cmd.arg(pid.to_string());
    }
    cmd = cmd.arg("--");
    for p in &paths {
        cmd = cmd.arg(p.to_string_lossy());
    }
    let shown: Vec<String> = paths.iter().map(|p| p.display().to_string()).collect();
    let (_, stdout, stderr) = run_split(target, &cmd).await;
    let mut out = ErrorLogObs {
        path: shown.join(", "),
        files: shown.clone(),
        command: format!("tail -c {ERROR_LOG_TAIL_BYTES} {}", shown.join(" ")),
        minutes,
        ..Default::default()
    };
    let read = parse_error_log_read(&stdout);
    let Some(window) = read.window else {
        out.error = Some(stderr.trim().to_string());
        return Some(out);
    };
    // The later of the two: the last `minutes`, and the running configuration's load.
    let since = match &read.loaded {
        Some(l) if *l > window => l.clone(),
        _ => window,
    };
    let mut text = String::new();
    for (path, got) in read.files {
        match got {
            Ok(t) => {
                text.push_str(&t);
                if !t.ends_with('\n') {
                    text.push('\n');
                }
            }
            Err(e) => out.unreadable.push(format!("{path}: {e}")),
        }
    }
    if out.unreadable.len() == out.files.len() {
        out.error = Some(out.unreadable.join("; "));
        return Some(out);
    }
    out.summary = summarize(&text, Some(since.as_str()));
    out.loaded_at = read.loaded;
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
    fn the_sites_own_access_log_replaces_the_inherited_one() {
        let dump = "# configuration file /t/nginx.conf:\nhttp {\n    access_log /var/log/nginx/access.log;\n    include /t/site.conf;\n}\n\n# configuration file /t/site.conf:\nserver {\n    listen 80;\n    access_log /var/log/nginx/odoo.access.log;\n    location / {\n        proxy_pass http://127.0.0.1:8069;\n    }\n    location /web/static/ {\n        proxy_pass http://127.0.0.1:8069;\n        access_log off;\n    }\n}\nserver {\n    listen 81;\n    location / {\n        proxy_pass http://127.0.0.1:9000;\n        access_log logs/nine.log combined;\n    }\n}\n";
        let c = NginxConfig::parse_dump(dump).unwrap();
        let sites = odoo_sites(&c);
        let odoo = sites.iter().find(|s| s.listens[0].port == 80).unwrap();
        // nginx writes the server's requests to its own file only, not the http level's.
        assert_eq!(
            access_log_paths(Some(&c), Some(odoo), None),
            [PathBuf::from("/var/log/nginx/odoo.access.log")]
        );
        let other = sites.iter().find(|s| s.listens[0].port == 81).unwrap();
        assert_eq!(
            access_log_paths(Some(&c), Some(other), Some(Path::new("/p"))),
            [
                PathBuf::from("/var/log/nginx/access.log"),
                PathBuf::from("/p/logs/nine.log")
            ]
        );
        // No access_log anywhere: the compiled-in default under the prefix.
        let bare = NginxConfig::parse_dump(
            "# configuration file /t/nginx.conf:\nhttp {\n    server {\n        listen 80;\n        location / {\n            proxy_pass http://127.0.0.1:8069;\n        }\n    }\n}\n",
        )
        .unwrap();
        let site = odoo_sites(&bare).into_iter().next();
        assert_eq!(
            access_log_paths(Some(&bare), site.as_ref(), Some(Path::new("/p"))),
            [PathBuf::from("/p/logs/access.log")]
        );
    }

    #[test]
    fn the_sites_own_error_log_is_read_too() {
        let dump = "# configuration file /t/nginx.conf:\nerror_log /t/error.log;\nhttp {\n    error_log /t/http.log;\n    include /t/site.conf;\n}\n\n# configuration file /t/site.conf:\nserver {\n    listen 80;\n    error_log /var/log/nginx/odoo.error.log;\n    location / {\n        proxy_pass http://127.0.0.1:8069;\n        error_log logs/root.log;\n    }\n}\nserver {\n    listen 81;\n    location / {\n        proxy_pass http://127.0.0.1:9000;\n    }\n}\n";
        let c = NginxConfig::parse_dump(dump).unwrap();
        let sites = odoo_sites(&c);
        let odoo = sites.iter().find(|s| s.listens[0].port == 80).unwrap();
        assert_eq!(
            error_log_paths(Some(&c), Some(odoo), Some(Path::new("/p"))),
            [
                PathBuf::from("/t/error.log"),
                PathBuf::from("/var/log/nginx/odoo.error.log"),
                PathBuf::from("/p/logs/root.log"),
            ]
        );
        // A server without its own inherits the http level's.
        let other = sites.iter().find(|s| s.listens[0].port == 81).unwrap();
        assert_eq!(
            error_log_paths(Some(&c), Some(other), None),
            [PathBuf::from("/t/error.log"), PathBuf::from("/t/http.log")]
        );
    }

    #[test]
    fn error_log_read_is_split_per_file() {
        let read = parse_error_log_read(
            "window 2026/11/30 12:00:00\nloaded 2026/11/30 12:10:00\n@@log /a.log\n2026/11/30 12:11:00 [error] x\n\n@@log /b.log\ntail: cannot open '/b.log' for reading: Permission denied\n@@failed\n",
        );
        assert_eq!(read.window.as_deref(), Some("2026/11/30 12:00:00"));
        assert_eq!(read.loaded.as_deref(), Some("2026/11/30 12:10:00"));
        assert_eq!(read.files.len(), 2);
        assert_eq!(
            read.files[0].1.as_deref().unwrap().trim(),
            "2026/11/30 12:11:00 [error] x"
        );
        assert!(
            read.files[1]
                .1
                .as_ref()
                .unwrap_err()
                .contains("Permission denied")
        );
    }

    #[test]
    fn main_error_log_paths() {
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
