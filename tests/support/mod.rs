//! Shared test support: real servers started on loopback, each in its own temp dir on its own
//! free port, stopped on Drop; and the console's state for snapshot tests. Each test file does
//! `mod support;` and uses what it needs.
#![allow(dead_code)]

pub mod app;
pub mod debian_host;
pub mod deploy_run;
pub mod deploy_stack;
pub mod do_api;
pub mod do_spec;
pub mod docker;
pub mod latency;
pub mod logs;
pub mod modules_stack;
pub mod netns;
pub mod nginx;
pub mod odoo_db;
pub mod odoo_site;
pub mod pebble;
pub mod pg_image;
pub mod ports;
pub mod postgres;
pub mod prompter;
pub mod rawhttp;
pub mod scene;
pub mod screenshot;
pub mod sshd;
pub mod standin;
pub mod ticker;
pub mod tls;
pub mod tmux;
