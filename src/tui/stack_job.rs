//! The Deploy pane's background work: render the stack's files and compare them with the
//! host's, or write a plan the operator confirmed. Runs on the event loop's runtime.

use crate::stack::{self, Domain, DropletSize, StackOptions, update};
use crate::target::Target;
use crate::tui::effect::Effect;
use crate::tui::message::Message;
use crate::workflow::StateDirs;

/// Do the work of a stack effect; other effects are not ours (`None`). Files are written
/// through the safe-change primitive, journalled and backed up in the host's state dirs.
pub async fn run(target: &Target, effect: Effect) -> Option<Message> {
    run_in(target, None, effect).await
}

/// [`run`] with the state directories given (`None`: the host's own).
pub async fn run_in(target: &Target, dirs: Option<&StateDirs>, effect: Effect) -> Option<Message> {
    match effect {
        Effect::PlanStack(request) => {
            let plan = async {
                let domain =
                    Domain::parse(&request.domain).map_err(|e| color_eyre::eyre::eyre!(e))?;
                let size = DropletSize::by_slug(&request.size)
                    .ok_or_else(|| color_eyre::eyre::eyre!("unknown size {}", request.size))?;
                let mut options = StackOptions::new(domain, *size);
                options.redis = request.redis;
                let existing = update::read_existing(target, &request.directory).await?;
                let rendered = stack::render(&options, &existing)?;
                update::plan(target, &request.directory, &rendered).await
            }
            .await
            .map_err(|e| format!("{e:#}; nothing was written"));
            Some(Message::StackPlanned(request, plan))
        }
        Effect::WriteStack(plan) => {
            let stamp = update::backup_stamp();
            let written = match dirs {
                Some(dirs) => update::apply_in(target, dirs, &plan.0, &stamp).await,
                None => update::apply(target, &plan.0, &stamp).await,
            }
            .map_err(|e| format!("{e:#}"));
            Some(Message::StackWritten(written))
        }
        _ => None,
    }
}
