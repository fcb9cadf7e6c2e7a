//! The mail-policy blocks of a domain as written: `spf`, `dmarc`, `dkim`,
//! `tls_rpt`, `mta_sts`, `bimi`. They compile to ordinary record sets
//! ([`crate::policy`]), so planners and providers need nothing new.

use schemars::JsonSchema;
use serde::Deserialize;
use serde_saphyr::Spanned;

use super::spanned_map::SpannedMap;

/// The domain's SPF record (RFC 7208), built from parts. Several senders
/// are merged into the one record a name may have.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SpfConfig {
    /// Domains whose SPF policy is included, e.g. `_spf.google.com`. Each
    /// costs at least one of the ten DNS lookups SPF allows.
    #[serde(default)]
    #[schemars(with = "Vec<String>")]
    pub include: Vec<Spanned<String>>,
    /// IPv4 addresses or networks that may send, e.g. `192.0.2.0/24`.
    #[serde(default)]
    #[schemars(with = "Vec<String>")]
    pub ip4: Vec<Spanned<String>>,
    /// IPv6 addresses or networks that may send.
    #[serde(default)]
    #[schemars(with = "Vec<String>")]
    pub ip6: Vec<Spanned<String>>,
    /// Whether the domain's MX hosts may send (`mx`; one lookup).
    #[serde(default)]
    pub mx: bool,
    /// Whether the domain's own A/AAAA hosts may send (`a`; one lookup).
    #[serde(default)]
    pub a: bool,
    /// What happens to everything else: `fail` (`-all`), `softfail`
    /// (`~all`, the default) or `neutral` (`?all`).
    #[serde(default)]
    #[schemars(with = "Option<SpfAll>")]
    pub all: Option<Spanned<SpfAll>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum SpfAll {
    Fail,
    Softfail,
    Neutral,
}

/// The domain's DMARC policy record at `_dmarc` (RFC 9989, which replaced
/// RFC 7489; records in the old form are still read).
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DmarcConfig {
    /// Policy for mail that fails DMARC: `none`, `quarantine` or `reject`.
    #[schemars(with = "DmarcPolicy")]
    pub p: Spanned<DmarcPolicy>,
    /// Policy for subdomains, when it differs from `p`.
    #[serde(default)]
    pub sp: Option<DmarcPolicy>,
    /// Policy for non-existent subdomains (RFC 9989).
    #[serde(default)]
    pub np: Option<DmarcPolicy>,
    /// Where aggregate reports go: `mailto:` URIs. An address in another
    /// domain needs that domain's consent record
    /// (`<this domain>._report._dmarc.<other domain>`).
    #[serde(default)]
    #[schemars(with = "Vec<String>")]
    pub rua: Vec<Spanned<String>>,
    /// Where failure reports go: `mailto:` URIs.
    #[serde(default)]
    #[schemars(with = "Vec<String>")]
    pub ruf: Vec<Spanned<String>>,
    /// DKIM alignment: `r` relaxed (default) or `s` strict.
    #[serde(default)]
    pub adkim: Option<Alignment>,
    /// SPF alignment: `r` relaxed (default) or `s` strict.
    #[serde(default)]
    pub aspf: Option<Alignment>,
    /// Failure reporting options, e.g. `1` or `d:s`.
    #[serde(default)]
    pub fo: Option<String>,
    /// Testing mode (RFC 9989 `t=y`): receivers apply a policy one step
    /// milder. Replaces `pct`.
    #[serde(default)]
    pub t: Option<bool>,
    /// Public suffix domain flag (RFC 9989): `y`, `n` or `u`.
    #[serde(default)]
    pub psd: Option<String>,
    /// Removed by RFC 9989; still written, with a warning. Use `t` instead.
    #[serde(default)]
    #[schemars(with = "Option<u8>")]
    pub pct: Option<Spanned<u8>>,
    /// Removed by RFC 9989; still written, with a warning.
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub rf: Option<Spanned<String>>,
    /// Removed by RFC 9989; still written, with a warning.
    #[serde(default)]
    #[schemars(with = "Option<u32>")]
    pub ri: Option<Spanned<u32>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum DmarcPolicy {
    None,
    Quarantine,
    Reject,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Alignment {
    R,
    S,
}

/// One DKIM selector: the public key as a TXT record, or a CNAME to where
/// the mail service publishes it.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DkimConfig {
    /// The public key: the base64 `p=` value, or the whole record
    /// (`v=DKIM1; k=rsa; p=...`). Long keys are split into 255-byte
    /// strings automatically. Often `${file:dkim/selector.pub}`.
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub key: Option<Spanned<String>>,
    /// Key type when `key` is a bare base64 value: `rsa` (default) or
    /// `ed25519`.
    #[serde(default)]
    pub key_type: Option<DkimKeyType>,
    /// For services that host the key (Microsoft 365): the CNAME target.
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub cname: Option<Spanned<String>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum DkimKeyType {
    Rsa,
    Ed25519,
}

/// SMTP TLS reporting (RFC 8460): the `_smtp._tls` record.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TlsRptConfig {
    /// Where reports go: `mailto:` or `https:` URIs.
    #[schemars(with = "Vec<String>")]
    pub rua: Vec<Spanned<String>>,
}

/// MTA-STS (RFC 8461): the `_mta-sts` record, whose id changes whenever
/// the policy does. Serve the policy (see `mailform plan -v`) at
/// `https://mta-sts.<domain>/.well-known/mta-sts.txt`.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MtaStsConfig {
    /// `enforce`, `testing` or `none`.
    pub mode: MtaStsMode,
    /// MX host patterns the policy allows, e.g. `*.mail.example.com`; must
    /// cover every MX host.
    #[schemars(with = "Vec<String>")]
    pub mx: Vec<Spanned<String>>,
    /// Seconds senders cache the policy (default 604800, one week).
    #[serde(default)]
    pub max_age: Option<u32>,
    /// The policy file your web server serves, kept in the repository
    /// (relative to this file). `validate` fails when it differs from the
    /// policy this block describes; `mailform mta-sts-policy <domain>`
    /// prints the right content.
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub policy_file: Option<Spanned<String>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum MtaStsMode {
    Enforce,
    Testing,
    None,
}

/// BIMI (brand logo) at `default._bimi`.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct BimiConfig {
    /// HTTPS URL of the SVG Tiny PS logo.
    #[schemars(with = "String")]
    pub location: Spanned<String>,
    /// HTTPS URL of the Verified Mark Certificate, if any.
    #[serde(default)]
    pub authority: Option<String>,
}

/// The DKIM selectors of a domain, keyed by selector name.
pub type DkimSelectors = SpannedMap<DkimConfig>;

/// The mail service a domain uses, from `mailform presets`: its MX set,
/// SPF include, client CNAMEs and hosted DKIM CNAMEs are added for you.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ServiceConfig {
    /// Preset id: `google-workspace`, `microsoft-365`, `aliyun-qiye`,
    /// `tencent-exmail`, `zoho`, `netease-qiye`.
    #[schemars(with = "String")]
    pub preset: Spanned<String>,
    /// Which of the preset's variants (data centre, MX generation); the
    /// first one by default.
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub variant: Option<Spanned<String>>,
    /// Values the preset needs, e.g. `tenant: contoso` for Microsoft 365.
    #[serde(default)]
    pub params: SpannedMap<String>,
    /// Whether to add the preset's MX records (default true). Set false
    /// while mail still flows elsewhere, then switch in one reviewed apply.
    #[serde(default = "yes")]
    pub mx: bool,
}

fn yes() -> bool {
    true
}
