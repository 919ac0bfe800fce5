//! Links the component with 2 MiB of initial linear memory (1 MiB of it is
//! the stack): the allocator in `src/heap.rs` serves small calls from the
//! memory above the data, so they never `memory.grow` (which costs the host
//! an `mprotect` per call). Native builds are left alone.

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    if std::env::var("CARGO_CFG_TARGET_FAMILY").as_deref() == Ok("wasm") {
        println!("cargo:rustc-link-arg-cdylib=--initial-memory=2097152");
    }
}
