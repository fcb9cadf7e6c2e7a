//! The PowerDNS API calls mailform makes, over the shared HTTP client
//! (pacing, safe retries, key redaction, request counting):
//!
//! - `GET /api/v1/servers/{server}/zones/{zone}.` — the zone with all RRsets;
//! - `PATCH` of the same URL — RRset replacements and deletions, applied by
//!   the server in one transaction (204 No Content);
//! - `POST /api/v1/servers/{server}/zones` — a new zone with its RRsets;
//! - `GET /api/v1/servers/{server}` — only to tell "no such zone" from "no
//!   such server" after a 404.

use mailform_contract::ProviderError;
use mailform_http::{header, HttpClient, Idempotence, Method, Response, StatusCode, Url};
use serde::Serialize;

use crate::errors::{from_status, from_transport};
use crate::wire::{NewZone, Patch, RRSet, Zone};

/// One server's API, authenticated with one key.
#[derive(Debug)]
pub struct Api {
    client: HttpClient,
    /// `{endpoint}/api/v1/servers/{server}`
    server_url: Url,
    endpoint: String,
    key: String,
}

impl Api {
    pub fn new(
        client: HttpClient,
        endpoint: &str,
        server: &str,
        key: String,
    ) -> Result<Api, ProviderError> {
        let mut url = Url::parse(endpoint.trim()).map_err(|e| {
            ProviderError::Rejected(format!(
                "powerdns `endpoint` {endpoint:?} is not a URL ({e}); write it like http://127.0.0.1:8081"
            ))
        })?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(ProviderError::Rejected(format!(
                "powerdns `endpoint` {endpoint:?} must start with http:// or https://"
            )));
        }
        url.path_segments_mut()
            .map_err(|_| {
                ProviderError::Rejected(format!(
                    "powerdns `endpoint` {endpoint:?} cannot take a path"
                ))
            })?
            .pop_if_empty()
            .extend(["api", "v1", "servers", server]);
        client.redact(&key);
        Ok(Api {
            client,
            server_url: url,
            endpoint: endpoint.to_string(),
            key,
        })
    }

    pub fn requests_sent(&self) -> u64 {
        self.client.requests_sent()
    }

    fn url(&self, segments: &[&str]) -> Url {
        let mut u = self.server_url.clone();
        u.path_segments_mut()
            .expect("checked in new")
            .extend(segments);
        u
    }

    /// The zone's URL. PowerDNS zone ids are the name with the trailing dot
    /// for ordinary host names.
    fn zone_url(&self, zone: &str) -> Url {
        self.url(&["zones", &format!("{zone}.")])
    }

    async fn send(
        &self,
        what: &str,
        method: Method,
        url: Url,
        body: Option<&impl Serialize>,
    ) -> Result<(StatusCode, Vec<u8>), ProviderError> {
        let write = method != Method::GET;
        let mut req = self
            .client
            .request(method, url)
            .header("X-API-Key", &self.key)
            .header(header::ACCEPT, "application/json");
        if let Some(b) = body {
            let json = serde_json::to_vec(b)
                .map_err(|e| ProviderError::Rejected(format!("{what}: cannot encode: {e}")))?;
            req = req
                .header(header::CONTENT_TYPE, "application/json")
                .body(json);
        }
        let idempotence = if write {
            Idempotence::NonIdempotent
        } else {
            Idempotence::Idempotent
        };
        let resp: Response = self
            .client
            .send(req, idempotence)
            .await
            .map_err(|e| from_transport(what, &self.endpoint, &e, write))?;
        let status = resp.status();
        let bytes = resp.bytes().await.map_err(|e| {
            let m = self.client.scrub(&e.to_string());
            ProviderError::Service(format!("{what}: reading PowerDNS's answer failed: {m}"))
        })?;
        Ok((status, bytes.to_vec()))
    }

    /// The zone's RRsets, or `None` when the server has no such zone.
    pub async fn get_zone(&self, zone: &str) -> Result<Option<Vec<RRSet>>, ProviderError> {
        let what = format!("GET zone {zone}");
        let none: Option<&()> = None;
        let (status, body) = self
            .send(&what, Method::GET, self.zone_url(zone), none)
            .await?;
        if status == StatusCode::NOT_FOUND || is_unknown_zone(status, &body) {
            // 404 is also the answer for a wrong server id or a disabled
            // API; only a server that exists makes it "no such zone".
            let (s, b) = self
                .send(&what, Method::GET, self.server_url.clone(), none)
                .await?;
            return if s.is_success() {
                Ok(None)
            } else {
                Err(from_status(
                    &format!("GET server {}", self.server_name()),
                    s,
                    &b,
                ))
            };
        }
        if !status.is_success() {
            return Err(from_status(&what, status, &body));
        }
        let z: Zone = serde_json::from_slice(&body).map_err(|e| {
            ProviderError::Parse(format!("{what}: PowerDNS's answer is not a zone: {e}"))
        })?;
        Ok(Some(z.rrsets))
    }

    /// Replaces and deletes RRsets in one request, all or nothing.
    pub async fn patch(&self, zone: &str, rrsets: Vec<RRSet>) -> Result<(), ProviderError> {
        let what = format!("PATCH zone {zone}");
        let (status, body) = self
            .send(
                &what,
                Method::PATCH,
                self.zone_url(zone),
                Some(&Patch { rrsets }),
            )
            .await?;
        if status.is_success() {
            Ok(())
        } else {
            Err(from_status(&what, status, &body))
        }
    }

    /// Creates a zone with its RRsets in one request.
    pub async fn create_zone(&self, zone: NewZone) -> Result<(), ProviderError> {
        let what = format!("create zone {}", zone.name.trim_end_matches('.'));
        let (status, body) = self
            .send(&what, Method::POST, self.url(&["zones"]), Some(&zone))
            .await?;
        if status.is_success() {
            Ok(())
        } else if status == StatusCode::CONFLICT {
            Err(ProviderError::Conflict(format!(
                "{what}: the zone was created by someone else since the plan was made"
            )))
        } else {
            Err(from_status(&what, status, &body))
        }
    }

    fn server_name(&self) -> String {
        self.server_url
            .path_segments()
            .and_then(|mut s| s.next_back())
            .unwrap_or_default()
            .to_string()
    }
}

/// Older servers answer an unknown zone with 422 "Could not find domain".
fn is_unknown_zone(status: StatusCode, body: &[u8]) -> bool {
    status == StatusCode::UNPROCESSABLE_ENTITY
        && String::from_utf8_lossy(body).contains("Could not find domain")
}
