//! The provider's settings as written in the mailform YAML, and the
//! service-account key.
//!
//! The key is the JSON file Google Cloud issues for a service account
//! (`type: service_account`, `client_email`, `client_id`, `private_key`,
//! `token_uri`). It is given as `credentials: ${file:sa.json}` (or
//! `${env:NAME}` holding the JSON), or, when unset, read from the file the
//! `GOOGLE_APPLICATION_CREDENTIALS` variable names, as Google's own tools
//! do. It is read on first use, so `mailform validate` needs none.
//!
//! Facts from Google's documentation:
//! - service accounts act for a user through domain-wide delegation: a JWT
//!   with `sub` = that user, exchanged at the token endpoint
//!   (<https://developers.google.com/identity/protocols/oauth2/service-account>,
//!   "Preparing to make an authorized API call", "Addendum: Service account
//!   authorization without OAuth");
//! - the Directory API's default quota is 2,400 queries per minute per user
//!   (<https://developers.google.com/workspace/admin/directory/v1/limits>).

use std::path::{Path, PathBuf};
use std::time::Duration;

use schemars::JsonSchema;
use serde::Deserialize;

use mailform_contract::settings::{ProviderSettings, SecretSetting};
use mailform_contract::{ProviderError, Secret};

/// Where the Directory API lives unless `directory_endpoint` says otherwise.
pub const DEFAULT_DIRECTORY_ENDPOINT: &str = "https://admin.googleapis.com";
/// Where the Groups Settings API lives.
pub const DEFAULT_GROUPS_SETTINGS_ENDPOINT: &str = "https://www.googleapis.com";
/// Where the Gmail API lives.
pub const DEFAULT_GMAIL_ENDPOINT: &str = "https://gmail.googleapis.com";
/// Where the Site Verification API lives (domain onboarding).
pub const DEFAULT_SITE_VERIFICATION_ENDPOINT: &str = "https://www.googleapis.com";
/// How long a failed domain verification waits before the next try.
pub const DEFAULT_VERIFICATION_RETRY_MS: u64 = 10_000;
/// Where tokens are issued.
pub const DEFAULT_TOKEN_ENDPOINT: &str = "https://oauth2.googleapis.com/token";
/// The variable read when `credentials` is not set: a path to the key file.
pub const CREDENTIALS_ENV: &str = "GOOGLE_APPLICATION_CREDENTIALS";
/// Directory API quota: queries per minute.
pub const DEFAULT_QUERIES_PER_MINUTE: u32 = 2_400;

/// Settings of the `google_workspace` mail provider (Google Workspace
/// through the Admin SDK Directory API).
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// The administrator the service account acts as (domain-wide
    /// delegation), e.g. `admin@example.com`. Needs the privileges for
    /// users and groups (a super admin, or a custom role with them).
    pub admin: String,
    /// The service-account key (JSON), as `${file:path}` or `${env:NAME}`.
    /// Default: the file named by `GOOGLE_APPLICATION_CREDENTIALS`.
    #[serde(default)]
    pub credentials: Option<SecretSetting>,
    /// The customer id (`C0123abcd`); default `my_customer`, the admin's
    /// own account.
    #[serde(default)]
    pub customer: Option<String>,
    /// The organisational unit new users are created in. Default `/`.
    #[serde(default)]
    pub org_unit: Option<String>,
    /// The organisational unit offboarded users are moved to (it must
    /// exist; give it the policies you want for leavers). Users in it read
    /// as offboarded. Default `/Offboarded`.
    #[serde(default)]
    pub offboarded_org_unit: Option<String>,
    /// Gmail API base URL (forwarding of offboarded users). Default
    /// `https://gmail.googleapis.com`.
    #[serde(default)]
    pub gmail_endpoint: Option<String>,
    /// Directory API base URL. Default `https://admin.googleapis.com`.
    #[serde(default)]
    pub directory_endpoint: Option<String>,
    /// Groups Settings API base URL. Default `https://www.googleapis.com`.
    #[serde(default)]
    pub groups_settings_endpoint: Option<String>,
    /// Site Verification API base URL (onboarding a domain: its
    /// verification token and the verification itself). Default
    /// `https://www.googleapis.com`.
    #[serde(default)]
    pub site_verification_endpoint: Option<String>,
    /// Milliseconds a domain verification Google refused (its resolvers
    /// did not see the TXT record yet) waits before it is tried again,
    /// doubling each time; three tries in all. Default 10000.
    #[serde(default)]
    #[schemars(range(min = 1, max = 600000))]
    pub verification_retry_ms: Option<u64>,
    /// The Directory API's batch endpoint. Default
    /// `<directory_endpoint>/batch/admin/directory_v1`.
    #[serde(default)]
    pub batch_endpoint: Option<String>,
    /// The Groups Settings API's batch endpoint. Default
    /// `<groups_settings_endpoint>/batch/groupssettings/v1`.
    #[serde(default)]
    pub groups_settings_batch_endpoint: Option<String>,
    /// Token endpoint. Default `https://oauth2.googleapis.com/token`.
    #[serde(default)]
    pub token_endpoint: Option<String>,
    /// Requests per minute mailform allows itself. Default 2400, the
    /// Directory API's default quota.
    #[serde(default)]
    #[schemars(range(min = 1, max = 100000))]
    pub queries_per_minute: Option<u32>,
    /// Timeout of one request, in seconds. Default 60.
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
        self.credentials
            .as_ref()
            .map(|c| vec![("credentials", c)])
            .unwrap_or_default()
    }

    fn endpoints(&self) -> Vec<(&'static str, &str)> {
        [
            ("gmail_endpoint", &self.gmail_endpoint),
            ("directory_endpoint", &self.directory_endpoint),
            ("groups_settings_endpoint", &self.groups_settings_endpoint),
            (
                "site_verification_endpoint",
                &self.site_verification_endpoint,
            ),
            ("batch_endpoint", &self.batch_endpoint),
            (
                "groups_settings_batch_endpoint",
                &self.groups_settings_batch_endpoint,
            ),
            ("token_endpoint", &self.token_endpoint),
        ]
        .into_iter()
        .filter_map(|(k, v)| v.as_deref().map(|v| (k, v)))
        .collect()
    }

    fn vendor_hosts(&self) -> &'static [&'static str] {
        &["*.googleapis.com"]
    }
}

fn trim(url: &str) -> String {
    url.trim_end_matches('/').to_string()
}

impl Config {
    pub fn directory_endpoint(&self) -> String {
        trim(
            self.directory_endpoint
                .as_deref()
                .unwrap_or(DEFAULT_DIRECTORY_ENDPOINT),
        )
    }
    pub fn groups_settings_endpoint(&self) -> String {
        trim(
            self.groups_settings_endpoint
                .as_deref()
                .unwrap_or(DEFAULT_GROUPS_SETTINGS_ENDPOINT),
        )
    }
    pub fn site_verification_endpoint(&self) -> String {
        trim(
            self.site_verification_endpoint
                .as_deref()
                .unwrap_or(DEFAULT_SITE_VERIFICATION_ENDPOINT),
        )
    }
    pub fn verification_retry(&self) -> Duration {
        Duration::from_millis(
            self.verification_retry_ms
                .unwrap_or(DEFAULT_VERIFICATION_RETRY_MS)
                .max(1),
        )
    }
    pub fn directory_batch_endpoint(&self) -> String {
        self.batch_endpoint
            .clone()
            .unwrap_or_else(|| format!("{}/batch/admin/directory_v1", self.directory_endpoint()))
    }
    pub fn groups_settings_batch_endpoint(&self) -> String {
        self.groups_settings_batch_endpoint
            .clone()
            .unwrap_or_else(|| {
                format!(
                    "{}/batch/groupssettings/v1",
                    self.groups_settings_endpoint()
                )
            })
    }
    pub fn token_endpoint(&self) -> String {
        self.token_endpoint
            .clone()
            .unwrap_or_else(|| DEFAULT_TOKEN_ENDPOINT.to_string())
    }
    pub fn customer(&self) -> &str {
        self.customer.as_deref().unwrap_or("my_customer")
    }
    pub fn offboarded_org_unit(&self) -> &str {
        self.offboarded_org_unit.as_deref().unwrap_or("/Offboarded")
    }
    pub fn gmail_endpoint(&self) -> String {
        trim(
            self.gmail_endpoint
                .as_deref()
                .unwrap_or(DEFAULT_GMAIL_ENDPOINT),
        )
    }
    pub fn org_unit(&self) -> &str {
        self.org_unit.as_deref().unwrap_or("/")
    }
    pub fn timeout(&self) -> Duration {
        Duration::from_secs(self.timeout_seconds.unwrap_or(60))
    }
    pub fn queries_per_minute(&self) -> u32 {
        self.queries_per_minute
            .unwrap_or(DEFAULT_QUERIES_PER_MINUTE)
            .max(1)
    }

    /// The key file's JSON text.
    pub fn credentials_json(&self) -> Result<Secret, ProviderError> {
        match &self.credentials {
            Some(s) => s.resolve(&self.base_dir).map_err(|e| {
                ProviderError::Permission(format!("google_workspace `credentials`: {e}"))
            }),
            None => {
                let path = std::env::var(CREDENTIALS_ENV).map_err(|_| {
                    ProviderError::Permission(format!(
                        "no service-account key: set `credentials: ${{file:path/to/key.json}}` in the google_workspace provider, or {CREDENTIALS_ENV} to the key file's path"
                    ))
                })?;
                read_key_file(Path::new(&path))
            }
        }
    }
}

fn read_key_file(path: &Path) -> Result<Secret, ProviderError> {
    std::fs::read_to_string(path).map(Secret::new).map_err(|e| {
        ProviderError::Permission(format!(
            "cannot read the service-account key {} (from {CREDENTIALS_ENV}): {e}",
            path.display()
        ))
    })
}
