//! certbot on the host: what is already issued, the staging dry run, the real issuance and
//! the deploy hook.

use super::{TlsError, TlsRequest, arg, host_error};
use crate::target::{Command, Output, Target};

/// A certificate already in certbot's `live/` that this step accepts as done.
pub(super) struct Existing {
    /// `notAfter`, as openssl prints it.
    pub expires: String,
}

/// The certificate for the name, when certbot's renewal file says it came from the real
/// directory, it names the name, and it has not expired. A staging certificate, another
/// CA's, or an expired one is not done: the step issues again.
pub(super) async fn existing(
    target: &Target,
    req: &TlsRequest,
) -> Result<Option<Existing>, TlsError> {
    // One round trip; each missing piece exits with its own status, which only means
    // "not done" here.
    const LOOK: &str = r#"cert=$1 renewal=$2 server=$3
[ -f "$cert" ] && [ -f "$renewal" ] || exit 10
grep -qxF "server = $server" "$renewal" || exit 11
openssl x509 -noout -checkend 0 -in "$cert" >/dev/null || exit 12
openssl x509 -noout -enddate -in "$cert" || exit 13
openssl x509 -noout -ext subjectAltName -in "$cert" || exit 13"#;
    let renewal = req
        .certbot
        .config
        .join("renewal")
        .join(format!("{}.conf", req.name));
    let out = target
        .run(
            &Command::script(LOOK)
                .arg(arg(&req.certbot.fullchain(&req.name)))
                .arg(arg(&renewal))
                .arg(&req.directories.production),
        )
        .await
        .map_err(host_error)?;
    if !out.success() {
        return Ok(None);
    }
    let text = out.stdout_text();
    let expires = text
        .lines()
        .find_map(|l| l.strip_prefix("notAfter="))
        .unwrap_or_default()
        .trim()
        .to_string();
    let wanted = format!("DNS:{}", req.name);
    let covers = text
        .lines()
        .flat_map(|l| l.split(','))
        .any(|san| san.trim().eq_ignore_ascii_case(&wanted));
    Ok(covers.then_some(Existing { expires }))
}

/// `certbot certonly` with the webroot plugin, against `server`.
fn certonly(req: &TlsRequest, server: &str) -> Command {
    let dirs = &req.certbot;
    // A private CA's bundle (tests trust pebble's) goes through the environment, which
    // certbot's HTTP library reads; `env` keeps it one argv, quoted like any other.
    let certbot = match &req.ca_bundle {
        Some(bundle) => Command::new("env")
            .arg(format!("REQUESTS_CA_BUNDLE={}", bundle.display()))
            .arg("certbot"),
        None => Command::new("certbot"),
    };
    certbot
        .args([
            "certonly",
            "--non-interactive",
            "--agree-tos",
            "--no-eff-email",
        ])
        .arg("--email")
        .arg(&req.email)
        .arg("--server")
        .arg(server)
        .arg("--config-dir")
        .arg(arg(&dirs.config))
        .arg("--work-dir")
        .arg(arg(&dirs.work))
        .arg("--logs-dir")
        .arg(arg(&dirs.logs))
        .args(["--webroot", "--webroot-path"])
        .arg(arg(&req.webroot))
        .arg("--domain")
        .arg(req.name.as_str())
        .arg("--cert-name")
        .arg(req.name.as_str())
}

/// The whole ACME flow against the staging directory, nothing saved (`--dry-run`).
pub(super) async fn staging(target: &Target, req: &TlsRequest) -> Result<(), TlsError> {
    let out = target
        .run(&certonly(req, &req.directories.staging).arg("--dry-run"))
        .await
        .map_err(host_error)?;
    if out.success() {
        return Ok(());
    }
    Err(TlsError::StagingFailed { detail: said(&out) })
}

/// The real certificate. Only called when no acceptable one exists, so an earlier lineage
/// (a staging certificate, an expired one) is replaced, not kept.
pub(super) async fn production(target: &Target, req: &TlsRequest) -> Result<(), TlsError> {
    let out = target
        .run(&certonly(req, &req.directories.production).arg("--force-renewal"))
        .await
        .map_err(host_error)?;
    if out.success() {
        return Ok(());
    }
    Err(TlsError::ProductionFailed { detail: said(&out) })
}

/// What certbot said about a failure: its last lines (the CA's detail is there), without
/// the blank ones and the "Ask for help" boilerplate.
fn said(out: &Output) -> String {
    let text = format!("{}\n{}", out.stdout_text(), out.stderr_text());
    let lines: Vec<&str> = text
        .lines()
        .map(str::trim)
        .filter(|l| {
            !l.is_empty() && !l.starts_with("Ask for help") && !l.starts_with("See the logfile")
        })
        .collect();
    let tail = &lines[lines.len().saturating_sub(12)..];
    format!(
        "certbot exited with {}: {}",
        out.status
            .map(|s| s.to_string())
            .unwrap_or_else(|| "no status".into()),
        tail.join(" | ")
    )
}

/// The deploy hook: certbot runs every executable in `renewal-hooks/deploy/` after it
/// renews a certificate, so nginx picks up the new one. The reload is the running master's
/// own invocation (`-c`/`-p`), quoted word by word. Returns what was done.
pub(super) async fn install_deploy_hook(
    target: &Target,
    req: &TlsRequest,
) -> Result<String, TlsError> {
    let path = req.certbot.deploy_hook();
    let reload = req
        .nginx
        .command(&["-s", "reload"])
        .to_shell_line()
        .map_err(|e| TlsError::Renewal {
            detail: format!("{e:#}"),
        })?;
    let script = format!(
        "#!/bin/sh\n# Installed by odoo-ops: after certbot renews a certificate, nginx reloads to serve it.\nexec {reload}\n"
    );
    let current = target.read_file(&path).await.ok();
    let mode = target
        .run(
            &Command::new("stat")
                .args(["-c", "%a", "--"])
                .arg(arg(&path)),
        )
        .await
        .map_err(host_error)?;
    if current.as_deref() == Some(script.as_bytes()) && mode.stdout_text().trim() == "755" {
        return Ok(format!("deploy hook {} already in place", path.display()));
    }
    let dir = path.parent().expect("the hook is inside a directory");
    let mkdir = target
        .run(&Command::new("mkdir").args(["-p", "--"]).arg(arg(dir)))
        .await
        .map_err(host_error)?;
    if !mkdir.success() {
        return Err(TlsError::Renewal {
            detail: format!(
                "cannot create {}: {}",
                dir.display(),
                mkdir.stderr_text().trim()
            ),
        });
    }
    target
        .write_file(&path, script.as_bytes(), 0o755)
        .await
        .map_err(|e| TlsError::Renewal {
            detail: format!("cannot write {}: {e:#}", path.display()),
        })?;
    Ok(format!(
        "deploy hook {} installed: {reload}",
        path.display()
    ))
}
