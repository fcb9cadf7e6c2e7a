//! How a record set is written in YAML: one value, a list, or a mapping
//! with `ttl` and `values`; and a value: a string in zone-file notation
//! (`10 mx1.example.com.`) or, for TXT, `{chunks: [...]}`.

use std::borrow::Cow;
use std::fmt;

use schemars::{json_schema, JsonSchema, Schema, SchemaGenerator};
use serde::de::{self, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Deserializer};
use serde_saphyr::Spanned;

/// One (name, type) record set as written.
#[derive(Debug, Clone, Default)]
pub struct RecordSpec {
    pub ttl: Option<Spanned<u32>>,
    pub values: Vec<Spanned<RecordValue>>,
}

/// One record's data as written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RecordValue {
    /// Zone-file notation, or the whole text of a TXT record.
    Text(String),
    /// A TXT record given as its character-strings.
    Chunks(Vec<Spanned<String>>),
}

impl<'de> Deserialize<'de> for RecordValue {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ValueVisitor;
        impl<'de> Visitor<'de> for ValueVisitor {
            type Value = RecordValue;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str(
                    "a record value (a string such as `10 mx1.example.com.`) or `{chunks: [...]}`",
                )
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<RecordValue, E> {
                Ok(RecordValue::Text(v.to_string()))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<RecordValue, E> {
                Ok(RecordValue::Text(v.to_string()))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<RecordValue, E> {
                Ok(RecordValue::Text(v.to_string()))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<RecordValue, A::Error> {
                let mut chunks = None;
                while let Some(k) = map.next_key::<String>()? {
                    if k != "chunks" {
                        return Err(de::Error::unknown_field(&k, &["chunks"]));
                    }
                    chunks = Some(map.next_value::<Vec<Spanned<String>>>()?);
                }
                chunks
                    .map(RecordValue::Chunks)
                    .ok_or_else(|| de::Error::missing_field("chunks"))
            }
        }
        deserializer.deserialize_any(ValueVisitor)
    }
}

impl<'de> Deserialize<'de> for RecordSpec {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        // A scalar is one value; it is read spanned so that its errors have
        // a place in the file.
        let spanned = Spanned::<SpecOrValue>::deserialize(deserializer)?;
        Ok(match spanned.value {
            SpecOrValue::Spec(spec) => spec,
            SpecOrValue::Value(value) => RecordSpec {
                ttl: None,
                values: vec![Spanned {
                    value,
                    referenced: spanned.referenced,
                    defined: spanned.defined,
                }],
            },
        })
    }
}

/// Either a whole spec (list or mapping) or one scalar value.
enum SpecOrValue {
    Spec(RecordSpec),
    Value(RecordValue),
}

impl<'de> Deserialize<'de> for SpecOrValue {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = SpecOrValue;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a record value, a list of values, or `{ttl: ..., values: [...]}`")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<SpecOrValue, E> {
                Ok(SpecOrValue::Value(RecordValue::Text(v.to_string())))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<SpecOrValue, E> {
                Ok(SpecOrValue::Value(RecordValue::Text(v.to_string())))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<SpecOrValue, E> {
                Ok(SpecOrValue::Value(RecordValue::Text(v.to_string())))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<SpecOrValue, A::Error> {
                let mut values = Vec::new();
                while let Some(v) = seq.next_element::<Spanned<RecordValue>>()? {
                    values.push(v);
                }
                Ok(SpecOrValue::Spec(RecordSpec { ttl: None, values }))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<SpecOrValue, A::Error> {
                let mut spec = RecordSpec::default();
                let mut seen_values = false;
                while let Some(k) = map.next_key::<String>()? {
                    match k.as_str() {
                        "ttl" => spec.ttl = Some(map.next_value()?),
                        "values" => {
                            spec.values = map.next_value::<Vec<Spanned<RecordValue>>>()?;
                            seen_values = true;
                        }
                        "value" => {
                            spec.values = vec![map.next_value::<Spanned<RecordValue>>()?];
                            seen_values = true;
                        }
                        "chunks" => {
                            let chunks = map.next_value::<Vec<Spanned<String>>>()?;
                            return Ok(SpecOrValue::Value(RecordValue::Chunks(chunks)));
                        }
                        other => {
                            return Err(de::Error::unknown_field(
                                other,
                                &["ttl", "values", "value", "chunks"],
                            ))
                        }
                    }
                }
                if !seen_values {
                    return Err(de::Error::missing_field("values"));
                }
                Ok(SpecOrValue::Spec(spec))
            }
        }
        deserializer.deserialize_any(V)
    }
}

impl JsonSchema for RecordSpec {
    fn schema_name() -> Cow<'static, str> {
        "RecordSpec".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        let value = json_schema!({
            "description": "One record in zone-file notation without name and type, e.g. `192.0.2.10`, `10 mx1.example.com.`, `v=spf1 include:_spf.google.com -all`, `0 issue \"letsencrypt.org\"`; or a TXT record as `{chunks: [...]}` of at most 255 bytes each.",
            "anyOf": [
                {"type": "string"},
                {"type": "integer"},
                {"type": "object", "properties": {"chunks": {"type": "array", "items": {"type": "string", "maxLength": 255}}}, "required": ["chunks"], "additionalProperties": false}
            ]
        });
        json_schema!({
            "description": "A record set: one value, a list of values, or a mapping with `ttl` and `values`.",
            "anyOf": [
                value.clone(),
                {"type": "array", "items": value.clone()},
                {
                    "type": "object",
                    "properties": {
                        "ttl": {"type": "integer", "minimum": 1, "maximum": 2147483647, "description": "TTL in seconds."},
                        "values": {"type": "array", "items": value.clone()},
                        "value": value
                    },
                    "additionalProperties": false
                }
            ]
        })
    }
}
