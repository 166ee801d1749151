//! The endpoints odoo-ops uses, typed. Paths and bodies are those of the API v2 spec
//! (`tests/data/digitalocean-openapi.subset.json`); the tests check every request and
//! answer against it.

use reqwest::Method;
use serde::Deserialize;

use super::client::Client;
use super::error::Error;
use super::model::*;

/// Which droplets to list: by tag (the API filters), else all.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DropletFilter {
    pub tag: Option<String>,
}

impl Client {
    /// `GET /v2/account`: whose token this is.
    pub async fn account(&self) -> Result<Account, Error> {
        #[derive(Deserialize)]
        struct Body {
            account: Account,
        }
        let body: Body = self.get(self.url(&["v2", "account"], &[])).await?;
        Ok(body.account)
    }

    /// `GET /v2/account/keys` (limited to 10 calls a minute by the API).
    pub async fn ssh_keys(&self) -> Result<Vec<SshKey>, Error> {
        self.list(&["v2", "account", "keys"], "ssh_keys", &[]).await
    }

    pub async fn sizes(&self) -> Result<Vec<Size>, Error> {
        self.list(&["v2", "sizes"], "sizes", &[]).await
    }

    pub async fn regions(&self) -> Result<Vec<Region>, Error> {
        self.list(&["v2", "regions"], "regions", &[]).await
    }

    /// Every droplet (or those with a tag), all pages.
    pub async fn droplets(&self, filter: &DropletFilter) -> Result<Vec<Droplet>, Error> {
        let query: Vec<(&str, String)> =
            filter.tag.iter().map(|t| ("tag_name", t.clone())).collect();
        self.list(&["v2", "droplets"], "droplets", &query).await
    }

    pub async fn droplet(&self, id: u64) -> Result<Droplet, Error> {
        #[derive(Deserialize)]
        struct Body {
            droplet: Droplet,
        }
        let url = self.url(&["v2", "droplets", &id.to_string()], &[]);
        Ok(self.get::<Body>(url).await?.droplet)
    }

    /// `POST /v2/droplets`: never retried except on a 429 (see [`Client::send`]), so a
    /// lost answer cannot make two droplets.
    pub async fn create_droplet(&self, new: &NewDroplet) -> Result<Created, Error> {
        #[derive(Deserialize)]
        struct Link {
            id: u64,
            rel: String,
        }
        #[derive(Deserialize, Default)]
        struct Links {
            #[serde(default)]
            actions: Vec<Link>,
        }
        #[derive(Deserialize)]
        struct Body {
            droplet: Droplet,
            #[serde(default)]
            links: Links,
        }
        let body = serde_json::to_value(new).expect("a droplet request serializes");
        let url = self.url(&["v2", "droplets"], &[]);
        let created: Body = self.write(Method::POST, url, &body).await?;
        Ok(Created {
            create_action: created
                .links
                .actions
                .iter()
                .find(|l| l.rel == "create")
                .map(|l| l.id),
            droplet: created.droplet,
        })
    }

    /// `DELETE /v2/droplets/{id}` (204).
    pub async fn delete_droplet(&self, id: u64) -> Result<(), Error> {
        let url = self.url(&["v2", "droplets", &id.to_string()], &[]);
        self.send(Method::DELETE, url, None).await.map(|_| ())
    }

    /// `POST /v2/droplets/{id}/actions`: reboot, power cycle, snapshot.
    pub async fn droplet_action(&self, id: u64, action: &DropletAction) -> Result<Action, Error> {
        let url = self.url(&["v2", "droplets", &id.to_string(), "actions"], &[]);
        let body: ActionBody = self.write(Method::POST, url, &action.body()).await?;
        Ok(body.action)
    }

    /// `GET /v2/actions/{id}`: where an action stands.
    pub async fn action(&self, id: u64) -> Result<Action, Error> {
        let url = self.url(&["v2", "actions", &id.to_string()], &[]);
        Ok(self.get::<ActionBody>(url).await?.action)
    }

    /// Follow an action until it is `completed` or `errored`, or `deadline` passes (the
    /// last state seen is returned either way). Polls are spread over the rate limit
    /// left until its reset, never closer than `floor`: a long wait cannot eat the
    /// budget the rest of the console needs.
    pub async fn wait_for_action(
        &self,
        id: u64,
        floor: std::time::Duration,
        deadline: std::time::Duration,
    ) -> Result<Action, Error> {
        let until = tokio::time::Instant::now() + deadline;
        loop {
            let action = self.action(id).await?;
            if action.is_done() || tokio::time::Instant::now() >= until {
                return Ok(action);
            }
            let wait = match self.rate_limit() {
                Some(rate) => std::time::Duration::from_secs(
                    rate.poll_interval(crate::deploy::clock::now_ms() / 1000, floor.as_secs()),
                )
                .max(floor),
                None => floor,
            };
            tokio::time::sleep_until((tokio::time::Instant::now() + wait).min(until)).await;
        }
    }

    /// `GET /v2/domains/{name}`: whether the account holds this zone (`None` on a 404).
    pub async fn domain(&self, name: &str) -> Result<Option<String>, Error> {
        #[derive(Deserialize)]
        struct Zone {
            name: String,
        }
        #[derive(Deserialize)]
        struct Body {
            domain: Zone,
        }
        let url = self.url(&["v2", "domains", name], &[]);
        match self.get::<Body>(url).await {
            Ok(body) => Ok(Some(body.domain.name)),
            Err(e) if e.status() == Some(404) => Ok(None),
            Err(e) => Err(e),
        }
    }

    pub async fn domain_records(&self, domain: &str) -> Result<Vec<DomainRecord>, Error> {
        self.list(&["v2", "domains", domain, "records"], "domain_records", &[])
            .await
    }

    pub async fn create_domain_record(
        &self,
        domain: &str,
        record: &NewDomainRecord,
    ) -> Result<DomainRecord, Error> {
        #[derive(Deserialize)]
        struct Body {
            domain_record: DomainRecord,
        }
        let body = serde_json::to_value(record).expect("a record serializes");
        let url = self.url(&["v2", "domains", domain, "records"], &[]);
        Ok(self
            .write::<Body>(Method::POST, url, &body)
            .await?
            .domain_record)
    }

    pub async fn delete_domain_record(&self, domain: &str, id: u64) -> Result<(), Error> {
        let url = self.url(&["v2", "domains", domain, "records", &id.to_string()], &[]);
        self.send(Method::DELETE, url, None).await.map(|_| ())
    }

    pub async fn firewalls(&self) -> Result<Vec<Firewall>, Error> {
        self.list(&["v2", "firewalls"], "firewalls", &[]).await
    }

    pub async fn create_firewall(&self, firewall: &NewFirewall) -> Result<Firewall, Error> {
        #[derive(Deserialize)]
        struct Body {
            firewall: Firewall,
        }
        let body = serde_json::to_value(firewall).expect("a firewall serializes");
        let url = self.url(&["v2", "firewalls"], &[]);
        Ok(self.write::<Body>(Method::POST, url, &body).await?.firewall)
    }

    pub async fn delete_firewall(&self, id: &str) -> Result<(), Error> {
        let url = self.url(&["v2", "firewalls", id], &[]);
        self.send(Method::DELETE, url, None).await.map(|_| ())
    }
}

#[derive(Deserialize)]
struct ActionBody {
    action: Action,
}
