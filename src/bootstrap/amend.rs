//! Changing the answers of a bootstrap under way ("going back is always allowed": back to
//! step 1 after the droplet exists). One rule for the console's form and for the job that
//! saves the answers: which answer can still change given what the state file records,
//! and which steps run again for the answers that did change.
//!
//! Each step reads only some answers ([`first_use`]); a changed answer forgets the first
//! step that reads it and every step after it ([`Progress::go_back_to`]), so the next run
//! does them again with the new value, each step being idempotent. An answer a done step
//! cannot take back is fixed ([`fixed`]), and the reason is said.
//!
//! The console's form compares the answers it saves with the answers file; a run compares
//! the answers file with the answers step 1 recorded in the state file ([`from_record`]),
//! so an answers file edited by hand between two headless runs meets the same rule.

use std::collections::BTreeMap;

use super::answers::{Answers, Field};
use super::steps::{Progress, Step};

/// The first step that reads a field's answer: a change runs it and every step after it
/// again. (Step 1 only records the answers: it is recorded afresh by [`amend`].)
pub fn first_use(field: Field) -> Step {
    match field {
        // The create request.
        Field::Name | Field::Region | Field::Size | Field::SshKey => Step::CreateDroplet,
        // The A record, then the nginx site's name, the certificate and the edge gates.
        Field::Domain => Step::Dns,
        // The compose file.
        Field::Image | Field::Tag => Step::Stack,
        // certbot's account.
        Field::AdminEmail => Step::Tls,
        Field::ModulesPlan => Step::ModulesVerify,
    }
}

/// Why a field's answer can no longer change, given what the state file records; `None`
/// while it can.
pub fn fixed(field: Field, progress: &Progress) -> Option<String> {
    match field {
        Field::Name | Field::Region | Field::Size | Field::SshKey => {
            progress.droplet_id.map(|id| {
                format!(
                    "droplet {id} was created with it (its name, region, size and key cannot \
                     change); undo deletes the droplet to start again with another"
                )
            })
        }
        // Running the stack step again would swap the release under a database the
        // plan's modules were installed in, with no backup and no way back.
        Field::Image | Field::Tag if progress.is_done(Step::ModulesVerify) => Some(
            "the database holds the modules installed by this release: a new release goes \
             through a deploy (the Deploy pane's t), which backs up and can roll back"
                .into(),
        ),
        // The TLS step keeps a valid certificate and issues nothing, so a new address
        // would be saved but never reach certbot's account.
        Field::AdminEmail if progress.is_done(Step::Tls) => Some(
            "certbot's account was registered with it when the certificate was issued, and \
             the TLS step keeps a valid certificate; change it on the droplet with \
             `certbot update_account --email`"
                .into(),
        ),
        _ => None,
    }
}

/// The step to go back to for these changed fields: the first that reads any of them.
pub fn rewind_to(changed: &[Field]) -> Option<Step> {
    changed.iter().map(|f| first_use(*f)).min()
}

/// The fields whose answers differ.
pub fn changed(old: &Answers, new: &Answers) -> Vec<Field> {
    Field::ALL
        .into_iter()
        .filter(|f| old.value(*f) != new.value(*f))
        .collect()
}

/// What step 1 records: the answers the droplet and the stack are made from.
pub fn choose_fact(answers: &Answers) -> String {
    format!(
        "{} in {}, {}, {}:{}",
        answers.name, answers.region, answers.size.slug, answers.image, answers.tag
    )
}

/// The answers changed from `old` to `new`: refused (nothing changed) when a fixed one
/// differs; otherwise the steps that read a changed answer are forgotten so they run
/// again, and step 1 records the new answers. The changed fields, in form order.
pub fn amend(
    progress: &mut Progress,
    old: &Answers,
    new: &Answers,
    at: String,
) -> Result<Vec<Field>, String> {
    let changed = changed(old, new);
    apply(progress, &changed, new, at)
        .map_err(|(field, why)| format!("{} cannot change: {why}", field.key()))?;
    Ok(changed)
}

/// A run's answers differ from those step 1 recorded: where the run goes back to, and
/// what to tell the operator.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rewound {
    pub to: Step,
    pub said: String,
}

/// [`amend`] for a run: the answers file against the answers step 1 recorded in the
/// state file. A fixed answer changed is refused with nothing changed, naming the file,
/// the field, both values and why; `Some` when steps were forgotten to run again.
pub fn from_record(
    progress: &mut Progress,
    new: &Answers,
    at: String,
) -> Result<Option<Rewound>, String> {
    let Some(recorded) = progress.answers.clone() else {
        // A state file from a version that recorded no answers: accepted unchecked, as
        // that version did; the answers of this run are recorded from now on, so the
        // next run is checked against them.
        if progress.is_done(Step::Choose) {
            progress.answers = Some(record(new));
        }
        return Ok(None);
    };
    let file = new.file.display();
    // A field the record lacks (added by a later version) is not compared.
    let was = |f: Field| recorded.get(f.key());
    let changed: Vec<Field> = Field::ALL
        .into_iter()
        .filter(|f| was(*f).is_some_and(|v| *v != recorded_value(*f, &new.value(*f))))
        .collect();
    let change = |f: Field| {
        let (old, new) = (was(f).map(String::as_str).unwrap_or(""), new.value(f));
        match crate::redact::is_secret_name(f.key()) {
            true => format!("{} changed (values hidden)", f.key()),
            false => format!("{} was {old:?} and is now {new:?}", f.key()),
        }
    };
    apply(progress, &changed, new, at).map_err(|(field, why)| {
        format!(
            "{file}: {} since step 1 was done, and it cannot change: {why}",
            change(field)
        )
    })?;
    Ok(rewind_to(&changed).map(|to| {
        let what: Vec<String> = changed.iter().map(|f| change(*f)).collect();
        Rewound {
            to,
            said: format!(
                "{file}: {} since step 1 was done: going back to step {:?} ({}), which \
                 runs again with every step after it",
                what.join("; "),
                to.key(),
                to.title()
            ),
        }
    }))
}

/// The one rule both faces go through: refused with the first fixed field changed and
/// why, nothing changed; otherwise back to the first step reading a changed answer, and
/// the new answers recorded as step 1's.
fn apply(
    progress: &mut Progress,
    changed: &[Field],
    new: &Answers,
    at: String,
) -> Result<(), (Field, String)> {
    for field in changed {
        if let Some(why) = fixed(*field, progress) {
            return Err((*field, why));
        }
    }
    if let Some(step) = rewind_to(changed) {
        progress.go_back_to(step);
        if progress.is_done(Step::Choose) {
            progress.record(Step::Choose, at, choose_fact(new));
        }
        progress.answers = Some(record(new));
    }
    Ok(())
}

/// The answers as step 1 records them in the state file, by field key. None is a secret
/// (the DigitalOcean token is never an answer), but redact's rule names `ssh_key` one by
/// its name, so a field it names is kept only as a digest: enough to tell a change.
pub fn record(answers: &Answers) -> BTreeMap<String, String> {
    Field::ALL
        .into_iter()
        .map(|f| (f.key().to_string(), recorded_value(f, &answers.value(f))))
        .collect()
}

fn recorded_value(field: Field, value: &str) -> String {
    if crate::redact::is_secret_name(field.key()) {
        format!("sha256:{}", crate::workflow::sha256_hex(value.as_bytes()))
    } else {
        value.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    const OLD: &str = r#"
name = "erp-prod-1"
ssh_key = "3b:16:bf:e4:8b:00:8b:b8:59:8c:a9:d3:f0:19:45:fa"
domain = "erp.example.com"
image = "odoo"
tag = "18.0"
admin_email = "ops@example.com"
"#;

    fn answers(text: &str) -> Answers {
        Answers::parse(Path::new("/b/erp-prod-1.toml"), text).unwrap()
    }

    fn through(last: Step) -> Progress {
        let mut p = Progress {
            droplet_id: Some(4242),
            droplet_ipv4: Some("203.0.113.10".into()),
            ..Default::default()
        };
        for s in Step::ALL.into_iter().filter(|s| *s <= last) {
            p.record(s, "t".into(), format!("{} done", s.key()));
        }
        p
    }

    #[test]
    fn a_changed_domain_runs_dns_and_what_follows_again_and_keeps_the_droplet() {
        let mut p = through(Step::Tls);
        let new = answers(&OLD.replace("erp.example.com", "shop.example.com"));
        let changed = amend(&mut p, &answers(OLD), &new, "t2".into()).unwrap();
        assert_eq!(changed, [Field::Domain]);
        assert_eq!(p.next(), Some(Step::Dns));
        assert!(p.is_done(Step::WaitReady));
        assert_eq!(p.droplet_id, Some(4242));
        assert_eq!(
            p.fact(Step::Choose),
            Some("erp-prod-1 in sgp1, s-2vcpu-4gb, odoo:18.0")
        );
    }

    #[test]
    fn what_the_droplet_or_a_done_step_holds_is_fixed() {
        let mut p = through(Step::Tls);
        let renamed = answers(&OLD.replace("erp-prod-1", "erp-prod-2"));
        let e = amend(&mut p, &answers(OLD), &renamed, "t2".into()).unwrap_err();
        assert!(e.starts_with("name cannot change: droplet 4242"), "{e}");
        assert_eq!(p, through(Step::Tls), "nothing forgotten");
        assert!(fixed(Field::AdminEmail, &p).is_some());
        assert!(
            fixed(Field::Tag, &p).is_none(),
            "the modules step is not done"
        );
        let mut before_create = Progress::default();
        before_create.record(Step::Choose, "t".into(), "x".into());
        assert!(fixed(Field::Name, &before_create).is_none());
        assert!(fixed(Field::Tag, &through(Step::ModulesVerify)).is_some());
        // A new tag before the modules step: from the stack on.
        let mut p = through(Step::Tls);
        let new = answers(&OLD.replace("18.0\"", "18.0-2\""));
        assert_eq!(
            amend(&mut p, &answers(OLD), &new, "t2".into()).unwrap(),
            [Field::Tag]
        );
        assert_eq!(p.next(), Some(Step::Stack));
        assert!(p.fact(Step::Choose).unwrap().ends_with("odoo:18.0-2"));
    }

    #[test]
    fn a_run_compares_the_answers_file_with_what_step_1_recorded() {
        let mut p = through(Step::WaitReady);
        p.answers = Some(record(&answers(OLD)));
        let recorded = p.clone();
        // A fixed answer: refused, naming the file, the field, both values and why.
        let renamed = answers(&OLD.replace("erp-prod-1", "erp-prod-2"));
        let e = from_record(&mut p, &renamed, "t2".into()).unwrap_err();
        for part in [
            "/b/erp-prod-1.toml: name was \"erp-prod-1\" and is now \"erp-prod-2\"",
            "droplet 4242 was created with it",
        ] {
            assert!(e.contains(part), "{part:?} in {e}");
        }
        assert_eq!(p, recorded, "nothing changed");
        // The same answers: nothing to do.
        assert_eq!(from_record(&mut p, &answers(OLD), "t2".into()), Ok(None));
        assert_eq!(p, recorded);
        // An editable one: back to the first step reading it, the new answers recorded.
        let moved = answers(&OLD.replace("erp.example.com", "shop.example.com"));
        let back = from_record(&mut p, &moved, "t2".into()).unwrap().unwrap();
        assert_eq!(back.to, Step::Dns);
        assert!(
            back.said.contains("domain was \"erp.example.com\""),
            "{}",
            back.said
        );
        assert!(p.is_done(Step::WaitReady) && !p.is_done(Step::Dns));
        assert_eq!(p.answers, Some(record(&moved)));
    }

    #[test]
    fn a_state_file_without_recorded_answers_is_accepted_and_records_them() {
        let mut p = through(Step::WaitReady);
        let renamed = answers(&OLD.replace("erp-prod-1", "erp-prod-2"));
        assert_eq!(from_record(&mut p, &renamed, "t2".into()), Ok(None));
        assert_eq!(p.answers, Some(record(&renamed)));
        assert!(p.is_done(Step::WaitReady));
    }

    #[test]
    fn an_answer_redact_calls_a_secret_is_recorded_as_a_digest_only() {
        let a = answers(OLD);
        let r = record(&a);
        assert!(!r["ssh_key"].contains(&a.ssh_key), "{r:?}");
        assert_eq!(r["domain"], "erp.example.com");
        let mut p = through(Step::WaitReady);
        p.answers = Some(r);
        let rekeyed = answers(&OLD.replace("3b:16", "3c:16"));
        let e = from_record(&mut p, &rekeyed, "t2".into()).unwrap_err();
        assert!(e.contains("ssh_key changed (values hidden)"), "{e}");
        assert!(!e.contains("3c:16"), "{e}");
    }
}
