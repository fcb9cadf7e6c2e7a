//! The provider's settings as written in the mailform YAML.
//!
//! The API token is the one secret: `token: ${env:NAME}` or
//! `${file:path}` (checked by the engine at load time), or, when `token` is
//! absent, the `CLOUDFLARE_API_TOKEN` environment variable. It is resolved on
//! first use, not when the provider is built, so `validate` needs no token.
//!
//! Limits come from Cloudflare's documentation:
//! - batch size per request — 200 on the Free plan, 3,500 on paid plans
//!   (<https://developers.cloudflare.com/dns/manage-dns-records/how-to/batch-record-changes/>);
//! - 1,200 API requests per five minutes per user
//!   (<https://developers.cloudflare.com/fundamentals/api/reference/limits/>).

use std::path::PathBuf;

use schemars::JsonSchema;
use serde::Deserialize;

use mailform_contract::interpolate::Env;
use mailform_contract::settings::{ProviderSettings, SecretSetting};
use mailform_contract::{ProviderError, Secret};

/// The API base used when `endpoint` is not set.
pub const DEFAULT_ENDPOINT: &str = "https://api.cloudflare.com/client/v4";
/// The environment variable read when `token` is not set.
pub const TOKEN_ENV: &str = "CLOUDFLARE_API_TOKEN";
/// Changes per batch request on the Free plan.
pub const DEFAULT_BATCH_LIMIT: u32 = 200;
/// Records per page when listing. The description allows far more; 5,000
/// keeps one answer to a few megabytes.
pub const DEFAULT_PAGE_SIZE: u32 = 5_000;

/// Settings of the `cloudflare` DNS provider. The API token needs the
/// permissions Zone → Zone → Read and Zone → DNS → Edit on the zones
/// mailform manages.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// The API base URL. Default `https://api.cloudflare.com/client/v4`;
    /// set it to point mailform at a test server.
    #[serde(default)]
    pub endpoint: Option<String>,
    /// The API token, as `${env:NAME}` or `${file:path}` (never the token
    /// itself: it would sit in the repository). Default: the
    /// `CLOUDFLARE_API_TOKEN` environment variable.
    #[serde(default)]
    pub token: Option<SecretSetting>,
    /// Record changes per batch request: 200 on the Free plan (the
    /// default), up to 3,500 on Pro, Business and Enterprise.
    #[serde(default)]
    #[schemars(range(min = 1, max = 3500))]
    pub batch_limit: Option<u32>,
    /// Records per page when reading a zone. Default 5000.
    #[serde(default)]
    #[schemars(range(min = 1, max = 5000000))]
    pub page_size: Option<u32>,
    /// Where `${file:...}` references resolve: the YAML file's directory,
    /// set by the engine.
    #[serde(skip)]
    #[schemars(skip)]
    pub base_dir: PathBuf,
}

impl ProviderSettings for Config {
    fn secrets(&self) -> Vec<(&'static str, &SecretSetting)> {
        self.token.iter().map(|t| ("token", t)).collect()
    }

    fn endpoints(&self) -> Vec<(&'static str, &str)> {
        self.endpoint
            .iter()
            .map(|e| ("endpoint", e.as_str()))
            .collect()
    }

    fn vendor_hosts(&self) -> &'static [&'static str] {
        &["api.cloudflare.com"]
    }
}

/// An environment given as a function, for tests.
struct FnEnv<F>(F);

impl<F: Fn(&str) -> Option<String>> Env for FnEnv<F> {
    fn var(&self, name: &str) -> Option<String> {
        (self.0)(name)
    }
}

impl Config {
    /// A configuration pointing at `endpoint` with `token`.
    pub fn new(endpoint: impl Into<String>, token: impl Into<String>) -> Config {
        Config {
            endpoint: Some(endpoint.into()),
            token: Some(SecretSetting::new(token)),
            ..Config::default()
        }
    }

    /// The API base without a trailing slash.
    pub fn endpoint(&self) -> String {
        self.endpoint
            .as_deref()
            .unwrap_or(DEFAULT_ENDPOINT)
            .trim_end_matches('/')
            .to_string()
    }

    pub fn batch_limit(&self) -> usize {
        self.batch_limit.unwrap_or(DEFAULT_BATCH_LIMIT).max(1) as usize
    }

    pub fn page_size(&self) -> u32 {
        self.page_size.unwrap_or(DEFAULT_PAGE_SIZE).max(1)
    }

    /// The token from `token`, else from `CLOUDFLARE_API_TOKEN`.
    pub fn resolve_token(&self) -> Result<Secret, ProviderError> {
        self.resolve_token_with(|k| std::env::var(k).ok())
    }

    pub(crate) fn resolve_token_with(
        &self,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<Secret, ProviderError> {
        match &self.token {
            Some(setting) => {
                let token = setting
                    .resolve_with(&self.base_dir, &FnEnv(env))
                    .map_err(|e| {
                        ProviderError::Permission(format!("the cloudflare `token:` setting: {e}"))
                    })?;
                if token.expose().trim().is_empty() {
                    return Err(ProviderError::Permission(format!(
                        "the cloudflare `token:` setting is empty: remove it and set {TOKEN_ENV}"
                    )));
                }
                Ok(Secret::new(token.expose().trim()))
            }
            None => match env(TOKEN_ENV) {
                Some(t) if !t.trim().is_empty() => Ok(Secret::new(t.trim())),
                _ => Err(ProviderError::Permission(format!(
                    "no Cloudflare API token: set the {TOKEN_ENV} environment variable to a token \
                     with Zone:Read and DNS:Edit permissions"
                ))),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_unknown_keys() {
        let c: Config = serde_json::from_str("{}").unwrap();
        assert_eq!(c.endpoint(), DEFAULT_ENDPOINT);
        assert_eq!(c.batch_limit(), 200);
        assert_eq!(c.page_size(), 5000);
        assert!(serde_json::from_str::<Config>(r#"{"api_token": "x"}"#).is_err());
        let c: Config =
            serde_json::from_str(r#"{"endpoint": "http://h/v4/", "batch_limit": 3500}"#).unwrap();
        assert_eq!(c.endpoint(), "http://h/v4");
        assert_eq!(c.batch_limit(), 3500);
    }

    #[test]
    fn token_comes_from_the_setting_or_the_environment() {
        let env = |k: &str| (k == TOKEN_ENV).then(|| "from-env".to_string());
        let none = |_: &str| None;
        let c = Config::default();
        assert_eq!(c.resolve_token_with(env).unwrap().expose(), "from-env");
        let err = c.resolve_token_with(none).unwrap_err().to_string();
        assert!(err.contains(TOKEN_ENV), "{err}");
        let c = Config {
            token: Some(SecretSetting::new("literal")),
            ..Config::default()
        };
        assert_eq!(c.resolve_token_with(env).unwrap().expose(), "literal");
        let c = Config {
            token: Some(SecretSetting::new("${env:CF_TOKEN}")),
            ..Config::default()
        };
        let err = c.resolve_token_with(env).unwrap_err().to_string();
        assert!(
            err.contains("CF_TOKEN") && err.contains("is not set"),
            "{err}"
        );
        let both = |k: &str| (k == "CF_TOKEN").then(|| "from-ref".to_string());
        assert_eq!(c.resolve_token_with(both).unwrap().expose(), "from-ref");
    }
}
