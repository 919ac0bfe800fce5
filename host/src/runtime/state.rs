//! What a Store holds for one plugin call.

use std::collections::VecDeque;
use std::sync::Arc;

use wasmtime::component::ResourceTable;
use wasmtime_wasi::p2::pipe::MemoryOutputPipe;
use wasmtime_wasi::{WasiCtx, WasiCtxBuilder, WasiCtxView, WasiView};

use super::limits::MemoryCap;
use super::outbound::CallHttp;

/// Most bytes of log text one call may emit; beyond it lines are dropped
/// (with one warning), so a chatty plugin cannot flood the host's logs.
const LOG_BUDGET_BYTES: usize = 256 << 10;
/// Error lines kept to explain a trap (a panic hook logs its message).
const ERROR_TAIL_LINES: usize = 8;
/// Capacity of each captured WASI output stream.
const STDIO_CAPTURE_BYTES: usize = 64 << 10;

/// Store data of one call: fresh for every call, dropped with the Store.
pub struct PluginState {
    pub(crate) plugin: Arc<str>,
    pub(crate) memory: MemoryCap,
    pub(crate) http: Option<CallHttp>,
    pub(crate) logs: LogSink,
    pub(crate) wasi: Option<WasiParts>,
}

/// WASI for components built for wasm32-wasip2. Granted nothing: no
/// preopened directories, no environment or arguments, no sockets or name
/// lookups, stdin closed. Only stdout and stderr exist, captured and sent
/// to the log after the call.
pub(crate) struct WasiParts {
    ctx: WasiCtx,
    table: ResourceTable,
    stdout: MemoryOutputPipe,
    stderr: MemoryOutputPipe,
}

impl WasiParts {
    pub(crate) fn new() -> Self {
        let stdout = MemoryOutputPipe::new(STDIO_CAPTURE_BYTES);
        let stderr = MemoryOutputPipe::new(STDIO_CAPTURE_BYTES);
        let ctx = WasiCtxBuilder::new()
            .stdout(stdout.clone())
            .stderr(stderr.clone())
            .allow_tcp(false)
            .allow_udp(false)
            .allow_ip_name_lookup(false)
            .build();
        WasiParts {
            ctx,
            table: ResourceTable::new(),
            stdout,
            stderr,
        }
    }
}

impl WasiView for PluginState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        // Only components that import WASI are linked against it, and
        // their stores are always made with `wasi: Some(..)` (call.rs).
        let wasi = self
            .wasi
            .as_mut()
            .expect("WASI linked for a store without WASI state");
        WasiCtxView {
            ctx: &mut wasi.ctx,
            table: &mut wasi.table,
        }
    }
}

impl PluginState {
    /// Send captured stdout/stderr to the log, line by line. stderr lines
    /// count as errors: it is where a wasip2 guest's panic message goes.
    pub(crate) fn flush_stdio(&mut self) {
        let Some(wasi) = &self.wasi else { return };
        let (out, err) = (wasi.stdout.contents(), wasi.stderr.contents());
        for line in String::from_utf8_lossy(&out)
            .lines()
            .filter(|l| !l.is_empty())
        {
            self.logs.log(&self.plugin, tracing::Level::INFO, line);
        }
        for line in String::from_utf8_lossy(&err)
            .lines()
            .filter(|l| !l.is_empty())
        {
            self.logs.log(&self.plugin, tracing::Level::ERROR, line);
        }
    }
}

/// Routes a plugin's log lines to tracing and keeps the last error lines.
#[derive(Default)]
pub(crate) struct LogSink {
    spent: usize,
    dropped: bool,
    pub(crate) errors: VecDeque<String>,
}

impl LogSink {
    pub(crate) fn log(&mut self, plugin: &str, level: tracing::Level, message: &str) {
        if level == tracing::Level::ERROR {
            if self.errors.len() == ERROR_TAIL_LINES {
                self.errors.pop_front();
            }
            self.errors.push_back(message.chars().take(2048).collect());
        }
        self.spent += message.len();
        if self.spent > LOG_BUDGET_BYTES {
            if !self.dropped {
                self.dropped = true;
                tracing::warn!(
                    plugin,
                    "plugin log budget exhausted; dropping further lines of this call"
                );
            }
            return;
        }
        match level {
            tracing::Level::ERROR => tracing::error!(target: "plugin", plugin, "{message}"),
            tracing::Level::WARN => tracing::warn!(target: "plugin", plugin, "{message}"),
            tracing::Level::INFO => tracing::info!(target: "plugin", plugin, "{message}"),
            tracing::Level::DEBUG => tracing::debug!(target: "plugin", plugin, "{message}"),
            tracing::Level::TRACE => tracing::trace!(target: "plugin", plugin, "{message}"),
        }
    }

    pub(crate) fn error_text(&self) -> Option<String> {
        (!self.errors.is_empty())
            .then(|| self.errors.iter().cloned().collect::<Vec<_>>().join("\n"))
    }
}
