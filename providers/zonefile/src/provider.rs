//! The `zonefile` [`DnsProvider`]: ties reading, applying and writing
//! together for one zone file at a time.
//!
//! File work runs on tokio's blocking pool (`spawn_blocking`): the files are
//! small, but an apply ends in an fsync, which can stall for a while on a
//! busy disk and must not hold up the engine's other providers.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use async_trait::async_trait;
use mailform_contract::local_state::{StateLock, LOCK_WAIT};
use mailform_contract::name::normalize_name;
use mailform_contract::{
    ApplyReport, DnsCapabilities, DnsChange, DnsProvider, ProviderError, RecordSet, RecordType,
    ZoneState,
};

use crate::apply::apply_changes;
use crate::config::Config;
use crate::parse::parse_zone;
use crate::serial::today_utc;
use crate::store;
use crate::write::render;

/// The `zonefile` DNS provider.
#[derive(Debug, Clone)]
pub struct ZonefileProvider {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    config: Config,
    directory: PathBuf,
}

impl ZonefileProvider {
    /// A provider for `config`; a relative `directory` is taken relative to
    /// `base_dir` (the directory of the mailform YAML file).
    pub fn new(config: Config, base_dir: &Path) -> Self {
        let directory = config.resolved_directory(base_dir);
        ZonefileProvider {
            inner: Arc::new(Inner { config, directory }),
        }
    }

    /// The directory holding the zone files.
    pub fn directory(&self) -> &Path {
        &self.inner.directory
    }

    /// The file that holds `zone`.
    pub fn zone_path(&self, zone: &str) -> Result<PathBuf, ProviderError> {
        store::zone_path(&self.inner.directory, &normalize_name(zone))
    }

    async fn blocking<T: Send + 'static>(
        &self,
        work: impl FnOnce(&Inner) -> T + Send + 'static,
    ) -> Result<T, ProviderError> {
        let inner = Arc::clone(&self.inner);
        tokio::task::spawn_blocking(move || work(&inner))
            .await
            .map_err(|e| ProviderError::Io(format!("zone file task failed: {e}")))
    }
}

/// A zone file's bytes and the record sets read from them; `None` when the
/// file does not exist.
type Loaded = Option<(Vec<u8>, Vec<RecordSet>)>;

impl Inner {
    fn load(&self, zone: &str) -> Result<(PathBuf, Loaded), ProviderError> {
        let path = store::zone_path(&self.directory, zone)?;
        let Some(bytes) = store::read(&path)? else {
            return Ok((path, None));
        };
        let text = std::str::from_utf8(&bytes).map_err(|e| {
            ProviderError::Parse(format!("{}: not UTF-8 text: {e}", path.display()))
        })?;
        let sets = parse_zone(text, zone, &path)?;
        Ok((path, Some((bytes, sets))))
    }

    /// The exclusive lock of `zone`'s file, for an apply. Reads take none:
    /// the file is replaced by one rename, so they see the old zone or the
    /// new one.
    fn lock(&self, zone: &str) -> Result<StateLock, ProviderError> {
        let path = store::zone_path(&self.directory, zone)?;
        let lock = store::lock_path(&path)?;
        // The directory may not exist before the zone's first apply.
        if let Some(dir) = lock.parent() {
            std::fs::create_dir_all(dir)
                .map_err(|e| ProviderError::Io(format!("cannot create {}: {e}", dir.display())))?;
        }
        let what = format!("the zone file {}", path.display());
        StateLock::exclusive(&lock, &what, LOCK_WAIT)
    }

    fn read_zone(&self, zone: &str) -> Result<ZoneState, ProviderError> {
        let (_, loaded) = self.load(zone)?;
        Ok(ZoneState {
            zone: zone.to_string(),
            exists: loaded.is_some(),
            records: loaded.map(|(_, sets)| sets).unwrap_or_default(),
        })
    }

    fn apply_zone(&self, zone: &str, changes: &[DnsChange]) -> ApplyReport {
        if changes.is_empty() {
            return ApplyReport::all_applied(0);
        }
        // Held from the read to the rename: another mailform run applying
        // to this zone meanwhile would otherwise have its change overwritten.
        let _lock = match self.lock(zone) {
            Ok(lock) => lock,
            Err(e) => return ApplyReport::all_failed(changes.len(), e),
        };
        let (path, loaded) = match self.load(zone) {
            Ok(loaded) => loaded,
            Err(e) => return ApplyReport::all_failed(changes.len(), e),
        };
        let (bytes, live) = match loaded {
            Some((bytes, sets)) => (Some(bytes), Some(sets)),
            None => (None, None),
        };
        let sets = match apply_changes(zone, live, changes, &self.config, today_utc()) {
            Ok(sets) => sets,
            Err(report) => return report,
        };
        let text = render(zone, self.config.ttl(), &sets);
        match store::replace(&path, text.as_bytes(), bytes.as_deref()) {
            Ok(()) => ApplyReport::all_applied(changes.len()),
            Err(e) => ApplyReport::all_failed(changes.len(), e),
        }
    }
}

#[async_trait]
impl DnsProvider for ZonefileProvider {
    fn kind(&self) -> &'static str {
        "zonefile"
    }

    fn capabilities(&self) -> DnsCapabilities {
        DnsCapabilities {
            record_types: RecordType::DECLARABLE.to_vec(),
            min_ttl: 0,
            // RFC 2181 8: a TTL is an unsigned number from 0 to 2^31 - 1.
            max_ttl: 2_147_483_647,
            atomic_zone_apply: true,
            creates_zones: true,
            limits: Vec::new(),
        }
    }

    async fn read_zone(&self, zone: &str) -> Result<ZoneState, ProviderError> {
        let zone = normalize_name(zone);
        self.blocking(move |inner| inner.read_zone(&zone)).await?
    }

    async fn apply_zone(&self, zone: &str, changes: &[DnsChange]) -> ApplyReport {
        let zone = normalize_name(zone);
        let changes = changes.to_vec();
        let count = changes.len();
        self.blocking(move |inner| inner.apply_zone(&zone, &changes))
            .await
            .unwrap_or_else(|e| ApplyReport::all_failed(count, e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse::tests::REALISTIC;
    use mailform_contract::{ChangeOutcome, RData};

    fn set(name: &str, rtype: &str, ttl: u32, values: &[&str]) -> RecordSet {
        RecordSet::parse(name, rtype, ttl, values).unwrap()
    }

    fn get<'a>(state: &'a ZoneState, name: &str, rtype: &str) -> Option<&'a RecordSet> {
        state
            .records
            .iter()
            .find(|s| s.name == name && s.rtype == RecordType::parse(rtype))
    }

    fn provider(dir: &Path) -> ZonefileProvider {
        ZonefileProvider::new(Config::new("zones"), dir)
    }

    fn applied(report: &ApplyReport) -> bool {
        report
            .outcomes
            .iter()
            .all(|o| matches!(o, ChangeOutcome::Applied))
    }

    fn soa_text(state: &ZoneState) -> String {
        get(state, &state.zone, "SOA").unwrap().values[0].presentation()
    }

    #[tokio::test]
    async fn a_missing_file_is_an_absent_zone() {
        let dir = tempfile::tempdir().unwrap();
        let state = provider(dir.path()).read_zone("example.com").await.unwrap();
        assert!(!state.exists);
        assert!(state.records.is_empty());
        assert_eq!(state.zone, "example.com");
    }

    #[tokio::test]
    async fn an_unparsable_file_is_an_error_not_an_empty_zone() {
        let dir = tempfile::tempdir().unwrap();
        let p = provider(dir.path());
        std::fs::create_dir_all(p.directory()).unwrap();
        std::fs::write(
            p.zone_path("example.com").unwrap(),
            "$TTL 300\n@ A 192.0.2.1\nwww A not-an-address\n",
        )
        .unwrap();
        let err = p.read_zone("example.com").await.unwrap_err();
        let ProviderError::Parse(message) = err else {
            panic!("{err:?}")
        };
        assert!(message.contains("example.com.zone:3:"), "{message}");
    }

    #[tokio::test]
    async fn write_then_read_gives_the_same_sets() {
        let dir = tempfile::tempdir().unwrap();
        let p = provider(dir.path());
        std::fs::create_dir_all(p.directory()).unwrap();
        let path = p.zone_path("example.com").unwrap();
        std::fs::write(&path, REALISTIC).unwrap();
        let before = p.read_zone("example.com").await.unwrap();

        let long = "v=DKIM1; k=rsa; p=".to_string() + &"A".repeat(700);
        let changes = vec![
            DnsChange::Create {
                new: set("s1._domainkey.example.com", "TXT", 300, &[]),
            },
            DnsChange::Update {
                old: get(&before, "www.example.com", "A").unwrap().clone(),
                new: set("www.example.com", "A", 600, &["192.0.2.99"]),
            },
        ];
        let mut changes = changes;
        if let DnsChange::Create { new } = &mut changes[0] {
            new.values = vec![
                RData::txt(&long),
                RData::Txt {
                    chunks: vec!["quote \" backslash \\ é 邮".into()],
                },
            ];
        }
        let report = p.apply_zone("example.com", &changes).await;
        assert!(applied(&report), "{report:?}");

        let after = p.read_zone("example.com").await.unwrap();
        let (DnsChange::Create { new: created } | DnsChange::Update { new: created, .. }) =
            &changes[0]
        else {
            unreachable!()
        };
        assert!(get(&after, "s1._domainkey.example.com", "TXT")
            .unwrap()
            .same_as(created));
        assert_eq!(
            get(&after, "www.example.com", "A").unwrap().values,
            vec![RData::parse(&RecordType::A, "192.0.2.99").unwrap()]
        );
        // Every other set, SOA aside, comes back as it was.
        for old in &before.records {
            let key = (old.name.as_str(), old.rtype.as_str());
            if key == ("www.example.com", "A") || key == ("example.com", "SOA") {
                continue;
            }
            let new = get(&after, key.0, key.1).unwrap_or_else(|| panic!("lost {key:?}"));
            assert!(new.same_as(old), "{new:?} != {old:?}");
        }
        assert_eq!(after.records.len(), before.records.len() + 1);
        assert_eq!(
            soa_text(&after).replace(&crate::serial::today_utc().to_string(), "TODAY"),
            "ns1.example.net. hostmaster.example.com. TODAY00 7200 3600 1209600 300"
        );

        // Writing what was read is stable: a second render is byte-identical.
        let text = std::fs::read_to_string(&path).unwrap();
        let again = render("example.com", 3600, &after.records);
        assert_eq!(text, again);
        assert!(text.starts_with(crate::write::HEADER));
    }

    #[tokio::test]
    async fn a_conflict_leaves_the_file_byte_identical() {
        let dir = tempfile::tempdir().unwrap();
        let p = provider(dir.path());
        std::fs::create_dir_all(p.directory()).unwrap();
        let path = p.zone_path("example.com").unwrap();
        std::fs::write(&path, REALISTIC).unwrap();

        let changes = vec![
            DnsChange::Create {
                new: set("fresh.example.com", "A", 300, &["192.0.2.7"]),
            },
            DnsChange::Delete {
                // The file has 192.0.2.10 and .11: someone edited it.
                old: set("www.example.com", "A", 600, &["192.0.2.10"]),
            },
        ];
        let report = p.apply_zone("example.com", &changes).await;
        assert!(matches!(report.outcomes[0], ChangeOutcome::NotAttempted(_)));
        let ChangeOutcome::Failed(ProviderError::Conflict(message)) = &report.outcomes[1] else {
            panic!("{report:?}")
        };
        assert!(message.contains("run plan again"), "{message}");
        assert_eq!(std::fs::read_to_string(&path).unwrap(), REALISTIC);
        // The zone file and the lock file beside it: no temporary file.
        let mut names: Vec<String> = std::fs::read_dir(p.directory())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        assert_eq!(names, [".example.com.zone.lock", "example.com.zone"]);
    }

    #[tokio::test]
    async fn creates_a_zone_file_and_then_bumps_its_serial() {
        let dir = tempfile::tempdir().unwrap();
        let mut config = Config::new(dir.path().join("zones"));
        config.nameservers = vec!["ns1.example.net".into(), "ns2.example.net".into()];
        config.default_ttl = Some(1800);
        let p = ZonefileProvider::new(config, Path::new("/unused"));

        let mx = set("example.com", "MX", 300, &["10 mx1.example.com"]);
        let report = p
            .apply_zone("example.com", &[DnsChange::Create { new: mx.clone() }])
            .await;
        assert!(applied(&report), "{report:?}");
        let state = p.read_zone("example.com").await.unwrap();
        assert!(state.exists);
        assert_eq!(state.records.len(), 3);
        assert!(get(&state, "example.com", "MX").unwrap().same_as(&mx));
        let ns = get(&state, "example.com", "NS").unwrap();
        assert_eq!(ns.ttl, 1800);
        let today = crate::serial::today_utc();
        assert_eq!(
            soa_text(&state),
            format!("ns1.example.net. hostmaster.example.com. {today}01 7200 3600 1209600 300")
        );
        let text = std::fs::read_to_string(p.zone_path("example.com").unwrap()).unwrap();
        assert!(text.contains("$ORIGIN example.com.\n$TTL 1800\n"), "{text}");

        let www = set("www.example.com", "A", 300, &["192.0.2.1"]);
        let report = p
            .apply_zone("example.com", &[DnsChange::Create { new: www }])
            .await;
        assert!(applied(&report), "{report:?}");
        let state = p.read_zone("example.com").await.unwrap();
        assert!(soa_text(&state).contains(&format!(" {today}02 ")));
    }

    #[tokio::test]
    async fn creating_a_zone_without_nameservers_writes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let p = provider(dir.path());
        let mx = set("example.com", "MX", 300, &["10 mx1.example.com"]);
        let report = p
            .apply_zone("example.com", &[DnsChange::Create { new: mx }])
            .await;
        let ChangeOutcome::Failed(ProviderError::Rejected(message)) = &report.outcomes[0] else {
            panic!("{report:?}")
        };
        assert!(message.contains("nameservers:"), "{message}");
        assert!(!p.zone_path("example.com").unwrap().exists());
    }

    #[tokio::test]
    async fn unknown_types_and_the_soa_survive_an_apply() {
        let dir = tempfile::tempdir().unwrap();
        let p = provider(dir.path());
        std::fs::create_dir_all(p.directory()).unwrap();
        std::fs::write(p.zone_path("example.com").unwrap(), REALISTIC).unwrap();
        let report = p
            .apply_zone(
                "example.com",
                &[DnsChange::Create {
                    new: set("new.example.com", "A", 300, &["192.0.2.5"]),
                }],
            )
            .await;
        assert!(applied(&report), "{report:?}");
        let text = std::fs::read_to_string(p.zone_path("example.com").unwrap()).unwrap();
        // Compared with columns collapsed: the alignment is not the point.
        let lines: Vec<String> = text
            .lines()
            .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
            .collect();
        for line in [
            "@ 3600 IN LOC 52 22 23.000 N 4 53 32.000 E -2.00m 0.00m 10000m 10m",
            "host 3600 IN SSHFP 1 1 123456789abcdef67890123456789abcdef67890",
            "ptr.sub 3600 IN PTR target.example.org.",
            "note.sub 3600 IN TXT \"caf\\195\\169\" \"plain word\"",
        ] {
            assert!(
                lines.iter().any(|l| l == line),
                "missing {line:?} in\n{text}"
            );
        }
        assert!(
            lines[4].starts_with("@ 3600 IN SOA ns1.example.net. hostmaster.example.com. "),
            "{text}"
        );
    }

    #[test]
    fn declares_its_capabilities() {
        let p = ZonefileProvider::new(Config::new("z"), Path::new("/"));
        assert_eq!(p.kind(), "zonefile");
        let caps = p.capabilities();
        assert_eq!(caps.record_types.len(), 8);
        assert!(!caps.record_types.contains(&RecordType::Soa));
        assert!(caps.atomic_zone_apply && caps.creates_zones);
        assert_eq!((caps.min_ttl, caps.max_ttl), (0, 2_147_483_647));
    }
}
