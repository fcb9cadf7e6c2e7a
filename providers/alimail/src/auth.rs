//! OAuth2 client credentials (research notes §1, CONFIRMED): `POST
//! /oauth2/v2.0/token` with the form fields `grant_type=client_credentials`,
//! `client_id` and `client_secret`; the answer's `access_token` is sent on
//! every call as `Authorization: bearer <token>` (lower-case `bearer`, as the
//! official samples write it).
//!
//! The token is cached until shortly before its `expires_in` (a tenth of its
//! lifetime early, at most 60 s early). When the answer has no `expires_in`
//! the token is kept 10 minutes — the usual value is not confirmed — and a
//! 401 on a call drops it anyway (see `client`). There is no refresh token.

use std::time::{Duration, Instant};

use mailform_contract::Secret;

/// Lifetime assumed when the token answer gives none.
pub const ASSUMED_LIFETIME: Duration = Duration::from_secs(600);
/// The most a token is refreshed early.
pub const MAX_EARLY: Duration = Duration::from_secs(60);

/// The path of the token endpoint.
pub const TOKEN_PATH: [&str; 3] = ["oauth2", "v2.0", "token"];

/// A token and when to stop using it.
#[derive(Debug, Clone)]
pub struct CachedToken {
    pub token: Secret,
    pub use_until: Instant,
}

impl CachedToken {
    /// A token received at `now`, valid for `expires_in` seconds.
    pub fn new(token: String, expires_in: Option<u64>, now: Instant) -> CachedToken {
        let lifetime = expires_in
            .map(Duration::from_secs)
            .unwrap_or(ASSUMED_LIFETIME);
        let early = (lifetime / 10).min(MAX_EARLY);
        CachedToken {
            token: Secret::new(token),
            use_until: now + lifetime.saturating_sub(early),
        }
    }

    pub fn fresh(&self, now: Instant) -> bool {
        now < self.use_until
    }
}

/// The token request's form body.
pub fn token_form(client_id: &str, client_secret: &str) -> [(&'static str, String); 3] {
    [
        ("grant_type", "client_credentials".to_string()),
        ("client_id", client_id.to_string()),
        ("client_secret", client_secret.to_string()),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_refreshed_a_little_early() {
        let now = Instant::now();
        let t = CachedToken::new("t".into(), Some(3600), now);
        assert!(t.fresh(now + Duration::from_secs(3539)));
        assert!(!t.fresh(now + Duration::from_secs(3540)));
        let t = CachedToken::new("t".into(), Some(10), now);
        assert!(t.fresh(now + Duration::from_secs(8)));
        assert!(!t.fresh(now + Duration::from_secs(9)));
        let t = CachedToken::new("t".into(), None, now);
        assert!(t.fresh(now + Duration::from_secs(500)));
        assert!(!t.fresh(now + Duration::from_secs(600)));
        assert!(!format!("{t:?}").contains("\"t\""));
    }
}
