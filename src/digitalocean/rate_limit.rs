//! The API's rate limit as its last answer reported it (`ratelimit-limit`,
//! `ratelimit-remaining`, `ratelimit-reset`): shown in the status bar, and read by long
//! waits that poll so they do not spend what is left.

use std::sync::{Arc, Mutex};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimit {
    /// Requests allowed an hour (5,000).
    pub limit: u32,
    /// Left before the reset.
    pub remaining: u32,
    /// When the count resets, epoch seconds.
    pub reset: i64,
}

impl RateLimit {
    /// From an answer's headers; `None` when they are missing or not numbers.
    pub fn from_headers(headers: &reqwest::header::HeaderMap) -> Option<RateLimit> {
        let number = |name: &str| headers.get(name)?.to_str().ok()?.trim().parse::<i64>().ok();
        Some(RateLimit {
            limit: number("ratelimit-limit").unwrap_or(0).max(0) as u32,
            remaining: number("ratelimit-remaining")?.max(0) as u32,
            reset: number("ratelimit-reset")?,
        })
    }

    /// How long to wait between polls so that `polls_left` more polls fit into what
    /// remains before the reset, at least `floor` seconds.
    pub fn poll_interval(&self, now: i64, floor: u64) -> u64 {
        let window = (self.reset - now).max(1) as u64;
        let per_poll = window / u64::from(self.remaining.max(1));
        per_poll.max(floor)
    }

    /// `API 4 998/5 000`-like text for the status bar.
    pub fn label(&self) -> String {
        format!("DO API {}/{}", self.remaining, self.limit)
    }
}

/// The latest rate limit seen, shared by every clone of a client.
#[derive(Debug, Clone, Default)]
pub struct RateLimitCell(Arc<Mutex<Option<RateLimit>>>);

impl RateLimitCell {
    pub fn get(&self) -> Option<RateLimit> {
        *self.0.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Concurrent pages answer in any order: the lowest remaining count is the truest.
    pub fn record(&self, seen: RateLimit) {
        let mut slot = self.0.lock().unwrap_or_else(|p| p.into_inner());
        *slot = Some(match *slot {
            Some(old) if old.reset == seen.reset && old.remaining < seen.remaining => old,
            _ => seen,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn polling_is_spread_over_what_is_left() {
        let limit = RateLimit {
            limit: 5000,
            remaining: 10,
            reset: 1_000,
        };
        assert_eq!(limit.poll_interval(400, 2), 60);
        assert_eq!(limit.poll_interval(999, 2), 2);
        let cell = RateLimitCell::default();
        cell.record(limit);
        cell.record(RateLimit {
            remaining: 12,
            ..limit
        });
        assert_eq!(cell.get().unwrap().remaining, 10);
    }
}
