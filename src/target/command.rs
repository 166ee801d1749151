//! A command to run on a target, built from typed arguments.
//!
//! Local targets exec the program directly; remote targets need one shell line, which
//! [`Command::to_shell_line`] builds by quoting every word. User input never gets
//! concatenated into a shell line by hand anywhere else in the code.

use color_eyre::eyre::{Result, bail};

/// A program and its arguments, plus optional standard input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Command {
    program: String,
    args: Vec<String>,
    stdin: Option<Vec<u8>>,
    sudo: bool,
}

impl Command {
    pub fn new(program: impl Into<String>) -> Self {
        Self {
            program: program.into(),
            args: Vec::new(),
            stdin: None,
            sudo: false,
        }
    }

    /// `sh -c SCRIPT odoo-ops ARGS...`: a fixed script written by us, with any variable
    /// parts passed as positional parameters (`$1`, `$2`, ...) so they are never parsed
    /// as shell syntax.
    pub fn script(script: &str) -> Self {
        Self::new("sh").arg("-c").arg(script).arg("odoo-ops")
    }

    pub fn arg(mut self, arg: impl Into<String>) -> Self {
        self.args.push(arg.into());
        self
    }

    pub fn args<I, S>(mut self, args: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.args.extend(args.into_iter().map(Into::into));
        self
    }

    pub fn stdin(mut self, input: impl Into<Vec<u8>>) -> Self {
        self.stdin = Some(input.into());
        self
    }

    /// Run through `sudo -n` (never prompts: a missing sudo right fails fast).
    pub fn sudo(mut self) -> Self {
        self.sudo = true;
        self
    }

    pub fn program(&self) -> &str {
        &self.program
    }

    pub fn arguments(&self) -> &[String] {
        &self.args
    }

    pub fn input(&self) -> Option<&[u8]> {
        self.stdin.as_deref()
    }

    pub fn uses_sudo(&self) -> bool {
        self.sudo
    }

    /// Every word in order, `sudo -n` first when asked for.
    pub fn argv(&self) -> Vec<&str> {
        let mut argv = Vec::with_capacity(self.args.len() + 3);
        if self.sudo {
            argv.extend(["sudo", "-n", "--"]);
        }
        argv.push(self.program.as_str());
        argv.extend(self.args.iter().map(String::as_str));
        argv
    }

    /// One POSIX shell line that runs exactly this argv. Fails on a NUL byte, which no
    /// shell word can carry.
    pub fn to_shell_line(&self) -> Result<String> {
        let words: Result<Vec<String>> = self.argv().into_iter().map(quote).collect();
        Ok(words?.join(" "))
    }

    /// How the command reads in evidence and logs: quoted like a shell line, with the
    /// body of an inline script elided when it is long.
    pub fn display(&self) -> String {
        self.argv()
            .into_iter()
            .map(|w| {
                if w.len() > 60 && w.contains('\n') {
                    "'<script>'".to_string()
                } else {
                    quote(w).unwrap_or_else(|_| "'<NUL>'".into())
                }
            })
            .collect::<Vec<_>>()
            .join(" ")
    }
}

/// Quote one word for a POSIX shell. Plain words stay readable; anything else is put in
/// single quotes, where only `'` itself needs the `'\''` dance.
pub fn quote(word: &str) -> Result<String> {
    if word.contains('\0') {
        bail!("a command argument contains a NUL byte, which cannot be passed to a remote shell");
    }
    let plain = !word.is_empty()
        && word
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_./=:@,+%".contains(&b));
    if plain {
        return Ok(word.to_string());
    }
    Ok(format!("'{}'", word.replace('\'', r"'\''")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_words_are_left_readable() {
        let line = Command::new("docker").args(["logs", "--tail", "100", "odoo-1"]);
        assert_eq!(
            line.to_shell_line().unwrap(),
            "docker logs --tail 100 odoo-1"
        );
    }

    #[test]
    fn hostile_words_are_single_quoted() {
        let line = Command::new("echo").arg("it's $(rm -rf /)").arg("");
        assert_eq!(
            line.to_shell_line().unwrap(),
            r"echo 'it'\''s $(rm -rf /)' ''"
        );
    }

    #[test]
    fn nul_is_rejected() {
        let err = Command::new("echo")
            .arg("a\0b")
            .to_shell_line()
            .unwrap_err();
        assert!(err.to_string().contains("NUL"));
    }

    #[test]
    fn sudo_goes_first_and_never_prompts() {
        let line = Command::new("nginx").arg("-t").sudo();
        assert_eq!(line.to_shell_line().unwrap(), "sudo -n -- nginx -t");
    }
}
