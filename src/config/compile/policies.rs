//! Policy blocks (`spf`, `dmarc`, `dkim`, `tls_rpt`, `mta_sts`, `bimi`)
//! and service presets become record sets, merged with the domain's
//! explicit records; MTA-STS is checked against the MX set and the
//! committed policy file.

use mailform_contract::dns::RData;
use mailform_contract::name::absolute_name;
use mailform_contract::{RecordSet, RecordType};
use serde_saphyr::Spanned;

use super::records::{check_rdata, example_for};
use super::{resolve, Ctx};
use crate::config::diagnostic::{did_you_mean, key, Loc};
use crate::config::model::DomainConfig;
use crate::config::names::check_record_name;
use crate::config::policy::{MtaStsConfig, ServiceConfig};
use crate::desired::{Declared, Origin};

/// Compiles the domain's policy blocks into record sets and merges them
/// with the explicit records: an SPF record joins the apex TXT set; any
/// other set a block builds must not also be declared by hand.
pub(super) fn compile_policies(
    ctx: &mut Ctx,
    zone: &str,
    domain_path: &str,
    domain: &DomainConfig,
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
                        Ok(r) => match check_rdata(&r) {
                            Ok(()) => built.push((name, r, at(loc, path))),
                            Err((message, fix)) => ctx.diags.error(Loc::of(c), &path, message, Some(fix)),
                        },
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
    service: &Spanned<ServiceConfig>,
    domain: &DomainConfig,
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
            Ok(text) => match RData::parse(rtype, &text)
                .map_err(|e| (e.0, None))
                .and_then(|r| check_rdata(&r).map(|()| r).map_err(|(m, f)| (m, Some(f))))
            {
                Ok(r) => built.push((rel.to_string(), r, origin.clone())),
                // Presets are checked when they are built, so a bad value
                // comes from a parameter.
                Err((message, fix)) => ctx.diags.error(
                    origin.loc,
                    path,
                    format!(
                        "preset `{}` gives an invalid {rel} {rtype} value: {message}",
                        preset.id
                    ),
                    Some(format!(
                        "check the values under `params:`{}",
                        fix.map(|f| format!("; for this record: {f}"))
                            .unwrap_or_default()
                    )),
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
                        "preset `{}` needs {} {} for {rel} {rtype}",
                        preset.id,
                        if missing.len() == 1 {
                            "parameter"
                        } else {
                            "parameters"
                        },
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
    m: &Spanned<MtaStsConfig>,
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
fn check_mta_sts_file(ctx: &mut Ctx, zone: &str, domain_path: &str, m: &Spanned<MtaStsConfig>) {
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
