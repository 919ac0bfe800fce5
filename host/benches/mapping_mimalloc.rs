//! The mapping bench (`mapping.rs`) in a process that allocates with
//! mimalloc instead of glibc's malloc.
//!
//! Why: the native run is allocation-heavy (glibc's malloc, free and the
//! page faults of its heap growing back after each trim are about half of
//! it), and so is the host's lifting of the component's result (~95,000
//! strings). The component's own guest code allocates from its own heap and
//! does not care. So the ratio depends on the host process's allocator, and
//! this target shows by how much. The host binary itself uses the system
//! allocator.
//!
//! Run: `cargo bench -p buildsnap --bench mapping_mimalloc`.

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[path = "mapping.rs"]
mod mapping;

fn main() {
    mapping::run("mimalloc");
}
