//! The rule every real-server test follows: a missing binary skips the test
//! with a message, except under `MAILFORM_REQUIRE_REAL_SERVERS=1` (CI),
//! where it fails it. Alone in its own test binary because it sets the
//! environment variable.

mod common;

#[test]
fn missing_binaries_skip_locally_and_fail_in_ci() {
    std::env::remove_var("MAILFORM_REQUIRE_REAL_SERVERS");
    assert!(common::require_binary("/nonexistent/named-checkzone", "bind9-utils").is_none());

    std::env::set_var("MAILFORM_REQUIRE_REAL_SERVERS", "1");
    let result = std::panic::catch_unwind(|| {
        common::require_binary("/nonexistent/named-checkzone", "bind9-utils")
    });
    std::env::remove_var("MAILFORM_REQUIRE_REAL_SERVERS");
    let message = *result.unwrap_err().downcast::<String>().unwrap();
    assert!(message.contains("apt install bind9-utils"), "{message}");

    assert!(common::require_binary("/bin/sh", "dash").is_some());
}
