//! The JSON Schema side of the OpenAPI documents: generators configured for OpenAPI 3.1
//! (JSON Schema 2020-12, definitions under `#/components/schemas`), the schema functions
//! ([`super::SchemaFn`]) the route tables name, and the merge of the definitions of the
//! reading and the writing generators.
//!
//! A type serde reads and writes differently (a `#[serde(default)]` field, one skipped when
//! empty) gets two definitions; the written one is renamed `<Name>.response` and the
//! answers' `$ref`s follow it. Identical definitions are kept once.

use schemars::generate::{Contract, SchemaSettings};
use schemars::{JsonSchema, Schema, SchemaGenerator};
use serde_json::{Map, Value};
use std::collections::BTreeMap;

/// Where the definitions live in the document.
pub const DEFINITIONS: &str = "/components/schemas";

/// A generator for OpenAPI 3.1: JSON Schema 2020-12, definitions under
/// [`DEFINITIONS`], no `$schema` (the document's `jsonSchemaDialect` says it), describing
/// how serde reads ([`Contract::Deserialize`]) or writes ([`Contract::Serialize`]).
pub fn generator(contract: Contract) -> SchemaGenerator {
    let mut s = SchemaSettings::draft2020_12();
    s.definitions_path = DEFINITIONS.into();
    s.meta_schema = None;
    s.contract = contract;
    s.into_generator()
}

/// The schema of `T`: a `$ref` to its definition (added to the generator), or the schema
/// itself for a primitive.
pub fn of<T: JsonSchema>(generator: &mut SchemaGenerator) -> Schema {
    generator.subschema_for::<T>()
}

/// The schema of `T` itself, never a `$ref` (its fields' types may still be references).
pub fn inline<T: JsonSchema>(generator: &mut SchemaGenerator) -> Schema {
    T::json_schema(generator)
}

/// `/healthz`: `{"status": "ok"}`; the verifier adds `insecure_dev_keys`.
pub fn health(_: &mut SchemaGenerator) -> Schema {
    schemars::json_schema!({
        "type": "object",
        "required": ["status"],
        "properties": {
            "status": {"const": "ok"},
            "insecure_dev_keys": {
                "type": "boolean",
                "description": "Verifier only: true when it runs with the forgeable development keys."
            }
        }
    })
}

/// `/openapi.json`: an OpenAPI 3.1 document (this one).
pub fn openapi_document(_: &mut SchemaGenerator) -> Schema {
    schemars::json_schema!({
        "type": "object",
        "description": "An OpenAPI 3.1 document.",
        "required": ["openapi", "info", "paths"],
        "properties": {
            "openapi": {"type": "string"},
            "info": {"type": "object"},
            "paths": {"type": "object"},
            "components": {"type": "object"}
        }
    })
}

/// Moves the definitions `from` into `into`. A name already in `into` with another schema
/// is renamed (`<name>.response`, or `<name>.response2` …), and the `$ref`s inside `from`
/// follow; returns the renames, for the `$ref`s outside (see [`rename_refs`]).
pub fn merge(into: &mut Map<String, Value>, from: Map<String, Value>) -> BTreeMap<String, String> {
    let mut renames = BTreeMap::new();
    let taken = |n: &str, into: &Map<String, Value>| into.contains_key(n) || from.contains_key(n);
    for (name, schema) in &from {
        if into.get(name).is_some_and(|s| s != schema) {
            let base = format!("{name}.response");
            let mut new = base.clone();
            for i in 2.. {
                let renamed = renames.values().any(|v| v == &new);
                if !taken(&new, into) && !renamed {
                    break;
                }
                new = format!("{base}{i}");
            }
            renames.insert(name.clone(), new);
        }
    }
    for (name, mut schema) in from {
        rename_refs(&mut schema, &renames);
        let name = renames.get(&name).cloned().unwrap_or(name);
        into.entry(name).or_insert(schema);
    }
    renames
}

/// Points every `$ref` to a renamed definition at its new name.
pub fn rename_refs(v: &mut Value, renames: &BTreeMap<String, String>) {
    if renames.is_empty() {
        return;
    }
    match v {
        Value::Object(o) => {
            if let Some(Value::String(r)) = o.get_mut("$ref") {
                let name = r
                    .strip_prefix('#')
                    .and_then(|p| p.strip_prefix(DEFINITIONS))
                    .and_then(|p| p.strip_prefix('/'));
                if let Some(new) = name.and_then(|n| renames.get(n)) {
                    *r = format!("#{DEFINITIONS}/{new}");
                }
            }
            o.values_mut().for_each(|x| rename_refs(x, renames));
        }
        Value::Array(a) => a.iter_mut().for_each(|x| rename_refs(x, renames)),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_conflicting_written_definition_is_renamed_and_its_refs_follow() {
        let mut into = json!({
            "A": {"type": "object", "required": []},
            "Same": {"type": "string"},
        });
        let from = json!({
            "A": {"type": "object", "required": ["x"]},
            "Same": {"type": "string"},
            "B": {"properties": {"a": {"$ref": "#/components/schemas/A"}}},
        });
        let into_map = into.as_object_mut().unwrap();
        let renames = merge(into_map, from.as_object().unwrap().clone());
        assert_eq!(renames.get("A").map(String::as_str), Some("A.response"));
        assert_eq!(into_map.len(), 4);
        assert_eq!(into_map["A"]["required"], json!([]));
        assert_eq!(into_map["A.response"]["required"], json!(["x"]));
        assert_eq!(
            into_map["B"]["properties"]["a"]["$ref"],
            "#/components/schemas/A.response"
        );
        let mut answer = json!({"schema": {"$ref": "#/components/schemas/A"}});
        rename_refs(&mut answer, &renames);
        assert_eq!(answer["schema"]["$ref"], "#/components/schemas/A.response");
    }
}
