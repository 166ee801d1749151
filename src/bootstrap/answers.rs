//! The operator's answers to the wizard's first step, and the rule each one must pass.
//!
//! One rule per field, in [`Field::check`]: the form calls it on every key press and shows
//! the error beside the field; [`Answers::load`] calls it on each value of an answers file
//! and names the file, line and field of the first bad one.

use std::path::{Path, PathBuf};

use serde::Deserialize;
use toml::Spanned;

use crate::config::file_error::FileError;
use crate::stack::domain::Domain;
use crate::stack::sizing::DropletSize;
use crate::stack::values;

/// DigitalOcean's region for the seeds' operators (Singapore).
pub const DEFAULT_REGION: &str = "sgp1";
/// The size the seeds run Odoo on: 2 vCPU, 4 GB.
pub const DEFAULT_SIZE: &str = "s-2vcpu-4gb";

/// A field of the first step, in the order the form shows them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    Name,
    Region,
    Size,
    SshKey,
    Domain,
    Image,
    Tag,
    ModulesPlan,
    AdminEmail,
}

impl Field {
    pub const ALL: [Field; 9] = [
        Field::Name,
        Field::Region,
        Field::Size,
        Field::SshKey,
        Field::Domain,
        Field::Image,
        Field::Tag,
        Field::ModulesPlan,
        Field::AdminEmail,
    ];

    /// The key in an answers file.
    pub fn key(self) -> &'static str {
        match self {
            Field::Name => "name",
            Field::Region => "region",
            Field::Size => "size",
            Field::SshKey => "ssh_key",
            Field::Domain => "domain",
            Field::Image => "image",
            Field::Tag => "tag",
            Field::ModulesPlan => "modules_plan",
            Field::AdminEmail => "admin_email",
        }
    }

    /// Whether a value must be given (the others have defaults or may stay empty).
    pub fn required(self) -> bool {
        matches!(
            self,
            Field::Name
                | Field::SshKey
                | Field::Domain
                | Field::Image
                | Field::Tag
                | Field::AdminEmail
        )
    }

    /// The rule for this field: `Err` says what is wrong in words for the operator.
    pub fn check(self, value: &str) -> Result<(), String> {
        if value.is_empty() {
            return if self.required() {
                Err(format!("{} is required", self.key()))
            } else {
                Ok(())
            };
        }
        match self {
            Field::Name => droplet_name(value),
            Field::Region => region(value),
            Field::Size => size(value),
            Field::SshKey => ssh_key(value),
            Field::Domain => Domain::parse(value).map(|_| ()),
            Field::Image => values::image(value),
            Field::Tag => values::tag(value),
            Field::ModulesPlan => plan_path(value),
            Field::AdminEmail => email(value),
        }
    }
}

/// The answers, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answers {
    pub name: String,
    pub region: String,
    pub size: &'static DropletSize,
    /// A key already on the account: its fingerprint, numeric id or name.
    pub ssh_key: String,
    pub domain: Domain,
    pub image: String,
    pub tag: String,
    /// Resolved against the answers file's folder.
    pub modules_plan: Option<PathBuf>,
    pub admin_email: String,
    /// The answers file they were read from: an error about an answer names it.
    pub file: PathBuf,
}

/// An answers file as written: every value keeps where it was, for the error.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAnswers {
    name: Spanned<String>,
    region: Option<Spanned<String>>,
    size: Option<Spanned<String>>,
    ssh_key: Spanned<String>,
    domain: Spanned<String>,
    image: Spanned<String>,
    tag: Spanned<String>,
    modules_plan: Option<Spanned<String>>,
    admin_email: Spanned<String>,
}

impl Answers {
    /// A field's value as an answers file (and the console's form) writes it: the form
    /// opens on an earlier run's answers with this.
    pub fn value(&self, field: Field) -> String {
        match field {
            Field::Name => self.name.clone(),
            Field::Region => self.region.clone(),
            Field::Size => self.size.slug.to_string(),
            Field::SshKey => self.ssh_key.clone(),
            Field::Domain => self.domain.as_str().to_string(),
            Field::Image => self.image.clone(),
            Field::Tag => self.tag.clone(),
            Field::ModulesPlan => self
                .modules_plan
                .as_ref()
                .map(|p| p.display().to_string())
                .unwrap_or_default(),
            Field::AdminEmail => self.admin_email.clone(),
        }
    }

    /// An answers file's text for the values given per field (`(field, value)`, empty
    /// values left out so their defaults apply), each value quoted as TOML.
    pub fn file_text<'a>(values: impl IntoIterator<Item = (Field, &'a str)>) -> String {
        let mut text =
            String::from("# odoo-ops bootstrap answers (written by the console's wizard)\n");
        for (field, value) in values {
            let value = value.trim();
            if !value.is_empty() {
                text += &format!(
                    "{} = {}\n",
                    field.key(),
                    toml::Value::String(value.to_string())
                );
            }
        }
        text
    }

    /// Read and check an answers file (`bootstrap --answers FILE.toml`).
    pub fn load(path: &Path) -> Result<Answers, FileError> {
        let text = std::fs::read_to_string(path).map_err(|e| FileError {
            path: path.to_path_buf(),
            line: 0,
            column: 0,
            key: None,
            message: format!("cannot read the answers file: {e}"),
        })?;
        Answers::parse(path, &text)
    }

    /// Check the text of an answers file; `path` names it in errors and anchors the plan.
    pub fn parse(path: &Path, text: &str) -> Result<Answers, FileError> {
        let raw: RawAnswers = crate::config::file_error::parse_toml(path, text)?;
        let checked = |field: Field, value: &Spanned<String>| -> Result<String, FileError> {
            let v = value.get_ref().trim().to_string();
            field.check(&v).map_err(|why| {
                let mut e = FileError::at(path, text, value.span().start, why);
                e.key = Some(field.key().to_string());
                e
            })?;
            Ok(v)
        };
        let defaulted = |field: Field, value: &Option<Spanned<String>>, default: &str| match value {
            Some(v) => checked(field, v),
            None => Ok(default.to_string()),
        };
        let size = defaulted(Field::Size, &raw.size, DEFAULT_SIZE)?;
        let plan = match &raw.modules_plan {
            Some(v) => Some(checked(Field::ModulesPlan, v)?).filter(|p| !p.is_empty()),
            None => None,
        };
        let base = path.parent().unwrap_or(Path::new("."));
        Ok(Answers {
            name: checked(Field::Name, &raw.name)?,
            region: defaulted(Field::Region, &raw.region, DEFAULT_REGION)?,
            size: DropletSize::by_slug(&size).expect("checked by Field::Size"),
            ssh_key: checked(Field::SshKey, &raw.ssh_key)?,
            domain: Domain::parse(&checked(Field::Domain, &raw.domain)?)
                .expect("checked by Field::Domain"),
            image: checked(Field::Image, &raw.image)?,
            tag: checked(Field::Tag, &raw.tag)?,
            modules_plan: plan.map(|p| base.join(p)),
            admin_email: checked(Field::AdminEmail, &raw.admin_email)?,
            file: path.to_path_buf(),
        })
    }
}

/// A plan file's path, absolute or relative to the answers file's folder.
fn plan_path(value: &str) -> Result<(), String> {
    if value.chars().any(char::is_control) {
        return Err("the plan's path contains a control character".into());
    }
    if !value.ends_with(".toml") {
        return Err(format!("{value:?}: a modules plan is a .toml file"));
    }
    Ok(())
}

/// DigitalOcean accepts letters, digits, `.` and `-` in a droplet's name; it also becomes
/// the host name, so each dot-separated label follows host-name rules too.
fn droplet_name(value: &str) -> Result<(), String> {
    if value.len() > 63 {
        return Err("a droplet name is at most 63 characters (it becomes the host name)".into());
    }
    if let Some(c) = value
        .chars()
        .find(|c| !c.is_ascii_alphanumeric() && *c != '-' && *c != '.')
    {
        return Err(format!(
            "{c:?} is not allowed in a droplet name: letters, digits, '-' and '.' only"
        ));
    }
    if value
        .split('.')
        .any(|l| l.is_empty() || l.starts_with('-') || l.ends_with('-'))
    {
        return Err("each part of the name must start and end with a letter or digit".into());
    }
    Ok(())
}

/// A region slug: lower-case letters then digits (`sgp1`, `nyc3`, `fra1`).
fn region(value: &str) -> Result<(), String> {
    let letters = value.trim_end_matches(|c: char| c.is_ascii_digit());
    let well_formed = !letters.is_empty()
        && letters.len() < value.len()
        && letters.chars().all(|c| c.is_ascii_lowercase());
    if well_formed {
        Ok(())
    } else {
        Err(format!(
            "{value:?} is not a region slug like {DEFAULT_REGION} (letters then digits)"
        ))
    }
}

fn size(value: &str) -> Result<(), String> {
    if DropletSize::by_slug(value).is_some() {
        return Ok(());
    }
    let known: Vec<&str> = crate::stack::sizing::SIZES.iter().map(|s| s.slug).collect();
    Err(format!(
        "size {value:?} is not one odoo-ops has sizing for; choose one of {}",
        known.join(", ")
    ))
}

/// An account key's MD5 fingerprint (`aa:bb:…`, 16 pairs), its numeric id, or its name.
fn ssh_key(value: &str) -> Result<(), String> {
    if value.contains(':') {
        let pairs: Vec<&str> = value.split(':').collect();
        let hex_pair = |p: &&str| p.len() == 2 && p.chars().all(|c| c.is_ascii_hexdigit());
        if pairs.len() == 16 && pairs.iter().all(hex_pair) {
            return Ok(());
        }
        return Err(
            "a key fingerprint is 16 hexadecimal pairs separated by ':' (as DigitalOcean lists it)"
                .into(),
        );
    }
    if value.chars().any(char::is_control) {
        return Err("the key's name contains a control character".into());
    }
    Ok(())
}

/// What certbot and Let's Encrypt accept as a contact: one `@`, a dotted domain after it.
fn email(value: &str) -> Result<(), String> {
    let Some((local, domain)) = value.split_once('@') else {
        return Err(format!("{value:?} is not an e-mail address (no '@')"));
    };
    if local.is_empty() || local.chars().any(|c| c.is_whitespace() || c == '@') {
        return Err(format!("{value:?} is not an e-mail address"));
    }
    Domain::parse(domain)
        .map(|_| ())
        .map_err(|_| format!("{value:?}: the part after '@' is not a domain"))
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"
name = "erp-prod-1"
ssh_key = "3b:16:bf:e4:8b:00:8b:b8:59:8c:a9:d3:f0:19:45:fa"
domain = "erp.example.com"
image = "odoo"
tag = "18.0"
modules_plan = "plan.toml"
admin_email = "ops@example.com"
"#;

    #[test]
    fn a_good_file_gets_the_seeds_defaults() {
        let a = Answers::parse(Path::new("/etc/odoo-ops/answers.toml"), GOOD).unwrap();
        assert_eq!(a.region, "sgp1");
        assert_eq!(a.size.slug, "s-2vcpu-4gb");
        assert_eq!(a.domain.as_str(), "erp.example.com");
        assert_eq!(
            a.modules_plan.as_deref(),
            Some(Path::new("/etc/odoo-ops/plan.toml"))
        );
    }

    #[test]
    fn the_forms_file_text_reads_back_as_the_same_answers() {
        let path = Path::new("/etc/odoo-ops/answers.toml");
        let a = Answers::parse(path, GOOD).unwrap();
        let values: Vec<(Field, String)> = Field::ALL.iter().map(|f| (*f, a.value(*f))).collect();
        let text = Answers::file_text(values.iter().map(|(f, v)| (*f, v.as_str())));
        assert_eq!(Answers::parse(path, &text).unwrap(), a);
        // A quote in a value stays inside its TOML string.
        let text = Answers::file_text([(Field::Name, "a\" = 1")]);
        let table: toml::Table = text.parse().unwrap();
        assert_eq!(table["name"].as_str(), Some("a\" = 1"), "{text}");
    }

    #[test]
    fn a_bad_value_names_file_line_and_field() {
        let text = GOOD.replace("ops@example.com", "ops-at-example");
        let e = Answers::parse(Path::new("a.toml"), &text).unwrap_err();
        assert_eq!(e.line, 8);
        assert_eq!(e.key.as_deref(), Some("admin_email"));
        assert!(e.to_string().starts_with("a.toml:8:"), "{e}");
        assert!(e.message.contains("no '@'"), "{e}");
    }

    #[test]
    fn unknown_and_missing_keys_are_named() {
        let e = Answers::parse(Path::new("a.toml"), &format!("{GOOD}colour = 1\n")).unwrap_err();
        assert_eq!(e.key.as_deref(), Some("colour"));
        let e = Answers::parse(Path::new("a.toml"), "name = \"x\"\n").unwrap_err();
        assert!(e.message.contains("missing field"), "{e}");
    }

    #[test]
    fn each_field_rule_as_the_form_uses_it() {
        assert!(Field::Name.check("erp_prod").is_err());
        assert!(Field::Name.check("-erp").is_err());
        assert!(Field::Name.check("erp.prod-1").is_ok());
        assert!(Field::Region.check("sgp1").is_ok());
        assert!(Field::Region.check("SGP1").is_err());
        assert!(Field::Region.check("sgp").is_err());
        assert!(Field::Region.check("").is_ok(), "defaulted");
        assert!(Field::Size.check("s-2vcpu-4gb").is_ok());
        let e = Field::Size.check("s-1vcpu-512mb").unwrap_err();
        assert!(e.contains("s-2vcpu-4gb"), "lists the known sizes: {e}");
        assert!(Field::SshKey.check("my laptop").is_ok());
        assert!(Field::SshKey.check("3b:16").is_err());
        assert!(Field::Domain.check("localhost").is_err());
        assert!(Field::Tag.check("18.0 ").is_err());
        assert!(Field::AdminEmail.check("a@b").is_err());
        assert!(
            Field::AdminEmail
                .check("")
                .unwrap_err()
                .contains("required")
        );
    }
}
