//! Cloudflare error answers → plain messages for the person running mailform.
//!
//! Codes from Cloudflare's DNS API documentation and observed answers
//! (<https://developers.cloudflare.com/dns/manage-dns-records/troubleshooting/records-with-same-name/>,
//! <https://developers.cloudflare.com/fundamentals/api/troubleshooting/>):
//! 81053/81054 — a CNAME cannot share its name with other A/AAAA/CNAME data;
//! 81057/81058 — the record (or an identical one) already exists;
//! 9000-range — content invalid for the type, bad TTL, not proxiable;
//! 7003/1001/7000 — no such zone or route; 9109/10000/6003/6111 — the token
//! is invalid; 403 otherwise — the token lacks a permission.

use mailform_contract::ProviderError;

use crate::api::ApiMessage;

/// What the failed request was doing, to name the missing permission.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    Read,
    Write,
}

impl Access {
    fn permission(self) -> &'static str {
        match self {
            Access::Read => "Zone:Read (Zone → Zone → Read)",
            Access::Write => "DNS:Edit (Zone → DNS → Edit)",
        }
    }
}

/// The error for an answer with HTTP `status` and Cloudflare `errors`.
pub fn api_error(status: u16, errors: &[ApiMessage], zone: &str, access: Access) -> ProviderError {
    let detail = if errors.is_empty() {
        format!("HTTP {status}")
    } else {
        errors
            .iter()
            .map(|e| format!("{} ({})", e.message.trim_end_matches('.'), e.code))
            .collect::<Vec<_>>()
            .join("; ")
    };
    let has = |codes: &[i64]| errors.iter().any(|e| codes.contains(&e.code));
    if has(&[9109, 6003, 6111, 9106, 9107]) || (status == 401) {
        return ProviderError::Permission(format!(
            "Cloudflare refused the API token as invalid or expired ({detail}); create a token \
             with {} and {} for {zone} and put it in CLOUDFLARE_API_TOKEN",
            Access::Read.permission(),
            Access::Write.permission()
        ));
    }
    if status == 403 || has(&[10000, 10001, 9103]) {
        return ProviderError::Permission(format!(
            "the Cloudflare API token lacks the {} permission for zone {zone}, or is not valid \
             ({detail})",
            access.permission()
        ));
    }
    if has(&[81053, 81054]) {
        return ProviderError::Conflict(format!(
            "CNAME conflict in {zone}: a name with a CNAME can hold no other A, AAAA or CNAME \
             record ({detail}); nothing in this batch was applied"
        ));
    }
    if has(&[81057, 81058]) {
        return ProviderError::Conflict(format!(
            "a record already exists in {zone} that this plan meant to create ({detail}): it was \
             probably added since the plan was made; run `mailform plan` again"
        ));
    }
    if has(&[81044]) {
        return ProviderError::Conflict(format!(
            "a record this plan changes no longer exists in {zone} ({detail}); run `mailform \
             plan` again"
        ));
    }
    if has(&[7003, 1001, 7000, 1049]) {
        return ProviderError::Rejected(format!("zone {zone} not found in Cloudflare ({detail})"));
    }
    if status == 429 || has(&[971, 10013]) {
        return ProviderError::Service(format!(
            "Cloudflare is rate-limiting this token ({detail}); wait a few minutes and retry"
        ));
    }
    if status >= 500 {
        return ProviderError::Service(format!("Cloudflare failed: {detail}"));
    }
    if errors
        .iter()
        .any(|e| (9000..10000).contains(&e.code) || e.code == 1004)
    {
        return ProviderError::Rejected(format!(
            "Cloudflare refused a record in {zone} as invalid: {detail}"
        ));
    }
    ProviderError::Rejected(format!(
        "Cloudflare refused the request for {zone}: {detail}"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(code: i64, message: &str) -> Vec<ApiMessage> {
        vec![ApiMessage {
            code,
            message: message.into(),
        }]
    }

    #[test]
    fn codes_become_plain_messages() {
        let e = api_error(
            403,
            &m(10000, "Authentication error"),
            "example.com",
            Access::Read,
        );
        assert!(matches!(e, ProviderError::Permission(_)));
        let e = api_error(403, &[], "example.com", Access::Read).to_string();
        assert!(e.contains("Zone:Read") && e.contains("example.com"), "{e}");
        let e = api_error(403, &[], "example.com", Access::Write).to_string();
        assert!(e.contains("DNS:Edit"), "{e}");
        let e = api_error(
            400,
            &m(
                81053,
                "An A, AAAA, or CNAME record with that host already exists.",
            ),
            "example.com",
            Access::Write,
        );
        assert!(
            matches!(&e, ProviderError::Conflict(s) if s.contains("CNAME conflict")),
            "{e}"
        );
        let e = api_error(
            400,
            &m(81058, "An identical record already exists."),
            "example.com",
            Access::Write,
        );
        assert!(e.to_string().contains("already exists"));
        let e = api_error(
            400,
            &m(9005, "Content for A record is invalid."),
            "example.com",
            Access::Write,
        );
        assert!(
            matches!(&e, ProviderError::Rejected(s) if s.contains("invalid")),
            "{e}"
        );
        let e = api_error(
            404,
            &m(7003, "Could not route to /zones/x"),
            "example.com",
            Access::Read,
        );
        assert!(e.to_string().contains("not found"));
        assert!(matches!(
            api_error(502, &[], "example.com", Access::Read),
            ProviderError::Service(_)
        ));
    }
}
