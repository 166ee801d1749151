//! Step 8: the console left on the droplet (`/usr/local/bin/odoo-ops`), so the next
//! operator who logs in has it: the very binary running the wizard, when the droplet's
//! processor (`uname -m`) is the one the binary is built for and its glibc is at least the
//! newest one the binary needs.
//! Otherwise the step is done with the reason it was skipped, not failed: the droplet
//! serves Odoo either way.

use super::elf_glibc;
use super::remote::Host;
use super::run::{Event, Setup};
use super::steps::Step;
use crate::target::Command;

pub async fn install(
    setup: &Setup,
    host: &Host,
    report: &mut (dyn FnMut(Event) + Send),
) -> Result<String, String> {
    let binary = std::fs::read(&setup.console_binary)
        .map_err(|e| format!("cannot read {}: {e}", setup.console_binary.display()))?;
    if let Some(why) = cannot_run_there(host, &binary).await? {
        let text = format!("odoo-ops was not installed on the droplet: {why}");
        report(Event::Warning {
            step: Step::InstallConsole,
            text: text.clone(),
        });
        return Ok(format!("skipped: {why}"));
    }
    let path = setup.install_path.display().to_string();
    let want = crate::workflow::sha256_hex(&binary);
    let there = host
        .target
        .run(&Command::new("sha256sum").args(["--", path.as_str()]))
        .await
        .map_err(|e| format!("cannot read {path} on the droplet: {e:#}"))?;
    if there.success() && there.stdout_text().split_whitespace().next() == Some(&want) {
        return Ok(format!("{path} (already this build)"));
    }
    // Written beside, then renamed: a console running from the old file keeps working.
    let partial = format!("{path}.partial");
    host.target
        .write_file(std::path::Path::new(&partial), &binary, 0o755)
        .await
        .map_err(|e| format!("cannot copy odoo-ops to {partial}: {e:#}"))?;
    let moved = host
        .target
        .run(&Command::new("mv").args(["-f", "--", partial.as_str(), path.as_str()]))
        .await
        .map_err(|e| format!("cannot move {partial} to {path}: {e:#}"))?;
    if !moved.success() {
        return Err(format!(
            "cannot move {partial} to {path}: {}",
            moved.stderr_text().trim()
        ));
    }
    Ok(format!("{path} ({} bytes)", binary.len()))
}

/// Why this binary would not start on the droplet, or `None` when it would. Both facts
/// of the binary come from the file copied (not from the running process: the copy is
/// what must start there), the droplet's from its own `uname -m` and C library.
async fn cannot_run_there(host: &Host, binary: &[u8]) -> Result<Option<String>, String> {
    let Some(machines) = elf_glibc::machine_names(binary) else {
        return Ok(Some(
            "this odoo-ops is not a Linux (ELF) program for a droplet's processor".into(),
        ));
    };
    let uname = host
        .target
        .run(&Command::new("uname").arg("-m"))
        .await
        .map_err(|e| format!("`uname -m` on the droplet: {e:#}"))?;
    let arch = uname.stdout_text().trim().to_string();
    if !machines.contains(&arch.as_str()) {
        return Ok(Some(format!(
            "the droplet is {arch:?} (uname -m), this odoo-ops is built for {:?}",
            machines[0]
        )));
    }
    let Some(needed) = elf_glibc::newest_needed(binary) else {
        return Ok(Some("this odoo-ops is not a 64-bit ELF program".into()));
    };
    let Some(needed) = needed else {
        return Ok(None);
    };
    let mut host_glibc = None;
    for command in [
        Command::new("getconf").arg("GNU_LIBC_VERSION"),
        Command::new("ldd").arg("--version"),
    ] {
        if let Ok(out) = host.target.run(&command).await
            && out.success()
            && let Some(v) = elf_glibc::parse_host_glibc(&out.stdout_text())
        {
            host_glibc = Some(v);
            break;
        }
    }
    Ok(match host_glibc {
        None => {
            Some("the droplet's C library is not glibc (or its version could not be read)".into())
        }
        Some(have) if have < needed => Some(format!(
            "the droplet has glibc {}.{}, this odoo-ops needs {}.{}",
            have.0, have.1, needed.0, needed.1
        )),
        Some(_) => None,
    })
}
