//! Checks a parsed config and compiles it into the [`Desired`] state.
//!
//! Every problem becomes a [`Diagnostic`] with the place it was written,
//! the key path, what is wrong and the fix; all problems in a file are
//! reported at once. Nothing here touches the network.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::Path;

use globset::{Glob, GlobSetBuilder};
use mailform_contract::dns::RData;
use mailform_contract::name::{absolute_name, address_domain};
use mailform_contract::{
    Alias, Group, GroupKind, InitialPassword, Mailbox, MailboxKind, MailboxState, RecordSet,
    RecordType, Secret,
};
use serde_saphyr::Spanned;

use super::diagnostic::{did_you_mean, key, Diagnostics, Loc};
use super::interpolate::{interpolate, Env};
use super::model::{Config, GroupType, MailboxConfig, MailboxType, Role, StateConfig};
use super::names::{check_address, check_record_name, domain_to_ascii};
use super::records::{RecordSpec, RecordValue};
use crate::desired::{Declared, Desired, DesiredMailDomain, DesiredMailbox, DesiredZone, Origin};

/// Default TTL when neither the record set, the domain nor `defaults` set one.
pub const DEFAULT_TTL: u32 = 3600;
/// RFC 2181 §8: TTLs are 31-bit.
pub const MAX_TTL: u32 = 2_147_483_647;

struct Ctx<'a, 'd> {
    diags: &'a mut Diagnostics<'d>,
    base_dir: &'a Path,
    env: &'a dyn Env,
}

/// Compiles `config` (with any profile already overlaid). Returns the
/// desired state; errors are pushed into `diags`.
pub fn compile(
    config: &Config,
    base_dir: &Path,
    env: &dyn Env,
    diags: &mut Diagnostics,
) -> Desired {
    let mut ctx = Ctx {
        diags,
        base_dir,
        env,
    };
    if config.version.value != 1 {
        ctx.diags.error(
            Loc::of(&config.version),
            "version",
            format!("unsupported file format version {}", config.version.value),
            Some("this mailform reads `version: 1`".to_string()),
        );
    }
    for (name, loc, provider) in config.providers.iter() {
        for (key_name, secret) in provider.secrets() {
            if let Err(e) = secret.resolve_with(ctx.base_dir, ctx.env) {
                ctx.diags.error(
                    loc,
                    &format!("providers.{}.{}.{key_name}", key(name), provider.kind()),
                    format!("provider `{name}`: `{key_name}` cannot be read: {e}"),
                    Some(format!("set it, or write `{key_name}: ${{env:NAME}}` naming a variable that is set")),
                );
            }
        }
    }
    let default_ttl = config
        .defaults
        .ttl
        .as_ref()
        .map(|t| check_ttl(&mut ctx, t, "defaults.ttl"))
        .unwrap_or(DEFAULT_TTL);

    let mut desired = Desired {
        safety: config.defaults.safety.clone(),
        ..Desired::default()
    };
    // Mail domains, by ASCII name, so that addresses can be checked against them.
    let mut mail_domains: BTreeMap<String, DesiredMailDomain> = BTreeMap::new();
    let mut seen_domains: HashMap<String, Loc> = HashMap::new();
    // Domains already reported as broken: their addresses are not reported
    // again, one error per cause.
    let mut broken: std::collections::HashSet<String> = Default::default();
    // Mail domains declared `alias_of` another: (domain, parent, key path).
    let mut aliases: Vec<(String, &Spanned<String>, String)> = Vec::new();

    for (raw_name, name_loc, domain) in config.domains.iter() {
        let path = format!("domains.{}", key(raw_name));
        let zone = match domain_to_ascii(raw_name) {
            Ok(z) => z,
            Err(e) => {
                broken.insert(raw_name.trim_end_matches('.').to_lowercase());
                ctx.diags.error(
                    name_loc,
                    &path,
                    format!("invalid domain name `{raw_name}`: {e}"),
                    Some("write a domain such as `example.com`".to_string()),
                );
                continue;
            }
        };
        if let Some(first) = seen_domains.insert(zone.clone(), name_loc) {
            ctx.diags.error(
                name_loc,
                &path,
                format!(
                    "domain `{zone}` is declared twice (first at line {})",
                    first.line
                ),
                Some("merge the two entries into one".to_string()),
            );
            continue;
        }
        if let Some(dns) = &domain.dns {
            let provider_ok = check_provider(
                &mut ctx,
                config,
                &dns.provider,
                Role::Dns,
                &format!("{path}.dns.provider"),
            );
            let zone_ttl = dns
                .ttl
                .as_ref()
                .map(|t| check_ttl(&mut ctx, t, &format!("{path}.dns.ttl")))
                .unwrap_or(default_ttl);
            let mut globs = GlobSetBuilder::new();
            let mut patterns = Vec::new();
            for pat in &dns.ignore {
                match Glob::new(&pat.value.to_ascii_lowercase()) {
                    Ok(g) => {
                        globs.add(g);
                        patterns.push(pat.value.to_ascii_lowercase());
                    }
                    Err(e) => ctx.diags.error(
                        Loc::of(pat),
                        &format!("{path}.dns.ignore"),
                        format!("invalid glob `{}`: {e}", pat.value),
                        Some("use `*` and `?` wildcards, e.g. `_acme-challenge*`".to_string()),
                    ),
                }
            }
            let mut records = compile_records(&mut ctx, &zone, &path, &domain.records, zone_ttl);
            compile_policies(&mut ctx, &zone, &path, domain, zone_ttl, &mut records);
            if provider_ok {
                desired.zones.push(DesiredZone {
                    zone: zone.clone(),
                    provider: dns.provider.value.clone(),
                    manage: dns.manage,
                    ignore: globs.build().unwrap_or_else(|_| globset::GlobSet::empty()),
                    ignore_patterns: patterns,
                    records,
                    mta_sts_policy: domain
                        .mta_sts
                        .as_ref()
                        .map(|m| crate::policy::mta_sts::policy_text(&m.value)),
                });
            }
        } else if domain.declares_dns() {
            ctx.diags.error(
                name_loc,
                &path,
                format!("domain `{zone}` declares DNS records or policies but no DNS provider"),
                Some(
                    "add `dns: {provider: <name>}` naming a DNS provider under `providers`"
                        .to_string(),
                ),
            );
        }
        if let Some(mail) = &domain.mail {
            if check_provider(
                &mut ctx,
                config,
                &mail.provider,
                Role::Mail,
                &format!("{path}.mail.provider"),
            ) {
                mail_domains.insert(
                    zone.clone(),
                    DesiredMailDomain {
                        domain: zone.clone(),
                        provider: mail.provider.value.clone(),
                        manage: mail.manage,
                        mailboxes: Vec::new(),
                        aliases: Vec::new(),
                        groups: Vec::new(),
                        additive: Default::default(),
                        alias_of: None,
                    },
                );
                if let Some(parent) = &mail.alias_of {
                    aliases.push((zone.clone(), parent, format!("{path}.mail.alias_of")));
                }
            } else {
                broken.insert(zone.clone());
            }
        }
    }

    check_alias_domains(&mut ctx, &aliases, &mut mail_domains, &mut broken);
    compile_mail(&mut ctx, config, &mut mail_domains, &broken);
    desired.mail = mail_domains.into_values().collect();
    desired
}

/// `alias_of` must name another mail domain of the file, at the same
/// provider, that is not an alias itself (Google nests no aliases). A
/// domain whose `alias_of` is wrong is left out, as broken.
fn check_alias_domains(
    ctx: &mut Ctx,
    aliases: &[(String, &Spanned<String>, String)],
    domains: &mut BTreeMap<String, DesiredMailDomain>,
    broken: &mut std::collections::HashSet<String>,
) {
    let declared: std::collections::HashSet<&str> = aliases.iter().map(|a| a.0.as_str()).collect();
    let mut resolved = Vec::new();
    for (zone, raw, path) in aliases {
        let loc = Loc::of(*raw);
        let parent = match domain_to_ascii(&raw.value) {
            Ok(p) => p,
            Err(e) => {
                ctx.diags.error(
                    loc,
                    path,
                    format!("invalid domain name `{}`: {e}", raw.value),
                    Some(
                        "name the mail domain this one is an alias of, e.g. `example.com`"
                            .to_string(),
                    ),
                );
                broken.insert(zone.clone());
                continue;
            }
        };
        let provider = domains
            .get(zone)
            .map(|d| d.provider.clone())
            .unwrap_or_default();
        let problem = if parent == *zone {
            Some((
                format!("mail domain `{zone}` is declared an alias of itself"),
                "name the domain whose users it gives addresses to, or remove `alias_of`"
                    .to_string(),
            ))
        } else if broken.contains(&parent) {
            // Its own declaration is already reported.
            broken.insert(zone.clone());
            continue;
        } else if let Some(p) = domains.get(&parent) {
            if p.provider != provider {
                Some((
                    format!(
                        "`{zone}` is declared an alias of `{parent}`, but `{parent}` is at mail provider `{}` and `{zone}` at `{provider}`; a domain alias lives at its parent's provider",
                        p.provider
                    ),
                    format!("give `{zone}` `mail: {{provider: {}, alias_of: {parent}}}`", p.provider),
                ))
            } else if declared.contains(parent.as_str()) {
                Some((
                    format!("`{zone}` is declared an alias of `{parent}`, which is itself an alias"),
                    format!("name the domain `{parent}` is an alias of: aliases of aliases do not exist"),
                ))
            } else {
                None
            }
        } else {
            let mail: Vec<&str> = domains
                .keys()
                .filter(|d| *d != zone && !declared.contains(d.as_str()))
                .map(String::as_str)
                .collect();
            let fix = match did_you_mean(&parent, mail.iter().copied()) {
                Some(s) => format!("did you mean `{s}`?"),
                None => format!(
                    "declare `{parent}` under `domains:` with `mail: {{provider: {provider}}}`, or name one of this file's mail domains"
                ),
            };
            Some((
                format!("`{zone}` is declared an alias of `{parent}`, which is not a mail domain of this file"),
                fix,
            ))
        };
        match problem {
            Some((message, fix)) => {
                ctx.diags.error(loc, path, message, Some(fix));
                broken.insert(zone.clone());
            }
            None => resolved.push((zone.clone(), parent)),
        }
    }
    for zone in broken.iter() {
        domains.remove(zone);
    }
    for (zone, parent) in resolved {
        if let Some(d) = domains.get_mut(&zone) {
            d.alias_of = Some(parent);
        }
    }
}

fn check_ttl(ctx: &mut Ctx, ttl: &Spanned<u32>, path: &str) -> u32 {
    if ttl.value == 0 || ttl.value > MAX_TTL {
        ctx.diags.error(
            Loc::of(ttl),
            path,
            format!("TTL {} is out of range", ttl.value),
            Some(format!(
                "use a number of seconds from 1 to {MAX_TTL} (3600 is one hour)"
            )),
        );
        return DEFAULT_TTL;
    }
    ttl.value
}

fn check_provider(
    ctx: &mut Ctx,
    config: &Config,
    name: &Spanned<String>,
    role: Role,
    path: &str,
) -> bool {
    let want = match role {
        Role::Dns => "DNS",
        Role::Mail => "mail",
    };
    match config.providers.get(&name.value) {
        Some(p) if p.role() == role => true,
        Some(p) => {
            ctx.diags.error(
                Loc::of(name),
                path,
                format!(
                    "provider `{}` is a {} provider, not a {want} provider",
                    name.value,
                    p.kind()
                ),
                Some(format!("name a {want} provider here")),
            );
            false
        }
        None => {
            let names: Vec<&str> = config.providers.keys().collect();
            let fix = match did_you_mean(&name.value, names.iter().copied()) {
                Some(s) => format!("did you mean `{s}`?"),
                None if names.is_empty() => "define it under `providers:`".to_string(),
                None => format!(
                    "define it under `providers:`, or use one of: {}",
                    names.join(", ")
                ),
            };
            ctx.diags.error(
                Loc::of(name),
                path,
                format!("provider `{}` is not defined", name.value),
                Some(fix),
            );
            false
        }
    }
}

fn compile_records(
    ctx: &mut Ctx,
    zone: &str,
    domain_path: &str,
    records: &super::spanned_map::SpannedMap<super::spanned_map::SpannedMap<RecordSpec>>,
    zone_ttl: u32,
) -> Vec<Declared<RecordSet>> {
    let mut out: Vec<Declared<RecordSet>> = Vec::new();
    let mut seen_names: HashMap<String, Loc> = HashMap::new();
    for (rel, name_loc, types) in records.iter() {
        let name_path = format!("{domain_path}.records.{}", key(rel));
        if let Err(e) = check_record_name(rel) {
            ctx.diags.error(
                name_loc,
                &name_path,
                format!("invalid record name `{rel}`: {e}"),
                Some("record names are relative to the domain: `@`, `www`, `_dmarc`, `selector1._domainkey`, `*.dev`".to_string()),
            );
            continue;
        }
        let abs = absolute_name(rel, zone);
        if let Some(first) = seen_names.insert(abs.clone(), name_loc) {
            ctx.diags.error(
                name_loc,
                &name_path,
                format!("record name `{rel}` is declared twice (first at line {}; names are case-insensitive)", first.line),
                Some("merge the two entries".to_string()),
            );
            continue;
        }
        let mut types_here: Vec<(RecordType, Loc)> = Vec::new();
        for (type_name, type_loc, spec) in types.iter() {
            let set_path = format!("{name_path}.{type_name}");
            let rtype = RecordType::parse(type_name);
            if !RecordType::DECLARABLE.contains(&rtype)
                || type_name != type_name.to_ascii_uppercase()
            {
                let known: Vec<&str> = RecordType::DECLARABLE.iter().map(|t| t.as_str()).collect();
                let fix = if RecordType::DECLARABLE.contains(&rtype) {
                    format!("write record types in upper case: `{}`", rtype.as_str())
                } else {
                    match did_you_mean(type_name, known.iter().copied()) {
                        Some(s) => {
                            format!("did you mean `{s}`? Record types: {}", known.join(", "))
                        }
                        None => format!("record types: {}", known.join(", ")),
                    }
                };
                ctx.diags.error(
                    type_loc,
                    &set_path,
                    format!("unknown record type `{type_name}`"),
                    Some(fix),
                );
                continue;
            }
            let ttl = spec
                .ttl
                .as_ref()
                .map(|t| check_ttl(ctx, t, &format!("{set_path}.ttl")))
                .unwrap_or(zone_ttl);
            if spec.values.is_empty() {
                ctx.diags.error(
                    type_loc,
                    &set_path,
                    format!("record set `{rel}` {type_name} has no values"),
                    Some("give at least one value, or remove the entry".to_string()),
                );
                continue;
            }
            let mut values = Vec::new();
            for v in &spec.values {
                if let Some(rdata) = compile_value(ctx, &rtype, v, &set_path) {
                    values.push(rdata);
                }
            }
            if values.len() != spec.values.len() {
                continue;
            }
            if rtype == RecordType::Cname && values.len() > 1 {
                ctx.diags.error(
                    type_loc,
                    &set_path,
                    format!(
                        "`{rel}` has {} CNAME values; a name can hold only one CNAME",
                        values.len()
                    ),
                    Some("keep one target".to_string()),
                );
                continue;
            }
            types_here.push((rtype.clone(), type_loc));
            out.push(Declared {
                item: RecordSet {
                    name: abs.clone(),
                    rtype,
                    ttl,
                    values,
                },
                origin: Origin {
                    loc: type_loc,
                    path: set_path,
                },
            });
        }
        if let Some((_, cname_loc)) = types_here.iter().find(|(t, _)| *t == RecordType::Cname) {
            if rel == "@" {
                ctx.diags.error(
                    *cname_loc,
                    &format!("{name_path}.CNAME"),
                    "a CNAME cannot be at the domain itself (`@`): the apex holds SOA and NS records",
                    Some("use A/AAAA records at `@`, or a provider's CNAME-flattening record type".to_string()),
                );
            } else if types_here.len() > 1 {
                let others: Vec<&str> = types_here
                    .iter()
                    .filter(|(t, _)| *t != RecordType::Cname)
                    .map(|(t, _)| t.as_str())
                    .collect();
                ctx.diags.error(
                    *cname_loc,
                    &format!("{name_path}.CNAME"),
                    format!("`{rel}` has a CNAME beside other data ({}); RFC 1034 allows nothing else at a CNAME's name", others.join(", ")),
                    Some("remove the CNAME, or move the other records to another name".to_string()),
                );
            }
        }
    }
    out
}

fn compile_value(
    ctx: &mut Ctx,
    rtype: &RecordType,
    value: &Spanned<RecordValue>,
    path: &str,
) -> Option<RData> {
    let loc = Loc::of(value);
    match &value.value {
        RecordValue::Chunks(chunks) => {
            if *rtype != RecordType::Txt {
                ctx.diags.error(
                    loc,
                    path,
                    format!("`chunks` is only for TXT records, not {rtype}"),
                    Some(format!(
                        "write the {rtype} value as one string: {}",
                        example_for(rtype)
                    )),
                );
                return None;
            }
            let mut resolved = Vec::new();
            for (i, c) in chunks.iter().enumerate() {
                let text = resolve(ctx, &c.value, Loc::of(c), path)?;
                if text.len() > 255 {
                    ctx.diags.error(
                        Loc::of(c),
                        path,
                        format!("TXT chunk {} is {} bytes long; one DNS character-string holds at most 255", i + 1, text.len()),
                        Some("split it into more chunks of at most 255 bytes each".to_string()),
                    );
                    return None;
                }
                resolved.push(text);
            }
            Some(RData::Txt { chunks: resolved })
        }
        RecordValue::Text(raw) => {
            let text = resolve(ctx, raw, loc, path)?;
            if *rtype == RecordType::Txt {
                if text.len() > 255 {
                    let chunks = mailform_contract::dns::split_txt(&text);
                    ctx.diags.error(
                        loc,
                        path,
                        format!("TXT value is {} bytes long and not split; one DNS character-string holds at most 255 bytes", text.len()),
                        Some(format!(
                            "write it as `{{chunks: [...]}}` with {} strings of at most 255 bytes each (DKIM keys usually need this)",
                            chunks.len()
                        )),
                    );
                    return None;
                }
                return Some(RData::Txt { chunks: vec![text] });
            }
            let target_is_ip =
                |t: &str| t.trim_end_matches('.').parse::<std::net::IpAddr>().is_ok();
            let last = text.split_whitespace().last().unwrap_or("");
            match rtype {
                RecordType::Mx if target_is_ip(last) => {
                    ctx.diags.lint(
                        &crate::lint::rules::MX_TARGET_IP,
                        None,
                        loc,
                        path,
                        format!("MX record points at the IP address `{last}`; an MX must name a host"),
                        format!("point it at a host name, e.g. `10 mail.example.com.`, and give that host an A record for {last}"),
                    );
                    return None;
                }
                RecordType::Cname | RecordType::Ns | RecordType::Srv if target_is_ip(last) => {
                    ctx.diags.error(
                        loc,
                        path,
                        format!("{rtype} target `{last}` is an IP address; it must be a host name"),
                        Some(if *rtype == RecordType::Cname {
                            "use an A or AAAA record for an address".to_string()
                        } else {
                            "name a host that has an A/AAAA record".to_string()
                        }),
                    );
                    return None;
                }
                _ => {}
            }
            match RData::parse(rtype, &text) {
                Ok(r) => Some(r),
                Err(e) => {
                    ctx.diags
                        .error(loc, path, e.0, Some(example_for(rtype).to_string()));
                    None
                }
            }
        }
    }
}

fn example_for(rtype: &RecordType) -> &'static str {
    match rtype {
        RecordType::A => "write an IPv4 address, e.g. `192.0.2.10`",
        RecordType::Aaaa => "write an IPv6 address, e.g. `2001:db8::10`",
        RecordType::Cname => "write one host name, e.g. `ghs.googlehosted.com.`",
        RecordType::Ns => "write one host name, e.g. `ns1.example.net.`",
        RecordType::Mx => "write `<preference> <host>`, e.g. `10 mx1.example.com.`",
        RecordType::Srv => {
            "write `<priority> <weight> <port> <target>`, e.g. `0 1 443 autodiscover.example.com.`"
        }
        RecordType::Caa => "write `<flags> <tag> \"<value>\"`, e.g. `0 issue \"letsencrypt.org\"`",
        _ => "see the record type's zone-file notation",
    }
}

fn resolve(ctx: &mut Ctx, raw: &str, loc: Loc, path: &str) -> Option<String> {
    match interpolate(raw, path, ctx.base_dir, ctx.env) {
        Ok(s) => Some(s),
        Err(e) => {
            ctx.diags.error(loc, path, e.message, Some(e.fix));
            None
        }
    }
}

/// What kind of mail object owns an address, for duplicate and reference checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Mailbox,
    MailboxAlias,
    Alias,
    Group,
    GroupAlias,
}

impl Kind {
    fn noun(self) -> &'static str {
        match self {
            Kind::Mailbox => "a mailbox",
            Kind::MailboxAlias => "a mailbox alias",
            Kind::Alias => "an alias",
            Kind::Group => "a group",
            Kind::GroupAlias => "a group alias",
        }
    }
}

struct Registry<'b> {
    owners: HashMap<String, (Kind, Loc)>,
    /// Domains whose declaration already failed.
    broken: &'b std::collections::HashSet<String>,
}

/// Whether `raw`'s domain was already reported broken.
fn in_broken_domain(raw: &str, broken: &std::collections::HashSet<String>) -> bool {
    raw.rsplit_once('@')
        .is_some_and(|(_, d)| broken.contains(&d.trim_end_matches('.').to_lowercase()))
}

impl Registry<'_> {
    /// Claims the extra addresses (`aliases:`) of the object at `path`.
    fn claim_all(
        &mut self,
        ctx: &mut Ctx,
        addresses: &[Spanned<String>],
        kind: Kind,
        path: &str,
        managed: &BTreeMap<String, DesiredMailDomain>,
    ) -> Vec<String> {
        let path = format!("{path}.aliases");
        addresses
            .iter()
            .filter_map(|a| self.claim(ctx, &a.value, Loc::of(a), kind, &path, managed))
            .collect()
    }

    fn claim(
        &mut self,
        ctx: &mut Ctx,
        raw: &str,
        loc: Loc,
        kind: Kind,
        path: &str,
        managed: &BTreeMap<String, DesiredMailDomain>,
    ) -> Option<String> {
        if in_broken_domain(raw, self.broken) {
            return None;
        }
        let address = match check_address(raw) {
            Ok(a) => a,
            Err(e) => {
                ctx.diags.error(
                    loc,
                    path,
                    e,
                    Some("write an address such as `alice@example.com`".to_string()),
                );
                return None;
            }
        };
        let domain = address_domain(&address).unwrap_or_default().to_string();
        if let Some(parent) = managed.get(&domain).and_then(|d| d.alias_of.as_ref()) {
            let local = address.rsplit_once('@').map_or("", |(l, _)| l);
            ctx.diags.error(
                loc,
                path,
                format!(
                    "`{address}` is at alias domain `{domain}`: addresses at an alias domain exist for every user of `{parent}`; declare them at `{parent}`"
                ),
                Some(format!("declare `{local}@{parent}` instead; it receives mail to `{address}` too")),
            );
            return None;
        }
        if !managed.contains_key(&domain) {
            ctx.diags.error(
                loc,
                path,
                format!(
                    "`{address}` is in domain `{domain}`, which has no mail provider in this file"
                ),
                Some(format!(
                    "declare `{domain}` under `domains:` with `mail: {{provider: <name>}}`"
                )),
            );
            return None;
        }
        if let Some((other, first)) = self.owners.get(&address) {
            ctx.diags.error(
                loc,
                path,
                format!("`{address}` is already {} (line {}); addresses are case-insensitive and must be unique across mailboxes, aliases and groups", other.noun(), first.line),
                Some("remove one of the two".to_string()),
            );
            return None;
        }
        self.owners.insert(address.clone(), (kind, loc));
        Some(address)
    }
}

fn compile_mail(
    ctx: &mut Ctx,
    config: &Config,
    domains: &mut BTreeMap<String, DesiredMailDomain>,
    broken: &std::collections::HashSet<String>,
) {
    let mut reg = Registry {
        owners: HashMap::new(),
        broken,
    };
    // Pass 1: claim every address, so references can be checked in pass 2.
    let empty = MailboxConfig::default();
    let mut mailboxes = Vec::new();
    for (raw, loc, mb) in config.mailboxes.iter() {
        let path = format!("mailboxes.{}", key(raw));
        let mb = mb.as_ref().unwrap_or(&empty);
        let Some(address) = reg.claim(ctx, raw, loc, Kind::Mailbox, &path, domains) else {
            continue;
        };
        let aliases = reg.claim_all(ctx, &mb.aliases, Kind::MailboxAlias, &path, domains);
        mailboxes.push((address, loc, path, mb, aliases));
    }
    let mut aliases = Vec::new();
    for (raw, loc, alias) in config.aliases.iter() {
        let path = format!("aliases.{}", key(raw));
        if let Some(address) = reg.claim(ctx, raw, loc, Kind::Alias, &path, domains) {
            aliases.push((address, loc, path, alias));
        }
    }
    let mut groups = Vec::new();
    for (raw, loc, group) in config.groups.iter() {
        let path = format!("groups.{}", key(raw));
        let Some(address) = reg.claim(ctx, raw, loc, Kind::Group, &path, domains) else {
            continue;
        };
        let galiases = reg.claim_all(ctx, &group.aliases, Kind::GroupAlias, &path, domains);
        groups.push((address, loc, path, group, galiases));
    }

    // Pass 2: references, states and the forwarding graph.
    let mut edges: BTreeMap<String, Vec<(String, Loc)>> = BTreeMap::new();
    for (address, loc, path, mb, mailbox_aliases) in mailboxes {
        let state = mb
            .state
            .as_ref()
            .map(|s| s.value)
            .unwrap_or(StateConfig::Active);
        let successor = mb.successor.as_ref().and_then(|s| {
            let target = check_reference(ctx, &reg, s, &format!("{path}.successor"), domains)?;
            if target == address {
                ctx.diags.error(
                    Loc::of(s),
                    &format!("{path}.successor"),
                    "a mailbox cannot be its own successor",
                    Some("name the person who takes over this mailbox's mail".to_string()),
                );
                return None;
            }
            Some(target)
        });
        if state == StateConfig::Offboarded && mb.successor.is_none() {
            ctx.diags.warning(
                loc,
                &path,
                format!("`{address}` is offboarded without a successor: new mail to it will be kept but nobody reads it"),
                Some("add `successor: <address>` so that customers' mail reaches someone".to_string()),
            );
        }
        let hash = mb.password_hash.as_ref().and_then(|p| {
            let value = resolve(ctx, &p.value, Loc::of(p), &format!("{path}.password_hash"))?;
            check_password_hash(ctx, &value, Loc::of(p), &format!("{path}.password_hash"))?;
            Some(InitialPassword::Hash(Secret::new(value)))
        });
        let plain = mb
            .initial_password
            .as_ref()
            .and_then(|p| initial_password(ctx, p, &format!("{path}.initial_password")));
        if let (Some(_), Some(p)) = (&mb.password_hash, &mb.initial_password) {
            ctx.diags.error(
                Loc::of(p),
                &format!("{path}.initial_password"),
                "both `password_hash` and `initial_password` are given",
                Some("keep one: a hash for providers that store hashes (postfix), a clear-text reference or `generate` for those that hash themselves".to_string()),
            );
        }
        let password = hash.or(plain);
        let kind = mb.kind.as_ref().map(|k| k.value).unwrap_or_default();
        let delegates = shared_access(ctx, &reg, &address, &path, mb, domains);
        let domain = address_domain(&address).unwrap_or_default().to_string();
        let Some(dom) = domains.get_mut(&domain) else {
            continue;
        };
        if mb.lists.or(config.defaults.lists).unwrap_or_default()
            == super::model::ListsPolicy::Additive
        {
            dom.additive.insert(address.clone());
        }
        dom.mailboxes.push(DesiredMailbox {
            mailbox: Mailbox {
                id: None,
                address: address.clone(),
                display_name: mb.name.as_ref().map(|n| n.value.clone()),
                state: match state {
                    StateConfig::Active | StateConfig::Deleted => MailboxState::Active,
                    StateConfig::Suspended => MailboxState::Suspended,
                    StateConfig::Offboarded => MailboxState::Offboarded,
                },
                successor,
                aliases: mailbox_aliases.clone(),
                kind: match kind {
                    MailboxType::User => MailboxKind::User,
                    MailboxType::Shared => MailboxKind::Shared,
                },
                delegates,
            },
            delete: state == StateConfig::Deleted,
            // Nobody signs in to a shared mailbox (refused above).
            password: password.filter(|_| kind == MailboxType::User),
            origin: Origin { loc, path },
        });
        for a in mailbox_aliases {
            edges.entry(a).or_default().push((address.clone(), loc));
        }
    }
    for (address, loc, path, alias) in aliases {
        if alias.to.is_empty() {
            ctx.diags.error(
                loc,
                &path,
                format!("alias `{address}` forwards to nothing"),
                Some("list at least one address under `to:`, or remove the alias".to_string()),
            );
            continue;
        }
        let mut targets = Vec::new();
        for t in &alias.to {
            if let Some(target) = check_reference(ctx, &reg, t, &format!("{path}.to"), domains) {
                if target == address {
                    ctx.diags.error(
                        Loc::of(t),
                        &format!("{path}.to"),
                        format!("alias `{address}` forwards to itself"),
                        Some("remove it from its own `to:` list".to_string()),
                    );
                    continue;
                }
                edges
                    .entry(address.clone())
                    .or_default()
                    .push((target.clone(), Loc::of(t)));
                targets.push(target);
            }
        }
        let domain = address_domain(&address).unwrap_or_default().to_string();
        if let Some(dom) = domains.get_mut(&domain) {
            dom.aliases.push(Declared {
                item: Alias { address, targets },
                origin: Origin { loc, path },
            });
        }
    }
    for (address, loc, path, group, galiases) in groups {
        let mut members = Vec::new();
        for m in &group.members {
            if let Some(member) = check_reference(ctx, &reg, m, &format!("{path}.members"), domains)
            {
                if member == address {
                    ctx.diags.error(
                        Loc::of(m),
                        &format!("{path}.members"),
                        format!("group `{address}` lists itself as a member"),
                        Some("remove it from its own `members:` list".to_string()),
                    );
                    continue;
                }
                edges
                    .entry(address.clone())
                    .or_default()
                    .push((member.clone(), Loc::of(m)));
                members.push(member);
            }
        }
        if group.members.is_empty() {
            ctx.diags.warning(
                loc,
                &path,
                format!("group `{address}` has no members: mail to it goes nowhere"),
                Some("add `members:`".to_string()),
            );
        }
        for a in &galiases {
            edges
                .entry(a.clone())
                .or_default()
                .push((address.clone(), loc));
        }
        let domain = address_domain(&address).unwrap_or_default().to_string();
        if let Some(dom) = domains.get_mut(&domain) {
            if group.lists.or(config.defaults.lists).unwrap_or_default()
                == super::model::ListsPolicy::Additive
            {
                dom.additive.insert(address.clone());
            }
            dom.groups.push(Declared {
                item: Group {
                    id: None,
                    address,
                    display_name: group.name.as_ref().map(|n| n.value.clone()),
                    members,
                    aliases: galiases,
                    allow_external: group.allow_external,
                    kind: match group.kind.as_ref().map(|k| k.value).unwrap_or_default() {
                        GroupType::Group => GroupKind::Default,
                        GroupType::Distribution => GroupKind::Distribution,
                    },
                },
                origin: Origin { loc, path },
            });
        }
    }
    hand_over(ctx, domains);
    check_loops(ctx, &edges, &reg);
}

/// `state: deleted` with a `successor`: once the mailbox is deleted, its
/// address and aliases become aliases of the successor (the "alias after
/// deletion" choice), so mail to them still reaches someone. The successor
/// must be a mailbox of this file, not deleted, at the same mail provider.
fn hand_over(ctx: &mut Ctx, domains: &mut BTreeMap<String, DesiredMailDomain>) {
    let mut moves = Vec::new();
    for dom in domains.values() {
        for m in dom.mailboxes.iter().filter(|m| m.delete) {
            if let Some(successor) = &m.mailbox.successor {
                let mut addresses = vec![m.mailbox.address.clone()];
                addresses.extend(m.mailbox.aliases.iter().cloned());
                moves.push((
                    successor.clone(),
                    addresses,
                    dom.provider.clone(),
                    m.origin.clone(),
                ));
            }
        }
    }
    for (successor, addresses, provider, origin) in moves {
        let target = domains
            .values_mut()
            .filter(|d| d.provider == provider)
            .flat_map(|d| d.mailboxes.iter_mut())
            .find(|m| m.mailbox.address == successor && !m.delete);
        match target {
            Some(t) => {
                for a in addresses {
                    if !t.mailbox.aliases.contains(&a) {
                        t.mailbox.aliases.push(a);
                    }
                }
            }
            None => ctx.diags.error(
                origin.loc,
                &format!("{}.successor", origin.path),
                format!("`{}` is deleted with successor `{successor}`, which takes over its address as an alias; the successor must be a mailbox of this file at the same mail provider (`{provider}`) that is not deleted", addresses[0]),
                Some("name such a mailbox as `successor`, or drop `successor` to delete the address outright (or use `state: offboarded` to keep the mailbox and forward its mail)".to_string()),
            ),
        }
    }
}

/// The delegates (`access`) of a shared mailbox, after checking what only
/// a shared mailbox may have and what it may not.
fn shared_access(
    ctx: &mut Ctx,
    reg: &Registry,
    address: &str,
    path: &str,
    mb: &MailboxConfig,
    domains: &BTreeMap<String, DesiredMailDomain>,
) -> Vec<String> {
    if mb.kind.as_ref().map(|k| k.value).unwrap_or_default() == MailboxType::User {
        if let Some(first) = mb.access.first() {
            ctx.diags.error(
                Loc::of(first),
                &format!("{path}.access"),
                format!("`{address}` is a user mailbox, and only a shared mailbox has `access`"),
                Some("add `type: shared` if several people are to open it, or remove `access:` (a user mailbox is opened by its owner)".to_string()),
            );
        }
        return vec![];
    }
    if let Some(s) = &mb.state {
        let state = s.value;
        if matches!(state, StateConfig::Suspended | StateConfig::Offboarded) {
            ctx.diags.error(
                Loc::of(s),
                &format!("{path}.state"),
                format!(
                    "shared mailbox `{address}` cannot be `{}`: nobody signs in to a shared mailbox",
                    if state == StateConfig::Suspended { "suspended" } else { "offboarded" }
                ),
                Some("remove its `state` (or use `deleted`); to keep people out of it, shorten `access`".to_string()),
            );
        }
    }
    for (key_name, given) in [
        ("password_hash", mb.password_hash.as_ref()),
        ("initial_password", mb.initial_password.as_ref()),
    ] {
        if let Some(p) = given {
            ctx.diags.error(
                Loc::of(p),
                &format!("{path}.{key_name}"),
                format!("shared mailbox `{address}` takes no password: nobody signs in to it"),
                Some(format!("remove `{key_name}`; the people under `access` open it with their own accounts")),
            );
        }
    }
    if let Some(s) = &mb.successor {
        ctx.diags.error(
            Loc::of(s),
            &format!("{path}.successor"),
            format!("shared mailbox `{address}` has no owner who leaves, so no `successor`"),
            Some("remove `successor`; give the new people `access` instead".to_string()),
        );
    }
    let apath = format!("{path}.access");
    let mut out: Vec<String> = Vec::new();
    for a in &mb.access {
        let Some(delegate) = check_reference(ctx, reg, a, &apath, domains) else {
            continue;
        };
        if delegate == address {
            ctx.diags.error(
                Loc::of(a),
                &apath,
                format!("shared mailbox `{address}` lists itself under `access`"),
                Some("list the people who open it, by their own addresses".to_string()),
            );
            continue;
        }
        if !out.contains(&delegate) {
            out.push(delegate);
        }
    }
    out
}

/// Checks an address that must exist: in a managed domain it must belong to
/// something in this file; outside, any valid address will do.
fn check_reference(
    ctx: &mut Ctx,
    reg: &Registry,
    raw: &Spanned<String>,
    path: &str,
    domains: &BTreeMap<String, DesiredMailDomain>,
) -> Option<String> {
    if in_broken_domain(&raw.value, reg.broken) {
        return None;
    }
    let loc = Loc::of(raw);
    let address = match check_address(&raw.value) {
        Ok(a) => a,
        Err(e) => {
            ctx.diags.error(
                loc,
                path,
                e,
                Some("write an address such as `alice@example.com`".to_string()),
            );
            return None;
        }
    };
    let domain = address_domain(&address).unwrap_or_default();
    if let Some(parent) = domains.get(domain).and_then(|d| d.alias_of.as_ref()) {
        let local = address.rsplit_once('@').map_or("", |(l, _)| l);
        ctx.diags.error(
            loc,
            path,
            format!("`{address}` is at alias domain `{domain}`, whose addresses are those of `{parent}`"),
            Some(format!("name `{local}@{parent}` instead")),
        );
        return None;
    }
    if domains.contains_key(domain) && !reg.owners.contains_key(&address) {
        let known: Vec<&str> = reg.owners.keys().map(String::as_str).collect();
        let fix = match did_you_mean(&address, known.iter().copied()) {
            Some(s) => format!("did you mean `{s}`?"),
            None => format!(
                "declare `{address}` as a mailbox, alias or group, or point at an existing one"
            ),
        };
        ctx.diags.error(loc, path, format!("`{address}` is in managed domain `{domain}` but is not a mailbox, alias or group here: mail to it would bounce"), Some(fix));
        return None;
    }
    Some(address)
}

fn check_loops(ctx: &mut Ctx, edges: &BTreeMap<String, Vec<(String, Loc)>>, reg: &Registry) {
    // Iterative three-colour DFS; a back edge is a loop.
    let mut colour: HashMap<&str, u8> = HashMap::new();
    let mut reported: BTreeSet<Vec<String>> = BTreeSet::new();
    for start in edges.keys() {
        if colour.get(start.as_str()).copied().unwrap_or(0) != 0 {
            continue;
        }
        let mut stack: Vec<(&str, usize)> = vec![(start.as_str(), 0)];
        colour.insert(start, 1);
        while let Some((node, idx)) = stack.pop() {
            let next = edges.get(node).and_then(|v| v.get(idx));
            match next {
                None => {
                    colour.insert(node, 2);
                }
                Some((target, loc)) => {
                    stack.push((node, idx + 1));
                    match colour.get(target.as_str()).copied().unwrap_or(0) {
                        0 => {
                            colour.insert(target, 1);
                            stack.push((target, 0));
                        }
                        1 => {
                            let pos = stack.iter().position(|(n, _)| *n == target).unwrap_or(0);
                            let mut cycle: Vec<String> =
                                stack[pos..].iter().map(|(n, _)| n.to_string()).collect();
                            let mut canonical = cycle.clone();
                            canonical.sort();
                            if reported.insert(canonical) {
                                cycle.push(target.clone());
                                let kind = reg
                                    .owners
                                    .get(node)
                                    .map(|(k, _)| k.noun())
                                    .unwrap_or("an address");
                                ctx.diags.error(
                                    *loc,
                                    "",
                                    format!("forwarding loop: {} ({} forwards back into the loop)", cycle.join(" → "), kind),
                                    Some("break the loop: one of these must deliver to a mailbox or an outside address".to_string()),
                                );
                            }
                        }
                        _ => {}
                    }
                }
            }
        }
    }
}

/// `initial_password`: `generate`, or a `${file:...}`/`${env:...}`
/// reference to a clear-text password. A value written in the file is
/// refused (it would sit in the repository) and never echoed.
fn initial_password(ctx: &mut Ctx, p: &Spanned<String>, path: &str) -> Option<InitialPassword> {
    let raw = p.value.trim();
    if raw == "generate" {
        return Some(InitialPassword::Generate);
    }
    if !raw.contains("${") {
        ctx.diags.error(
            Loc::of(p),
            path,
            "`initial_password` is written in the file; a password there ends up in the repository",
            Some("write `${file:secrets/<name>.pw}` or `${env:NAME}`, or `generate` to have apply make one and write it to --password-file".to_string()),
        );
        return None;
    }
    let value = resolve(ctx, raw, Loc::of(p), path)?;
    let value = value.trim_end_matches(['\n', '\r']).to_string();
    if value.is_empty() {
        ctx.diags.error(
            Loc::of(p),
            path,
            "`initial_password` is empty",
            Some(
                "put the password in the referenced file or variable, or write `generate`"
                    .to_string(),
            ),
        );
        return None;
    }
    Some(InitialPassword::Plain(Secret::new(value)))
}

fn check_password_hash(ctx: &mut Ctx, value: &str, loc: Loc, path: &str) -> Option<()> {
    const SCHEMES: [&str; 7] = [
        "SHA512-CRYPT",
        "SHA256-CRYPT",
        "MD5-CRYPT",
        "BLF-CRYPT",
        "ARGON2ID",
        "ARGON2I",
        "BCRYPT",
    ];
    let scheme = value.strip_prefix('{').and_then(|r| r.split_once('}'));
    match scheme {
        Some((s, rest)) if SCHEMES.contains(&s) && !rest.is_empty() => Some(()),
        Some((s, _)) if SCHEMES.contains(&s) => {
            ctx.diags.error(
                loc,
                path,
                "the password hash is empty after its scheme",
                Some(
                    "make one with `doveadm pw -s SHA512-CRYPT` and paste its whole output"
                        .to_string(),
                ),
            );
            None
        }
        _ => {
            // Never echo the value: it may be a clear-text password.
            ctx.diags.error(
                loc,
                path,
                "`password_hash` is not a password hash in a scheme mailform accepts",
                Some(format!(
                    "write `{{SCHEME}}hash` with SCHEME one of {}; make one with `doveadm pw -s SHA512-CRYPT`",
                    SCHEMES.join(", ")
                )),
            );
            None
        }
    }
}

/// Compiles the domain's policy blocks into record sets and merges them
/// with the explicit records: an SPF record joins the apex TXT set; any
/// other set a block builds must not also be declared by hand.
fn compile_policies(
    ctx: &mut Ctx,
    zone: &str,
    domain_path: &str,
    domain: &super::model::DomainConfig,
    ttl: u32,
    records: &mut Vec<Declared<RecordSet>>,
) {
    use crate::policy;
    let mut built: Vec<(String, RData, Origin)> = Vec::new();
    let at = |loc: Loc, path: String| Origin { loc, path };
    let service = domain.service.as_ref().and_then(|s| {
        expand_service(
            ctx,
            zone,
            &format!("{domain_path}.service"),
            s,
            domain,
            &mut built,
        )
    });
    let explicit_spf = records.iter().any(|d| {
        d.item.rtype == RecordType::Txt
            && d.item.name == zone
            && d.item.values.iter().any(
                |v| matches!(v, RData::Txt { chunks } if policy::spf::is_spf(&chunks.concat())),
            )
    });
    let preset_include: Vec<String> = service
        .iter()
        .filter_map(|s| s.spf_include.clone())
        .collect();
    match (&domain.spf, domain.service.as_ref()) {
        (Some(spf), _) => {
            let text = policy::spf::build(&spf.value, &preset_include);
            built.push((
                "@".into(),
                RData::txt(&text),
                at(Loc::of(spf), format!("{domain_path}.spf")),
            ));
        }
        // A preset alone gives the domain an SPF record, unless one is
        // written by hand (the lint then checks it has the include).
        (None, Some(s)) if !preset_include.is_empty() && !explicit_spf => {
            let text = policy::spf::build(&Default::default(), &preset_include);
            built.push((
                "@".into(),
                RData::txt(&text),
                at(Loc::of(s), format!("{domain_path}.service")),
            ));
        }
        _ => {}
    }
    if let Some(dmarc) = &domain.dmarc {
        let text = policy::dmarc::build(&dmarc.value);
        built.push((
            "_dmarc".into(),
            RData::txt(&text),
            at(Loc::of(dmarc), format!("{domain_path}.dmarc")),
        ));
    }
    for (selector, loc, dkim) in domain.dkim.iter() {
        let path = format!("{domain_path}.dkim.{}", key(selector));
        if let Err(e) = check_record_name(selector) {
            ctx.diags.error(
                loc,
                &path,
                format!("invalid DKIM selector `{selector}`: {e}"),
                Some("a selector is one or more labels, e.g. `google` or `selector1`".to_string()),
            );
            continue;
        }
        let name = format!("{selector}._domainkey");
        match (&dkim.key, &dkim.cname) {
            (Some(k), None) => {
                if let Some(text) = resolve(ctx, &k.value, Loc::of(k), &path) {
                    built.push((name, RData::txt(&policy::dkim::txt_value(&text, dkim.key_type)), at(loc, path)));
                }
            }
            (None, Some(c)) => {
                if let Some(text) = resolve(ctx, &c.value, Loc::of(c), &path) {
                    match RData::parse(&RecordType::Cname, &text) {
                        Ok(r) => built.push((name, r, at(loc, path))),
                        Err(e) => ctx.diags.error(Loc::of(c), &path, e.0, Some(example_for(&RecordType::Cname).to_string())),
                    }
                }
            }
            _ => ctx.diags.error(
                loc,
                &path,
                format!("DKIM selector `{selector}` needs exactly one of `key` and `cname`"),
                Some("give `key:` (the public key) when you publish the key, or `cname:` when the mail service hosts it".to_string()),
            ),
        }
    }
    if let Some(t) = &domain.tls_rpt {
        built.push((
            "_smtp._tls".into(),
            RData::txt(&policy::tls_rpt(&t.value)),
            at(Loc::of(t), format!("{domain_path}.tls_rpt")),
        ));
    }
    if let Some(m) = &domain.mta_sts {
        built.push((
            "_mta-sts".into(),
            RData::txt(&policy::mta_sts::record(&m.value)),
            at(Loc::of(m), format!("{domain_path}.mta_sts")),
        ));
    }
    if let Some(b) = &domain.bimi {
        built.push((
            "default._bimi".into(),
            RData::txt(&policy::bimi(&b.value)),
            at(Loc::of(b), format!("{domain_path}.bimi")),
        ));
    }
    if let Some(m) = &domain.mta_sts {
        check_mta_sts_mx(ctx, zone, domain_path, m, records, &built);
        check_mta_sts_file(ctx, zone, domain_path, m);
    }
    // Values one block builds for the same name and type form one set.
    let mut grouped: Vec<(String, Vec<RData>, Origin)> = Vec::new();
    for (rel, rdata, origin) in built {
        match grouped
            .iter_mut()
            .find(|(r, v, o)| *r == rel && v[0].rtype() == rdata.rtype() && o.path == origin.path)
        {
            Some((_, values, _)) => values.push(rdata),
            None => grouped.push((rel, vec![rdata], origin)),
        }
    }
    for (rel, values, origin) in grouped {
        let name = absolute_name(&rel, zone);
        let rtype = values[0].rtype();
        let rdata = values[0].clone();
        if let Some(existing) = records
            .iter_mut()
            .find(|d| d.item.name == name && d.item.rtype == rtype)
        {
            let is_spf = |r: &RData| matches!(r, RData::Txt { chunks } if policy::spf::is_spf(&chunks.concat()));
            if rtype == RecordType::Txt && rel == "@" && !existing.item.values.iter().any(is_spf) {
                existing.item.values.extend(values);
                continue;
            }
            ctx.diags.error(
                origin.loc,
                &origin.path,
                format!(
                    "`{}` builds the {rel} {rtype} record, which `{}` (line {}) also declares{}",
                    origin.path.rsplit('.').next().unwrap_or(""),
                    existing.origin.path,
                    existing.origin.loc.line,
                    if is_spf(&rdata) {
                        ": a name may hold only one SPF record (RFC 7208 §4.5)"
                    } else {
                        ""
                    }
                ),
                Some("keep one of the two".to_string()),
            );
            continue;
        }
        if records
            .iter()
            .any(|d| d.item.name == name && d.item.rtype == RecordType::Cname)
        {
            ctx.diags.error(
                origin.loc,
                &origin.path,
                format!("`{rel}` is a CNAME in this file; a {rtype} record cannot stand beside it"),
                Some("remove the CNAME or this block".to_string()),
            );
            continue;
        }
        records.push(Declared {
            item: RecordSet {
                name,
                rtype,
                ttl,
                values,
            },
            origin,
        });
    }
}

/// Adds a preset's records to `built`; returns the chosen variant.
fn expand_service(
    ctx: &mut Ctx,
    zone: &str,
    path: &str,
    service: &Spanned<super::policy::ServiceConfig>,
    domain: &super::model::DomainConfig,
    built: &mut Vec<(String, RData, Origin)>,
) -> Option<crate::presets::Variant> {
    let s = &service.value;
    let Some(preset) = crate::presets::get(&s.preset.value) else {
        let ids: Vec<&str> = crate::presets::all()
            .iter()
            .map(|p| p.id.as_str())
            .collect();
        let fix = match did_you_mean(&s.preset.value, ids.iter().copied()) {
            Some(x) => format!("did you mean `{x}`? (`mailform presets` lists them)"),
            None => format!(
                "presets: {} (`mailform presets` shows what each adds)",
                ids.join(", ")
            ),
        };
        ctx.diags.error(
            Loc::of(&s.preset),
            &format!("{path}.preset"),
            format!("unknown preset `{}`", s.preset.value),
            Some(fix),
        );
        return None;
    };
    let variant = match &s.variant {
        None => preset.variants.entries.first().map(|(_, v)| v.clone()),
        Some(v) => match preset.variants.get(&v.value) {
            Some(found) => Some(found.clone()),
            None => {
                let names: Vec<&str> = preset.variants.keys().collect();
                ctx.diags.error(
                    Loc::of(v),
                    &format!("{path}.variant"),
                    format!("preset `{}` has no variant `{}`", preset.id, v.value),
                    Some(match did_you_mean(&v.value, names.iter().copied()) {
                        Some(x) => format!("did you mean `{x}`?"),
                        None => format!("variants: {}", names.join(", ")),
                    }),
                );
                None
            }
        },
    }?;
    let known: Vec<&str> = preset.params.iter().map(|p| p.name.as_str()).collect();
    let mut params = std::collections::BTreeMap::new();
    for (name, loc, value) in s.params.iter() {
        if !known.contains(&name) {
            ctx.diags.error(
                loc,
                &format!("{path}.params"),
                format!("preset `{}` takes no parameter `{name}`", preset.id),
                Some(if known.is_empty() {
                    "remove `params:`".to_string()
                } else {
                    format!("its parameters: {}", known.join(", "))
                }),
            );
            continue;
        }
        params.insert(name.to_string(), value.clone());
    }
    let origin = Origin {
        loc: Loc::of(service),
        path: path.to_string(),
    };
    // Missing parameters are reported once, not once per record.
    let mut reported_missing = false;
    let mut add =
        |ctx: &mut Ctx, rel: &str, rtype: &RecordType, template: &str| match crate::presets::fill(
            template, zone, &params,
        ) {
            Ok(text) => match RData::parse(rtype, &text) {
                Ok(r) => built.push((rel.to_string(), r, origin.clone())),
                Err(e) => ctx.diags.error(
                    origin.loc,
                    path,
                    format!("preset `{}` gives an invalid value: {}", preset.id, e.0),
                    None,
                ),
            },
            Err(_) if reported_missing => {}
            Err(missing) => {
                reported_missing = true;
                let descr: Vec<String> = preset
                    .params
                    .iter()
                    .filter(|p| missing.contains(&p.name))
                    .map(|p| {
                        format!(
                            "`{}` ({}{})",
                            p.name,
                            p.description,
                            p.example
                                .as_ref()
                                .map(|e| format!(", e.g. `{e}`"))
                                .unwrap_or_default()
                        )
                    })
                    .collect();
                ctx.diags.error(
                    origin.loc,
                    path,
                    format!(
                        "preset `{}` needs parameter(s) {} for {rel} {rtype}",
                        preset.id,
                        missing.join(", ")
                    ),
                    Some(format!("add them under `params:`: {}", descr.join("; "))),
                );
            }
        };
    if s.mx {
        for mx in &variant.mx {
            add(ctx, "@", &RecordType::Mx, mx);
        }
    }
    for (rel, types) in &variant.records {
        for (t, vals) in types {
            for v in vals.values() {
                add(ctx, rel, &RecordType::parse(t), v);
            }
        }
    }
    if preset.dkim.kind == "txt"
        && !preset.dkim.selectors.is_empty()
        && !preset
            .dkim
            .selectors
            .iter()
            .any(|sel| domain.dkim.get(sel).is_some())
    {
        let sel = &preset.dkim.selectors[0];
        ctx.diags.lint(
            &crate::lint::rules::DKIM_MISSING,
            None,
            origin.loc,
            path,
            format!("{} signs mail with DKIM selector `{sel}`, whose key this file does not publish", preset.title),
            format!("copy the public key from the {} admin console into `dkim: {{{sel}: {{key: ...}}}}`", preset.title),
        );
    }
    if preset.dkim.kind == "cname" {
        for (selector, target) in &preset.dkim.cname_targets {
            // A selector written under `dkim:` overrides the preset's.
            if domain.dkim.get(selector).is_none() {
                add(
                    ctx,
                    &format!("{selector}._domainkey"),
                    &RecordType::Cname,
                    target,
                );
            }
        }
    }
    Some(variant)
}

/// Every MX host must match one of the MTA-STS policy's `mx` patterns, or
/// senders that enforce the policy refuse to deliver (RFC 8461 §4.1).
fn check_mta_sts_mx(
    ctx: &mut Ctx,
    zone: &str,
    domain_path: &str,
    m: &Spanned<super::policy::MtaStsConfig>,
    records: &[Declared<RecordSet>],
    built: &[(String, RData, Origin)],
) {
    let hosts = records
        .iter()
        .filter(|d| d.item.name == zone && d.item.rtype == RecordType::Mx)
        .flat_map(|d| d.item.values.iter())
        .chain(
            built
                .iter()
                .filter(|(rel, r, _)| rel == "@" && r.rtype() == RecordType::Mx)
                .map(|(_, r, _)| r),
        );
    for host in hosts {
        let RData::Mx { exchange, .. } = host else {
            continue;
        };
        if exchange.is_empty() {
            continue;
        }
        if !m
            .value
            .mx
            .iter()
            .any(|p| crate::policy::mta_sts::mx_matches(&p.value, exchange))
        {
            ctx.diags.lint(
                &crate::lint::rules::MTA_STS_MX,
                None,
                Loc::of(m),
                &format!("{domain_path}.mta_sts"),
                format!("MX host `{exchange}` matches no `mx` pattern of the MTA-STS policy"),
                format!("add `{exchange}` (or a `*.` pattern covering it) to `mta_sts.mx`"),
            );
        }
    }
}

/// The committed policy file must be exactly the policy the block
/// describes: the `_mta-sts` id changes with the block, and senders that
/// fetch a stale file would enforce the old MX set.
fn check_mta_sts_file(
    ctx: &mut Ctx,
    zone: &str,
    domain_path: &str,
    m: &Spanned<super::policy::MtaStsConfig>,
) {
    let Some(file) = &m.value.policy_file else {
        return;
    };
    let want = crate::policy::mta_sts::policy_text(&m.value);
    let path = ctx.base_dir.join(&file.value);
    let have = mailform_contract::file::read_to_string_bounded(&path, 1 << 20).ok();
    if have.as_deref() != Some(want.as_str()) {
        ctx.diags.lint(
            &crate::lint::rules::MTA_STS_POLICY_FILE,
            None,
            Loc::of(file),
            &format!("{domain_path}.mta_sts.policy_file"),
            format!("`{}` {} the MTA-STS policy of {zone}", file.value, if have.is_some() { "differs from" } else { "does not hold" }),
            format!("run `mailform mta-sts-policy {zone} > {}` and deploy it to https://mta-sts.{zone}/.well-known/mta-sts.txt", path.display()),
        );
    }
}
