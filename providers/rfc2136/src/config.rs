//! The provider's settings as written in the mailform YAML.
//!
//! The TSIG secret is `secret: ${env:NAME}` or `${file:path}` (checked by the
//! engine at load time) or, when absent, the `MAILFORM_TSIG_SECRET`
//! environment variable — either way it stays out of the repository.

use std::path::PathBuf;
use std::time::Duration;

use mailform_contract::settings::{ProviderSettings, SecretSetting};

use schemars::JsonSchema;
use serde::Deserialize;

/// The environment variable read for the TSIG secret when `secret` is unset.
pub const SECRET_ENV: &str = "MAILFORM_TSIG_SECRET";

/// Settings of the `rfc2136` DNS provider: a primary server that accepts
/// TSIG-signed zone transfers and dynamic updates for the zones (BIND:
/// `allow-transfer { key NAME; };` and `allow-update { key NAME; };`).
#[derive(Clone, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// The primary server as `host:port` or `ip:port`, for example
    /// `127.0.0.1:53` or `ns1.example.net:53`. Port 53 when omitted.
    pub server: String,
    /// The TSIG key's name as the server knows it, for example `mailform-key`.
    pub key_name: String,
    /// The TSIG algorithm: `hmac-sha256` (default), `hmac-sha384` or
    /// `hmac-sha512`.
    #[serde(default)]
    pub algorithm: TsigAlgorithmName,
    /// The TSIG secret, base64 as `tsig-keygen` prints it, written as
    /// `${env:NAME}` or `${file:path}`. Default: the `MAILFORM_TSIG_SECRET`
    /// environment variable.
    #[serde(default)]
    pub secret: Option<SecretSetting>,
    /// Timeout of one exchange with the server (connect, send, answer), in
    /// seconds. Default 10.
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
        self.secret.iter().map(|k| ("secret", k)).collect()
    }
}

/// A TSIG algorithm mailform can sign with.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, JsonSchema)]
pub enum TsigAlgorithmName {
    #[default]
    #[serde(rename = "hmac-sha256")]
    HmacSha256,
    #[serde(rename = "hmac-sha384")]
    HmacSha384,
    #[serde(rename = "hmac-sha512")]
    HmacSha512,
}

impl TsigAlgorithmName {
    pub fn as_str(self) -> &'static str {
        match self {
            TsigAlgorithmName::HmacSha256 => "hmac-sha256",
            TsigAlgorithmName::HmacSha384 => "hmac-sha384",
            TsigAlgorithmName::HmacSha512 => "hmac-sha512",
        }
    }
}

// Hand-written so that the secret can never reach a log line or an error
// message through `{:?}` of the engine's config.
impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Config")
            .field("server", &self.server)
            .field("key_name", &self.key_name)
            .field("algorithm", &self.algorithm)
            .field("secret", &self.secret)
            .field("timeout_seconds", &self.timeout_seconds)
            .finish()
    }
}

impl Config {
    pub fn new(server: impl Into<String>, key_name: impl Into<String>) -> Config {
        Config {
            server: server.into(),
            key_name: key_name.into(),
            algorithm: TsigAlgorithmName::default(),
            secret: None,
            timeout_seconds: None,
            base_dir: PathBuf::new(),
        }
    }

    pub fn timeout(&self) -> Duration {
        Duration::from_secs(self.timeout_seconds.unwrap_or(10).max(1))
    }

    /// `server` with port 53 added when it has none (`[v6]` or `v4`/name).
    pub fn server_address(&self) -> String {
        let s = self.server.trim();
        let has_port = if let Some(rest) = s.strip_prefix('[') {
            rest.contains("]:")
        } else {
            s.matches(':').count() == 1
        };
        if has_port {
            s.to_string()
        } else if s.contains(':') && !s.starts_with('[') {
            format!("[{s}]:53")
        } else {
            format!("{s}:53")
        }
    }

    /// The base64 secret from the settings, else from `MAILFORM_TSIG_SECRET`;
    /// an error when the setting's reference cannot be resolved.
    pub fn resolve_secret(&self) -> Result<Option<String>, String> {
        let secret = match &self.secret {
            Some(setting) => Some(setting.resolve(&self.base_dir)?.expose().to_string()),
            None => std::env::var(SECRET_ENV).ok(),
        };
        Ok(secret.filter(|s| !s.trim().is_empty()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_ports_and_unknown_keys() {
        let c: Config =
            serde_json::from_str(r#"{"server": "127.0.0.1:5353", "key_name": "k"}"#).unwrap();
        assert_eq!(c.algorithm, TsigAlgorithmName::HmacSha256);
        assert_eq!(c.timeout(), Duration::from_secs(10));
        assert_eq!(c.server_address(), "127.0.0.1:5353");
        assert_eq!(
            Config::new("ns1.example.net", "k").server_address(),
            "ns1.example.net:53"
        );
        assert_eq!(
            Config::new("2001:db8::1", "k").server_address(),
            "[2001:db8::1]:53"
        );
        assert_eq!(
            Config::new("[2001:db8::1]:54", "k").server_address(),
            "[2001:db8::1]:54"
        );
        let c: Config =
            serde_json::from_str(r#"{"server": "x", "key_name": "k", "algorithm": "hmac-sha512"}"#)
                .unwrap();
        assert_eq!(c.algorithm.as_str(), "hmac-sha512");
        assert!(serde_json::from_str::<Config>(
            r#"{"server": "x", "key_name": "k", "algorithm": "hmac-md5"}"#
        )
        .is_err());
        let err = serde_json::from_str::<Config>(r#"{"server": "x", "key": "k"}"#).unwrap_err();
        assert!(err.to_string().contains("unknown field"), "{err}");
    }

    #[test]
    fn debug_never_shows_the_secret() {
        let mut c = Config::new("x", "k");
        c.secret = Some(SecretSetting::new("c2VjcmV0LXNlY3JldA=="));
        assert!(!format!("{c:?}").contains("c2VjcmV0"));
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
