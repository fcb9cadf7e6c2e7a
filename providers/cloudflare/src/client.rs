//! The Cloudflare API calls mailform makes, over the shared
//! [`mailform_http::HttpClient`] (rate limit, retries, Retry-After,
//! redaction, request counting).
//!
//! Reads are idempotent: 429s, 5xx answers and dropped connections are
//! retried with backoff by the HTTP client, and a body cut off mid-way is
//! fetched again here. Writes (POST/PATCH/DELETE) are retried only after a
//! 429, when Cloudflare did not process them; a write whose fate is unknown
//! is reported as such, never repeated.
//!
//! Listing follows `result_info` to the last page with `per_page` as large
//! as configured (<https://developers.cloudflare.com/api/resources/dns/subresources/records/methods/list/>),
//! and a list that does not add up to `total_count` is an error, not a
//! partial zone.

use std::time::Duration;

use mailform_contract::{ProviderError, Secret};
use mailform_http::{
    header, ClientConfig, HttpClient, HttpError, Idempotence, Method, RateLimit, Url,
};
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::api::{BatchRequest, BatchResult, Envelope, Record, RecordBody, Zone};
use crate::config::Config;
use crate::errors::{api_error, Access};

/// Cloudflare's documented global limit: 1,200 requests per five minutes.
pub const RATE_LIMIT: RateLimit = RateLimit {
    requests: 1200,
    per: Duration::from_secs(300),
};

/// A request that failed, with what is known of its fate.
#[derive(Debug, Clone)]
pub enum CallError {
    /// Cloudflare refused the request (4xx, or a 5xx to a read): nothing
    /// was changed.
    Api {
        status: u16,
        codes: Vec<i64>,
        error: ProviderError,
    },
    /// No usable answer, or a 5xx to a write. `maybe_applied` is true when
    /// a write may have been carried out; its error is then
    /// [`ProviderError::Unknown`].
    Transport {
        error: ProviderError,
        maybe_applied: bool,
    },
}

impl CallError {
    pub fn error(&self) -> &ProviderError {
        match self {
            CallError::Api { error, .. } | CallError::Transport { error, .. } => error,
        }
    }

    pub fn into_error(self) -> ProviderError {
        match self {
            CallError::Api { error, .. } | CallError::Transport { error, .. } => error,
        }
    }
}

/// An authenticated API client for one provider instance.
#[derive(Debug)]
pub struct Api {
    http: HttpClient,
    base: String,
    token: Secret,
    page_size: u32,
}

impl Api {
    pub fn new(config: &Config) -> Result<Api, ProviderError> {
        let token = config.resolve_token()?;
        let http = HttpClient::new(ClientConfig {
            rate_limit: Some(RATE_LIMIT),
            ..ClientConfig::default()
        })
        .map_err(|e| ProviderError::Service(e.to_string()))?;
        http.redact(token.expose());
        let base = config.endpoint();
        Url::parse(&base).map_err(|e| {
            ProviderError::Rejected(format!(
                "the cloudflare `endpoint` {base:?} is not a URL: {e}"
            ))
        })?;
        Ok(Api {
            http,
            base,
            token,
            page_size: config.page_size(),
        })
    }

    /// Requests sent so far, retries included.
    pub fn requests_sent(&self) -> u64 {
        self.http.requests_sent()
    }

    fn url(&self, path: &str, query: &[(&str, String)]) -> Url {
        let mut url =
            Url::parse(&format!("{}{path}", self.base)).expect("base checked at construction");
        if !query.is_empty() {
            let mut q = url.query_pairs_mut();
            for (k, v) in query {
                q.append_pair(k, v);
            }
        }
        url
    }

    async fn call<T: DeserializeOwned, B: Serialize>(
        &self,
        method: Method,
        url: Url,
        body: Option<&B>,
        zone: &str,
        access: Access,
    ) -> Result<(T, Envelope<serde_json::Value>), CallError> {
        let idempotence = if method == Method::GET {
            Idempotence::Idempotent
        } else {
            Idempotence::NonIdempotent
        };
        let mut body_attempts = 0;
        loop {
            body_attempts += 1;
            let mut req = self
                .http
                .request(method.clone(), url.clone())
                .header(
                    header::AUTHORIZATION,
                    format!("Bearer {}", self.token.expose()),
                )
                .header(header::ACCEPT, "application/json");
            if let Some(b) = body {
                req = req.json(b);
            }
            let resp = self.http.send(req, idempotence).await.map_err(|e| {
                let maybe_applied = match &e {
                    HttpError::Transport { sent, .. } => *sent,
                    HttpError::Invalid(_) => false,
                };
                let maybe_applied = maybe_applied && idempotence == Idempotence::NonIdempotent;
                let message = self.http.scrub(&format!("cannot reach Cloudflare: {e}"));
                CallError::Transport {
                    error: if maybe_applied {
                        ProviderError::Unknown(message)
                    } else {
                        ProviderError::Service(message)
                    },
                    maybe_applied,
                }
            })?;
            let status = resp.status().as_u16();
            let bytes = match resp.bytes().await {
                Ok(b) => b,
                Err(e) if idempotence == Idempotence::Idempotent && body_attempts < 3 => {
                    tracing::warn!(error = %self.http.scrub(&e.to_string()), "answer cut off; reading again");
                    continue;
                }
                Err(e) => {
                    let message = self
                        .http
                        .scrub(&format!("Cloudflare's answer was cut off: {e}"));
                    return Err(CallError::Transport {
                        error: if idempotence == Idempotence::NonIdempotent {
                            ProviderError::Unknown(message)
                        } else {
                            ProviderError::Service(message)
                        },
                        maybe_applied: idempotence == Idempotence::NonIdempotent,
                    });
                }
            };
            let envelope: Envelope<serde_json::Value> = match serde_json::from_slice(&bytes) {
                Ok(v) => v,
                Err(_) if status >= 400 => Envelope {
                    success: false,
                    errors: vec![],
                    result: None,
                    result_info: None,
                },
                Err(e) => {
                    return Err(CallError::Transport {
                        error: ProviderError::Parse(format!(
                            "Cloudflare answered {status} with something that is not its JSON envelope: {e}"
                        )),
                        maybe_applied: idempotence == Idempotence::NonIdempotent,
                    })
                }
            };
            if status >= 400 || !envelope.success {
                let codes = envelope.errors.iter().map(|e| e.code).collect();
                let mut error = api_error(status, &envelope.errors, zone, access);
                error = scrub_error(&self.http, error);
                if status >= 500 && idempotence == Idempotence::NonIdempotent {
                    // A 5xx says nothing about whether the write happened
                    // (it may have failed after committing): UNKNOWN, never
                    // "nothing was changed".
                    return Err(CallError::Transport {
                        error: ProviderError::Unknown(format!(
                            "Cloudflare answered {status} to a write ({error})"
                        )),
                        maybe_applied: true,
                    });
                }
                return Err(CallError::Api {
                    status,
                    codes,
                    error,
                });
            }
            let result = envelope.result.clone().unwrap_or(serde_json::Value::Null);
            let typed: T = serde_json::from_value(result).map_err(|e| CallError::Transport {
                error: ProviderError::Parse(format!("unexpected Cloudflare answer: {e}")),
                maybe_applied: false,
            })?;
            return Ok((typed, envelope));
        }
    }

    /// The zone called `zone`. Tokens only see the zones they are scoped
    /// to, so "not found" may also mean "not permitted".
    pub async fn find_zone(&self, zone: &str) -> Result<Zone, ProviderError> {
        let url = self.url("/zones", &[("name", zone.to_string())]);
        let (zones, _): (Vec<Zone>, _) = self
            .call(Method::GET, url, None::<&()>, zone, Access::Read)
            .await
            .map_err(CallError::into_error)?;
        zones
            .into_iter()
            .find(|z| z.name.eq_ignore_ascii_case(zone))
            .ok_or_else(|| {
                ProviderError::Rejected(format!(
                    "zone {zone} not found in Cloudflare: add the zone to the account, or give the \
                     API token Zone:Read on it (a token does not see zones outside its scope)"
                ))
            })
    }

    /// Every DNS record of the zone, all pages.
    pub async fn list_records(
        &self,
        zone: &str,
        zone_id: &str,
    ) -> Result<Vec<Record>, ProviderError> {
        let mut out: Vec<Record> = Vec::new();
        let mut page = 1u64;
        loop {
            let url = self.url(
                &format!("/zones/{zone_id}/dns_records"),
                &[
                    ("per_page", self.page_size.to_string()),
                    ("page", page.to_string()),
                ],
            );
            let (records, env): (Vec<Record>, _) = self
                .call(Method::GET, url, None::<&()>, zone, Access::Read)
                .await
                .map_err(CallError::into_error)?;
            let got = records.len() as u64;
            out.extend(records);
            let info = env.result_info.unwrap_or_default();
            let per_page = info
                .per_page
                .map(|p| p as u64)
                .filter(|p| *p > 0)
                .unwrap_or(self.page_size as u64);
            let total = info.total_count.map(|t| t as u64);
            let pages = info
                .total_pages
                .map(|p| p as u64)
                .or_else(|| total.map(|t| t.div_ceil(per_page)));
            let last = match pages {
                Some(p) => page >= p,
                None => got < per_page,
            };
            if last || got == 0 {
                if let Some(t) = total {
                    if out.len() as u64 != t {
                        return Err(ProviderError::Service(format!(
                            "zone {zone}: Cloudflare listed {} records but said there are {t}; the \
                             zone changed while it was read — run the command again",
                            out.len()
                        )));
                    }
                }
                return Ok(out);
            }
            page += 1;
        }
    }

    /// One batch, all or nothing.
    pub async fn batch(
        &self,
        zone: &str,
        zone_id: &str,
        req: &BatchRequest,
    ) -> Result<BatchResult, CallError> {
        let url = self.url(&format!("/zones/{zone_id}/dns_records/batch"), &[]);
        self.call(Method::POST, url, Some(req), zone, Access::Write)
            .await
            .map(|(r, _)| r)
    }

    pub async fn create(
        &self,
        zone: &str,
        zone_id: &str,
        body: &RecordBody,
    ) -> Result<Record, CallError> {
        let url = self.url(&format!("/zones/{zone_id}/dns_records"), &[]);
        self.call(Method::POST, url, Some(body), zone, Access::Write)
            .await
            .map(|(r, _)| r)
    }

    pub async fn patch(
        &self,
        zone: &str,
        zone_id: &str,
        id: &str,
        body: &RecordBody,
    ) -> Result<Record, CallError> {
        let url = self.url(&format!("/zones/{zone_id}/dns_records/{id}"), &[]);
        self.call(Method::PATCH, url, Some(body), zone, Access::Write)
            .await
            .map(|(r, _)| r)
    }

    pub async fn delete(&self, zone: &str, zone_id: &str, id: &str) -> Result<(), CallError> {
        let url = self.url(&format!("/zones/{zone_id}/dns_records/{id}"), &[]);
        self.call::<serde_json::Value, ()>(Method::DELETE, url, None, zone, Access::Write)
            .await
            .map(|_| ())
    }
}

fn scrub_error(http: &HttpClient, e: ProviderError) -> ProviderError {
    e.map_message(|s| http.scrub(&s))
}
