//! Tools for plugin authors and operators (`buildsnap plugin ...`):
//! `new`, which writes a plugin crate of its own to start from;
//! `check`, which loads a component exactly as `serve` loads a file from
//! its plugins folder and says what it is, or why it is refused; and
//! `call`, which runs one export in the real sandbox, recording its HTTP
//! or answering it from a recording.

mod call;
mod check;
mod new;
mod stage;

pub use call::{CallArgs, CallFailure, EXPORTS, call};
pub use check::{CheckReport, check, component_imports};
pub use new::{CONTRACT, Scaffold, new_plugin};
