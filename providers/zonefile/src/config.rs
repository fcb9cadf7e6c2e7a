//! The provider's settings as written in the mailform YAML, and the defaults
//! used when the provider has to create a zone file from nothing.

use schemars::JsonSchema;
use serde::Deserialize;
use std::path::{Path, PathBuf};

use mailform_contract::name::normalize_name;

/// The TTL written as `$TTL` and given to the SOA and NS records the provider
/// creates, when `default_ttl` is not set.
pub const DEFAULT_TTL: u32 = 3600;

/// Settings of the `zonefile` DNS provider: one RFC 1035 zone file per zone,
/// named `<zone>.zone`, in one directory. BIND, Knot and NSD can serve these
/// files as they are.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Directory that holds one `<zone>.zone` file per zone (for example
    /// `zones/example.com.zone`). A relative path is taken relative to the
    /// directory of the mailform YAML file. It is created on the first apply
    /// if it does not exist.
    pub directory: PathBuf,
    /// Name servers written as the apex NS records when mailform creates a
    /// new zone file and the YAML declares no NS records for the apex, for
    /// example `[ns1.example.net, ns2.example.net]`.
    #[serde(default)]
    pub nameservers: Vec<String>,
    /// The SOA record written when mailform creates a new zone file. An
    /// existing file keeps its own SOA; mailform only increases its serial.
    #[serde(default)]
    pub soa: Option<SoaConfig>,
    /// The `$TTL` written at the top of the file and the TTL of the SOA and
    /// NS records mailform creates, in seconds. Default 3600.
    #[serde(default)]
    pub default_ttl: Option<u32>,
}

/// The SOA fields used when mailform creates a new zone file.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SoaConfig {
    /// The primary name server (SOA MNAME), for example `ns1.example.net`.
    /// Default: the first apex NS record of the zone (the first declared in
    /// the YAML, else the first entry of `nameservers`).
    #[serde(default)]
    pub primary: Option<String>,
    /// The mailbox of the person responsible for the zone (SOA RNAME), either
    /// as an address (`hostmaster@example.com`) or in DNS form
    /// (`hostmaster.example.com`). Default: `hostmaster.<zone>`.
    #[serde(default)]
    pub hostmaster: Option<String>,
    /// Seconds before secondary servers check for a new serial. Default 7200.
    #[serde(default = "default_refresh")]
    pub refresh: u32,
    /// Seconds before a secondary retries a failed refresh. Default 3600.
    #[serde(default = "default_retry")]
    pub retry: u32,
    /// Seconds after which a secondary that cannot refresh stops answering
    /// for the zone. Default 1209600 (two weeks).
    #[serde(default = "default_expire")]
    pub expire: u32,
    /// Negative-caching TTL (RFC 2308): how long resolvers remember that a
    /// name does not exist. Default 300.
    #[serde(default = "default_minimum")]
    pub minimum: u32,
}

fn default_refresh() -> u32 {
    7200
}

fn default_retry() -> u32 {
    3600
}

fn default_expire() -> u32 {
    1_209_600
}

// Short on purpose: mailform publishes verification tokens and then asks the
// mail provider to look them up; a long negative-caching TTL would make a
// lookup made a moment too early fail for hours.
fn default_minimum() -> u32 {
    300
}

impl Default for SoaConfig {
    fn default() -> Self {
        SoaConfig {
            primary: None,
            hostmaster: None,
            refresh: default_refresh(),
            retry: default_retry(),
            expire: default_expire(),
            minimum: default_minimum(),
        }
    }
}

impl Config {
    /// A configuration with only the directory set.
    pub fn new(directory: impl Into<PathBuf>) -> Self {
        Config {
            directory: directory.into(),
            nameservers: Vec::new(),
            soa: None,
            default_ttl: None,
        }
    }

    /// The directory with a relative path resolved against `base_dir`.
    pub fn resolved_directory(&self, base_dir: &Path) -> PathBuf {
        if self.directory.is_absolute() {
            self.directory.clone()
        } else {
            base_dir.join(&self.directory)
        }
    }

    /// `default_ttl`, or 3600.
    pub fn ttl(&self) -> u32 {
        self.default_ttl.unwrap_or(DEFAULT_TTL)
    }

    /// The SOA settings, with defaults when `soa:` is absent.
    pub fn soa_settings(&self) -> SoaConfig {
        self.soa.clone().unwrap_or_default()
    }

    /// The configured name servers, normalised (lower-case, no trailing dot).
    pub fn nameserver_names(&self) -> Vec<String> {
        self.nameservers
            .iter()
            .map(|n| normalize_name(n.trim()))
            .filter(|n| !n.is_empty())
            .collect()
    }
}

impl SoaConfig {
    /// The SOA RNAME for `zone` in presentation form with the trailing dot.
    /// An address `first.last@example.com` becomes `first\.last.example.com.`
    /// because the first label of an RNAME is the mailbox's local part.
    pub fn rname(&self, zone: &str) -> String {
        match self.hostmaster.as_deref().map(str::trim) {
            None | Some("") => format!("hostmaster.{zone}."),
            Some(mailbox) => match mailbox.rsplit_once('@') {
                Some((local, domain)) => {
                    format!("{}.{}.", local.replace('.', "\\."), normalize_name(domain))
                }
                None => format!("{}.", normalize_name(mailbox)),
            },
        }
    }
}

/// No secrets: everything is local files.
impl mailform_contract::settings::ProviderSettings for Config {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_apply_and_unknown_keys_are_refused() {
        let c: Config = serde_json::from_str(r#"{"directory": "zones"}"#).unwrap();
        assert_eq!(c.ttl(), 3600);
        assert!(c.nameservers.is_empty());
        assert_eq!(c.soa_settings(), SoaConfig::default());
        assert_eq!(c.soa_settings().minimum, 300);

        let err = serde_json::from_str::<Config>(r#"{"directory": "z", "nameserver": []}"#);
        assert!(err.unwrap_err().to_string().contains("unknown field"));
        let err = serde_json::from_str::<Config>(r#"{"directory": "z", "soa": {"serial": 1}}"#);
        assert!(err.is_err());
    }

    #[test]
    fn soa_fields_default_individually() {
        let c: Config = serde_json::from_str(
            r#"{"directory": "z", "soa": {"primary": "ns1.example.net", "retry": 60}}"#,
        )
        .unwrap();
        let soa = c.soa_settings();
        assert_eq!(soa.primary.as_deref(), Some("ns1.example.net"));
        assert_eq!(soa.retry, 60);
        assert_eq!(soa.refresh, 7200);
    }

    #[test]
    fn relative_directory_is_resolved_against_the_base() {
        let c = Config::new("zones");
        assert_eq!(
            c.resolved_directory(Path::new("/srv/mail")),
            PathBuf::from("/srv/mail/zones")
        );
        let c = Config::new("/var/lib/zones");
        assert_eq!(
            c.resolved_directory(Path::new("/srv/mail")),
            PathBuf::from("/var/lib/zones")
        );
    }

    #[test]
    fn rname_accepts_an_address_or_dns_form() {
        let mut soa = SoaConfig::default();
        assert_eq!(soa.rname("example.com"), "hostmaster.example.com.");
        soa.hostmaster = Some("it.admin@Example.COM".into());
        assert_eq!(soa.rname("example.com"), "it\\.admin.example.com.");
        soa.hostmaster = Some("dns.example.org.".into());
        assert_eq!(soa.rname("example.com"), "dns.example.org.");
    }

    #[test]
    fn every_field_is_documented_in_the_schema() {
        let schema = serde_json::to_value(schemars::schema_for!(Config)).unwrap();
        let props = schema["properties"].as_object().unwrap();
        for (name, prop) in props {
            assert!(
                prop.get("description").is_some(),
                "{name} has no description"
            );
        }
        let soa = &schema["$defs"]["SoaConfig"]["properties"];
        for (name, prop) in soa.as_object().unwrap() {
            assert!(
                prop.get("description").is_some(),
                "soa.{name} has no description"
            );
        }
    }
}
