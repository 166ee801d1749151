//! Verify: the gates a stack must pass to be called up, and that every deploy and
//! rollback passes through (issue 13; the seed's verify table made real for Odoo 18).
//!
//! - [`options`]: what to verify (the stack as found, or a given container on given
//!   ports, with or without the edge) and how long to wait for readiness.
//! - [`subject`]: finding Odoo, its ports and its database's container, each round.
//! - [`gates`]: container, internal health, edge, database, modules, registry.
//! - [`extra`]: the operator's own HTTP gates from the config file.
//! - [`context`]: a failed gate's container log and health log.
//! - [`early`]: gates started on Odoo's container before its odoo.conf is read, kept only
//!   when the subject gives them the same inputs.
//! - [`timeline`]: when each piece of discovery ran.
//! - [`run`]: all gates at once, each as soon as what it needs is found, polled until a
//!   deadline; the [`model::VerifyReport`].
//!
//! No UI here: the CLI (`odoo-ops verify`) and the deploy workflow show the report.

pub mod context;
pub mod early;
pub mod extra;
pub mod gates;
pub mod model;
pub mod options;
pub mod run;
pub mod subject;
pub mod timeline;

pub use extra::ExtraGate;
pub use model::{DiscoveryStep, FailureContext, GateResult, GateStatus, Overall, VerifyReport};
pub use options::{EdgeSelector, PortOverride, VerifyOptions};
pub use run::run;
