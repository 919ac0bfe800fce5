//! Timestamps that keep their original text.
//!
//! Real CircleCI mixes precisions: pipelines carry milliseconds, workflows and
//! jobs whole seconds, webhooks microseconds (circleci-api.md §11.5). A
//! simulator that re-formatted every time would hide exactly the parsing bugs
//! it exists to find, so a [`Timestamp`] serialises back to the exact string it
//! was read from, and only uses the parsed value for clock comparisons.

use std::fmt;

use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// An RFC 3339 instant plus the exact text it is served as.
#[derive(Clone, PartialEq, Eq)]
pub struct Timestamp {
    text: String,
    instant: DateTime<Utc>,
}

/// Precision used when the simulator has to write a new timestamp.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Precision {
    /// `2023-03-25T17:52:15Z` (workflows, jobs).
    Seconds,
    /// `2023-03-25T18:13:43.446Z` (pipelines).
    Millis,
    /// `2024-12-18T18:51:31.379158Z` (webhook `happened_at`).
    Micros,
}

impl Timestamp {
    /// Parses RFC 3339 text, keeping the text verbatim for serving.
    pub fn parse(text: &str) -> Result<Self, chrono::ParseError> {
        let instant = DateTime::parse_from_rfc3339(text)?.with_timezone(&Utc);
        Ok(Self {
            text: text.to_owned(),
            instant,
        })
    }

    /// Formats `instant` in UTC with the given precision.
    pub fn from_instant(instant: DateTime<Utc>, precision: Precision) -> Self {
        let format = match precision {
            Precision::Seconds => SecondsFormat::Secs,
            Precision::Millis => SecondsFormat::Millis,
            Precision::Micros => SecondsFormat::Micros,
        };
        let text = instant.to_rfc3339_opts(format, true);
        // Re-parse so `instant` is truncated exactly like the text.
        Self::parse(&text).expect("chrono output is valid RFC 3339")
    }

    /// The parsed instant.
    pub fn instant(&self) -> DateTime<Utc> {
        self.instant
    }

    /// The text served to clients.
    pub fn as_str(&self) -> &str {
        &self.text
    }
}

impl fmt::Debug for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", self.text)
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.text)
    }
}

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        Timestamp::parse(&text)
            .map_err(|e| serde::de::Error::custom(format!("bad timestamp {text:?}: {e}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_original_precision() {
        for text in [
            "2023-03-25T17:52:15Z",
            "2023-03-25T18:13:43.446Z",
            "2024-12-18T18:51:31.379158Z",
        ] {
            let ts: Timestamp = serde_json::from_value(serde_json::json!(text)).unwrap();
            assert_eq!(serde_json::to_value(&ts).unwrap(), serde_json::json!(text));
        }
    }

    #[test]
    fn formats_requested_precision() {
        let t = Timestamp::parse("2024-12-18T18:51:31.379158Z")
            .unwrap()
            .instant();
        assert_eq!(
            Timestamp::from_instant(t, Precision::Seconds).as_str(),
            "2024-12-18T18:51:31Z"
        );
        assert_eq!(
            Timestamp::from_instant(t, Precision::Millis).as_str(),
            "2024-12-18T18:51:31.379Z"
        );
    }
}
