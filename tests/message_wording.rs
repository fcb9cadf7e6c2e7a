//! The wording of counts and kinds in what the binary prints: a count takes
//! the noun in its number (`1 record set`, not `1 record sets` or
//! `1 record set(s)`), and a kind its article (`an alias`, not `a alias`).

use std::path::Path;
use std::process::Output;

use assert_cmd::Command;

fn run(dir: &Path, args: &[&str]) -> Output {
    #[allow(deprecated)] // `cargo_bin` is the documented way in assert_cmd 2.x
    let mut cmd = Command::cargo_bin("mailform").expect("mailform binary is built");
    cmd.current_dir(dir)
        .env("NO_COLOR", "1")
        .arg("-f")
        .arg(dir.join("mailform.yaml"))
        .args(args)
        .output()
        .expect("mailform runs")
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

const ZONE_ONLY: &str = r#"version: 1
providers:
  zones: {zonefile: {directory: ./zones, nameservers: [ns1.example.net]}}
domains:
  example.com:
    dns: {provider: zones}
    records:
      www: {A: 192.0.2.10}
      ftp: {A: 192.0.2.11}
"#;

#[test]
fn counts_of_one_take_the_singular() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("mailform.yaml"), ZONE_ONLY).unwrap();

    let out = run(d, &["validate"]);
    let said = text(&out);
    assert!(out.status.success(), "{said}");
    assert!(
        said.contains("is valid: 1 zone, 2 record sets, 0 mailboxes."),
        "{said}"
    );

    let out = run(d, &["apply", "--auto-approve"]);
    assert!(out.status.success(), "{}", text(&out));

    // One record set is live but no longer in the file.
    std::fs::write(
        d.join("mailform.yaml"),
        ZONE_ONLY.replace("      ftp: {A: 192.0.2.11}\n", ""),
    )
    .unwrap();
    let out = run(d, &["plan"]);
    let said = text(&out);
    assert!(
        said.contains("1 record set not in the file, left alone: ftp"),
        "{said}"
    );
    let out = run(d, &["plan", "--format", "markdown"]);
    let said = text(&out);
    // SOA and the apex NS are live and not in the file either.
    assert!(
        said.contains("_2 live objects not in the file are left alone._"),
        "{said}"
    );

    std::fs::write(
        d.join("mailform.yaml"),
        ZONE_ONLY.replace("192.0.2.11", "192.0.2.12"),
    )
    .unwrap();
    let out = run(d, &["apply", "--auto-approve"]);
    let said = text(&out);
    assert!(said.contains("Apply complete: 1 change applied."), "{said}");
    for plural_of_one in ["(s)", "(es)", "1 record sets", "1 changes"] {
        assert!(!said.contains(plural_of_one), "{said}");
    }
}

const MAIL: &str = r#"version: 1
providers:
  zones: {zonefile: {directory: ./zones, nameservers: [ns1.example.net]}}
  mailserver: {postfix: {directory: ./mail}}
domains:
  example.com:
    dns: {provider: zones}
    mail: {provider: mailserver}
    dmarc: {p: reject}
    records:
      "@": {MX: "10 mx.example.com."}
      mx: {A: 192.0.2.25}
mailboxes:
  alice@example.com:
    password_hash: "{SHA512-CRYPT}$6$HyXegb7yMAa9UxTA$cwgH.Zcvg1xyfMmBaUPCv2q9B/fKJWma2G5asiacg3Xj5cTIwGQFWl1IPonbCStAHaDhMrLF/87ffYxDssMgZ/"
    aliases: [postmaster@example.com, abuse@example.com]
aliases:
  info@example.com: {to: [alice@example.com]}
"#;

#[test]
fn a_kind_clash_names_the_kinds_with_their_articles() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::create_dir(d.join("mail")).unwrap();
    std::fs::write(d.join("mailform.yaml"), MAIL).unwrap();
    let out = run(d, &["apply", "--auto-approve"]);
    assert!(out.status.success(), "{}", text(&out));

    // info@ is live as an alias; the file now wants a mailbox there.
    let yaml = MAIL.replace(
        "aliases:\n  info@example.com: {to: [alice@example.com]}\n",
        "",
    ) + "  info@example.com:\n    password_hash: \"{SHA512-CRYPT}$6$HyXegb7yMAa9UxTA$cwgH.Zcvg1xyfMmBaUPCv2q9B/fKJWma2G5asiacg3Xj5cTIwGQFWl1IPonbCStAHaDhMrLF/87ffYxDssMgZ/\"\n";
    std::fs::write(d.join("mailform.yaml"), &yaml).unwrap();
    let out = run(d, &["plan"]);
    let said = text(&out);
    assert!(
        said.contains(
            "`info@example.com` is declared as a mailbox but exists at the provider as an alias"
        ),
        "{yaml}\n{said}"
    );
    assert!(!said.contains("as a alias"), "{said}");
}
