//! DigitalOcean's API v2 (the `cloud` part of the engine): a typed client for the
//! endpoints an operator's console needs (account, SSH keys, sizes, regions, droplets and
//! their actions, actions, domain records, firewalls).
//!
//! - The token: [`token`] (environment, doctl's config, odoo-ops' config); never shown.
//! - Lists come in pages of 200; the pages after the first are fetched side by side.
//! - GET and DELETE are retried with backoff on lost connections, 429 (after its
//!   `retry-after`) and 5xx; a POST that creates is never retried on a 5xx or a lost
//!   answer (it may have been done).
//! - Errors carry DigitalOcean's `id`, `message` and `request_id`.
//! - The rate limit left is recorded from every answer ([`RateLimit`]).

mod api;
mod client;
pub mod error;
pub mod listing;
pub mod model;
pub mod rate_limit;
pub mod token;

pub use api::DropletFilter;
pub use client::{API_URL_ENV, Client, DEFAULT_API_URL, PER_PAGE, RetryPolicy};
pub use error::Error;
pub use model::*;
pub use rate_limit::RateLimit;
pub use token::{Token, TokenSource};
