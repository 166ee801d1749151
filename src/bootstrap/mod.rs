//! The first-time bootstrap of a droplet: from a DigitalOcean token to a verified Odoo.
//!
//! The part every face shares: the operator's answers and the rule for each field (the
//! console's form checks a field as it is typed with the same rule the headless
//! `--answers` file is checked with), the droplet's cloud-init user data, the record of
//! which steps are done, and the engine that runs the steps ([`run`]), one file per step;
//! [`tls`] is step 6: the certificate, its renewal and the site switched to it, run from
//! the answers by [`certificate`]; [`edge`] is the droplet's nginx and CA the steps share;
//! [`amend`] says which answers may change once steps are done and what then runs again.

pub mod amend;
pub mod answers;
pub mod certificate;
pub mod cloud_init;
pub mod console;
pub mod dns;
pub mod droplet;
pub mod edge;
pub mod elf_glibc;
pub mod modules_verify;
pub mod ready;
pub mod remote;
pub mod resolve;
pub mod run;
pub mod stack;
pub mod steps;
pub mod tls;
