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
@ MX 0 .
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
    for rule in [
        "MF101", "MF103", "MF107", "MF201", "MF302", "MF401", "MF404",
    ] {
        assert!(
            found.iter().any(|r| r == rule),
            "{rule} not reported: {found:?}\n{report:#}"
        );
    }
}

/// A minimal HTTPS server for `mta-sts.example.com` on loopback: answers
/// every request with the current body and content type.
struct PolicyServer {
    port: u16,
    ca_pem: String,
    body: std::sync::Arc<std::sync::Mutex<(String, String)>>,
}

fn start_policy_server() -> PolicyServer {
    use std::sync::{Arc, Mutex};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    let ca_key = rcgen::KeyPair::generate().unwrap();
    let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    let ca = ca_params.self_signed(&ca_key).unwrap();
    let ca_issuer = rcgen::Issuer::new(ca_params, ca_key);
    let key = rcgen::KeyPair::generate().unwrap();
    let cert = rcgen::CertificateParams::new(vec!["mta-sts.example.com".to_string()])
        .unwrap()
        .signed_by(&key, &ca_issuer)
        .unwrap();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(
            vec![cert.der().clone()],
            rustls::pki_types::PrivateKeyDer::Pkcs8(key.serialize_der().into()),
        )
        .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let port = listener.local_addr().unwrap().port();
    let body = Arc::new(Mutex::new((String::new(), "text/plain".to_string())));
    let shared = body.clone();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let listener = tokio::net::TcpListener::from_std(listener).unwrap();
            loop {
                let Ok((tcp, _)) = listener.accept().await else {
                    continue;
                };
                let acceptor = acceptor.clone();
                let shared = shared.clone();
                tokio::spawn(async move {
                    let Ok(mut tls) = acceptor.accept(tcp).await else {
                        return;
                    };
                    let mut request = Vec::new();
                    let mut buf = [0u8; 1024];
                    while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                        match tls.read(&mut buf).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => request.extend_from_slice(&buf[..n]),
                        }
                    }
                    let (text, content_type) = shared.lock().unwrap().clone();
                    let response = format!(
                        "HTTP/1.1 200 OK\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{text}",
                        text.len()
                    );
                    let _ = tls.write_all(response.as_bytes()).await;
                    let _ = tls.shutdown().await;
                });
            }
        });
    });
    PolicyServer {
        port,
        ca_pem: ca.pem(),
        body,
    }
}

#[test]
fn verify_fetches_the_mta_sts_policy_over_https_and_compares_it() {
    let Some(named_bin) = named_binary() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("mailform.yaml");
    std::fs::write(
        &file,
        r#"version: 1
providers:
  zones: {zonefile: {directory: ./zones, nameservers: [ns1.example.net]}}
domains:
  example.com:
    dns: {provider: zones}
    records:
      "@": {MX: "10 mx.example.com."}
      mx: {A: 192.0.2.1}
      mta-sts: {A: 127.0.0.1}
    spf: {mx: true, all: fail}
    dmarc: {p: reject}
    tls_rpt: {rua: ["mailto:tls@example.com"]}
    mta_sts: {mode: enforce, mx: [mx.example.com], max_age: 86400}
"#,
    )
    .unwrap();
    Command::cargo_bin("mailform")
        .unwrap()
        .args(["apply", "--auto-approve", "-f"])
        .arg(&file)
        .assert()
        .success();
    let policy = Command::cargo_bin("mailform")
        .unwrap()
        .args(["mta-sts-policy", "example.com", "-f"])
        .arg(&file)
        .output()
        .unwrap();
    assert!(policy.status.success());
    let policy = String::from_utf8(policy.stdout).unwrap();
    let https = start_policy_server();
    *https.body.lock().unwrap() = (policy.clone(), "text/plain; charset=utf-8".into());
    let ca = dir.path().join("ca.pem");
    std::fs::write(&ca, &https.ca_pem).unwrap();
    let zone_file = dir.path().join("zones/example.com.zone");
    let server = named::start_named(&named_bin, "example.com", &zone_file);
    let run = |with_ca: bool| {
        let addr = format!("127.0.0.1:{}", server.port);
        let mut cmd = Command::cargo_bin("mailform").unwrap();
        cmd.args(["verify", "--format", "json", "--detailed-exitcode"])
            .args([
                "--timeout",
                "2",
                "--authoritative",
                &addr,
                "--resolver",
                &addr,
            ])
            .args(["--mta-sts-port", &https.port.to_string()]);
        if with_ca {
            cmd.arg("--ca-file").arg(&ca);
        }
        let out = cmd.arg("-f").arg(&file).output().unwrap();
        let json: serde_json::Value = serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stderr)));
        (out.status.code().unwrap_or(-1), json)
    };
    let messages = |report: &serde_json::Value| -> Vec<String> {
        report["zones"][0]["findings"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| format!("{} {}", f["rule"].as_str().unwrap(), f["message"]))
            .collect()
    };

    let (code, report) = run(true);
    assert_eq!(code, 0, "{report:#}");
    assert!(rules(&report).is_empty(), "{report:#}");

    // Without the private CA the certificate is not trusted, as by any sender.
    let (code, report) = run(false);
    assert_eq!(code, 2, "{report:#}");
    assert_eq!(rules(&report), vec!["MF504"], "{report:#}");

    // A stale policy: the mode and the MX set differ from the block, and
    // the served MX no longer matches the served policy.
    *https.body.lock().unwrap() = (
        "version: STSv1\r\nmode: testing\r\nmx: old-mx.example.com\r\nmax_age: 86400\r\n".into(),
        "text/plain".into(),
    );
    let (code, report) = run(true);
    assert_eq!(code, 2, "{report:#}");
    let found = messages(&report);
    assert!(
        found
            .iter()
            .any(|m| m.starts_with("MF504") && m.contains("mode is testing (declared enforce)")),
        "{found:?}"
    );
    assert!(
        found
            .iter()
            .any(|m| m.starts_with("MF501") && m.contains("mx.example.com")),
        "{found:?}"
    );

    // Served as HTML (a web server's default page): senders ignore it.
    *https.body.lock().unwrap() = (policy, "text/html".into());
    let (_, report) = run(true);
    let found = messages(&report);
    assert!(
        found
            .iter()
            .any(|m| m.starts_with("MF504") && m.contains("text/plain")),
        "{found:?}"
    );
}
