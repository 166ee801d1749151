//! OpenSSH's `ProxyCommand`: a local command whose stdin and stdout carry the SSH
//! connection (`nc %h %p`, `ssh -W %h:%p bastion`, a cloud provider's tunnel).
//!
//! The command comes from the user's own `~/.ssh/config`, the file OpenSSH would run it
//! from too. It is run by `/bin/sh -c "exec ..."` as OpenSSH does (through `/bin/sh`
//! rather than `$SHELL`, so the environment does not pick the interpreter). The host and
//! user substituted into it are refused when they hold shell metacharacters, as OpenSSH
//! 9.6 refuses them (CVE-2023-51385): a name typed on the command line must not become
//! shell code.

use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use color_eyre::eyre::{Result, WrapErr, bail};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, ChildStdin, ChildStdout};

use super::destination::ConnectSpec;

/// The last lines the command wrote to stderr, kept for an error message (they would
/// otherwise land on top of the console's screen).
const STDERR_KEPT: usize = 10;

/// How long a failed connection waits for the command's last words on stderr.
const STDERR_GRACE: Duration = Duration::from_secs(1);

/// A running proxy command: its stdio is the connection; killed when dropped.
pub struct ProxyProcess {
    _child: Child,
    stderr: Arc<Mutex<Vec<String>>>,
    reader: Option<tokio::task::JoinHandle<()>>,
}

impl ProxyProcess {
    /// What the command said on stderr, for an error message (empty if nothing): read
    /// to its end when the command has exited, else what came within a moment.
    pub async fn stderr_tail(&mut self) -> String {
        if let Some(reader) = self.reader.take() {
            let _ = tokio::time::timeout(STDERR_GRACE, reader).await;
        }
        self.stderr.lock().expect("stderr lock").join("\n")
    }
}

/// `template` with `%h`, `%p`, `%r`, `%n` and `%%` replaced for `spec`.
pub fn expand(template: &str, spec: &ConnectSpec) -> Result<String> {
    let mut out = String::with_capacity(template.len());
    let mut chars = template.chars();
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('%') => out.push('%'),
            Some('h') => out += checked("host name", &spec.host)?,
            Some('n') => out += checked("host name", &spec.label)?,
            Some('r') => out += checked("user name", &spec.user)?,
            Some('p') => out += &spec.port.to_string(),
            Some(other) => bail!("ProxyCommand `{template}`: `%{other}` is not supported"),
            None => bail!("ProxyCommand `{template}` ends with a lone `%`"),
        }
    }
    Ok(out)
}

/// Letters, digits and the punctuation of host names, IPv6 literals and user names.
fn checked<'a>(what: &str, value: &'a str) -> Result<&'a str> {
    let safe = |c: char| c.is_ascii_alphanumeric() || "._-:@%+".contains(c);
    if value.is_empty() || !value.chars().all(safe) || value.starts_with('-') {
        bail!("the {what} `{value}` cannot be put into a ProxyCommand (unsafe characters)");
    }
    Ok(value)
}

/// Start the command; its stdout and stdin are returned as the connection's two halves.
pub fn spawn(
    template: &str,
    spec: &ConnectSpec,
) -> Result<(ProxyProcess, tokio::io::Join<ChildStdout, ChildStdin>)> {
    let command = expand(template, spec)?;
    let mut child = tokio::process::Command::new("/bin/sh")
        .arg("-c")
        .arg(format!("exec {command}"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .wrap_err_with(|| format!("could not start the ProxyCommand `{command}`"))?;
    let stdout = child.stdout.take().expect("piped stdout");
    let stdin = child.stdin.take().expect("piped stdin");
    let stderr = Arc::new(Mutex::new(Vec::new()));
    let reader = child.stderr.take().map(|pipe| {
        let kept = stderr.clone();
        tokio::spawn(async move {
            let mut lines = BufReader::new(pipe).lines();
            while let Ok(Some(line)) = lines.next_line().await {
                let mut kept = kept.lock().expect("stderr lock");
                if kept.len() == STDERR_KEPT {
                    kept.remove(0);
                }
                kept.push(line);
            }
        })
    });
    Ok((
        ProxyProcess {
            _child: child,
            stderr,
            reader,
        },
        tokio::io::join(stdout, stdin),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(host: &str) -> ConnectSpec {
        let env = super::super::Environment {
            home: "/h".into(),
            agent_socket: None,
            local_user: "deploy".into(),
        };
        let dest = super::super::Destination {
            user: None,
            host: "box".into(),
            port: Some(2222),
        };
        let mut spec = super::super::destination::resolve(
            &dest,
            &Default::default(),
            &env,
            &Default::default(),
        )
        .unwrap();
        spec.host = host.into();
        spec
    }

    #[test]
    fn substitutes_host_port_user_and_refuses_shell_in_names() {
        assert_eq!(
            expand("ssh -W %h:%p -l %r jump # %n 100%%", &spec("10.0.0.5")).unwrap(),
            "ssh -W 10.0.0.5:2222 -l deploy jump # box 100%"
        );
        let e = expand("nc %h %p", &spec("x;touch${IFS}/tmp/p")).unwrap_err();
        assert!(format!("{e}").contains("unsafe characters"), "{e}");
        assert!(expand("nc %z", &spec("a")).is_err());
    }
}
