//! The Droplets pane's jobs: listing the droplets, and an action on one followed by a
//! fresh list. They run on the console's DigitalOcean client, made once at start.

use super::effect::Effect;
use super::jobs::ConsoleJob;
use super::message::Message;
use super::panes::droplets::{DropletsEvent, ListError};
use crate::digitalocean::{Client, DropletFilter, Error};
use crate::jobs::Progress;

/// The console's DigitalOcean client, or why it has none (no token, a bad API address).
pub type Cloud = Result<Client, Error>;

pub async fn run(cloud: Option<Cloud>, effect: Effect, progress: &Progress<ConsoleJob>) -> Message {
    let client = match cloud {
        Some(Ok(client)) => client,
        Some(Err(Error::NoToken(how))) => return listed(Err(ListError::NoToken(how)), None),
        Some(Err(e)) => return listed(Err(ListError::Failed(e.to_string())), None),
        None => {
            return listed(
                Err(ListError::Failed("no DigitalOcean client".into())),
                None,
            );
        }
    };
    if let Effect::DropletAction { id, name, action } = effect {
        let result = client
            .droplet_action(id, &action)
            .await
            .map(|_| ())
            .map_err(|e| e.to_string());
        if let Err(e) = &result {
            tracing::warn!("DigitalOcean: {} of {name}: {e}", action.verb());
        }
        progress.report(Message::Droplets(DropletsEvent::Acted {
            droplet: name,
            verb: action.verb(),
            result,
        }));
    }
    let result = client
        .droplets(&DropletFilter::default())
        .await
        .map_err(|e| ListError::Failed(e.to_string()));
    listed(result, Some(&client))
}

fn listed(
    result: Result<Vec<crate::digitalocean::Droplet>, ListError>,
    client: Option<&Client>,
) -> Message {
    Message::Droplets(DropletsEvent::Listed {
        result,
        now_ms: crate::deploy::clock::now_ms(),
        rate_limit: client.and_then(Client::rate_limit),
    })
}
