//! The first-time bootstrap of a droplet: from a DigitalOcean token to a verified Odoo.
//!
//! What is here so far is the part every face shares: the operator's answers and the rule
//! for each field (the console's form checks a field as it is typed with the same rule
//! the headless `--answers` file is checked with), the droplet's cloud-init user data,
//! and the record of which steps are done, so that a re-run continues where it stopped.
//! [`tls`] is step 6: the certificate, its renewal and the site switched to it.

pub mod answers;
pub mod cloud_init;
pub mod steps;
pub mod tls;
