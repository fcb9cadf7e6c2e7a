//! The provider's settings as written in the mailform YAML.
//!
//! The API key is `api_key: ${env:NAME}` or `${file:path}` (checked by the
//! engine at load time) or, when absent, the `PDNS_API_KEY` environment
//! variable — either way it stays out of the repository.

use std::path::PathBuf;
use std::time::Duration;

use mailform_contract::name::normalize_name;
use mailform_contract::settings::{ProviderSettings, SecretSetting};
use schemars::JsonSchema;
use serde::Deserialize;

/// The environment variable read for the API key when `api_key` is not set.
pub const API_KEY_ENV: &str = "PDNS_API_KEY";

/// Settings of the `powerdns` DNS provider: zones on a PowerDNS
/// Authoritative server, through its HTTP API. The server must run with
/// `api=yes`, `webserver=yes` and an `api-key`.
#[derive(Clone, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Base URL of the PowerDNS webserver, without `/api/v1`, for example
    /// `http://127.0.0.1:8081` (the server's `webserver-address` and
    /// `webserver-port`).
    pub endpoint: String,
    /// The server id in API paths (`/api/v1/servers/{server_id}`). Default
    /// `localhost`, the only id an Authoritative server has.
    #[serde(default)]
    pub server_id: Option<String>,
    /// The API key (the server's `api-key`), as `${env:NAME}` or
    /// `${file:path}`. Default: the `PDNS_API_KEY` environment variable.
    #[serde(default)]
    pub api_key: Option<SecretSetting>,
    /// The kind of the zones mailform creates: `Native` (default; replicated
    /// by the database) or `Master` (sent to secondaries by AXFR/NOTIFY).
    #[serde(default)]
    pub zone_kind: ZoneKind,
    /// Name servers given to a zone mailform creates when the YAML declares
    /// no NS records for its apex, for example `[ns1.example.net,
    /// ns2.example.net]`.
    #[serde(default)]
    pub nameservers: Vec<String>,
    /// Timeout of one HTTP request, in seconds. Default 60.
    #[serde(default)]
    pub timeout_seconds: Option<u64>,
    /// Where `${file:...}` references resolve: the YAML file's directory,
    /// set by the engine.
    #[serde(skip)]
    #[schemars(skip)]
    pub base_dir: PathBuf,
}

impl ProviderSettings for Config {
    fn secrets(&self) -> Vec<(&'static str, &SecretSetting)> {
        self.api_key.iter().map(|k| ("api_key", k)).collect()
    }

    /// A PowerDNS server is the user's own: its host must be loopback or
    /// trusted through the environment.
    fn endpoints(&self) -> Vec<(&'static str, &str)> {
        vec![("endpoint", self.endpoint.as_str())]
    }
}

/// The kind of a zone PowerDNS creates.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, JsonSchema)]
pub enum ZoneKind {
    /// Replicated by the database backend; no zone transfers.
    #[default]
    Native,
    /// A primary: secondaries get it by AXFR after a NOTIFY.
    Master,
}

impl ZoneKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ZoneKind::Native => "Native",
            ZoneKind::Master => "Master",
        }
    }
}

// Hand-written so that the API key can never reach a log line or an error
// message through `{:?}` of the engine's config.
impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Config")
            .field("endpoint", &self.endpoint)
            .field("server_id", &self.server_id)
            .field("api_key", &self.api_key)
            .field("zone_kind", &self.zone_kind)
            .field("nameservers", &self.nameservers)
            .field("timeout_seconds", &self.timeout_seconds)
            .finish()
    }
}

impl Config {
    /// A configuration with only the endpoint set.
    pub fn new(endpoint: impl Into<String>) -> Config {
        Config {
            endpoint: endpoint.into(),
            server_id: None,
            api_key: None,
            zone_kind: ZoneKind::default(),
            nameservers: Vec::new(),
            timeout_seconds: None,
            base_dir: PathBuf::new(),
        }
    }

    /// `server_id`, or `localhost`.
    pub fn server(&self) -> &str {
        self.server_id.as_deref().unwrap_or("localhost")
    }

    pub fn timeout(&self) -> Duration {
        Duration::from_secs(self.timeout_seconds.unwrap_or(60).max(1))
    }

    /// The API key from the settings, else from `PDNS_API_KEY`; an error
    /// when the setting's reference cannot be resolved.
    pub fn resolve_api_key(&self) -> Result<Option<String>, String> {
        let key = match &self.api_key {
            Some(setting) => Some(setting.resolve(&self.base_dir)?.expose().to_string()),
            None => std::env::var(API_KEY_ENV).ok(),
        };
        Ok(key.filter(|k| !k.trim().is_empty()))
    }

    /// The configured name servers, normalised (lower-case, no trailing dot).
    pub fn nameserver_names(&self) -> Vec<String> {
        self.nameservers
            .iter()
            .map(|n| normalize_name(n.trim()))
            .filter(|n| !n.is_empty())
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_unknown_keys() {
        let c: Config = serde_json::from_str(r#"{"endpoint": "http://127.0.0.1:8081"}"#).unwrap();
        assert_eq!(c.server(), "localhost");
        assert_eq!(c.zone_kind, ZoneKind::Native);
        assert_eq!(c.timeout(), Duration::from_secs(60));
        let c: Config =
            serde_json::from_str(r#"{"endpoint": "http://x", "zone_kind": "Master", "nameservers": ["NS1.Example.net."]}"#)
                .unwrap();
        assert_eq!(c.zone_kind.as_str(), "Master");
        assert_eq!(c.nameserver_names(), vec!["ns1.example.net".to_string()]);
        let err = serde_json::from_str::<Config>(r#"{"endpoint": "http://x", "apikey": "k"}"#);
        assert!(err.unwrap_err().to_string().contains("unknown field"));
    }

    #[test]
    fn debug_never_shows_the_key() {
        let mut c = Config::new("http://x");
        c.api_key = Some(SecretSetting::new("s3cr3t-key"));
        assert!(!format!("{c:?}").contains("s3cr3t-key"));
        assert_eq!(c.resolve_api_key().unwrap().as_deref(), Some("s3cr3t-key"));
    }

    #[test]
    fn every_field_is_documented_in_the_schema() {
        let schema = serde_json::to_value(schemars::schema_for!(Config)).unwrap();
        for (name, prop) in schema["properties"].as_object().unwrap() {
            assert!(
                prop.get("description").is_some(),
                "{name} has no description"
            );
        }
    }
}
