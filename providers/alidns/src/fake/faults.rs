//! The faults a test may inject: the core's kinds, as Alidns answers them,
//! plus Alidns's own.
//!
//! Faults match requests by `Action` (any when `None`). The core's kinds
//! are answered as Alidns would: `Throttle` is flow control
//! (`Throttling.User`, HTTP 400, request not processed), `Unavailable` an
//! internal error (HTTP 500 `InternalError`, not processed), `AfterWrite`
//! the same 500 after the action was carried out; `Slow`, `Drop` as
//! everywhere.

use mailform_testkit::fake;

/// Alidns's own fault kinds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AlidnsFault {
    /// HTTP 503 `ServiceUnavailable`, before anything is done.
    ServiceUnavailable,
}

/// What goes wrong.
pub type FaultKind = fake::FaultKind<AlidnsFault>;

/// A fault of this fake: fires on requests named by their action.
pub type Fault = fake::Fault<AlidnsFault>;
