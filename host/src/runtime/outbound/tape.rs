//! Recorded HTTP for `buildsnap plugin call`: a [`Tape`] either records
//! every exchange a plugin's calls make (what went on the wire, the auth
//! header never written down and the token scrubbed from everything else)
//! or answers from such a recording with no network at all, and keeps the
//! requests it had no answer for so the caller can name them.
//!
//! Replay matches a request by method, URL and body. Identical requests get
//! the recorded answers in their order, then the last one again (a plugin
//! that polls the same URL more often than when recorded still gets an
//! answer).

use std::collections::HashMap;
use std::sync::Mutex;

use base64::Engine as _;
use serde::{Deserialize, Serialize};

/// The file format's version, written into every recording.
pub const FORMAT: u32 = 1;

/// A body as written down: text when it is UTF-8, base64 otherwise.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Body {
    /// A UTF-8 body, as is.
    Text(String),
    /// Any other body.
    Bytes {
        /// The bytes, standard base64.
        base64: String,
    },
}

impl Body {
    /// The body of `bytes`.
    pub fn of(bytes: &[u8]) -> Body {
        match std::str::from_utf8(bytes) {
            Ok(text) => Body::Text(text.to_string()),
            Err(_) => Body::Bytes {
                base64: base64::engine::general_purpose::STANDARD.encode(bytes),
            },
        }
    }

    /// The bytes again (empty for base64 that does not decode).
    pub fn bytes(&self) -> Vec<u8> {
        match self {
            Body::Text(text) => text.as_bytes().to_vec(),
            Body::Bytes { base64 } => base64::engine::general_purpose::STANDARD
                .decode(base64)
                .unwrap_or_default(),
        }
    }
}

/// One request and the answer it got.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Exchange {
    /// The HTTP method.
    pub method: String,
    /// The URL requested (after redirects were resolved, each hop is its
    /// own exchange).
    pub url: String,
    /// The plugin's request headers (the host's auth header is not among
    /// them).
    #[serde(default)]
    pub request_headers: Vec<(String, String)>,
    /// The request body, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_body: Option<Body>,
    /// The answer's status.
    pub status: u16,
    /// The answer's headers, names lower-case.
    #[serde(default)]
    pub headers: Vec<(String, String)>,
    /// The answer's body.
    pub body: Body,
}

/// A recording file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Recording {
    /// [`FORMAT`].
    pub format: u32,
    /// The exchanges in the order they happened.
    pub exchanges: Vec<Exchange>,
}

impl Recording {
    /// Reads a recording, refusing other formats.
    pub fn read(path: &std::path::Path) -> anyhow::Result<Recording> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| anyhow::anyhow!("cannot read recording {}: {e}", path.display()))?;
        let rec: Recording = serde_json::from_str(&text)
            .map_err(|e| anyhow::anyhow!("recording {} is not one: {e}", path.display()))?;
        anyhow::ensure!(
            rec.format == FORMAT,
            "recording {} has format {}; this buildsnap reads format {FORMAT}",
            path.display(),
            rec.format
        );
        Ok(rec)
    }
}

type Key = (String, String, Vec<u8>);

/// Records or replays.
pub enum Tape {
    /// Every exchange is written down.
    Record(Mutex<Vec<Exchange>>),
    /// Answers come from a recording.
    Replay {
        /// Per request: its recorded answers and how many were used.
        answers: Mutex<HashMap<Key, (Vec<Exchange>, usize)>>,
        /// `METHOD URL` of each request that had no answer.
        missing: Mutex<Vec<String>>,
    },
}

impl Tape {
    /// A tape that records.
    pub fn record() -> Tape {
        Tape::Record(Mutex::default())
    }

    /// A tape that answers from `recording`.
    pub fn replay(recording: Recording) -> Tape {
        let mut answers: HashMap<Key, (Vec<Exchange>, usize)> = HashMap::new();
        for e in recording.exchanges {
            let key = key(&e.method, &e.url, e.request_body.as_ref().map(Body::bytes));
            answers.entry(key).or_default().0.push(e);
        }
        Tape::Replay {
            answers: Mutex::new(answers),
            missing: Mutex::default(),
        }
    }

    /// The recorded answer for a request (replay only): `Err` with the
    /// request's `METHOD URL` when the recording has none.
    pub(super) fn answer(
        &self,
        method: &str,
        url: &str,
        body: Option<&[u8]>,
    ) -> Option<Result<Exchange, String>> {
        let Tape::Replay { answers, missing } = self else {
            return None;
        };
        let mut answers = answers.lock().unwrap();
        match answers.get_mut(&key(method, url, body.map(<[u8]>::to_vec))) {
            Some((list, used)) => {
                let e = list[(*used).min(list.len() - 1)].clone();
                *used += 1;
                Some(Ok(e))
            }
            None => {
                let what = format!("{method} {url}");
                missing.lock().unwrap().push(what.clone());
                Some(Err(what))
            }
        }
    }

    /// Writes an exchange down (record only).
    pub(super) fn keep(&self, exchange: Exchange) {
        if let Tape::Record(list) = self {
            list.lock().unwrap().push(exchange);
        }
    }

    /// What was recorded so far (empty when replaying).
    pub fn recording(&self) -> Recording {
        let exchanges = match self {
            Tape::Record(list) => list.lock().unwrap().clone(),
            Tape::Replay { .. } => Vec::new(),
        };
        Recording {
            format: FORMAT,
            exchanges,
        }
    }

    /// The requests a replay had no answer for, in order.
    pub fn missing(&self) -> Vec<String> {
        match self {
            Tape::Replay { missing, .. } => missing.lock().unwrap().clone(),
            Tape::Record(_) => Vec::new(),
        }
    }
}

fn key(method: &str, url: &str, body: Option<Vec<u8>>) -> Key {
    (
        method.to_ascii_uppercase(),
        url.to_string(),
        body.unwrap_or_default(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn exchange(url: &str, body: &str) -> Exchange {
        Exchange {
            method: "GET".into(),
            url: url.into(),
            request_headers: vec![],
            request_body: None,
            status: 200,
            headers: vec![],
            body: Body::Text(body.into()),
        }
    }

    #[test]
    fn replay_answers_in_order_then_repeats_the_last_and_names_what_it_lacks() {
        let tape = Tape::replay(Recording {
            format: FORMAT,
            exchanges: vec![exchange("https://x/a", "1"), exchange("https://x/a", "2")],
        });
        let body = |r: Option<Result<Exchange, String>>| r.unwrap().unwrap().body;
        assert_eq!(
            body(tape.answer("GET", "https://x/a", None)),
            Body::Text("1".into())
        );
        assert_eq!(
            body(tape.answer("get", "https://x/a", None)),
            Body::Text("2".into())
        );
        assert_eq!(
            body(tape.answer("GET", "https://x/a", None)),
            Body::Text("2".into())
        );
        assert_eq!(
            tape.answer("POST", "https://x/a", None).unwrap(),
            Err("POST https://x/a".into())
        );
        assert_eq!(tape.missing(), ["POST https://x/a"]);
    }

    #[test]
    fn bodies_round_trip_as_text_or_base64() {
        assert_eq!(Body::of(b"{}"), Body::Text("{}".into()));
        let odd = [0xff, 0x00, 0x10];
        assert!(matches!(Body::of(&odd), Body::Bytes { .. }));
        assert_eq!(Body::of(&odd).bytes(), odd);
        let json = serde_json::to_string(&Body::of(&odd)).unwrap();
        assert_eq!(serde_json::from_str::<Body>(&json).unwrap().bytes(), odd);
    }
}
