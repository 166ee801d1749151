//! nginx's error.log, classified by what each upstream failure means for Odoo.
//!
//! Lines look like
//! `2026/11/22 02:01:55 [error] 19690#19690: *41 connect() failed (111: Connection refused)
//! while connecting to upstream, client: ..., upstream: "http://127.0.0.1:8072/websocket", ...`.
//! Timestamps are compared as text: nginx's `YYYY/MM/DD HH:MM:SS` sorts chronologically.

use std::collections::BTreeSet;

use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum UpstreamFailure {
    /// Nothing listens at the upstream address: Odoo down or the wrong port.
    ConnectionRefused,
    /// Odoo did not answer in time: workers blocked or timeouts too short.
    TimedOut,
    /// Odoo closed the connection mid-answer: a worker was killed (memory or time limit).
    PrematurelyClosed,
    /// Every server of the upstream is marked failed.
    NoLiveUpstreams,
}

impl UpstreamFailure {
    pub fn meaning(self) -> &'static str {
        match self {
            Self::ConnectionRefused => "connection refused: upstream down or wrong port",
            Self::TimedOut => "timed out: workers blocked or timeouts too short",
            Self::PrematurelyClosed => "upstream prematurely closed: a worker was killed",
            Self::NoLiveUpstreams => "no live upstreams: every upstream server failed",
        }
    }

    fn classify(line: &str) -> Option<Self> {
        if line.contains("Connection refused") && line.contains("upstream") {
            Some(Self::ConnectionRefused)
        } else if line.contains("upstream timed out") {
            Some(Self::TimedOut)
        } else if line.contains("upstream prematurely closed") {
            Some(Self::PrematurelyClosed)
        } else if line.contains("no live upstreams") {
            Some(Self::NoLiveUpstreams)
        } else {
            None
        }
    }
}

/// One class of failure in the window looked at.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FailureCount {
    pub kind: UpstreamFailure,
    pub count: usize,
    /// `YYYY/MM/DD HH:MM:SS` as nginx wrote it.
    pub first: String,
    pub last: String,
    /// The upstream addresses these lines name (`http://127.0.0.1:8072/websocket` → `127.0.0.1:8072`).
    pub upstreams: Vec<String>,
    /// The most recent line, for evidence.
    pub sample: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ErrorLogSummary {
    /// Lines in the window (all levels).
    pub lines_seen: usize,
    pub failures: Vec<FailureCount>,
}

impl ErrorLogSummary {
    pub fn count(&self, kind: UpstreamFailure) -> usize {
        self.failures
            .iter()
            .find(|f| f.kind == kind)
            .map_or(0, |f| f.count)
    }
}

/// The `YYYY/MM/DD HH:MM:SS` prefix of a line, if it has one.
pub fn timestamp(line: &str) -> Option<&str> {
    let ts = line.get(..19)?;
    let b = ts.as_bytes();
    let shape = b[4] == b'/' && b[7] == b'/' && b[10] == b' ' && b[13] == b':' && b[16] == b':';
    shape.then_some(ts)
}

fn upstream_address(line: &str) -> Option<String> {
    let rest = line.split("upstream: \"").nth(1)?;
    let url = rest.split('"').next()?;
    let after_scheme = url.split_once("://").map_or(url, |(_, r)| r);
    Some(after_scheme.split('/').next()?.to_string())
}

/// Classify the lines at or after `since` (`None`: every line).
pub fn summarize(text: &str, since: Option<&str>) -> ErrorLogSummary {
    let mut summary = ErrorLogSummary::default();
    let mut upstreams: Vec<BTreeSet<String>> = Vec::new();
    for line in text.lines() {
        let Some(ts) = timestamp(line) else { continue };
        if since.is_some_and(|s| ts < s) {
            continue;
        }
        summary.lines_seen += 1;
        let Some(kind) = UpstreamFailure::classify(line) else {
            continue;
        };
        let i = match summary.failures.iter().position(|f| f.kind == kind) {
            Some(i) => i,
            None => {
                summary.failures.push(FailureCount {
                    kind,
                    count: 0,
                    first: ts.to_string(),
                    last: ts.to_string(),
                    upstreams: Vec::new(),
                    sample: String::new(),
                });
                upstreams.push(BTreeSet::new());
                summary.failures.len() - 1
            }
        };
        let f = &mut summary.failures[i];
        f.count += 1;
        f.last = ts.to_string();
        f.sample = line.to_string();
        if let Some(addr) = upstream_address(line) {
            upstreams[i].insert(addr);
        }
    }
    for (f, set) in summary.failures.iter_mut().zip(upstreams) {
        f.upstreams = set.into_iter().collect();
    }
    summary.failures.sort_by_key(|f| f.kind);
    summary
}

#[cfg(test)]
mod tests {
    use super::*;

    const RECORDED: &str = include_str!("testdata/sample-nginx-error-502.log");

    #[test]
    fn recorded_refusals_are_counted_with_times_and_upstreams() {
        let s = summarize(RECORDED, None);
        assert_eq!(s.count(UpstreamFailure::ConnectionRefused), 5);
        let f = &s.failures[0];
        assert_eq!(f.first, "2026/11/22 02:01:55");
        assert_eq!(f.last, "2026/11/22 02:01:55");
        assert_eq!(f.upstreams, ["127.0.0.1:8069", "127.0.0.1:8072"]);
        assert!(f.sample.contains("version_info"));
    }

    #[test]
    fn each_class_and_the_window() {
        let log = "\
2026/11/22 01:00:00 [error] 1#1: *1 upstream timed out (110: Connection timed out) while reading response header from upstream, client: 1.2.3.4, upstream: \"http://127.0.0.1:8069/web\"
2026/11/22 02:00:00 [error] 1#1: *2 upstream prematurely closed connection while reading response header from upstream, upstream: \"http://127.0.0.1:8069/web\"
2026/11/22 02:00:01 [error] 1#1: *3 no live upstreams while connecting to upstream, upstream: \"http://odoo/web\"
2026/11/22 02:00:02 [error] 1#1: *4 upstream timed out (110: Connection timed out) while reading response header from upstream
2026/11/22 02:00:03 [notice] 1#1: signal process started
garbage line
";
        let all = summarize(log, None);
        assert_eq!(all.count(UpstreamFailure::TimedOut), 2);
        assert_eq!(all.lines_seen, 5);
        let recent = summarize(log, Some("2026/11/22 01:30:00"));
        assert_eq!(recent.count(UpstreamFailure::TimedOut), 1);
        assert_eq!(recent.count(UpstreamFailure::PrematurelyClosed), 1);
        assert_eq!(recent.count(UpstreamFailure::NoLiveUpstreams), 1);
        assert_eq!(recent.count(UpstreamFailure::ConnectionRefused), 0);
        let t = recent
            .failures
            .iter()
            .find(|f| f.kind == UpstreamFailure::TimedOut)
            .unwrap();
        assert_eq!(t.first, "2026/11/22 02:00:02");
    }
}
