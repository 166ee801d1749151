//! The built-in gates, one file per kind; each returns a [`super::model::Finding`].

pub mod container;
pub mod database;
pub mod health;
pub mod registry;
