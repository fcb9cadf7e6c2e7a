//! Injected faults: what a test asks the fake to do wrong, and when.
//!
//! A fault matches requests by discovery method id (any when `None`), lets
//! `skip` matching requests through first, then fires `times` times. The
//! kinds are what a client of Google's APIs must survive: per-user rate
//! limits (403 `userRateLimitExceeded`, not processed), 429 with
//! `Retry-After`, a backend error before processing (500), a backend error
//! *after* the change was made (the answer is lost; a blind retry would
//! duplicate), and a slow answer.

use std::time::Duration;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FaultKind {
    /// 403 `userRateLimitExceeded`; nothing done.
    RateLimit,
    /// 429 with `Retry-After: 1`; nothing done.
    TooManyRequests,
    /// 500 `backendError`; nothing done.
    ServerError,
    /// The request is carried out, then answered 500.
    ProcessedThenServerError,
    /// The answer comes after this delay.
    Slow(Duration),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fault {
    pub method: Option<String>,
    pub kind: FaultKind,
    pub skip: usize,
    pub times: usize,
}

impl Fault {
    /// `kind` on the next request for discovery method `method`
    /// (`directory.users.insert`), or any method when `None`.
    pub fn on(method: Option<&str>, kind: FaultKind) -> Fault {
        Fault {
            method: method.map(str::to_string),
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
}

/// Takes the fault to apply to a request for `method`, if any.
pub fn take(faults: &mut Vec<Fault>, method: &str) -> Option<FaultKind> {
    let pos = faults
        .iter()
        .position(|f| f.method.as_deref().is_none_or(|m| m == method))?;
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
