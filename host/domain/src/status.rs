//! The status vocabulary of builds and jobs, and the snapshot's summary word.
//!
//! The words are the HTTP API's (`snake_case`); the database stores the same
//! words. Plugins report the contract's own status enum, which the host maps
//! onto [`Status`] in one place.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A word that is not part of a vocabulary (a database edited by hand, or
/// text from a newer version).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown {what} {word:?}")]
pub struct UnknownWord {
    /// Which vocabulary (`status`, `summary`, `snapshot state`).
    pub what: &'static str,
    /// The word as given.
    pub word: String,
}

/// Declares [`Status`] with its words in one list, so that a new status is
/// one line here: the enum, [`Status::ALL`], [`Status::as_str`] and parsing
/// follow, and the exhaustive matches elsewhere (finality below, the
/// summary's precedence, the contract mapping) fail to compile until they
/// place it.
macro_rules! vocabulary {
    ($($(#[$doc:meta])* $variant:ident => $word:literal,)+) => {
        /// The state of a build or a job.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
        pub enum Status {
            $($(#[$doc])* #[serde(rename = $word)] $variant,)+
        }

        impl Status {
            /// Every status, in the vocabulary's order.
            pub const ALL: &'static [Status] = &[$(Status::$variant,)+];

            /// The stored / JSON word.
            pub const fn as_str(self) -> &'static str {
                match self {
                    $(Status::$variant => $word,)+
                }
            }
        }
    };
}

vocabulary! {
    /// Waiting to start.
    Queued => "queued",
    /// Started, nothing failed yet.
    Running => "running",
    /// Still running, but a job already failed (the build will fail).
    Failing => "failing",
    /// Waiting on a manual approval.
    OnHold => "on_hold",
    /// Finished, all passed.
    Success => "success",
    /// Finished, something failed.
    Failed => "failed",
    /// Finished: the provider could not run it (infrastructure, config).
    Error => "error",
    /// Finished: stopped by someone or something.
    Canceled => "canceled",
    /// Finished without running (skipped, never reached).
    NotRun => "not_run",
    /// The provider's word has no buildsnap equivalent.
    Unknown => "unknown",
}

impl Status {
    /// Whether a build or job in this status never changes again. `unknown`
    /// is not final: the provider may still say more.
    pub const fn is_final(self) -> bool {
        match self {
            Status::Success
            | Status::Failed
            | Status::Error
            | Status::Canceled
            | Status::NotRun => true,
            Status::Queued
            | Status::Running
            | Status::Failing
            | Status::OnHold
            | Status::Unknown => false,
        }
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Status {
    type Err = UnknownWord;

    fn from_str(s: &str) -> Result<Status, UnknownWord> {
        Status::ALL
            .iter()
            .copied()
            .find(|st| st.as_str() == s)
            .ok_or_else(|| UnknownWord {
                what: "status",
                word: s.to_string(),
            })
    }
}

/// `<snapshot>.summary`: one status word for the whole snapshot, or `none`
/// when it has no builds. Its own type rather than `Option<Status>` so that
/// its JSON form is the plain word (`"none"`, never `null`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Summary {
    /// No builds.
    None,
    /// The status the builds sum up to (see [`crate::summary`]).
    Status(Status),
}

impl Summary {
    /// The stored / JSON word.
    pub const fn as_str(self) -> &'static str {
        match self {
            Summary::None => "none",
            Summary::Status(s) => s.as_str(),
        }
    }
}

impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl From<Status> for Summary {
    fn from(s: Status) -> Summary {
        Summary::Status(s)
    }
}

impl FromStr for Summary {
    type Err = UnknownWord;

    fn from_str(s: &str) -> Result<Summary, UnknownWord> {
        if s == "none" {
            return Ok(Summary::None);
        }
        s.parse().map(Summary::Status).map_err(|_| UnknownWord {
            what: "summary",
            word: s.to_string(),
        })
    }
}

impl Serialize for Summary {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for Summary {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Summary, D::Error> {
        let word = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        word.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_word_round_trips_through_text_and_json() {
        for &s in Status::ALL {
            assert_eq!(s.as_str().parse::<Status>(), Ok(s));
            assert_eq!(serde_json::to_string(&s).unwrap(), format!("\"{s}\""));
            assert_eq!(
                serde_json::from_str::<Status>(&format!("\"{s}\"")).unwrap(),
                s
            );
            let sum = Summary::from(s);
            assert_eq!(sum.as_str().parse::<Summary>(), Ok(sum));
            assert_eq!(serde_json::to_string(&sum).unwrap(), format!("\"{s}\""));
        }
        assert_eq!(serde_json::to_string(&Summary::None).unwrap(), "\"none\"");
        assert_eq!("none".parse::<Summary>(), Ok(Summary::None));
        assert_eq!(
            serde_json::from_str::<Summary>("\"none\"").unwrap(),
            Summary::None
        );
        let err = "done".parse::<Status>().unwrap_err();
        assert_eq!(err.to_string(), "unknown status \"done\"");
        assert!("none".parse::<Status>().is_err());
        assert!("Running".parse::<Summary>().is_err());
        assert!(serde_json::from_str::<Summary>("\"nope\"").is_err());
    }

    #[test]
    fn final_statuses_are_those_that_never_change() {
        let finals: Vec<&str> = Status::ALL
            .iter()
            .filter(|s| s.is_final())
            .map(|s| s.as_str())
            .collect();
        assert_eq!(
            finals,
            ["success", "failed", "error", "canceled", "not_run"]
        );
    }
}
