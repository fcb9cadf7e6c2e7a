//! Profiles: named overlays selected with `--profile`.
//!
//! A profile replaces whole units of the base file — a (name, type) record
//! set, a mailbox, an alias, a group — and may add new ones. It never
//! merges inside a unit, so what a reviewer reads in the profile is exactly
//! what will be served.

use super::diagnostic::{did_you_mean, key, Diagnostics, Loc};
use super::model::Config;
use super::spanned_map::SpannedMap;

/// Overlays profile `name` onto `config`. Returns the profile's name and
/// description, or None when no profile was asked for.
pub fn apply(
    config: &mut Config,
    name: Option<&str>,
    diags: &mut Diagnostics,
) -> Option<(String, Option<String>)> {
    let name = name?;
    let Some(profile) = config.profiles.get(name).cloned() else {
        let names: Vec<&str> = config.profiles.keys().collect();
        let fix = match did_you_mean(name, names.iter().copied()) {
            Some(s) => format!("did you mean `{s}`?"),
            None if names.is_empty() => "this file defines no `profiles:`".to_string(),
            None => format!("profiles in this file: {}", names.join(", ")),
        };
        diags.error(
            Loc::default(),
            "profiles",
            format!("profile `{name}` is not defined"),
            Some(fix),
        );
        return None;
    };
    for (dkey, dloc, pdomain) in profile.domains.iter() {
        let Some(base) = config
            .domains
            .entries
            .iter_mut()
            .find(|(k, _)| {
                k.value
                    .trim_end_matches('.')
                    .eq_ignore_ascii_case(dkey.trim_end_matches('.'))
            })
            .map(|(_, d)| d)
        else {
            diags.error(
                dloc,
                &format!("profiles.{}.domains.{}", key(name), key(dkey)),
                format!("profile `{name}` changes domain `{dkey}`, which the base file does not declare"),
                Some("declare the domain under the top-level `domains:` first".to_string()),
            );
            continue;
        };
        for (rname, _, types) in pdomain.records.iter() {
            let slot = match base
                .records
                .entries
                .iter_mut()
                .find(|(k, _)| k.value.eq_ignore_ascii_case(rname))
            {
                Some((_, t)) => t,
                None => {
                    let (k, _) = pdomain
                        .records
                        .entries
                        .iter()
                        .find(|(k, _)| k.value == rname)
                        .expect("present");
                    base.records
                        .entries
                        .push((k.clone(), SpannedMap::default()));
                    &mut base.records.entries.last_mut().expect("pushed").1
                }
            };
            for (tkey, spec) in &types.entries {
                slot.upsert(tkey.clone(), spec.clone());
            }
        }
    }
    for (k, v) in profile.mailboxes.entries {
        config.mailboxes.upsert(k, v);
    }
    for (k, v) in profile.aliases.entries {
        config.aliases.upsert(k, v);
    }
    for (k, v) in profile.groups.entries {
        config.groups.upsert(k, v);
    }
    Some((name.to_string(), profile.description))
}
