//! Real servers for the tests, each in a temp dir on a free loopback port, stopped on Drop.
#![allow(dead_code)]

pub mod prompter;
pub mod sshd;
pub mod ticker;
