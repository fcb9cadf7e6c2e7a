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

/// A fault of this fake: fires on requests named by their discovery method id.
pub type Fault = mailform_testkit::faults::Fault<FaultKind>;

/// Takes the fault to apply to a request named `name`, if any.
pub fn take(faults: &mut Vec<Fault>, name: &str) -> Option<FaultKind> {
    mailform_testkit::faults::take(faults, name)
}
