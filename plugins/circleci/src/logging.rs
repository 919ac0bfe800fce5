//! Plugin logging.
//!
//! In the component, lines go to the host's `log` import. Natively (tests)
//! they are kept per thread so a test can assert what was logged.

use crate::wit::Level;

/// Log one line at `level`.
pub fn log(level: Level, message: &str) {
    #[cfg(target_arch = "wasm32")]
    buildsnap_pdk::guest::log(level, message);
    #[cfg(not(target_arch = "wasm32"))]
    native::LINES.with(|l| l.borrow_mut().push((level, message.to_string())));
}

/// Log at `warn`: something was skipped or tolerated.
pub fn warn(message: &str) {
    log(Level::Warn, message);
}

/// Log at `debug`.
pub fn debug(message: &str) {
    log(Level::Debug, message);
}

/// Take (and clear) the lines this thread has logged. Native builds only.
#[cfg(not(target_arch = "wasm32"))]
pub fn take_lines() -> Vec<(Level, String)> {
    native::LINES.with(|l| std::mem::take(&mut *l.borrow_mut()))
}

#[cfg(not(target_arch = "wasm32"))]
mod native {
    use crate::wit::Level;
    use std::cell::RefCell;

    thread_local! {
        pub static LINES: RefCell<Vec<(Level, String)>> = const { RefCell::new(Vec::new()) };
    }
}
