//! Injected faults: what a test asks the fake to do wrong, and when.
//!
//! A fault matches requests by operation (`"POST /users"`, the method and
//! the description's path template; any when `None`), `$batch`
//! sub-requests included, lets `skip` matching requests through first,
//! then fires `times` times. The kinds are what a Graph client must
//! survive: throttling (429 with `Retry-After`, not processed), a service
//! error before processing (503), one *after* the change was made (the
//! answer is lost; a blind retry would duplicate it), and a slow answer.

use std::time::Duration;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FaultKind {
    /// 429 `TooManyRequests` with `Retry-After: 1`; nothing done.
    TooManyRequests,
    /// 503 `serviceNotAvailable`; nothing done.
    ServerError,
    /// The request is carried out, then answered 500.
    ProcessedThenServerError,
    /// The answer comes after this delay.
    Slow(Duration),
}

/// A fault of this fake: fires on requests named by their operation.
pub type Fault = mailform_testkit::faults::Fault<FaultKind>;

/// Takes the fault to apply to a request named `name`, if any.
pub fn take(faults: &mut Vec<Fault>, name: &str) -> Option<FaultKind> {
    mailform_testkit::faults::take(faults, name)
}
