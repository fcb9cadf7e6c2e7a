//! HTTP answers from PowerDNS → [`ProviderError`]s that say what to do.
//!
//! PowerDNS answers errors with `{"error": "...", "errors": [...]}` (its
//! data-format documentation), except for authentication failures and
//! unknown paths, which come back as plain text (`Unauthorized`,
//! `Not Found`).

use mailform_contract::ProviderError;
use mailform_http::{HttpError, StatusCode};

use crate::wire::ErrorBody;

/// The server's own message from an error body, or the body as text.
pub fn server_message(body: &[u8]) -> String {
    match serde_json::from_slice::<ErrorBody>(body) {
        Ok(b) if b.errors.is_empty() => b.error,
        Ok(b) => {
            let details: Vec<String> = b
                .errors
                .iter()
                .map(|e| {
                    e.as_str()
                        .map(str::to_string)
                        .unwrap_or_else(|| e.to_string())
                })
                .collect();
            format!("{} ({})", b.error, details.join("; "))
        }
        Err(_) => String::from_utf8_lossy(body)
            .trim()
            .chars()
            .take(300)
            .collect(),
    }
}

/// The error for a non-success answer to `what` (e.g. "PATCH zone example.com").
pub fn from_status(what: &str, status: StatusCode, body: &[u8]) -> ProviderError {
    let msg = server_message(body);
    match status.as_u16() {
        401 | 403 => ProviderError::Permission(format!(
            "{what}: PowerDNS refused the API key (HTTP {status}): set `api_key` or the \
             PDNS_API_KEY environment variable to the server's `api-key`, and check that the \
             server runs with `api=yes` and `webserver=yes` and allows this address \
             (`webserver-allow-from`)"
        )),
        409 => ProviderError::Conflict(format!("{what}: {msg}")),
        400 | 422 => ProviderError::Rejected(format!("{what}: PowerDNS refused it: {msg}")),
        404 => ProviderError::Rejected(format!(
            "{what}: PowerDNS answered 404 ({msg}): check `endpoint` and `server_id`, and that the \
             server runs with `api=yes`"
        )),
        _ => ProviderError::Service(format!("{what}: PowerDNS answered HTTP {status}: {msg}")),
    }
}

/// The error for a request that got no answer. For a write that may have
/// reached the server, the outcome is unknown: the message says to plan
/// again rather than retry.
pub fn from_transport(what: &str, endpoint: &str, e: &HttpError, write: bool) -> ProviderError {
    match e {
        HttpError::Transport {
            sent: false,
            message,
            ..
        } => ProviderError::Service(format!(
            "{what}: cannot reach PowerDNS at {endpoint} ({message}); is it running with \
             `webserver=yes` on that address and port?"
        )),
        HttpError::Transport { message, .. } if write => ProviderError::Service(format!(
            "{what}: no answer from PowerDNS ({message}); the change may or may not have been \
             made: run `mailform plan` to see what is live"
        )),
        other => ProviderError::Service(format!("{what}: {other}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_bodies_become_clear_messages() {
        let e = from_status(
            "PATCH zone example.com",
            StatusCode::UNPROCESSABLE_ENTITY,
            br#"{"error": "RRset example.com. IN CNAME: Conflicts with pre-existing RRset"}"#,
        );
        assert!(
            matches!(&e, ProviderError::Rejected(m) if m.contains("Conflicts with pre-existing RRset")),
            "{e}"
        );
        let e = from_status(
            "GET zone example.com",
            StatusCode::UNAUTHORIZED,
            b"Unauthorized",
        );
        let m = e.to_string();
        assert!(
            m.contains("PDNS_API_KEY") && m.contains("api=yes") && m.contains("webserver=yes"),
            "{m}"
        );
        assert!(matches!(e, ProviderError::Permission(_)));
        let e = from_status(
            "x",
            StatusCode::INTERNAL_SERVER_ERROR,
            br#"{"error": "db locked", "errors": ["a", {"b": 1}]}"#,
        );
        assert!(e.to_string().contains(r#"db locked (a; {"b":1})"#), "{e}");
        assert!(matches!(
            from_status("x", StatusCode::CONFLICT, b"Conflict"),
            ProviderError::Conflict(_)
        ));
    }
}
