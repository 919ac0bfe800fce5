//! The limits every plugin call runs under, and the store limiter that
//! enforces the memory part.

use std::time::Duration;

/// The default of [`PluginLimits::call_timeout`].
pub const DEFAULT_CALL_TIMEOUT: Duration = Duration::from_secs(30);

/// Limits applied to each plugin. Defaults suit a provider that pages a CI
/// API: generous time (network-bound), little memory.
#[derive(Debug, Clone)]
pub struct PluginLimits {
    /// Most linear memory one call may hold, all memories together.
    /// Default 64 MiB. A provider maps JSON pages of a few hundred KiB;
    /// raising this only helps a plugin that buffers whole histories, and
    /// every concurrent call may use this much.
    pub memory_bytes: usize,
    /// Wall-clock budget of one call, from asking for a concurrency permit
    /// to the answer, including time blocked in host HTTP. Default
    /// [`DEFAULT_CALL_TIMEOUT`] (30 s); the operator's setting for it is
    /// `BUILDSNAP_PLUGIN_TIMEOUT` / `--plugin-timeout` (seconds). The call
    /// ends at this point (within one 10 ms epoch tick) however its time is
    /// spent: running wasm traps at the deadline and yields to tokio at
    /// every tick before it, and a tokio timeout stops a call parked in
    /// host I/O. Too short cuts off slow CircleCI pages; longer lets a
    /// broken plugin keep a concurrency permit (and its share of the CPU)
    /// that long.
    pub call_timeout: Duration,
    /// Calls of one plugin that may run at once. Default 8. Each running
    /// call holds a Store (memory up to `memory_bytes`); more concurrency
    /// only helps when the provider is slow and not rate limiting.
    pub max_concurrent_calls: usize,
    /// Outbound HTTP limits for the plugin's requests.
    pub http: HttpLimits,
}

/// Limits on the HTTP requests a plugin makes through the host.
#[derive(Debug, Clone)]
pub struct HttpLimits {
    /// Largest response body accepted, in bytes. Default 8 MiB; a CircleCI
    /// page is far smaller, and the body is copied into guest memory.
    pub max_response_bytes: u64,
    /// Time to establish a connection. Default 5 s.
    pub connect_timeout: Duration,
    /// Time for one request to complete once sent, unless the plugin asks
    /// for less; always clamped to what the call has left. Default 15 s.
    pub request_timeout: Duration,
    /// Attempts for a request answered 429 or 5xx (first try included).
    /// Default 4. Retries happen only when their wait fits in the call's
    /// remaining time; otherwise the plugin sees the last answer.
    pub max_attempts: u32,
    /// First backoff when the provider gives no `Retry-After`; doubles
    /// each attempt. Default 250 ms.
    pub initial_backoff: Duration,
    /// Redirect hops followed, each checked against the allow-list.
    /// Default 5.
    pub max_redirects: u32,
    /// Requests of one `send-batch` in flight at once. Default 8: enough to
    /// overlap CircleCI's latency, few enough not to trip its rate limits.
    pub batch_concurrency: usize,
    /// Requests one call may send in all. Default 2,000. Stops a runaway
    /// plugin from burning the integration's rate-limit budget.
    pub max_requests_per_call: u32,
    /// Memory for the answers kept behind conditional requests, over all
    /// integrations. Default 32 MiB: a GitHub run-list page is about
    /// 100 KB, so a few hundred repositories' recent pages stay revalidated
    /// by 304s (free against GitHub's rate limit). Less memory means more
    /// full answers after eviction; 0 turns the cache off.
    pub conditional_cache_bytes: usize,
}

impl Default for PluginLimits {
    fn default() -> Self {
        PluginLimits {
            memory_bytes: 64 << 20,
            call_timeout: DEFAULT_CALL_TIMEOUT,
            max_concurrent_calls: 8,
            http: HttpLimits::default(),
        }
    }
}

impl Default for HttpLimits {
    fn default() -> Self {
        HttpLimits {
            max_response_bytes: 8 << 20,
            connect_timeout: Duration::from_secs(5),
            request_timeout: Duration::from_secs(15),
            max_attempts: 4,
            initial_backoff: Duration::from_millis(250),
            max_redirects: 5,
            batch_concurrency: 8,
            max_requests_per_call: 2_000,
            conditional_cache_bytes: 32 << 20,
        }
    }
}

/// Store limiter: caps memory and records that the cap was hit, so a
/// call that dies of it is reported as a memory-limit error rather than
/// a generic trap (a Rust guest aborts on allocation failure).
pub(crate) struct MemoryCap {
    max_bytes: usize,
    pub(crate) hit: bool,
}

impl MemoryCap {
    pub(crate) fn new(max_bytes: usize) -> Self {
        MemoryCap {
            max_bytes,
            hit: false,
        }
    }
}

impl wasmtime::ResourceLimiter for MemoryCap {
    fn memory_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        if desired > self.max_bytes {
            self.hit = true;
            // Trap rather than fail the grow: a guest that cannot allocate
            // aborts anyway, and the trap ends the call at once.
            return Err(wasmtime::format_err!(
                "plugin memory limit of {} MiB reached",
                self.max_bytes >> 20
            ));
        }
        Ok(true)
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        // Tables hold function references; 100k entries is far beyond any
        // real plugin and bounds the memory a table can pin.
        Ok(desired <= 100_000)
    }
}
