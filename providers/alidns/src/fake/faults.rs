//! Injected faults: what a test asks the fake to do wrong, and when.
//!
//! A fault matches requests by action (any when `None`), lets `skip`
//! matching requests through first, then fires `times` times. The kinds are
//! what the client must survive: Alidns's flow control (`Throttling.User`,
//! HTTP 400, request not processed), an internal error (HTTP 500, not
//! processed), `ServiceUnavailable` (HTTP 503), and a slow answer.

use std::time::Duration;

/// What goes wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FaultKind {
    /// HTTP 400 `Throttling.User`.
    Throttle,
    /// HTTP 500 `InternalError`.
    ServerError,
    /// HTTP 503 `ServiceUnavailable`.
    Unavailable,
    /// The answer comes after this delay.
    Slow(Duration),
}

/// A fault of this fake: fires on requests named by their action.
pub type Fault = mailform_testkit::faults::Fault<FaultKind>;

/// Takes the fault to apply to a request named `name`, if any.
pub fn take(faults: &mut Vec<Fault>, name: &str) -> Option<FaultKind> {
    mailform_testkit::faults::take(faults, name)
}
