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

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fault {
    pub operation: Option<String>,
    pub kind: FaultKind,
    pub skip: usize,
    pub times: usize,
}

impl Fault {
    /// `kind` on the next request for `operation` (`"GET /users"`,
    /// `"POST /groups/{id}/members/$ref"`), or any when `None`.
    pub fn on(operation: Option<&str>, kind: FaultKind) -> Fault {
        Fault {
            operation: operation.map(str::to_string),
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

/// Takes the fault to apply to a request for `operation`, if any.
pub fn take(faults: &mut Vec<Fault>, operation: &str) -> Option<FaultKind> {
    let pos = faults
        .iter()
        .position(|f| f.operation.as_deref().is_none_or(|m| m == operation))?;
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
