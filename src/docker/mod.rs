//! Docker: the compose project(s) on a host, live.
//!
//! [`worker`] is a task driven by [`worker::DockerCommand`]s with one task per stream
//! (the event stream, one stats stream per running container), after oxker's
//! `docker_data`. It keeps the [`model::Model`] and publishes it; it never prints.

pub mod compose;
pub mod errors;
pub mod exec;
pub mod model;
pub mod mounts;
pub mod stats;
pub mod worker;

pub use compose::ComposeFlavor;
pub use model::{Container, Health, Model, Port, State};
pub use worker::{DockerCommand, DockerEvent, DockerHandle, Scope};
