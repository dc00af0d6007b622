//! JSON parsed strictly for signature checks: an object with the same key twice is
//! refused, at any depth. A plain parser keeps the last value of a repeated key and
//! so verifies what was signed, while the line passed on still holds the first
//! value, which another parser may read instead. Every input that may carry a
//! signature (stdin lines, DNS TXT, DHT items, tracker records, rendezvous
//! messages) goes through [`from_slice`].

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Number, Value};
use std::fmt;

/// Parses `bytes` as one JSON value, refusing objects with duplicate keys.
pub fn from_slice(bytes: &[u8]) -> Result<Value, serde_json::Error> {
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let Strict(value) = Strict::deserialize(&mut de)?;
    de.end()?;
    Ok(value)
}

/// A JSON value whose objects have unique keys.
struct Strict(Value);

impl<'de> Deserialize<'de> for Strict {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(StrictVisitor).map(Strict)
    }
}

struct StrictVisitor;

impl<'de> Visitor<'de> for StrictVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }

    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::Number(v.into()))
    }

    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::Number(v.into()))
    }

    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        Ok(Number::from_f64(v).map_or(Value::Null, Value::Number))
    }

    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_owned()))
    }

    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }

    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::new();
        while let Some(Strict(item)) = seq.next_element()? {
            items.push(item);
        }
        Ok(Value::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut object = Map::new();
        while let Some(key) = map.next_key::<String>()? {
            if object.contains_key(&key) {
                let shown: String = key
                    .chars()
                    .take(64)
                    .flat_map(char::escape_default)
                    .collect();
                return Err(de::Error::custom(format!("duplicate key \"{shown}\"")));
            }
            let Strict(value) = map.next_value()?;
            object.insert(key, value);
        }
        Ok(Value::Object(object))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn duplicate_keys_are_refused_at_any_depth() {
        let e = from_slice(br#"{"text":"evil","text":"good","sig":"00"}"#).unwrap_err();
        assert!(e.to_string().contains("duplicate key \"text\""), "{e}");
        assert!(from_slice(br#"{"a":[{"b":1,"b":2}]}"#).is_err());
        assert!(from_slice(br#"{"a":1} x"#).is_err(), "trailing bytes");
        assert!(from_slice(br#"{"a":"#).unwrap_err().is_eof());
    }

    #[test]
    fn everything_else_parses_as_serde_json_does() {
        for text in [
            r#"{"z":1,"a":[true,null,-3,1.5e300,"\u00e9"],"m":{"x":{}},"u":18446744073709551615}"#,
            "[]",
            "\"s\"",
            "0.1",
        ] {
            let ours = from_slice(text.as_bytes()).unwrap();
            let theirs: Value = serde_json::from_str(text).unwrap();
            assert_eq!(ours, theirs, "{text}");
            assert_eq!(ours.to_string(), theirs.to_string(), "order kept");
        }
    }
}
