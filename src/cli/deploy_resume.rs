//! `odoo-ops deploy --resume [rollback|continue]`: the deploy a killed console or a
//! dropped connection left unfinished, shown with what each choice would do, and done
//! once chosen (src/deploy/resume.rs). Exit codes as `deploy`'s; no unfinished deploy: 0.

use std::io::{BufRead, IsTerminal, Write};

use color_eyre::Result;

use super::deploy::{StackArgs, report, request_for};
use crate::config::Settings;
use crate::deploy::StackState;
use crate::deploy::clock;
use crate::deploy::journal::{UnfinishedDeploy, unfinished};
use crate::deploy::lock::{self, LockOptions};
use crate::deploy::orchestrate::Verdict;
use crate::deploy::resume::{self, Choice};
use crate::target::Target;

pub fn run(
    rt: &tokio::runtime::Runtime,
    target: &Target,
    choice: Option<Choice>,
    stack: &StackArgs,
    settings: &Settings,
) -> Result<u8> {
    let Some(deploy) = rt.block_on(unfinished(target, &stack.dir))? else {
        let running = rt.block_on(async {
            let state = StackState::locate(target, &stack.dir).await.ok()?;
            lock::peek(target, &state, &LockOptions::default())
                .await
                .ok()
                .flatten()
        });
        let message = match running {
            Some(o) => format!(
                "nothing to resume: the deploy that holds the lock is running ({})",
                o.holder
            ),
            None => format!(
                "nothing to resume: every deploy of {} on {} finished",
                stack.dir.display(),
                target.describe()
            ),
        };
        if stack.json {
            super::print_json(&serde_json::json!({ "unfinished": null, "message": message }))?;
        } else {
            println!("{message}");
        }
        return Ok(super::exit::OK);
    };
    let choices = resume::choices(&deploy);
    let interactive =
        !stack.json && std::io::stdin().is_terminal() && std::io::stderr().is_terminal();
    if !stack.json {
        show(&deploy, &choices);
    }
    let asked = choice.is_none() && interactive;
    let choice = match choice {
        Some(c) => c,
        None if interactive => match ask(&choices)? {
            Some(c) => c,
            None => {
                println!("left as it is");
                return Ok(super::exit::PROBLEM);
            }
        },
        None => {
            let words: Vec<&str> = choices.iter().map(|(c, _)| c.word()).collect();
            if stack.json {
                super::print_json(&serde_json::json!({
                    "unfinished": deploy,
                    "choices": choices.iter().map(|(c, what)| serde_json::json!({"choice": c.word(), "does": what})).collect::<Vec<_>>(),
                }))?;
            }
            eprintln!(
                "odoo-ops: choose what to do with it: --resume {} (add --yes to take over the lock the interrupted run left)",
                words.join(" or --resume ")
            );
            return Ok(super::exit::ERROR);
        }
    };
    // Taking over the lock the killed run left needs the operator's word: --yes, the
    // choice typed on the terminal, or a yes there.
    if !stack.yes && !asked {
        if !interactive {
            eprintln!(
                "odoo-ops: no terminal to ask on; re-run with --yes to {} {}",
                choice.word(),
                deploy.deploy_id
            );
            return Ok(super::exit::ERROR);
        }
        eprint!("{} {}? [y/N] ", choice.word(), deploy.deploy_id);
        std::io::stderr().flush()?;
        let mut line = String::new();
        std::io::stdin().lock().read_line(&mut line)?;
        if !matches!(line.trim(), "y" | "Y" | "yes") {
            println!("not started: not confirmed");
            return Ok(super::exit::PROBLEM);
        }
    }
    let mut request = request_for(
        rt,
        target,
        deploy.operation,
        &deploy.to.tag,
        stack,
        settings,
    )?;
    request.lock.take_over = true;
    let json = stack.json;
    let mut on_step = |s: &str| {
        if !json {
            println!("  {} {s}", clock::short(clock::now_ms()));
        }
    };
    let result = rt.block_on(resume::run(target, &request, &deploy, choice, &mut on_step));
    report(&result, json)?;
    Ok(match result.verdict {
        Verdict::Passed => super::exit::OK,
        Verdict::Failed => super::exit::PROBLEM,
        Verdict::CouldNotCheck => super::exit::ERROR,
    })
}

fn show(deploy: &UnfinishedDeploy, choices: &[(Choice, String)]) {
    println!("unfinished: {}", deploy.describe());
    for s in &deploy.steps {
        let how = match s.result {
            Some(r) => format!("{r:?}").to_lowercase(),
            None => "interrupted".into(),
        };
        println!(
            "  {} {}: {how} {}",
            clock::short(s.started_ms),
            s.step,
            s.detail
        );
    }
    for (i, (c, what)) in choices.iter().enumerate() {
        let suggested = if i == 0 { " (suggested)" } else { "" };
        println!("  --resume {:<9} {what}{suggested}", c.word());
    }
}

/// `r`oll back, `c`ontinue, or anything else to leave it.
fn ask(choices: &[(Choice, String)]) -> Result<Option<Choice>> {
    eprint!("[r]ollback, [c]ontinue, or leave it [q]? ");
    std::io::stderr().flush()?;
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line)?;
    let picked = match line.trim() {
        "r" | "rollback" => Some(Choice::RollBack),
        "c" | "continue" => Some(Choice::Continue),
        _ => None,
    };
    Ok(picked.filter(|p| choices.iter().any(|(c, _)| c == p)))
}
