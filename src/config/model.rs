//! The YAML file format, version 1: the serde and JSON Schema types.
//!
//! These types hold what the user wrote, with source locations, and nothing
//! derived. [`super::compile`] checks them and compiles them into the
//! [`crate::desired`] state the planner compares with live state. Every
//! field's doc comment becomes its description in the JSON Schema.

use schemars::JsonSchema;
use serde::Deserialize;
use serde_saphyr::Spanned;

use super::records::RecordSpec;
use super::spanned_map::SpannedMap;

/// A mailform file: the whole mail estate of one organisation.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(title = "mailform configuration, version 1")]
pub struct Config {
    /// Version of this file format. Must be `1`.
    #[schemars(with = "u32")]
    pub version: Spanned<u32>,
    /// Settings that apply to every domain unless it overrides them.
    #[serde(default)]
    pub defaults: Defaults,
    /// Named provider instances: where DNS zones and mailboxes live. Each
    /// entry names one provider type with its settings, e.g.
    /// `zones: {zonefile: {directory: ./zones}}`.
    #[serde(default)]
    pub providers: SpannedMap<ProviderConfig>,
    /// The domains, keyed by domain name: which provider serves their DNS
    /// and their mail, and the DNS records mailform manages.
    #[serde(default)]
    pub domains: SpannedMap<DomainConfig>,
    /// Mailboxes keyed by address. A mailbox removed from this list is
    /// reported, never deleted: set `state: deleted` to delete one.
    #[serde(default)]
    pub mailboxes: SpannedMap<Option<MailboxConfig>>,
    /// Addresses that forward to other addresses, keyed by address.
    #[serde(default)]
    pub aliases: SpannedMap<AliasConfig>,
    /// Distribution groups keyed by address.
    #[serde(default)]
    pub groups: SpannedMap<GroupConfig>,
    /// Named overlays chosen with `--profile NAME`: each replaces whole
    /// record sets, mailboxes, aliases and groups of the base file, e.g. a
    /// prepared MX fail-over set.
    #[serde(default)]
    pub profiles: SpannedMap<ProfileConfig>,
}

/// Defaults for every domain.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Defaults {
    /// TTL in seconds for records that set none (default 3600).
    #[serde(default)]
    #[schemars(with = "Option<u32>")]
    pub ttl: Option<Spanned<u32>>,
    /// Limits that stop an apply from changing too much at once.
    #[serde(default)]
    pub safety: Safety,
    /// How lists (a group's members, a mailbox's or group's aliases, a
    /// shared mailbox's `access`) are applied to objects that exist:
    /// `exact` (default) or `additive`.
    /// Each mailbox and group can say otherwise with its own `lists:`.
    #[serde(default)]
    pub lists: Option<ListsPolicy>,
}

/// How a list in the file — a group's `members`, a mailbox's or group's
/// `aliases`, a shared mailbox's `access` — is applied to an object that
/// already exists.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum ListsPolicy {
    /// The list is the whole list: entries it does not name are removed.
    #[default]
    Exact,
    /// Entries it names are added; entries it does not name are kept. For
    /// adopting an existing group whose members the file does not list
    /// yet: nothing anyone added by hand is removed.
    Additive,
}

/// Plan-size limits. A plan over a limit is refused unless `--force` is
/// given. Limits apply only where at least `min_existing` objects exist.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Safety {
    /// Largest share (in percent) of a zone's existing record sets one plan
    /// may update or delete. Default 33.
    #[serde(default = "default_dns_percent")]
    pub max_dns_change_percent: u32,
    /// Largest share (in percent) of a domain's existing mailboxes one plan
    /// may update or delete. Default 10.
    #[serde(default = "default_mailbox_percent")]
    pub max_mailbox_change_percent: u32,
    /// Limits apply only to zones and domains with at least this many
    /// existing objects. Default 10.
    #[serde(default = "default_min_existing")]
    pub min_existing: u32,
}

fn default_dns_percent() -> u32 {
    33
}
fn default_mailbox_percent() -> u32 {
    10
}
fn default_min_existing() -> u32 {
    10
}

impl Default for Safety {
    fn default() -> Self {
        Safety {
            max_dns_change_percent: default_dns_percent(),
            max_mailbox_change_percent: default_mailbox_percent(),
            min_existing: default_min_existing(),
        }
    }
}

/// One provider instance: exactly one key naming the provider type.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum ProviderConfig {
    /// DNS as RFC 1035 zone files in a directory (BIND, Knot and NSD serve
    /// them). Needs no account; the offline default.
    Zonefile(mailform_zonefile::Config),
    /// A self-hosted Postfix + Dovecot estate: virtual mailbox and alias
    /// maps plus a Dovecot passwd-file.
    Postfix(mailform_postfix::Config),
    /// Cloudflare DNS through its v4 API: paginated reads and batched
    /// applies (200 changes per batch on the Free plan). The API token
    /// (`token: ${env:NAME}`, default the `CLOUDFLARE_API_TOKEN` variable)
    /// needs Zone:Read and DNS:Edit.
    Cloudflare(mailform_cloudflare::Config),
    /// A PowerDNS Authoritative server through its HTTP API (`api=yes`,
    /// `webserver=yes`); one read and one atomic PATCH per zone. The API key
    /// (`api_key: ${env:NAME}`, default the `PDNS_API_KEY` variable).
    Powerdns(mailform_powerdns::Config),
    /// Any standard primary DNS server (BIND 9, Knot, PowerDNS) through RFC
    /// 2136 dynamic updates and AXFR, signed with TSIG (`secret:
    /// ${env:NAME}`, default the `MAILFORM_TSIG_SECRET` variable).
    Rfc2136(mailform_rfc2136::Config),
    /// Alibaba Cloud DNS (Alidns) through its signed RPC API. The AccessKey
    /// (`access_key_id`/`access_key_secret` as `${env:NAME}`, default the
    /// `ALIBABA_CLOUD_ACCESS_KEY_ID`/`_SECRET` variables) belongs to a RAM
    /// user with only `AliyunDNSFullAccess`.
    Alidns(mailform_alidns::Config),
    /// Google Workspace through the Admin SDK Directory API: users, user
    /// aliases, groups, group aliases and members. A service account with
    /// domain-wide delegation (`credentials: ${file:key.json}`, default the
    /// file `GOOGLE_APPLICATION_CREDENTIALS` names) acts as `admin`.
    GoogleWorkspace(mailform_google::Config),
    /// Alibaba Mail (阿里邮箱 / 阿里企业邮箱) through its Open API: users
    /// and their aliases (groups are not supported yet). The app's
    /// credentials (`client_id`/`client_secret` as `${env:NAME}`, default
    /// the `ALIMAIL_CLIENT_ID`/`_SECRET` variables) come from the mail admin
    /// console's API Open Platform.
    Alimail(mailform_alimail::Config),
    /// Microsoft 365 through Microsoft Graph: users, Microsoft 365 groups
    /// and their members; aliases, outside senders, offboarding, shared
    /// mailboxes and distribution lists need its Exchange Online backend
    /// (`exchange: {enabled: true}`). An app registration's
    /// client secret (`client_secret: ${env:NAME}`, default the
    /// `M365_CLIENT_SECRET` variable) with admin-consented application
    /// permissions.
    #[serde(rename = "microsoft_365")]
    Microsoft365(mailform_m365::Config),
}

/// What a provider type is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Dns,
    Mail,
}

impl ProviderConfig {
    pub fn kind(&self) -> &'static str {
        match self {
            ProviderConfig::Zonefile(_) => "zonefile",
            ProviderConfig::Postfix(_) => "postfix",
            ProviderConfig::Cloudflare(_) => "cloudflare",
            ProviderConfig::Powerdns(_) => "powerdns",
            ProviderConfig::Rfc2136(_) => "rfc2136",
            ProviderConfig::Alidns(_) => "alidns",
            ProviderConfig::GoogleWorkspace(_) => "google_workspace",
            ProviderConfig::Alimail(_) => "alimail",
            ProviderConfig::Microsoft365(_) => "microsoft_365",
        }
    }

    /// The provider's settings, as the contract sees them.
    pub fn settings(&self) -> &dyn mailform_contract::settings::ProviderSettings {
        match self {
            ProviderConfig::Zonefile(c) => c,
            ProviderConfig::Postfix(c) => c,
            ProviderConfig::Cloudflare(c) => c,
            ProviderConfig::Powerdns(c) => c,
            ProviderConfig::Rfc2136(c) => c,
            ProviderConfig::Alidns(c) => c,
            ProviderConfig::GoogleWorkspace(c) => c,
            ProviderConfig::Alimail(c) => c,
            ProviderConfig::Microsoft365(c) => c,
        }
    }

    /// The settings holding secrets, checked at load time.
    pub fn secrets(&self) -> Vec<(&'static str, &mailform_contract::settings::SecretSetting)> {
        self.settings().secrets()
    }

    pub fn role(&self) -> Role {
        match self {
            ProviderConfig::Zonefile(_) => Role::Dns,
            ProviderConfig::Postfix(_) => Role::Mail,
            ProviderConfig::Cloudflare(_) => Role::Dns,
            ProviderConfig::Powerdns(_) => Role::Dns,
            ProviderConfig::Rfc2136(_) => Role::Dns,
            ProviderConfig::Alidns(_) => Role::Dns,
            ProviderConfig::GoogleWorkspace(_) => Role::Mail,
            ProviderConfig::Alimail(_) => Role::Mail,
            ProviderConfig::Microsoft365(_) => Role::Mail,
        }
    }
}

/// One domain.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DomainConfig {
    /// Which provider serves this domain's DNS, and what mailform owns there.
    #[serde(default)]
    pub dns: Option<DnsBinding>,
    /// Which provider hosts this domain's mailboxes, aliases and groups.
    #[serde(default)]
    pub mail: Option<MailBinding>,
    /// DNS records keyed by name relative to the domain (`@` is the domain
    /// itself, `www`, `_dmarc`, `*.dev`), then by type (A, AAAA, CNAME, MX,
    /// TXT, SRV, CAA, NS). A value is one record, a list of records, or
    /// `{ttl: 300, values: [...]}`. Targets (CNAME, MX, NS, SRV) are
    /// absolute names; the trailing dot is optional.
    #[serde(default)]
    pub records: SpannedMap<SpannedMap<RecordSpec>>,
    /// The mail service this domain uses (`mailform presets` lists them):
    /// adds its MX, SPF include and client and DKIM CNAMEs.
    #[serde(default)]
    #[schemars(with = "Option<super::policy::ServiceConfig>")]
    pub service: Option<Spanned<super::policy::ServiceConfig>>,
    /// The SPF record, built from parts (compiled into the apex TXT set).
    #[serde(default)]
    #[schemars(with = "Option<super::policy::SpfConfig>")]
    pub spf: Option<Spanned<super::policy::SpfConfig>>,
    /// The DMARC policy (compiled into `_dmarc` TXT).
    #[serde(default)]
    #[schemars(with = "Option<super::policy::DmarcConfig>")]
    pub dmarc: Option<Spanned<super::policy::DmarcConfig>>,
    /// DKIM keys keyed by selector (compiled into `<selector>._domainkey`).
    #[serde(default)]
    pub dkim: super::policy::DkimSelectors,
    /// SMTP TLS reporting (compiled into `_smtp._tls` TXT).
    #[serde(default)]
    #[schemars(with = "Option<super::policy::TlsRptConfig>")]
    pub tls_rpt: Option<Spanned<super::policy::TlsRptConfig>>,
    /// MTA-STS (compiled into `_mta-sts` TXT).
    #[serde(default)]
    #[schemars(with = "Option<super::policy::MtaStsConfig>")]
    pub mta_sts: Option<Spanned<super::policy::MtaStsConfig>>,
    /// BIMI (compiled into `default._bimi` TXT).
    #[serde(default)]
    #[schemars(with = "Option<super::policy::BimiConfig>")]
    pub bimi: Option<Spanned<super::policy::BimiConfig>>,
}

impl DomainConfig {
    /// Whether the domain asks for any DNS record, directly or through a
    /// policy block.
    pub fn declares_dns(&self) -> bool {
        !self.records.is_empty()
            || self.service.is_some()
            || self.spf.is_some()
            || self.dmarc.is_some()
            || !self.dkim.is_empty()
            || self.tls_rpt.is_some()
            || self.mta_sts.is_some()
            || self.bimi.is_some()
    }
}

/// DNS settings of a domain.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DnsBinding {
    /// Name of a DNS provider under `providers`.
    #[schemars(with = "String")]
    pub provider: Spanned<String>,
    /// `declared` (default): mailform touches only the (name, type) record
    /// sets this file declares. `zone`: mailform owns the whole zone and
    /// deletes record sets the file does not declare, except SOA, the apex
    /// NS set and names matching `ignore`.
    #[serde(default)]
    pub manage: DnsManage,
    /// Glob patterns of names (relative, like record keys) that mailform
    /// never touches, even with `manage: zone`, e.g. `_acme-challenge*`.
    #[serde(default)]
    #[schemars(with = "Vec<String>")]
    pub ignore: Vec<Spanned<String>>,
    /// Default TTL for this domain's records, in seconds.
    #[serde(default)]
    #[schemars(with = "Option<u32>")]
    pub ttl: Option<Spanned<u32>>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, JsonSchema, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum DnsManage {
    /// Only the record sets this file declares.
    #[default]
    Declared,
    /// The whole zone, less SOA, apex NS and `ignore` patterns.
    Zone,
}

/// Mail settings of a domain.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MailBinding {
    /// Name of a mail provider under `providers`.
    #[schemars(with = "String")]
    pub provider: Spanned<String>,
    /// `declared` (default): aliases and groups missing from this file are
    /// reported and left alone. `domain`: they are deleted. Mailboxes are
    /// never deleted either way unless marked `state: deleted`.
    #[serde(default)]
    pub manage: MailManage,
    /// Makes this domain an alias of another mail domain of this file, at
    /// the same provider (Google Workspace's domain aliases): every user
    /// and group of that domain has the same address here, so the alias
    /// has no mailboxes, aliases or groups of its own; declare them at the
    /// parent. `apply` adds a domain the provider does not serve yet as an
    /// alias of the parent, after the parent.
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub alias_of: Option<Spanned<String>>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, JsonSchema, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum MailManage {
    #[default]
    Declared,
    Domain,
}

/// A mailbox.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MailboxConfig {
    /// Display name, e.g. `Alice Example`.
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub name: Option<Spanned<String>>,
    /// `active` (default), `suspended` (mail kept and received, no sign-in),
    /// `offboarded` (no sign-in, mail kept, new mail to `successor`) or
    /// `deleted` (removed at `apply --allow-destroy`; mail may be lost).
    #[serde(default)]
    #[schemars(with = "Option<StateConfig>")]
    pub state: Option<Spanned<StateConfig>>,
    /// `user` (default): a person's mailbox, signed in to with its own
    /// password. `shared`: a mailbox the people listed under `access` open
    /// with their own accounts (a team's `info@`); it takes no password,
    /// no licence and no `state` but `active` or `deleted`. Only for
    /// providers that have shared mailboxes (Microsoft 365 with its
    /// Exchange backend).
    #[serde(default, rename = "type")]
    #[schemars(with = "Option<MailboxType>")]
    pub kind: Option<Spanned<MailboxType>>,
    /// Who may open a shared mailbox (`type: shared`): mailboxes of this
    /// file or other addresses of the organisation. On Microsoft 365 this
    /// is Full Access, the mailbox added to their Outlook.
    #[serde(default)]
    #[schemars(with = "Vec<String>")]
    pub access: Vec<Spanned<String>>,
    /// Who receives this mailbox's new mail once it is offboarded. With
    /// `state: deleted`: the mailbox (of this file, same provider) that
    /// takes over this address and its aliases as aliases once it is
    /// deleted ("alias after deletion").
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub successor: Option<Spanned<String>>,
    /// More addresses that deliver to this mailbox.
    #[serde(default)]
    #[schemars(with = "Vec<String>")]
    pub aliases: Vec<Spanned<String>>,
    /// `exact` or `additive`: whether aliases (and `access` entries) the
    /// file does not list are removed (default: `defaults.lists`, else
    /// `exact`).
    #[serde(default)]
    pub lists: Option<ListsPolicy>,
    /// Initial password as a hash (`{SHA512-CRYPT}$6$...`, `{ARGON2ID}...`),
    /// used only when the mailbox is created, never compared afterwards.
    /// Write it as `${file:secrets/alice.hash}` or `${env:ALICE_HASH}`
    /// rather than inline.
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub password_hash: Option<Spanned<String>>,
    /// Initial clear-text password, used only when the mailbox is created,
    /// for providers that hash it themselves (Google Workspace): a
    /// reference, `${file:secrets/alice.pw}` or `${env:ALICE_PW}` — never
    /// the password itself — or `generate`, to have `apply` make a random
    /// one and write it to the file named by `--password-file`.
    /// Hash-only providers (postfix) need `password_hash` instead.
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub initial_password: Option<Spanned<String>>,
}

/// What sort of mailbox it is.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum MailboxType {
    /// A person's mailbox.
    #[default]
    User,
    /// A mailbox people open with their own accounts.
    Shared,
}

/// What sort of group it is.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum GroupType {
    /// The provider's usual group (Microsoft 365: a Microsoft 365 group).
    #[default]
    Group,
    /// A plain distribution list (Microsoft 365: an Exchange distribution
    /// group).
    Distribution,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum StateConfig {
    Active,
    Suspended,
    Offboarded,
    Deleted,
}

/// An alias.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AliasConfig {
    /// Where mail to the alias goes: one or more addresses.
    #[schemars(with = "Vec<String>")]
    pub to: Vec<Spanned<String>>,
}

/// A distribution group.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GroupConfig {
    /// Display name.
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub name: Option<Spanned<String>>,
    /// `group` (default): the provider's usual group (Microsoft 365: a
    /// Microsoft 365 group, with its own inbox and files). `distribution`:
    /// a plain distribution list that only passes mail on (Microsoft 365:
    /// an Exchange distribution group; needs its Exchange backend).
    #[serde(default, rename = "type")]
    #[schemars(with = "Option<GroupType>")]
    pub kind: Option<Spanned<GroupType>>,
    /// Member addresses: mailboxes, other groups or outside addresses.
    #[serde(default)]
    #[schemars(with = "Vec<String>")]
    pub members: Vec<Spanned<String>>,
    /// More addresses of the group.
    #[serde(default)]
    #[schemars(with = "Vec<String>")]
    pub aliases: Vec<Spanned<String>>,
    /// Whether senders outside the organisation may mail the group
    /// (default false).
    #[serde(default)]
    pub allow_external: bool,
    /// `exact` or `additive`: whether members and aliases the file does
    /// not list are removed (default: `defaults.lists`, else `exact`).
    #[serde(default)]
    pub lists: Option<ListsPolicy>,
}

/// An overlay chosen with `--profile`.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ProfileConfig {
    /// What the profile is for; shown in plans.
    #[serde(default)]
    pub description: Option<String>,
    /// Per domain: record sets (by name and type) that replace the base
    /// file's.
    #[serde(default)]
    pub domains: SpannedMap<ProfileDomain>,
    /// Mailboxes that replace or add to the base file's.
    #[serde(default)]
    pub mailboxes: SpannedMap<Option<MailboxConfig>>,
    /// Aliases that replace or add to the base file's.
    #[serde(default)]
    pub aliases: SpannedMap<AliasConfig>,
    /// Groups that replace or add to the base file's.
    #[serde(default)]
    pub groups: SpannedMap<GroupConfig>,
}

/// A profile's changes to one domain.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ProfileDomain {
    /// Record sets that replace the base file's, keyed by name then type.
    #[serde(default)]
    pub records: SpannedMap<SpannedMap<RecordSpec>>,
}
