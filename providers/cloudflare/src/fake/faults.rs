//! The faults a test may inject: the core's kinds, as Cloudflare answers
//! them, plus Cloudflare's own.
//!
//! A fault's `on` is `"METHOD fragment"` (or just `"fragment"`, any
//! method): it matches requests with that method whose path contains the
//! fragment, e.g. `"POST /batch"`. The core's kinds are answered as
//! Cloudflare would: `Throttle` a 429 (code 971, with `Retry-After` when
//! given), `Unavailable` a 500 (code 10002) before anything is done,
//! `AfterWrite` the same 500 after the request was carried out; `Slow`,
//! `Drop` (the connection closed without an answer) as everywhere.

use mailform_testkit::fake;

/// Cloudflare's own fault kinds, for the batch endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CloudflareFault {
    /// The batch item at this position (deletes, patches, puts, posts
    /// counted in order) is refused as invalid, rolling the batch back.
    FailBatchItem {
        /// Its position in that order.
        index: usize,
    },
    /// The batch endpoint answers 404 "No route" (an API without it).
    NoBatchEndpoint,
}

/// What goes wrong.
pub type FaultKind = fake::FaultKind<CloudflareFault>;

/// One injected fault.
pub type Fault = fake::Fault<CloudflareFault>;

/// Whether a fault's `on` pattern names the request `op`
/// (`"METHOD /path"`).
pub(crate) fn matches(pattern: &str, op: &str) -> bool {
    let (method, path) = op.split_once(' ').unwrap_or(("", op));
    match pattern.split_once(' ') {
        Some((m, fragment)) => m.eq_ignore_ascii_case(method) && path.contains(fragment),
        None => path.contains(pattern),
    }
}

#[cfg(test)]
mod tests {
    use super::matches;

    #[test]
    fn method_and_path_fragment() {
        let op = "POST /client/v4/zones/z/dns_records/batch";
        assert!(matches("POST /batch", op));
        assert!(matches("post /dns_records", op));
        assert!(matches("/batch", op));
        assert!(!matches("GET /batch", op));
        assert!(!matches("POST /zones/y", op));
    }
}
