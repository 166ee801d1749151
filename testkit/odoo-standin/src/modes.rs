//! Misbehaviour on demand, from the `STANDIN_MODE` environment variable: a comma-separated
//! list of
//!
//! - `refuse-start`: print a missing-Python-dependency traceback to stderr and exit 1
//!   before listening (an image built without a dependency);
//! - `crash-after:N`: serve for N seconds, then log a traceback and exit 1;
//! - `exit-137-after:N`: serve for N seconds, then exit with status 137 (as after SIGKILL);
//! - `hang`: accept connections and never answer;
//! - `unhealthy`: `/web/health` answers 500 `{"status": "fail", ...}` forever, everything
//!   else as usual (a release that never passes its health check);
//! - `slow:MS` or `slow:MS:PREFIX`: answer after MS milliseconds (only paths starting with
//!   PREFIX when given);
//! - `oom`: after start-up, allocate and touch memory in 16 MiB steps until the kernel
//!   kills the process (with a container memory limit: a real OOM kill).
//!
//! A port already in use needs no mode: the stand-in logs Odoo's error and exits 1.

use std::time::Duration;

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Modes {
    pub refuse_start: bool,
    pub crash_after: Option<Duration>,
    pub exit_137_after: Option<Duration>,
    pub hang: bool,
    pub unhealthy: bool,
    pub slow: Option<(Duration, Option<String>)>,
    pub oom: bool,
}

impl Modes {
    pub fn parse(spec: &str) -> Result<Modes, String> {
        let mut m = Modes::default();
        for item in spec.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            let mut parts = item.splitn(3, ':');
            let name = parts.next().unwrap_or("");
            let arg = parts.next();
            let secs = |a: Option<&str>| -> Result<Duration, String> {
                a.and_then(|s| s.parse::<u64>().ok())
                    .map(Duration::from_secs)
                    .ok_or_else(|| format!("STANDIN_MODE {item:?}: expected {name}:SECONDS"))
            };
            match name {
                "refuse-start" => m.refuse_start = true,
                "crash-after" => m.crash_after = Some(secs(arg)?),
                "exit-137-after" => m.exit_137_after = Some(secs(arg)?),
                "hang" => m.hang = true,
                "unhealthy" => m.unhealthy = true,
                "oom" => m.oom = true,
                "slow" => {
                    let ms = arg.and_then(|s| s.parse::<u64>().ok()).ok_or_else(|| {
                        format!("STANDIN_MODE {item:?}: expected slow:MS[:PATH_PREFIX]")
                    })?;
                    m.slow = Some((Duration::from_millis(ms), parts.next().map(str::to_string)));
                }
                _ => return Err(format!("STANDIN_MODE: unknown mode {item:?}")),
            }
        }
        Ok(m)
    }

    /// How long to wait before answering a request for `path`.
    pub fn delay_for(&self, path: &str) -> Option<Duration> {
        match &self.slow {
            Some((d, None)) => Some(*d),
            Some((d, Some(prefix))) if path.starts_with(prefix.as_str()) => Some(*d),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_lists() {
        let m = Modes::parse("slow:250:/web/login, crash-after:30, unhealthy").unwrap();
        assert!(m.unhealthy);
        assert_eq!(m.crash_after, Some(Duration::from_secs(30)));
        assert_eq!(m.delay_for("/web/login"), Some(Duration::from_millis(250)));
        assert_eq!(m.delay_for("/web/health"), None);
        assert_eq!(Modes::parse("").unwrap(), Modes::default());
        assert!(Modes::parse("crash-after").is_err());
        assert!(Modes::parse("explode").is_err());
    }
}
