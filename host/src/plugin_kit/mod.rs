//! Tools for plugin authors and operators (`buildsnap plugin ...`): today
//! `check`, which loads a component exactly as `serve` loads a file from
//! its plugins folder and says what it is, or why it is refused.

mod check;

pub use check::{CheckReport, check, component_imports};
