//! Logs: Odoo's, nginx's and any container's, parsed, merged by time, kept in a bounded
//! buffer, filtered and searched off the draw path.
//!
//! Data flows one way: followers ([`follow`]) read a source through the [`Target`] and
//! send parsed entries to the worker ([`worker`]), which owns the [`store::Store`] and
//! publishes a small snapshot (the visible window and counts) for a face to draw.
//!
//! [`Target`]: crate::target::Target

pub mod assemble;
pub mod discover;
pub mod export;
pub mod filter;
pub mod follow;
pub mod line;
pub mod parse;
pub mod sources;
pub mod store;
pub mod time;
pub mod worker;

pub use line::{Level, LineKind, LogLine, SourceId};
pub use parse::Format;
