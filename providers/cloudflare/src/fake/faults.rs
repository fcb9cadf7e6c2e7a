//! Injected faults: what a test asks the fake to do wrong, and when.
//!
//! A fault matches requests by method and a path fragment, lets `skip`
//! matching requests through first, then fires `times` times. Kinds are the
//! failures the client must survive: a 429 with `Retry-After` (Cloudflare's
//! rate limit, code 971), a 500 before or after the request is carried
//! out, a dropped connection, a slow answer, and a
//! batch item that fails validation (so the batch rolls back).

use std::time::Duration;

/// What goes wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FaultKind {
    /// 429 with `Retry-After: secs`.
    TooManyRequests { retry_after_secs: u64 },
    /// 500 with Cloudflare's envelope, before anything is done.
    ServerError,
    /// The request is carried out, then answered with a 500: a write
    /// whose answer says nothing of its fate.
    ServerErrorAfterWrite,
    /// The connection is closed without an answer.
    Drop,
    /// The answer comes after this delay.
    Slow(Duration),
    /// The batch item at this position (deletes, patches, puts, posts
    /// counted in order) is refused as invalid, rolling the batch back.
    FailBatchItem { index: usize },
    /// The batch endpoint answers 404 "No route" (an API without it).
    NoBatchEndpoint,
}

/// One injected fault.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fault {
    pub method: Option<String>,
    pub path_contains: Option<String>,
    pub kind: FaultKind,
    /// Matching requests let through before the fault fires.
    pub skip: usize,
    /// How many times it fires; `usize::MAX` for always.
    pub times: usize,
}

impl Fault {
    /// `kind` on the next request with `method` (any when `None`) whose path
    /// contains `path`.
    pub fn on(method: Option<&str>, path: &str, kind: FaultKind) -> Fault {
        Fault {
            method: method.map(str::to_ascii_uppercase),
            path_contains: Some(path.to_string()),
            kind,
            skip: 0,
            times: 1,
        }
    }

    pub fn skip(mut self, n: usize) -> Fault {
        self.skip = n;
        self
    }

    pub fn times(mut self, n: usize) -> Fault {
        self.times = n;
        self
    }

    fn matches(&self, method: &str, path: &str) -> bool {
        self.method
            .as_deref()
            .is_none_or(|m| m.eq_ignore_ascii_case(method))
            && self
                .path_contains
                .as_deref()
                .is_none_or(|p| path.contains(p))
    }
}

/// Takes the fault to apply to this request, if any. `want` selects the
/// kinds considered (so the connection layer takes only drops, the batch
/// handler only batch faults).
pub fn take(
    faults: &mut Vec<Fault>,
    method: &str,
    path: &str,
    want: impl Fn(&FaultKind) -> bool,
) -> Option<FaultKind> {
    let pos = faults
        .iter()
        .position(|f| want(&f.kind) && f.matches(method, path))?;
    let f = &mut faults[pos];
    if f.skip > 0 {
        f.skip -= 1;
        return None;
    }
    let kind = f.kind.clone();
    f.times = f.times.saturating_sub(1);
    if f.times == 0 {
        faults.remove(pos);
    }
    Some(kind)
}
