//! The wizard's form: one row per [`Field`] of the bootstrap's first step, typed with the
//! console's one text input and checked on every key press by the field's own rule
//! ([`Field::check`], the rule an answers file is checked with).

use crossterm::event::{KeyCode, KeyEvent};

use crate::bootstrap::answers::{Answers, DEFAULT_REGION, DEFAULT_SIZE, Field};
use crate::tui::text_input::{Edit, TextInput};

/// A value the DigitalOcean account offers for a field, and how the form names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Choice {
    pub value: String,
    pub label: String,
}

/// The account's regions, sizes and SSH keys (read by a job when the wizard opens).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AccountChoices {
    pub regions: Vec<Choice>,
    pub sizes: Vec<Choice>,
    pub keys: Vec<Choice>,
}

impl AccountChoices {
    /// What the account offers for `field`; empty for a field typed freely.
    pub fn for_field(&self, field: Field) -> &[Choice] {
        match field {
            Field::Region => &self.regions,
            Field::Size => &self.sizes,
            Field::SshKey => &self.keys,
            _ => &[],
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Form {
    /// Each field's text, in [`Field::ALL`] order; the selected one follows the input.
    pub values: [String; 9],
    pub selected: usize,
    pub input: TextInput,
    /// Why a field is read-only (`None`: it may be typed into), in [`Field::ALL`] order:
    /// back at step 1 of a bootstrap under way, what a done step holds cannot change.
    pub locked: [Option<String>; 9],
    /// The selected field's value when the cursor came to it (Esc puts it back).
    before: String,
}

impl Default for Form {
    fn default() -> Form {
        let mut values: [String; 9] = Default::default();
        values[index(Field::Region)] = DEFAULT_REGION.into();
        values[index(Field::Size)] = DEFAULT_SIZE.into();
        Form::with_values(values)
    }
}

fn index(field: Field) -> usize {
    Field::ALL.iter().position(|f| *f == field).expect("listed")
}

impl Form {
    pub fn with_values(values: [String; 9]) -> Form {
        let first = values[0].clone();
        Form {
            input: TextInput::with_text(&first),
            before: first,
            values,
            selected: 0,
            locked: Default::default(),
        }
    }

    /// The form holding an earlier run's answers.
    pub fn from_answers(answers: &Answers) -> Form {
        Form::with_values(Field::ALL.map(|f| answers.value(f)))
    }

    pub fn field(&self) -> Field {
        Field::ALL[self.selected]
    }

    pub fn value(&self, field: Field) -> &str {
        self.values[index(field)].trim()
    }

    /// What is wrong with a field's value now, in the operator's words.
    pub fn error(&self, field: Field) -> Option<String> {
        field.check(self.value(field)).err()
    }

    /// The first field whose value does not pass its rule.
    pub fn first_invalid(&self) -> Option<usize> {
        Field::ALL.iter().position(|f| self.error(*f).is_some())
    }

    /// Whether the selected field was changed since the cursor came to it.
    pub fn edited(&self) -> bool {
        self.input.text() != self.before
    }

    /// Put the selected field back as it was when the cursor came to it.
    pub fn undo_edit(&mut self) {
        let before = self.before.clone();
        self.set_selected_text(&before);
    }

    pub fn move_to(&mut self, i: usize) {
        self.selected = i.min(Field::ALL.len() - 1);
        self.before = self.values[self.selected].clone();
        self.input = TextInput::with_text(&self.before);
    }

    pub fn next(&mut self) {
        self.move_to((self.selected + 1) % Field::ALL.len());
    }

    pub fn previous(&mut self) {
        self.move_to((self.selected + Field::ALL.len() - 1) % Field::ALL.len());
    }

    /// Why the selected field is read-only, if it is.
    pub fn locked_why(&self) -> Option<&str> {
        self.locked[self.selected].as_deref()
    }

    /// A key typed into the selected field; its value is checked again as it now reads.
    /// A read-only field takes only Enter and Esc.
    pub fn on_key(&mut self, key: &KeyEvent) -> Edit {
        if self.locked_why().is_some() {
            return match key.code {
                KeyCode::Enter => Edit::Submit,
                KeyCode::Esc => Edit::Cancel,
                _ => Edit::Editing,
            };
        }
        let edit = self.input.on_key(key);
        self.values[self.selected] = self.input.text().to_string();
        edit
    }

    /// The account's next (`forward`) or previous value for the selected field, after
    /// the one it holds; the first when it holds none of them.
    pub fn cycle(&mut self, choices: &[Choice], forward: bool) {
        if choices.is_empty() || self.locked_why().is_some() {
            return;
        }
        let n = choices.len();
        let now = choices
            .iter()
            .position(|c| c.value == self.input.text().trim());
        let next = match (now, forward) {
            (Some(i), true) => (i + 1) % n,
            (Some(i), false) => (i + n - 1) % n,
            (None, true) => 0,
            (None, false) => n - 1,
        };
        let value = choices[next].value.clone();
        self.set_selected_text(&value);
    }

    fn set_selected_text(&mut self, text: &str) {
        self.input = TextInput::with_text(text);
        self.values[self.selected] = text.to_string();
    }

    /// The answers file's text for these values (never a secret: the token is not a field).
    pub fn file_text(&self) -> String {
        Answers::file_text(Field::ALL.iter().map(|f| (*f, self.value(*f))))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crossterm::event::KeyModifiers;

    fn typed(form: &mut Form, text: &str) {
        for c in text.chars() {
            form.on_key(&KeyEvent::new(KeyCode::Char(c), KeyModifiers::NONE));
        }
    }

    #[test]
    fn each_key_press_is_checked_and_esc_puts_the_field_back() {
        let mut form = Form::default();
        assert_eq!(form.value(Field::Region), "sgp1");
        typed(&mut form, "erp_");
        assert!(form.error(Field::Name).unwrap().contains("'_'"));
        form.on_key(&KeyEvent::new(KeyCode::Backspace, KeyModifiers::NONE));
        assert_eq!(form.error(Field::Name), None);
        form.next();
        typed(&mut form, "X");
        assert!(form.error(Field::Region).is_some());
        assert!(form.edited());
        form.undo_edit();
        assert_eq!(form.value(Field::Region), "sgp1");
        assert_eq!(form.first_invalid(), Some(3), "the SSH key is required");
    }

    #[test]
    fn the_account_choices_cycle_in_the_field() {
        let mut form = Form::default();
        form.move_to(1);
        let choices = ["sgp1", "nyc3", "fra1"].map(|r| Choice {
            value: r.into(),
            label: r.into(),
        });
        form.cycle(&choices, true);
        assert_eq!(form.value(Field::Region), "nyc3");
        form.cycle(&choices, false);
        form.cycle(&choices, false);
        assert_eq!(form.value(Field::Region), "fra1");
    }
}
