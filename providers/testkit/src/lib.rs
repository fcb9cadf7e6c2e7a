//! Test kit for mailform's fake provider servers.
//!
//! Fakes must be honest: a test may not pass with a request the real service
//! would refuse. This crate checks each request a client sends against the
//! provider's official OpenAPI 3 description (see `shared/specs/README.md`):
//! the path template, the method, the query and path parameters with their
//! schemas, and the JSON body (validated with the `jsonschema` crate).
//!
//! - [`spec`]: where the shared descriptions live, and loading them.
//! - [`openapi`]: the description as operations with compiled schemas
//!   (`$ref` resolution, OpenAPI 3.0 → JSON Schema adjustments).
//! - [`validate`]: one request checked against those operations.
//! - [`discovery`]: the same for Google's discovery documents.
//! - [`faults`]: injected faults (which request, how many to skip, how
//!   often), shared by the fakes.
//! - [`fake`]: the fake core every fake server runs on (serving, the
//!   request pipeline, faults, latency, log, violations, lags).
//! - [`real_server`]: skip-or-fail for tests that need a real server program.
//!
//! It is independent of any HTTP server: a fake hands it the method, path,
//! query string and body bytes, and records the [`Violation`]s it returns.

#![warn(missing_docs)]

pub mod discovery;
pub mod fake;
pub mod faults;
pub mod openapi;
pub mod real_server;
pub mod spec;
pub mod validate;

pub use discovery::{Discovery, DiscoveryMatch};
pub use openapi::OpenApi;
pub use spec::{load_json_spec, load_yaml_spec, spec_path};
pub use validate::{Matched, Violation};
