//! The component's allocator: talc, fed first from the linear memory the
//! module starts with, then from `memory.grow`.
//!
//! Why not talc's own `WasmDynamicTalc` (or Rust's default dlmalloc): both
//! ignore the memory above `__heap_base` and call `memory.grow` on the first
//! allocation. In a pooled wasmtime slot a grow makes pages accessible with
//! `mprotect`, and the next instance shrinks the slot back with another
//! one, each with a TLB shoot-down: about a tenth of a small call such as
//! `describe` (docs/performance.md, "Plugin runtime"). Link the module with
//! a larger initial memory (the recipe in the crate docs), so small calls
//! never grow it.

use core::alloc::{GlobalAlloc, Layout};
use core::arch::wasm32::{memory_grow, memory_size};
use core::ptr::NonNull;
use core::sync::atomic::{AtomicBool, Ordering};

use talc::base::Talc;
use talc::base::binning::Binning;
use talc::cell::TalcSyncCell;
use talc::wasm::WasmBinning;

const PAGE: usize = 64 * 1024;

unsafe extern "C" {
    /// First byte after the module's data and stack (defined by wasm-ld).
    static __heap_base: u8;
}

/// Claims `[__heap_base, end of initial memory)` on the first request, then
/// grows memory and extends the heap by what each request needs.
#[derive(Debug)]
pub struct InitialThenGrow {
    end: Option<NonNull<u8>>,
    started: bool,
}

// SAFETY: acquire uses only `talc` and the wasm memory instructions; it
// never calls a Rust allocator.
unsafe impl talc::source::Source for InitialThenGrow {
    fn acquire<B: Binning>(talc: &mut Talc<Self, B>, layout: Layout) -> Result<(), ()> {
        if !talc.source.started {
            talc.source.started = true;
            let base = (&raw const __heap_base) as *mut u8;
            let end = memory_size::<0>() * PAGE;
            if end > base as usize {
                // SAFETY: nothing else uses memory above `__heap_base`.
                if let Some(heap_end) = unsafe { talc.claim(base, end - base as usize) } {
                    talc.source.end = Some(heap_end);
                    // If this region is too small for `layout`, talc asks again.
                    return Ok(());
                }
            }
        }
        let needed = layout.size() + layout.align() + 4 * talc::base::CHUNK_UNIT;
        let pages = needed.div_ceil(PAGE);
        let prev = memory_grow::<0>(pages);
        if prev == usize::MAX {
            return Err(());
        }
        let new_base = (prev * PAGE) as *mut u8;
        let new_end = new_base.wrapping_add(pages * PAGE);
        if let Some(old_end) = talc.source.end.take()
            && old_end.as_ptr() == new_base
        {
            // SAFETY: the grown pages start where the heap ends.
            talc.source.end = Some(unsafe { talc.extend(old_end, new_end) });
            return Ok(());
        }
        // SAFETY: freshly grown pages belong to nobody else.
        talc.source.end = unsafe { talc.claim(new_base, pages * PAGE) };
        Ok(())
    }
}

/// Whether frees are skipped: true once an export has produced its result.
///
/// An instance serves one call and is then thrown away with its memory.
/// After the export returns, wit-bindgen lowers the result and the host's
/// post-return frees every string and list of it, one by one: for a search
/// of 10,000 jobs that is about 100,000 frees of memory that is about to be
/// dropped wholesale. Skipping them only leaks into a memory that is not
/// used again; should a host ever reuse an instance, [`call_starts`] turns
/// freeing back on and only the previous result stays allocated.
static FREES_SKIPPED: AtomicBool = AtomicBool::new(false);

/// An export begins: memory freed from now on is reused.
pub fn call_starts() {
    FREES_SKIPPED.store(false, Ordering::Relaxed);
}

/// An export has its result: what is freed from now on is the result
/// itself, by post-return, and is left to die with the instance.
pub fn result_ready() {
    FREES_SKIPPED.store(true, Ordering::Relaxed);
}

/// talc, with frees skipped after [`result_ready`].
struct Heap(TalcSyncCell<InitialThenGrow, WasmBinning>);

// SAFETY: every call is passed on to talc, except frees, which may be
// dropped: a block that is never freed is simply never reused.
unsafe impl GlobalAlloc for Heap {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        unsafe { self.0.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        unsafe { self.0.alloc_zeroed(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        if !FREES_SKIPPED.load(Ordering::Relaxed) {
            unsafe { self.0.dealloc(ptr, layout) }
        }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        unsafe { self.0.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOCATOR: Heap = Heap(TalcSyncCell::new_wasm(InitialThenGrow {
    end: None,
    started: false,
}));
