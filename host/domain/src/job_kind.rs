//! What kind of job a job is.
//!
//! The plugin contract 0.1.0 carries the kind as free text (`job.kind:
//! string`, the provider's word). Freezing needs to know one thing about
//! it, whether the job is a manual approval, so that is decided once, when
//! the host maps the plugin's record ([`JobKind::from`]), and freeze matches
//! on [`JobKind::Approval`] rather than comparing text. Words other than
//! `build` and `approval` are kept verbatim so that the stored and served
//! JSON (`"type": "..."`) is exactly the provider's word.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A job's kind. Build it with `JobKind::from(word)`: that is what makes
/// `"approval"` an [`JobKind::Approval`] (an `Other("approval")` made by
/// hand would not count as one).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum JobKind {
    /// Runs commands (`build`).
    Build,
    /// Waits for someone to approve (`approval`): freezing treats a pending
    /// approval as holding its build.
    Approval,
    /// Any other word of the provider, kept as given.
    Other(String),
}

impl JobKind {
    /// The stored / JSON word.
    pub fn as_str(&self) -> &str {
        match self {
            JobKind::Build => "build",
            JobKind::Approval => "approval",
            JobKind::Other(word) => word,
        }
    }
}

impl From<String> for JobKind {
    fn from(word: String) -> JobKind {
        match word.as_str() {
            "build" => JobKind::Build,
            "approval" => JobKind::Approval,
            _ => JobKind::Other(word),
        }
    }
}

impl From<&str> for JobKind {
    fn from(word: &str) -> JobKind {
        JobKind::from(word.to_string())
    }
}

impl fmt::Display for JobKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for JobKind {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for JobKind {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<JobKind, D::Error> {
        String::deserialize(d).map(JobKind::from)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_words_map_to_variants_and_others_are_kept_verbatim() {
        assert_eq!(JobKind::from("build"), JobKind::Build);
        assert_eq!(JobKind::from("approval"), JobKind::Approval);
        for word in ["Approval", "manual-trigger", "", "appröval \"x\""] {
            let kind = JobKind::from(word);
            assert_eq!(kind, JobKind::Other(word.to_string()));
            assert_eq!(kind.as_str(), word);
            let json = serde_json::to_string(&kind).unwrap();
            assert_eq!(json, serde_json::to_string(word).unwrap());
            assert_eq!(serde_json::from_str::<JobKind>(&json).unwrap(), kind);
        }
        assert_eq!(
            serde_json::to_string(&JobKind::Approval).unwrap(),
            "\"approval\""
        );
    }
}
