//! A commit search with its SHA resolved first. Providers whose run filter
//! takes only full SHAs (GitHub `head_sha`) resolve a registered prefix
//! through `resolve-sha`; providers that match prefixes themselves answer
//! `unsupported` and get the prefix as registered (all 0.1.0 plugins do).

use crate::runtime::wit::latest::provider::{CommitBuilds, SearchReport};
use crate::runtime::wit::{CommitQuery, ShaResolution, StopReason};
use crate::runtime::{CallError, Integration, Plugin};

/// Full SHAs are 40 (SHA-1) or 64 (SHA-256) hex digits.
fn is_full(sha: &str) -> bool {
    sha.len() == 40 || sha.len() == 64
}

/// What a commit search found.
#[derive(Debug)]
pub enum Searched {
    /// The builds (none when the provider knows no commit for the prefix).
    Found(CommitBuilds),
    /// The prefix names several commits; the candidates the provider listed.
    Ambiguous(Vec<String>),
}

/// Resolves `query.sha` when it is a prefix, then searches. Both calls run
/// in the caller's integration slot: a capture is one unit of work.
pub async fn search(
    plugin: &Plugin,
    integration: &Integration,
    query: &CommitQuery,
) -> Result<Searched, CallError> {
    if is_full(&query.sha) {
        return plugin
            .builds_for_commit(integration, query)
            .await
            .map(Searched::Found);
    }
    match plugin
        .resolve_sha(integration, &query.project, &query.sha)
        .await?
    {
        ShaResolution::Full(full) => {
            let query = CommitQuery {
                sha: full,
                ..query.clone()
            };
            plugin
                .builds_for_commit(integration, &query)
                .await
                .map(Searched::Found)
        }
        ShaResolution::Unsupported => plugin
            .builds_for_commit(integration, query)
            .await
            .map(Searched::Found),
        ShaResolution::NotFound => Ok(Searched::Found(CommitBuilds {
            builds: Vec::new(),
            report: SearchReport {
                pipelines_searched: 0,
                pages_fetched: 0,
                oldest_searched: None,
                stopped_because: StopReason::FilterExhausted,
                without_commit: 0,
            },
        })),
        ShaResolution::Ambiguous(candidates) => Ok(Searched::Ambiguous(candidates)),
    }
}
