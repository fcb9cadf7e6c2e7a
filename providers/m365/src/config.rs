//! The provider's settings as written in the mailform YAML.
//!
//! mailform signs in as an Entra ID app registration (app-only, no user):
//! `tenant` is the directory (its id or one of its domains), `client_id`
//! the app's Application (client) ID, and `client_secret` one of its
//! client secrets, by default from the `M365_CLIENT_SECRET` variable. The
//! secret is read on first use, so `mailform validate` needs none.
//!
//! National clouds have their own endpoints: set `graph_endpoint` and
//! `login_endpoint` (e.g. `https://microsoftgraph.chinacloudapi.cn` and
//! `https://login.chinacloudapi.cn` for Microsoft 365 operated by 21Vianet).
//!
//! Facts from Microsoft's documentation:
//! - the client-credentials grant and its errors:
//!   <https://learn.microsoft.com/entra/identity-platform/v2-oauth2-client-creds-grant-flow>;
//! - Graph's write limit for directory objects: 3,000 writes per app and
//!   tenant in 150 seconds
//!   (<https://learn.microsoft.com/graph/throttling-limits>, "Identity and
//!   access service limits").
//!
//! Instead of a secret, `client_certificate` names a certificate uploaded
//! to the app registration and its private key; mailform then signs a
//! client assertion with it (see [`crate::auth`]), which Microsoft
//! recommends over secrets.

use std::path::PathBuf;
use std::time::Duration;

use schemars::JsonSchema;
use serde::Deserialize;

use mailform_contract::settings::{ProviderSettings, SecretSetting};
use mailform_contract::{ProviderError, Secret};

/// Where Graph lives unless `graph_endpoint` says otherwise.
pub const DEFAULT_GRAPH_ENDPOINT: &str = "https://graph.microsoft.com";
/// Where tokens are issued unless `login_endpoint` says otherwise.
pub const DEFAULT_LOGIN_ENDPOINT: &str = "https://login.microsoftonline.com";
/// Where Exchange Online lives unless `exchange_endpoint` says otherwise.
pub const DEFAULT_EXCHANGE_ENDPOINT: &str = "https://outlook.office365.com";
/// The variable read when `client_secret` is not set.
pub const CLIENT_SECRET_ENV: &str = "M365_CLIENT_SECRET";

/// Settings of the `microsoft_365` mail provider (Microsoft 365 through
/// Microsoft Graph).
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// The tenant: its directory id (a GUID) or one of its domains
    /// (`contoso.onmicrosoft.com`).
    pub tenant: String,
    /// The app registration's Application (client) ID.
    pub client_id: String,
    /// A client secret of the app registration, as `${env:NAME}` or
    /// `${file:path}`. Default: the `M365_CLIENT_SECRET` variable.
    #[serde(default)]
    pub client_secret: Option<SecretSetting>,
    /// A certificate credential of the app registration instead of a
    /// client secret (Microsoft's recommendation): the certificate file
    /// uploaded under Certificates & secrets, and its private key.
    #[serde(default)]
    pub client_certificate: Option<CertificateSettings>,
    /// Graph's base URL, without `/v1.0`. Default
    /// `https://graph.microsoft.com`; national clouds have their own.
    #[serde(default)]
    pub graph_endpoint: Option<String>,
    /// The identity platform's base URL. Default
    /// `https://login.microsoftonline.com`; national clouds have their own.
    #[serde(default)]
    pub login_endpoint: Option<String>,
    /// The two-letter country code (`DE`, `US`) set on new users as
    /// `usageLocation`; Microsoft needs one before a licence can be
    /// assigned. Default: none.
    #[serde(default)]
    #[schemars(length(min = 2, max = 2))]
    pub usage_location: Option<String>,
    /// The Exchange Online backend (mailbox and group aliases, outside
    /// senders of Microsoft 365 groups, shared mailboxes, distribution
    /// lists, offboarding; DKIM signing with `dkim: true`). Default: off.
    /// It drives the undocumented `InvokeCommand` endpoint of the Exchange
    /// Online PowerShell V3 module (see the crate's `exchange` module).
    #[serde(default)]
    pub exchange: Option<ExchangeSettings>,
    /// Exchange Online's base URL. Default `https://outlook.office365.com`.
    #[serde(default)]
    pub exchange_endpoint: Option<String>,
    /// A licence (SKU part number, e.g. `ENTERPRISEPACK` for Office 365
    /// E3, `O365_BUSINESS_PREMIUM` for Business Standard) assigned to every
    /// user mailform creates. Needs `usage_location`. Default: none.
    #[serde(default)]
    pub default_licence: Option<String>,
    /// Graph writes a second, batched ones included. Default 20 (Graph's
    /// 3,000 writes per 150 s per app and tenant); raise it only against a
    /// fake (benchmarks).
    #[serde(default)]
    #[schemars(range(min = 1, max = 10000))]
    pub writes_per_second: Option<u32>,
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

/// `client_certificate: {certificate: app.pem, private_key: ${file:app.key}}`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CertificateSettings {
    /// The certificate (PEM) uploaded to the app registration, a path
    /// relative to the YAML file. Not secret.
    pub certificate: String,
    /// Its RSA private key (PEM, PKCS#8 or PKCS#1), as `${file:path}` or
    /// `${env:NAME}`.
    pub private_key: SecretSetting,
}

/// How mailform proves it is the app.
pub enum Credential {
    Secret(Secret),
    /// The certificate's SHA-256 thumbprint (base64url, the assertion's
    /// `x5t#S256`) and its private key.
    Certificate {
        thumbprint_s256: String,
        key: jsonwebtoken::EncodingKey,
    },
}

/// `exchange: {enabled: true, dkim: true}`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ExchangeSettings {
    /// Whether mailform drives Exchange Online. Default false.
    #[serde(default)]
    pub enabled: bool,
    /// Whether mailform sets up DKIM signing for the provider's domains:
    /// creates each domain's DKIM signing config, publishes its
    /// `selector1`/`selector2._domainkey` CNAMEs and enables signing once
    /// Microsoft sees them (over two applies for a domain without a
    /// config). Needs `enabled`. Default false.
    #[serde(default)]
    pub dkim: bool,
}

impl ProviderSettings for Config {
    fn secrets(&self) -> Vec<(&'static str, &SecretSetting)> {
        let mut out: Vec<(&'static str, &SecretSetting)> = Vec::new();
        if let Some(c) = &self.client_secret {
            out.push(("client_secret", c));
        }
        if let Some(c) = &self.client_certificate {
            out.push(("client_certificate.private_key", &c.private_key));
        }
        out
    }

    fn endpoints(&self) -> Vec<(&'static str, &str)> {
        [
            ("graph_endpoint", &self.graph_endpoint),
            ("login_endpoint", &self.login_endpoint),
            ("exchange_endpoint", &self.exchange_endpoint),
        ]
        .into_iter()
        .filter_map(|(k, v)| v.as_deref().map(|v| (k, v)))
        .collect()
    }

    /// The worldwide service and the national clouds (US Government, China
    /// operated by 21Vianet).
    fn vendor_hosts(&self) -> &'static [&'static str] {
        &[
            "graph.microsoft.com",
            "login.microsoftonline.com",
            "outlook.office365.com",
            "graph.microsoft.us",
            "dod-graph.microsoft.us",
            "login.microsoftonline.us",
            "outlook.office365.us",
            "webmail.apps.mil",
            "microsoftgraph.chinacloudapi.cn",
            "login.chinacloudapi.cn",
            "partner.outlook.cn",
        ]
    }
}

fn trim(url: &str) -> String {
    url.trim_end_matches('/').to_string()
}

impl Config {
    /// Graph's base URL, without `/v1.0`.
    pub fn graph_endpoint(&self) -> String {
        trim(
            self.graph_endpoint
                .as_deref()
                .unwrap_or(DEFAULT_GRAPH_ENDPOINT),
        )
    }

    pub fn login_endpoint(&self) -> String {
        trim(
            self.login_endpoint
                .as_deref()
                .unwrap_or(DEFAULT_LOGIN_ENDPOINT),
        )
    }

    /// `{login}/{tenant}/oauth2/v2.0/token`.
    pub fn token_url(&self) -> String {
        format!(
            "{}/{}/oauth2/v2.0/token",
            self.login_endpoint(),
            self.tenant.trim()
        )
    }

    /// The scope asked for: the `.default` scope of the Graph resource,
    /// which grants the application permissions an admin consented to.
    /// Always the public Graph resource unless `graph_endpoint` is a
    /// national cloud's.
    pub fn scope(&self) -> String {
        match &self.graph_endpoint {
            Some(g) if g.starts_with("https://") => format!("{}/.default", trim(g)),
            _ => format!("{DEFAULT_GRAPH_ENDPOINT}/.default"),
        }
    }

    /// Whether the Exchange Online backend is on.
    pub fn exchange_enabled(&self) -> bool {
        self.exchange.as_ref().is_some_and(|e| e.enabled)
    }

    /// Whether DKIM signing is set up through Exchange Online
    /// (`exchange: {enabled: true, dkim: true}`).
    pub fn dkim_enabled(&self) -> bool {
        self.exchange.as_ref().is_some_and(|e| e.enabled && e.dkim)
    }

    /// Exchange Online's base URL.
    pub fn exchange_endpoint(&self) -> String {
        trim(
            self.exchange_endpoint
                .as_deref()
                .unwrap_or(DEFAULT_EXCHANGE_ENDPOINT),
        )
    }

    /// The scope of the second token, for Exchange Online: the public
    /// resource unless `exchange_endpoint` is another `https://` one.
    pub fn exchange_scope(&self) -> String {
        match &self.exchange_endpoint {
            Some(e) if e.starts_with("https://") => format!("{}/.default", trim(e)),
            _ => format!("{DEFAULT_EXCHANGE_ENDPOINT}/.default"),
        }
    }

    pub fn writes_per_second(&self) -> u32 {
        self.writes_per_second
            .unwrap_or(crate::client::WRITES_PER_SECOND)
            .max(1)
    }

    pub fn timeout(&self) -> Duration {
        Duration::from_secs(self.timeout_seconds.unwrap_or(60))
    }

    /// The credential: the certificate when `client_certificate` is set,
    /// else the client secret.
    pub fn credential(&self) -> Result<Credential, ProviderError> {
        let Some(c) = &self.client_certificate else {
            return self.client_secret().map(Credential::Secret);
        };
        let path = self.base_dir.join(&c.certificate);
        let bad = |why: String| {
            ProviderError::Permission(format!(
                "microsoft_365 `client_certificate.certificate` ({}): {why}",
                path.display()
            ))
        };
        let text = std::fs::read_to_string(&path).map_err(|e| bad(e.to_string()))?;
        let der = pem::parse_many(&text)
            .map_err(|e| bad(format!("not PEM: {e}")))?
            .into_iter()
            .find(|p| p.tag() == "CERTIFICATE")
            .ok_or_else(|| bad("no `-----BEGIN CERTIFICATE-----` block in it".into()))?;
        let thumbprint_s256 = {
            use base64::Engine;
            use sha2::Digest;
            base64::engine::general_purpose::URL_SAFE_NO_PAD
                .encode(sha2::Sha256::digest(der.contents()))
        };
        let key = c.private_key.resolve(&self.base_dir).map_err(|e| {
            ProviderError::Permission(format!(
                "microsoft_365 `client_certificate.private_key`: {e}"
            ))
        })?;
        // The key's text is never part of the message.
        let key = jsonwebtoken::EncodingKey::from_rsa_pem(key.expose().as_bytes()).map_err(|_| {
            ProviderError::Permission(
                "microsoft_365 `client_certificate.private_key` is not an RSA private key in PEM (`-----BEGIN PRIVATE KEY-----` or `-----BEGIN RSA PRIVATE KEY-----`)".into(),
            )
        })?;
        Ok(Credential::Certificate {
            thumbprint_s256,
            key,
        })
    }

    /// The client secret.
    pub fn client_secret(&self) -> Result<Secret, ProviderError> {
        match &self.client_secret {
            Some(s) => s.resolve(&self.base_dir).map_err(|e| {
                ProviderError::Permission(format!("microsoft_365 `client_secret`: {e}"))
            }),
            None => std::env::var(CLIENT_SECRET_ENV)
                .ok()
                .filter(|s| !s.is_empty())
                .map(Secret::new)
                .ok_or_else(|| {
                    ProviderError::Permission(format!(
                        "no client secret: set `client_secret: ${{env:NAME}}` in the microsoft_365 provider, or {CLIENT_SECRET_ENV}; create one in the Entra admin center → App registrations → your app → Certificates & secrets"
                    ))
                }),
        }
    }

    /// Checks what can be checked without the network.
    pub fn check(&self) -> Result<(), ProviderError> {
        if self.tenant.trim().is_empty() || self.tenant.contains('/') {
            return Err(ProviderError::Rejected(format!(
                "microsoft_365 `tenant` {:?} must be the tenant id or one of its domains",
                self.tenant
            )));
        }
        if self.client_id.trim().is_empty() {
            return Err(ProviderError::Rejected(
                "microsoft_365 `client_id` is empty: give the app registration's Application (client) ID".into(),
            ));
        }
        if self.client_secret.is_some() && self.client_certificate.is_some() {
            return Err(ProviderError::Rejected(
                "microsoft_365 has both `client_secret` and `client_certificate`: keep one (the certificate is Microsoft's recommendation)".into(),
            ));
        }
        if self.exchange.as_ref().is_some_and(|e| e.dkim && !e.enabled) {
            return Err(ProviderError::Rejected(
                "microsoft_365 `exchange.dkim` needs `exchange.enabled: true`: DKIM signing configs are Exchange Online objects".into(),
            ));
        }
        if let Some(u) = &self.usage_location {
            if u.len() != 2 || !u.chars().all(|c| c.is_ascii_alphabetic()) {
                return Err(ProviderError::Rejected(format!(
                    "microsoft_365 `usage_location` {u:?} must be a two-letter country code (ISO 3166-1 alpha-2, e.g. DE)"
                )));
            }
        }
        if let Some(l) = &self.default_licence {
            if l.trim().is_empty() || l.contains(char::is_whitespace) {
                return Err(ProviderError::Rejected(format!(
                    "microsoft_365 `default_licence` {l:?} must be a SKU part number such as ENTERPRISEPACK (Microsoft 365 admin center → Billing → Licenses, or GET /subscribedSkus)"
                )));
            }
            if self.usage_location.is_none() {
                return Err(ProviderError::Rejected(
                    "microsoft_365 `default_licence` needs `usage_location` (Microsoft assigns no licence to a user without one)".into(),
                ));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_default_to_the_public_cloud() {
        let c = Config {
            tenant: "contoso.onmicrosoft.com".into(),
            client_id: "x".into(),
            ..Config::default()
        };
        assert_eq!(
            c.token_url(),
            "https://login.microsoftonline.com/contoso.onmicrosoft.com/oauth2/v2.0/token"
        );
        assert_eq!(c.scope(), "https://graph.microsoft.com/.default");
        let cn = Config {
            graph_endpoint: Some("https://microsoftgraph.chinacloudapi.cn/".into()),
            ..c.clone()
        };
        assert_eq!(
            cn.scope(),
            "https://microsoftgraph.chinacloudapi.cn/.default"
        );
        assert!(c.check().is_ok());
        let bad = Config {
            usage_location: Some("Germany".into()),
            ..c
        };
        assert!(bad.check().is_err());
    }

    #[test]
    fn exchange_and_licence_settings() {
        let c = Config {
            tenant: "contoso.onmicrosoft.com".into(),
            client_id: "x".into(),
            ..Config::default()
        };
        assert!(!c.exchange_enabled());
        assert_eq!(c.exchange_endpoint(), "https://outlook.office365.com");
        assert_eq!(c.exchange_scope(), "https://outlook.office365.com/.default");
        let on = Config {
            exchange: Some(ExchangeSettings {
                enabled: true,
                ..ExchangeSettings::default()
            }),
            exchange_endpoint: Some("http://127.0.0.1:9/".into()),
            ..c.clone()
        };
        assert!(on.exchange_enabled());
        assert!(!on.dkim_enabled());
        let dkim_alone = Config {
            exchange: Some(ExchangeSettings {
                enabled: false,
                dkim: true,
            }),
            ..c.clone()
        };
        assert!(!dkim_alone.dkim_enabled());
        assert!(dkim_alone
            .check()
            .unwrap_err()
            .to_string()
            .contains("exchange.enabled"));
        let dkim = Config {
            exchange: Some(ExchangeSettings {
                enabled: true,
                dkim: true,
            }),
            ..c.clone()
        };
        assert!(dkim.dkim_enabled() && dkim.check().is_ok());
        assert_eq!(on.exchange_endpoint(), "http://127.0.0.1:9");
        // A fake's http:// endpoint keeps the public resource's scope.
        assert_eq!(
            on.exchange_scope(),
            "https://outlook.office365.com/.default"
        );
        let licence = Config {
            default_licence: Some("ENTERPRISEPACK".into()),
            ..c.clone()
        };
        assert!(licence
            .check()
            .unwrap_err()
            .to_string()
            .contains("usage_location"));
        let ok = Config {
            usage_location: Some("DE".into()),
            ..licence
        };
        assert!(ok.check().is_ok());
        assert!(Config {
            default_licence: Some("E3 licence".into()),
            ..ok
        }
        .check()
        .is_err());
        assert_eq!(c.writes_per_second(), 20);
    }
}
