//! Fuzz target: arbitrary bytes as the zone file of `example.com`, read by
//! the zonefile provider exactly as `plan` reads it, and, when it reads,
//! written back by an apply and read again.
//!
//! A read error is fine. A panic, a hang (libFuzzer `-timeout`) or a memory
//! blow-up (`-rss_limit_mb`) is a finding, and so is an apply that writes a
//! file the provider cannot read back or that loses or changes a record set
//! it did not touch (the provider promises that writing a file back loses
//! nothing).
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use mailform_contract::{ChangeOutcome, DnsChange, DnsProvider, RecordSet, RecordType};
use mailform_zonefile::{Config, ZonefileProvider};

const ZONE: &str = "example.com";
const PROBE: &str = "mailform-fuzz-probe.example.com";

struct Fixture {
    _dir: tempfile::TempDir,
    provider: ZonefileProvider,
    runtime: tokio::runtime::Runtime,
}

fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        // Under $TMPDIR, which fuzz/run.sh points at a tmpfs and removes after
        // the run: the process exits without dropping statics.
        let dir = tempfile::tempdir().expect("temporary directory");
        let mut config = Config::new("zones");
        config.nameservers = vec!["ns1.example.net".into(), "ns2.example.net".into()];
        let provider = ZonefileProvider::new(config, dir.path());
        std::fs::create_dir_all(provider.directory()).expect("zone directory");
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("tokio runtime");
        Fixture {
            _dir: dir,
            provider,
            runtime,
        }
    })
}

fn find<'a>(sets: &'a [RecordSet], key: &(String, RecordType)) -> Option<&'a RecordSet> {
    sets.iter().find(|s| &s.key() == key)
}

fuzz_target!(|data: &[u8]| {
    let f = fixture();
    let path = f.provider.zone_path(ZONE).expect("zone path");
    std::fs::write(&path, data).expect("write the zone file");
    let Ok(before) = f.runtime.block_on(f.provider.read_zone(ZONE)) else {
        return;
    };
    assert!(before.exists);

    let probe = RecordSet::parse(PROBE, "TXT", 300, &["\"probe\""]).expect("probe record");
    if find(&before.records, &probe.key()).is_some() {
        return;
    }
    let change = DnsChange::Create { new: probe.clone() };
    let report = f
        .runtime
        .block_on(f.provider.apply_zone(ZONE, std::slice::from_ref(&change)));
    if !report
        .outcomes
        .iter()
        .all(|o| matches!(o, ChangeOutcome::Applied))
    {
        return;
    }
    let written = std::fs::read_to_string(&path).expect("read the written file");
    let after = match f.runtime.block_on(f.provider.read_zone(ZONE)) {
        Ok(after) => after,
        Err(e) => panic!("the provider wrote a zone file it cannot read back: {e}\n{written}"),
    };
    for set in before.records.iter().filter(|s| s.rtype != RecordType::Soa) {
        match find(&after.records, &set.key()) {
            Some(back) if back.same_as(set) => {}
            back => panic!(
                "writing the file back changed {} {}: read {:?}, after the apply {:?}\n{written}",
                set.name, set.rtype, set, back
            ),
        }
    }
    match find(&after.records, &probe.key()) {
        Some(back) if back.same_as(&probe) => {}
        back => panic!("the applied probe reads back as {back:?}\n{written}"),
    }
    let apex_ns = (ZONE.to_string(), RecordType::Ns);
    for set in &after.records {
        let key = set.key();
        let expected = set.rtype == RecordType::Soa
            || key == probe.key()
            || key == apex_ns
            || find(&before.records, &key).is_some();
        assert!(expected, "the apply added {set:?}\n{written}");
    }
});
