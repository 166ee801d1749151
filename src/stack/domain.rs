//! The public DNS name a stack answers on: checked before anything is rendered, because it
//! ends up in nginx's `server_name`, certificate paths and redirects.

use std::fmt;

use serde::Serialize;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct Domain(String);

impl Domain {
    /// A fully qualified host name: labels of letters, digits and inner hyphens, at least
    /// two labels, at most 253 characters. Lower-cased.
    pub fn parse(input: &str) -> Result<Domain, String> {
        let name = input.trim_end_matches('.').to_ascii_lowercase();
        let problem = if name.is_empty() {
            Some("it is empty".to_string())
        } else if let Some(c) = name.chars().find(|c| c.is_whitespace()) {
            Some(format!("it contains whitespace ({c:?})"))
        } else if name.len() > 253 {
            Some("it is longer than 253 characters".into())
        } else if !name.contains('.') {
            Some("it needs at least two labels, like erp.example.com".into())
        } else {
            name.split('.').find_map(|label| {
                if label.is_empty() {
                    Some("it has an empty label (two dots in a row?)".to_string())
                } else if label.len() > 63 {
                    Some(format!("label {label:?} is longer than 63 characters"))
                } else if let Some(c) = label
                    .chars()
                    .find(|c| !c.is_ascii_alphanumeric() && *c != '-')
                {
                    Some(format!(
                        "label {label:?} contains {c:?}; only letters, digits and '-' are allowed"
                    ))
                } else if label.starts_with('-') || label.ends_with('-') {
                    Some(format!("label {label:?} starts or ends with '-'"))
                } else {
                    None
                }
            })
        };
        match problem {
            Some(why) => Err(format!("domain {input:?} is not a valid host name: {why}")),
            None => Ok(Domain(name)),
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Domain {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_host_names() {
        assert_eq!(
            Domain::parse("ERP.Example.com.").unwrap().as_str(),
            "erp.example.com"
        );
        assert!(Domain::parse("a-b.c1.io").is_ok());
    }

    #[test]
    fn explains_what_is_wrong() {
        let e = Domain::parse("erp example.com").unwrap_err();
        assert!(e.contains("whitespace"), "{e}");
        assert!(
            Domain::parse("localhost")
                .unwrap_err()
                .contains("two labels")
        );
        assert!(Domain::parse("a..b").unwrap_err().contains("empty label"));
        assert!(Domain::parse("-a.b").unwrap_err().contains("'-'"));
        assert!(Domain::parse("a;b.c").unwrap_err().contains("';'"));
        assert!(Domain::parse("").is_err());
    }
}
