//! Authorised JSON calls to Graph over the shared HTTP client, paging and
//! `$batch`.
//!
//! The shared client retries a request answered 429 after its
//! `Retry-After`, and reads after 5xx answers and dropped connections; a
//! write answered 5xx or lost on the way is never repeated (its fate is
//! unknown). This module adds what is Graph's own:
//! - paging: `@odata.nextLink` is followed verbatim, as Graph asks;
//! - `$batch`: up to 20 independent requests in one POST; each answer has
//!   its own status, so sub-requests answered 429 (not processed) are sent
//!   again in a later batch after the longest `Retry-After` they asked
//!   for, reads answered 5xx likewise, and writes answered 5xx are not;
//! - eventual consistency: a member addition answered 404 right after the
//!   user was created is sent again after a backoff ([`BatchItem::retry_not_found`]);
//! - pacing: Graph counts every write, batched or not, against 3,000 per
//!   150 seconds per app and tenant, so writes take one token each from a
//!   bucket of 20 a second, on top of the shared client's pacing of all
//!   requests (100 a second).

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use mailform_contract::ProviderError;
use mailform_http::{
    header, ClientConfig, HttpClient, HttpError, Idempotence, Method, RateLimit, Retry, Url,
};
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::Value;
use tokio::sync::Mutex;

use crate::api::{self, ErrorBody};
use crate::auth::TokenSource;

/// Requests in one `$batch` (Graph's limit).
pub const BATCH_LIMIT: usize = 20;
/// Writes a second: 3,000 per 150 s.
pub const WRITES_PER_SECOND: u32 = 20;
/// HTTP requests a second, reads included: well under the directory's
/// smallest read allowance (3,500 resource units per 10 s for tenants of
/// under 50 users), a list page costing one or two.
pub const REQUESTS_PER_SECOND: u32 = 100;
/// Pages followed before a listing is declared runaway.
const MAX_PAGES: usize = 10_000;

/// A call that got no usable answer.
#[derive(Debug, Clone)]
pub enum CallError {
    /// Graph answered with its error envelope.
    Api {
        status: u16,
        code: String,
        message: String,
    },
    /// No answer. `sent`: the request may have reached Graph.
    Transport { message: String, sent: bool },
    /// Getting a token failed.
    Auth(ProviderError),
    /// An answer that could not be understood.
    Parse(String),
}

/// One request for [`Api::batch`].
#[derive(Debug, Clone)]
pub struct BatchItem {
    pub method: Method,
    /// Relative to `/v1.0`, query included: `/users/{id}?$select=id`.
    pub url: String,
    pub body: Option<Value>,
    /// Whether a 404 means "not there yet" and the request is sent again
    /// after a backoff: adding a user created moments ago to a group can
    /// be answered `Request_ResourceNotFound` until the directory has
    /// replicated it (Graph's eventual consistency). Nothing is done on a
    /// 404, so repeating it is safe.
    pub retry_not_found: bool,
}

/// Tokens for writes: `rate` a second, bursts up to `rate`.
struct WritePacer {
    rate: f64,
    state: Mutex<(f64, Instant)>,
}

impl WritePacer {
    fn new(rate: u32) -> WritePacer {
        WritePacer {
            rate: rate as f64,
            state: Mutex::new((rate as f64, Instant::now())),
        }
    }

    /// Waits until `n` writes may be sent (`n` ≤ the burst), then takes them.
    async fn acquire(&self, n: usize) {
        let n = (n as f64).min(self.rate);
        loop {
            let wait = {
                let mut s = self.state.lock().await;
                let now = Instant::now();
                s.0 = (s.0 + now.duration_since(s.1).as_secs_f64() * self.rate).min(self.rate);
                s.1 = now;
                if s.0 >= n {
                    s.0 -= n;
                    return;
                }
                Duration::from_secs_f64((n - s.0) / self.rate)
            };
            tokio::time::sleep(wait).await;
        }
    }
}

pub struct Api {
    http: HttpClient,
    tokens: TokenSource,
    retry: Retry,
    base: String,
    writes: WritePacer,
}

impl Api {
    pub fn new(
        tokens: TokenSource,
        graph_endpoint: &str,
        timeout: Duration,
        retry: Retry,
        writes_per_second: u32,
    ) -> Result<Api, ProviderError> {
        let http = HttpClient::new(ClientConfig {
            rate_limit: Some(RateLimit {
                requests: REQUESTS_PER_SECOND,
                per: Duration::from_secs(1),
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
            base: format!("{}/v1.0", graph_endpoint.trim_end_matches('/')),
            writes: WritePacer::new(writes_per_second),
        })
    }

    pub fn requests_sent(&self) -> u64 {
        self.http.requests_sent()
    }

    pub fn client_id(&self) -> &str {
        self.tokens.client_id()
    }

    /// `{graph}/v1.0{path}?{query}`.
    pub fn url(&self, path: &str, query: &[(&str, &str)]) -> Result<Url, CallError> {
        let mut url = Url::parse(&format!("{}{path}", self.base))
            .map_err(|e| CallError::Parse(format!("{path}: {e}")))?;
        if !query.is_empty() {
            url.query_pairs_mut().extend_pairs(query);
        }
        Ok(url)
    }

    /// `{path}?{query}` relative to `/v1.0`, as a `$batch` request's `url`.
    pub fn relative(path: &str, query: &[(&str, &str)]) -> String {
        let mut url = Url::parse("http://graph.invalid/").expect("static URL");
        url.query_pairs_mut().extend_pairs(query);
        match url.query() {
            Some(q) if !q.is_empty() => format!("{path}?{q}"),
            _ => path.to_string(),
        }
    }

    /// A read.
    pub async fn get<T: DeserializeOwned>(&self, url: Url) -> Result<T, CallError> {
        self.call::<(), T>(Method::GET, url, None, Idempotence::Idempotent)
            .await
    }

    /// Every item of a collection, following `@odata.nextLink` verbatim.
    pub async fn get_all<T: DeserializeOwned>(&self, url: Url) -> Result<Vec<T>, CallError> {
        let mut items = Vec::new();
        let mut next = Some(url);
        let mut pages = 0;
        while let Some(url) = next.take() {
            pages += 1;
            if pages > MAX_PAGES {
                return Err(CallError::Parse(format!(
                    "more than {MAX_PAGES} pages: Graph keeps answering with a next link"
                )));
            }
            let page: api::Page<T> = self.get(url).await?;
            items.extend(page.value);
            next = page
                .next_link
                .map(|l| {
                    Url::parse(&l).map_err(|e| CallError::Parse(format!("next link {l:?}: {e}")))
                })
                .transpose()?;
        }
        Ok(items)
    }

    /// A write. Never repeated after a 5xx or a lost answer.
    pub async fn send<B: Serialize, T: DeserializeOwned>(
        &self,
        method: Method,
        url: Url,
        body: Option<&B>,
    ) -> Result<T, CallError> {
        self.writes.acquire(1).await;
        self.call(method, url, body, Idempotence::NonIdempotent)
            .await
    }

    async fn call<B: Serialize, T: DeserializeOwned>(
        &self,
        method: Method,
        url: Url,
        body: Option<&B>,
        idempotence: Idempotence,
    ) -> Result<T, CallError> {
        let body = body
            .map(serde_json::to_vec)
            .transpose()
            .map_err(|e| CallError::Parse(e.to_string()))?;
        // A token refused with 401 (revoked, or the tenant's policy cut
        // its life short) is dropped and the request sent once more with a
        // fresh one: Graph did nothing with it, writes included.
        let mut refreshed = false;
        let response = loop {
            let token = self
                .tokens
                .token(&self.http)
                .await
                .map_err(CallError::Auth)?;
            let mut request = self
                .http
                .request(method.clone(), url.clone())
                .header(header::AUTHORIZATION, format!("Bearer {}", token.expose()));
            if let Some(b) = &body {
                request = request
                    .header(header::CONTENT_TYPE, "application/json")
                    .body(b.clone());
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
            if response.status().as_u16() == 401 && !refreshed {
                refreshed = true;
                self.tokens.forget(&token).await;
                tracing::warn!(%method, %url, "token refused; fetching a new one");
                continue;
            }
            break response;
        };
        let status = response.status().as_u16();
        let text = response.text().await.map_err(|e| CallError::Transport {
            message: self.http.scrub(&format!("reading the answer: {e}")),
            sent: true,
        })?;
        if (200..300).contains(&status) {
            // DELETE, PATCH and `$ref` answer 204 with no body.
            let text = if text.trim().is_empty() {
                "null"
            } else {
                &text
            };
            return serde_json::from_str(text)
                .map_err(|e| CallError::Parse(format!("{method} answer: {e}")));
        }
        Err(self.api_error(
            status,
            &serde_json::from_str(&text).unwrap_or(Value::Null),
            &text,
        ))
    }

    fn api_error(&self, status: u16, body: &Value, text: &str) -> CallError {
        let err: ErrorBody = serde_json::from_value(body.clone()).unwrap_or_default();
        CallError::Api {
            status,
            code: err.error.code,
            message: self.http.scrub(if err.error.message.is_empty() {
                text
            } else {
                &err.error.message
            }),
        }
    }

    /// Sends `items` through `/$batch`, 20 at a time; one result per item,
    /// in order. The items must not depend on each other.
    pub async fn batch(&self, items: &[BatchItem]) -> Vec<Result<Value, CallError>> {
        let mut results: Vec<Option<Result<Value, CallError>>> = vec![None; items.len()];
        let mut pending: Vec<usize> = (0..items.len()).collect();
        let mut attempt = 0;
        while !pending.is_empty() {
            attempt += 1;
            let mut again = Vec::new();
            let mut wait = Duration::ZERO;
            for chunk in pending.chunks(BATCH_LIMIT) {
                let outcome = self.batch_once(items, chunk, attempt).await;
                for (i, r) in chunk.iter().zip(outcome) {
                    match r {
                        Sub::Again(d, _) if attempt < self.retry.max_attempts => {
                            wait = wait.max(d);
                            again.push(*i);
                        }
                        // Out of attempts: the last answer stands.
                        Sub::Again(_, last) => results[*i] = Some(Err(last)),
                        Sub::Done(r) => results[*i] = Some(r),
                    }
                }
            }
            if !again.is_empty() {
                let d = self.retry.delay(attempt, Some(wait));
                tracing::warn!(requests = again.len(), wait = ?d, attempt, "batched requests not processed (throttled or not replicated yet); sending them again");
                tokio::time::sleep(d).await;
            }
            pending = again;
        }
        results
            .into_iter()
            .map(|r| r.unwrap_or_else(|| Err(CallError::Parse("no answer in the batch".into()))))
            .collect()
    }

    async fn batch_once(&self, items: &[BatchItem], chunk: &[usize], attempt: u32) -> Vec<Sub> {
        let writes = chunk
            .iter()
            .filter(|i| items[**i].method != Method::GET)
            .count();
        if writes > 0 {
            self.writes.acquire(writes).await;
        }
        let requests: Vec<api::BatchRequest> = chunk
            .iter()
            .map(|i| {
                let it = &items[*i];
                api::BatchRequest {
                    id: i.to_string(),
                    method: it.method.as_str().to_string(),
                    url: it.url.clone(),
                    headers: it.body.as_ref().map(|_| {
                        BTreeMap::from([(
                            "Content-Type".to_string(),
                            "application/json".to_string(),
                        )])
                    }),
                    body: it.body.clone(),
                }
            })
            .collect();
        let idempotence = if writes == 0 {
            Idempotence::Idempotent
        } else {
            Idempotence::NonIdempotent
        };
        let url = match self.url("/$batch", &[]) {
            Ok(u) => u,
            Err(e) => return chunk.iter().map(|_| Sub::Done(Err(e.clone()))).collect(),
        };
        let answer: Result<api::BatchResponses, CallError> = self
            .call(
                Method::POST,
                url,
                Some(&api::Batch { requests }),
                idempotence,
            )
            .await;
        let answer = match answer {
            Ok(a) => a,
            Err(e) => return chunk.iter().map(|_| Sub::Done(Err(e.clone()))).collect(),
        };
        let mut by_id: BTreeMap<String, api::BatchResponse> = answer
            .responses
            .into_iter()
            .map(|r| (r.id.clone(), r))
            .collect();
        chunk
            .iter()
            .map(|i| {
                let Some(r) = by_id.remove(&i.to_string()) else {
                    return Sub::Done(Err(CallError::Parse(format!(
                        "the batch answer has no response for request {i}"
                    ))));
                };
                let read = items[*i].method == Method::GET;
                let error = || self.api_error(r.status, &r.body, &r.body.to_string());
                if r.status == 404 && items[*i].retry_not_found {
                    return Sub::Again(self.retry.delay(attempt, None), error());
                }
                if r.status == 429 || (read && r.status >= 500) {
                    let after = r
                        .headers
                        .iter()
                        .find(|(k, _)| k.eq_ignore_ascii_case("retry-after"))
                        // Graph sends fractions too (`2.128`).
                        .and_then(|(_, v)| v.trim().parse::<f64>().ok())
                        .filter(|s| s.is_finite() && *s >= 0.0)
                        .map(Duration::from_secs_f64)
                        .unwrap_or(self.retry.base);
                    return Sub::Again(after, error());
                }
                if (200..300).contains(&r.status) {
                    Sub::Done(Ok(r.body))
                } else {
                    Sub::Done(Err(error()))
                }
            })
            .collect()
    }
}

enum Sub {
    Done(Result<Value, CallError>),
    /// Not processed: send again after this wait; the answer, should the
    /// attempts run out.
    Again(Duration, CallError),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn writes_are_paced_at_twenty_a_second() {
        let pacer = WritePacer::new(WRITES_PER_SECOND);
        let start = Instant::now();
        pacer.acquire(20).await;
        assert!(
            start.elapsed() < Duration::from_millis(50),
            "a full burst is free"
        );
        pacer.acquire(5).await;
        let e = start.elapsed();
        assert!(
            e >= Duration::from_millis(230) && e < Duration::from_millis(600),
            "{e:?}"
        );
    }
}
