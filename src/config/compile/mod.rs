//! Checks a parsed config and compiles it into the [`Desired`] state.
//!
//! Every problem becomes a [`Diagnostic`](super::diagnostic::Diagnostic)
//! with the place it was written, the key path, what is wrong and the fix;
//! all problems in a file are reported at once. Nothing here touches the
//! network.
//!
//! This module walks the domains and holds what every part shares (`Ctx`,
//! TTL and provider checks, interpolation); the parts:
//! - `records`: the `records:` section, one record set per name and type;
//! - `mail`: addresses, mailboxes, aliases, groups, domain aliases, loops;
//! - `passwords`: `initial_password` and `password_hash`;
//! - `policies`: SPF, DMARC, DKIM, MTA-STS, TLS-RPT, BIMI and presets.

mod mail;
mod passwords;
mod policies;
mod records;

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use globset::{Glob, GlobSetBuilder};
use serde_saphyr::Spanned;

use super::diagnostic::{did_you_mean, key, Diagnostics, Loc};
use super::interpolate::{interpolate, Env};
use super::model::{Config, ProviderConfig, Role};
use super::names::domain_to_ascii;
use crate::desired::{Desired, DesiredMailDomain, DesiredZone};
use mail::{check_alias_domains, compile_mail};
use policies::compile_policies;
use records::{check_cname_loops, compile_records};

/// Default TTL when neither the record set, the domain nor `defaults` set one.
pub const DEFAULT_TTL: u32 = 3600;
/// RFC 2181 §8: TTLs are 31-bit.
pub const MAX_TTL: u32 = 2_147_483_647;

/// What every check needs: where to report, and how to resolve
/// `${file:...}`/`${env:...}`.
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
        check_endpoints(&mut ctx, name, loc, provider);
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

    check_cname_loops(&mut ctx, &desired.zones);
    check_alias_domains(&mut ctx, &aliases, &mut mail_domains, &mut broken);
    compile_mail(&mut ctx, config, &mut mail_domains, &broken);
    desired.mail = mail_domains.into_values().collect();
    desired
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

fn resolve(ctx: &mut Ctx, raw: &str, loc: Loc, path: &str) -> Option<String> {
    match interpolate(raw, path, ctx.base_dir, ctx.env) {
        Ok(s) => Some(s),
        Err(e) => {
            ctx.diags.error(loc, path, e.message, Some(e.fix));
            None
        }
    }
}

/// A provider's URL settings may send its credentials only to the vendor's
/// hosts, loopback, or hosts the run's environment trusts: a pull request
/// must not be able to point CI's token at a server of its own.
fn check_endpoints(ctx: &mut Ctx, name: &str, loc: Loc, provider: &ProviderConfig) {
    use mailform_contract::settings::{endpoint_refusal, TRUSTED_ENDPOINT_HOSTS_VAR};
    let settings = provider.settings();
    let trusted = ctx.env.var(TRUSTED_ENDPOINT_HOSTS_VAR).unwrap_or_default();
    let trusted: Vec<&str> = trusted.split(',').map(str::trim).collect();
    for (key_name, url) in settings.endpoints() {
        if let Some(why) = endpoint_refusal(url, settings.vendor_hosts(), &trusted) {
            ctx.diags.error(
                loc,
                &format!("providers.{}.{}.{key_name}", key(name), provider.kind()),
                format!("provider `{name}`: `{key_name}`: {why}"),
                Some(format!(
                    "if this is your own server or a proxy you trust, list its host in the \
                     {TRUSTED_ENDPOINT_HOSTS_VAR} environment variable of the run (comma-separated, \
                     `*.example.com` for a whole domain) — in CI's settings, never in this file"
                )),
            );
        }
    }
}
