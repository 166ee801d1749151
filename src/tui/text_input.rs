//! The one line of text an operator types anywhere in the console (a Logs filter or
//! search, an export path, the palette, a Deploy field): the same keys everywhere, as in
//! a shell's line editor. Esc cancels (the text typed is dropped, not kept), Enter
//! submits, ctrl+u clears, ctrl+w deletes a word, the arrows, Home and End move.

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TextInput {
    text: String,
    /// Where typing goes, in characters from the start.
    cursor: usize,
}

/// What a key did to the input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Edit {
    /// The text or the cursor changed, or nothing happened.
    Editing,
    /// Enter: the text is what the operator wants.
    Submit,
    /// Esc: leave, dropping what was typed.
    Cancel,
}

impl TextInput {
    /// An input holding `text`, the cursor at its end (editing an existing value).
    pub fn with_text(text: &str) -> TextInput {
        TextInput {
            text: text.to_string(),
            cursor: text.chars().count(),
        }
    }

    pub fn text(&self) -> &str {
        &self.text
    }

    /// The text split at the cursor, for drawing it there.
    pub fn split_at_cursor(&self) -> (&str, &str) {
        self.text.split_at(self.byte_at(self.cursor))
    }

    pub fn on_key(&mut self, key: &KeyEvent) -> Edit {
        let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
        match key.code {
            KeyCode::Esc => return Edit::Cancel,
            KeyCode::Enter => return Edit::Submit,
            KeyCode::Char('u') if ctrl => {
                let at = self.byte_at(self.cursor);
                self.text.replace_range(..at, "");
                self.cursor = 0;
            }
            KeyCode::Char('w') if ctrl => self.delete_word_before(),
            KeyCode::Char('a') if ctrl => self.cursor = 0,
            KeyCode::Char('e') if ctrl => self.cursor = self.len(),
            KeyCode::Char(c) if !ctrl => {
                let at = self.byte_at(self.cursor);
                self.text.insert(at, c);
                self.cursor += 1;
            }
            KeyCode::Backspace if self.cursor > 0 => {
                self.cursor -= 1;
                let at = self.byte_at(self.cursor);
                self.text.remove(at);
            }
            KeyCode::Delete if self.cursor < self.len() => {
                let at = self.byte_at(self.cursor);
                self.text.remove(at);
            }
            KeyCode::Left => self.cursor = self.cursor.saturating_sub(1),
            KeyCode::Right => self.cursor = (self.cursor + 1).min(self.len()),
            KeyCode::Home => self.cursor = 0,
            KeyCode::End => self.cursor = self.len(),
            _ => {}
        }
        Edit::Editing
    }

    fn len(&self) -> usize {
        self.text.chars().count()
    }

    fn byte_at(&self, chars: usize) -> usize {
        self.text
            .char_indices()
            .nth(chars)
            .map_or(self.text.len(), |(i, _)| i)
    }

    /// ctrl+w: the word before the cursor and the spaces after it, as a shell does.
    fn delete_word_before(&mut self) {
        let end = self.byte_at(self.cursor);
        let head = self.text[..end].trim_end();
        let start = head.rfind(char::is_whitespace).map_or(0, |i| i + 1);
        let removed = self.text[start..end].chars().count();
        self.text.replace_range(start..end, "");
        self.cursor -= removed;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(code: KeyCode) -> KeyEvent {
        KeyEvent::new(code, KeyModifiers::NONE)
    }

    fn ctrl(c: char) -> KeyEvent {
        KeyEvent::new(KeyCode::Char(c), KeyModifiers::CONTROL)
    }

    fn typed(input: &mut TextInput, text: &str) {
        for c in text.chars() {
            assert_eq!(input.on_key(&key(KeyCode::Char(c))), Edit::Editing);
        }
    }

    #[test]
    fn keys_edit_as_a_shell_line_does() {
        let mut input = TextInput::default();
        typed(&mut input, "odoo errör");
        input.on_key(&key(KeyCode::Left));
        input.on_key(&key(KeyCode::Backspace));
        assert_eq!(input.text(), "odoo errr");
        input.on_key(&key(KeyCode::Home));
        typed(&mut input, "> ");
        assert_eq!(input.split_at_cursor(), ("> ", "odoo errr"));
        input.on_key(&key(KeyCode::End));
        input.on_key(&ctrl('w'));
        assert_eq!(input.text(), "> odoo ");
        input.on_key(&ctrl('u'));
        assert_eq!(input.text(), "");
        typed(&mut input, "x");
        assert_eq!(input.on_key(&key(KeyCode::Enter)), Edit::Submit);
        assert_eq!(input.on_key(&key(KeyCode::Esc)), Edit::Cancel);
    }

    #[test]
    fn ctrl_u_clears_what_is_before_the_cursor() {
        let mut input = TextInput::with_text("shop.example.com");
        for _ in 0..4 {
            input.on_key(&key(KeyCode::Left));
        }
        input.on_key(&ctrl('u'));
        assert_eq!(input.text(), ".com");
        assert_eq!(input.split_at_cursor(), ("", ".com"));
    }
}
