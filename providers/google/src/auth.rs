//! Service-account tokens with domain-wide delegation: an RS256 JWT
//! (`iss` = the service account, `sub` = the admin acted for, `scope`,
//! `aud` = the token endpoint, `iat`, `exp` one hour later) exchanged at
//! the token endpoint (`grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer`).
//!
//! A run asks only for the scopes it needs — read-only ones for `plan` —
//! and keeps each token until a minute before it expires.

use std::collections::BTreeMap;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use mailform_contract::{ProviderError, Secret};
use mailform_http::{header, HttpClient, Idempotence, Method, Url};
use serde::{Deserialize, Serialize};
use tokio::sync::Mutex;

use crate::api::{TokenError, TokenResponse};

/// The OAuth scopes mailform uses.
pub mod scopes {
    pub const USER_READONLY: &str = "https://www.googleapis.com/auth/admin.directory.user.readonly";
    pub const USER: &str = "https://www.googleapis.com/auth/admin.directory.user";
    pub const GROUP_READONLY: &str =
        "https://www.googleapis.com/auth/admin.directory.group.readonly";
    pub const GROUP: &str = "https://www.googleapis.com/auth/admin.directory.group";
    pub const GROUPS_SETTINGS: &str = "https://www.googleapis.com/auth/apps.groups.settings";
    /// Ending a user's sessions (`users.signOut` accepts no other scope),
    /// when offboarding.
    pub const USER_SECURITY: &str = "https://www.googleapis.com/auth/admin.directory.user.security";

    /// Reading a user's forwarding (as that user), for offboarded users.
    pub const GMAIL_SETTINGS_BASIC: &str = "https://www.googleapis.com/auth/gmail.settings.basic";
    /// Setting a user's forwarding (as that user), when offboarding.
    pub const GMAIL_SETTINGS_SHARING: &str =
        "https://www.googleapis.com/auth/gmail.settings.sharing";
    /// Transferring Drive and Calendar data, when offboarding.
    pub const DATA_TRANSFER: &str = "https://www.googleapis.com/auth/admin.datatransfer";

    /// Checking that a mail domain is a verified domain of the tenant.
    pub const DOMAIN_READONLY: &str =
        "https://www.googleapis.com/auth/admin.directory.domain.readonly";

    /// Adding a domain to the tenant, when onboarding it.
    pub const DOMAIN: &str = "https://www.googleapis.com/auth/admin.directory.domain";
    /// A domain's verification token and its verification (Site
    /// Verification API), only for a domain not verified yet.
    pub const SITE_VERIFICATION: &str = "https://www.googleapis.com/auth/siteverification";
    /// What finishing a domain's onboarding needs.
    pub const ONBOARD: &[&str] = &[SITE_VERIFICATION, DOMAIN];

    /// What `plan` needs. Groups Settings has no read-only scope.
    pub const READ: &[&str] = &[
        USER_READONLY,
        GROUP_READONLY,
        GROUPS_SETTINGS,
        DOMAIN_READONLY,
    ];
    /// What `apply` needs.
    pub const WRITE: &[&str] = &[USER, GROUP, GROUPS_SETTINGS];

    /// Every scope mailform asks for: what the README tells an admin to
    /// delegate to the service account (a test holds the two together),
    /// and what the fake tenant delegates by default.
    pub const DELEGATED: &[&str] = &[
        USER,
        USER_READONLY,
        GROUP,
        GROUP_READONLY,
        DOMAIN_READONLY,
        GROUPS_SETTINGS,
        SITE_VERIFICATION,
        DOMAIN,
        GMAIL_SETTINGS_BASIC,
        GMAIL_SETTINGS_SHARING,
        DATA_TRANSFER,
        USER_SECURITY,
    ];
}

/// The fields of a service-account key file mailform uses.
#[derive(Clone, Deserialize)]
pub struct ServiceAccountKey {
    #[serde(rename = "type")]
    pub key_type: String,
    pub client_email: String,
    #[serde(default)]
    pub client_id: String,
    pub private_key: String,
}

impl std::fmt::Debug for ServiceAccountKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServiceAccountKey")
            .field("client_email", &self.client_email)
            .field("client_id", &self.client_id)
            .finish_non_exhaustive()
    }
}

impl ServiceAccountKey {
    pub fn parse(json: &Secret) -> Result<ServiceAccountKey, ProviderError> {
        let key: ServiceAccountKey = serde_json::from_str(json.expose()).map_err(|e| {
            // serde's message quotes no input values, only positions.
            ProviderError::Permission(format!(
                "the service-account key is not a Google key file (JSON with client_email and private_key): {e}"
            ))
        })?;
        if key.key_type != "service_account" {
            return Err(ProviderError::Permission(format!(
                "the key file is of type `{}`; domain-wide delegation needs a service-account key (`\"type\": \"service_account\"`)",
                key.key_type
            )));
        }
        Ok(key)
    }
}

#[derive(Serialize)]
struct Claims<'a> {
    iss: &'a str,
    sub: &'a str,
    scope: String,
    aud: &'a str,
    iat: u64,
    exp: u64,
}

struct Cached {
    token: Secret,
    valid_until: Instant,
}

/// Issues and caches access tokens for one service account and admin.
pub struct TokenSource {
    key: ServiceAccountKey,
    encoding: EncodingKey,
    admin: String,
    endpoint: Url,
    cache: Mutex<BTreeMap<String, Cached>>,
}

impl TokenSource {
    pub fn new(
        key: ServiceAccountKey,
        admin: &str,
        endpoint: &str,
    ) -> Result<TokenSource, ProviderError> {
        let encoding = EncodingKey::from_rsa_pem(key.private_key.as_bytes()).map_err(|e| {
            ProviderError::Permission(format!(
                "the service-account key's private_key is not an RSA key in PEM form: {e}"
            ))
        })?;
        let endpoint = Url::parse(endpoint).map_err(|e| {
            ProviderError::Rejected(format!("`token_endpoint` {endpoint:?} is not a URL: {e}"))
        })?;
        Ok(TokenSource {
            key,
            encoding,
            admin: admin.to_string(),
            endpoint,
            cache: Mutex::default(),
        })
    }

    pub fn client_id(&self) -> &str {
        &self.key.client_id
    }

    /// A token for `scopes`, acting as the admin, from the cache or
    /// freshly issued.
    pub async fn token(&self, http: &HttpClient, scopes: &[&str]) -> Result<Secret, ProviderError> {
        self.token_as(http, None, scopes).await
    }

    /// A token acting as `subject` (a user of the tenant: Gmail settings
    /// are changed as the mailbox's owner), or as the admin when `None`.
    pub async fn token_as(
        &self,
        http: &HttpClient,
        subject: Option<&str>,
        scopes: &[&str],
    ) -> Result<Secret, ProviderError> {
        let scope = scopes.join(" ");
        let sub = subject.unwrap_or(&self.admin).to_string();
        let cache_key = format!("{sub} {scope}");
        let mut cache = self.cache.lock().await;
        if let Some(c) = cache.get(&cache_key) {
            if c.valid_until > Instant::now() {
                return Ok(c.token.clone());
            }
        }
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_secs();
        let claims = Claims {
            iss: &self.key.client_email,
            sub: &sub,
            scope: scope.clone(),
            aud: self.endpoint.as_str(),
            iat: now,
            exp: now + 3600,
        };
        let assertion =
            jsonwebtoken::encode(&Header::new(Algorithm::RS256), &claims, &self.encoding).map_err(
                |e| ProviderError::Permission(format!("cannot sign the token request: {e}")),
            )?;
        http.redact(&assertion);
        let body = format!(
            "grant_type={}&assertion={}",
            "urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Ajwt-bearer", assertion
        );
        let request = http
            .request(Method::POST, self.endpoint.clone())
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(body);
        // Issuing a token changes nothing: safe to repeat.
        let response = http
            .send(request, Idempotence::Idempotent)
            .await
            .map_err(|e| ProviderError::Service(format!("token request: {e}")))?;
        let status = response.status();
        let text = response
            .text()
            .await
            .map_err(|e| ProviderError::Service(format!("token request: {e}")))?;
        if !status.is_success() {
            let err: TokenError = serde_json::from_str(&text).unwrap_or_default();
            return Err(self.token_error(status.as_u16(), &err, &scope, &sub));
        }
        let t: TokenResponse = serde_json::from_str(&text).map_err(|e| {
            ProviderError::Parse(format!("the token endpoint's answer is not a token: {e}"))
        })?;
        http.redact(&t.access_token);
        let lifetime = Duration::from_secs(t.expires_in.unwrap_or(3600));
        let token = Secret::new(t.access_token);
        cache.insert(
            cache_key,
            Cached {
                token: token.clone(),
                valid_until: Instant::now() + lifetime.saturating_sub(Duration::from_secs(60)),
            },
        );
        Ok(token)
    }

    fn token_error(&self, status: u16, err: &TokenError, scope: &str, sub: &str) -> ProviderError {
        match err.error.as_str() {
            "unauthorized_client" | "access_denied" => ProviderError::Permission(format!(
                "Google refused to issue a token for {} acting as {} ({}: {}). Grant domain-wide delegation: in the Admin console open Security → Access and data control → API controls → Manage Domain Wide Delegation, add client ID {} with the scopes {}",
                self.key.client_email,
                sub,
                err.error,
                err.error_description,
                if self.key.client_id.is_empty() { "<the key's client_id>" } else { &self.key.client_id },
                scope.replace(' ', ",")
            )),
            "invalid_grant" => ProviderError::Permission(format!(
                "Google refused the token request ({}): check that {} exists in the tenant (as `admin`, an administrator), that the key has not been deleted, and that this machine's clock is right",
                err.error_description, sub
            )),
            _ => ProviderError::Permission(format!(
                "the token endpoint answered HTTP {status}: {} {}",
                err.error, err.error_description
            )),
        }
    }
}
