//! The connect timeout measures the network, not the person reading a host key question:
//! while a question waits for its answer, the clock stands still. Without this a question
//! left on screen for 20 s was cancelled under the operator's eyes.

use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::time::Instant;

/// How often a waiting timeout looks again while a question is open.
const RECHECK_WHILE_ASKING: Duration = Duration::from_millis(250);

/// Time spent waiting for a person during one connection attempt, shared between the
/// host key check (which starts and stops it) and the timeout (which subtracts it).
#[derive(Clone, Default)]
pub struct HumanTime(Arc<Mutex<Paused>>);

#[derive(Default)]
struct Paused {
    total: Duration,
    /// Questions open now (a jump chain could ask about two hosts at once).
    open: usize,
    since: Option<Instant>,
}

impl HumanTime {
    /// Run `question` with the clock stopped; it restarts even if the wait is dropped.
    pub async fn asking<F: Future>(&self, question: F) -> F::Output {
        struct Resume<'a>(&'a HumanTime);
        impl Drop for Resume<'_> {
            fn drop(&mut self) {
                let mut p = self.0.0.lock().expect("human time lock");
                p.open -= 1;
                if p.open == 0
                    && let Some(since) = p.since.take()
                {
                    p.total += since.elapsed();
                }
            }
        }
        {
            let mut p = self.0.lock().expect("human time lock");
            if p.open == 0 {
                p.since = Some(Instant::now());
            }
            p.open += 1;
        }
        let _resume = Resume(self);
        question.await
    }

    /// Time since `start` not spent waiting for a person; `None` while a question is open.
    fn network_time(&self, start: Instant) -> Option<Duration> {
        let p = self.0.lock().expect("human time lock");
        (p.open == 0).then(|| start.elapsed().saturating_sub(p.total))
    }
}

/// `fut`'s output, or `None` once it has spent `limit` on the network (time spent asking
/// a person excluded).
pub async fn network_timeout<F: Future>(
    limit: Duration,
    human: &HumanTime,
    fut: F,
) -> Option<F::Output> {
    let start = Instant::now();
    tokio::pin!(fut);
    loop {
        let wait = match human.network_time(start) {
            None => RECHECK_WHILE_ASKING,
            Some(spent) if spent >= limit => return None,
            Some(spent) => limit - spent,
        };
        tokio::select! {
            out = &mut fut => return Some(out),
            _ = tokio::time::sleep(wait) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_question_stops_the_clock_and_the_network_still_times_out() {
        let human = HumanTime::default();
        let slow_answer = {
            let human = human.clone();
            async move {
                human
                    .asking(tokio::time::sleep(Duration::from_millis(600)))
                    .await;
                "connected"
            }
        };
        let limit = Duration::from_millis(200);
        assert_eq!(
            network_timeout(limit, &human, slow_answer).await,
            Some("connected")
        );
        let silent = tokio::time::sleep(Duration::from_secs(5));
        assert_eq!(
            network_timeout(limit, &HumanTime::default(), silent).await,
            None
        );
    }
}
