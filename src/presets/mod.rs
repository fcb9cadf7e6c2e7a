//! Mail-service presets: the DNS records Google Workspace, Microsoft 365,
//! Alibaba Mail, Tencent Exmail, Zoho and NetEase need, as data files
//! (`presets/*.yaml`, each citing the vendor pages its values come from)
//! embedded in the binary. A domain's `service:` block picks one; it
//! expands into MX, the SPF include, client CNAMEs and DKIM CNAMEs, so it
//! works with any DNS provider.

use std::collections::BTreeMap;
use std::sync::LazyLock;

use serde::Deserialize;

const FILES: [(&str, &str); 6] = [
    (
        "google-workspace",
        include_str!("../../presets/google-workspace.yaml"),
    ),
    (
        "microsoft-365",
        include_str!("../../presets/microsoft-365.yaml"),
    ),
    (
        "aliyun-qiye",
        include_str!("../../presets/aliyun-qiye.yaml"),
    ),
    (
        "tencent-exmail",
        include_str!("../../presets/tencent-exmail.yaml"),
    ),
    ("zoho", include_str!("../../presets/zoho.yaml")),
    (
        "netease-qiye",
        include_str!("../../presets/netease-qiye.yaml"),
    ),
];

#[derive(Debug, Clone, Deserialize)]
pub struct Preset {
    pub id: String,
    pub title: String,
    pub sources: Vec<String>,
    pub verified: String,
    #[serde(default)]
    pub notes: Option<String>,
    #[serde(default)]
    pub params: Vec<Param>,
    /// In file order; the first is the default.
    pub variants: crate::config::spanned_map::SpannedMap<Variant>,
    pub dkim: Dkim,
    pub verification: Verification,
    #[serde(default)]
    pub unverified: Vec<String>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Param {
    pub name: String,
    pub description: String,
    #[serde(default)]
    pub example: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Variant {
    pub description: String,
    pub mx: Vec<String>,
    #[serde(default)]
    pub spf_include: Option<String>,
    /// Name (relative) → type → value(s), zone-file notation.
    #[serde(default)]
    pub records: BTreeMap<String, BTreeMap<String, OneOrMany>>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum OneOrMany {
    One(String),
    Many(Vec<String>),
}

impl OneOrMany {
    pub fn values(&self) -> Vec<&str> {
        match self {
            OneOrMany::One(s) => vec![s.as_str()],
            OneOrMany::Many(v) => v.iter().map(String::as_str).collect(),
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
pub struct Dkim {
    pub selectors: Vec<String>,
    /// `txt` (the user publishes the key) or `cname` (the service hosts it).
    pub kind: String,
    #[serde(default)]
    pub cname_targets: BTreeMap<String, String>,
    #[serde(default)]
    pub notes: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Verification {
    pub kind: String,
    #[serde(default)]
    pub format: Option<String>,
}

static PRESETS: LazyLock<Vec<Preset>> = LazyLock::new(|| {
    FILES
        .iter()
        .map(|(id, text)| {
            // The files are part of the build and tested; a broken one is a
            // bug in this release, not bad user input.
            let p: Preset = serde_saphyr::from_str(text)
                .unwrap_or_else(|e| panic!("preset {id} is malformed: {e}"));
            assert_eq!(&p.id, id, "preset file name and id differ");
            p
        })
        .collect()
});

pub fn all() -> &'static [Preset] {
    &PRESETS
}

pub fn get(id: &str) -> Option<&'static Preset> {
    PRESETS.iter().find(|p| p.id == id)
}

/// Replaces `{domain}`, `{domain_dashed}` and `{param}` placeholders.
/// Returns the names of placeholders left unfilled.
pub fn fill(
    template: &str,
    domain: &str,
    params: &BTreeMap<String, String>,
) -> Result<String, Vec<String>> {
    let mut out = String::new();
    let mut missing = Vec::new();
    let mut rest = template;
    while let Some(start) = rest.find('{') {
        out.push_str(&rest[..start]);
        let Some(end) = rest[start..].find('}') else {
            out.push_str(&rest[start..]);
            rest = "";
            break;
        };
        let name = &rest[start + 1..start + end];
        match name {
            "domain" => out.push_str(domain),
            "domain_dashed" => out.push_str(&domain.replace('.', "-")),
            other => match params.get(other) {
                Some(v) => out.push_str(v),
                None => missing.push(other.to_string()),
            },
        }
        rest = &rest[start + end + 1..];
    }
    out.push_str(rest);
    if missing.is_empty() {
        Ok(out)
    } else {
        Err(missing)
    }
}

/// The text `mailform presets` prints.
pub fn describe_all() -> String {
    let mut out = String::new();
    for p in all() {
        out.push_str(&format!("{}  —  {}\n", p.id, p.title));
        for (name, _, v) in p.variants.iter() {
            out.push_str(&format!("  variant {name}: {}\n", v.description));
            out.push_str(&format!("    MX: {}\n", v.mx.join(", ")));
            if let Some(i) = &v.spf_include {
                out.push_str(&format!("    SPF: include:{i}\n"));
            }
            for (rname, types) in &v.records {
                for (t, vals) in types {
                    out.push_str(&format!("    {rname} {t}: {}\n", vals.values().join(", ")));
                }
            }
        }
        let dkim = if p.dkim.selectors.is_empty() {
            "selector set in the vendor console".to_string()
        } else {
            format!("{} ({})", p.dkim.selectors.join(", "), p.dkim.kind)
        };
        out.push_str(&format!("  DKIM: {dkim}\n"));
        if !p.params.is_empty() {
            let names: Vec<&str> = p.params.iter().map(|x| x.name.as_str()).collect();
            out.push_str(&format!("  params: {}\n", names.join(", ")));
        }
        out.push_str(&format!(
            "  sources (checked {}): {}\n",
            p.verified,
            if p.sources.is_empty() {
                "none found".to_string()
            } else {
                p.sources.join(" ")
            }
        ));
        if !p.unverified.is_empty() {
            out.push_str(&format!(
                "  {} could not be confirmed on a vendor page; see presets/{}.yaml\n",
                crate::render::count(p.unverified.len(), "value", "values"),
                p.id
            ));
        }
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_preset_parses_and_its_values_are_valid_records() {
        use mailform_contract::{RData, RecordType};
        assert_eq!(all().len(), 6);
        let params: BTreeMap<String, String> = [
            ("tenant", "contoso"),
            ("mx_partition", "a-v1"),
            ("dkim_partition", "r"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        for p in all() {
            assert!(!p.variants.is_empty(), "{}", p.id);
            for (_, _, v) in p.variants.iter() {
                for mx in &v.mx {
                    let mx = fill(mx, "example.com", &params).unwrap();
                    RData::parse(&RecordType::Mx, &mx).unwrap_or_else(|e| panic!("{}: {e}", p.id));
                }
                for types in v.records.values() {
                    for (t, vals) in types {
                        for val in vals.values() {
                            RData::parse(
                                &RecordType::parse(t),
                                &fill(val, "example.com", &params).unwrap(),
                            )
                            .unwrap();
                        }
                    }
                }
            }
            for target in p.dkim.cname_targets.values() {
                RData::parse(
                    &RecordType::Cname,
                    &fill(target, "example.com", &params).unwrap(),
                )
                .unwrap();
            }
        }
    }

    #[test]
    fn fills_placeholders_and_reports_missing_ones() {
        let params = BTreeMap::from([("tenant".to_string(), "contoso".to_string())]);
        assert_eq!(
            fill("{domain_dashed}.{tenant}.x", "a.example.com", &params).unwrap(),
            "a-example-com.contoso.x"
        );
        assert_eq!(
            fill("{nope}.x", "a.com", &params).unwrap_err(),
            vec!["nope".to_string()]
        );
    }
}
