//! Questions the SSH layer must ask a person: trust this unknown host key? what is this
//! key file's passphrase? The engine only sees the [`Prompter`] trait; the console's
//! terminal, the TUI or a headless run each answer in their own way.

use std::path::PathBuf;
use std::sync::Arc;

use futures::future::BoxFuture;

/// An unknown host key, as shown to the person deciding whether to trust it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostKeyQuestion {
    /// `host` or `[host]:port`, as it will be written to known_hosts.
    pub host: String,
    pub key_type: String,
    /// `SHA256:...`, comparable with `ssh-keygen -lf` on the server.
    pub fingerprint: String,
    /// Where the key is appended on yes.
    pub known_hosts: PathBuf,
}

/// A passphrase, held only as long as the key is being decrypted. Its `Debug` never shows
/// it and its bytes are overwritten when dropped.
pub struct Passphrase(String);

impl Passphrase {
    pub fn new(text: String) -> Self {
        Self(text)
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Passphrase {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Passphrase(<hidden>)")
    }
}

impl Drop for Passphrase {
    fn drop(&mut self) {
        // SAFETY: zero bytes are valid UTF-8.
        unsafe { self.0.as_bytes_mut() }.fill(0);
    }
}

/// Who answers the SSH layer's questions.
pub trait Prompter: Send + Sync {
    /// Trust this unknown host key? `true` appends it to known_hosts.
    fn confirm_host_key(&self, question: HostKeyQuestion) -> BoxFuture<'_, bool>;
    /// The passphrase of an encrypted key file; `None` skips the key. `attempt` counts
    /// from 1 so a second ask can say the first was wrong.
    fn passphrase(&self, key_file: PathBuf, attempt: u32) -> BoxFuture<'_, Option<Passphrase>>;
    /// Whether a person can be asked at all (used to explain a refusal).
    fn interactive(&self) -> bool;
}

/// Nobody to ask: unknown keys are refused, encrypted keys skipped.
#[derive(Debug, Default, Clone, Copy)]
pub struct HeadlessPrompter;

impl Prompter for HeadlessPrompter {
    fn confirm_host_key(&self, _: HostKeyQuestion) -> BoxFuture<'_, bool> {
        Box::pin(async { false })
    }

    fn passphrase(&self, _: PathBuf, _: u32) -> BoxFuture<'_, Option<Passphrase>> {
        Box::pin(async { None })
    }

    fn interactive(&self) -> bool {
        false
    }
}

/// Asks on the controlling terminal (`/dev/tty`), so it works even when stdout is piped.
/// Passphrases are read with echo off.
#[derive(Debug, Default, Clone, Copy)]
pub struct TtyPrompter;

impl TtyPrompter {
    /// A tty prompter when there is a terminal to ask on, else a headless one.
    pub fn or_headless() -> Arc<dyn Prompter> {
        if std::fs::File::open("/dev/tty").is_ok()
            && std::io::IsTerminal::is_terminal(&std::io::stdin())
        {
            Arc::new(TtyPrompter)
        } else {
            Arc::new(HeadlessPrompter)
        }
    }
}

impl Prompter for TtyPrompter {
    fn confirm_host_key(&self, q: HostKeyQuestion) -> BoxFuture<'_, bool> {
        Box::pin(async move {
            let text = format!(
                "The authenticity of host '{}' can't be established.\n\
                 {} key fingerprint is {}.\n\
                 It will be added to {}.\n\
                 Are you sure you want to continue connecting (yes/no/[fingerprint])? ",
                q.host,
                q.key_type,
                q.fingerprint,
                q.known_hosts.display()
            );
            let answer = tokio::task::spawn_blocking(move || tty::ask(&text, true))
                .await
                .ok()
                .flatten();
            // Like OpenSSH: `yes`, or the fingerprint itself pasted from a trusted source.
            let answer = answer.unwrap_or_default();
            let answer = answer.trim();
            answer.eq_ignore_ascii_case("yes") || answer == q.fingerprint
        })
    }

    fn passphrase(&self, key_file: PathBuf, attempt: u32) -> BoxFuture<'_, Option<Passphrase>> {
        Box::pin(async move {
            let again = if attempt > 1 {
                "Wrong passphrase. "
            } else {
                ""
            };
            let text = format!("{again}Enter passphrase for key '{}': ", key_file.display());
            tokio::task::spawn_blocking(move || tty::ask(&text, false))
                .await
                .ok()
                .flatten()
                .filter(|p| !p.is_empty())
                .map(Passphrase::new)
        })
    }

    fn interactive(&self) -> bool {
        true
    }
}

mod tty {
    use std::io::{BufRead, Write};
    use std::os::fd::AsRawFd;

    /// Write `prompt` to the terminal and read one line; `echo: false` hides the typing.
    pub fn ask(prompt: &str, echo: bool) -> Option<String> {
        let file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open("/dev/tty")
            .ok()?;
        let fd = file.as_raw_fd();
        let mut saved: libc::termios = unsafe { std::mem::zeroed() };
        let can_hide = unsafe { libc::tcgetattr(fd, &mut saved) } == 0;
        if !echo && can_hide {
            let mut quiet = saved;
            quiet.c_lflag &= !libc::ECHO;
            quiet.c_lflag |= libc::ECHONL;
            unsafe { libc::tcsetattr(fd, libc::TCSANOW, &quiet) };
        }
        let mut writer = &file;
        let _ = writer.write_all(prompt.as_bytes());
        let _ = writer.flush();
        let mut line = String::new();
        let read = std::io::BufReader::new(&file).read_line(&mut line);
        if !echo && can_hide {
            unsafe { libc::tcsetattr(fd, libc::TCSANOW, &saved) };
        }
        read.ok()?;
        while line.ends_with('\n') || line.ends_with('\r') {
            line.pop();
        }
        Some(line)
    }
}

/// Why an unknown key was refused, for the error the user sees.
pub fn describe_refusal(q: &HostKeyQuestion, interactive: bool) -> String {
    let why = if interactive {
        "it was not accepted"
    } else {
        "there is no terminal to ask on; pass --accept-new to trust a new host on first use"
    };
    format!(
        "the host key of {} is not known ({} {}), and {why}",
        q.host, q.key_type, q.fingerprint
    )
}

/// Asks through `inner` until a full-screen face takes the terminal, then answers like
/// [`HeadlessPrompter`]: a question written to `/dev/tty` would land on top of the
/// console's screen and its answer would be eaten by the console's key handling. A
/// reconnect that needs a passphrase then fails and says so (ssh-agent avoids it).
pub struct YieldingPrompter {
    inner: Arc<dyn Prompter>,
    terminal_taken: Arc<std::sync::atomic::AtomicBool>,
}

impl YieldingPrompter {
    pub fn new(
        inner: Arc<dyn Prompter>,
        terminal_taken: Arc<std::sync::atomic::AtomicBool>,
    ) -> Self {
        Self {
            inner,
            terminal_taken,
        }
    }

    fn may_ask(&self) -> bool {
        !self
            .terminal_taken
            .load(std::sync::atomic::Ordering::SeqCst)
    }
}

impl Prompter for YieldingPrompter {
    fn confirm_host_key(&self, question: HostKeyQuestion) -> BoxFuture<'_, bool> {
        if self.may_ask() {
            self.inner.confirm_host_key(question)
        } else {
            Box::pin(async { false })
        }
    }

    fn passphrase(&self, key_file: PathBuf, attempt: u32) -> BoxFuture<'_, Option<Passphrase>> {
        if self.may_ask() {
            self.inner.passphrase(key_file, attempt)
        } else {
            Box::pin(async { None })
        }
    }

    fn interactive(&self) -> bool {
        self.may_ask() && self.inner.interactive()
    }
}

#[cfg(test)]
mod yielding_tests {
    use super::*;
    use std::sync::atomic::{AtomicBool, Ordering};

    /// Says yes to everything, as a person at a terminal might.
    struct Agreeable;

    impl Prompter for Agreeable {
        fn confirm_host_key(&self, _: HostKeyQuestion) -> BoxFuture<'_, bool> {
            Box::pin(async { true })
        }
        fn passphrase(&self, _: PathBuf, _: u32) -> BoxFuture<'_, Option<Passphrase>> {
            Box::pin(async { None })
        }
        fn interactive(&self) -> bool {
            true
        }
    }

    #[tokio::test]
    async fn stops_asking_once_the_console_owns_the_terminal() {
        let taken = Arc::new(AtomicBool::new(false));
        let prompter = YieldingPrompter::new(Arc::new(Agreeable), taken.clone());
        assert!(prompter.interactive());
        let question = || HostKeyQuestion {
            host: "db.example".into(),
            key_type: "ssh-ed25519".into(),
            fingerprint: "SHA256:x".into(),
            known_hosts: PathBuf::from("/dev/null"),
        };
        assert!(prompter.confirm_host_key(question()).await);
        taken.store(true, Ordering::SeqCst);
        assert!(!prompter.interactive());
        assert!(!prompter.confirm_host_key(question()).await);
    }
}
