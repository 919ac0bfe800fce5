//! What buildsnap's provider simulators (CircleCI, GitHub Actions) share,
//! so a fix to simulated time or to fault matching lands in both.
#![warn(missing_docs)]

pub mod clock;
pub mod glob;
