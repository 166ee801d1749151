pub mod switch;
pub mod switch_clone;
pub mod switch_drain;
pub mod switch_edits;
pub mod switch_ready;
