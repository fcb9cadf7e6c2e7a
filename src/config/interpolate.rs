//! `${env:NAME}` and `${file:path}` references: the rules live in the
//! contract crate, shared with providers' secret settings.

pub use mailform_contract::interpolate::{interpolate, Env, InterpolationError, ProcessEnv};
