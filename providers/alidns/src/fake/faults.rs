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

/// One injected fault.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fault {
    pub action: Option<String>,
    pub kind: FaultKind,
    /// Matching requests let through before the fault fires.
    pub skip: usize,
    /// How many times it fires; `usize::MAX` for always.
    pub times: usize,
}

impl Fault {
    /// `kind` on the next request for `action` (any action when `None`).
    pub fn on(action: Option<&str>, kind: FaultKind) -> Fault {
        Fault {
            action: action.map(str::to_string),
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

/// Takes the fault to apply to a request for `action`, if any.
pub fn take(faults: &mut Vec<Fault>, action: &str) -> Option<FaultKind> {
    let pos = faults
        .iter()
        .position(|f| f.action.as_deref().is_none_or(|a| a == action))?;
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
