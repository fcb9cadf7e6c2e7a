//! Signed RPC calls over the shared HTTP client.
//!
//! Each attempt is a `POST /` with the parameters as a form body, signed
//! afresh (new `SignatureNonce` and `Timestamp`: the service refuses a nonce
//! it has seen, so a byte-identical resend would fail). That is why the
//! shared client is built with one attempt and this module retries itself:
//! - `Throttling*` answers (HTTP 400 or 503 with the code in the body: the
//!   request was refused before being processed) — any action, after
//!   exponential backoff (or `Retry-After` when sent);
//! - connections never established — any action;
//! - 5xx answers and lost answers — reads only: a write whose fate is
//!   unknown is never sent again; the error says to plan again.
//!
//! The shared client still paces requests and counts them, and the secret
//! is registered with it for redaction.

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime};

use mailform_http::{
    header, ClientConfig, HttpClient, HttpError, Idempotence, Method, RateLimit, Retry, Url,
};
use serde::de::DeserializeOwned;

use crate::api::ErrorBody;
use crate::config::{Config, Credentials};
use crate::errors::is_throttling;
use crate::signer;

/// A call that got no usable answer.
#[derive(Debug, Clone)]
pub enum CallError {
    /// The service answered with its error envelope.
    Api {
        status: u16,
        code: String,
        message: String,
        request_id: String,
    },
    /// No answer. `sent`: the request may have reached the service.
    Transport { message: String, sent: bool },
    /// An answer that could not be understood.
    Parse(String),
}

/// The Alidns API with one AccessKey.
#[derive(Debug)]
pub struct Api {
    http: HttpClient,
    endpoint: Url,
    credentials: Credentials,
    retry: Retry,
}

impl Api {
    pub fn new(config: &Config, credentials: Credentials, retry: Retry) -> Result<Api, String> {
        let endpoint = Url::parse(&config.endpoint()).map_err(|e| {
            format!(
                "the alidns `endpoint` {:?} is not a URL: {e}",
                config.endpoint()
            )
        })?;
        let http = HttpClient::new(ClientConfig {
            // Alibaba Cloud sets per-API, per-account limits (Quota Center,
            // "API rate limits"); pace to 50 calls a second so a large apply
            // slows down rather than collects `Throttling.User` answers.
            rate_limit: Some(RateLimit {
                requests: 50,
                per: Duration::from_secs(1),
            }),
            // One attempt: every retry must be signed afresh (see module doc).
            retry: Retry {
                max_attempts: 1,
                ..Retry::default()
            },
            timeout: config.timeout(),
            ..ClientConfig::default()
        })
        .map_err(|e| e.to_string())?;
        http.redact(credentials.secret.expose());
        Ok(Api {
            http,
            endpoint,
            credentials,
            retry,
        })
    }

    pub fn requests_sent(&self) -> u64 {
        self.http.requests_sent()
    }

    /// `text` with the secret hidden.
    pub fn scrub(&self, text: &str) -> String {
        self.http.scrub(text)
    }

    /// Calls `action` with `params`; decodes the answer as `T`.
    pub async fn call<T: DeserializeOwned>(
        &self,
        action: &str,
        params: &[(&str, String)],
        idempotence: Idempotence,
    ) -> Result<T, CallError> {
        let mut attempt = 0;
        loop {
            attempt += 1;
            let last = attempt >= self.retry.max_attempts;
            let (result, retry_after) = self.attempt(action, params, idempotence).await;
            let retryable = match &result {
                Ok(_) => false,
                Err(CallError::Api { code, .. }) if is_throttling(code) => true,
                Err(CallError::Api { status, .. }) => {
                    *status >= 500 && idempotence == Idempotence::Idempotent
                }
                Err(CallError::Transport { sent, .. }) => {
                    !sent || idempotence == Idempotence::Idempotent
                }
                Err(CallError::Parse(_)) => false,
            };
            if !retryable || last {
                return result;
            }
            let wait = self.retry.delay(attempt, retry_after);
            tracing::warn!(action, attempt, ?wait, error = ?result.as_ref().err(), "retrying");
            tokio::time::sleep(wait).await;
        }
    }

    async fn attempt<T: DeserializeOwned>(
        &self,
        action: &str,
        params: &[(&str, String)],
        idempotence: Idempotence,
    ) -> (Result<T, CallError>, Option<Duration>) {
        let mut all: BTreeMap<String, String> = params
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect();
        for (k, v) in [
            ("AccessKeyId", self.credentials.key_id.clone()),
            ("Action", action.to_string()),
            ("Format", "JSON".to_string()),
            ("SignatureMethod", "HMAC-SHA1".to_string()),
            ("SignatureNonce", signer::nonce()),
            ("SignatureVersion", "1.0".to_string()),
            ("Timestamp", signer::timestamp(SystemTime::now())),
            ("Version", signer::VERSION.to_string()),
        ] {
            all.insert(k.to_string(), v);
        }
        let body = signer::signed_form("POST", &all, self.credentials.secret.expose());
        let request = self
            .http
            .request(Method::POST, self.endpoint.clone())
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(body);
        let response = match self.http.send(request, idempotence).await {
            Ok(r) => r,
            Err(HttpError::Transport { message, sent, .. }) => {
                return (
                    Err(CallError::Transport {
                        message: format!("{action}: {message}"),
                        sent,
                    }),
                    None,
                )
            }
            Err(e) => {
                return (
                    Err(CallError::Transport {
                        message: e.to_string(),
                        sent: false,
                    }),
                    None,
                )
            }
        };
        let status = response.status().as_u16();
        let retry_after = response
            .headers()
            .get(header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map(Duration::from_secs);
        let text = match response.text().await {
            Ok(t) => t,
            Err(e) => {
                return (
                    Err(CallError::Transport {
                        message: self.scrub(&format!("{action}: reading the answer: {e}")),
                        sent: true,
                    }),
                    None,
                )
            }
        };
        if (200..300).contains(&status) {
            return (
                serde_json::from_str(&text).map_err(|e| {
                    CallError::Parse(format!(
                        "{action}: unexpected answer ({e}): {}",
                        self.scrub(&truncate(&text))
                    ))
                }),
                None,
            );
        }
        let result = match serde_json::from_str::<ErrorBody>(&text) {
            Ok(b) if !b.code.is_empty() => CallError::Api {
                status,
                code: b.code,
                message: self.scrub(&b.message),
                request_id: b.request_id,
            },
            _ => CallError::Api {
                status,
                code: format!("HTTP{status}"),
                message: self.scrub(&truncate(&text)),
                request_id: String::new(),
            },
        };
        (Err(result), retry_after)
    }
}

fn truncate(s: &str) -> String {
    match s.char_indices().nth(300) {
        Some((i, _)) => format!("{}...", &s[..i]),
        None => s.to_string(),
    }
}
