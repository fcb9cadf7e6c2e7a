//! Locating and loading the official API descriptions in `shared/specs/`.
//!
//! The descriptions live beside the workspace (`<workspace>/../shared/specs`),
//! not inside it, so they are found relative to this crate's manifest. A
//! missing file is reported with the path tried, because the usual cause is a
//! checkout without `shared/` next to it, which a test should say plainly.

use std::path::PathBuf;

use serde_json::Value;

/// The path of `relative` (e.g. `cloudflare/cloudflare-dns.openapi.json`)
/// inside the shared specs directory.
pub fn spec_path(relative: &str) -> PathBuf {
    PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../../shared/specs"
    ))
    .join(relative)
}

/// Reads and parses a JSON description from the shared specs directory.
pub fn load_json_spec(relative: &str) -> Result<Value, String> {
    let path = spec_path(relative);
    let text = read(&path)?;
    serde_json::from_str(&text).map_err(|e| format!("{}: not valid JSON: {e}", path.display()))
}

/// Reads and parses a YAML description (OpenAPI documents are often
/// published as YAML, e.g. Microsoft Graph's) into the same JSON value
/// [`crate::OpenApi::new`] takes. Anchors and aliases are expanded.
pub fn load_yaml_spec(relative: &str) -> Result<Value, String> {
    let path = spec_path(relative);
    let text = read(&path)?;
    // The default budgets (a million events) are ample for these files.
    serde_saphyr::from_str::<Value>(&text)
        .map_err(|e| format!("{}: not valid YAML: {e}", path.display()))
}

fn read(path: &std::path::Path) -> Result<String, String> {
    std::fs::read_to_string(path).map_err(|e| {
        format!(
            "cannot read the API description {}: {e}. The official descriptions are expected in \
             `shared/specs/` beside the workspace (see shared/specs/README.md); fakes validate \
             every request against them and cannot run without them",
            path.display()
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_spec_names_the_path_and_the_cause() {
        let err = load_json_spec("nope/missing.json").unwrap_err();
        assert!(err.contains("missing.json"), "{err}");
        assert!(err.contains("shared/specs"), "{err}");
    }

    #[test]
    fn loads_the_yaml_graph_description() {
        let doc = load_yaml_spec("microsoft/graph-mail.lite.openapi.yaml").unwrap();
        assert_eq!(doc["openapi"], "3.0.3");
        // `*id001` aliases are expanded.
        assert!(doc
            .pointer("/paths/~1groups~1{id}~1members~1$ref/post/responses/4XX/$ref")
            .is_some());
        let api = crate::OpenApi::new(&doc, "/v1.0").unwrap();
        api.validate("GET", "/v1.0/users", Some("$select=id,mail&$top=999"), b"")
            .unwrap();
        assert!(api
            .validate("GET", "/v1.0/users", Some("$select=id,nonsense"), b"")
            .is_err());
    }
}
