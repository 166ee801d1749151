//! The bounded buffer of entries, kept in time order across sources, and the filtered
//! view over it.
//!
//! Entries are addressed by an absolute index (`base` + position), which stays valid
//! while old entries are evicted from the front. Most batches only append; a batch with
//! entries older than the newest one buffered (a source's history arriving after another
//! source's live lines, or a source whose clock lags) is merged into place.
//!
//! The buffer is a list of chunks of at most a few thousand entries, each in time order
//! and each knowing which of its entries the filter lets through. A late entry is merged
//! into the one chunk it belongs to, so a batch costs its own size plus one chunk, never
//! the whole buffer: a source lagging another by an hour would otherwise re-merge every
//! newer line on every batch (12x the CPU, and a copy of the buffer in memory).

use std::collections::VecDeque;

use super::filter::Filter;
use super::line::LogLine;

/// Default byte bound: far above 100,000 ordinary lines, but it stops a flood of
/// megabyte lines from eating the machine.
pub const DEFAULT_MAX_BYTES: usize = 256 * 1024 * 1024;

/// Entries a chunk is filled to by appending; a merge may grow one to twice this before
/// it is split. Small enough that merging into one is cheap, large enough that walking
/// the chunks (about a hundred for 100,000 lines) is.
#[cfg(not(test))]
const CHUNK: usize = 1024;
/// Small in tests, so a few hundred lines already span, merge into and split chunks.
#[cfg(test)]
const CHUNK: usize = 16;

struct Chunk {
    lines: Vec<LogLine>,
    /// Offsets in `lines` of the entries the filter lets through, ascending.
    shown: Vec<u32>,
}

impl Chunk {
    fn new() -> Chunk {
        Chunk {
            lines: Vec::with_capacity(CHUNK),
            shown: Vec::new(),
        }
    }

    fn first_ts(&self) -> Option<i64> {
        self.lines.first().and_then(|l| l.ts)
    }

    /// The entries from `at` on, as a chunk of their own.
    fn split_off(&mut self, at: usize) -> Chunk {
        let lines = self.lines.split_off(at);
        let cut = self.shown.partition_point(|&o| (o as usize) < at);
        let shown = self
            .shown
            .split_off(cut)
            .into_iter()
            .map(|o| o - at as u32)
            .collect();
        Chunk { lines, shown }
    }
}

pub struct Store {
    chunks: VecDeque<Chunk>,
    len: usize,
    view_len: usize,
    base: u64,
    max_lines: usize,
    max_bytes: usize,
    bytes: usize,
    next_seq: u64,
    evicted: u64,
    filter: Filter,
    /// Entries already buffered that merges moved, so tests can hold the cost linear.
    moved: u64,
}

impl Store {
    pub fn new(max_lines: usize) -> Store {
        Store::with_bounds(max_lines, DEFAULT_MAX_BYTES)
    }

    pub fn with_bounds(max_lines: usize, max_bytes: usize) -> Store {
        Store {
            chunks: VecDeque::new(),
            len: 0,
            view_len: 0,
            base: 0,
            max_lines: max_lines.max(1),
            max_bytes,
            bytes: 0,
            next_seq: 0,
            evicted: 0,
            filter: Filter::default(),
            moved: 0,
        }
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
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

    fn newest_ts(&self) -> Option<i64> {
        self.chunks
            .back()
            .and_then(|c| c.lines.last())
            .and_then(|l| l.ts)
    }

    /// Add a batch (in the order a source produced it). Returns true when entries were
    /// merged into the middle, which moves positions in the view.
    pub fn ingest(&mut self, batch: Vec<LogLine>) -> bool {
        let mut older = Vec::new();
        for mut line in batch {
            line.seq = self.next_seq;
            self.next_seq += 1;
            let newest = self.newest_ts();
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
        self.len += 1;
        if self.chunks.back().is_none_or(|c| c.lines.len() >= CHUNK) {
            self.chunks.push_back(Chunk::new());
        }
        let chunk = self.chunks.back_mut().expect("just ensured");
        if self.filter.matches(&line) {
            chunk.shown.push(chunk.lines.len() as u32);
            self.view_len += 1;
        }
        chunk.lines.push(line);
    }

    /// Merge entries older than the newest buffered: each run of them that belongs in
    /// one chunk is merged into that chunk alone.
    fn merge_older(&mut self, mut older: Vec<LogLine>) {
        older.sort_by_key(|l| l.ts);
        let mut older = older.into_iter().peekable();
        while let Some(first) = older.peek() {
            let t = first.ts;
            // On equal times the entry already buffered goes first: the late one belongs
            // after every entry whose time is <= its own.
            let c = self
                .chunks
                .partition_point(|ch| ch.first_ts() <= t)
                .saturating_sub(1);
            let next_first = self.chunks.get(c + 1).map(Chunk::first_ts);
            let mut run = Vec::new();
            while let Some(line) = older.next_if(|l| next_first.is_none_or(|n| l.ts < n)) {
                run.push(line);
            }
            self.merge_into(c, run);
            self.split_large(c);
        }
    }

    fn merge_into(&mut self, c: usize, run: Vec<LogLine>) {
        let filter = &self.filter;
        let chunk = &mut self.chunks[c];
        let at = chunk.lines.partition_point(|l| l.ts <= run[0].ts);
        let tail: Vec<LogLine> = chunk.lines.drain(at..).collect();
        let cut = chunk.shown.partition_point(|&o| (o as usize) < at);
        let mut tail_shown = vec![false; tail.len()];
        for o in chunk.shown.drain(cut..) {
            tail_shown[o as usize - at] = true;
        }
        self.moved += tail.len() as u64;
        let mut a = tail.into_iter().zip(tail_shown).peekable();
        let mut b = run.into_iter().peekable();
        loop {
            // On equal times the entry already buffered goes first.
            let take_a = match (a.peek(), b.peek()) {
                (Some((x, _)), Some(y)) => x.ts <= y.ts,
                (Some(_), None) => true,
                (None, Some(_)) => false,
                (None, None) => break,
            };
            let (line, shown) = if take_a {
                a.next().expect("peeked")
            } else {
                let line = b.next().expect("peeked");
                self.bytes += line.weight();
                self.len += 1;
                let shown = filter.matches(&line);
                self.view_len += usize::from(shown);
                (line, shown)
            };
            if shown {
                chunk.shown.push(chunk.lines.len() as u32);
            }
            chunk.lines.push(line);
        }
    }

    /// Keep merged chunks small so the next merge into them stays cheap.
    fn split_large(&mut self, mut c: usize) {
        while self.chunks[c].lines.len() > 2 * CHUNK {
            let right = self.chunks[c].split_off(CHUNK);
            // Merging grew it to twice its entries or more: without this a lagging
            // source leaves every chunk holding room for four times what it keeps.
            self.chunks[c].lines.shrink_to_fit();
            self.chunks.insert(c + 1, right);
            c += 1;
        }
    }

    fn evict(&mut self) {
        let (max_lines, max_bytes) = (self.max_lines, self.max_bytes);
        let over = |len: usize, bytes: usize| len > max_lines || (bytes > max_bytes && len > 1);
        while over(self.len, self.bytes) {
            let Some(front) = self.chunks.front_mut() else {
                break;
            };
            // How many of the front chunk's entries go, counted before moving any.
            let (mut k, mut bytes) = (0, self.bytes);
            while k < front.lines.len() && over(self.len - k, bytes) {
                bytes -= front.lines[k].weight();
                k += 1;
            }
            let gone_shown = front.shown.partition_point(|&o| (o as usize) < k);
            if k == front.lines.len() {
                self.chunks.pop_front();
            } else {
                front.lines.drain(..k);
                front.shown.drain(..gone_shown);
                for o in &mut front.shown {
                    *o -= k as u32;
                }
            }
            self.view_len -= gone_shown;
            self.bytes = bytes;
            self.len -= k;
            self.base += k as u64;
            self.evicted += k as u64;
        }
    }

    /// Replace the filter and rebuild the view.
    pub fn set_filter(&mut self, filter: Filter) {
        self.filter = filter;
        self.view_len = 0;
        for chunk in &mut self.chunks {
            chunk.shown = (0..chunk.lines.len() as u32)
                .filter(|&o| self.filter.matches(&chunk.lines[o as usize]))
                .collect();
            self.view_len += chunk.shown.len();
        }
    }

    pub fn view_len(&self) -> usize {
        self.view_len
    }

    /// The `i`-th entry of the view and its position in the buffer.
    fn locate(&self, mut i: usize) -> Option<(usize, &LogLine)> {
        let mut start = 0;
        for chunk in &self.chunks {
            if let Some(&o) = chunk.shown.get(i) {
                return Some((start + o as usize, &chunk.lines[o as usize]));
            }
            i -= chunk.shown.len();
            start += chunk.lines.len();
        }
        None
    }

    /// The `i`-th entry of the view.
    pub fn view_line(&self, i: usize) -> Option<&LogLine> {
        self.locate(i).map(|(_, line)| line)
    }

    /// The view position of an absolute index, or of the first entry after it.
    pub fn view_position(&self, abs: u64) -> usize {
        let Some(mut p) = abs.checked_sub(self.base).map(|p| p as usize) else {
            return 0;
        };
        let mut before = 0;
        for chunk in &self.chunks {
            if p < chunk.lines.len() {
                return before + chunk.shown.partition_point(|&o| (o as usize) < p);
            }
            p -= chunk.lines.len();
            before += chunk.shown.len();
        }
        self.view_len
    }

    /// Absolute index of the `i`-th view entry (to keep a position across evictions).
    pub fn view_abs(&self, i: usize) -> Option<u64> {
        self.locate(i).map(|(p, _)| self.base + p as u64)
    }

    /// The next view position after (or before) `from` whose entry satisfies `pred`.
    pub fn find(
        &self,
        from: Option<usize>,
        forward: bool,
        pred: impl Fn(&LogLine) -> bool,
    ) -> Option<usize> {
        let n = self.view_len;
        if forward {
            let start = from.map_or(0, |f| f + 1);
            self.view_iter()
                .enumerate()
                .skip(start)
                .find(|(_, l)| pred(l))
                .map(|(i, _)| i)
        } else {
            let end = from.unwrap_or(n).min(n);
            self.view_iter()
                .rev()
                .skip(n - end)
                .position(pred)
                .map(|k| end - 1 - k)
        }
    }

    /// Every entry of the view, in order (for export).
    pub fn view_iter(&self) -> impl DoubleEndedIterator<Item = &LogLine> {
        self.chunks
            .iter()
            .flat_map(|c| c.shown.iter().map(move |&o| &c.lines[o as usize]))
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
        assert!(!s.is_empty());
    }

    /// A source whose clock lags another's by an hour: every batch of it belongs before
    /// all of the other's buffered lines. Merging must cost the batch, not the buffer.
    #[test]
    fn a_lagging_source_costs_its_batches_not_the_buffer() {
        let mut s = Store::new(100_000);
        let hour = 3_600_000;
        let batches = 500;
        for b in 0..batches {
            let now = hour + b * 100;
            s.ingest((0..100).map(|i| at(0, now + i, "live")).collect());
            s.ingest((0..100).map(|i| at(1, now - hour + i, "lagging")).collect());
        }
        assert_eq!(s.len(), 100_000);
        // Re-merging the buffer would move ~ batches²/2 × 100 = 12.5 million lines.
        assert!(
            s.moved < 10 * s.len() as u64,
            "{} lines moved for {} received",
            s.moved,
            s.received()
        );
        let view: Vec<&str> = s.view_iter().map(|l| l.text()).collect();
        assert!(view[..50_000].iter().all(|t| *t == "lagging"));
        assert!(view[50_000..].iter().all(|t| *t == "live"));
        assert!(
            s.view_iter()
                .zip(s.view_iter().skip(1))
                .all(|(a, b)| a.ts <= b.ts)
        );
    }

    /// The store against the plain rule it implements: a stable sort by time in arrival
    /// order (an entry without a time takes the newest buffered one's), the newest
    /// `max_lines` kept; the view is the matching entries, and positions round-trip.
    #[test]
    fn chunks_keep_the_order_a_plain_sort_gives() {
        use proptest::prelude::*;
        use proptest::test_runner::TestRunner;
        let batch =
            prop::collection::vec((0u16..3, prop::option::weighted(0.9, 0i64..4000)), 0..300);
        let strategy = (prop::collection::vec(batch, 1..12), 1usize..3000);
        TestRunner::default()
            .run(&strategy, |(batches, max)| {
                let mut s = Store::new(max);
                s.set_filter(Filter {
                    pattern: Some(compile("error").unwrap()),
                    ..Filter::default()
                });
                let mut plain: Vec<(Option<i64>, String)> = Vec::new();
                let mut n = 0;
                for batch in batches {
                    let mut lines = Vec::new();
                    let mut late = Vec::new();
                    for (source, ts) in batch {
                        n += 1;
                        let text = if n % 3 == 0 {
                            format!("error {n}")
                        } else {
                            format!("ok {n}")
                        };
                        let mut line = at(source, 0, &text);
                        line.ts = ts;
                        lines.push(line);
                        let newest = plain.last().and_then(|(t, _)| *t);
                        match (ts, newest) {
                            (None, _) => plain.push((newest, text)),
                            (Some(t), Some(m)) if t < m => late.push((ts, text)),
                            _ => plain.push((ts, text)),
                        }
                    }
                    late.sort_by_key(|(t, _)| *t);
                    for (t, text) in late {
                        let at = plain.partition_point(|(p, _)| *p <= t);
                        plain.insert(at, (t, text));
                    }
                    let excess = plain.len().saturating_sub(max);
                    plain.drain(..excess);
                    s.ingest(lines);
                    let all: Vec<&str> = plain.iter().map(|(_, t)| t.as_str()).collect();
                    let shown: Vec<&str> = all
                        .iter()
                        .copied()
                        .filter(|t| t.starts_with("error"))
                        .collect();
                    prop_assert_eq!(s.len(), all.len());
                    prop_assert_eq!(texts(&s), shown.clone());
                    prop_assert_eq!(s.view_len(), shown.len());
                    for i in (0..shown.len()).step_by(7) {
                        prop_assert_eq!(s.view_line(i).map(|l| l.text()), Some(shown[i]));
                        let abs = s.view_abs(i).unwrap();
                        prop_assert_eq!(s.view_position(abs), i);
                    }
                    prop_assert_eq!(
                        s.find(None, true, |l| l.text().starts_with("error")),
                        (!shown.is_empty()).then_some(0)
                    );
                    prop_assert_eq!(
                        s.find(None, false, |l| l.text().starts_with("error")),
                        shown.len().checked_sub(1)
                    );
                }
                Ok(())
            })
            .unwrap();
    }
}
