//! The fingerprint of live state: a SHA-256 over a canonical JSON form of
//! everything a plan was computed from, so that `apply plan.json` can tell
//! whether the world changed since the plan was reviewed.

use mailform_contract::{DomainStatus, MailDomainState, ZoneState};
use serde_json::json;
use sha2::{Digest, Sha256};

/// One provider's view of one zone or mail domain.
pub enum Part<'a> {
    Zone {
        provider: &'a str,
        state: &'a ZoneState,
    },
    Mail {
        provider: &'a str,
        state: &'a MailDomainState,
        status: &'a DomainStatus,
    },
}

/// Independent of the order of parts, record sets, values and list items.
pub fn fingerprint(parts: &[Part]) -> String {
    let mut items: Vec<String> = parts
        .iter()
        .map(|p| match p {
            Part::Zone { provider, state } => {
                let mut sets: Vec<String> = state
                    .records
                    .iter()
                    .map(|s| {
                        json!([s.name, s.rtype.as_str(), s.ttl, s.canonical_values()]).to_string()
                    })
                    .collect();
                sets.sort();
                json!(["zone", provider, state.zone, state.exists, sets]).to_string()
            }
            Part::Mail {
                provider,
                state,
                status,
            } => {
                let mut objs: Vec<String> = Vec::new();
                for m in &state.mailboxes {
                    let mut aliases = m.aliases.clone();
                    aliases.sort();
                    objs.push(
                        json!([
                            "mailbox",
                            m.id,
                            m.address,
                            m.display_name,
                            m.state,
                            m.successor,
                            aliases
                        ])
                        .to_string(),
                    );
                }
                for a in &state.aliases {
                    let mut t = a.targets.clone();
                    t.sort();
                    objs.push(json!(["alias", a.address, t]).to_string());
                }
                for g in &state.groups {
                    let (mut m, mut a) = (g.members.clone(), g.aliases.clone());
                    m.sort();
                    a.sort();
                    objs.push(
                        json!([
                            "group",
                            g.id,
                            g.address,
                            g.display_name,
                            m,
                            a,
                            g.allow_external
                        ])
                        .to_string(),
                    );
                }
                objs.sort();
                let mut asked: Vec<String> = status
                    .records
                    .iter()
                    .map(|r| {
                        json!([r.set.name, r.set.rtype.as_str(), r.set.canonical_values()])
                            .to_string()
                    })
                    .collect();
                asked.sort();
                let mut item =
                    json!(["mail", provider, state.domain, status.stage, asked, objs]).to_string();
                // Only for aliases, so that fingerprints of plans made
                // before domain aliases existed stay the same.
                if let Some(parent) = &status.alias_of {
                    item.push_str(&json!(["alias_of", parent]).to_string());
                }
                item
            }
        })
        .collect();
    items.sort();
    let digest = Sha256::digest(items.join("\n").as_bytes());
    crate::config::to_hex(&digest)
}
