//! Authorised JSON calls to Google's APIs over the shared HTTP client.
//!
//! The shared client paces requests (the tenant's quota), retries 429 after
//! `Retry-After` and retries reads after 5xx and dropped connections. This
//! module adds what is Google's own: 403 answers whose reason is
//! `userRateLimitExceeded`, `rateLimitExceeded` or `quotaExceeded`, and 412
//! / "User creation is not complete" answers right after a user is created
//! or while another alias edit runs, are refusals — nothing was done — so
//! any request, writes included, is retried after a backoff with jitter.
//! A write answered 5xx or lost on the way is never repeated.

use std::time::Duration;

use mailform_contract::ProviderError;
use mailform_http::{
    header, ClientConfig, HttpClient, HttpError, Idempotence, Method, RateLimit, Retry, Url,
};
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::api::ErrorBody;
use crate::auth::TokenSource;

/// A call that got no usable answer.
#[derive(Debug, Clone)]
pub enum CallError {
    /// Google answered with its error envelope.
    Api {
        status: u16,
        reason: String,
        message: String,
    },
    /// No answer. `sent`: the request may have reached Google.
    Transport { message: String, sent: bool },
    /// Getting a token failed.
    Auth(ProviderError),
    /// An answer that could not be understood.
    Parse(String),
}

impl CallError {
    fn refused_for_now(&self) -> bool {
        match self {
            CallError::Api {
                status: 403,
                reason,
                ..
            } => matches!(
                reason.as_str(),
                "userRateLimitExceeded" | "rateLimitExceeded" | "quotaExceeded"
            ),
            CallError::Api { status: 412, .. } => true,
            CallError::Api { message, .. } => message.contains("creation is not complete"),
            _ => false,
        }
    }
}

/// How many times a refused-for-now request is tried in all.
const REFUSAL_ATTEMPTS: u32 = 8;

pub struct Api {
    http: HttpClient,
    tokens: TokenSource,
    retry: Retry,
}

impl Api {
    pub fn new(
        tokens: TokenSource,
        queries_per_minute: u32,
        timeout: Duration,
        retry: Retry,
    ) -> Result<Api, ProviderError> {
        let http = HttpClient::new(ClientConfig {
            rate_limit: Some(RateLimit {
                requests: queries_per_minute,
                per: Duration::from_secs(60),
            }),
            retry,
            timeout,
            ..ClientConfig::default()
        })
        .map_err(|e| ProviderError::Service(e.to_string()))?;
        Ok(Api {
            http,
            tokens,
            retry,
        })
    }

    pub fn requests_sent(&self) -> u64 {
        self.http.requests_sent()
    }

    pub fn client_id(&self) -> &str {
        self.tokens.client_id()
    }

    /// A read, authorised with `scopes`.
    pub async fn get<T: DeserializeOwned>(
        &self,
        url: Url,
        scopes: &[&str],
    ) -> Result<T, CallError> {
        self.call::<(), T>(Method::GET, url, None, scopes, Idempotence::Idempotent)
            .await
    }

    pub async fn send<B: Serialize, T: DeserializeOwned>(
        &self,
        method: Method,
        url: Url,
        body: Option<&B>,
        scopes: &[&str],
    ) -> Result<T, CallError> {
        let idempotence = if method == Method::PUT {
            Idempotence::Idempotent
        } else {
            Idempotence::NonIdempotent
        };
        self.call(method, url, body, scopes, idempotence).await
    }

    async fn call<B: Serialize, T: DeserializeOwned>(
        &self,
        method: Method,
        url: Url,
        body: Option<&B>,
        scopes: &[&str],
        idempotence: Idempotence,
    ) -> Result<T, CallError> {
        let body = body
            .map(serde_json::to_vec)
            .transpose()
            .map_err(|e| CallError::Parse(e.to_string()))?;
        let mut attempt = 0;
        loop {
            attempt += 1;
            let result = self
                .attempt(
                    method.clone(),
                    url.clone(),
                    body.clone(),
                    scopes,
                    idempotence,
                )
                .await;
            match result {
                Err(e) if e.refused_for_now() && attempt < REFUSAL_ATTEMPTS => {
                    let wait = self.retry.delay(attempt, None) + jitter(self.retry.base);
                    tracing::warn!(%method, %url, attempt, ?wait, error = ?e, "refused for now; retrying");
                    tokio::time::sleep(wait).await;
                }
                other => return other,
            }
        }
    }

    async fn attempt<T: DeserializeOwned>(
        &self,
        method: Method,
        url: Url,
        body: Option<Vec<u8>>,
        scopes: &[&str],
        idempotence: Idempotence,
    ) -> Result<T, CallError> {
        let token = self
            .tokens
            .token(&self.http, scopes)
            .await
            .map_err(CallError::Auth)?;
        let mut request = self
            .http
            .request(method.clone(), url)
            .header(header::AUTHORIZATION, format!("Bearer {}", token.expose()));
        if let Some(b) = body {
            request = request
                .header(header::CONTENT_TYPE, "application/json")
                .body(b);
        }
        let response = match self.http.send(request, idempotence).await {
            Ok(r) => r,
            Err(HttpError::Transport { message, sent, .. }) => {
                return Err(CallError::Transport { message, sent })
            }
            Err(e) => {
                return Err(CallError::Transport {
                    message: e.to_string(),
                    sent: false,
                })
            }
        };
        let status = response.status().as_u16();
        let text = response.text().await.map_err(|e| CallError::Transport {
            message: self.http.scrub(&format!("reading the answer: {e}")),
            sent: true,
        })?;
        if (200..300).contains(&status) {
            // DELETE answers 204 with no body.
            let text = if text.trim().is_empty() {
                "null"
            } else {
                &text
            };
            return serde_json::from_str(text)
                .map_err(|e| CallError::Parse(format!("{method} answer: {e}")));
        }
        let err: ErrorBody = serde_json::from_str(&text).unwrap_or_default();
        Err(CallError::Api {
            status,
            reason: err
                .error
                .errors
                .first()
                .map(|e| e.reason.clone())
                .unwrap_or_default(),
            message: self.http.scrub(if err.error.message.is_empty() {
                &text
            } else {
                &err.error.message
            }),
        })
    }
}

/// Up to one `base` of extra wait, so parallel runs do not retry in step.
fn jitter(base: Duration) -> Duration {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default()
        .subsec_nanos() as u64;
    Duration::from_nanos(nanos % (base.as_nanos() as u64).max(1))
}
