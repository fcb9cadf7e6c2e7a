//! The error type providers return.

/// An error from a provider. Messages are written for the person running
/// mailform: they say what failed and, where known, what to do about it.
/// They never contain secrets.
#[derive(Debug, Clone, thiserror::Error, serde::Serialize)]
pub enum ProviderError {
    /// Credentials are missing or lack a permission; the message names it.
    #[error("permission denied: {0}")]
    Permission(String),
    /// The object the change was computed against is not as the plan saw it
    /// (a concurrent edit); nothing was changed.
    #[error("conflict: {0}")]
    Conflict(String),
    /// The provider refused the request as invalid.
    #[error("rejected: {0}")]
    Rejected(String),
    /// The provider cannot store what was asked (a capability it lacks).
    #[error("unsupported: {0}")]
    Unsupported(String),
    /// Reading or writing local files failed.
    #[error("i/o error: {0}")]
    Io(String),
    /// The remote service failed or could not be reached.
    #[error("service error: {0}")]
    Service(String),
    /// A write reached the service but its answer did not say what became
    /// of it (a 5xx answer, a lost connection): it may have been carried
    /// out. Providers never repeat such a write; the next plan, made from
    /// what is live, shows whether it was.
    #[error("outcome unknown (it may have been carried out; run plan to see): {0}")]
    Unknown(String),
    /// Live data could not be understood. A read that fails this way must
    /// abort the plan: never treat unreadable state as absent.
    #[error("cannot parse live data: {0}")]
    Parse(String),
}

impl ProviderError {
    /// For a read: an answer-less failure changed nothing, so an
    /// [`ProviderError::Unknown`] becomes a plain service error.
    pub fn for_read(self) -> ProviderError {
        match self {
            ProviderError::Unknown(m) => ProviderError::Service(m),
            e => e,
        }
    }

    /// The same kind of error with its message rewritten, e.g. to say what
    /// the change had already done when it failed.
    pub fn map_message(self, f: impl FnOnce(String) -> String) -> ProviderError {
        match self {
            ProviderError::Permission(m) => ProviderError::Permission(f(m)),
            ProviderError::Conflict(m) => ProviderError::Conflict(f(m)),
            ProviderError::Rejected(m) => ProviderError::Rejected(f(m)),
            ProviderError::Unsupported(m) => ProviderError::Unsupported(f(m)),
            ProviderError::Io(m) => ProviderError::Io(f(m)),
            ProviderError::Service(m) => ProviderError::Service(f(m)),
            ProviderError::Unknown(m) => ProviderError::Unknown(f(m)),
            ProviderError::Parse(m) => ProviderError::Parse(f(m)),
        }
    }
}

impl From<std::io::Error> for ProviderError {
    fn from(e: std::io::Error) -> Self {
        ProviderError::Io(e.to_string())
    }
}
