//! Shared test support: each harness in its own file.
#![allow(dead_code)]

pub mod app;
