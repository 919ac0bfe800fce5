//! List items read one at a time, so that one malformed item is skipped
//! (with a log line) instead of failing its whole page.
//!
//! Each item is read while its page is parsed: the page parser hands over
//! the item's raw text, borrowed from the body (no copy), and the record is
//! parsed from that text at once. A body is checked to be UTF-8 once, as a
//! whole, and then parsed as `&str`, so serde_json does not check each
//! string again. Inside wasm that checking, per-item copies and `Value`
//! trees were most of the mapping time (docs/performance.md, "CircleCI
//! mapping").

use std::fmt;

use serde::Deserialize;
use serde::de::{DeserializeOwned, Deserializer};
use serde_json::value::RawValue;

use crate::logging::warn;

/// One item of a list: the record, or why it could not be read.
#[derive(Debug, PartialEq)]
pub enum Item<T> {
    /// An item that parsed.
    Read(T),
    /// An item that did not parse, with the reason.
    Malformed(String),
}

/// A record read from list items.
pub trait ListRecord: Sized {
    /// Read one item. A syntax error is the page's (the parser cannot find
    /// the next item); a record that does not fit is only this item's.
    fn read_item<'de, D: Deserializer<'de>>(d: D) -> Result<Item<Self>, D::Error>;
}

/// [`ListRecord::read_item`] for a record with a derived reader, in two
/// passes: find the item's end, borrowing its text (with a `&str` input, a
/// slice of the body), then parse that text. Records read by the thousand
/// (jobs) read it in one instead (see [`crate::fields`]).
pub fn read_in_two_passes<'de, T, D>(d: D) -> Result<Item<T>, D::Error>
where
    T: DeserializeOwned,
    D: Deserializer<'de>,
{
    let raw = <&RawValue>::deserialize(d)?;
    Ok(match serde_json::from_str(raw.get()) {
        Ok(record) => Item::Read(record),
        Err(e) => Item::Malformed(e.to_string()),
    })
}

impl<'de, T: ListRecord> Deserialize<'de> for Item<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        T::read_item(d)
    }
}

/// One page of a v2 list: `{items, next_page_token}`.
#[derive(Debug, Deserialize)]
#[serde(bound = "T: ListRecord")]
pub struct Page<T> {
    /// The page's items.
    pub items: Vec<Item<T>>,
    /// Token of the next page; `None` on the last one.
    #[serde(default)]
    pub next_page_token: Option<String>,
}

/// A whole body that is a bare JSON array (v1.1 lists).
#[derive(Debug, Deserialize)]
#[serde(bound = "T: ListRecord", transparent)]
pub struct Items<T>(pub Vec<Item<T>>);

/// The records of `items`; each malformed one is skipped with a log line
/// naming `what` and `source`.
pub fn keep_read<T>(items: Vec<Item<T>>, what: &str, source: &str) -> Vec<T> {
    items
        .into_iter()
        .filter_map(|item| match item {
            Item::Read(record) => Some(record),
            Item::Malformed(e) => {
                warn(&format!("skipped a malformed {what} from {source}: {e}"));
                None
            }
        })
        .collect()
}

/// Parse a whole body as `T`: one UTF-8 check for the body, then serde_json
/// on `&str`. `T` may borrow from `body`.
pub fn from_body<'a, T: Deserialize<'a>>(body: &'a [u8]) -> Result<T, BodyError> {
    let text = std::str::from_utf8(body).map_err(|e| BodyError::NotUtf8(e.valid_up_to()))?;
    serde_json::from_str(text).map_err(BodyError::Json)
}

/// Why a body could not be read.
#[derive(Debug)]
pub enum BodyError {
    /// Not UTF-8 from this byte offset on.
    NotUtf8(usize),
    /// Not JSON of the expected shape.
    Json(serde_json::Error),
}

impl fmt::Display for BodyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BodyError::NotUtf8(at) => write!(f, "the body is not UTF-8 text (byte {at})"),
            BodyError::Json(e) => e.fmt(f),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, PartialEq, Deserialize)]
    struct Rec {
        id: String,
        #[serde(default)]
        n: Option<u64>,
    }

    impl ListRecord for Rec {
        fn read_item<'de, D: Deserializer<'de>>(d: D) -> Result<Item<Self>, D::Error> {
            read_in_two_passes(d)
        }
    }

    #[test]
    fn a_malformed_item_is_only_that_item() {
        let body = br#"{"items":[{"id":"a","n":1},{"n":2},"text",{"id":"caf\u00e9 \"q\""},{"id":"b","n":-1}],"next_page_token":"t"}"#;
        let page: Page<Rec> = from_body(body).unwrap();
        assert_eq!(page.next_page_token.as_deref(), Some("t"));
        assert_eq!(page.items.len(), 5);
        assert_eq!(
            page.items[0],
            Item::Read(Rec {
                id: "a".into(),
                n: Some(1)
            })
        );
        assert!(matches!(&page.items[1], Item::Malformed(e) if e.contains("missing field `id`")));
        assert!(matches!(&page.items[2], Item::Malformed(_)));
        assert_eq!(
            page.items[3],
            Item::Read(Rec {
                id: "café \"q\"".into(),
                n: None
            })
        );
        assert!(matches!(&page.items[4], Item::Malformed(_)));
        let kept = keep_read(page.items, "rec", "test");
        assert_eq!(kept.len(), 2);
    }

    #[test]
    fn a_broken_page_or_body_fails_whole() {
        assert!(matches!(
            from_body::<Page<Rec>>(br#"{"items":[{"id":"a"},"#),
            Err(BodyError::Json(_))
        ));
        assert!(matches!(
            from_body::<Page<Rec>>(b"{\"items\":[{\"id\":\"\xff\"}]}"),
            Err(BodyError::NotUtf8(17))
        ));
        let bare: Items<Rec> = from_body(br#"[{"id":"a"},7]"#).unwrap();
        assert_eq!(bare.0.len(), 2);
    }
}
