//! Step 3's second half: "active" is not ready (doctl #1003, #1334). The first boot
//! installs Docker, nginx and the firewall after the droplet says active; the stack needs
//! them, so the bootstrap waits for cloud-init itself to say it is done.
//!
//! `cloud-init status --wait --format json` exits 0 when done, 2 when done with recoverable
//! errors ("degraded": shown as a warning, the bootstrap goes on) and 1 when it failed.

use super::remote::Host;
use super::run::{Event, Setup};
use super::steps::Step;
use crate::target::Command;

/// Run the ready command and judge its exit status. The fact is "cloud-init done" or
/// "cloud-init degraded: …".
pub async fn cloud_init_done(
    setup: &Setup,
    host: &Host,
    report: &mut (dyn FnMut(Event) + Send),
) -> Result<String, String> {
    let Some((program, args)) = setup.ready_command.split_first() else {
        return Err("no command to ask whether the first boot is over".into());
    };
    let command = Command::new(program.clone()).args(args.iter().cloned());
    let shown = setup.ready_command.join(" ");
    let out = host
        .target
        .run(&command)
        .await
        .map_err(|e| format!("`{shown}` could not run: {e:#}"))?;
    let said = summary(&out.stdout_text(), &out.stderr_text());
    match out.status {
        Some(0) => Ok(format!("cloud-init done ({said})")),
        Some(2) => {
            let text = format!("cloud-init finished degraded (exit 2): {said}");
            report(Event::Warning {
                step: Step::WaitReady,
                text: text.clone(),
            });
            Ok(format!("cloud-init degraded: {said}"))
        }
        Some(code) => Err(format!(
            "cloud-init failed (`{shown}` exit {code}): {said}; see /var/log/cloud-init-output.log on the droplet"
        )),
        None => Err(format!("`{shown}` ended without an exit status")),
    }
}

/// `status` and any errors from cloud-init's JSON; its own words when it is not JSON.
fn summary(stdout: &str, stderr: &str) -> String {
    let Ok(v) = serde_json::from_str::<serde_json::Value>(stdout) else {
        let text = format!("{} {}", stdout.trim(), stderr.trim());
        return text.trim().chars().take(300).collect();
    };
    let status = v["status"].as_str().unwrap_or("?").to_string();
    let mut errors: Vec<String> = v["errors"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|e| e.as_str().map(str::to_string))
        .collect();
    if let Some(rec) = v["recoverable_errors"].as_object() {
        for (level, list) in rec {
            for e in list.as_array().into_iter().flatten() {
                if let Some(e) = e.as_str() {
                    errors.push(format!("{level}: {e}"));
                }
            }
        }
    }
    if errors.is_empty() {
        format!("status {status}")
    } else {
        format!("status {status}; {}", errors.join("; "))
    }
}

#[cfg(test)]
mod tests {
    use super::summary;

    #[test]
    fn errors_and_recoverable_errors_are_named() {
        let json = r#"{"status": "done", "errors": [],
            "recoverable_errors": {"WARNING": ["apt mirror slow"]}}"#;
        assert_eq!(summary(json, ""), "status done; WARNING: apt mirror slow");
        assert_eq!(summary("not json", "boom"), "not json boom");
    }
}
