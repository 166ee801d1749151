//! Step 2: the droplet, created once. Its id is saved in the state file the moment
//! DigitalOcean answers the create (before any waiting), so a run stopped while the
//! droplet boots never creates a second one, and an undo knows what to delete.

use std::time::Duration;

use super::cloud_init;
use super::remote::Droplet;
use super::run::{Event, Setup};
use super::steps::{Progress, Step};
use crate::digitalocean::{Client, NewDroplet};

/// The tag every droplet this wizard makes carries (the Droplets pane filters by it).
pub const TAG: &str = "odoo-ops";

pub async fn create(
    setup: &Setup,
    client: &Client,
    progress: &mut Progress,
    report: &mut (dyn FnMut(Event) + Send),
) -> Result<Droplet, String> {
    let id = match progress.droplet_id {
        Some(id) => {
            report(Event::Notice {
                step: Step::CreateDroplet,
                text: format!("droplet {id} was already created by an earlier run: waiting for it"),
            });
            id
        }
        None => {
            let key = account_key(client, &setup.answers.ssh_key).await?;
            let a = &setup.answers;
            let new = NewDroplet {
                name: a.name.clone(),
                region: a.region.clone(),
                size: a.size.slug.to_string(),
                image: cloud_init::DROPLET_IMAGE.to_string(),
                ssh_keys: vec![key],
                tags: vec![TAG.to_string()],
                user_data: Some(cloud_init::user_data()),
                monitoring: true,
                ipv6: false,
            };
            let created = client
                .create_droplet(&new)
                .await
                .map_err(|e| format!("DigitalOcean refused the droplet: {e}"))?;
            let id = created.droplet.id;
            progress.droplet_id = Some(id);
            progress
                .save(&setup.state_file)
                .map_err(|e| format!("droplet {id} was created but the state file could not be written ({e:#}): delete it in DigitalOcean's panel"))?;
            report(Event::Notice {
                step: Step::CreateDroplet,
                text: format!("droplet {id} ({}) created in {}", a.name, a.region),
            });
            if let Some(action) = created.create_action {
                let done = client
                    .wait_for_action(action, setup.waits.action_poll, setup.waits.droplet_active)
                    .await
                    .map_err(|e| format!("following the create action {action}: {e}"))?;
                if done.status != "completed" {
                    return Err(format!(
                        "the create action {action} of droplet {id} ended {:?}",
                        done.status
                    ));
                }
            }
            id
        }
    };
    let ipv4 = wait_active(
        client,
        id,
        setup.waits.action_poll,
        setup.waits.droplet_active,
    )
    .await?;
    progress.droplet_ipv4 = Some(ipv4.clone());
    Ok(Droplet { id, ipv4 })
}

/// The key as the create request names it (its fingerprint), checked to be on the account.
async fn account_key(client: &Client, wanted: &str) -> Result<String, String> {
    let keys = client
        .ssh_keys()
        .await
        .map_err(|e| format!("cannot list the account's SSH keys: {e}"))?;
    keys.iter()
        .find(|k| k.fingerprint == wanted || k.id.to_string() == wanted || k.name == wanted)
        .map(|k| k.fingerprint.clone())
        .ok_or_else(|| {
            let names: Vec<String> = keys
                .iter()
                .map(|k| format!("{:?} ({})", k.name, k.fingerprint))
                .collect();
            format!(
                "SSH key {wanted:?} is not on the account; it has: {}",
                if names.is_empty() {
                    "no keys".to_string()
                } else {
                    names.join(", ")
                }
            )
        })
}

/// Poll the droplet until it is active with a public IPv4.
async fn wait_active(
    client: &Client,
    id: u64,
    poll: Duration,
    deadline: Duration,
) -> Result<String, String> {
    let until = tokio::time::Instant::now() + deadline;
    loop {
        let d = client
            .droplet(id)
            .await
            .map_err(|e| format!("cannot look up droplet {id}: {e}"))?;
        if d.status == "active"
            && let Some(ip) = d.public_ipv4()
        {
            return Ok(ip.to_string());
        }
        if tokio::time::Instant::now() >= until {
            return Err(format!(
                "droplet {id} is still {:?} without a public address after {} s",
                d.status,
                deadline.as_secs()
            ));
        }
        tokio::time::sleep(poll).await;
    }
}
