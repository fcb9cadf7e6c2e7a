//! A pull request's file must not be able to send CI's provider tokens to a
//! server of its choosing: a URL setting may point only at the vendor's
//! hosts, loopback, or hosts the run's environment trusts
//! (`MAILFORM_TRUSTED_ENDPOINT_HOSTS`). Checked at load time, before any
//! network call.

use assert_cmd::Command;

const TOKEN: &str = "cf-secret-token-that-must-stay-home";

fn run(yaml: &str, trusted: Option<&str>, args: &[&str]) -> (i32, String) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("mailform.yaml"), yaml).unwrap();
    let mut c = Command::cargo_bin("mailform").unwrap();
    c.current_dir(dir.path())
        .env("CLOUDFLARE_API_TOKEN", TOKEN)
        .env("PDNS_API_KEY", TOKEN)
        .env_remove("MAILFORM_TRUSTED_ENDPOINT_HOSTS")
        .env("NO_COLOR", "1")
        .args(args);
    if let Some(t) = trusted {
        c.env("MAILFORM_TRUSTED_ENDPOINT_HOSTS", t);
    }
    let out = c.output().unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!text.contains(TOKEN), "token printed:\n{text}");
    (out.status.code().unwrap_or(-1), text)
}

fn zone(provider: &str) -> String {
    format!(
        "version: 1\nproviders:\n  p:\n    {provider}\ndomains:\n  example.com:\n    dns: {{provider: p}}\n    records:\n      www:\n        A: 192.0.2.1\n"
    )
}

#[test]
fn a_file_cannot_point_a_token_at_a_host_of_its_own() {
    for provider in [
        "cloudflare: {endpoint: \"https://evil.example/client/v4\"}",
        "cloudflare: {endpoint: \"https://api.cloudflare.com.evil.example/client/v4\"}",
        "powerdns: {endpoint: \"http://pdns.corp.example:8081\"}",
    ] {
        let yaml = zone(provider);
        for cmd in ["validate", "plan"] {
            let (code, out) = run(&yaml, None, &[cmd]);
            assert_eq!(code, 1, "{provider} {cmd}: {out}");
            assert!(out.contains("MAILFORM_TRUSTED_ENDPOINT_HOSTS"), "{out}");
            assert!(
                out.contains("mailform.yaml:3:3"),
                "located at the provider: {out}"
            );
        }
    }
}

#[test]
fn the_vendor_loopback_and_hosts_the_environment_trusts_are_taken() {
    for (provider, trusted) in [
        (
            "cloudflare: {endpoint: \"https://api.cloudflare.com/client/v4\"}",
            None,
        ),
        (
            "cloudflare: {endpoint: \"http://127.0.0.1:9/client/v4\"}",
            None,
        ),
        (
            "powerdns: {endpoint: \"http://pdns.corp.example:8081\"}",
            Some("pdns.corp.example"),
        ),
        (
            "powerdns: {endpoint: \"http://a.corp.example:8081\"}",
            Some("x.other, *.corp.example"),
        ),
    ] {
        let (code, out) = run(&zone(provider), trusted, &["validate"]);
        assert_eq!(code, 0, "{provider}: {out}");
    }
}
