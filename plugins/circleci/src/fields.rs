//! Field values read whatever their JSON type, so that a record can be
//! read in one pass and still be judged malformed without failing its page.
//!
//! serde's derived readers stop at the first value of the wrong type, and a
//! stopped JSON parser cannot find the next item. [`Field`] instead takes
//! any value (consuming nested arrays and objects whole) and only records
//! whether it had the expected type; the record's reader then decides.

use std::fmt;
use std::marker::PhantomData;

use serde::de::{self, Deserialize, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};

/// A scalar a field may hold.
pub trait Scalar: Sized {
    /// What the field expects, for messages ("a string").
    const EXPECTED: &'static str;
    /// The value a JSON string holds, if this type takes strings.
    fn from_str(s: &str) -> Option<Self>;
    /// As [`Scalar::from_str`], for an owned string (saves a copy).
    fn from_string(s: String) -> Option<Self> {
        Self::from_str(&s)
    }
    /// The value a JSON non-negative integer holds, if this type takes them.
    fn from_u64(_: u64) -> Option<Self> {
        None
    }
}

impl Scalar for String {
    const EXPECTED: &'static str = "a string";
    fn from_str(s: &str) -> Option<Self> {
        Some(s.to_owned())
    }
    fn from_string(s: String) -> Option<Self> {
        Some(s)
    }
}

impl Scalar for u64 {
    const EXPECTED: &'static str = "a non-negative integer";
    fn from_str(_: &str) -> Option<Self> {
        None
    }
    fn from_u64(n: u64) -> Option<Self> {
        Some(n)
    }
}

/// One field's value.
#[derive(Debug, PartialEq)]
pub enum Field<T> {
    /// A value of the expected type.
    Value(T),
    /// JSON `null`.
    Null,
    /// Another type; names what was found ("an integer").
    Wrong(&'static str),
}

impl<T> Field<T> {
    /// Store this value of field `name` into `slot` as an optional field:
    /// `null` is absent. A wrong type or a second occurrence is the
    /// record's first problem.
    pub fn into_optional(
        self,
        name: &'static str,
        slot: &mut Option<Option<T>>,
        problem: &mut Option<String>,
    ) where
        T: Scalar,
    {
        if slot.is_some() {
            problem.get_or_insert_with(|| format!("duplicate field `{name}`"));
            return;
        }
        *slot = Some(match self {
            Field::Value(v) => Some(v),
            Field::Null => None,
            Field::Wrong(found) => {
                problem.get_or_insert_with(|| {
                    format!(
                        "invalid type: {found}, expected {} for `{name}`",
                        T::EXPECTED
                    )
                });
                None
            }
        });
    }
}

impl<'de, T: Scalar> Deserialize<'de> for Field<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(FieldVisitor(PhantomData))
    }
}

struct FieldVisitor<T>(PhantomData<T>);

impl<T: Scalar> FieldVisitor<T> {
    fn or_wrong(v: Option<T>, found: &'static str) -> Field<T> {
        v.map_or(Field::Wrong(found), Field::Value)
    }
}

impl<'de, T: Scalar> Visitor<'de> for FieldVisitor<T> {
    type Value = Field<T>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(T::EXPECTED)
    }

    fn visit_str<E: de::Error>(self, s: &str) -> Result<Field<T>, E> {
        Ok(Self::or_wrong(T::from_str(s), "a string"))
    }

    fn visit_string<E: de::Error>(self, s: String) -> Result<Field<T>, E> {
        Ok(Self::or_wrong(T::from_string(s), "a string"))
    }

    fn visit_u64<E: de::Error>(self, n: u64) -> Result<Field<T>, E> {
        Ok(Self::or_wrong(T::from_u64(n), "an integer"))
    }

    fn visit_i64<E: de::Error>(self, n: i64) -> Result<Field<T>, E> {
        Ok(Self::or_wrong(
            u64::try_from(n).ok().and_then(T::from_u64),
            "a negative integer",
        ))
    }

    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Field<T>, E> {
        Ok(Field::Wrong("a floating-point number"))
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Field<T>, E> {
        Ok(Field::Wrong("a boolean"))
    }

    fn visit_unit<E: de::Error>(self) -> Result<Field<T>, E> {
        Ok(Field::Null)
    }

    fn visit_none<E: de::Error>(self) -> Result<Field<T>, E> {
        Ok(Field::Null)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Field<T>, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(Field::Wrong("an array"))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Field<T>, A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(Field::Wrong("an object"))
    }
}

/// Read a record (an object) in one pass: `fields` reads the object's
/// entries; anything else is consumed and reported as [`NotAnObject`].
pub fn object<'de, D, R>(d: D, fields: R) -> Result<Result<R::Record, String>, D::Error>
where
    D: Deserializer<'de>,
    R: ObjectReader<'de>,
{
    d.deserialize_any(ObjectVisitor(fields))
}

/// Reads an object's entries into a record, or says why they are not one.
pub trait ObjectReader<'de> {
    /// What a successful read produces.
    type Record;
    /// What the record is ("struct Job"), for messages.
    const NAME: &'static str;
    /// Read the entries of `map`: `Ok(Err(why))` when they are not a
    /// record, `Err` when the JSON itself is broken.
    fn read<A: MapAccess<'de>>(self, map: A) -> Result<Result<Self::Record, String>, A::Error>;
}

struct ObjectVisitor<R>(R);

/// The answer for an item that is not an object (already consumed).
fn not_an_object<T, E>(found: &str, expected: &str) -> Result<Result<T, String>, E> {
    Ok(Err(format!("invalid type: {found}, expected {expected}")))
}

impl<'de, R: ObjectReader<'de>> Visitor<'de> for ObjectVisitor<R> {
    type Value = Result<R::Record, String>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(R::NAME)
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
        self.0.read(map)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        not_an_object("sequence", R::NAME)
    }

    fn visit_str<E: de::Error>(self, s: &str) -> Result<Self::Value, E> {
        not_an_object(&format!("string {s:?}"), R::NAME)
    }

    fn visit_u64<E: de::Error>(self, n: u64) -> Result<Self::Value, E> {
        not_an_object(&format!("integer `{n}`"), R::NAME)
    }

    fn visit_i64<E: de::Error>(self, n: i64) -> Result<Self::Value, E> {
        not_an_object(&format!("integer `{n}`"), R::NAME)
    }

    fn visit_f64<E: de::Error>(self, n: f64) -> Result<Self::Value, E> {
        not_an_object(&format!("floating point `{n}`"), R::NAME)
    }

    fn visit_bool<E: de::Error>(self, b: bool) -> Result<Self::Value, E> {
        not_an_object(&format!("boolean `{b}`"), R::NAME)
    }

    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        not_an_object("null", R::NAME)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field<T: Scalar>(json: &str) -> Field<T> {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn any_value_is_taken_and_judged() {
        assert_eq!(field::<String>(r#""a\"b""#), Field::Value("a\"b".into()));
        assert_eq!(field::<String>("null"), Field::Null);
        assert_eq!(field::<String>("5"), Field::Wrong("an integer"));
        assert_eq!(
            field::<String>(r#"{"a":[1,{"b":2}]}"#),
            Field::Wrong("an object")
        );
        assert_eq!(field::<String>("[1,[2]]"), Field::Wrong("an array"));
        assert_eq!(field::<u64>("7"), Field::Value(7));
        assert_eq!(field::<u64>("-7"), Field::Wrong("a negative integer"));
        assert_eq!(field::<u64>("7.5"), Field::Wrong("a floating-point number"));
        assert_eq!(field::<u64>(r#""7""#), Field::Wrong("a string"));
        assert_eq!(field::<u64>("true"), Field::Wrong("a boolean"));
    }

    #[test]
    fn optional_fields_note_the_first_problem() {
        let mut slot = None;
        let mut problem = None;
        Field::<String>::Null.into_optional("name", &mut slot, &mut problem);
        assert_eq!((slot.clone(), problem.clone()), (Some(None), None));
        Field::Value("x".to_string()).into_optional("name", &mut slot, &mut problem);
        assert_eq!(problem.as_deref(), Some("duplicate field `name`"));
        let mut slot = None;
        let mut problem = None;
        Field::<u64>::Wrong("a string").into_optional("number", &mut slot, &mut problem);
        assert_eq!(
            problem.as_deref(),
            Some("invalid type: a string, expected a non-negative integer for `number`")
        );
    }
}
