//! JSON Merge Patch (RFC 7396): how a partial update of a JSON document is applied.

use serde::de::{self, Deserialize, Deserializer, Visitor};
use serde_json::{Map, Value};

/// The JSON names of the fields a struct's `Deserialize` accepts, read from the list its
/// derived implementation hands to the deserializer. A patch naming anything else is
/// refused before it is applied: a `null` for an unknown member would otherwise vanish
/// in the merge and be accepted silently.
pub fn field_names<'de, T: Deserialize<'de>>() -> &'static [&'static str] {
    let mut fields: &'static [&'static str] = &[];
    let _ = T::deserialize(FieldProbe(&mut fields));
    fields
}

struct FieldProbe<'a>(&'a mut &'static [&'static str]);

impl<'de> Deserializer<'de> for FieldProbe<'_> {
    type Error = de::value::Error;

    fn deserialize_any<V: Visitor<'de>>(self, _: V) -> Result<V::Value, Self::Error> {
        Err(de::Error::custom("not a struct"))
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        fields: &'static [&'static str],
        _: V,
    ) -> Result<V::Value, Self::Error> {
        *self.0 = fields;
        Err(de::Error::custom("only its field names were wanted"))
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes
        byte_buf option unit unit_struct newtype_struct seq tuple tuple_struct map enum
        identifier ignored_any
    }
}

/// Applies `patch` to `target` as RFC 7396 §2 defines: members of an object patch
/// replace the target's, `null` removes one, and nested objects are merged in turn;
/// any other patch replaces the target whole.
pub fn apply(target: &mut Value, patch: Value) {
    let Value::Object(members) = patch else {
        *target = patch;
        return;
    };
    if !target.is_object() {
        *target = Value::Object(Map::new());
    }
    if let Value::Object(map) = target {
        for (name, value) in members {
            if value.is_null() {
                map.remove(&name);
            } else {
                apply(map.entry(name).or_insert(Value::Null), value);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn field_names_are_the_json_names_a_struct_accepts() {
        #[derive(serde::Deserialize)]
        #[allow(dead_code)]
        struct Sample {
            plain: Option<String>,
            #[serde(rename = "camelName")]
            renamed: Option<u8>,
        }
        assert_eq!(field_names::<Sample>(), ["plain", "camelName"]);
        let client = field_names::<crate::protocol::client::ClientRequest>();
        assert!(client.contains(&"client_name") && client.contains(&"metadata"));
        assert!(!client.contains(&"colour"));
    }

    /// Every example of RFC 7396 Appendix A.
    #[test]
    fn rfc_7396_appendix_a_examples() {
        let cases = [
            (json!({"a":"b"}), json!({"a":"c"}), json!({"a":"c"})),
            (json!({"a":"b"}), json!({"b":"c"}), json!({"a":"b","b":"c"})),
            (json!({"a":"b"}), json!({"a":null}), json!({})),
            (
                json!({"a":"b","b":"c"}),
                json!({"a":null}),
                json!({"b":"c"}),
            ),
            (json!({"a":["b"]}), json!({"a":"c"}), json!({"a":"c"})),
            (json!({"a":"c"}), json!({"a":["b"]}), json!({"a":["b"]})),
            (
                json!({"a":{"b":"c"}}),
                json!({"a":{"b":"d","c":null}}),
                json!({"a":{"b":"d"}}),
            ),
            (json!({"a":[{"b":"c"}]}), json!({"a":[1]}), json!({"a":[1]})),
            (json!(["a", "b"]), json!(["c", "d"]), json!(["c", "d"])),
            (json!({"a":"b"}), json!(["c"]), json!(["c"])),
            (json!({"a":"foo"}), json!(null), json!(null)),
            (json!({"a":"foo"}), json!("bar"), json!("bar")),
            (json!({"e":null}), json!({"a":1}), json!({"e":null,"a":1})),
            (json!([1, 2]), json!({"a":"b","c":null}), json!({"a":"b"})),
            (
                json!({}),
                json!({"a":{"bb":{"ccc":null}}}),
                json!({"a":{"bb":{}}}),
            ),
        ];
        for (mut target, patch, expected) in cases {
            let shown = format!("{target} + {patch}");
            apply(&mut target, patch);
            assert_eq!(target, expected, "{shown}");
        }
    }
}
