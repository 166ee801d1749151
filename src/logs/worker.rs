//! The logs worker: one tokio task that owns the buffer, applies filters and search, and
//! publishes a small snapshot (the visible window and counts) for the face to draw.
//!
//! Parsing happens in the followers, filtering and searching here; the draw path only
//! reads the latest snapshot, so a flood of lines costs the screen nothing. Snapshots are
//! coalesced: at most one per [`PUBLISH_EVERY`], and only when something changed.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use regex::Regex;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

use super::filter::{self, Filter};
use super::follow::{self, Feed, SourceStatus};
use super::line::{Level, LogLine, SourceId};
use super::parse::Format;
use super::store::Store;
use crate::target::Target;

pub const PUBLISH_EVERY: Duration = Duration::from_millis(33);
/// Lines a new source starts with (its recent history).
pub const HISTORY_LINES: usize = 1000;

/// Where a source's lines come from.
pub enum SourceSpec {
    /// A container's logs (`name` is what the pane shows, usually the compose service).
    Container {
        target: Target,
        container: String,
        name: String,
        since_ms: Option<i64>,
    },
    /// A file followed like `tail -F`.
    File {
        target: Target,
        path: PathBuf,
        name: String,
        format: Format,
    },
    /// The file named by `logfile` in the odoo.conf at `conf`.
    OdooLogfile {
        target: Target,
        conf: PathBuf,
        name: String,
    },
    /// A source that cannot be followed from here, listed with the reason (a log file
    /// inside a container with no mount to the host).
    Notice { name: String, text: String },
    /// Bytes the caller produces.
    Bytes {
        name: String,
        format: Format,
        chunks: mpsc::Receiver<Vec<u8>>,
    },
}

impl SourceSpec {
    /// What makes two specs the same source: a second one with the same key is not
    /// followed twice (discovery runs again and again), it revives the first if stopped.
    fn key(&self) -> Option<String> {
        match self {
            SourceSpec::Container { container, .. } => Some(format!("container:{container}")),
            SourceSpec::File { path, .. } => Some(format!("file:{}", path.display())),
            SourceSpec::OdooLogfile { conf, .. } => Some(format!("odoo.conf:{}", conf.display())),
            SourceSpec::Notice { name, text } => Some(format!("notice:{name}:{text}")),
            SourceSpec::Bytes { .. } => None,
        }
    }

    fn name(&self) -> &str {
        match self {
            SourceSpec::Container { name, .. }
            | SourceSpec::File { name, .. }
            | SourceSpec::OdooLogfile { name, .. }
            | SourceSpec::Notice { name, .. }
            | SourceSpec::Bytes { name, .. } => name,
        }
    }
}

/// What the face asks of the worker about the view. Sending never blocks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LogsCommand {
    /// Entries the window should hold (the pane's height in rows).
    Viewport(usize),
    /// Follow the newest lines, or pause where the view is.
    SetFollow(bool),
    ToggleFollow,
    /// Move the window by this many entries (negative is up); pauses following.
    Scroll(i64),
    Top,
    /// Back to the newest line, following.
    Bottom,
    SetMinLevel(Level),
    ToggleSource(SourceId),
    /// Regex filter; `None` or empty clears it.
    SetPattern(Option<String>),
    /// Regex search (highlight and next/previous); `None` or empty clears it.
    SetSearch(Option<String>),
    SearchNext,
    SearchPrev,
    NextError,
    PrevError,
    /// Write the current view to this file.
    Export(PathBuf),
    /// Start the stopped sources again (ended or failed), each from where it stopped.
    Revive,
}

/// What a container's logs are called in the pane: its compose service and the start of
/// its id, so that the containers of one service (a new one after a recreate, a scaled
/// one) can be told apart and found with `docker logs ID`.
pub fn container_source_name(service: &str, id: &str) -> String {
    let short: String = id.chars().take(6).collect();
    if short.is_empty() {
        service.to_string()
    } else {
        format!("{service}#{short}")
    }
}

/// One source as the pane lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceView {
    pub id: SourceId,
    pub name: String,
    pub status: SourceStatus,
    pub lines: u64,
    pub hidden: bool,
}

/// A visible entry with its search matches (byte ranges into `line.text()`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WindowLine {
    /// Position in the view.
    pub index: usize,
    pub line: LogLine,
    pub matches: Vec<(usize, usize)>,
}

/// What the face draws. Cheap to clone (it is shared through an `Arc`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LogsSnapshot {
    pub generation: u64,
    pub sources: Vec<SourceView>,
    /// Entries in the buffer, entries passing the filter.
    pub buffered: usize,
    pub matching: usize,
    pub received: u64,
    pub evicted: u64,
    pub capacity: usize,
    pub follow: bool,
    /// The window: consecutive view entries starting at `window[0].index`.
    pub window: Vec<WindowLine>,
    /// The entry last jumped to (search hit or error), highlighted by the pane.
    pub cursor: Option<usize>,
    pub min_level: Level,
    pub pattern: Option<String>,
    pub search: Option<String>,
    /// A problem to show (a bad pattern, a failed export).
    pub error: Option<String>,
    /// Something that went well or found nothing ("exported 120 lines to ...").
    pub notice: Option<String>,
    /// Sources that went away (a removed container) whose lines are still in the buffer.
    pub gone: Vec<(SourceId, String)>,
}

impl LogsSnapshot {
    pub fn source_name(&self, id: SourceId) -> &str {
        self.sources
            .iter()
            .find(|s| s.id == id)
            .map(|s| s.name.as_str())
            .or_else(|| {
                self.gone
                    .iter()
                    .find(|(g, _)| *g == id)
                    .map(|(_, n)| n.as_str())
            })
            .unwrap_or("?")
    }

    /// Sources that stopped (ended or failed) and are not following any more.
    pub fn stopped(&self) -> usize {
        self.sources
            .iter()
            .filter(|s| s.status.is_stopped())
            .count()
    }
}

enum Request {
    Command(LogsCommand),
    AddSource(SourceSpec, Option<String>),
}

/// The face's end: send commands, read snapshots. The worker stops (and its followers
/// with it) when every handle is dropped.
#[derive(Clone)]
pub struct LogsHandle {
    requests: mpsc::UnboundedSender<Request>,
    pub snapshots: watch::Receiver<Arc<LogsSnapshot>>,
}

impl LogsHandle {
    /// Queue a command; false when the worker has stopped.
    pub fn send(&self, command: LogsCommand) -> bool {
        self.requests.send(Request::Command(command)).is_ok()
    }

    /// Start following a source; it gets the next [`SourceId`] (0, 1, ... in call order).
    /// A source already followed (the same container, file or odoo.conf) is not added
    /// again: found again while stopped, it starts again from where it stopped.
    pub fn add_source(&self, spec: SourceSpec) -> bool {
        self.requests.send(Request::AddSource(spec, None)).is_ok()
    }

    /// As [`LogsHandle::add_source`], for a source that belongs to a container: it goes
    /// away when the container's own logs source does (the container was removed).
    pub fn add_container_source(&self, spec: SourceSpec, container: &str) -> bool {
        self.requests
            .send(Request::AddSource(spec, Some(container.to_string())))
            .is_ok()
    }

    pub fn snapshot(&self) -> Arc<LogsSnapshot> {
        self.snapshots.borrow().clone()
    }
}

/// Start the worker on the current tokio runtime with a buffer of `capacity` entries.
pub fn spawn(capacity: usize) -> (LogsHandle, JoinHandle<()>) {
    let (cmd_tx, cmd_rx) = mpsc::unbounded_channel();
    let (snap_tx, snap_rx) = watch::channel(Arc::new(LogsSnapshot {
        follow: true,
        capacity,
        ..LogsSnapshot::default()
    }));
    let worker = Worker::new(capacity, snap_tx);
    let join = tokio::spawn(worker.run(cmd_rx));
    (
        LogsHandle {
            requests: cmd_tx,
            snapshots: snap_rx,
        },
        join,
    )
}

struct Source {
    view: SourceView,
    task: JoinHandle<()>,
    key: Option<String>,
    /// The container this source belongs to (its logs, or a file named by its odoo.conf).
    owner: Option<String>,
    /// Bumped to wake the follower once it stopped; `None` for a source that cannot
    /// start again (bytes the caller produced).
    revive: Option<watch::Sender<u64>>,
}

impl Source {
    /// Wake a stopped follower; false when it cannot start again.
    fn revive(&mut self) -> bool {
        match &self.revive {
            Some(revive) if self.view.status.is_stopped() => {
                revive.send_modify(|n| *n += 1);
                self.view.status = SourceStatus::Starting;
                true
            }
            _ => false,
        }
    }
}

struct Worker {
    store: Store,
    capacity: usize,
    sources: Vec<Source>,
    next_id: u16,
    gone: Vec<(SourceId, String)>,
    feed_tx: mpsc::Sender<Feed>,
    feed_rx: Option<mpsc::Receiver<Feed>>,
    snapshots: watch::Sender<Arc<LogsSnapshot>>,
    generation: u64,
    height: usize,
    follow: bool,
    /// Absolute index of the top entry while paused.
    top_abs: u64,
    cursor_abs: Option<u64>,
    pattern_text: Option<String>,
    search: Option<Regex>,
    error: Option<String>,
    notice: Option<String>,
    dirty: bool,
}

impl Drop for Worker {
    fn drop(&mut self) {
        for s in &self.sources {
            s.task.abort();
        }
    }
}

impl Worker {
    fn new(capacity: usize, snapshots: watch::Sender<Arc<LogsSnapshot>>) -> Worker {
        // Bounded: a flood makes followers wait instead of growing memory.
        let (feed_tx, feed_rx) = mpsc::channel(16);
        Worker {
            store: Store::new(capacity),
            capacity,
            sources: Vec::new(),
            next_id: 0,
            gone: Vec::new(),
            feed_tx,
            feed_rx: Some(feed_rx),
            snapshots,
            generation: 0,
            height: 50,
            follow: true,
            top_abs: 0,
            cursor_abs: None,
            pattern_text: None,
            search: None,
            error: None,
            notice: None,
            dirty: true,
        }
    }

    async fn run(mut self, mut commands: mpsc::UnboundedReceiver<Request>) {
        let mut feed = self.feed_rx.take().expect("run once");
        let mut last_publish = Instant::now();
        loop {
            // Idle, the worker sleeps; with changes pending it wakes to publish them.
            let publish_at = tokio::time::Instant::from_std(last_publish + PUBLISH_EVERY);
            tokio::select! {
                biased;
                command = commands.recv() => match command {
                    Some(Request::Command(c)) => self.command(c),
                    Some(Request::AddSource(spec, owner)) => {
                        self.add_source(spec, owner);
                        self.dirty = true;
                    }
                    // The face is gone: stop, which aborts the followers.
                    None => return,
                },
                _ = tokio::time::sleep_until(publish_at), if self.dirty => {}
                Some(message) = feed.recv() => self.feed(message),
            }
            if self.dirty && last_publish.elapsed() >= PUBLISH_EVERY {
                self.publish();
                last_publish = Instant::now();
            }
        }
    }

    fn feed(&mut self, message: Feed) {
        match message {
            Feed::Lines(source, lines) => {
                if let Some(s) = self.source_mut(source) {
                    s.view.lines += lines.len() as u64;
                }
                self.store.ingest(lines);
            }
            Feed::Status(source, status) => {
                if let Some(s) = self.source_mut(source) {
                    s.view.status = status;
                }
            }
            Feed::Removed(source) => self.remove(source),
        }
        self.dirty = true;
    }

    fn command(&mut self, command: LogsCommand) {
        self.dirty = true;
        self.notice = None;
        match command {
            LogsCommand::Viewport(h) => self.height = h.max(1),
            LogsCommand::SetFollow(f) => self.set_follow(f),
            LogsCommand::ToggleFollow => self.set_follow(!self.follow),
            LogsCommand::Scroll(by) => {
                let first = self.first() as i64;
                self.follow = false;
                let max = self.store.view_len().saturating_sub(self.height) as i64;
                self.set_top((first + by).clamp(0, max.max(0)) as usize);
            }
            LogsCommand::Top => {
                self.follow = false;
                self.set_top(0);
            }
            LogsCommand::Bottom => self.set_follow(true),
            LogsCommand::SetMinLevel(level) => {
                let mut f = self.store.filter().clone();
                f.min_level = level;
                self.refilter(f);
            }
            LogsCommand::ToggleSource(id) => {
                let mut f = self.store.filter().clone();
                if let Some(at) = f.hidden.iter().position(|h| *h == id) {
                    f.hidden.remove(at);
                } else {
                    f.hidden.push(id);
                }
                for s in &mut self.sources {
                    s.view.hidden = f.hidden.contains(&s.view.id);
                }
                self.refilter(f);
            }
            LogsCommand::SetPattern(p) => {
                let p = p.filter(|p| !p.is_empty());
                let mut f = self.store.filter().clone();
                match p.as_deref().map(filter::compile).transpose() {
                    Ok(re) => {
                        f.pattern = re;
                        self.pattern_text = p;
                        self.error = None;
                        self.refilter(f);
                    }
                    Err(e) => self.error = Some(e),
                }
            }
            LogsCommand::SetSearch(p) => match p
                .filter(|p| !p.is_empty())
                .as_deref()
                .map(filter::compile)
                .transpose()
            {
                Ok(re) => {
                    self.search = re;
                    self.error = None;
                    if self.search.is_some() {
                        self.jump(true, Jump::Search);
                    }
                }
                Err(e) => self.error = Some(e),
            },
            LogsCommand::SearchNext => self.jump(true, Jump::Search),
            LogsCommand::SearchPrev => self.jump(false, Jump::Search),
            LogsCommand::NextError => self.jump(true, Jump::Error),
            LogsCommand::PrevError => self.jump(false, Jump::Error),
            LogsCommand::Export(path) => self.export(path),
            LogsCommand::Revive => {
                let mut revived = 0;
                for s in &mut self.sources {
                    revived += usize::from(s.revive());
                }
                self.notice = Some(match revived {
                    0 => "every source is following: nothing to restart".into(),
                    1 => "restarting 1 stopped source".into(),
                    n => format!("restarting {n} stopped sources"),
                });
            }
        }
    }

    fn source_mut(&mut self, id: SourceId) -> Option<&mut Source> {
        self.sources.iter_mut().find(|s| s.view.id == id)
    }

    /// Drop a source whose container was removed, with the sources that belong to that
    /// container. Their lines stay in the buffer, still named.
    fn remove(&mut self, id: SourceId) {
        let Some(owner) = self
            .sources
            .iter()
            .find(|s| s.view.id == id)
            .map(|s| s.owner.clone())
        else {
            return;
        };
        let (gone, kept): (Vec<Source>, Vec<Source>) = std::mem::take(&mut self.sources)
            .into_iter()
            .partition(|s| s.view.id == id || (owner.is_some() && s.owner == owner));
        self.sources = kept;
        for s in gone {
            s.task.abort();
            if s.view.lines > 0 {
                self.gone.push((s.view.id, s.view.name.clone()));
            }
        }
    }

    fn add_source(&mut self, spec: SourceSpec, owner: Option<String>) {
        let key = spec.key();
        if let Some(same) = self
            .sources
            .iter_mut()
            .find(|s| key.is_some() && s.key == key)
        {
            // Found again: already followed, or stopped and worth another try.
            same.revive();
            return;
        }
        let id = SourceId(self.next_id);
        self.next_id = self.next_id.wrapping_add(1);
        let owner = match &spec {
            SourceSpec::Container { container, .. } => Some(container.clone()),
            _ => owner,
        };
        let name = spec.name().to_string();
        let tx = self.feed_tx.clone();
        let (revive, revived) = watch::channel(0u64);
        let revivable = matches!(
            spec,
            SourceSpec::Container { .. } | SourceSpec::File { .. } | SourceSpec::OdooLogfile { .. }
        );
        let task =
            match spec {
                SourceSpec::Container {
                    target,
                    container,
                    since_ms,
                    ..
                } => tokio::spawn(follow::container(
                    target,
                    container,
                    since_ms,
                    HISTORY_LINES,
                    id,
                    tx,
                    revived,
                )),
                SourceSpec::File {
                    target,
                    path,
                    format,
                    ..
                } => tokio::spawn(follow::file(
                    target,
                    path,
                    format,
                    HISTORY_LINES,
                    id,
                    tx,
                    revived,
                )),
                SourceSpec::OdooLogfile { target, conf, .. } => tokio::spawn(
                    follow::odoo_logfile_of(target, conf, HISTORY_LINES, id, tx, revived),
                ),
                SourceSpec::Notice { text, .. } => tokio::spawn(async move {
                    let _ = tx.send(Feed::Status(id, SourceStatus::Notice(text))).await;
                }),
                SourceSpec::Bytes { format, chunks, .. } => {
                    tokio::spawn(follow::bytes(chunks, format, id, tx))
                }
            };
        self.sources.push(Source {
            view: SourceView {
                id,
                name,
                status: SourceStatus::Starting,
                lines: 0,
                hidden: false,
            },
            task,
            key,
            owner,
            revive: revivable.then_some(revive),
        });
    }

    fn set_follow(&mut self, follow: bool) {
        if !follow && self.follow {
            let first = self.first();
            self.set_top(first);
        }
        self.follow = follow;
        if follow {
            self.cursor_abs = None;
        }
    }

    fn set_top(&mut self, first: usize) {
        self.top_abs = self.store.view_abs(first).unwrap_or(self.store.received());
    }

    /// View position of the window's first entry.
    fn first(&self) -> usize {
        let n = self.store.view_len();
        if self.follow {
            n.saturating_sub(self.height)
        } else {
            self.store
                .view_position(self.top_abs)
                .min(n.saturating_sub(1))
        }
    }

    fn refilter(&mut self, filter: Filter) {
        // Keep the entry at the top (or the cursor) in sight across the change.
        let keep = self.cursor_abs.or((!self.follow).then_some(self.top_abs));
        self.store.set_filter(filter);
        if let Some(abs) = keep {
            let at = self.store.view_position(abs);
            self.set_top(self.top_showing(at));
        }
    }

    /// The first entry of a window that shows entry `at` a third of the way down: the
    /// entries above it fill at most a third of the rows. Counted in rows, not entries, so
    /// a long traceback above a match cannot push the match off the screen.
    fn top_showing(&self, at: usize) -> usize {
        let budget = self.height / 3;
        let (mut top, mut used) = (at, 0);
        while top > 0 {
            let rows = self.store.view_line(top - 1).map_or(1, LogLine::rows);
            if used + rows > budget {
                break;
            }
            used += rows;
            top -= 1;
        }
        top
    }

    fn jump(&mut self, forward: bool, what: Jump) {
        let from = match self.cursor_abs {
            Some(abs) => {
                let at = self.store.view_position(abs);
                // `view_position` gives the next entry when the cursor was filtered out.
                if self.store.view_abs(at) == Some(abs) || !forward {
                    Some(at)
                } else {
                    at.checked_sub(1)
                }
            }
            None if forward => self.first().checked_sub(1),
            None => Some(self.first() + self.height),
        };
        let search = self.search.clone();
        let found = match what {
            Jump::Error => self.store.find(from, forward, LogLine::is_error),
            Jump::Search => match &search {
                Some(re) => self.store.find(from, forward, |l| re.is_match(l.text())),
                None => {
                    self.notice = Some("no search: press / and type a pattern".into());
                    return;
                }
            },
        };
        match found {
            Some(at) => {
                self.follow = false;
                self.cursor_abs = self.store.view_abs(at);
                self.set_top(self.top_showing(at));
            }
            None => {
                let what = match what {
                    Jump::Error => "error",
                    Jump::Search => "match",
                };
                let dir = if forward { "below" } else { "above" };
                self.notice = Some(format!("no {what} {dir}"));
            }
        }
    }

    fn export(&mut self, path: PathBuf) {
        let names: Vec<String> = self.sources.iter().map(|s| s.view.name.clone()).collect();
        match super::export::write(&path, self.store.view_iter(), &names, names.len() > 1) {
            Ok(n) => {
                self.notice = Some(format!("exported {n} entries to {}", path.display()));
                self.error = None;
            }
            Err(e) => self.error = Some(format!("could not export to {}: {e}", path.display())),
        }
    }

    fn publish(&mut self) {
        self.dirty = false;
        self.generation += 1;
        let first = self.first();
        let end = (first + self.height).min(self.store.view_len());
        let window = (first..end)
            .filter_map(|i| {
                let line = self.store.view_line(i)?;
                let matches = self
                    .search
                    .as_ref()
                    .map(|re| filter::match_ranges(re, line.text()))
                    .unwrap_or_default();
                Some(WindowLine {
                    index: i,
                    line: line.clone(),
                    matches,
                })
            })
            .collect();
        let cursor = self.cursor_abs.and_then(|abs| {
            let at = self.store.view_position(abs);
            (self.store.view_abs(at) == Some(abs)).then_some(at)
        });
        let snapshot = LogsSnapshot {
            generation: self.generation,
            sources: self.sources.iter().map(|s| s.view.clone()).collect(),
            buffered: self.store.len(),
            matching: self.store.view_len(),
            received: self.store.received(),
            evicted: self.store.evicted(),
            capacity: self.capacity,
            follow: self.follow,
            window,
            cursor,
            min_level: self.store.filter().min_level,
            pattern: self.pattern_text.clone(),
            search: self.search.as_ref().map(|r| r.as_str().to_string()),
            error: self.error.clone(),
            notice: self.notice.clone(),
            gone: self.gone.clone(),
        };
        self.snapshots.send_replace(Arc::new(snapshot));
    }
}

#[derive(Clone, Copy)]
enum Jump {
    Search,
    Error,
}
