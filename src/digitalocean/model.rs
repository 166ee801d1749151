//! The resources odoo-ops reads and writes, with the fields it uses. Unknown fields are
//! ignored (the API adds some often); a missing documented one is a decode error.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
pub struct Account {
    pub email: String,
    pub uuid: String,
    pub status: String,
    pub droplet_limit: u32,
    #[serde(default)]
    pub status_message: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
pub struct SshKey {
    pub id: u64,
    pub fingerprint: String,
    pub name: String,
    pub public_key: String,
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
pub struct Size {
    pub slug: String,
    pub memory: u64,
    pub vcpus: u32,
    pub disk: u64,
    pub price_monthly: f64,
    pub available: bool,
    #[serde(default)]
    pub regions: Vec<String>,
    #[serde(default)]
    pub description: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
pub struct Region {
    pub slug: String,
    pub name: String,
    pub available: bool,
    #[serde(default)]
    pub sizes: Vec<String>,
}

/// The region a droplet is in (the API sends the whole region; these are the parts used).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
pub struct RegionRef {
    pub slug: String,
    #[serde(default)]
    pub name: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize, Serialize)]
pub struct Networks {
    #[serde(default)]
    pub v4: Vec<NetworkV4>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
pub struct NetworkV4 {
    pub ip_address: String,
    /// `public` or `private`.
    #[serde(rename = "type")]
    pub kind: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
pub struct Droplet {
    pub id: u64,
    pub name: String,
    /// `new`, `active`, `off`, `archive`.
    pub status: String,
    /// RFC 3339.
    pub created_at: String,
    pub size_slug: String,
    pub region: RegionRef,
    #[serde(default)]
    pub networks: Networks,
    #[serde(default)]
    pub tags: Vec<String>,
    pub memory: u64,
    pub vcpus: u32,
    pub disk: u64,
    #[serde(default)]
    pub locked: bool,
}

impl Droplet {
    /// The public IPv4 (the `networks.v4` entry of type `public`); none while `new`.
    pub fn public_ipv4(&self) -> Option<&str> {
        self.networks
            .v4
            .iter()
            .find(|n| n.kind == "public")
            .map(|n| n.ip_address.as_str())
    }

    /// Seconds since it was created, `None` when `created_at` is not a time.
    pub fn age_secs(&self, now_ms: i64) -> Option<u64> {
        let (created, _) = crate::logs::time::docker(self.created_at.as_bytes())?;
        Some(((now_ms - created).max(0) / 1000) as u64)
    }
}

/// An action (reboot, snapshot, create) and where it stands.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
pub struct Action {
    pub id: u64,
    /// `in-progress`, `completed`, `errored`.
    pub status: String,
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default)]
    pub started_at: Option<String>,
    #[serde(default)]
    pub completed_at: Option<String>,
    #[serde(default)]
    pub resource_id: Option<u64>,
    #[serde(default)]
    pub resource_type: Option<String>,
}

impl Action {
    pub fn is_done(&self) -> bool {
        matches!(self.status.as_str(), "completed" | "errored")
    }
}

/// An action a droplet can be asked for from the console.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DropletAction {
    Reboot,
    PowerCycle,
    /// A snapshot with this name.
    Snapshot(String),
}

impl DropletAction {
    /// The request body DigitalOcean documents for it.
    pub fn body(&self) -> serde_json::Value {
        match self {
            DropletAction::Reboot => serde_json::json!({"type": "reboot"}),
            DropletAction::PowerCycle => serde_json::json!({"type": "power_cycle"}),
            DropletAction::Snapshot(name) => serde_json::json!({"type": "snapshot", "name": name}),
        }
    }

    /// `reboot`, `power cycle`, `snapshot`: for sentences.
    pub fn verb(&self) -> &'static str {
        match self {
            DropletAction::Reboot => "reboot",
            DropletAction::PowerCycle => "power cycle",
            DropletAction::Snapshot(_) => "snapshot",
        }
    }
}

/// What `POST /v2/droplets` is given.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NewDroplet {
    pub name: String,
    pub region: String,
    pub size: String,
    pub image: String,
    /// Ids or fingerprints of the account's SSH keys.
    pub ssh_keys: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
    /// cloud-init user data.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_data: Option<String>,
    pub monitoring: bool,
    pub ipv6: bool,
}

/// A created droplet and the action that follows its creation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Created {
    pub droplet: Droplet,
    /// `links.actions[rel=create]`'s id.
    pub create_action: Option<u64>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
pub struct DomainRecord {
    pub id: u64,
    #[serde(rename = "type")]
    pub kind: String,
    pub name: String,
    pub data: String,
    #[serde(default)]
    pub ttl: Option<u32>,
}

/// What `POST /v2/domains/{domain}/records` is given (A, AAAA, CNAME, TXT records).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NewDomainRecord {
    #[serde(rename = "type")]
    pub kind: String,
    pub name: String,
    pub data: String,
    pub ttl: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize, Serialize)]
pub struct FirewallTargets {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub addresses: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub droplet_ids: Vec<u64>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
pub struct InboundRule {
    pub protocol: String,
    pub ports: String,
    pub sources: FirewallTargets,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
pub struct OutboundRule {
    pub protocol: String,
    pub ports: String,
    pub destinations: FirewallTargets,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
pub struct Firewall {
    #[serde(default)]
    pub id: String,
    pub name: String,
    #[serde(default)]
    pub status: String,
    #[serde(default)]
    pub inbound_rules: Vec<InboundRule>,
    #[serde(default)]
    pub outbound_rules: Vec<OutboundRule>,
    #[serde(default)]
    pub droplet_ids: Vec<u64>,
    #[serde(default)]
    pub tags: Vec<String>,
}

/// What `POST /v2/firewalls` is given.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NewFirewall {
    pub name: String,
    pub inbound_rules: Vec<InboundRule>,
    pub outbound_rules: Vec<OutboundRule>,
    pub droplet_ids: Vec<u64>,
}
