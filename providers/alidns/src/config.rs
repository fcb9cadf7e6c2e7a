//! The provider's settings as written in the mailform YAML, and the
//! AccessKey pair.
//!
//! The AccessKey pair is written as `${env:NAME}` or `${file:path}`
//! references (checked by the engine at load time) or, when the settings are
//! absent, read from `ALIBABA_CLOUD_ACCESS_KEY_ID` /
//! `ALIBABA_CLOUD_ACCESS_KEY_SECRET`. Credentials are resolved on first use,
//! not when the provider is built, so `mailform validate` needs none.
//!
//! Facts from Alibaba Cloud's documentation:
//! - TTL ranges by edition — Free and Individual 600–86400, Enterprise
//!   Standard 60–86400, Enterprise Ultimate 1–86400
//!   (<https://www.alibabacloud.com/help/doc-detail/29806.htm>, "TTL
//!   definition");
//! - the API endpoint `alidns.aliyuncs.com` (API metadata `product.json`,
//!   `global_endpoint`); regional endpoints such as
//!   `alidns.cn-hangzhou.aliyuncs.com` serve the same API;
//! - the RAM system policy `AliyunDNSFullAccess` grants full management of
//!   Alibaba Cloud DNS ("Manage permissions",
//!   <https://alibabacloud.com/help/en/dns/permission-management>).

use std::path::{Path, PathBuf};

use schemars::JsonSchema;
use serde::Deserialize;

use mailform_contract::interpolate::Env;
use mailform_contract::settings::{ProviderSettings, SecretSetting};
use mailform_contract::{ProviderError, Secret};

/// The API endpoint used when `endpoint` is not set.
pub const DEFAULT_ENDPOINT: &str = "https://alidns.aliyuncs.com/";
/// The environment variable read when `access_key_id` is not set.
pub const KEY_ID_ENV: &str = "ALIBABA_CLOUD_ACCESS_KEY_ID";
/// The environment variable read when `access_key_secret` is not set.
pub const KEY_SECRET_ENV: &str = "ALIBABA_CLOUD_ACCESS_KEY_SECRET";
/// The lowest TTL of the Free edition.
pub const DEFAULT_MIN_TTL: u32 = 600;
/// The highest TTL of every edition.
pub const MAX_TTL: u32 = 86_400;

/// Settings of the `alidns` DNS provider (Alibaba Cloud DNS, 云解析 DNS).
/// Use a RAM user whose only policy is `AliyunDNSFullAccess`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// The API endpoint. Default `https://alidns.aliyuncs.com/`; a regional
    /// endpoint (`https://alidns.cn-hangzhou.aliyuncs.com/`) or a test
    /// server may be given instead.
    #[serde(default)]
    pub endpoint: Option<String>,
    /// The AccessKey ID, e.g. `${env:ALI_KEY_ID}`. Default: the
    /// `ALIBABA_CLOUD_ACCESS_KEY_ID` environment variable.
    #[serde(default)]
    pub access_key_id: Option<SecretSetting>,
    /// The AccessKey secret, as `${env:NAME}` or `${file:path}` (never the
    /// secret itself: it would sit in the repository). Default: the
    /// `ALIBABA_CLOUD_ACCESS_KEY_SECRET` environment variable.
    #[serde(default)]
    pub access_key_secret: Option<SecretSetting>,
    /// The lowest TTL your Alidns edition accepts: 600 for the Free and
    /// Individual editions (the default), 60 for Enterprise Standard, 1 for
    /// Enterprise Ultimate. A record with a lower TTL is reported by `plan`
    /// before anything is written.
    #[serde(default)]
    #[schemars(range(min = 1, max = 86400))]
    pub min_ttl: Option<u32>,
    /// Timeout of one request, in seconds. Default 30.
    #[serde(default)]
    #[schemars(range(min = 1, max = 600))]
    pub timeout_seconds: Option<u64>,
    /// Where `${file:...}` references resolve: the YAML file's directory,
    /// set by the engine.
    #[serde(skip)]
    #[schemars(skip)]
    pub base_dir: PathBuf,
}

impl ProviderSettings for Config {
    fn secrets(&self) -> Vec<(&'static str, &SecretSetting)> {
        let mut v = Vec::new();
        if let Some(k) = &self.access_key_id {
            v.push(("access_key_id", k));
        }
        if let Some(k) = &self.access_key_secret {
            v.push(("access_key_secret", k));
        }
        v
    }

    fn endpoints(&self) -> Vec<(&'static str, &str)> {
        [("endpoint", &self.endpoint)]
            .into_iter()
            .filter_map(|(k, v)| v.as_deref().map(|v| (k, v)))
            .collect()
    }

    fn vendor_hosts(&self) -> &'static [&'static str] {
        &["*.aliyuncs.com"]
    }
}

/// An environment given as a function, for tests.
struct FnEnv<'a, F>(&'a F);

impl<F: Fn(&str) -> Option<String>> Env for FnEnv<'_, F> {
    fn var(&self, name: &str) -> Option<String> {
        (self.0)(name)
    }
}

/// An AccessKey pair.
#[derive(Debug, Clone)]
pub struct Credentials {
    pub key_id: String,
    pub secret: Secret,
}

impl Config {
    /// A configuration pointing at `endpoint` with the given key pair.
    pub fn new(
        endpoint: impl Into<String>,
        key_id: impl Into<String>,
        secret: impl Into<String>,
    ) -> Config {
        Config {
            endpoint: Some(endpoint.into()),
            access_key_id: Some(SecretSetting::new(key_id.into())),
            access_key_secret: Some(SecretSetting::new(secret.into())),
            ..Config::default()
        }
    }

    /// The endpoint, with a trailing slash.
    pub fn endpoint(&self) -> String {
        let e = self.endpoint.as_deref().unwrap_or(DEFAULT_ENDPOINT).trim();
        if e.ends_with('/') {
            e.to_string()
        } else {
            format!("{e}/")
        }
    }

    pub fn min_ttl(&self) -> u32 {
        self.min_ttl.unwrap_or(DEFAULT_MIN_TTL).clamp(1, MAX_TTL)
    }

    pub fn timeout(&self) -> std::time::Duration {
        std::time::Duration::from_secs(self.timeout_seconds.unwrap_or(30).max(1))
    }

    /// The key pair from the settings, else from the environment.
    pub fn credentials(&self) -> Result<Credentials, ProviderError> {
        self.credentials_with(|k| std::env::var(k).ok())
    }

    pub(crate) fn credentials_with(
        &self,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<Credentials, ProviderError> {
        let key_id = resolve(
            "access_key_id",
            self.access_key_id.as_ref(),
            &self.base_dir,
            KEY_ID_ENV,
            &env,
        )?;
        let secret = resolve(
            "access_key_secret",
            self.access_key_secret.as_ref(),
            &self.base_dir,
            KEY_SECRET_ENV,
            &env,
        )?;
        Ok(Credentials {
            key_id,
            secret: Secret::new(secret),
        })
    }
}

fn resolve(
    setting: &str,
    value: Option<&SecretSetting>,
    base_dir: &Path,
    var: &str,
    env: &impl Fn(&str) -> Option<String>,
) -> Result<String, ProviderError> {
    match value {
        Some(v) => {
            let resolved = v.resolve_with(base_dir, &FnEnv(env)).map_err(|e| {
                ProviderError::Permission(format!("the alidns `{setting}:` setting: {e}"))
            })?;
            let text = resolved.expose().trim();
            if text.is_empty() {
                return Err(ProviderError::Permission(format!(
                    "the alidns `{setting}:` setting is empty: remove it and set {var}"
                )));
            }
            Ok(text.to_string())
        }
        None => match env(var) {
            Some(v) if !v.trim().is_empty() => Ok(v.trim().to_string()),
            _ => Err(ProviderError::Permission(format!(
                "no Alibaba Cloud AccessKey: set {KEY_ID_ENV} and {KEY_SECRET_ENV} to the \
                 AccessKey of a RAM user with the AliyunDNSFullAccess policy ({var} is not set)"
            ))),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_unknown_keys() {
        let c: Config = serde_json::from_str("{}").unwrap();
        assert_eq!(c.endpoint(), DEFAULT_ENDPOINT);
        assert_eq!(c.min_ttl(), 600);
        assert!(serde_json::from_str::<Config>(r#"{"secret": "x"}"#).is_err());
        let c: Config = serde_json::from_str(
            r#"{"endpoint": "https://alidns.cn-hangzhou.aliyuncs.com", "min_ttl": 60}"#,
        )
        .unwrap();
        assert_eq!(c.endpoint(), "https://alidns.cn-hangzhou.aliyuncs.com/");
        assert_eq!(c.min_ttl(), 60);
    }

    #[test]
    fn credentials_come_from_the_settings_or_the_environment() {
        let env = |k: &str| Some(format!("env-{k}"));
        let none = |_: &str| None;
        let c = Config::default();
        let cr = c.credentials_with(env).unwrap();
        assert_eq!(cr.key_id, format!("env-{KEY_ID_ENV}"));
        assert_eq!(cr.secret.expose(), format!("env-{KEY_SECRET_ENV}"));
        let err = c.credentials_with(none).unwrap_err().to_string();
        assert!(
            err.contains(KEY_ID_ENV) && err.contains("AliyunDNSFullAccess"),
            "{err}"
        );
        let c = Config::new("http://h", "id", "literal");
        assert_eq!(c.credentials_with(none).unwrap().secret.expose(), "literal");
        let c = Config {
            access_key_secret: Some(SecretSetting::new("${env:ALI_SECRET}")),
            ..Config::default()
        };
        let unset = |k: &str| (k != "ALI_SECRET").then(|| format!("env-{k}"));
        let err = c.credentials_with(unset).unwrap_err().to_string();
        assert!(
            err.contains("ALI_SECRET") && err.contains("is not set"),
            "{err}"
        );
        let cr = c.credentials_with(env).unwrap();
        assert_eq!(cr.secret.expose(), "env-ALI_SECRET");
    }
}
