//! Shared test support: real servers started on loopback, each in its own temp dir on its own
//! free port, stopped on Drop. Each test file does `mod support;` and uses what it needs.
#![allow(dead_code)]

pub mod nginx;
pub mod odoo_site;
pub mod ports;
pub mod postgres;
pub mod rawhttp;
pub mod standin;
pub mod tls;
