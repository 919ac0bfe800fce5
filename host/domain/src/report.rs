//! What a commit search looked at, and why it stopped: stored beside the
//! search in the index and used to explain an empty snapshot.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Why a commit search stopped. Contract 0.1.0 carries this as text and
/// 0.2.0 as an enum; the index stores the word. The words buildsnap knows
/// get a variant; any other (from an old row) is kept as given.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum StopReason {
    /// The search looked at as many pipelines as it was allowed to.
    Horizon,
    /// It reached the project's oldest pipeline.
    EndOfHistory,
    /// Older pipelines are outside the search window.
    NotBefore,
    /// No older pipeline of the commit followed its matches.
    PastMatches,
    /// The provider repeated a page.
    PageLoop,
    /// The provider filtered by the commit and every result was read.
    FilterExhausted,
    /// The provider filtered by the commit but stops listing after a cap:
    /// older builds may exist.
    FilterCap,
    /// A word this version does not know, kept as given.
    Other(String),
}

impl StopReason {
    /// The stored word (the contract's spelling).
    pub fn as_str(&self) -> &str {
        match self {
            StopReason::Horizon => "horizon",
            StopReason::EndOfHistory => "end-of-history",
            StopReason::NotBefore => "not-before",
            StopReason::PastMatches => "past-matches",
            StopReason::PageLoop => "page-loop",
            StopReason::FilterExhausted => "filter-exhausted",
            StopReason::FilterCap => "filter-cap",
            StopReason::Other(word) => word,
        }
    }
}

impl From<String> for StopReason {
    fn from(word: String) -> StopReason {
        match word.as_str() {
            "horizon" => StopReason::Horizon,
            "end-of-history" => StopReason::EndOfHistory,
            "not-before" => StopReason::NotBefore,
            "past-matches" => StopReason::PastMatches,
            "page-loop" => StopReason::PageLoop,
            "filter-exhausted" => StopReason::FilterExhausted,
            "filter-cap" => StopReason::FilterCap,
            _ => StopReason::Other(word),
        }
    }
}

impl From<&str> for StopReason {
    fn from(word: &str) -> StopReason {
        StopReason::from(word.to_string())
    }
}

impl fmt::Display for StopReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for StopReason {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for StopReason {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<StopReason, D::Error> {
        String::deserialize(d).map(StopReason::from)
    }
}

/// The search report of one commit search. Its JSON form is what the index
/// stores; fields are declared in alphabetical order to keep that text as
/// it was written before this type existed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SearchReport {
    /// Creation time of the oldest pipeline looked at.
    pub oldest_searched: Option<String>,
    /// Pages of the pipeline list fetched.
    pub pages_fetched: u32,
    /// Pipelines looked at.
    pub pipelines_searched: u32,
    /// Why the search stopped.
    pub stopped_because: StopReason,
    /// Pipelines whose commit could not be read (no commit data); absent in
    /// reports stored before it was counted.
    #[serde(default)]
    pub without_commit: u32,
}

impl SearchReport {
    /// The stored JSON text.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("a search report serialises")
    }

    /// A stored JSON text back; `None` when it is not a report (then the
    /// capture explains an empty snapshot without it).
    pub fn from_json(text: &str) -> Option<SearchReport> {
        serde_json::from_str(text).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_words_get_variants_and_others_are_kept() {
        for word in [
            "horizon",
            "end-of-history",
            "not-before",
            "past-matches",
            "page-loop",
        ] {
            let r = StopReason::from(word);
            assert!(!matches!(r, StopReason::Other(_)), "{word}");
            assert_eq!(r.as_str(), word);
        }
        assert_eq!(StopReason::from("quota"), StopReason::Other("quota".into()));
    }

    #[test]
    fn the_stored_text_round_trips_and_old_reports_still_read() {
        let r = SearchReport {
            oldest_searched: Some("2025-06-01T10:00:00Z".into()),
            pages_fetched: 2,
            pipelines_searched: 40,
            stopped_because: StopReason::NotBefore,
            without_commit: 1,
        };
        let text = r.to_json();
        assert_eq!(
            text,
            r#"{"oldest_searched":"2025-06-01T10:00:00Z","pages_fetched":2,"pipelines_searched":40,"stopped_because":"not-before","without_commit":1}"#
        );
        assert_eq!(SearchReport::from_json(&text), Some(r));
        let old = SearchReport::from_json(
            r#"{"pages_fetched":1,"pipelines_searched":3,"stopped_because":"horizon"}"#,
        )
        .unwrap();
        assert_eq!((old.oldest_searched, old.without_commit), (None, 0));
        assert_eq!(SearchReport::from_json("[]"), None);
        assert_eq!(SearchReport::from_json(r#"{"pages_fetched":1}"#), None);
    }
}
