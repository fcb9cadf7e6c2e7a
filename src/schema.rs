//! The JSON Schema of the file format, generated from the model's types.

pub fn schema_json() -> String {
    let schema = schemars::schema_for!(crate::config::model::Config);
    serde_json::to_string_pretty(&schema).unwrap_or_default()
}
