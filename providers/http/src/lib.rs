//! The HTTP client shared by mailform's cloud providers.
//!
//! One [`HttpClient`] per provider instance (per credential). It
//! - speaks TLS through rustls only;
//! - paces requests with a token bucket sized to the provider's published
//!   limit ([`RateLimit`]), so a large plan slows down instead of being
//!   throttled;
//! - retries what is safe to retry ([`Retry`]): any request answered 429
//!   (the service did not process it) after the `Retry-After` it asks for,
//!   any request whose connection was never established, and idempotent
//!   requests (reads) after 5xx answers, timeouts and dropped connections —
//!   but never a write whose fate is unknown, since repeating it could
//!   duplicate it;
//! - keeps secrets out of errors and logs: a provider registers its tokens
//!   with [`HttpClient::redact`], and every message this crate produces has
//!   them replaced;
//! - counts requests, for benchmarks and for reports against the lower bound.
//!
//! Providers keep their own API knowledge (URLs, error bodies, paging); this
//! crate knows only HTTP.

mod limiter;
mod retry;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

pub use limiter::RateLimit;
pub use reqwest::{header, Method, RequestBuilder, Response, StatusCode, Url};
pub use retry::Retry;

use limiter::TokenBucket;

/// Whether a request may be repeated without changing the outcome.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Idempotence {
    /// Reads (GET) and writes the service documents as idempotent (PUT).
    Idempotent,
    /// Writes that could apply twice (POST, PATCH, DELETE of a created id).
    NonIdempotent,
}

/// A request that got no usable answer.
#[derive(Debug, Clone, thiserror::Error)]
pub enum HttpError {
    /// The request could not be sent or its answer not read. `sent` says
    /// whether the request may have reached the service: when it may have,
    /// a write's outcome is unknown and the caller must re-read, not retry.
    #[error("{method} {url}: {message}")]
    Transport {
        method: String,
        url: String,
        message: String,
        sent: bool,
    },
    #[error("{0}")]
    Invalid(String),
}

/// Settings of one client.
#[derive(Debug, Clone)]
pub struct ClientConfig {
    pub user_agent: String,
    pub rate_limit: Option<RateLimit>,
    pub retry: Retry,
    /// Timeout of one attempt, connection and body included.
    pub timeout: Duration,
}

impl Default for ClientConfig {
    fn default() -> Self {
        ClientConfig {
            user_agent: format!("mailform/{}", env!("CARGO_PKG_VERSION")),
            rate_limit: None,
            retry: Retry::default(),
            timeout: Duration::from_secs(60),
        }
    }
}

#[derive(Clone)]
pub struct HttpClient {
    inner: reqwest::Client,
    retry: Retry,
    limiter: Option<Arc<TokenBucket>>,
    secrets: Arc<Mutex<Vec<String>>>,
    requests: Arc<AtomicU64>,
}

impl std::fmt::Debug for HttpClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpClient")
            .field("requests", &self.requests_sent())
            .finish_non_exhaustive()
    }
}

impl HttpClient {
    pub fn new(config: ClientConfig) -> Result<HttpClient, HttpError> {
        let inner = reqwest::Client::builder()
            .user_agent(config.user_agent)
            .timeout(config.timeout)
            .https_only(false)
            .build()
            .map_err(|e| HttpError::Invalid(format!("cannot build the HTTP client: {e}")))?;
        Ok(HttpClient {
            inner,
            retry: config.retry,
            limiter: config.rate_limit.map(|r| Arc::new(TokenBucket::new(r))),
            secrets: Arc::default(),
            requests: Arc::default(),
        })
    }

    /// Registers a secret (token, key) that must never appear in messages.
    pub fn redact(&self, secret: &str) {
        if !secret.is_empty() {
            self.secrets
                .lock()
                .expect("secrets lock")
                .push(secret.to_string());
        }
    }

    /// `text` with every registered secret replaced by `***`.
    pub fn scrub(&self, text: &str) -> String {
        let mut out = text.to_string();
        for s in self.secrets.lock().expect("secrets lock").iter() {
            out = out.replace(s.as_str(), "***");
        }
        out
    }

    /// Requests sent so far (every attempt counts).
    pub fn requests_sent(&self) -> u64 {
        self.requests.load(Ordering::Relaxed)
    }

    pub fn request(&self, method: Method, url: Url) -> RequestBuilder {
        self.inner.request(method, url)
    }

    /// Sends `request`, pacing and retrying as the module doc describes. Any
    /// HTTP status comes back as `Ok`: after retries are spent, the last
    /// answer is returned for the provider to interpret.
    pub async fn send(
        &self,
        request: RequestBuilder,
        idempotence: Idempotence,
    ) -> Result<Response, HttpError> {
        self.send_weighted(request, idempotence, 1).await
    }

    /// As [`HttpClient::send`], for a request that counts as `calls`
    /// against the rate limit (a batch of that many API calls).
    pub async fn send_weighted(
        &self,
        request: RequestBuilder,
        idempotence: Idempotence,
        calls: u32,
    ) -> Result<Response, HttpError> {
        let request = request.build().map_err(|e| {
            HttpError::Invalid(self.scrub(&format!("cannot build the request: {e}")))
        })?;
        let method = request.method().to_string();
        let url = self.scrub(&redact_query(request.url()));
        let mut attempt = 0u32;
        loop {
            attempt += 1;
            if let Some(l) = &self.limiter {
                l.acquire_n(calls).await;
            }
            let Some(this) = request.try_clone() else {
                return Err(HttpError::Invalid(
                    "a request with a streaming body cannot be sent".into(),
                ));
            };
            self.requests.fetch_add(1, Ordering::Relaxed);
            match self.inner.execute(this).await {
                Ok(resp) => {
                    let status = resp.status();
                    let retry_after = retry::retry_after(resp.headers());
                    let retryable = status == StatusCode::TOO_MANY_REQUESTS
                        || (status.is_server_error() && idempotence == Idempotence::Idempotent);
                    if retryable && attempt < self.retry.max_attempts {
                        let wait = self.retry.delay(attempt, retry_after);
                        tracing::warn!(%method, %url, %status, ?wait, attempt, "retrying");
                        tokio::time::sleep(wait).await;
                        continue;
                    }
                    return Ok(resp);
                }
                Err(e) => {
                    // A connect error means nothing reached the service.
                    let sent = !e.is_connect();
                    let safe = !sent || idempotence == Idempotence::Idempotent;
                    if safe && attempt < self.retry.max_attempts {
                        let wait = self.retry.delay(attempt, None);
                        tracing::warn!(%method, %url, error = %self.scrub(&e.to_string()), ?wait, attempt, "retrying");
                        tokio::time::sleep(wait).await;
                        continue;
                    }
                    return Err(HttpError::Transport {
                        method,
                        url,
                        message: self.scrub(&error_chain(&e)),
                        sent,
                    });
                }
            }
        }
    }
}

/// The URL with query values hidden: signed APIs put keys and signatures
/// there.
fn redact_query(url: &Url) -> String {
    let mut u = url.clone();
    if u.query().is_some() {
        let names: Vec<String> = u.query_pairs().map(|(k, _)| k.into_owned()).collect();
        let q = names
            .iter()
            .map(|k| format!("{k}=redacted"))
            .collect::<Vec<_>>()
            .join("&");
        u.set_query(Some(&q));
    }
    u.to_string()
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        s.push_str(": ");
        s.push_str(&c.to_string());
        cur = c.source();
    }
    s
}

#[cfg(test)]
mod tests;
