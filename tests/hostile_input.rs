//! The loader under hostile or merely large input, on the real binary:
//! a pull request trying to print CI secrets through a plan, files that
//! are not regular files or are too large, a large legitimate file, and
//! tens of thousands of errors. The single-file cases live in
//! `tests/bad-input/in-*.yaml`; these need a plan, a FIFO, a symlink
//! made at run time, an environment variable or a generated file.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use assert_cmd::Command;

/// A value no output may contain.
const SENTINEL: &str = "cf-token-SENTINEL-7f3a9c";

struct Dir {
    dir: tempfile::TempDir,
}

impl Dir {
    fn new() -> Dir {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("zones")).unwrap();
        Dir { dir }
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    fn write(&self, rel: &str, text: &str) {
        std::fs::write(self.path(rel), text).unwrap();
    }

    fn cmd(&self, args: &[&str]) -> Command {
        #[allow(deprecated)] // `cargo_bin` is the documented way in assert_cmd 2.x
        let mut c = Command::cargo_bin("mailform").unwrap();
        c.current_dir(self.dir.path())
            .env("NO_COLOR", "1")
            .env_remove("MAILFORM_ALLOW_FILE_OUTSIDE")
            .env_remove("MAILFORM_MAX_FILE_BYTES")
            .env_remove("MAILFORM_MAX_REFERENCED_FILE_BYTES")
            .env("CLOUDFLARE_API_TOKEN", SENTINEL)
            .args(args)
            .timeout(Duration::from_secs(120));
        c
    }
}

/// A zone-file estate whose `@` TXT record is `txt` (as written in YAML).
fn zone_yaml(txt: &str) -> String {
    format!(
        "version: 1\nproviders:\n  zones:\n    zonefile:\n      directory: ./zones\n\
         domains:\n  example.com:\n    dns:\n      provider: zones\n    records:\n      \"@\":\n        TXT: {txt}\n"
    )
}

struct Run {
    code: Option<i32>,
    out: String,
    elapsed: Duration,
}

fn run(mut c: Command) -> Run {
    let start = Instant::now();
    let o = c.output().unwrap();
    Run {
        code: o.status.code(),
        out: format!(
            "{}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        ),
        elapsed: start.elapsed(),
    }
}

#[test]
fn a_pull_request_cannot_print_a_ci_secret_through_the_plan() {
    let d = Dir::new();
    std::fs::write(
        d.dir.path().parent().unwrap().join("mf-outside.txt"),
        SENTINEL,
    )
    .ok();
    let outside = d.dir.path().parent().unwrap().join("mf-outside.txt");
    d.write("token.txt", SENTINEL);
    #[cfg(unix)]
    std::os::unix::fs::symlink(&outside, d.path("link.txt")).unwrap();
    let attempts = [
        "\"${env:CLOUDFLARE_API_TOKEN}\"".to_string(),
        format!("\"${{file:{}}}\"", outside.display()),
        "\"${file:../mf-outside.txt}\"".to_string(),
        "\"${file:link.txt}\"".to_string(),
    ];
    for txt in &attempts {
        d.write("mailform.yaml", &zone_yaml(txt));
        for args in [
            ["plan", "--format", "markdown", "-f", "mailform.yaml"].as_slice(),
            ["plan", "--format", "json", "-f", "mailform.yaml"].as_slice(),
            ["validate", "-f", "mailform.yaml"].as_slice(),
        ] {
            let r = run(d.cmd(args));
            assert_eq!(r.code, Some(1), "{txt} {args:?}: {}", r.out);
            assert!(
                !r.out.contains(SENTINEL),
                "{txt} {args:?} leaked:\n{}",
                r.out
            );
            assert!(r.out.contains("= fix:"), "{txt}: {}", r.out);
        }
    }
    // A secret used as a secret is fine and stays unprinted.
    d.write(
        "mailform.yaml",
        &zone_yaml("\"v=spf1 -all\"").replace(
            "      directory: ./zones\n",
            "      directory: ./zones\n  cf:\n    cloudflare:\n      token: ${file:token.txt}\n",
        ),
    );
    let r = run(d.cmd(&["validate", "-f", "mailform.yaml"]));
    assert_eq!(r.code, Some(0), "{}", r.out);
    assert!(!r.out.contains(SENTINEL));
    std::fs::remove_file(outside).ok();
}

#[test]
fn public_variables_and_files_in_the_tree_reach_the_plan() {
    let d = Dir::new();
    std::fs::create_dir(d.path("dkim")).unwrap();
    d.write("dkim/site.txt", "site-verification=abc123\n");
    d.write(
        "mailform.yaml",
        &zone_yaml("[\"${env:MAILFORM_PUBLIC_SPF}\", \"${file:dkim/site.txt}\"]"),
    );
    let mut c = d.cmd(&["plan", "--format", "markdown", "-f", "mailform.yaml"]);
    c.env("MAILFORM_PUBLIC_SPF", "v=spf1 -all");
    let r = run(c);
    assert!(r.out.contains("v=spf1 -all"), "{}", r.out);
    assert!(r.out.contains("site-verification=abc123"), "{}", r.out);
}

#[test]
fn files_outside_the_tree_need_the_opt_in() {
    let outer = tempfile::tempdir().unwrap();
    let d = Dir::new();
    std::fs::write(outer.path().join("verify.txt"), "public-verification-token").unwrap();
    let txt = format!(
        "\"${{file:{}}}\"",
        outer.path().join("verify.txt").display()
    );
    d.write("mailform.yaml", &zone_yaml(&txt));
    let r = run(d.cmd(&["validate", "-f", "mailform.yaml"]));
    assert_eq!(r.code, Some(1), "{}", r.out);
    assert!(r.out.contains("is an absolute path"), "{}", r.out);
    let mut c = d.cmd(&["plan", "-f", "mailform.yaml"]);
    c.env("MAILFORM_ALLOW_FILE_OUTSIDE", "1");
    let r = run(c);
    assert!(r.out.contains("public-verification-token"), "{}", r.out);
}

#[cfg(unix)]
fn mkfifo(path: &Path) {
    let ok = std::process::Command::new("mkfifo")
        .arg(path)
        .status()
        .unwrap()
        .success();
    assert!(ok, "mkfifo {}", path.display());
}

#[cfg(unix)]
#[test]
fn a_fifo_or_a_device_is_refused_at_once() {
    let d = Dir::new();
    mkfifo(&d.path("pipe.yaml"));
    mkfifo(&d.path("hash.pipe"));
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (vec!["validate", "-f", "pipe.yaml"], "named pipe (FIFO)"),
        (vec!["plan", "-f", "pipe.yaml"], "named pipe (FIFO)"),
        (
            vec!["mta-sts-policy", "example.com", "-f", "pipe.yaml"],
            "named pipe (FIFO)",
        ),
        (vec!["validate", "-f", "/dev/zero"], "character device"),
        (vec!["validate", "-f", "/dev/urandom"], "character device"),
        (vec!["validate", "-f", "zones"], "directory"),
    ];
    for (args, want) in cases {
        let r = run(d.cmd(&args));
        assert_eq!(r.code, Some(1), "{args:?}: {}", r.out);
        assert!(
            r.out.contains(want) && r.out.contains("= fix:"),
            "{args:?}: {}",
            r.out
        );
        assert!(
            r.elapsed < Duration::from_secs(10),
            "{args:?} took {:?}",
            r.elapsed
        );
    }
    d.write(
        "mailform.yaml",
        "version: 1\nproviders:\n  mail:\n    postfix:\n      directory: ./zones\n\
         domains:\n  example.com:\n    mail:\n      provider: mail\n\
         mailboxes:\n  alice@example.com:\n    password_hash: ${file:hash.pipe}\n",
    );
    let r = run(d.cmd(&["validate", "-f", "mailform.yaml"]));
    assert_eq!(r.code, Some(1), "{}", r.out);
    assert!(r.out.contains("named pipe (FIFO)"), "{}", r.out);
    assert!(r.out.contains("mailform.yaml:12:20"), "{}", r.out);
    assert!(r.elapsed < Duration::from_secs(10), "took {:?}", r.elapsed);
    // Files named by flags too: verify's `--ca-file`.
    d.write(
        "ok.yaml",
        "version: 1\nproviders:\n  zones:\n    zonefile:\n      directory: ./zones\n\
         domains:\n  example.com:\n    dns:\n      provider: zones\n    records:\n      www:\n        A: 192.0.2.1\n",
    );
    let r = run(d.cmd(&["verify", "-f", "ok.yaml", "--ca-file", "hash.pipe"]));
    assert_eq!(r.code, Some(1), "{}", r.out);
    assert!(r.out.contains("named pipe (FIFO)"), "{}", r.out);
    assert!(r.elapsed < Duration::from_secs(10), "took {:?}", r.elapsed);
}

/// The MTA-STS policy file is only compared, but it is read too.
#[cfg(unix)]
#[test]
fn an_mta_sts_policy_file_that_is_a_device_does_not_hang() {
    let d = Dir::new();
    mkfifo(&d.path("policy.txt"));
    for file in ["/dev/zero", "policy.txt"] {
        d.write(
            "mailform.yaml",
            &zone_yaml("\"v=spf1 -all\"").replace(
                "    records:\n",
                &format!("    mta_sts: {{mode: testing, mx: [mx.example.com], max_age: 86400, policy_file: {file}}}\n    records:\n"),
            ),
        );
        let r = run(d.cmd(&["validate", "-f", "mailform.yaml"]));
        assert!(
            r.out.contains("does not hold the MTA-STS policy"),
            "{file}: {}",
            r.out
        );
        assert!(
            r.elapsed < Duration::from_secs(10),
            "{file} took {:?}",
            r.elapsed
        );
    }
}

#[test]
fn size_limits_name_themselves_and_how_to_raise_them() {
    let d = Dir::new();
    d.write("mailform.yaml", &zone_yaml("\"${file:big.txt}\""));
    d.write("big.txt", &"x".repeat(2000));
    let mut c = d.cmd(&["validate", "-f", "mailform.yaml"]);
    c.env("MAILFORM_MAX_FILE_BYTES", "100");
    let r = run(c);
    assert_eq!(r.code, Some(1), "{}", r.out);
    assert!(
        r.out.contains("larger than 100 bytes") && r.out.contains("MAILFORM_MAX_FILE_BYTES="),
        "{}",
        r.out
    );
    let mut c = d.cmd(&["validate", "-f", "mailform.yaml"]);
    c.env("MAILFORM_MAX_REFERENCED_FILE_BYTES", "1000");
    let r = run(c);
    assert_eq!(r.code, Some(1), "{}", r.out);
    assert!(
        r.out.contains("larger than 1000 bytes")
            && r.out.contains("MAILFORM_MAX_REFERENCED_FILE_BYTES=")
            && r.out.contains("mailform.yaml:12:14"),
        "{}",
        r.out
    );
}

/// A file of `n` record sets under one domain; `bad` makes every A value
/// invalid.
fn many_records(n: usize, bad: bool) -> String {
    let mut s = String::from(
        "version: 1\nproviders:\n  zones:\n    zonefile:\n      directory: ./zones\n\
         domains:\n  example.com:\n    dns:\n      provider: zones\n    records:\n",
    );
    for i in 0..n {
        let last = if bad { 300 + i % 200 } else { 1 + i % 250 };
        s.push_str(&format!("      h{i}:\n        A: 192.0.2.{last}\n"));
    }
    s
}

#[test]
fn a_file_of_200000_records_is_accepted() {
    let d = Dir::new();
    d.write("mailform.yaml", &many_records(200_000, false));
    let r = run(d.cmd(&["validate", "-f", "mailform.yaml"]));
    assert_eq!(r.code, Some(0), "{}", &r.out[..r.out.len().min(2000)]);
    assert!(r.out.contains("200000 record sets"), "{}", r.out);
    eprintln!("200,000 records validated in {:?}", r.elapsed);
}

/// A safety bound, not a benchmark: before line lookups were indexed,
/// 50,000 errors took minutes. The measured time is printed.
#[test]
fn fifty_thousand_errors_are_reported_in_linear_time() {
    let d = Dir::new();
    d.write("mailform.yaml", &many_records(50_000, true));
    let r = run(d.cmd(&["validate", "-f", "mailform.yaml"]));
    assert_eq!(r.code, Some(1));
    assert!(
        r.out.contains("50000 errors found"),
        "{}",
        &r.out[r.out.len().saturating_sub(500)..]
    );
    assert!(r.out.contains("mailform.yaml:100010:12"));
    eprintln!("50,000 errors reported in {:?}", r.elapsed);
    assert!(r.elapsed < Duration::from_secs(60), "took {:?}", r.elapsed);
}
