//! Step 4: the domain points at the droplet. When the zone is on the DigitalOcean account
//! the A record is written there; otherwise the operator is told what to set, and the step
//! waits (with a deadline) until the name resolves to the droplet.

use std::net::IpAddr;
use std::time::Duration;

use tokio::time::Instant;

use super::remote::Droplet;
use super::resolve;
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

/// How long one lookup may take: a resolver that does not answer is asked again at the
/// next poll, not waited for past the step's deadline.
const LOOKUP_TIMEOUT: Duration = Duration::from_secs(5);

/// The record the operator must set, in their words.
fn record_to_set(name: &str, ipv4: &str) -> String {
    format!("an A record {name} → {ipv4} (TTL {TTL})")
}

/// What a lookup said, for the operator.
fn said(answer: &Result<Vec<IpAddr>, String>) -> String {
    match answer {
        Ok(found) if found.is_empty() => "no address".into(),
        Ok(found) => found
            .iter()
            .map(IpAddr::to_string)
            .collect::<Vec<_>>()
            .join(", "),
        Err(e) => format!("no answer: {e}"),
    }
}

/// The domain is not on the account: tell the operator which record to set, then ask the
/// resolver every `dns_poll` until the name resolves to the droplet or `waits.dns` ends.
/// Each change in what the resolver says is told, so a wrong record shows at once.
async fn wait_resolves(
    setup: &Setup,
    name: &str,
    ipv4: &str,
    report: &mut (dyn FnMut(Event) + Send),
) -> Result<String, String> {
    let want: IpAddr = ipv4
        .parse()
        .map_err(|_| format!("the droplet's address {ipv4:?} is not an IP address"))?;
    let resolver = setup.resolver.describe();
    let until = Instant::now() + setup.waits.dns;
    let resolved = |answer: &Result<Vec<IpAddr>, String>| {
        answer.as_ref().is_ok_and(|found| found.contains(&want))
    };
    let lookup = |until: Instant| {
        let budget = until
            .saturating_duration_since(Instant::now())
            .clamp(Duration::from_millis(200), LOOKUP_TIMEOUT);
        resolve::lookup(&setup.resolver, name, budget)
    };
    let mut answer = lookup(until).await;
    if resolved(&answer) {
        return Ok(format!("{name} resolves to {} ({resolver})", said(&answer)));
    }
    report(Event::Notice {
        step: Step::Dns,
        text: format!(
            "{name} is not in a zone on this DigitalOcean account: at your DNS provider, set \
             {}; waiting up to {} for {resolver} to give that address (it gives: {})",
            record_to_set(name, ipv4),
            crate::deploy::clock::age(setup.waits.dns.as_secs() as i64),
            said(&answer)
        ),
    });
    let mut last = said(&answer);
    loop {
        if Instant::now() >= until {
            return Err(format!(
                "{name} did not resolve to {ipv4} within {} ({resolver} gives: {last}): set \
                 {} at your DNS provider, then re-run; the step waits for it again",
                crate::deploy::clock::age(setup.waits.dns.as_secs() as i64),
                record_to_set(name, ipv4),
            ));
        }
        tokio::time::sleep(
            setup
                .waits
                .dns_poll
                .min(until.saturating_duration_since(Instant::now())),
        )
        .await;
        answer = lookup(until).await;
        if resolved(&answer) {
            return Ok(format!(
                "{name} resolves to {} ({resolver}; the record was set by the operator)",
                said(&answer)
            ));
        }
        let now = said(&answer);
        if now != last {
            report(Event::Notice {
                step: Step::Dns,
                text: format!("{name} now gives {now} ({resolver}), not {ipv4} yet"),
            });
            last = now;
        }
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
