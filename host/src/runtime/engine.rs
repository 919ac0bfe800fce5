//! The one wasmtime `Engine` of the process, its settings, the epoch
//! ticker that makes call deadlines work, and the time slicing that keeps
//! a busy guest from starving the async runtime.
//!
//! # Why guests yield instead of running on a thread pool of their own
//!
//! Guests run inside the host's tokio runtime (every call goes through the
//! async bindings, `instantiate_async`/`call_async`, on a wasmtime fiber).
//! A guest that computes without calling the host would keep its worker
//! thread until the call ends, and a few of them would stop the runtime
//! (the HTTP API, the capture queue, timers) for whole call timeouts.
//! [`slice_until`] makes every running guest yield back to tokio at each
//! epoch tick (10 ms), and end with a trap at the call's deadline.
//!
//! The alternative was a bounded pool of threads of its own for guests.
//! It was not chosen because plugin calls are mostly waiting on the
//! provider's HTTP API: a guest thread would be held through every
//! response it waits for, so the pool would have to be as large as all
//! concurrency caps together (or calls would queue behind idle ones), and
//! each call would pay a hop between schedulers. Yielding costs one fiber
//! switch per 10 ms of guest CPU and keeps a waiting guest free of any
//! thread. Its price: guests and the API share the workers, so under
//! sustained plugin CPU another task waits up to about
//! `CPU-bound guests per worker × 10 ms` for its turn; the per-plugin
//! concurrency cap (`PluginLimits::max_concurrent_calls`) bounds that.

use std::time::{Duration, Instant};

use wasmtime::{
    Config, Enabled, Engine, InstanceAllocationStrategy, OptLevel, PoolingAllocationConfig, Store,
    UpdateDeadline,
};

/// How often the epoch advances. Deadlines are measured in these ticks, so
/// this is the resolution of a call timeout. 10 ms costs nothing measurable
/// (one atomic increment) and keeps timeouts within 10 ms of their mark.
pub const EPOCH_TICK: Duration = Duration::from_millis(10);

/// The most `pool_keep_resident_bytes` used where `PAGEMAP_SCAN` is off or
/// missing (kernels before 6.7): every kept byte is then `memset` after
/// each instance, and 256 KiB is where that stops paying off.
pub const KEEP_RESIDENT_WITHOUT_SCAN: usize = 256 << 10;

/// Engine settings. Built with [`EngineSettings::default`] and adjusted
/// field by field; every field says what it trades.
#[derive(Debug, Clone)]
pub struct EngineSettings {
    /// Use the pooling instance allocator. On by default: it pre-reserves
    /// virtual memory for `pool_instances` instances so that a fresh
    /// instance per call costs a few microseconds instead of mmap/munmap
    /// calls. The price is address space reserved up front (about
    /// `pool_instances × memory reservation`) and a hard cap on instances
    /// alive at once; when the reservation fails (small address spaces) the
    /// engine falls back to on-demand allocation.
    pub pooling: bool,
    /// Instances the pool holds at once. Default 64: plugins × per-plugin
    /// concurrency rarely exceeds it; a call beyond it fails to instantiate
    /// rather than wait, so keep it above the sum of concurrency caps.
    pub pool_instances: u32,
    /// Largest linear memory any instance may have, in bytes. The pool
    /// reserves this per slot; the per-call limiter enforces the (smaller
    /// or equal) per-plugin cap. Default 64 MiB.
    pub max_memory_bytes: usize,
    /// Virtual address space reserved per linear memory, in bytes (never
    /// less than `max_memory_bytes`). Default 4 GiB: every 32-bit wasm
    /// address then lands inside the reservation or its guard region, so
    /// Cranelift drops the bounds check (and its Spectre guard) from every
    /// load and store. The CircleCI mapping ran about a tenth faster with
    /// it than with 64 MiB (docs/performance.md, "CircleCI mapping"). The
    /// price is address space only, nothing resident: the pool reserves
    /// `pool_instances × 2` memories of 4 GiB plus guards (about 520 GiB of
    /// the 128 TiB x86-64 offers); where that cannot be reserved (a
    /// `ulimit -v`), the engine falls back to on-demand allocation. Set it
    /// to `max_memory_bytes` to reserve only what memories can use, at the
    /// price of a bounds check per access.
    pub memory_reservation_bytes: u64,
    /// Bytes of each pooled memory slot kept mapped and resident between
    /// instances; the rest is returned to the OS with `madvise` when an
    /// instance ends. Larger values trade resident memory per used slot
    /// (only the pages calls actually touch, and only for slots in use:
    /// the pool reuses a plugin's recent slots) for no page faults and no
    /// `madvise` per call. Default 8 MiB, which covers a CircleCI mapping
    /// of 10,000 jobs (6 MiB peak); for a small call such as `describe` it
    /// measured the same as 256 KiB (docs/performance.md, "Plugin runtime").
    /// Only with `pool_pagemap_scan` working: without it the whole kept
    /// range is `memset` after every instance, so the engine then keeps at
    /// most [`KEEP_RESIDENT_WITHOUT_SCAN`].
    pub pool_keep_resident_bytes: usize,
    /// Reset pooled memory with Linux's `PAGEMAP_SCAN` ioctl (kernel 6.7+)
    /// when the kernel has it: the pages an instance actually dirtied are
    /// found and restored in place, up to `pool_keep_resident_bytes`, instead
    /// of assuming the low addresses are dirty and `madvise`-ing the rest.
    /// On by default (wasmtime's own default is off while they evaluate
    /// it); it is skipped silently on kernels without the ioctl. The cost is
    /// one ioctl per instance end, which replaces a `madvise` and the page
    /// faults that follow it.
    pub pool_pagemap_scan: bool,
    /// Cranelift optimisation. `Speed` by default: compile time is paid
    /// once (the result is cached on disk) and mapping JSON is CPU work.
    pub opt_level: OptLevel,
    /// Record wasm backtraces with function names in traps. On by default:
    /// a plugin author needs to know where a trap came from; the cost is
    /// paid only when a trap happens.
    pub backtrace_details: bool,
    /// Write `/tmp/perf-<pid>.map` so that `perf report` names the compiled
    /// wasm functions (plugin profiling). Off by default: it appends a line
    /// per compiled function to a file in /tmp, and loading from the
    /// precompiled cache does not write it (delete the cache to profile).
    pub perf_map: bool,
}

impl Default for EngineSettings {
    fn default() -> Self {
        EngineSettings {
            pooling: true,
            pool_instances: 64,
            max_memory_bytes: 64 << 20,
            memory_reservation_bytes: 4 << 30,
            pool_keep_resident_bytes: 8 << 20,
            pool_pagemap_scan: true,
            opt_level: OptLevel::Speed,
            backtrace_details: true,
            perf_map: false,
        }
    }
}

impl EngineSettings {
    fn config(&self, pooling: bool) -> Config {
        let mut config = Config::new();
        config.wasm_component_model(true);
        // Component-model async stays compiled out (the `component-model-async`
        // cargo feature is off): the contract uses none of it, and with it
        // every host↔guest call is slower (wasmtime#14189).
        // Epochs, not fuel: a deadline costs one check per loop back-edge
        // against an atomic, where fuel counts every instruction.
        config.epoch_interruption(true);
        config.consume_fuel(false);
        config.cranelift_opt_level(self.opt_level);
        config.wasm_backtrace_details(if self.backtrace_details {
            wasmtime::WasmBacktraceDetails::Enable
        } else {
            wasmtime::WasmBacktraceDetails::Disable
        });
        // 512 KiB of wasm stack: recursion in a JSON parser is bounded by
        // document depth; deeper than this is a hostile document.
        config.max_wasm_stack(512 << 10);
        if self.perf_map {
            config.profiler(wasmtime::ProfilingStrategy::PerfMap);
        }
        if pooling {
            let scan =
                self.pool_pagemap_scan && PoolingAllocationConfig::is_pagemap_scan_available();
            let keep = if scan {
                self.pool_keep_resident_bytes
            } else {
                self.pool_keep_resident_bytes
                    .min(KEEP_RESIDENT_WITHOUT_SCAN)
            };
            let mut pool = PoolingAllocationConfig::default();
            pool.total_component_instances(self.pool_instances)
                .total_core_instances(self.pool_instances * 4)
                .total_memories(self.pool_instances * 2)
                .total_tables(self.pool_instances * 4)
                .total_stacks(self.pool_instances)
                .max_memory_size(self.max_memory_bytes)
                .linear_memory_keep_resident(keep)
                .table_keep_resident(64 << 10)
                .pagemap_scan(if scan { Enabled::Yes } else { Enabled::No });
            config.allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
        }
        config.memory_reservation(
            self.memory_reservation_bytes
                .max(self.max_memory_bytes as u64),
        );
        config
    }

    /// Build the engine and start its epoch ticker. Falls back to
    /// on-demand allocation when the pool cannot reserve its memory.
    pub fn build(&self) -> wasmtime::Result<Engine> {
        let engine = if self.pooling {
            match Engine::new(&self.config(true)) {
                Ok(engine) => engine,
                Err(err) => {
                    tracing::warn!(error = %err, "pooling allocator unavailable; using on-demand allocation");
                    Engine::new(&self.config(false))?
                }
            }
        } else {
            Engine::new(&self.config(false))?
        };
        start_epoch_ticker(&engine);
        Ok(engine)
    }
}

/// Make the guest in `store` yield to the async runtime at every epoch
/// tick, and trap with [`wasmtime::Trap::Interrupt`] at the first tick at
/// or after `deadline`. So a looping guest ends within one tick of its
/// deadline, and in between it never holds a tokio worker longer than one
/// tick (plus the longest single bulk-memory instruction, bounded by the
/// memory cap).
///
/// It yields with [`tokio::task::yield_now`], as the wasmtime docs advise
/// for tokio, rather than wasmtime's own yield: tokio defers such a task
/// until the worker has polled its I/O and timer drivers, whereas a task
/// that merely wakes itself goes back on the run queue, and a worker busy
/// with run-queue tasks polls the drivers only every 61 of them (more than
/// half a second of guest slices), which would delay every socket and
/// timer of the API (measured with 4 looping guests on 2 workers, test
/// `sandbox::looping_guests_never_starve_the_runtime_and_end_at_their_deadline`:
/// worst echo round trip 0.6–0.8 s with wasmtime's yield, 38 ms with
/// tokio's, 7 s with no yield at all). The guest must be entered through the async APIs
/// (`instantiate_async`, `call_async`); a synchronous entry would trap at
/// the first tick.
pub fn slice_until<T: 'static>(store: &mut Store<T>, deadline: Instant) {
    store.set_epoch_deadline(1);
    store.epoch_deadline_callback(move |_store| {
        if Instant::now() >= deadline {
            Ok(UpdateDeadline::Interrupt)
        } else {
            Ok(UpdateDeadline::YieldCustom(
                1,
                Box::pin(tokio::task::yield_now()),
            ))
        }
    });
}

/// Deadline in epoch ticks for a call of length `timeout` (rounded up, plus
/// one because the current tick may be nearly over). For stores that trap
/// at the deadline without slicing (benchmarks); plugin calls use
/// [`slice_until`].
pub fn deadline_ticks(timeout: Duration) -> u64 {
    (timeout.as_nanos() / EPOCH_TICK.as_nanos()) as u64 + 1
}

/// A plain thread, not a tokio task: it must keep ticking when every
/// runtime worker is busy running wasm, which is exactly when a deadline
/// matters. It holds only a weak reference and ends with the engine.
fn start_epoch_ticker(engine: &Engine) {
    let weak = engine.weak();
    std::thread::Builder::new()
        .name("wasm-epoch".into())
        .spawn(move || {
            loop {
                std::thread::sleep(EPOCH_TICK);
                match weak.upgrade() {
                    Some(engine) => engine.increment_epoch(),
                    None => break,
                }
            }
        })
        .expect("spawn epoch ticker thread");
}
