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
    let text = std::fs::read_to_string(&path).map_err(|e| {
        format!(
            "cannot read the API description {}: {e}. The official descriptions are expected in \
             `shared/specs/` beside the workspace (see shared/specs/README.md); fakes validate \
             every request against them and cannot run without them",
            path.display()
        )
    })?;
    serde_json::from_str(&text).map_err(|e| format!("{}: not valid JSON: {e}", path.display()))
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
}
