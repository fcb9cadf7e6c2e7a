//! Mail objects: every address is claimed once (mailboxes, their aliases,
//! aliases, groups), then references are checked (successors, alias
//! targets, members, delegates), deleted mailboxes hand their addresses
//! to their successors, and the forwarding graph is searched for loops.
//! Domain aliases (`alias_of`) are resolved first, since addresses at an
//! alias domain cannot be declared.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use mailform_contract::name::address_domain;
use mailform_contract::{
    Alias, Group, GroupKind, InitialPassword, Mailbox, MailboxKind, MailboxState, Secret,
};
use serde_saphyr::Spanned;

use super::passwords::{check_password_hash, initial_password};
use super::{resolve, Ctx};
use crate::config::diagnostic::{did_you_mean, key, Loc};
use crate::config::model::{
    Config, GroupType, ListsPolicy, MailboxConfig, MailboxType, StateConfig,
};
use crate::config::names::{check_address, domain_to_ascii};
use crate::desired::{Declared, DesiredMailDomain, DesiredMailbox, Origin};

/// `alias_of` must name another mail domain of the file, at the same
/// provider, that is not an alias itself (Google nests no aliases). A
/// domain whose `alias_of` is wrong is left out, as broken.
pub(super) fn check_alias_domains(
    ctx: &mut Ctx,
    aliases: &[(String, &Spanned<String>, String)],
    domains: &mut BTreeMap<String, DesiredMailDomain>,
    broken: &mut HashSet<String>,
) {
    let declared: HashSet<&str> = aliases.iter().map(|a| a.0.as_str()).collect();
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
    broken: &'b HashSet<String>,
}

/// Whether `raw`'s domain was already reported broken.
fn in_broken_domain(raw: &str, broken: &HashSet<String>) -> bool {
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

pub(super) fn compile_mail(
    ctx: &mut Ctx,
    config: &Config,
    domains: &mut BTreeMap<String, DesiredMailDomain>,
    broken: &HashSet<String>,
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
            let value =
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
        if mb.lists.or(config.defaults.lists).unwrap_or_default() == ListsPolicy::Additive {
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
                successor: successor.clone(),
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
        // An offboarded mailbox forwards new mail to its successor, and a
        // deleted one's addresses become the successor's aliases: either
        // way mail moves along this edge, so it takes part in loops.
        if let (Some(s), Some(target)) = (&mb.successor, &successor) {
            if matches!(state, StateConfig::Offboarded | StateConfig::Deleted) {
                edges
                    .entry(address.clone())
                    .or_default()
                    .push((target.clone(), Loc::of(s)));
            }
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
            if group.lists.or(config.defaults.lists).unwrap_or_default() == ListsPolicy::Additive {
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
