//! What every export of a component wraps itself in.

/// Runs an export's `body` with the panic hook installed: a panic's
/// message goes to the host's log at `error`, and the host attaches a
/// plugin's last error lines to the trap it reports, so operators read
/// "panicked: <message>" instead of `unreachable`. Outside a component
/// (native tests) the default hook stays. With the `talc` feature the heap
/// is told when the call starts and when its result is ready (`heap.rs`).
pub fn guard<R>(body: impl FnOnce() -> R) -> R {
    #[cfg(all(
        feature = "talc",
        target_arch = "wasm32",
        not(target_feature = "atomics")
    ))]
    crate::heap::call_starts();
    #[cfg(target_arch = "wasm32")]
    {
        static ONCE: std::sync::Once = std::sync::Once::new();
        ONCE.call_once(|| {
            std::panic::set_hook(Box::new(|info| {
                crate::bindings::buildsnap::provider::log::log(
                    crate::wit::Level::Error,
                    &format!("panic: {info}"),
                );
            }));
        });
    }
    let result = body();
    #[cfg(all(
        feature = "talc",
        target_arch = "wasm32",
        not(target_feature = "atomics")
    ))]
    crate::heap::result_ready();
    result
}

/// Logs `message` at `level` through the host (a no-op natively, where
/// there is no host).
pub fn log(level: crate::wit::Level, message: &str) {
    #[cfg(target_arch = "wasm32")]
    crate::bindings::buildsnap::provider::log::log(level, message);
    #[cfg(not(target_arch = "wasm32"))]
    let _ = (level, message);
}
