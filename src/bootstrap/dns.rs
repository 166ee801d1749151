//! Step 4: the domain points at the droplet. When the zone is on the DigitalOcean account
//! the A record is written there; otherwise the operator is told what to set, and the step
//! waits (with a deadline) until the name resolves to the droplet.

use std::net::IpAddr;

use super::remote::Droplet;
use super::run::{Event, Setup};
use super::steps::Step;
use crate::digitalocean::{Client, NewDomainRecord};

/// The TTL of the record written: short, so a rebuilt droplet's address spreads quickly.
const TTL: u32 = 300;

pub async fn point(
    setup: &Setup,
    client: &Client,
    droplet: &Droplet,
    report: &mut (dyn FnMut(Event) + Send),
) -> Result<String, String> {
    let name = setup.answers.domain.as_str().to_string();
    match account_zone(client, &name).await? {
        Some(zone) => a_record(client, &zone, &name, &droplet.ipv4, report).await,
        None => wait_resolves(setup, &name, &droplet.ipv4, report).await,
    }
}

/// The zone on the account holding `name`: `name` itself, then each parent down to the
/// registrable two labels.
async fn account_zone(client: &Client, name: &str) -> Result<Option<String>, String> {
    let labels: Vec<&str> = name.split('.').collect();
    for start in 0..labels.len().saturating_sub(1) {
        let zone = labels[start..].join(".");
        match client.domain(&zone).await {
            Ok(Some(found)) => return Ok(Some(found)),
            Ok(None) => {}
            Err(e) => return Err(format!("cannot look up the zone {zone}: {e}")),
        }
    }
    Ok(None)
}

/// The record's name inside its zone (`@` for the apex).
fn record_name(zone: &str, name: &str) -> String {
    name.strip_suffix(zone)
        .and_then(|p| p.strip_suffix('.'))
        .filter(|p| !p.is_empty())
        .unwrap_or("@")
        .to_string()
}

async fn a_record(
    client: &Client,
    zone: &str,
    name: &str,
    ipv4: &str,
    report: &mut (dyn FnMut(Event) + Send),
) -> Result<String, String> {
    let rname = record_name(zone, name);
    let records = client
        .domain_records(zone)
        .await
        .map_err(|e| format!("cannot list the records of {zone}: {e}"))?;
    let existing: Vec<_> = records
        .iter()
        .filter(|r| r.kind == "A" && r.name == rname)
        .collect();
    if existing.iter().any(|r| r.data == ipv4) {
        return Ok(format!("A {name} → {ipv4} (already in zone {zone})"));
    }
    if let Some(other) = existing.first() {
        // Another address may be a running site: not replaced without a person.
        return Err(format!(
            "zone {zone} already has A {rname} → {} (record {}); delete it or point it at {ipv4}, then re-run",
            other.data, other.id
        ));
    }
    let record = NewDomainRecord {
        kind: "A".into(),
        name: rname.clone(),
        data: ipv4.to_string(),
        ttl: TTL,
    };
    let written = client
        .create_domain_record(zone, &record)
        .await
        .map_err(|e| format!("cannot write A {rname} in zone {zone}: {e}"))?;
    report(Event::Notice {
        step: Step::Dns,
        text: format!(
            "wrote A {rname} → {ipv4} in zone {zone} on DigitalOcean (record {})",
            written.id
        ),
    });
    Ok(format!(
        "A {name} → {ipv4} (record {} in zone {zone})",
        written.id
    ))
}

async fn wait_resolves(
    setup: &Setup,
    name: &str,
    ipv4: &str,
    report: &mut (dyn FnMut(Event) + Send),
) -> Result<String, String> {
    let want: IpAddr = ipv4
        .parse()
        .map_err(|_| format!("the droplet's address {ipv4:?} is not an IP address"))?;
    report(Event::Notice {
        step: Step::Dns,
        text: format!(
            "{name} is not in a zone on this DigitalOcean account: at your DNS provider, set \
             an A record {name} → {ipv4} (TTL {TTL}); waiting up to {} min for it to resolve",
            setup.waits.dns.as_secs().div_ceil(60)
        ),
    });
    let until = tokio::time::Instant::now() + setup.waits.dns;
    loop {
        let seen: Vec<IpAddr> = match tokio::net::lookup_host((name, 80)).await {
            Ok(addrs) => addrs.map(|a| a.ip()).collect(),
            Err(_) => Vec::new(),
        };
        if seen.contains(&want) {
            return Ok(format!(
                "{name} resolves to {ipv4} (record set by the operator)"
            ));
        }
        if tokio::time::Instant::now() >= until {
            let seen: Vec<String> = seen.iter().map(IpAddr::to_string).collect();
            return Err(format!(
                "{name} does not resolve to {ipv4} after {} s (it resolves to: {}); set the A record and re-run",
                setup.waits.dns.as_secs(),
                if seen.is_empty() {
                    "nothing".into()
                } else {
                    seen.join(", ")
                }
            ));
        }
        tokio::time::sleep(setup.waits.dns_poll).await;
    }
}

#[cfg(test)]
mod tests {
    use super::record_name;

    #[test]
    fn a_name_inside_its_zone() {
        assert_eq!(record_name("example.com", "erp.example.com"), "erp");
        assert_eq!(record_name("example.com", "example.com"), "@");
        assert_eq!(record_name("example.com", "a.b.example.com"), "a.b");
    }
}
