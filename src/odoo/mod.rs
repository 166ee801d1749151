//! What odoo-ops knows about Odoo 18 itself: its config file, and (in later modules) its
//! log lines, module states and health endpoints.

pub mod conf;
