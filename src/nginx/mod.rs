//! nginx as Odoo's edge: its effective configuration (`nginx -T`), the Odoo site in it,
//! its error log, and the running master it belongs to. Parsing is pure; reading goes
//! through the [`crate::target::Target`] in `checks::observe`.

pub mod config;
pub mod error_log;
pub mod process;
pub mod site;
pub mod units;

pub use config::{Directive, NginxConfig, ParseError};
pub use error_log::{ErrorLogSummary, UpstreamFailure};
pub use process::NginxInvocation;
pub use site::{OdooSite, odoo_sites, select_site};
