//! A `Prompter` that answers like a person would and remembers what it was asked, standing
//! in for the console's terminal (the TUI provides its own the same way).

use std::path::PathBuf;
use std::sync::Mutex;

use futures::future::BoxFuture;
use odoo_ops::ssh::{HostKeyQuestion, Passphrase, Prompter};

#[derive(Default)]
pub struct ScriptedPrompter {
    pub trust_host_keys: bool,
    /// Answers to passphrase questions, in order; `None` once they run out.
    pub passphrases: Mutex<Vec<String>>,
    pub host_key_questions: Mutex<Vec<HostKeyQuestion>>,
    pub passphrase_questions: Mutex<Vec<(PathBuf, u32)>>,
    /// How long the person takes to answer a host key question.
    pub host_key_answer_delay: std::time::Duration,
}

impl ScriptedPrompter {
    pub fn trusting() -> Self {
        Self {
            trust_host_keys: true,
            ..Default::default()
        }
    }

    /// Trusts host keys, but only after reading the question for `delay`.
    pub fn trusting_after(delay: std::time::Duration) -> Self {
        Self {
            trust_host_keys: true,
            host_key_answer_delay: delay,
            ..Default::default()
        }
    }

    pub fn distrusting() -> Self {
        Self::default()
    }

    pub fn with_passphrases(answers: &[&str]) -> Self {
        Self {
            passphrases: Mutex::new(answers.iter().rev().map(|s| s.to_string()).collect()),
            ..Default::default()
        }
    }

    pub fn asked_about_host_keys(&self) -> Vec<HostKeyQuestion> {
        self.host_key_questions.lock().unwrap().clone()
    }

    pub fn asked_for_passphrases(&self) -> Vec<(PathBuf, u32)> {
        self.passphrase_questions.lock().unwrap().clone()
    }
}

impl Prompter for ScriptedPrompter {
    fn confirm_host_key(&self, question: HostKeyQuestion) -> BoxFuture<'_, bool> {
        self.host_key_questions.lock().unwrap().push(question);
        let answer = self.trust_host_keys;
        let delay = self.host_key_answer_delay;
        Box::pin(async move {
            tokio::time::sleep(delay).await;
            answer
        })
    }

    fn passphrase(&self, key_file: PathBuf, attempt: u32) -> BoxFuture<'_, Option<Passphrase>> {
        self.passphrase_questions
            .lock()
            .unwrap()
            .push((key_file, attempt));
        let answer = self.passphrases.lock().unwrap().pop().map(Passphrase::new);
        Box::pin(async move { answer })
    }

    fn interactive(&self) -> bool {
        true
    }
}
