//! Gates of the operator's own, from the config file: an HTTP endpoint on the host (the
//! first seed's OCR service is the example) with the status and body it must answer, a
//! bearer token read from an environment variable when the gate runs (never written in
//! the config file, never shown), hard (fails the verify and the deploy) or soft (warns).
//!
//! ```toml
//! [[verify.gates]]
//! name = "ocr"
//! url = "http://127.0.0.1:8000/health"
//! status = 200
//! body_contains = "ok"
//! bearer_env = "OCR_TOKEN"
//! hard = true
//! timeout_secs = 5
//! ```

use std::time::Duration;

use serde::Deserialize;

use super::model::Finding;
use crate::checks::gather::http;
use crate::redact;
use crate::target::Target;

/// `[[verify.gates]]`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExtraGate {
    /// The gate is `extra.NAME` in the report.
    pub name: String,
    pub url: GateUrl,
    /// The status it must answer.
    #[serde(default = "default_status")]
    pub status: u16,
    /// Text the body must hold.
    pub body_contains: Option<String>,
    /// The environment variable holding a bearer token, sent as `Authorization: Bearer`.
    pub bearer_env: Option<String>,
    #[serde(default = "default_hard")]
    pub hard: bool,
    #[serde(default = "default_timeout")]
    pub timeout_secs: u64,
}

fn default_status() -> u16 {
    200
}

fn default_hard() -> bool {
    true
}

fn default_timeout() -> u64 {
    5
}

/// `http://HOST[:PORT]/PATH`, connected to from the host (local or through SSH). Checked
/// when the file is read, so a typo is named with its file, line and key.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(try_from = "String")]
pub struct GateUrl {
    pub text: String,
    pub host: String,
    pub port: u16,
    /// Path and query.
    pub path: String,
}

impl TryFrom<String> for GateUrl {
    type Error = String;

    fn try_from(text: String) -> Result<Self, String> {
        let uri: ::http::Uri = text
            .parse()
            .map_err(|e| format!("`{text}` is not a URL: {e}"))?;
        match uri.scheme_str() {
            Some("http") => {}
            Some(other) => {
                return Err(format!(
                    "`{text}`: only http:// is supported for a gate (it is connected to from the host, usually on its loopback), not {other}://"
                ));
            }
            None => return Err(format!("`{text}` has no scheme: write http://{text}")),
        }
        let host = uri
            .host()
            .ok_or_else(|| format!("`{text}` names no host"))?
            .trim_matches(['[', ']'])
            .to_string();
        Ok(GateUrl {
            port: uri.port_u16().unwrap_or(80),
            path: uri
                .path_and_query()
                .map_or("/".to_string(), |p| p.as_str().to_string()),
            host,
            text,
        })
    }
}

impl ExtraGate {
    pub fn id(&self) -> String {
        format!("extra.{}", self.name)
    }

    pub fn timeout(&self) -> Duration {
        Duration::from_secs(self.timeout_secs.max(1))
    }

    /// The request, as the evidence shows it: the token's variable named, never its value.
    fn shown(&self) -> String {
        match &self.bearer_env {
            Some(var) => format!(
                "GET {} (bearer token from the environment: {var})",
                self.url.text
            ),
            None => format!("GET {}", self.url.text),
        }
    }
}

/// Run one extra gate; a soft gate's failure is turned into a warning by the caller.
pub async fn run(target: &Target, gate: &ExtraGate) -> Finding {
    let token = match &gate.bearer_env {
        Some(var) => match std::env::var(var) {
            Ok(t) if !t.is_empty() => Some(t),
            _ => {
                return Finding::could_not_check(format!(
                    "the environment variable {var} (its bearer token) is not set"
                ))
                .line(gate.shown());
            }
        },
        None => None,
    };
    let answer =
        tokio::time::timeout(gate.timeout(), request(target, gate, token.as_deref())).await;
    // Whatever the service echoes back, the token never reaches an output.
    let hide = |s: &str| {
        let s = match &token {
            Some(t) => s.replace(t.as_str(), redact::REDACTED),
            None => s.to_string(),
        };
        redact::line(&s)
    };
    let (status, body) = match answer {
        Ok(Ok(reply)) => reply,
        Ok(Err(e)) => {
            return Finding::fail(format!("no answer: {}", hide(&e))).line(gate.shown());
        }
        Err(_) => {
            return Finding::fail(format!("no answer within {} s", gate.timeout_secs))
                .line(gate.shown());
        }
    };
    let shown_body: String = body.trim().chars().take(200).collect();
    let evidence = [
        format!("{} -> {status}", gate.shown()),
        format!("body: {}", hide(&shown_body)),
    ];
    let finding = if status != gate.status {
        Finding::fail(format!("answered {status}, expected {}", gate.status))
    } else if let Some(needle) = gate.body_contains.as_deref().filter(|n| !body.contains(*n)) {
        Finding::fail(format!(
            "answered {status}, but the body lacks `{}`",
            hide(needle)
        ))
    } else {
        Finding::pass(format!("answered {status}"))
    };
    finding.lines(evidence)
}

/// The gate's GET, through the checks' own HTTP client (the token as `Authorization`).
async fn request(
    target: &Target,
    gate: &ExtraGate,
    token: Option<&str>,
) -> Result<(u16, String), String> {
    let io = target
        .connect_tcp(&gate.url.host, gate.url.port)
        .await
        .map_err(|e| format!("{e:#}"))?;
    let authority = crate::target::host_port(&gate.url.host, gate.url.port);
    let origin = format!("http://{authority}");
    let authorization = token.map(|t| format!("Bearer {t}"));
    let (status, _, body) = http::exchange(
        io,
        &authority,
        &origin,
        &gate.url.path,
        false,
        authorization.as_deref(),
    )
    .await?;
    Ok((status, body))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls() {
        let u = GateUrl::try_from("http://127.0.0.1:8000/health?x=1".to_string()).unwrap();
        assert_eq!(
            (u.host.as_str(), u.port, u.path.as_str()),
            ("127.0.0.1", 8000, "/health?x=1")
        );
        let u = GateUrl::try_from("http://ocr.internal".to_string()).unwrap();
        assert_eq!((u.port, u.path.as_str()), (80, "/"));
        assert!(GateUrl::try_from("https://x/".to_string()).is_err());
        assert!(GateUrl::try_from("localhost:8000".to_string()).is_err());
    }

    #[test]
    fn the_evidence_names_the_variable_not_the_token() {
        let gate: ExtraGate = toml::from_str(
            "name = \"ocr\"\nurl = \"http://127.0.0.1:8000/health\"\nbearer_env = \"OCR_TOKEN\"\n",
        )
        .unwrap();
        assert!(gate.hard);
        assert_eq!(gate.status, 200);
        assert!(redact::line(&gate.shown()).contains("environment: OCR_TOKEN"));
    }

    #[test]
    fn a_bad_gate_is_named_with_its_line_and_key() {
        #[derive(Deserialize)]
        struct File {
            #[allow(dead_code)]
            gates: Vec<ExtraGate>,
        }
        let text = "[[gates]]\nname = \"ocr\"\nurl = \"https://ocr/health\"\n";
        let e = crate::config::file_error::parse_toml::<File>(std::path::Path::new("c.toml"), text)
            .err()
            .unwrap();
        assert_eq!(e.line, 3, "{e}");
        assert!(e.to_string().contains("only http://"), "{e}");
    }
}
