//! `sync`: the runs created in a window (`created>=T`), and the builds the
//! host holds that were not final yet.
//!
//! The cursor is the window's start. It moves to the newest run's creation
//! (less a margin, for runs GitHub lists late), so while nothing new is
//! created the list URL stays the same; every request is conditional, and
//! GitHub answers an unchanged resource with a 304 that costs no rate
//! limit: a sync pass over an unchanged repository costs 304s only.

use std::collections::HashSet;

use crate::client::Client;
use crate::fetch::{refresh, repo_path, runs_to_builds};
use crate::links;
use crate::mapping::parse_build_id;
use crate::model::{Run, RunList};
use crate::search::{PER_PAGE, encode, project};
use crate::time::{format_epoch_ms, parse_ms};
use crate::transport::Transport;
use crate::wit::{CallContext, ProviderError, SyncPage, SyncRequest};

/// The first window when the horizon names no start: a day.
const FIRST_WINDOW_MS: u64 = 24 * 3600 * 1000;

/// How far before the newest run seen the next window starts.
const OVERLAP_MS: u64 = 5 * 60 * 1000;

/// The cursor's prefix: a `created` window start.
const CURSOR_PREFIX: &str = "created>=";

/// The window start a cursor holds.
fn parse_cursor(cursor: &str) -> Result<u64, ProviderError> {
    cursor
        .strip_prefix(CURSOR_PREFIX)
        .and_then(parse_ms)
        .ok_or_else(|| ProviderError::Other(format!("{cursor:?} is not a cursor this plugin gave")))
}

/// One sync pass.
pub fn sync(
    t: &dyn Transport,
    ctx: &CallContext,
    req: &SyncRequest,
) -> Result<SyncPage, ProviderError> {
    let (owner, repo) = project(&req.project)?;
    let client = Client::new(t, ctx);
    let path = repo_path(&owner, &repo);
    let start = match &req.cursor {
        Some(c) => parse_cursor(c)?,
        None => req
            .horizon
            .not_before
            .as_deref()
            .and_then(parse_ms)
            .unwrap_or(ctx.now.saturating_sub(FIRST_WINDOW_MS)),
    };
    let since = format_epoch_ms(start);
    let max = req.horizon.max_pipelines as usize;
    let mut next = Some(client.url(&format!(
        "{path}/actions/runs?created={}&per_page={PER_PAGE}&exclude_pull_requests=true",
        encode(&format!(">={since}"))
    )));
    let mut runs: Vec<Run> = Vec::new();
    let mut seen = HashSet::new();
    let mut newest = None::<u64>;
    'pages: while let Some(url) = next.take() {
        if !seen.insert(url.clone()) {
            break;
        }
        let (page, resp): (RunList, _) = client.get_json(url, true)?;
        for run in page.workflow_runs {
            if runs.len() >= max {
                break 'pages;
            }
            if let Some(c) = parse_ms(&run.created_at) {
                newest = Some(newest.map_or(c, |n| n.max(c)));
            }
            runs.push(run);
        }
        next = links::next(&resp.headers);
    }
    // Builds to refresh whose run the window did not list (a run lists
    // every attempt, so its builds are read again there).
    let listed: HashSet<u64> = runs.iter().map(|r| r.id).collect();
    let mut again: Vec<(u64, u32)> = req
        .refresh
        .iter()
        .filter_map(|id| parse_build_id(id))
        .filter(|(run, _)| !listed.contains(run))
        .collect();
    again.sort_unstable();
    again.dedup();
    let mut builds = runs_to_builds(&client, &path, runs, true)?;
    builds.extend(refresh(&client, &path, &again, true)?);
    let next_start = newest.map_or(start, |n| n.saturating_sub(OVERLAP_MS).max(start));
    Ok(SyncPage {
        builds,
        next_cursor: Some(format!("{CURSOR_PREFIX}{}", format_epoch_ms(next_start))),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_hold_a_window_start() {
        assert_eq!(
            parse_cursor("created>=2025-06-01T12:00:00Z").unwrap(),
            1_748_779_200_000
        );
        assert!(parse_cursor("2025-06-01T12:00:00Z").is_err());
        assert!(parse_cursor("created>=yesterday").is_err());
    }
}
