//! A YAML mapping that keeps its keys' source locations and its order.
//!
//! serde's maps drop where a key was written; validation errors about a
//! mailbox or record name need it, so mappings keyed by user data are read
//! into a list of (spanned key, value).

use std::borrow::Cow;
use std::fmt;
use std::marker::PhantomData;

use schemars::{JsonSchema, Schema, SchemaGenerator};
use serde::de::{MapAccess, Visitor};
use serde::{Deserialize, Deserializer};
use serde_saphyr::Spanned;

use super::diagnostic::Loc;

#[derive(Debug, Clone)]
pub struct SpannedMap<T> {
    pub entries: Vec<(Spanned<String>, T)>,
}

impl<T> Default for SpannedMap<T> {
    fn default() -> Self {
        SpannedMap {
            entries: Vec::new(),
        }
    }
}

impl<T> SpannedMap<T> {
    pub fn iter(&self) -> impl Iterator<Item = (&str, Loc, &T)> {
        self.entries
            .iter()
            .map(|(k, v)| (k.value.as_str(), Loc::of(k), v))
    }

    pub fn get(&self, key: &str) -> Option<&T> {
        self.entries
            .iter()
            .find(|(k, _)| k.value == key)
            .map(|(_, v)| v)
    }

    pub fn keys(&self) -> impl Iterator<Item = &str> {
        self.entries.iter().map(|(k, _)| k.value.as_str())
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Inserts or replaces the entry for `key` (used by profile overlays).
    pub fn upsert(&mut self, key: Spanned<String>, value: T) {
        if let Some(slot) = self.entries.iter_mut().find(|(k, _)| k.value == key.value) {
            slot.1 = value;
        } else {
            self.entries.push((key, value));
        }
    }

    pub fn get_mut(&mut self, key: &str) -> Option<&mut T> {
        self.entries
            .iter_mut()
            .find(|(k, _)| k.value == key)
            .map(|(_, v)| v)
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for SpannedMap<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct MapVisitor<T>(PhantomData<T>);
        impl<'de, T: Deserialize<'de>> Visitor<'de> for MapVisitor<T> {
            type Value = SpannedMap<T>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a mapping")
            }
            fn visit_unit<E>(self) -> Result<Self::Value, E> {
                Ok(SpannedMap::default())
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut entries = Vec::new();
                while let Some(k) = map.next_key::<Spanned<String>>()? {
                    entries.push((k, map.next_value()?));
                }
                Ok(SpannedMap { entries })
            }
        }
        deserializer.deserialize_map(MapVisitor(PhantomData))
    }
}

impl<T: JsonSchema> JsonSchema for SpannedMap<T> {
    fn inline_schema() -> bool {
        true
    }
    fn schema_name() -> Cow<'static, str> {
        format!("Map_of_{}", T::schema_name()).into()
    }
    fn json_schema(generator: &mut SchemaGenerator) -> Schema {
        <std::collections::BTreeMap<String, T>>::json_schema(generator)
    }
}
