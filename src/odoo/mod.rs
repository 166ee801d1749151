//! What odoo-ops knows about Odoo 18 itself: its config file, where it runs, and how a
//! file its configuration names may be read.

pub mod conf;
pub mod locate;
pub mod modules;
pub mod named_file;
