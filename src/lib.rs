//! odoo-ops: a terminal console for operators of Odoo 18 Community on DigitalOcean droplets.
//!
//! The engine (`target`, `host`, `odoo`, ...) knows how an Odoo stack works and never draws
//! or prints; the faces (`tui`, `cli`) show what the engine finds.

pub mod backup;
pub mod bootstrap;
pub mod checks;
pub mod cli;
pub mod config;
pub mod deploy;
pub mod digitalocean;
pub mod docker;
pub mod host;
pub mod jobs;
pub mod logs;
pub mod memory;
pub mod nginx;
pub mod odoo;
pub mod redact;
pub mod ssh;
pub mod stack;
pub mod target;
pub mod tui;
pub mod verify;
pub mod workflow;
