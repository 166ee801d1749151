//! The HTTP side: one `reqwest` client with the token in a sensitive header, retries that
//! are safe, pages fetched side by side, and the rate limit recorded from every answer.

use std::sync::Arc;
use std::time::Duration;

use futures::{StreamExt, TryStreamExt};
use reqwest::header::{HeaderMap, HeaderValue};
use reqwest::{Method, StatusCode, Url};
use serde::de::DeserializeOwned;
use serde_json::Value;

use super::error::{ApiErrorBody, Error};
use super::rate_limit::{RateLimit, RateLimitCell};
use super::token::Token;

/// doctl's override of the API's address (a test's stand-in, a proxy).
pub const API_URL_ENV: &str = "DIGITALOCEAN_API_URL";
pub const DEFAULT_API_URL: &str = "https://api.digitalocean.com";
/// The largest page the API serves: 1,000 droplets are 5 requests.
pub const PER_PAGE: u32 = 200;
/// Pages after the first fetched at once; well under the 250-a-minute burst limit.
const PAGE_CONCURRENCY: usize = 8;

/// When a request is tried again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Tries in all, the first included.
    pub attempts: u32,
    /// The first backoff; doubled each retry, up to `max_delay`.
    pub base_delay: Duration,
    pub max_delay: Duration,
    /// The longest `retry-after` waited; a longer one is an error the operator sees.
    pub max_retry_after: Duration,
    /// Each try's own deadline.
    pub timeout: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            attempts: 5,
            base_delay: Duration::from_millis(500),
            max_delay: Duration::from_secs(8),
            max_retry_after: Duration::from_secs(90),
            timeout: Duration::from_secs(30),
        }
    }
}

impl RetryPolicy {
    fn backoff(&self, retry: u32) -> Duration {
        self.base_delay
            .saturating_mul(1u32 << retry.min(16))
            .min(self.max_delay)
    }
}

/// A DigitalOcean API v2 client. Cheap to clone; clones share connections and the rate
/// limit seen.
#[derive(Clone)]
pub struct Client {
    http: reqwest::Client,
    base: Url,
    auth: HeaderValue,
    rate: RateLimitCell,
    retry: RetryPolicy,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("base", &self.base.as_str())
            .field("token", &crate::redact::REDACTED)
            .finish()
    }
}

/// The TLS setup every HTTPS client of odoo-ops uses: rustls with the ring provider,
/// certificates checked against the system's trust store.
fn tls_config() -> Result<rustls::ClientConfig, String> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let verifier = rustls_platform_verifier::Verifier::new(provider.clone())
        .map_err(|e| format!("the system trust store: {e}"))?;
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(verifier))
        .with_no_client_auth();
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(config)
}

impl Client {
    /// A client for `base` (the API's address, or `DIGITALOCEAN_API_URL`'s).
    pub fn new(token: &Token, base: &str, retry: RetryPolicy) -> Result<Client, Error> {
        let setup = |why: String| Error::Transport {
            request: "setting up the HTTP client".into(),
            why,
        };
        let base = Url::parse(base).map_err(|e| setup(format!("API address {base:?}: {e}")))?;
        let mut auth = HeaderValue::from_str(&format!("Bearer {}", token.expose()))
            .map_err(|_| setup("the token holds characters a header cannot carry".into()))?;
        // hyper and reqwest leave a sensitive value out of their own debug output.
        auth.set_sensitive(true);
        let http = reqwest::Client::builder()
            .tls_backend_preconfigured(tls_config().map_err(setup)?)
            .user_agent(concat!("odoo-ops/", env!("CARGO_PKG_VERSION")))
            .timeout(retry.timeout)
            .connect_timeout(Duration::from_secs(10))
            .build()
            .map_err(|e| setup(e.to_string()))?;
        Ok(Client {
            http,
            base,
            auth,
            rate: RateLimitCell::default(),
            retry,
        })
    }

    /// The client the operator configured: the token from where [`super::token::resolve`]
    /// finds one, the address from `DIGITALOCEAN_API_URL` or the real API.
    pub fn from_environment(config: &crate::config::Config) -> Result<Client, Error> {
        let (token, _) =
            super::token::resolve(config.digitalocean.token.as_ref()).map_err(Error::NoToken)?;
        let base = std::env::var(API_URL_ENV)
            .ok()
            .filter(|v| !v.is_empty())
            .or_else(|| config.digitalocean.api_url.clone())
            .unwrap_or_else(|| DEFAULT_API_URL.to_string());
        Client::new(&token, &base, RetryPolicy::default())
    }

    /// The rate limit as the latest answer reported it.
    pub fn rate_limit(&self) -> Option<RateLimit> {
        self.rate.get()
    }

    pub fn base_url(&self) -> &str {
        self.base.as_str()
    }

    /// `base` + path segments (each percent-encoded) + query.
    pub(crate) fn url(&self, segments: &[&str], query: &[(&str, String)]) -> Url {
        let mut url = self.base.clone();
        {
            let mut path = url
                .path_segments_mut()
                .expect("an http(s) base URL has a path");
            path.pop_if_empty();
            path.extend(segments);
        }
        if !query.is_empty() {
            let mut pairs = url.query_pairs_mut();
            for (k, v) in query {
                pairs.append_pair(k, v);
            }
        }
        url
    }

    /// One request, tried again when that is safe. GET and DELETE are retried on a lost
    /// connection, a 5xx and a 429; a POST, PUT or PATCH only on a 429 or a connection
    /// that was never made (neither reached the API's handler, so nothing was created
    /// twice). Returns the status and body of a 2xx answer.
    pub(crate) async fn send(
        &self,
        method: Method,
        url: Url,
        body: Option<&Value>,
    ) -> Result<(StatusCode, bytes::Bytes), Error> {
        let request = format!("{method} {}", url.path());
        let idempotent = matches!(method, Method::GET | Method::DELETE);
        let mut retry = 0;
        loop {
            let mut builder = self
                .http
                .request(method.clone(), url.clone())
                .header(reqwest::header::AUTHORIZATION, self.auth.clone())
                .header(reqwest::header::ACCEPT, "application/json");
            if let Some(body) = body {
                builder = builder
                    .header(reqwest::header::CONTENT_TYPE, "application/json")
                    .body(serde_json::to_vec(body).expect("a JSON value serializes"));
            }
            let last_try = retry + 1 >= self.retry.attempts;
            let response = match builder.send().await {
                Ok(response) => response,
                Err(e) => {
                    let safe = idempotent || e.is_connect();
                    if safe && !last_try {
                        let wait = self.retry.backoff(retry);
                        tracing::info!(
                            "DigitalOcean: {request}: {}; retrying in {wait:?}",
                            short(&e)
                        );
                        tokio::time::sleep(wait).await;
                        retry += 1;
                        continue;
                    }
                    return Err(Error::Transport {
                        request,
                        why: short(&e),
                    });
                }
            };
            let status = response.status();
            let headers = response.headers().clone();
            if let Some(seen) = RateLimit::from_headers(&headers) {
                self.rate.record(seen);
            }
            let bytes = match response.bytes().await {
                Ok(b) => b,
                Err(e) if idempotent && !last_try => {
                    tracing::info!("DigitalOcean: {request}: {}; retrying", short(&e));
                    tokio::time::sleep(self.retry.backoff(retry)).await;
                    retry += 1;
                    continue;
                }
                Err(e) => {
                    return Err(Error::Transport {
                        request,
                        why: short(&e),
                    });
                }
            };
            if status.is_success() {
                return Ok((status, bytes));
            }
            let wait = if status == StatusCode::TOO_MANY_REQUESTS {
                retry_after(&headers)
                    .filter(|w| *w <= self.retry.max_retry_after)
                    .or_else(|| {
                        retry_after(&headers)
                            .is_none()
                            .then(|| self.retry.backoff(retry))
                    })
            } else if status.is_server_error() && idempotent {
                Some(self.retry.backoff(retry))
            } else {
                None
            };
            match wait {
                Some(wait) if !last_try => {
                    tracing::info!("DigitalOcean: {request}: {status}; retrying in {wait:?}");
                    tokio::time::sleep(wait).await;
                    retry += 1;
                }
                _ => {
                    return Err(Error::Api {
                        status: status.as_u16(),
                        body: serde_json::from_slice::<ApiErrorBody>(&bytes).ok(),
                        request,
                    });
                }
            }
        }
    }

    /// A GET whose body is decoded.
    pub(crate) async fn get<T: DeserializeOwned>(&self, url: Url) -> Result<T, Error> {
        let request = format!("GET {}", url.path());
        let (_, bytes) = self.send(Method::GET, url, None).await?;
        decode(&request, &bytes)
    }

    /// A POST, PUT or PATCH with a JSON body whose answer is decoded.
    pub(crate) async fn write<T: DeserializeOwned>(
        &self,
        method: Method,
        url: Url,
        body: &Value,
    ) -> Result<T, Error> {
        let request = format!("{method} {}", url.path());
        let (_, bytes) = self.send(method, url, Some(body)).await?;
        decode(&request, &bytes)
    }

    /// Every item of a list: the first page, then the others side by side (their count
    /// from `meta.total`, or `links.pages.last`). `key` is the array's name in the body.
    pub(crate) async fn list<T: DeserializeOwned>(
        &self,
        segments: &[&str],
        key: &str,
        query: &[(&str, String)],
    ) -> Result<Vec<T>, Error> {
        let page_url = |page: u32| {
            let mut q: Vec<(&str, String)> = query.to_vec();
            q.push(("page", page.to_string()));
            q.push(("per_page", PER_PAGE.to_string()));
            self.url(segments, &q)
        };
        let first: Value = self.get(page_url(1)).await?;
        let pages = page_count(&first);
        let mut items = take_items::<T>(&first, key, &page_url(1))?;
        let rest: Vec<Vec<T>> = futures::stream::iter(2..=pages)
            .map(|page| {
                let url = page_url(page);
                async move {
                    let body: Value = self.get(url.clone()).await?;
                    take_items::<T>(&body, key, &url)
                }
            })
            .buffered(PAGE_CONCURRENCY)
            .try_collect()
            .await?;
        items.extend(rest.into_iter().flatten());
        Ok(items)
    }
}

/// How many pages a list has, from its first page.
fn page_count(first: &Value) -> u32 {
    let from_total = first["meta"]["total"]
        .as_u64()
        .map(|t| t.div_ceil(u64::from(PER_PAGE)) as u32);
    let from_last = first["links"]["pages"]["last"]
        .as_str()
        .and_then(|l| Url::parse(l).ok())
        .and_then(|u| {
            u.query_pairs()
                .find(|(k, _)| k == "page")
                .and_then(|(_, v)| v.parse::<u32>().ok())
        });
    from_total
        .into_iter()
        .chain(from_last)
        .max()
        .unwrap_or(1)
        .max(1)
}

fn take_items<T: DeserializeOwned>(body: &Value, key: &str, url: &Url) -> Result<Vec<T>, Error> {
    let request = format!("GET {}", url.path());
    match body.get(key) {
        Some(items) => serde_json::from_value(items.clone()).map_err(|e| Error::Decode {
            request,
            why: format!("`{key}`: {e}"),
        }),
        None => Err(Error::Decode {
            request,
            why: format!("no `{key}` in the answer"),
        }),
    }
}

fn decode<T: DeserializeOwned>(request: &str, bytes: &[u8]) -> Result<T, Error> {
    serde_json::from_slice(bytes).map_err(|e| Error::Decode {
        request: request.to_string(),
        why: e.to_string(),
    })
}

/// `retry-after` in seconds (the API sends seconds).
fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let secs: u64 = headers
        .get("retry-after")?
        .to_str()
        .ok()?
        .trim()
        .parse()
        .ok()?;
    Some(Duration::from_secs(secs))
}

/// A reqwest error and its causes, each once, without the URL (the request is already
/// named).
fn short(e: &reqwest::Error) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut source: Option<&dyn std::error::Error> = Some(e);
    while let Some(s) = source {
        let text = s.to_string();
        if !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
        source = s.source();
    }
    let mut text = parts.join(": ");
    if let Some(url) = e.url() {
        text = text
            .replace(&format!(" for url ({url})"), "")
            .replace(&format!(" ({url})"), "");
    }
    text
}
