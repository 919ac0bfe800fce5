//! Links the component with 2 MiB of initial linear memory (1 MiB of it the
//! stack), as docs/plugin-authors.md advises: a call's allocations then
//! rarely need `memory.grow`, which costs the host an `mprotect`. Native
//! builds are left alone.

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    if std::env::var("CARGO_CFG_TARGET_FAMILY").as_deref() == Ok("wasm") {
        println!("cargo:rustc-link-arg-cdylib=--initial-memory=2097152");
    }
}
