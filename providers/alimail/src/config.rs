//! The provider's settings as written in the mailform YAML, and the app
//! credentials.
//!
//! The app's ID and secret come from the mailbox admin console:
//! **高级应用 / Advanced Features → API开放平台 / API Open Platform → 添加应用 /
//! Add App**; after saving, edit the app again to see its App ID (应用ID) and
//! Secret (research notes §1, CONFIRMED). They are written as
//! `${env:NAME}` / `${file:path}` references (checked by the engine at load
//! time) or, when the settings are absent, read from `ALIMAIL_CLIENT_ID` /
//! `ALIMAIL_CLIENT_SECRET`. Credentials are resolved on first use, not when
//! the provider is built, so `mailform validate` needs none.
//!
//! Hosts (research notes §2, CONFIRMED): `https://alimail-cn.aliyuncs.com`
//! for the China site, `alimail-sg`, `alimail-hk`, `alimail-de` and
//! `alimail-us` `.aliyuncs.com` for the international ones. Hosts of
//! different clusters cannot be mixed: use the one of the organisation's
//! site.

use std::path::{Path, PathBuf};
use std::time::Duration;

use schemars::JsonSchema;
use serde::Deserialize;

use mailform_contract::interpolate::Env;
use mailform_contract::settings::{ProviderSettings, SecretSetting};
use mailform_contract::{ProviderError, Secret};

/// The API host used when `endpoint` is not set (the China site).
pub const DEFAULT_ENDPOINT: &str = "https://alimail-cn.aliyuncs.com";
/// The other sites' hosts.
pub const OTHER_ENDPOINTS: [&str; 4] = [
    "https://alimail-sg.aliyuncs.com",
    "https://alimail-hk.aliyuncs.com",
    "https://alimail-de.aliyuncs.com",
    "https://alimail-us.aliyuncs.com",
];
/// The environment variable read when `client_id` is not set.
pub const CLIENT_ID_ENV: &str = "ALIMAIL_CLIENT_ID";
/// The environment variable read when `client_secret` is not set.
pub const CLIENT_SECRET_ENV: &str = "ALIMAIL_CLIENT_SECRET";
/// Requests a second by default: all apps of one domain share 40 a second
/// (research notes §8, from two third-party sources), so take half.
pub const DEFAULT_REQUESTS_PER_SECOND: u32 = 20;
/// The shared domain-wide limit; a higher setting is clamped to it.
pub const MAX_REQUESTS_PER_SECOND: u32 = 40;
/// Where an admin fixes the app's credentials and permissions.
pub const CONSOLE_PLACE: &str = "the Alibaba Mail admin console, 高级应用 / Advanced Features → \
     API开放平台 / API Open Platform (edit the app to see its App ID and Secret, and tick the \
     user-management API permissions)";

/// Settings of the `alimail` mail provider (Alibaba Mail, 阿里邮箱 /
/// 阿里企业邮箱, Open API v2).
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// The API host of the organisation's site. Default
    /// `https://alimail-cn.aliyuncs.com`; the others are
    /// `https://alimail-sg.aliyuncs.com`, `-hk`, `-de` and `-us`. A test
    /// server may be given instead.
    #[serde(default)]
    pub endpoint: Option<String>,
    /// The app's App ID (应用ID), e.g. `${env:ALIMAIL_CLIENT_ID}`. Default:
    /// the `ALIMAIL_CLIENT_ID` environment variable.
    #[serde(default)]
    pub client_id: Option<SecretSetting>,
    /// The app's Secret, as `${env:NAME}` or `${file:path}` (never the
    /// secret itself). Default: the `ALIMAIL_CLIENT_SECRET` environment
    /// variable.
    #[serde(default)]
    pub client_secret: Option<SecretSetting>,
    /// Requests a second this provider sends at most. Default 20: every app
    /// of the domain shares a limit of 40 a second.
    #[serde(default)]
    #[schemars(range(min = 1, max = 40))]
    pub requests_per_second: Option<u32>,
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
        if let Some(k) = &self.client_id {
            v.push(("client_id", k));
        }
        if let Some(k) = &self.client_secret {
            v.push(("client_secret", k));
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

/// The app's ID and secret.
#[derive(Debug, Clone)]
pub struct Credentials {
    pub client_id: String,
    pub client_secret: Secret,
}

impl Config {
    /// A configuration pointing at `endpoint` with the given app credentials.
    pub fn new(
        endpoint: impl Into<String>,
        client_id: impl Into<String>,
        client_secret: impl Into<String>,
    ) -> Config {
        Config {
            endpoint: Some(endpoint.into()),
            client_id: Some(SecretSetting::new(client_id.into())),
            client_secret: Some(SecretSetting::new(client_secret.into())),
            ..Config::default()
        }
    }

    /// The endpoint, without a trailing slash.
    pub fn endpoint(&self) -> String {
        self.endpoint
            .as_deref()
            .unwrap_or(DEFAULT_ENDPOINT)
            .trim()
            .trim_end_matches('/')
            .to_string()
    }

    pub fn requests_per_second(&self) -> u32 {
        self.requests_per_second
            .unwrap_or(DEFAULT_REQUESTS_PER_SECOND)
            .clamp(1, MAX_REQUESTS_PER_SECOND)
    }

    pub fn timeout(&self) -> Duration {
        Duration::from_secs(self.timeout_seconds.unwrap_or(30).max(1))
    }

    /// The app credentials from the settings, else from the environment.
    pub fn credentials(&self) -> Result<Credentials, ProviderError> {
        self.credentials_with(|k| std::env::var(k).ok())
    }

    pub(crate) fn credentials_with(
        &self,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<Credentials, ProviderError> {
        let client_id = resolve(
            "client_id",
            self.client_id.as_ref(),
            &self.base_dir,
            CLIENT_ID_ENV,
            &env,
        )?;
        let secret = resolve(
            "client_secret",
            self.client_secret.as_ref(),
            &self.base_dir,
            CLIENT_SECRET_ENV,
            &env,
        )?;
        Ok(Credentials {
            client_id,
            client_secret: Secret::new(secret),
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
                ProviderError::Permission(format!("the alimail `{setting}:` setting: {e}"))
            })?;
            let text = resolved.expose().trim();
            if text.is_empty() {
                return Err(ProviderError::Permission(format!(
                    "the alimail `{setting}:` setting is empty: remove it and set {var}"
                )));
            }
            Ok(text.to_string())
        }
        None => match env(var) {
            Some(v) if !v.trim().is_empty() => Ok(v.trim().to_string()),
            _ => Err(ProviderError::Permission(format!(
                "no Alibaba Mail app credentials: set {CLIENT_ID_ENV} and {CLIENT_SECRET_ENV} to \
                 the App ID and Secret of an app made in {CONSOLE_PLACE} ({var} is not set)"
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
        assert_eq!(c.requests_per_second(), 20);
        assert!(serde_json::from_str::<Config>(r#"{"secret": "x"}"#).is_err());
        let c: Config = serde_json::from_str(
            r#"{"endpoint": "https://alimail-sg.aliyuncs.com/", "requests_per_second": 99}"#,
        )
        .unwrap();
        assert_eq!(c.endpoint(), OTHER_ENDPOINTS[0]);
        assert_eq!(c.requests_per_second(), MAX_REQUESTS_PER_SECOND);
    }

    #[test]
    fn credentials_come_from_the_settings_or_the_environment() {
        let env = |k: &str| Some(format!("env-{k}"));
        let none = |_: &str| None;
        let c = Config::default();
        let cr = c.credentials_with(env).unwrap();
        assert_eq!(cr.client_id, format!("env-{CLIENT_ID_ENV}"));
        assert_eq!(
            cr.client_secret.expose(),
            format!("env-{CLIENT_SECRET_ENV}")
        );
        let err = c.credentials_with(none).unwrap_err().to_string();
        assert!(
            err.contains(CLIENT_ID_ENV) && err.contains("API Open Platform"),
            "{err}"
        );
        let c = Config {
            client_secret: Some(SecretSetting::new("${env:MY_SECRET}")),
            ..Config::default()
        };
        let unset = |k: &str| (k != "MY_SECRET").then(|| format!("env-{k}"));
        let err = c.credentials_with(unset).unwrap_err().to_string();
        assert!(
            err.contains("MY_SECRET") && err.contains("is not set"),
            "{err}"
        );
        assert_eq!(
            c.credentials_with(env).unwrap().client_secret.expose(),
            "env-MY_SECRET"
        );
        assert!(!format!("{:?}", c.credentials_with(env).unwrap()).contains("env-MY_SECRET"));
    }
}
