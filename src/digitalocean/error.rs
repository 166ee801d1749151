//! What can go wrong talking to DigitalOcean, said the way an operator can act on:
//! DigitalOcean's own `id`, `message` and `request_id` (what its support asks for).

use serde::Deserialize;

/// DigitalOcean's error body: `{"id": "...", "message": "...", "request_id": "..."}`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct ApiErrorBody {
    pub id: String,
    pub message: String,
    #[serde(default)]
    pub request_id: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Error {
    /// No token anywhere: the sentence says how to set one.
    NoToken(String),
    /// DigitalOcean answered with an error status.
    Api {
        status: u16,
        /// `id`, `message`, `request_id` when the body had them.
        body: Option<ApiErrorBody>,
        /// What the request was, `GET /v2/droplets`.
        request: String,
    },
    /// No answer: connection refused, reset, timed out (after the retries allowed).
    Transport { request: String, why: String },
    /// An answer that is not what the API documents.
    Decode { request: String, why: String },
}

impl Error {
    pub fn status(&self) -> Option<u16> {
        match self {
            Error::Api { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// DigitalOcean's request id, for a support ticket.
    pub fn request_id(&self) -> Option<&str> {
        match self {
            Error::Api {
                body: Some(body), ..
            } => body.request_id.as_deref(),
            _ => None,
        }
    }
}

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Error::NoToken(how) => f.write_str(how),
            Error::Api {
                status,
                body,
                request,
            } => {
                if *status == 401 {
                    write!(
                        f,
                        "DigitalOcean refused the token (401) on {request}: it is wrong, expired or revoked; set a valid one in DIGITALOCEAN_ACCESS_TOKEN (or `doctl auth init`)"
                    )?;
                } else if *status == 403 {
                    write!(
                        f,
                        "DigitalOcean refused {request} (403): the token lacks the scope it needs"
                    )?;
                } else {
                    write!(f, "DigitalOcean answered {status} to {request}")?;
                }
                if let Some(body) = body {
                    write!(f, ": {} ({})", body.message, body.id)?;
                    if let Some(id) = &body.request_id {
                        write!(f, ", request id {id}")?;
                    }
                }
                Ok(())
            }
            Error::Transport { request, why } => {
                write!(f, "could not reach DigitalOcean for {request}: {why}")
            }
            Error::Decode { request, why } => {
                write!(
                    f,
                    "DigitalOcean's answer to {request} was not understood: {why}"
                )
            }
        }
    }
}

impl std::error::Error for Error {}
