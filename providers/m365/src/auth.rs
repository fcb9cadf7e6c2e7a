//! App-only tokens through the OAuth 2.0 client-credentials grant:
//! `POST {login}/{tenant}/oauth2/v2.0/token` with `client_id`,
//! `scope=https://graph.microsoft.com/.default`,
//! `grant_type=client_credentials` and either `client_secret` or a signed
//! `client_assertion`. A token is kept until a minute before it expires.
//!
//! The client assertion follows Microsoft's "certificate credentials" page
//! (learn.microsoft.com/entra/identity-platform/certificate-credentials):
//! a JWT signed PS256 with the certificate's key, header `x5t#S256` = the
//! base64url SHA-256 thumbprint of the certificate's DER, claims `aud` =
//! the token endpoint, `iss` = `sub` = the client id, a fresh `jti`,
//! `nbf`/`iat` now and `exp` ten minutes later. A new one is signed for
//! each token request.
//!
//! The `.default` scope grants whatever application permissions an admin
//! has consented to; a missing one shows only later, as a 403
//! `Authorization_RequestDenied` from Graph, which [`permissions`] names.

use std::time::{Duration, Instant};

use mailform_contract::{ProviderError, Secret};
use mailform_http::{HttpClient, Idempotence, Method, Url};
use tokio::sync::Mutex;

use crate::api::{TokenError, TokenResponse};
use crate::config::Credential;

/// The application permissions (Graph app roles) mailform uses.
pub mod permissions {
    /// Users: read for plans, create/update/delete for applies.
    pub const USERS: &str = "User.ReadWrite.All";
    /// Microsoft 365 groups and their members.
    pub const GROUPS: &str = "Group.ReadWrite.All";
    /// The tenant's domains (which is the default one, for new groups).
    pub const DOMAINS: &str = "Domain.Read.All";
    /// The tenant itself and its subscriptions (`default_licence`).
    pub const ORGANIZATION: &str = "Organization.Read.All";
    /// Adding and verifying domains, and setting what they are used for
    /// (onboarding only; plans and everyday applies need [`DOMAINS`]).
    pub const DOMAINS_WRITE: &str = "Domain.ReadWrite.All";
    /// All of them, as an admin grants them for everyday use (onboarding
    /// domains also needs [`DOMAINS_WRITE`]).
    pub const ALL: &[&str] = &[USERS, GROUPS, DOMAINS, ORGANIZATION];
    /// Where they are granted.
    pub const WHERE: &str = "Entra admin center → App registrations → your app → API permissions → Add a permission → Microsoft Graph → Application permissions, then Grant admin consent";
}

struct Cached {
    token: Secret,
    valid_until: Instant,
}

/// Issues and caches access tokens for one app registration.
pub struct TokenSource {
    client_id: String,
    credential: Credential,
    tenant: String,
    scope: String,
    endpoint: Url,
    cache: Mutex<Option<Cached>>,
}

impl TokenSource {
    pub fn new(
        client_id: &str,
        credential: Credential,
        tenant: &str,
        scope: &str,
        endpoint: &str,
    ) -> Result<TokenSource, ProviderError> {
        let endpoint = Url::parse(endpoint).map_err(|e| {
            ProviderError::Rejected(format!("`login_endpoint` gives no URL ({endpoint:?}): {e}"))
        })?;
        Ok(TokenSource {
            client_id: client_id.trim().to_string(),
            credential,
            tenant: tenant.trim().to_string(),
            scope: scope.to_string(),
            endpoint,
            cache: Mutex::default(),
        })
    }

    pub fn client_id(&self) -> &str {
        &self.client_id
    }

    /// A token, from the cache or freshly issued.
    pub async fn token(&self, http: &HttpClient) -> Result<Secret, ProviderError> {
        let mut cache = self.cache.lock().await;
        if let Some(c) = cache.as_ref() {
            if c.valid_until > Instant::now() {
                return Ok(c.token.clone());
            }
        }
        let proof = match &self.credential {
            Credential::Secret(secret) => {
                http.redact(secret.expose());
                ("client_secret", secret.clone())
            }
            Credential::Certificate {
                thumbprint_s256,
                key,
            } => {
                let assertion = Secret::new(self.assertion(thumbprint_s256, key)?);
                http.redact(assertion.expose());
                ("client_assertion", assertion)
            }
        };
        let mut form = vec![
            ("client_id", self.client_id.as_str()),
            (proof.0, proof.1.expose()),
            ("scope", self.scope.as_str()),
            ("grant_type", "client_credentials"),
        ];
        if proof.0 == "client_assertion" {
            form.push((
                "client_assertion_type",
                "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
            ));
        }
        let request = http
            .request(Method::POST, self.endpoint.clone())
            .form(&form);
        // Issuing a token changes nothing: safe to repeat.
        let response = http
            .send(request, Idempotence::Idempotent)
            .await
            .map_err(|e| ProviderError::Service(format!("token request: {e}")))?;
        let status = response.status();
        let text = response
            .text()
            .await
            .map_err(|e| ProviderError::Service(http.scrub(&format!("token request: {e}"))))?;
        if !status.is_success() {
            let err: TokenError = serde_json::from_str(&text).unwrap_or_default();
            return Err(self.token_error(status.as_u16(), &err, http));
        }
        let t: TokenResponse = serde_json::from_str(&text).map_err(|e| {
            ProviderError::Parse(format!("the token endpoint's answer is not a token: {e}"))
        })?;
        http.redact(&t.access_token);
        let lifetime = Duration::from_secs(t.expires_in.unwrap_or(3599));
        let token = Secret::new(t.access_token);
        *cache = Some(Cached {
            token: token.clone(),
            valid_until: Instant::now() + lifetime.saturating_sub(Duration::from_secs(60)),
        });
        Ok(token)
    }

    /// A client assertion signed with the certificate's key.
    fn assertion(
        &self,
        thumbprint_s256: &str,
        key: &jsonwebtoken::EncodingKey,
    ) -> Result<String, ProviderError> {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        let mut jti = [0u8; 16];
        getrandom::fill(&mut jti)
            .map_err(|e| ProviderError::Service(format!("no randomness for the assertion: {e}")))?;
        let claims = serde_json::json!({
            "aud": self.endpoint.as_str(),
            "iss": self.client_id,
            "sub": self.client_id,
            "jti": jti.iter().map(|b| format!("{b:02x}")).collect::<String>(),
            "nbf": now,
            "iat": now,
            "exp": now + 600,
        });
        let header = jsonwebtoken::Header {
            typ: Some("JWT".into()),
            x5t_s256: Some(thumbprint_s256.to_string()),
            ..jsonwebtoken::Header::new(jsonwebtoken::Algorithm::PS256)
        };
        jsonwebtoken::encode(&header, &claims, key)
            .map_err(|e| ProviderError::Permission(format!("signing the client assertion: {e}")))
    }

    /// Drops `token` from the cache (Graph refused it), so the next call
    /// fetches a new one.
    pub async fn forget(&self, token: &Secret) {
        let mut cache = self.cache.lock().await;
        if cache.as_ref().is_some_and(|c| c.token == *token) {
            *cache = None;
        }
    }

    fn token_error(&self, status: u16, err: &TokenError, http: &HttpClient) -> ProviderError {
        // The description's first line carries the AADSTS code and text;
        // the rest is trace and correlation ids.
        let description = http.scrub(err.error_description.lines().next().unwrap_or("").trim());
        let has = |code: u64, text: &str| {
            err.error_codes.contains(&code) || description.starts_with(text)
        };
        let app = &self.client_id;
        let tenant = &self.tenant;
        if has(7_000_215, "AADSTS7000215") {
            ProviderError::Permission(format!(
                "Microsoft refused the client secret of app {app} (AADSTS7000215, invalid client secret): give the secret's Value, not its Secret ID; create a new one in the Entra admin center → App registrations → {app} → Certificates & secrets. ({description})"
            ))
        } else if has(7_000_222, "AADSTS7000222") {
            ProviderError::Permission(format!(
                "the client secret of app {app} has expired (AADSTS7000222): create a new one in the Entra admin center → App registrations → {app} → Certificates & secrets. ({description})"
            ))
        } else if has(700_027, "AADSTS700027") {
            ProviderError::Permission(format!(
                "Microsoft refused the client assertion of app {app} (AADSTS700027): the certificate in `client_certificate.certificate` is not one of the app's certificates, or the key is not its key; upload the certificate in the Entra admin center → App registrations → {app} → Certificates & secrets → Certificates. ({description})"
            ))
        } else if has(700_024, "AADSTS700024") {
            ProviderError::Permission(format!(
                "Microsoft found the client assertion of app {app} outside its valid time (AADSTS700024): check this machine's clock. ({description})"
            ))
        } else if has(700_016, "AADSTS700016") {
            ProviderError::Permission(format!(
                "no app {app} in tenant {tenant} (AADSTS700016, application not found): check `client_id` (the app's Application (client) ID) and `tenant`; an app registered in another tenant must be consented to in this one (Entra admin center → Enterprise applications). ({description})"
            ))
        } else if has(90_002, "AADSTS90002") || has(900_023, "AADSTS900023") {
            ProviderError::Permission(format!(
                "tenant {tenant:?} does not exist (AADSTS90002): give its directory id or a domain it holds, e.g. contoso.onmicrosoft.com. ({description})"
            ))
        } else if status == 429 || status >= 500 {
            ProviderError::Service(format!(
                "the token endpoint answered HTTP {status}: {} {description}",
                err.error
            ))
        } else {
            ProviderError::Permission(format!(
                "the token endpoint refused app {app} in tenant {tenant} (HTTP {status} {}): {description}",
                err.error
            ))
        }
    }
}
