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

use serde_json::Value;

use crate::api::ErrorBody;
use crate::auth::TokenSource;
use crate::batch;

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
    pub(crate) fn refused_for_now(&self) -> bool {
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

    /// A POST that changes nothing (Site Verification's `getToken`), so it
    /// may be retried like a read.
    pub async fn post_read<B: Serialize, T: DeserializeOwned>(
        &self,
        url: Url,
        body: &B,
        scopes: &[&str],
    ) -> Result<T, CallError> {
        self.call(
            Method::POST,
            url,
            Some(body),
            scopes,
            Idempotence::Idempotent,
        )
        .await
    }

    /// A single call acting as `subject` (a user; the admin when `None`).
    pub async fn send_as<B: Serialize, T: DeserializeOwned>(
        &self,
        subject: Option<&str>,
        method: Method,
        url: Url,
        body: Option<&B>,
        scopes: &[&str],
    ) -> Result<T, CallError> {
        let idempotence = if method == Method::GET || method == Method::PUT {
            Idempotence::Idempotent
        } else {
            Idempotence::NonIdempotent
        };
        self.call_as(subject, method, url, body, scopes, idempotence)
            .await
    }

    async fn call<B: Serialize, T: DeserializeOwned>(
        &self,
        method: Method,
        url: Url,
        body: Option<&B>,
        scopes: &[&str],
        idempotence: Idempotence,
    ) -> Result<T, CallError> {
        self.call_as(None, method, url, body, scopes, idempotence)
            .await
    }

    async fn call_as<B: Serialize, T: DeserializeOwned>(
        &self,
        subject: Option<&str>,
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
                    subject,
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
        subject: Option<&str>,
        method: Method,
        url: Url,
        body: Option<Vec<u8>>,
        scopes: &[&str],
        idempotence: Idempotence,
    ) -> Result<T, CallError> {
        let mut request = self
            .authorized(subject, method.clone(), url, scopes)
            .await?;
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
        Err(api_error(status, &text, &self.http))
    }
}

impl Api {
    /// A request carrying a token for `scopes`, acting as `subject` (the
    /// admin when `None`).
    async fn authorized(
        &self,
        subject: Option<&str>,
        method: Method,
        url: Url,
        scopes: &[&str],
    ) -> Result<mailform_http::RequestBuilder, CallError> {
        let token = self
            .tokens
            .token_as(&self.http, subject, scopes)
            .await
            .map_err(CallError::Auth)?;
        Ok(self
            .http
            .request(method, url)
            .header(header::AUTHORIZATION, format!("Bearer {}", token.expose())))
    }

    /// Sends `calls` through the batch endpoint `endpoint`, up to
    /// [`batch::MAX_CALLS`] a request, and returns one result per call in
    /// order. Calls refused for now (quota, 412, 429) are sent again in a
    /// later batch after a backoff; a write answered 5xx, or a batch whose
    /// answer was lost, is not sent again.
    pub async fn batch(
        &self,
        endpoint: &Url,
        calls: &[batch::Call],
        scopes: &[&str],
    ) -> Vec<Result<Value, CallError>> {
        let mut results: Vec<Option<Result<Value, CallError>>> = vec![None; calls.len()];
        let mut pending: Vec<usize> = (0..calls.len()).collect();
        let mut attempt = 0;
        while !pending.is_empty() {
            attempt += 1;
            let last = attempt >= REFUSAL_ATTEMPTS;
            let mut again = Vec::new();
            for chunk in pending.chunks(batch::MAX_CALLS) {
                let sent: Vec<batch::Call> = chunk.iter().map(|&i| calls[i].clone()).collect();
                match self.send_batch(endpoint, &sent, scopes).await {
                    Ok(answers) => {
                        for (&i, answer) in chunk.iter().zip(answers) {
                            match answer {
                                Err(e) if e.refused_for_now() && !last => again.push(i),
                                other => results[i] = Some(other),
                            }
                        }
                    }
                    Err(e) => {
                        for &i in chunk {
                            results[i] = Some(Err(e.clone()));
                        }
                    }
                }
            }
            if !again.is_empty() {
                let wait = self.retry.delay(attempt, None) + jitter(self.retry.base);
                tracing::warn!(
                    calls = again.len(),
                    attempt,
                    ?wait,
                    "batched calls refused for now; retrying"
                );
                tokio::time::sleep(wait).await;
            }
            pending = again;
        }
        results
            .into_iter()
            .map(|r| {
                r.unwrap_or_else(|| Err(CallError::Parse("no answer for a batched call".into())))
            })
            .collect()
    }

    /// One batch request: an answer per call, or why the whole batch failed.
    async fn send_batch(
        &self,
        endpoint: &Url,
        calls: &[batch::Call],
        scopes: &[&str],
    ) -> Result<Vec<Result<Value, CallError>>, CallError> {
        let boundary = batch::new_boundary();
        let request = self
            .authorized(None, Method::POST, endpoint.clone(), scopes)
            .await?
            .header(
                header::CONTENT_TYPE,
                format!("multipart/mixed; boundary={boundary}"),
            )
            .body(batch::encode(calls, &boundary));
        let response = self
            .http
            .send_weighted(request, Idempotence::NonIdempotent, calls.len() as u32)
            .await
            .map_err(|e| match e {
                HttpError::Transport { message, sent, .. } => {
                    CallError::Transport { message, sent }
                }
                e => CallError::Transport {
                    message: e.to_string(),
                    sent: false,
                },
            })?;
        let status = response.status().as_u16();
        let content_type = response
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string();
        let bytes = response.bytes().await.map_err(|e| CallError::Transport {
            message: self.http.scrub(&format!("reading the batch answer: {e}")),
            sent: true,
        })?;
        if !(200..300).contains(&status) {
            return Err(api_error(
                status,
                &String::from_utf8_lossy(&bytes),
                &self.http,
            ));
        }
        let boundary = batch::boundary(&content_type)
            .ok_or_else(|| CallError::Parse(format!("a batch answer of type {content_type:?}")))?;
        let parts = batch::parts(&bytes, &boundary).map_err(CallError::Parse)?;
        let mut answers: Vec<Option<Result<Value, CallError>>> = vec![None; calls.len()];
        for part in parts {
            let Some(i) = batch::response_index(&part.headers).filter(|i| *i < calls.len()) else {
                continue;
            };
            answers[i] = Some(match batch::http_response(&part.body) {
                Ok((code, text)) if (200..300).contains(&code) => {
                    let text = if text.trim().is_empty() {
                        "null"
                    } else {
                        text.trim()
                    };
                    serde_json::from_str(text).map_err(|e| CallError::Parse(e.to_string()))
                }
                Ok((code, text)) => Err(api_error(code, &text, &self.http)),
                Err(e) => Err(CallError::Parse(e)),
            });
        }
        Ok(answers
            .into_iter()
            .map(|a| {
                a.unwrap_or_else(|| {
                    Err(CallError::Transport {
                        message: "the batch answer has no part for this call".into(),
                        sent: true,
                    })
                })
            })
            .collect())
    }
}

fn api_error(status: u16, text: &str, http: &HttpClient) -> CallError {
    let err: ErrorBody = serde_json::from_str(text).unwrap_or_default();
    CallError::Api {
        status,
        reason: err
            .error
            .errors
            .first()
            .map(|e| e.reason.clone())
            .unwrap_or_default(),
        message: http.scrub(if err.error.message.is_empty() {
            text
        } else {
            &err.error.message
        }),
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
