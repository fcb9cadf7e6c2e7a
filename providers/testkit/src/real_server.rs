//! The one rule for tests that need a real program (BIND, PowerDNS,
//! postmap, doveadm): when it is missing, the test says it was skipped and
//! passes — unless `MAILFORM_REQUIRE_REAL_SERVERS=1` (CI), where a missing
//! package must fail loudly instead of turning the test into a silent pass.

use std::path::PathBuf;

/// Whether a missing program fails the test (CI) rather than skipping it.
pub fn required() -> bool {
    std::env::var("MAILFORM_REQUIRE_REAL_SERVERS").as_deref() == Ok("1")
}

/// The first of `candidates` that exists; otherwise `None` after printing
/// why the test is skipped, or a panic when [`required`].
pub fn require_program(candidates: &[&str], package: &str) -> Option<PathBuf> {
    if let Some(found) = candidates.iter().map(PathBuf::from).find(|p| p.is_file()) {
        return Some(found);
    }
    let name = candidates.first().copied().unwrap_or("program");
    let message = format!("{name} not installed (apt install {package})");
    if required() {
        panic!("MAILFORM_REQUIRE_REAL_SERVERS=1 but {message}");
    }
    eprintln!("skipped: {message}");
    None
}
