//! mailform: infrastructure as code for company email.
//!
//! This crate is the engine, which decides. Data flows one way:
//! YAML → [`config`] (parse, check) → [`desired`] state → [`plan`] (pure
//! diff against [`live`] state read through the [`registry`]'s providers)
//! → [`apply`] (ordered, safe) → providers. [`render`] prints plans;
//! [`import`] turns live state back into YAML; [`cli`] is the command line.
//! The providers themselves live in the `providers/` crates behind the
//! `mailform-contract` traits.

// Output goes through `cli::output`, which survives a closed pipe;
// `print!` and friends panic on one.
#![deny(clippy::print_stdout, clippy::print_stderr)]

pub mod apply;
pub mod cli;
pub mod config;
pub mod desired;
pub mod import;
pub mod lint;
pub mod live;
pub mod plan;
pub mod policy;
pub mod presets;
pub mod registry;
pub mod render;
pub mod schema;
pub mod verify;
