//! Fuzz target: arbitrary bytes as a mailform YAML file, through exactly
//! what `mailform validate` runs offline: `config::load` (read, parse,
//! profiles, compile, lint), the providers' capability audit, and the
//! rendering of every finding.
//!
//! Errors are the expected outcome for almost every input; a panic, a hang
//! (libFuzzer `-timeout`) or a memory blow-up (`-rss_limit_mb`) is a finding.
//! `${env:}` reads a fixed in-memory environment so that runs do not depend
//! on the host, and relative `${file:}` references resolve inside a private
//! temporary directory that holds a few secret files of the right shapes.
#![no_main]

use std::path::PathBuf;
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use mailform::config::interpolate::Env;
use mailform::config::{self, LoadError, LoadOptions, Loaded};
use mailform::registry::Registry;

/// The environment the inputs see: a few set variables, nothing else.
struct FixedEnv;

impl Env for FixedEnv {
    fn var(&self, name: &str) -> Option<String> {
        let value = match name {
            "MAILFORM_FUZZ" => "value",
            "MAILFORM_FUZZ_EMPTY" => "",
            "MAILFORM_FUZZ_HASH" => ALICE_HASH,
            "CLOUDFLARE_API_TOKEN" => "fuzz-cloudflare-token",
            "POWERDNS_API_KEY" => "fuzz-powerdns-key",
            _ => return None,
        };
        Some(value.to_string())
    }
}

const ALICE_HASH: &str = "{SHA512-CRYPT}$6$HyXegb7yMAa9UxTA$cwgH.Zcvg1xyfMmBaUPCv2q9B/fKJWma2G5asiacg3Xj5cTIwGQFWl1IPonbCStAHaDhMrLF/87ffYxDssMgZ/";

/// The directory the fuzzed file lives in, and the file's path.
struct Workspace {
    _dir: tempfile::TempDir,
    file: PathBuf,
}

fn workspace() -> &'static Workspace {
    static WS: OnceLock<Workspace> = OnceLock::new();
    WS.get_or_init(|| {
        // Under $TMPDIR, which fuzz/run.sh points at a tmpfs and removes after
        // the run: the process exits without dropping statics.
        let dir = tempfile::tempdir().expect("temporary directory");
        let put = |rel: &str, text: &str| {
            let path = dir.path().join(rel);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, text).unwrap();
        };
        // The shapes the examples reference, so that `${file:}` succeeds too.
        put("secrets/alice.hash", &format!("{ALICE_HASH}\n"));
        put("secrets/bob.hash", ALICE_HASH);
        put("secrets/password.txt", "correct horse battery staple\n");
        put(
            "secrets/mailform-sa.json",
            "{\"type\": \"service_account\"}\n",
        );
        put(
            "dkim/google.pub",
            "v=DKIM1; k=rsa; p=MIGfMA0GCSqGSIb3DQEBAQUAA4GNADCBiQKBgQC5\n",
        );
        let file = dir.path().join("mailform.yaml");
        Workspace { _dir: dir, file }
    })
}

/// What `mailform validate` adds after a successful load: whether each DNS
/// provider can store each record (mirrors `cli::validate::audit`).
fn audit(loaded: &Loaded) -> usize {
    let registry = Registry::from_config(&loaded.config, &loaded.base_dir);
    let mut problems = 0;
    for z in &loaded.desired.zones {
        let caps = registry.dns(&z.provider).capabilities();
        for d in &z.records {
            for p in caps.audit(&d.item) {
                problems += format!("{} {}: {p}", d.item.name, d.item.rtype).len();
            }
        }
    }
    problems
}

fuzz_target!(|data: &[u8]| {
    let ws = workspace();
    std::fs::write(&ws.file, data).expect("write the input file");
    let options = LoadOptions::default();
    match config::load(&ws.file, &options, &FixedEnv) {
        Ok(loaded) => {
            for w in &loaded.warnings {
                std::hint::black_box(w.to_string());
            }
            std::hint::black_box(audit(&loaded));
            // `--profile NAME` for one declared profile as well.
            if let Some(name) = loaded.config.profiles.keys().next() {
                let options = LoadOptions {
                    profile: Some(name.to_string()),
                    ..LoadOptions::default()
                };
                if let Ok(loaded) = config::load(&ws.file, &options, &FixedEnv) {
                    std::hint::black_box(audit(&loaded));
                }
            }
        }
        Err(LoadError::Invalid(diags)) => {
            assert!(
                diags.iter().any(|d| d.is_error()),
                "load failed with no error among its findings"
            );
            std::hint::black_box(LoadError::Invalid(diags).to_string());
        }
        Err(e @ LoadError::Read { .. }) => {
            std::hint::black_box(e.to_string());
        }
    }
});
