//! The bounded buffer of entries, kept in time order across sources, and the filtered
//! view over it.
//!
//! Entries are addressed by an absolute index (`base` + position), which stays valid
//! while old entries are evicted from the front. Most batches only append; a batch with
//! entries older than the newest one buffered (a source's history arriving after another
//! source's live lines) is merged into place, and the view is rebuilt from there.

use std::collections::VecDeque;

use super::filter::Filter;
use super::line::LogLine;

/// Default byte bound: far above 100,000 ordinary lines, but it stops a flood of
/// megabyte lines from eating the machine.
pub const DEFAULT_MAX_BYTES: usize = 256 * 1024 * 1024;

pub struct Store {
    entries: VecDeque<LogLine>,
    base: u64,
    max_lines: usize,
    max_bytes: usize,
    bytes: usize,
    next_seq: u64,
    evicted: u64,
    filter: Filter,
    /// Absolute indices of the entries the filter lets through, ascending.
    view: VecDeque<u64>,
}

impl Store {
    pub fn new(max_lines: usize) -> Store {
        Store::with_bounds(max_lines, DEFAULT_MAX_BYTES)
    }

    pub fn with_bounds(max_lines: usize, max_bytes: usize) -> Store {
        Store {
            entries: VecDeque::with_capacity(max_lines.min(1 << 20)),
            base: 0,
            max_lines: max_lines.max(1),
            max_bytes,
            bytes: 0,
            next_seq: 0,
            evicted: 0,
            filter: Filter::default(),
            view: VecDeque::new(),
        }
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Entries pushed out by the bounds so far.
    pub fn evicted(&self) -> u64 {
        self.evicted
    }

    /// Entries ever received.
    pub fn received(&self) -> u64 {
        self.next_seq
    }

    pub fn filter(&self) -> &Filter {
        &self.filter
    }

    /// Add a batch (in the order a source produced it). Returns true when entries were
    /// merged into the middle, which moves positions in the view.
    pub fn ingest(&mut self, batch: Vec<LogLine>) -> bool {
        let mut older = Vec::new();
        for mut line in batch {
            line.seq = self.next_seq;
            self.next_seq += 1;
            let newest = self.entries.back().and_then(|l| l.ts);
            match (line.ts, newest) {
                (None, _) => {
                    // Without a time of its own it sorts where it arrived.
                    line.ts = newest;
                    self.push_back(line);
                }
                (Some(t), Some(n)) if t < n => older.push(line),
                _ => self.push_back(line),
            }
        }
        let merged = !older.is_empty();
        if merged {
            self.merge_older(older);
        }
        self.evict();
        merged
    }

    fn push_back(&mut self, line: LogLine) {
        self.bytes += line.weight();
        let abs = self.base + self.entries.len() as u64;
        if self.filter.matches(&line) {
            self.view.push_back(abs);
        }
        self.entries.push_back(line);
    }

    fn merge_older(&mut self, mut older: Vec<LogLine>) {
        older.sort_by_key(|l| l.ts);
        let first = older[0].ts;
        let at = self.entries.partition_point(|e| e.ts <= first);
        let tail: Vec<LogLine> = self.entries.drain(at..).collect();
        let cut = self.base + at as u64;
        while self.view.back().is_some_and(|v| *v >= cut) {
            self.view.pop_back();
        }
        let mut a = tail.into_iter().peekable();
        let mut b = older.into_iter().peekable();
        loop {
            // On equal times the entry already buffered goes first.
            let take_a = match (a.peek(), b.peek()) {
                (Some(x), Some(y)) => x.ts <= y.ts,
                (Some(_), None) => true,
                (None, Some(_)) => false,
                (None, None) => break,
            };
            let line = if take_a { a.next() } else { b.next() }.expect("peeked");
            if take_a {
                // Already counted in `bytes`.
                self.bytes -= line.weight();
            }
            self.push_back(line);
        }
    }

    fn evict(&mut self) {
        while self.entries.len() > self.max_lines
            || (self.bytes > self.max_bytes && self.entries.len() > 1)
        {
            let Some(line) = self.entries.pop_front() else {
                break;
            };
            self.bytes -= line.weight();
            self.base += 1;
            self.evicted += 1;
        }
        while self.view.front().is_some_and(|v| *v < self.base) {
            self.view.pop_front();
        }
    }

    /// Replace the filter and rebuild the view.
    pub fn set_filter(&mut self, filter: Filter) {
        self.filter = filter;
        self.view.clear();
        for (i, line) in self.entries.iter().enumerate() {
            if self.filter.matches(line) {
                self.view.push_back(self.base + i as u64);
            }
        }
    }

    pub fn view_len(&self) -> usize {
        self.view.len()
    }

    /// The `i`-th entry of the view.
    pub fn view_line(&self, i: usize) -> Option<&LogLine> {
        let abs = *self.view.get(i)?;
        self.entries.get((abs - self.base) as usize)
    }

    /// The view position of an absolute index, or of the first entry after it.
    pub fn view_position(&self, abs: u64) -> usize {
        self.view.partition_point(|v| *v < abs)
    }

    /// Absolute index of the `i`-th view entry (to keep a position across evictions).
    pub fn view_abs(&self, i: usize) -> Option<u64> {
        self.view.get(i).copied()
    }

    /// The next view position after (or before) `from` whose entry satisfies `pred`.
    pub fn find(
        &self,
        from: Option<usize>,
        forward: bool,
        pred: impl Fn(&LogLine) -> bool,
    ) -> Option<usize> {
        let n = self.view.len();
        if forward {
            let start = from.map_or(0, |f| f + 1);
            (start..n).find(|&i| self.view_line(i).is_some_and(&pred))
        } else {
            let end = from.unwrap_or(n).min(n);
            (0..end)
                .rev()
                .find(|&i| self.view_line(i).is_some_and(&pred))
        }
    }

    /// Every entry of the view, in order (for export).
    pub fn view_iter(&self) -> impl Iterator<Item = &LogLine> {
        self.view
            .iter()
            .filter_map(|abs| self.entries.get((abs - self.base) as usize))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::logs::filter::compile;
    use crate::logs::line::{Header, Level, SourceId};

    fn at(source: u16, ts: i64, text: &str) -> LogLine {
        let header = Header {
            ts: Some(ts),
            level: if text.contains("error") {
                Level::Error
            } else {
                Level::Info
            },
            ..Header::default()
        };
        LogLine::new(SourceId(source), header, text.into())
    }

    fn texts(s: &Store) -> Vec<String> {
        s.view_iter().map(|l| l.text().to_string()).collect()
    }

    #[test]
    fn the_ring_keeps_the_newest_lines() {
        let mut s = Store::new(3);
        s.ingest((0..5).map(|i| at(0, i, &format!("l{i}"))).collect());
        assert_eq!(texts(&s), ["l2", "l3", "l4"]);
        assert_eq!((s.len(), s.evicted(), s.received()), (3, 2, 5));
    }

    #[test]
    fn a_late_source_is_merged_by_time() {
        let mut s = Store::new(100);
        s.ingest(vec![at(0, 10, "a10"), at(0, 30, "a30"), at(0, 50, "a50")]);
        let merged = s.ingest(vec![at(1, 20, "b20"), at(1, 40, "b40"), at(1, 60, "b60")]);
        assert!(merged);
        assert_eq!(texts(&s), ["a10", "b20", "a30", "b40", "a50", "b60"]);
        s.ingest(vec![at(0, 70, "a70")]);
        assert_eq!(texts(&s).last().unwrap(), "a70");
    }

    #[test]
    fn the_view_follows_filter_merge_and_eviction() {
        let mut s = Store::new(4);
        s.set_filter(Filter {
            pattern: Some(compile("error").unwrap()),
            ..Filter::default()
        });
        s.ingest(vec![at(0, 1, "ok"), at(0, 2, "error one"), at(0, 3, "ok")]);
        assert_eq!(texts(&s), ["error one"]);
        s.ingest(vec![at(1, 0, "error early"), at(1, 4, "error two")]);
        // Capacity 4: the oldest ("error early", merged to the front) was evicted.
        assert_eq!(texts(&s), ["error one", "error two"]);
        assert_eq!(s.find(None, true, |l| l.text().contains("two")), Some(1));
        assert_eq!(s.find(Some(1), false, LogLine::is_error), Some(0));
        s.set_filter(Filter::default());
        assert_eq!(s.view_len(), 4);
    }

    #[test]
    fn the_byte_bound_holds() {
        let mut s = Store::with_bounds(1000, 10_000);
        s.ingest((0..100).map(|i| at(0, i, &"x".repeat(1000))).collect());
        assert!(s.len() < 10, "{} entries", s.len());
        assert!(s.len() >= 1);
    }
}
