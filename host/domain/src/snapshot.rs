//! `<snapshot>`: the builds of a deploy's commit as of its `deployed_at`,
//! and the final snapshot a capture ends with.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::{FrozenBuild, Summary, UnknownWord};

/// `<snapshot>.state`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SnapshotState {
    /// Capture queued or running.
    Pending,
    /// Captured; never changes again.
    Complete,
    /// The project had no enabled build server at registration.
    NoBuildServer,
    /// Capture gave up; `explain` says why.
    Error,
}

impl SnapshotState {
    /// Every state.
    pub const ALL: [SnapshotState; 4] = [
        SnapshotState::Pending,
        SnapshotState::Complete,
        SnapshotState::NoBuildServer,
        SnapshotState::Error,
    ];

    /// The stored / JSON word.
    pub const fn as_str(self) -> &'static str {
        match self {
            SnapshotState::Pending => "pending",
            SnapshotState::Complete => "complete",
            SnapshotState::NoBuildServer => "no_build_server",
            SnapshotState::Error => "error",
        }
    }
}

impl fmt::Display for SnapshotState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for SnapshotState {
    type Err = UnknownWord;

    fn from_str(s: &str) -> Result<SnapshotState, UnknownWord> {
        SnapshotState::ALL
            .into_iter()
            .find(|st| st.as_str() == s)
            .ok_or_else(|| UnknownWord {
                what: "snapshot state",
                word: s.to_string(),
            })
    }
}

/// `<snapshot>`: the builds of a deploy's commit as of its `deployed_at`.
///
/// `B` is how `builds` is held. Reads hand the stored JSON on rather than
/// re-typing it: a parsed [`serde_json::Value`] for code that looks inside,
/// or the store's raw text for reads that only pass it on (the HTTP reads
/// of one deploy), which saves a parse and a re-serialisation of what can
/// be tens of KB per request. What is written is typed
/// ([`FinalSnapshot::builds`]).
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Snapshot<B = serde_json::Value> {
    /// Capture state.
    pub state: SnapshotState,
    /// The deploy's `deployed_at`.
    pub as_of: String,
    /// When the capture finished.
    pub captured_at: Option<String>,
    /// Provider id it is captured from.
    pub provider: Option<String>,
    /// Provider project searched.
    pub build_project: Option<String>,
    /// A status word, or `none` when there are no builds.
    pub summary: Summary,
    /// `<build>` objects, newest first.
    pub builds: B,
    /// Why `builds` is empty / what went wrong.
    pub explain: Option<String>,
    /// The commit's builds created after `as_of`, as they are now (from
    /// the index, which sync and webhooks keep current): what ran on the
    /// commit since it was deployed. Never part of `builds` or `summary`.
    pub later_builds: Vec<FrozenBuild>,
}

impl<B> Snapshot<B> {
    /// The same snapshot with `builds` held as `C`.
    pub fn with_builds<C>(self, builds: C) -> Snapshot<C> {
        Snapshot {
            state: self.state,
            as_of: self.as_of,
            captured_at: self.captured_at,
            provider: self.provider,
            build_project: self.build_project,
            summary: self.summary,
            builds,
            explain: self.explain,
            later_builds: self.later_builds,
        }
    }
}

/// The final result of a capture, written once by the store.
#[derive(Debug, Clone, PartialEq)]
pub struct FinalSnapshot {
    /// `Complete` or `Error` (the store refuses anything else).
    pub state: SnapshotState,
    /// Summary word (`none` without builds).
    pub summary: Summary,
    /// The frozen builds, newest first.
    pub builds: Vec<FrozenBuild>,
    /// Explanation (required by the contract when `builds` is empty).
    pub explain: Option<String>,
    /// The provider project actually searched (e.g. derived from `repo_url`).
    pub build_project: Option<String>,
    /// When the capture finished.
    pub captured_at: OffsetDateTime,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn states_round_trip_through_text_and_json() {
        for s in SnapshotState::ALL {
            assert_eq!(s.as_str().parse::<SnapshotState>(), Ok(s));
            assert_eq!(serde_json::to_string(&s).unwrap(), format!("\"{s}\""));
        }
        assert!("done".parse::<SnapshotState>().is_err());
    }
}
