//! Odoo's module states (`ir_module_module`, `ir_module_module_dependency`) and module
//! runs (`odoo -d DB -i/-u MODULES --stop-after-init`), without any UI: the Modules pane and
//! `odoo-ops modules` are two faces of this.
//!
//! - [`access`]: where the tables are read (psql inside the compose `db` container through
//!   Docker's exec API, the container's local trust; or a PostgreSQL connection with
//!   odoo.conf's parameters through the target: no password typed either way) and which
//!   database.
//! - [`connection`]: that connection (tokio-postgres over the target's byte stream).
//! - [`inventory`]: the rows, counts per state, pending first, dependency maps.
//! - [`query`]: the SQL and the parsing of psql's unit-separated output.
//! - [`plan`]: a module plan (phases), and what each phase pulls in.
//! - [`oneoff`]: a phase run in a one-off container of the running Odoo image.
//! - [`checksum`], [`ondisk`]: which installed addons changed on disk since their last
//!   upgrade (hashed as OCA's `module_auto_update` does, compared with its record).
//! - [`reset`]: pending states a crash left, moved back as Odoo's cancel buttons do.
//! - [`safety`]: the backup offered before a change, and what is at risk without it.
//! - [`outcome`]: whether a run succeeded, judged as real Odoo 18 requires (the exit code
//!   alone lies).

pub mod access;
pub mod checksum;
pub mod connection;
pub mod inventory;
pub mod ondisk;
pub mod oneoff;
pub mod outcome;
pub mod plan;
pub mod query;
pub mod reset;
pub mod safety;
