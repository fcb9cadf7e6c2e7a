//! Authenticated calls over the shared HTTP client.
//!
//! The shared client paces requests (default 20 a second, see `config`),
//! counts them and redacts the app secret and every token from messages. It
//! is built with one attempt; this module retries itself, because what is
//! safe to repeat depends on the call:
//! - reads (`GET`) and the token call: after 429 and 5xx answers (waiting
//!   `Retry-After` when sent, else an exponential backoff) and after lost
//!   answers;
//! - writes: only when the connection was never established. A write
//!   answered 429 or 5xx, or not answered, is not sent again: what a 429
//!   means on a write is not confirmed for this API, and a 5xx or a lost
//!   answer leaves its outcome unknown. The error says to plan again.
//!
//! A 401 answer drops the cached token; the call is sent once more with a
//! new one (a 401 means the request was refused unprocessed, so this is safe
//! for writes too). A second 401 becomes a permission error naming the
//! console place where the app is fixed.

use std::time::{Duration, Instant};

use mailform_contract::ProviderError;
use mailform_http::{
    header, ClientConfig, HttpClient, HttpError, Idempotence, Method, RateLimit, Retry, Url,
};
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::api::{ErrorBody, TokenAnswer};
use crate::auth::{self, CachedToken};
use crate::config::{Config, Credentials, CLIENT_ID_ENV, CLIENT_SECRET_ENV, CONSOLE_PLACE};

/// A call that got no usable answer.
#[derive(Debug, Clone)]
pub enum CallError {
    /// The service answered with an error status.
    Api {
        status: u16,
        code: String,
        message: String,
    },
    /// The token endpoint refused the app credentials.
    Token { status: u16, detail: String },
    /// No answer. `sent`: the request may have reached the service.
    Transport { message: String, sent: bool },
    /// An answer that could not be understood.
    Parse(String),
}

impl CallError {
    /// The error for the person running mailform. `what` names the call
    /// ("listing the users of department x"); `write` says whether it was a
    /// write, whose fate may then be unknown.
    pub fn to_provider_error(&self, what: &str, write: bool) -> ProviderError {
        match self {
            CallError::Token { status, detail } => ProviderError::Permission(format!(
                "Alibaba Mail refused the app credentials while {what} (HTTP {status}{detail}): \
                 check {CLIENT_ID_ENV} / {CLIENT_SECRET_ENV} (or the `client_id` / \
                 `client_secret` settings) against the App ID and Secret shown in {CONSOLE_PLACE}"
            )),
            CallError::Api {
                status,
                code,
                message,
            } => {
                let detail = detail(code, message);
                match *status {
                    401 => ProviderError::Permission(format!(
                        "Alibaba Mail refused the app's token while {what} (HTTP 401{detail}): \
                         check the app's Secret in {CONSOLE_PLACE}"
                    )),
                    403 => ProviderError::Permission(format!(
                        "the Alibaba Mail app may not do this ({what}: HTTP 403{detail}): tick the \
                         API permissions it needs in {CONSOLE_PLACE}"
                    )),
                    404 => ProviderError::Conflict(format!(
                        "{what}: not found (HTTP 404{detail}); it was probably removed since the \
                         plan was made; run `mailform plan` again"
                    )),
                    409 => ProviderError::Conflict(format!(
                        "{what}: already exists (HTTP 409{detail}); it was probably added since \
                         the plan was made; run `mailform plan` again"
                    )),
                    429 if write => ProviderError::Service(format!(
                        "Alibaba Mail is throttling the domain ({what}: HTTP 429{detail}); all \
                         apps of a domain share 40 requests a second; the write was not sent \
                         again; wait a minute, then run `mailform plan` and apply again"
                    )),
                    429 => ProviderError::Service(format!(
                        "Alibaba Mail is throttling the domain ({what}: HTTP 429{detail}); all \
                         apps of a domain share 40 requests a second; wait a minute and run \
                         again, or lower `requests_per_second`"
                    )),
                    s if s >= 500 && write => ProviderError::Service(format!(
                        "Alibaba Mail failed while {what} (HTTP {s}{detail}); the write may or \
                         may not have been carried out and was not repeated; run `mailform \
                         plan` to see what is live"
                    )),
                    s if s >= 500 => ProviderError::Service(format!(
                        "Alibaba Mail failed while {what} (HTTP {s}{detail})"
                    )),
                    s => ProviderError::Rejected(format!(
                        "Alibaba Mail refused {what} (HTTP {s}{detail})"
                    )),
                }
            }
            CallError::Transport { message, sent } if *sent && write => {
                ProviderError::Service(format!(
                    "no answer while {what} ({message}); the write may or may not have been \
                     carried out and was not repeated; run `mailform plan` to see what is live"
                ))
            }
            CallError::Transport { message, .. } => {
                ProviderError::Service(format!("no answer while {what}: {message}"))
            }
            CallError::Parse(m) => ProviderError::Parse(format!("{what}: {m}")),
        }
    }
}

fn detail(code: &str, message: &str) -> String {
    match (code.is_empty(), message.is_empty()) {
        (true, true) => String::new(),
        (false, true) => format!(", {code}"),
        (true, false) => format!(": {message}"),
        (false, false) => format!(", {code}: {message}"),
    }
}

/// The Alibaba Mail Open API with one app's credentials.
#[derive(Debug)]
pub struct Api {
    http: HttpClient,
    base: Url,
    credentials: Credentials,
    retry: Retry,
    token: tokio::sync::Mutex<Option<CachedToken>>,
}

impl Api {
    pub fn new(config: &Config, credentials: Credentials, retry: Retry) -> Result<Api, String> {
        let endpoint = config.endpoint();
        let base = Url::parse(&endpoint)
            .map_err(|e| format!("the alimail `endpoint` {endpoint:?} is not a URL: {e}"))?;
        if base.cannot_be_a_base() {
            return Err(format!(
                "the alimail `endpoint` {endpoint:?} is not an http(s) URL"
            ));
        }
        let http = HttpClient::new(ClientConfig {
            rate_limit: Some(RateLimit {
                requests: config.requests_per_second(),
                per: Duration::from_secs(1),
            }),
            // One attempt: this module retries (see the module doc).
            retry: Retry {
                max_attempts: 1,
                ..retry
            },
            timeout: config.timeout(),
            ..ClientConfig::default()
        })
        .map_err(|e| e.to_string())?;
        http.redact(credentials.client_secret.expose());
        Ok(Api {
            http,
            base,
            credentials,
            retry,
            token: tokio::sync::Mutex::new(None),
        })
    }

    pub fn requests_sent(&self) -> u64 {
        self.http.requests_sent()
    }

    /// Registers a value (an initial password) that must never appear in
    /// messages.
    pub fn redact(&self, secret: &str) {
        self.http.redact(secret);
    }

    fn url(&self, segments: &[&str], query: &[(&str, String)]) -> Url {
        let mut url = self.base.clone();
        if let Ok(mut p) = url.path_segments_mut() {
            p.pop_if_empty().extend(segments);
        }
        if !query.is_empty() {
            url.query_pairs_mut()
                .extend_pairs(query.iter().map(|(k, v)| (*k, v.as_str())));
        }
        url
    }

    /// A token, from the cache or a new one.
    async fn token(&self) -> Result<String, CallError> {
        let mut slot = self.token.lock().await;
        if let Some(t) = slot.as_ref() {
            if t.fresh(Instant::now()) {
                return Ok(t.token.expose().to_string());
            }
        }
        let form = auth::token_form(
            &self.credentials.client_id,
            self.credentials.client_secret.expose(),
        );
        let url = self.url(&auth::TOKEN_PATH, &[]);
        // A token request changes nothing: safe to repeat.
        let (status, text) = self
            .send(
                || self.http.request(Method::POST, url.clone()).form(&form),
                Idempotence::Idempotent,
            )
            .await?;
        if !(200..300).contains(&status) {
            let body: ErrorBody = serde_json::from_str(&text).unwrap_or_default();
            let said = [body.error, body.error_description, body.message]
                .into_iter()
                .flatten()
                .collect::<Vec<_>>()
                .join(": ");
            let said = self.http.scrub(&said);
            if status == 429 || status >= 500 {
                // The service failed or throttled; the credentials may be fine.
                return Err(CallError::Api {
                    status,
                    code: String::new(),
                    message: said,
                });
            }
            let detail = if said.is_empty() {
                String::new()
            } else {
                format!(", {said}")
            };
            return Err(CallError::Token { status, detail });
        }
        let answer: TokenAnswer = serde_json::from_str(&text)
            .map_err(|e| CallError::Parse(format!("the token answer is not understood ({e})")))?;
        if answer.access_token.is_empty() {
            return Err(CallError::Parse(
                "the token answer has an empty access_token".into(),
            ));
        }
        self.http.redact(&answer.access_token);
        let cached = CachedToken::new(answer.access_token, answer.expires_in, Instant::now());
        let token = cached.token.expose().to_string();
        *slot = Some(cached);
        Ok(token)
    }

    /// Forgets `token` if it is still the cached one.
    async fn drop_token(&self, token: &str) {
        let mut slot = self.token.lock().await;
        if slot.as_ref().is_some_and(|t| t.token.expose() == token) {
            *slot = None;
        }
    }

    /// Sends what `build` makes, retrying as the module doc says.
    async fn send(
        &self,
        build: impl Fn() -> mailform_http::RequestBuilder,
        idempotence: Idempotence,
    ) -> Result<(u16, String), CallError> {
        let mut attempt = 0;
        loop {
            attempt += 1;
            let result = self.exchange(build(), idempotence).await;
            let (retryable, retry_after) = match &result {
                Ok((status, _, retry_after)) => (
                    (*status == 429 || *status >= 500) && idempotence == Idempotence::Idempotent,
                    *retry_after,
                ),
                Err(CallError::Transport { sent, .. }) => {
                    (!sent || idempotence == Idempotence::Idempotent, None)
                }
                Err(_) => (false, None),
            };
            if !retryable || attempt >= self.retry.max_attempts {
                return result.map(|(status, text, _)| (status, text));
            }
            let wait = self.retry.delay(attempt, retry_after);
            let why = match &result {
                Ok((status, _, _)) => format!("HTTP {status}"),
                Err(CallError::Transport { message, .. }) => message.clone(),
                Err(_) => String::new(),
            };
            tracing::warn!(attempt, ?wait, %why, "retrying");
            tokio::time::sleep(wait).await;
        }
    }

    /// One attempt: the status, `Retry-After` in seconds and the body.
    async fn exchange(
        &self,
        request: mailform_http::RequestBuilder,
        idempotence: Idempotence,
    ) -> Result<(u16, String, Option<Duration>), CallError> {
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
        let retry_after = response
            .headers()
            .get(header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map(Duration::from_secs);
        let text = response.text().await.map_err(|e| CallError::Transport {
            message: self.http.scrub(&format!("reading the answer: {e}")),
            sent: true,
        })?;
        Ok((status, text, retry_after))
    }

    /// Sends one call; the answer's body on success.
    async fn call(
        &self,
        method: Method,
        segments: &[&str],
        query: &[(&str, String)],
        body: Option<serde_json::Value>,
    ) -> Result<String, CallError> {
        let idempotence = if method == Method::GET {
            Idempotence::Idempotent
        } else {
            Idempotence::NonIdempotent
        };
        let mut refreshed = false;
        loop {
            let token = self.token().await?;
            let url = self.url(segments, query);
            let build = || {
                let request = self
                    .http
                    .request(method.clone(), url.clone())
                    .header(header::AUTHORIZATION, format!("bearer {token}"));
                match &body {
                    Some(b) => request
                        .header(header::CONTENT_TYPE, "application/json")
                        .body(b.to_string()),
                    None => request,
                }
            };
            let (status, text) = self.send(build, idempotence).await?;
            if (200..300).contains(&status) {
                return Ok(text);
            }
            if status == 401 && !refreshed {
                // Expired or revoked early: refused unprocessed, so one more
                // try with a new token is safe for any call.
                refreshed = true;
                self.drop_token(&token).await;
                continue;
            }
            let e: ErrorBody = serde_json::from_str(&text).unwrap_or_default();
            let code = e.detail_error_code.or(e.code).unwrap_or_default();
            let message = match e.message {
                Some(m) => m,
                None if code.is_empty() => truncate(&text),
                None => String::new(),
            };
            return Err(CallError::Api {
                status,
                code: self.http.scrub(&code),
                message: self.http.scrub(&message),
            });
        }
    }

    /// `GET`, decoded as `T`.
    pub async fn get<T: DeserializeOwned>(
        &self,
        segments: &[&str],
        query: &[(&str, String)],
    ) -> Result<T, CallError> {
        let text = self.call(Method::GET, segments, query, None).await?;
        serde_json::from_str(&text).map_err(|e| {
            CallError::Parse(format!(
                "unexpected answer ({e}): {}",
                self.http.scrub(&truncate(&text))
            ))
        })
    }

    /// A write with an optional JSON body; the answer's body.
    pub async fn write(
        &self,
        method: Method,
        segments: &[&str],
        body: Option<&impl Serialize>,
    ) -> Result<String, CallError> {
        let body = match body {
            Some(b) => Some(
                serde_json::to_value(b)
                    .map_err(|e| CallError::Parse(format!("cannot encode the request: {e}")))?,
            ),
            None => None,
        };
        self.call(method, segments, &[], body).await
    }
}

fn truncate(s: &str) -> String {
    match s.char_indices().nth(300) {
        Some((i, _)) => format!("{}...", &s[..i]),
        None => s.to_string(),
    }
}
