//! Certificate credentials: the provider signs a client assertion with the
//! certificate's key, and the fake identity platform checks it as Microsoft
//! describes (thumbprint of a registered certificate, signature, audience,
//! issuer and subject, time range).

use mailform_contract::{MailProvider, ProviderError};
use mailform_m365::config::CertificateSettings;
use mailform_m365::fake::{FakeCertificate, FakeConfig, FakeGraph};
use mailform_m365::{Config, M365Provider};

struct Cert {
    pem: String,
    key_pem: String,
    fake: FakeCertificate,
}

fn certificate() -> Cert {
    let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_RSA_SHA256).unwrap();
    let cert = rcgen::CertificateParams::new(vec!["mailform".into()])
        .unwrap()
        .self_signed(&key)
        .unwrap();
    Cert {
        pem: cert.pem(),
        key_pem: key.serialize_pem(),
        fake: FakeCertificate {
            der: cert.der().to_vec(),
            public_key_pem: key.public_key_pem(),
        },
    }
}

fn config(fake: &FakeGraph, dir: &std::path::Path) -> Config {
    Config {
        tenant: fake.config().tenant_id.clone(),
        client_id: fake.config().client_id.clone(),
        client_certificate: Some(CertificateSettings {
            certificate: "app.pem".into(),
            private_key: "${file:app.key}".into(),
        }),
        graph_endpoint: Some(fake.url()),
        login_endpoint: Some(fake.url()),
        base_dir: dir.to_path_buf(),
        ..Config::default()
    }
}

fn write(dir: &std::path::Path, cert: &Cert) {
    std::fs::write(dir.join("app.pem"), &cert.pem).unwrap();
    std::fs::write(dir.join("app.key"), &cert.key_pem).unwrap();
}

#[tokio::test]
async fn a_registered_certificate_signs_in() {
    let cert = certificate();
    let fake = FakeGraph::start(FakeConfig {
        certificate: Some(cert.fake.clone()),
        ..FakeConfig::default()
    })
    .await
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), &cert);
    let p = M365Provider::new(config(&fake, dir.path()));
    p.read_domain("example.com").await.unwrap();
    assert!(fake.violations().is_empty(), "{:?}", fake.violations());
}

#[tokio::test]
async fn an_unregistered_certificate_is_refused_with_the_fix() {
    let (registered, other) = (certificate(), certificate());
    let fake = FakeGraph::start(FakeConfig {
        certificate: Some(registered.fake.clone()),
        ..FakeConfig::default()
    })
    .await
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), &other);
    let p = M365Provider::new(config(&fake, dir.path()));
    let err = p.read_domain("example.com").await.unwrap_err();
    let text = err.to_string();
    assert!(matches!(err, ProviderError::Permission(_)), "{err:?}");
    assert!(text.contains("AADSTS700027"), "{text}");
    assert!(text.contains("Certificates & secrets"), "{text}");
    assert!(!text.contains("PRIVATE KEY"), "{text}");

    // The registered certificate with another key: the signature fails.
    let forged = Cert {
        pem: registered.pem.clone(),
        key_pem: other.key_pem.clone(),
        fake: registered.fake.clone(),
    };
    write(dir.path(), &forged);
    let p = M365Provider::new(config(&fake, dir.path()));
    let text = p.read_domain("example.com").await.unwrap_err().to_string();
    assert!(text.contains("AADSTS700027"), "{text}");
}

#[tokio::test]
async fn bad_certificate_settings_fail_before_any_request() {
    let fake = FakeGraph::start(FakeConfig::default()).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("app.pem"), "not a certificate").unwrap();
    std::fs::write(dir.path().join("app.key"), "not a key").unwrap();
    let p = M365Provider::new(config(&fake, dir.path()));
    let text = p.read_domain("example.com").await.unwrap_err().to_string();
    assert!(text.contains("client_certificate.certificate"), "{text}");
    let cert = certificate();
    std::fs::write(dir.path().join("app.pem"), &cert.pem).unwrap();
    let p = M365Provider::new(config(&fake, dir.path()));
    let text = p.read_domain("example.com").await.unwrap_err().to_string();
    assert!(text.contains("not an RSA private key"), "{text}");
    assert!(
        !text.contains("not a key"),
        "the key's text must not be shown: {text}"
    );
    assert_eq!(fake.token_requests(), 0);

    let both = Config {
        client_secret: Some("${env:X}".into()),
        ..config(&fake, dir.path())
    };
    assert!(both.check().unwrap_err().to_string().contains("keep one"));
}
