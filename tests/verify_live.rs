//! `mailform verify` against a real BIND 9 serving the zone on loopback:
//! a zone written by mailform verifies clean; a deliberately broken zone
//! served in its place is reported record by record and rule by rule.

#[path = "../providers/zonefile/tests/common/named.rs"]
mod named;

use std::path::{Path, PathBuf};

use assert_cmd::Command;

const GOOD_KEY: &str = "MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAs3bfcvM3llyG/V0A9o6NU89TrBmXxwh6vZyJDoauNPb/Rq64q3mZ4saZo3g9foTMJ6VNbIzWZGvdNZK/rMPgIIxqWGUyzHRSbKv42GgmBSZo7YpNkIhqHZUQ5VJTguBjFFs+vJFMvxijx8zDOtYZ1/xJj02ShtA3TtPNM+M1lWDPedxO1c3nLt5jiMT5nCNUmfeNYRcjuy+rYwudxU6b+9FpEkF+II5Zpp+UZMRS5lZmvyIaGC4hM7l+juHB5zNphbbME+iSu04SgEooKrH8+1dRGt0MnESzsQfiEMsSMYqpz2LoJwm9gxUMzgNk6ITl177XKDGLPY/9XLIMbPFplwIDAQAB";
const WEAK_KEY: &str = "MFwwDQYJKoZIhvcNAQEBBQADSwAwSAJBAN5p+soeSW7NcMR8wFhTShGFI9nOXiAzlJQwClbiiNn3CBIg08XSkqcaX2FT2DdVm5bbGICh01myQeyQ9+RKo50CAwEAAQ==";

fn named_binary() -> Option<PathBuf> {
    mailform_testkit::real_server::require_program(&[named::NAMED], "bind9")
}

fn config(dir: &Path) -> PathBuf {
    let yaml = format!(
        r#"version: 1
providers:
  zones: {{zonefile: {{directory: ./zones, nameservers: [ns1.example.net]}}}}
domains:
  example.com:
    dns: {{provider: zones}}
    records:
      "@": {{MX: "10 mx.example.com."}}
      mx: {{A: 192.0.2.1}}
    spf: {{mx: true, all: fail}}
    dmarc: {{p: reject}}
    dkim:
      google: {{key: "{GOOD_KEY}"}}
"#
    );
    let path = dir.join("mailform.yaml");
    std::fs::write(&path, yaml).unwrap();
    path
}

fn verify(file: &Path, port: u16) -> (i32, serde_json::Value) {
    let addr = format!("127.0.0.1:{port}");
    let out = Command::cargo_bin("mailform")
        .unwrap()
        .args([
            "verify",
            "--format",
            "json",
            "--detailed-exitcode",
            "--timeout",
            "2",
            "--authoritative",
            &addr,
            "--resolver",
            &addr,
            "-f",
        ])
        .arg(file)
        .output()
        .unwrap();
    let json = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stderr)));
    (out.status.code().unwrap_or(-1), json)
}

fn rules(report: &serde_json::Value) -> Vec<String> {
    report["zones"][0]["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["rule"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn a_zone_written_by_mailform_verifies_clean_and_a_broken_one_does_not() {
    let Some(named_bin) = named_binary() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let file = config(dir.path());
    Command::cargo_bin("mailform")
        .unwrap()
        .args(["apply", "--auto-approve", "-f"])
        .arg(&file)
        .assert()
        .success();
    let zone_file = dir.path().join("zones/example.com.zone");

    let server = named::start_named(&named_bin, "example.com", &zone_file);
    let (code, report) = verify(&file, server.port);
    assert_eq!(code, 0, "{report:#}");
    for s in report["zones"][0]["servers"].as_array().unwrap() {
        for r in s["records"].as_array().unwrap() {
            assert_eq!(r["status"], "served", "{r}");
        }
    }
    assert!(rules(&report).is_empty(), "{report:#}");

    // The wait that onboarding uses: served sets return at once; a set the
    // server does not have times out and is named.
    let addr: std::net::SocketAddr = format!("127.0.0.1:{}", server.port).parse().unwrap();
    let served =
        mailform_contract::RecordSet::parse("mx.example.com", "A", 3600, &["192.0.2.1"]).unwrap();
    let absent =
        mailform_contract::RecordSet::parse("token.example.com", "TXT", 3600, &["\"v=verify\""])
            .unwrap();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let short = std::time::Duration::from_millis(200);
    rt.block_on(mailform::verify::wait_until_served(
        std::slice::from_ref(&served),
        &[addr],
        short * 5,
        short,
    ))
    .unwrap();
    let pending = rt
        .block_on(mailform::verify::wait_until_served(
            &[served, absent],
            &[addr],
            short * 3,
            short,
        ))
        .unwrap_err();
    assert_eq!(pending.len(), 1, "{pending:?}");
    assert!(
        pending[0].starts_with("token.example.com TXT"),
        "{pending:?}"
    );
    drop(server);

    let broken = dir.path().join("broken.zone");
    std::fs::write(
        &broken,
        format!(
            r#"$ORIGIN example.com.
$TTL 300
@ SOA ns1.example.net. hostmaster.example.com. 1 7200 3600 1209600 300
@ NS ns1.example.net.
@ MX 10 mail.example.com.
mail CNAME mx.example.com.
mx A 192.0.2.1
@ TXT "v=spf1 include:_s1.example.com include:_v1.example.com include:_v2.example.com include:_v3.example.com -all"
@ TXT "v=spf1 mx -all"
_s1 TXT "v=spf1 include:_s2.example.com a mx -all"
_s2 TXT "v=spf1 include:_s3.example.com a mx -all"
_s3 TXT "v=spf1 a mx a:x.example.com mx:y.example.com -all"
_dmarc TXT "v=DMARC1; p=rejct"
google._domainkey TXT "v=DKIM1; k=rsa; p={WEAK_KEY}"
"#
        ),
    )
    .unwrap();
    let server = named::start_named(&named_bin, "example.com", &broken);
    let (code, report) = verify(&file, server.port);
    assert_eq!(code, 2, "{report:#}");
    let auth = &report["zones"][0]["servers"][0]["records"];
    let status = |name: &str, t: &str| {
        auth.as_array()
            .unwrap()
            .iter()
            .find(|r| r["name"] == name && r["type"] == t)
            .map(|r| r["status"].as_str().unwrap().to_string())
            .unwrap()
    };
    assert_eq!(status("example.com", "MX"), "differs");
    assert_eq!(status("_dmarc.example.com", "TXT"), "differs");
    assert_eq!(status("mx.example.com", "A"), "served");
    let found = rules(&report);
    for rule in ["MF101", "MF103", "MF107", "MF201", "MF302", "MF401"] {
        assert!(
            found.iter().any(|r| r == rule),
            "{rule} not reported: {found:?}\n{report:#}"
        );
    }
}
