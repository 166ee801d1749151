//! The Checks pane: the 502 checklist step by step or all at once, each check with what it
//! ran, its evidence, verdict, cause and fix; re-run one; apply a safe fix after seeing its
//! diff and confirming (never in --readonly).

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Position, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Wrap};

use super::{PaneContext, PaneId};
use crate::checks::apply::Applied;
use crate::checks::model::{ApplyAction, CheckResult, Fix, Report, Verdict};
use crate::config::Theme;
use crate::config::keymap::Action;
use crate::jobs::DropReason;
use crate::nginx::NginxInvocation;
use crate::tui::effect::Effect;
use crate::tui::message::JobUpdate;

/// A fix waiting for the operator's yes or no.
#[derive(Debug, Clone, PartialEq)]
pub struct PendingFix {
    pub check: &'static str,
    pub fix: Fix,
}

/// What the pane's background work is doing. One at a time is asked for; a request made
/// while another runs waits in the job runner and its stage is shown at once.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Stage {
    #[default]
    Idle,
    /// A whole diagnosis; with `stepping`, its report is revealed one check at a time.
    Diagnosing { stepping: bool },
    /// One check run again alone.
    Rerunning(&'static str),
    /// A confirmed fix, `waiting` behind the job that runs, then applied; a fresh
    /// diagnosis follows it.
    Applying { waiting: bool },
}

/// Where the checks are drawn: the list (its header lines, then one row per check from
/// `first`, `room` of them) and the evidence or confirmation below it.
struct CheckRows {
    list_area: Rect,
    detail_area: Option<Rect>,
    header_rows: usize,
    first: usize,
    room: usize,
}

#[derive(Debug, Clone, Default)]
pub struct ChecksPane {
    pub report: Option<Report>,
    /// How the diagnosed nginx is invoked, for applying fixes.
    pub nginx: Option<NginxInvocation>,
    /// How many checks are shown: all after "run all", one more per step.
    pub revealed: usize,
    pub selected: usize,
    pub stage: Stage,
    pub evidence_open: bool,
    pub confirm: Option<PendingFix>,
    pub last_apply: Option<Result<Applied, String>>,
    pub error: Option<String>,
    pub notice: Option<String>,
    pub readonly: bool,
}

impl ChecksPane {
    pub fn new(readonly: bool) -> Self {
        ChecksPane {
            readonly,
            ..Default::default()
        }
    }

    /// Keys go to the Confirm context while a fix waits for an answer.
    pub fn confirming(&self) -> bool {
        self.confirm.is_some()
    }

    fn visible(&self) -> &[CheckResult] {
        match &self.report {
            Some(r) => &r.checks[..self.revealed.min(r.checks.len())],
            None => &[],
        }
    }

    pub fn selected_check(&self) -> Option<&CheckResult> {
        self.visible().get(self.selected)
    }

    /// Esc: close the evidence if it is open.
    pub fn back(&mut self) -> Option<Vec<Effect>> {
        std::mem::take(&mut self.evidence_open).then(Vec::new)
    }

    pub fn on_action(&mut self, action: Action) -> Vec<Effect> {
        self.notice = None;
        if self.confirm.is_some() {
            match action {
                Action::Confirm => {
                    let pending = self.confirm.take().expect("checked");
                    if let (Some(apply), Some(nginx)) = (pending.fix.apply, self.nginx.clone()) {
                        // Whatever runs now finishes first; the runner says when the fix starts.
                        self.stage = Stage::Applying {
                            waiting: self.stage != Stage::Idle,
                        };
                        return vec![Effect::ApplyFix(apply, nginx)];
                    }
                }
                Action::Cancel => {
                    self.confirm = None;
                    self.notice = Some("fix not applied".into());
                }
                _ => {}
            }
            return Vec::new();
        }
        let last = self.visible().len().saturating_sub(1);
        match action {
            Action::Up => self.selected = self.selected.saturating_sub(1),
            Action::Down => self.selected = (self.selected + 1).min(last),
            Action::PageUp => self.selected = self.selected.saturating_sub(10),
            Action::PageDown => self.selected = (self.selected + 10).min(last),
            Action::Top => self.selected = 0,
            Action::Bottom => self.selected = last,
            Action::ChecksRunAll | Action::Refresh => return self.run(false),
            Action::ChecksStep => {
                let total = self.report.as_ref().map_or(0, |r| r.checks.len());
                let diagnosing = matches!(self.stage, Stage::Diagnosing { .. });
                if self.report.is_some() && self.revealed < total && !diagnosing {
                    self.revealed += 1;
                    self.selected = self.revealed - 1;
                } else {
                    return self.run(true);
                }
            }
            Action::ChecksRerun => {
                if let Some(c) = self.selected_check() {
                    let id = c.id;
                    if let Some(busy) = self.busy() {
                        self.notice = Some(format!("{busy}: {id} is not re-run alone"));
                    } else {
                        self.stage = Stage::Rerunning(id);
                        return vec![Effect::RerunCheck(id)];
                    }
                }
            }
            Action::ChecksEvidence => {
                self.evidence_open = !self.evidence_open && self.selected_check().is_some();
            }
            Action::ChecksApplyFix => self.offer_fix(),
            _ => {}
        }
        Vec::new()
    }

    /// What the work in progress is, when a request would only repeat or upset it.
    fn busy(&self) -> Option<&'static str> {
        match self.stage {
            Stage::Idle => None,
            Stage::Diagnosing { .. } => Some("a diagnosis is running"),
            Stage::Rerunning(_) => Some("a check is being re-run"),
            Stage::Applying { .. } => Some("a fix is being applied (a diagnosis follows)"),
        }
    }

    fn run(&mut self, stepping: bool) -> Vec<Effect> {
        match self.stage {
            // The running diagnosis brings fresh results; only how they are shown changes.
            Stage::Diagnosing { .. } => {
                self.stage = Stage::Diagnosing { stepping };
                Vec::new()
            }
            Stage::Applying { .. } => {
                self.notice = self.busy().map(String::from);
                Vec::new()
            }
            // A re-run in flight: the diagnosis waits for it in the job runner.
            Stage::Idle | Stage::Rerunning(_) => {
                self.stage = Stage::Diagnosing { stepping };
                vec![Effect::RunChecks]
            }
        }
    }

    fn offer_fix(&mut self) {
        let Some(check) = self.selected_check() else {
            return;
        };
        let (id, fix) = (check.id, check.outcome.fix.clone());
        if self.readonly {
            self.notice = Some("read-only: fixes are not offered".into());
            return;
        }
        if let Stage::Applying { .. } = self.stage {
            self.notice = self.busy().map(String::from);
            return;
        }
        match fix {
            Some(fix) if fix.apply.is_some() && self.nginx.is_some() => {
                self.evidence_open = true;
                self.confirm = Some(PendingFix { check: id, fix });
            }
            Some(_) => {
                self.notice =
                    Some("this fix is not mechanical: do it by hand (see evidence)".into())
            }
            None => self.notice = Some("no fix to apply".into()),
        }
    }

    /// A whole diagnosis arrived.
    /// A fix waiting behind this diagnosis keeps the pane applying.
    pub fn apply_report(&mut self, result: Result<(Report, NginxInvocation), String>) {
        let stepping = self.stage == Stage::Diagnosing { stepping: true };
        if let Stage::Diagnosing { .. } = self.stage {
            self.stage = Stage::Idle;
        }
        match result {
            Ok((report, nginx)) => {
                let total = report.checks.len();
                self.revealed = if stepping { 1 } else { total };
                self.selected = if stepping {
                    0
                } else {
                    self.selected.min(total.saturating_sub(1))
                };
                self.report = Some(failures_first(report, stepping));
                self.nginx = Some(nginx);
                self.error = None;
            }
            Err(e) => self.error = Some(e),
        }
    }

    /// One re-run check arrived: it replaces its old result; the summary is recomputed.
    /// A diagnosis asked for meanwhile keeps the pane diagnosing.
    pub fn apply_rerun(&mut self, result: Result<CheckResult, String>) {
        if let Stage::Rerunning(_) = self.stage {
            self.stage = Stage::Idle;
        }
        match result {
            Ok(fresh) => {
                if let Some(report) = &mut self.report {
                    let mut checks = report.checks.clone();
                    if let Some(slot) = checks.iter_mut().find(|c| c.id == fresh.id) {
                        *slot = fresh;
                    }
                    *report = Report::new(report.target.clone(), checks, report.timings.clone());
                }
            }
            Err(e) => self.error = Some(e),
        }
    }

    /// The fix ran; its job goes on with a fresh diagnosis.
    pub fn apply_fix_result(&mut self, result: Result<Applied, String>) {
        self.stage = Stage::Diagnosing { stepping: false };
        self.last_apply = Some(result);
    }

    /// Where a request of this pane stands in the job runner.
    pub fn on_job(&mut self, effect: &Effect, update: JobUpdate) {
        match (effect, update) {
            (Effect::ApplyFix(..), JobUpdate::Started) => {
                self.stage = Stage::Applying { waiting: false }
            }
            (Effect::ApplyFix(..), JobUpdate::Dropped(reason)) => {
                self.notice = Some(format!("fix NOT applied: {}", dropped(reason)));
                if let Stage::Applying { .. } = self.stage {
                    self.stage = Stage::Idle;
                }
            }
            // Cancelled: nothing more will come. Replaced: the newer request set the stage.
            (_, JobUpdate::Dropped(DropReason::Cancelled)) => {
                self.notice = Some(dropped(DropReason::Cancelled).into());
                self.stage = Stage::Idle;
            }
            _ => {}
        }
    }

    pub fn draw(&self, frame: &mut Frame, area: Rect, ctx: &PaneContext) {
        let theme = ctx.theme;
        let note = match self.stage {
            Stage::Applying { waiting: true } => Some(Span::styled(
                " fix waits for the running check… ",
                theme.warn(),
            )),
            Stage::Applying { waiting: false } => Some(Span::styled(" applying… ", theme.warn())),
            Stage::Diagnosing { .. } => Some(Span::styled(" running… ", theme.muted())),
            Stage::Rerunning(id) => {
                Some(Span::styled(format!(" re-running {id}… "), theme.muted()))
            }
            Stage::Idle => {
                // The title's left part (` 5 Checks `) and the corners take the rest.
                let room = (area.width as usize).saturating_sub(PaneId::Checks.title().len() + 8);
                self.report
                    .as_ref()
                    .and_then(|r| counts_note(r, room))
                    .map(|note| Span::styled(note, theme.muted()))
            }
        };
        let block = ctx.block(PaneId::Checks, area.width, note);
        let inner = block.inner(area);
        frame.render_widget(block, area);
        let (rows, mut lines) = self.list_layout(inner, ctx);
        lines.extend(self.check_lines(ctx, rows.first, rows.room));
        let list = Paragraph::new(lines);
        // Before the first run the pane is prose; afterwards one row per check, cut at
        // the edge so the selection arithmetic stays one row per line.
        let list = if self.report.is_none() {
            list.wrap(Wrap { trim: false })
        } else {
            list
        };
        frame.render_widget(list, rows.list_area);
        let detail_area = rows.detail_area;
        if let Some(detail) = detail_area {
            let lines = match &self.confirm {
                Some(p) => confirm_lines(p, ctx),
                None => self
                    .selected_check()
                    .map(|c| evidence_lines(c, ctx))
                    .unwrap_or_default(),
            };
            frame.render_widget(Paragraph::new(lines).wrap(Wrap { trim: false }), detail);
        }
    }

    /// The lines above the checks: errors, notices, the root cause (wrapped to `width`)
    /// and the key hints.
    fn header_lines(&self, ctx: &PaneContext, width: usize) -> Vec<Line<'static>> {
        let (theme, readonly) = (ctx.theme, ctx.readonly);
        let mut lines = Vec::new();
        if let Some(e) = &self.error {
            lines.push(Line::from(vec![
                Span::styled("diagnosis failed: ", theme.error()),
                Span::styled(e.clone(), theme.text()),
            ]));
        }
        if let Some(n) = &self.notice {
            lines.push(Line::from(Span::styled(n.clone(), theme.warn())));
        }
        if let Some(applied) = &self.last_apply {
            lines.push(match applied {
                Ok(a) if a.success => Line::from(Span::styled(
                    format!("fix applied: {}", a.steps.join(" · ")),
                    theme.ok(),
                )),
                Ok(a) => Line::from(Span::styled(
                    format!("fix NOT applied: {}", a.steps.join(" · ")),
                    theme.error(),
                )),
                Err(e) => Line::from(Span::styled(format!("fix failed: {e}"), theme.error())),
            });
        }
        let Some(report) = &self.report else {
            let hint = if let Stage::Diagnosing { .. } = self.stage {
                "Running the checklist…".to_string()
            } else {
                format!(
                    "No diagnosis yet: {} runs every check, {} steps through them one at a time.",
                    ctx.key(Action::ChecksRunAll),
                    ctx.key(Action::ChecksStep)
                )
            };
            lines.push(Line::from(Span::styled(hint, theme.muted())));
            return lines;
        };
        match &report.root_cause {
            Some(c) => {
                // Wrapped under itself, whole: the one sentence the operator came for.
                const LABEL: &str = "ROOT CAUSE ";
                let rows = wrap_words(&c.sentence, width.saturating_sub(LABEL.len()).max(20));
                for (i, row) in rows.into_iter().enumerate() {
                    let label = if i == 0 {
                        Span::styled(LABEL, theme.error())
                    } else {
                        Span::raw(" ".repeat(LABEL.len()))
                    };
                    lines.push(Line::from(vec![label, Span::styled(row, theme.text())]));
                }
            }
            None if self.revealed >= report.checks.len() && report.counts.fail == 0 => {
                lines.push(Line::from(Span::styled("No problem found.", theme.ok())))
            }
            None => {}
        }
        let mut hints = vec![
            (Action::ChecksStep, "step"),
            (Action::ChecksRunAll, "run all"),
            (Action::ChecksRerun, "re-run"),
            (Action::ChecksEvidence, "evidence"),
        ];
        if !readonly {
            hints.push((Action::ChecksApplyFix, "apply fix"));
        }
        let keys = ctx.hints(&hints);
        lines.push(Line::from(Span::styled(keys, theme.muted())));
        lines
    }

    /// Where the list and the evidence go inside the pane's borders, the header lines, and
    /// which checks fit under them: one rule for drawing and for a click.
    fn list_layout(&self, inner: Rect, ctx: &PaneContext) -> (CheckRows, Vec<Line<'static>>) {
        let (list_area, detail_area) = if self.evidence_open || self.confirm.is_some() {
            let [a, b] = Layout::vertical([Constraint::Percentage(45), Constraint::Percentage(55)])
                .areas(inner);
            (a, Some(b))
        } else {
            (inner, None)
        };
        let header = self.header_lines(ctx, list_area.width as usize);
        // Keep the selection in view.
        let room = (list_area.height as usize)
            .saturating_sub(header.len())
            .max(1);
        let rows = CheckRows {
            list_area,
            detail_area,
            header_rows: header.len(),
            first: self.selected.saturating_sub(room.saturating_sub(1)),
            room,
        };
        (rows, header)
    }

    /// The check a click at `at` lands on, in a pane drawn in `area`.
    pub fn row_at(&self, area: Rect, ctx: &PaneContext, at: Position) -> Option<usize> {
        self.report.as_ref()?;
        let inner = ctx.block(PaneId::Checks, area.width, None).inner(area);
        let (rows, _) = self.list_layout(inner, ctx);
        if !rows.list_area.contains(at) {
            return None;
        }
        let row = usize::from(at.y - rows.list_area.y).checked_sub(rows.header_rows)?;
        let index = rows.first + row;
        (row < rows.room && index < self.visible().len()).then_some(index)
    }

    /// Select the check a click landed on.
    pub fn click(&mut self, index: usize) {
        if index < self.visible().len() {
            self.selected = index;
        }
    }

    fn check_lines(&self, ctx: &PaneContext, start: usize, room: usize) -> Vec<Line<'static>> {
        let (theme, readonly) = (ctx.theme, ctx.readonly);
        let mut lines = Vec::new();
        for (i, c) in self.visible().iter().enumerate().skip(start).take(room) {
            let selected = i == self.selected;
            let base = if selected {
                theme.selection()
            } else {
                Style::default()
            };
            let mark = if c.outcome.fix.as_ref().is_some_and(|f| f.apply.is_some()) && !readonly {
                " [fix]"
            } else {
                ""
            };
            lines.push(Line::from(vec![
                Span::styled(
                    format!("[{}]", c.outcome.verdict.label()),
                    verdict_style(c.outcome.verdict, theme).patch(base),
                ),
                Span::styled(format!(" {:<24}", c.id), theme.muted().patch(base)),
                Span::styled(format!(" {}: ", c.title), theme.text().patch(base)),
                Span::styled(c.outcome.summary.clone(), theme.text().patch(base)),
                Span::styled(mark, theme.accent().patch(base)),
            ]));
        }
        lines
    }
}

fn dropped(reason: DropReason) -> &'static str {
    match reason {
        DropReason::Replaced { .. } => "replaced by a newer request before it ran",
        DropReason::Cancelled => "cancelled",
    }
}

pub fn verdict_style(v: Verdict, theme: &Theme) -> Style {
    match v {
        Verdict::Pass => theme.ok(),
        Verdict::Warn => theme.warn(),
        Verdict::Fail => theme.error(),
        Verdict::Skipped => theme.muted(),
    }
}

fn diff_lines(diff: &str, theme: &Theme) -> Vec<Line<'static>> {
    diff.lines()
        .map(|l| {
            let style = if l.starts_with('+') && !l.starts_with("+++") {
                theme.ok()
            } else if l.starts_with('-') && !l.starts_with("---") {
                theme.error()
            } else {
                theme.muted()
            };
            Line::from(Span::styled(format!("  {l}"), style))
        })
        .collect()
}

fn evidence_lines(c: &CheckResult, ctx: &PaneContext) -> Vec<Line<'static>> {
    let (theme, readonly) = (ctx.theme, ctx.readonly);
    let o = &c.outcome;
    let mut lines = vec![Line::from(vec![
        Span::styled(
            format!("[{}] ", o.verdict.label()),
            verdict_style(o.verdict, theme),
        ),
        Span::styled(format!("{} — {}", c.id, c.title), theme.title(true)),
    ])];
    lines.push(Line::from(Span::styled(
        format!("looks at: {}", c.runs),
        theme.muted(),
    )));
    for ran in &o.evidence.ran {
        lines.push(Line::from(vec![
            Span::styled("ran: ", theme.muted()),
            Span::styled(ran.clone(), theme.text()),
        ]));
    }
    // A multi-line piece (an HTML error page) keeps its rows and their indentation.
    for row in o.evidence.lines.iter().flat_map(|l| l.lines()) {
        let row = row.trim_end_matches('\r').replace('\t', "    ");
        lines.push(Line::from(Span::styled(format!("  │ {row}"), theme.text())));
    }
    if let Some(cause) = &o.cause {
        lines.push(Line::from(vec![
            Span::styled("cause: ", verdict_style(o.verdict, theme)),
            Span::styled(cause.clone(), theme.text()),
        ]));
    }
    if let Some(fix) = &o.fix {
        lines.push(Line::from(vec![
            Span::styled("fix: ", theme.accent()),
            Span::styled(fix.summary.clone(), theme.text()),
        ]));
        if let Some(cmd) = &fix.command {
            lines.push(Line::from(Span::styled(format!("  $ {cmd}"), theme.text())));
        }
        if let Some(diff) = &fix.diff {
            lines.extend(diff_lines(diff, theme));
        }
        if fix.apply.is_some() && !readonly {
            lines.push(Line::from(Span::styled(
                format!(
                    "{} applies it: diff, confirmation, backup, nginx -t, reload (reverted if nginx -t fails)",
                    ctx.key(Action::ChecksApplyFix)
                ),
                theme.muted(),
            )));
        }
    }
    lines
}

fn confirm_lines(p: &PendingFix, ctx: &PaneContext) -> Vec<Line<'static>> {
    let theme = ctx.theme;
    let what = match &p.fix.apply {
        Some(ApplyAction::EditNginxFile { path, .. }) => format!(
            "Write {} (a backup is kept), run nginx -t, reload; revert if nginx -t fails?",
            path.display()
        ),
        Some(ApplyAction::ReloadNginx) => "Run nginx -t, then reload nginx?".to_string(),
        Some(ApplyAction::RestartContainer { container }) => {
            format!("Restart the container {container}?")
        }
        None => String::new(),
    };
    let mut lines = vec![
        Line::from(Span::styled(
            format!("Apply the fix for {}", p.check),
            theme.warn(),
        )),
        Line::from(Span::styled(p.fix.summary.clone(), theme.text())),
    ];
    if let Some(diff) = &p.fix.diff {
        lines.extend(diff_lines(diff, theme));
    }
    if let Some(cmd) = &p.fix.command {
        lines.push(Line::from(Span::styled(format!("  $ {cmd}"), theme.text())));
    }
    lines.push(Line::from(Span::styled(what, theme.warn())));
    lines.push(Line::from(Span::styled(
        ctx.hints(&[(Action::Confirm, "apply"), (Action::Cancel, "cancel")]),
        theme.accent(),
    )));
    lines
}

/// The report's checks with failures, then warnings, first (each group in run order), so
/// that what is wrong is at the top of the list. Stepping keeps the run order: its point
/// is to follow the checklist.
fn failures_first(mut report: Report, stepping: bool) -> Report {
    if !stepping {
        report.checks.sort_by_key(|c| match c.outcome.verdict {
            Verdict::Fail => 0,
            Verdict::Warn => 1,
            Verdict::Pass => 2,
            Verdict::Skipped => 3,
        });
    }
    report
}

/// The counts for the title, in the longest form that fits `room` columns; the numbers
/// are never cut (failures and warnings are kept longest). `None` when even the
/// failures do not fit.
fn counts_note(r: &Report, room: usize) -> Option<String> {
    let c = &r.counts;
    [
        format!(
            " {} fail · {} warn · {} pass · {} skipped · {:.0} ms ",
            c.fail, c.warn, c.pass, c.skipped, r.timings.total_ms
        ),
        format!(
            " {} fail · {} warn · {} pass · {} skipped ",
            c.fail, c.warn, c.pass, c.skipped
        ),
        format!(" {} fail · {} warn · {} pass ", c.fail, c.warn, c.pass),
        format!(" {} fail · {} warn ", c.fail, c.warn),
        format!(" {} fail ", c.fail),
    ]
    .into_iter()
    .find(|note| note.chars().count() <= room)
}

/// `text` in rows of at most `width` characters, broken between words (a word longer
/// than a row is cut).
fn wrap_words(text: &str, width: usize) -> Vec<String> {
    let width = width.max(1);
    let mut rows = vec![String::new()];
    for word in text.split_whitespace() {
        let mut word: Vec<char> = word.chars().collect();
        loop {
            let row = rows.last_mut().expect("one row");
            let used = row.chars().count();
            let gap = usize::from(used > 0);
            if used + gap + word.len() <= width {
                if gap == 1 {
                    row.push(' ');
                }
                row.extend(word.iter());
                break;
            }
            if used > 0 {
                rows.push(String::new());
                continue;
            }
            let rest = word.split_off(width);
            row.extend(word.iter());
            rows.push(String::new());
            word = rest;
        }
    }
    if rows.len() > 1 && rows.last().is_some_and(String::is_empty) {
        rows.pop();
    }
    rows
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_wrap_at_spaces_and_long_words_are_cut() {
        assert_eq!(
            wrap_words("nginx routes /websocket to", 12),
            ["nginx routes", "/websocket", "to"]
        );
        assert_eq!(wrap_words("abcdefghij", 4), ["abcd", "efgh", "ij"]);
        assert_eq!(wrap_words("", 4), [""]);
    }
}
