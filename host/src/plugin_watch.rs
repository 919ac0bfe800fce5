//! `serve` keeps the plugins folder loaded as it changes: a file event
//! (the `notify` crate: inotify on Linux) or SIGHUP makes the registry
//! reload the folder ([`crate::runtime::Registry::reload`]), and capture
//! takes up the change. Events come in bursts (a copy writes a file in
//! several steps), so a reload waits until the folder has been quiet for
//! [`QUIET`]; a file read mid-copy is refused, the loaded version keeps
//! serving, and the copy's last event brings a reload that loads it.

use std::sync::Arc;
use std::time::Duration;

use notify::{EventKind, RecursiveMode, Watcher};
use tokio::sync::mpsc;

use crate::capture::Capture;

/// How long the folder must be quiet before a reload. Shorter reloads a
/// half-copied file more often (refused, harmless, a log line); longer
/// delays every change by as much.
pub const QUIET: Duration = Duration::from_millis(250);

/// The running watch; [`PluginWatch::stop`] ends it.
pub struct PluginWatch {
    stop: tokio::sync::oneshot::Sender<()>,
    task: tokio::task::JoinHandle<()>,
    /// Dropping it ends the file events (`None`: SIGHUP only).
    _watcher: Option<notify::RecommendedWatcher>,
}

/// Whether an event may mean a plugin file changed: anything but a read.
fn relevant(event: &notify::Event) -> bool {
    let touches_wasm = event
        .paths
        .iter()
        .any(|p| p.extension().is_some_and(|e| e == "wasm"));
    let read = matches!(
        event.kind,
        EventKind::Access(notify::event::AccessKind::Open(_))
            | EventKind::Access(notify::event::AccessKind::Read)
            | EventKind::Access(notify::event::AccessKind::Close(
                notify::event::AccessMode::Read
            ))
    );
    touches_wasm && !read
}

impl PluginWatch {
    /// Listens for SIGHUP and, with `files`, watches the registry's plugins
    /// folder; nothing to do without a folder.
    pub fn start(capture: Arc<Capture>, files: bool) -> anyhow::Result<Option<PluginWatch>> {
        let Some(dir) = capture.registry.plugins_dir().map(|d| d.to_path_buf()) else {
            return Ok(None);
        };
        let (tx, rx) = mpsc::unbounded_channel::<()>();
        let watcher = if files {
            let mut watcher =
                notify::recommended_watcher(move |res: notify::Result<notify::Event>| match res {
                    Ok(event) if relevant(&event) => {
                        let _ = tx.send(());
                    }
                    Ok(_) => {}
                    Err(error) => tracing::warn!(%error, "plugins folder watch"),
                })?;
            watcher
                .watch(&dir, RecursiveMode::NonRecursive)
                .map_err(|e| anyhow::anyhow!("watching plugins dir {}: {e}", dir.display()))?;
            Some(watcher)
        } else {
            drop(tx);
            None
        };
        // Installed here, not in the task: once `start` returns, a SIGHUP
        // reloads instead of ending the process (its default action).
        #[cfg(unix)]
        let hangup = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup())
            .map_err(|e| anyhow::anyhow!("SIGHUP handler: {e}"))?;
        #[cfg(not(unix))]
        let hangup = ();
        let (stop, stopped) = tokio::sync::oneshot::channel();
        let task = tokio::spawn(run(capture, rx, stopped, hangup));
        match files {
            true => {
                tracing::info!(dir = %dir.display(), "watching the plugins folder (SIGHUP reloads it too)")
            }
            false => tracing::info!(dir = %dir.display(), "the plugins folder reloads on SIGHUP"),
        }
        Ok(Some(PluginWatch {
            stop,
            task,
            _watcher: watcher,
        }))
    }

    /// Ends the watch; a reload under way finishes first.
    pub async fn stop(self) {
        let _ = self.stop.send(());
        let _ = self.task.await;
    }
}

#[cfg(unix)]
type Hangup = tokio::signal::unix::Signal;
#[cfg(not(unix))]
type Hangup = ();

async fn run(
    capture: Arc<Capture>,
    mut events: mpsc::UnboundedReceiver<()>,
    mut stopped: tokio::sync::oneshot::Receiver<()>,
    #[allow(unused_mut, unused_variables)] mut hangup: Hangup,
) {
    loop {
        #[cfg(unix)]
        let hup = hangup.recv();
        #[cfg(not(unix))]
        let hup = std::future::pending::<Option<()>>();
        tokio::select! {
            _ = &mut stopped => return,
            Some(()) = events.recv() => {
                // Wait out the burst.
                while let Ok(Some(())) = tokio::time::timeout(QUIET, events.recv()).await {}
            }
            _ = hup => tracing::info!("SIGHUP: reloading the plugins folder"),
        }
        reload(&capture).await;
    }
}

async fn reload(capture: &Capture) {
    match capture.registry.reload().await {
        Ok(report) if report.is_empty() => {}
        Ok(report) => {
            tracing::info!(loaded = ?report.loaded, refused = ?report.refused, removed = ?report.removed, "plugins folder reloaded");
            capture.plugins_changed();
        }
        Err(error) => {
            tracing::error!(%error, "plugins folder cannot be read; the loaded plugins keep serving")
        }
    }
}
