//! Drawing the bootstrap wizard over the panes: the form (each field with its value and,
//! beside it, what is wrong with it), then the steps as they run, a failure with what was
//! done and how to go on or undo. A function of [`BootstrapWizard`] and nothing else.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, BorderType, Borders, Clear, Paragraph};

use super::PaneContext;
use crate::bootstrap::answers::Field;
use crate::bootstrap::steps::Step;
use crate::config::keymap::Action;
use crate::tui::format::wrap_words;
use crate::tui::wizard::steps::{Busy, StepState};
use crate::tui::wizard::{Account, BootstrapWizard, Stage};

/// Cells for a field's label, and for its value before the error beside it.
const LABEL: usize = 14;
const VALUE: usize = 34;

pub fn draw(frame: &mut Frame, area: Rect, app: &crate::tui::app::App) {
    let ctx = PaneContext {
        theme: &app.theme,
        keymap: &app.keymap,
        focused: true,
        readonly: app.readonly,
        // About a droplet still to be made, not the host the console is on.
        host: "",
    };
    draw_wizard(frame, area, &app.bootstrap, &ctx);
}

pub fn draw_wizard(frame: &mut Frame, area: Rect, wizard: &BootstrapWizard, ctx: &PaneContext) {
    frame.render_widget(Clear, area);
    let title = match wizard.stage {
        Stage::Steps => format!(" Bootstrap {} ", wizard.form.value(Field::Name)),
        _ if wizard.amending.is_some() => format!(
            " Bootstrap {}: step 1 again ",
            wizard.form.value(Field::Name)
        ),
        _ => " Bootstrap a new droplet ".to_string(),
    };
    let note = match wizard.steps.busy {
        Some(Busy::Running) => " running… ",
        Some(Busy::Undoing) => " undoing… ",
        Some(Busy::GoingBack(_)) => " going back… ",
        None => "",
    };
    let block = Block::default()
        .borders(Borders::ALL)
        .border_type(BorderType::Thick)
        .border_style(ctx.theme.border(true))
        .style(ctx.theme.text())
        .title(Span::styled(title, ctx.theme.title(true)))
        .title(Line::from(Span::styled(note, ctx.theme.warn())).right_aligned());
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let [body, hints] = Layout::vertical([Constraint::Min(0), Constraint::Length(1)]).areas(inner);
    let width = body.width as usize;
    let (lines, hint) = match wizard.stage {
        Stage::Form | Stage::Confirming => {
            (form_lines(wizard, ctx, width), form_hints(wizard, ctx))
        }
        Stage::Steps => (
            steps_lines(wizard, ctx, width, body.height as usize),
            steps_hints(wizard, ctx),
        ),
    };
    frame.render_widget(Paragraph::new(lines), body);
    frame.render_widget(Paragraph::new(Span::styled(hint, ctx.theme.muted())), hints);
}

fn label(field: Field) -> &'static str {
    match field {
        Field::Name => "name",
        Field::Region => "region",
        Field::Size => "size",
        Field::SshKey => "SSH key",
        Field::Domain => "domain",
        Field::Image => "Odoo image",
        Field::Tag => "Odoo tag",
        Field::ModulesPlan => "modules plan",
        Field::AdminEmail => "admin e-mail",
    }
}

/// What the selected field is for, when the account offers nothing for it.
fn about(field: Field) -> &'static str {
    match field {
        Field::Name => "the droplet's name, also its host name",
        Field::Domain => "the site's domain; its A record is pointed at the droplet",
        Field::Image => "the Odoo image the stack runs (e.g. odoo)",
        Field::Tag => "the image's tag (e.g. 18.0)",
        Field::ModulesPlan => "optional: a .toml module plan installed after the stack is up",
        Field::AdminEmail => "the contact for the TLS certificate (Let's Encrypt)",
        Field::Region | Field::Size | Field::SshKey => "",
    }
}

/// `text` cut or padded to `width` cells.
fn fit(text: &str, width: usize) -> String {
    let cut: String = text.chars().take(width).collect();
    format!("{cut:<width$}")
}

fn wrapped(text: &str, width: usize, style: Style) -> Vec<Line<'static>> {
    text.lines()
        .flat_map(|l| wrap_words(l, width.max(20)))
        .map(|l| Line::from(Span::styled(l, style)))
        .collect()
}

fn form_lines(wizard: &BootstrapWizard, ctx: &PaneContext, width: usize) -> Vec<Line<'static>> {
    let theme = ctx.theme;
    let form = &wizard.form;
    let intro = if wizard.amending.is_some() {
        "Step 1 of 8 again, for this bootstrap: answers a done step holds are read-only; a \
         changed answer runs the steps that use it again. Each field is checked as it is typed."
    } else {
        "Step 1 of 8: choose. Each field is checked as it is typed."
    };
    let mut lines = wrapped(intro, width, theme.muted());
    for (i, field) in Field::ALL.into_iter().enumerate() {
        let selected = i == form.selected;
        let locked = form.locked[i].is_some();
        let mut spans = vec![
            Span::styled(if selected { "▶ " } else { "  " }, theme.accent()),
            Span::styled(fit(label(field), LABEL), theme.title(selected)),
        ];
        let value = form.value(field);
        if locked {
            // Shown, never typed into: the reason is under the form when it is selected.
            spans.push(Span::styled(fit(value, VALUE), theme.muted()));
            spans.push(Span::styled(" · read-only", theme.muted()));
            lines.push(Line::from(spans));
            continue;
        }
        if selected {
            let (before, after) = form.input.split_at_cursor();
            let used = before.chars().count() + after.chars().count() + 1;
            spans.push(Span::styled(before.to_string(), theme.text()));
            spans.push(Span::styled("▏", theme.accent()));
            spans.push(Span::styled(
                format!("{after}{}", " ".repeat(VALUE.saturating_sub(used))),
                theme.text(),
            ));
        } else if value.is_empty() {
            let empty = if field.required() {
                "(required)"
            } else {
                "(optional)"
            };
            spans.push(Span::styled(fit(empty, VALUE), theme.muted()));
        } else {
            spans.push(Span::styled(fit(value, VALUE), theme.text()));
        }
        // The error beside the field, as soon as its value breaks the rule; what does not
        // fit beside it goes on under itself, never cut.
        let beside = 2 + LABEL + VALUE + 3;
        match form.error(field) {
            Some(error) if !value.is_empty() => {
                let parts = wrap_words(&error, width.saturating_sub(beside).max(20));
                for (i, part) in parts.into_iter().enumerate() {
                    if i == 0 {
                        spans.push(Span::styled(format!(" ✗ {part}"), theme.error()));
                        lines.push(Line::from(std::mem::take(&mut spans)));
                    } else {
                        lines.push(Line::from(Span::styled(
                            format!("{}{part}", " ".repeat(beside)),
                            theme.error(),
                        )));
                    }
                }
            }
            None if !value.is_empty() => spans.push(Span::styled(" ✓", theme.ok())),
            _ => {}
        }
        if !spans.is_empty() {
            lines.push(Line::from(spans));
        }
    }
    lines.push(Line::default());
    let field = form.field();
    let choices_line = match (&wizard.account, field) {
        _ if form.locked_why().is_some() => {
            let why = form.locked_why().unwrap_or_default();
            lines.extend(wrapped(
                &format!("{} is read-only: {why}", label(field)),
                width,
                theme.warn(),
            ));
            Line::default()
        }
        (_, Field::Name | Field::Domain | Field::Image | Field::Tag)
        | (_, Field::ModulesPlan | Field::AdminEmail) => {
            Line::from(Span::styled(about(field).to_string(), theme.muted()))
        }
        (Account::Loading, _) => Line::from(Span::styled(
            "reading the account's regions, sizes and SSH keys…",
            theme.muted(),
        )),
        (Account::Failed(why), _) => Line::from(Span::styled(
            format!("the account could not be read ({why}): type the value"),
            theme.warn(),
        )),
        (Account::Loaded(choices), _) => {
            let mut spans = vec![Span::styled(
                format!("from the account ({}): ", ctx.key(Action::WizardNextChoice)),
                theme.muted(),
            )];
            let offered = choices.for_field(field);
            if offered.is_empty() {
                spans.push(Span::styled("none", theme.warn()));
            }
            for (i, choice) in offered.iter().enumerate() {
                if i > 0 {
                    spans.push(Span::styled(" · ", theme.muted()));
                }
                let style = if choice.value == form.value(field) {
                    theme.selection()
                } else {
                    theme.text()
                };
                spans.push(Span::styled(choice.label.clone(), style));
            }
            Line::from(spans)
        }
    };
    lines.push(choices_line);
    let named = form.error(Field::Name).is_none();
    if let Ok(request) = wizard.request()
        && named
    {
        lines.extend(wrapped(
            &format!(
                "answers: {} (the token is never written there)",
                request.answers_path.display()
            ),
            width,
            theme.muted(),
        ));
    }
    if wizard.stage == Stage::Confirming {
        lines.push(Line::default());
        let question = if wizard.amending.is_some() && !wizard.creates_droplet() {
            continue_question(wizard)
        } else {
            format!(
                "Create droplet {} ({} in {}), billed by DigitalOcean, and run the eight steps?",
                form.value(Field::Name),
                form.value(Field::Size),
                form.value(Field::Region),
            )
        };
        lines.extend(wrapped(
            &format!("{question} {}", ctx.answer_keys()),
            width,
            theme.warn(),
        ));
    }
    if let Some(notice) = &wizard.notice {
        lines.extend(wrapped(notice, width, theme.warn()));
    }
    lines
}

/// Saving changed answers of a bootstrap whose droplet exists: what runs again.
fn continue_question(wizard: &BootstrapWizard) -> String {
    let changed = wizard.changed_fields();
    let path = wizard
        .answers_path
        .as_ref()
        .map(|p| p.display().to_string())
        .unwrap_or_default();
    let again = match crate::bootstrap::amend::rewind_to(&changed) {
        Some(step) => {
            let keys: Vec<&str> = changed.iter().map(|f| f.key()).collect();
            format!(
                "changed: {}; {:?} and the steps after it run again",
                keys.join(", "),
                step.key()
            )
        }
        None => "nothing changed; the run goes on where it stopped".to_string(),
    };
    format!("Save the answers to {path} and continue ({again})?")
}

fn form_hints(wizard: &BootstrapWizard, ctx: &PaneContext) -> String {
    let (start, close) = match &wizard.amending {
        Some(_) if !wizard.creates_droplet() => ("save and continue", "undo edit, back"),
        Some(_) => ("start", "undo edit, back"),
        None => ("start", "undo edit, close"),
    };
    ctx.hints(&[
        (Action::WizardNextField, "next field"),
        (Action::WizardPrevField, "previous"),
        (Action::WizardNextChoice, "account's choice"),
        (Action::WizardStart, start),
        (Action::WizardClose, close),
    ])
}

fn steps_lines(
    wizard: &BootstrapWizard,
    ctx: &PaneContext,
    width: usize,
    height: usize,
) -> Vec<Line<'static>> {
    let theme = ctx.theme;
    let steps = &wizard.steps;
    let mut lines = Vec::new();
    if let Some(path) = &wizard.answers_path {
        lines.extend(wrapped(
            &format!("answers: {}", path.display()),
            width,
            theme.muted(),
        ));
    }
    for (i, step) in Step::ALL.into_iter().enumerate() {
        let (mark, style, detail) = match &steps.states[i] {
            StepState::Pending => ("·", theme.muted(), String::new()),
            StepState::Running => ("●", theme.warn(), "running…".to_string()),
            StepState::Done(fact) => ("✓", theme.ok(), fact.clone()),
            StepState::NotDone(why) => ("–", theme.muted(), format!("not done: {why}")),
            StepState::Failed => ("✗", theme.error(), "failed".to_string()),
        };
        let row = if i == steps.selected {
            theme.selection()
        } else {
            theme.text()
        };
        lines.push(Line::from(vec![
            Span::styled(format!(" {mark} "), style),
            Span::styled(format!("{}. {:<58}", i + 1, step.title()), row),
            Span::styled(format!(" {detail}"), style),
        ]));
    }
    lines.push(Line::default());
    if let Some(failure) = &steps.failure {
        lines.extend(wrapped(
            &format!(
                "✗ step {:?} ({}) failed: {}",
                failure.step.key(),
                failure.step.title(),
                failure.error
            ),
            width,
            theme.error(),
        ));
        lines.extend(wrapped(&failure.already_done, width, theme.text()));
        let cli = wizard
            .answers_path
            .as_ref()
            .map(|p| {
                format!(
                    "; `odoo-ops bootstrap --answers {}` does the same",
                    p.display()
                )
            })
            .unwrap_or_default();
        lines.extend(wrapped(
            &format!(
                "to continue: fix the cause and press {} (it starts again at {:?}), or {} to leave this step out{cli}",
                ctx.key(Action::WizardContinue),
                failure.step.key(),
                ctx.key(Action::WizardSkip),
            ),
            width,
            theme.text(),
        ));
    }
    if steps.failure.is_some() || steps.outcome.is_some() {
        let undo = match steps.droplet_id {
            Some(id) => format!(
                "to undo: {} deletes droplet {id} and everything on it (asks first)",
                ctx.key(Action::WizardUndo)
            ),
            None => "nothing to undo: no droplet was created".to_string(),
        };
        lines.extend(wrapped(&undo, width, theme.text()));
    }
    if let Some(outcome) = &steps.outcome {
        lines.extend(wrapped(outcome, width, theme.info()));
    }
    if let Some(id) = steps.confirm_undo {
        lines.extend(wrapped(
            &format!(
                "Delete droplet {id} ({}) and everything on it? {}",
                wizard.form.value(Field::Name),
                ctx.answer_keys()
            ),
            width,
            theme.error(),
        ));
    }
    if let Some(notice) = &wizard.notice {
        lines.extend(wrapped(notice, width, theme.warn()));
    }
    // The newest events in what room is left.
    let room = height.saturating_sub(lines.len() + 1);
    if room > 0 && !steps.events.is_empty() {
        lines.push(Line::from(Span::styled("events:", theme.muted())));
        let from = steps.events.len().saturating_sub(room.saturating_sub(1));
        for event in &steps.events[from..] {
            lines.push(Line::from(Span::styled(fit(event, width), theme.muted())));
        }
    }
    lines
}

fn steps_hints(wizard: &BootstrapWizard, ctx: &PaneContext) -> String {
    if wizard.steps.busy.is_some() {
        return ctx.hints(&[(Action::Back, "close (the run goes on)")]);
    }
    ctx.hints(&[
        (Action::WizardContinue, "continue"),
        (Action::WizardSkip, "skip failed"),
        (Action::WizardUndo, "undo"),
        (Action::WizardGoBack, "go back to selected"),
        (Action::WizardEditAnswers, "edit answers"),
        (Action::Back, "close"),
    ])
}
