//! Request parameters checked against Alibaba Cloud's API metadata for
//! Alidns (`shared/specs/aliyun/alidns/<Action>.json`: each parameter's
//! name, type and required flag), plus the common parameters of every RPC
//! request and the documented `PageSize` range 1–500.
//!
//! A request the real service would refuse is answered with an error and
//! recorded as a violation, so a test cannot pass with one.

use std::collections::{BTreeMap, HashMap};

use serde_json::Value;

/// Parameters every signed RPC request may carry besides the action's own.
pub const COMMON: [&str; 11] = [
    "AccessKeyId",
    "Action",
    "Format",
    "Signature",
    "SignatureMethod",
    "SignatureNonce",
    "SignatureVersion",
    "Timestamp",
    "Version",
    "RegionId",
    "SecurityToken",
];

/// The actions served.
pub const ACTIONS: [&str; 4] = [
    "DescribeDomainRecords",
    "AddDomainRecord",
    "UpdateDomainRecord",
    "DeleteDomainRecord",
];

#[derive(Debug, Clone)]
struct Param {
    ty: String,
    required: bool,
}

/// The loaded metadata.
#[derive(Debug, Clone)]
pub struct Spec {
    actions: HashMap<String, BTreeMap<String, Param>>,
}

/// Why a request's parameters are not acceptable: (error code, message).
pub type Refusal = (String, String);

impl Spec {
    pub fn load() -> Result<Spec, String> {
        let mut actions = HashMap::new();
        for a in ACTIONS {
            let doc: Value = mailform_testkit::load_json_spec(&format!("aliyun/alidns/{a}.json"))?;
            let mut params = BTreeMap::new();
            for p in doc["parameters"]
                .as_array()
                .ok_or_else(|| format!("{a}.json: no parameters"))?
            {
                let name = p["name"]
                    .as_str()
                    .ok_or_else(|| format!("{a}.json: parameter without a name"))?;
                params.insert(
                    name.to_string(),
                    Param {
                        ty: p["type"].as_str().unwrap_or("String").to_string(),
                        required: p["required"].as_bool().unwrap_or(false),
                    },
                );
            }
            actions.insert(a.to_string(), params);
        }
        Ok(Spec { actions })
    }

    /// Checks the action's own parameters.
    pub fn check(&self, action: &str, params: &BTreeMap<String, String>) -> Result<(), Refusal> {
        let Some(spec) = self.actions.get(action) else {
            return Err((
                "InvalidAction.NotFound".into(),
                format!("Specified api {action} is not found."),
            ));
        };
        for (name, p) in spec {
            if p.required && params.get(name).is_none_or(|v| v.is_empty()) {
                return Err((
                    format!("Missing{name}"),
                    format!("{name} is mandatory for this action."),
                ));
            }
        }
        for (name, value) in params {
            if COMMON.contains(&name.as_str()) {
                continue;
            }
            let Some(p) = spec.get(name) else {
                return Err((
                    "InvalidParameter".into(),
                    format!("The parameter {name} is not defined for {action}."),
                ));
            };
            if (p.ty == "Long" || p.ty == "Integer") && value.parse::<i64>().is_err() {
                return Err((
                    format!("InvalidParameter.{name}"),
                    format!("{name} must be an integer, got {value:?}."),
                ));
            }
        }
        if let Some(size) = params.get("PageSize") {
            let n: i64 = size.parse().unwrap_or(0);
            if !(1..=500).contains(&n) {
                return Err((
                    "InvalidPageSize".into(),
                    format!("PageSize must be from 1 to 500, got {n}."),
                ));
            }
        }
        if let Some(page) = params.get("PageNumber") {
            if page.parse::<i64>().unwrap_or(0) < 1 {
                return Err(("InvalidPageNumber".into(), "PageNumber starts at 1.".into()));
            }
        }
        Ok(())
    }
}
