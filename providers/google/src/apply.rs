//! Carrying out mail changes as batched API calls.
//!
//! Each change becomes a sequence of *stages*; the calls within a stage
//! do not depend on each other, and a stage runs only after the change's
//! previous stage succeeded (a user exists before its aliases are added;
//! a group before its members). Stage `k` of every change goes out
//! together, through the batch endpoint, up to 1,000 calls a request. Two
//! alias edits of one user or group are never in one stage: Google answers
//! 412 to concurrent alias edits. A change whose call fails stops there
//! (later stages are not sent) and is reported with what it had done;
//! other changes go on.

use mailform_contract::{
    ChangeOutcome, Group, InitialPassword, MailChange, Mailbox, MailboxState, ProviderError,
};
use serde_json::{json, Value};

use crate::batch::Call;
use crate::client::CallError;
use crate::convert;

/// Which API a call goes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    Directory,
    GroupsSettings,
}

/// One call of a change, with what to say if it fails.
#[derive(Debug, Clone)]
pub struct Step {
    pub target: Target,
    pub call: Call,
    pub what: String,
    /// A 409 means the wanted state already holds (a member already in).
    pub conflict_is_success: bool,
}

/// A change as stages of calls.
#[derive(Debug, Clone, Default)]
pub struct Work {
    pub stages: Vec<Vec<Step>>,
}

const DIR: &str = "/admin/directory/v1";

/// A path segment, percent-encoded (addresses hold `@` and `+`).
pub fn enc(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' | b'@' => {
                out.push(b as char)
            }
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

fn dir(method: &'static str, path: String, body: Option<Value>, what: String) -> Step {
    Step {
        target: Target::Directory,
        call: Call {
            method,
            path: format!("{DIR}{path}"),
            body,
        },
        what,
        conflict_is_success: false,
    }
}

/// The stages of `change`, or why it cannot be carried out at all.
pub fn plan(change: &MailChange, org_unit: &str) -> Result<Work, ProviderError> {
    let mut w = Work::default();
    match change {
        MailChange::CreateMailbox { new, password } => {
            if new.state == MailboxState::Offboarded {
                return Err(offboarding_unsupported(&new.address));
            }
            let (hash_function, password) = password_fields(password.as_ref(), &new.address)?;
            let display = new.display_name.as_deref().ok_or_else(|| {
                ProviderError::Rejected(format!(
                    "Google Workspace needs a name for the new user {}; add `name: \"Given Family\"`",
                    new.address
                ))
            })?;
            let name = convert::split_name(display, &new.address)?;
            let mut body = json!({
                "primaryEmail": new.address,
                "name": {"givenName": name.given_name, "familyName": name.family_name},
                "password": password,
                "orgUnitPath": org_unit,
            });
            match hash_function {
                Some(h) => body["hashFunction"] = json!(h),
                // A clear-text initial password was handed to someone:
                // its owner replaces it at first sign-in.
                None => body["changePasswordAtNextLogin"] = json!(true),
            }
            if new.state == MailboxState::Suspended {
                body["suspended"] = json!(true);
            }
            w.stages.push(vec![dir(
                "POST",
                "/users".into(),
                Some(body),
                format!("creating user {}", new.address),
            )]);
            for alias in &new.aliases {
                w.stages
                    .push(vec![add_alias("users", &new.address, alias, &new.address)]);
            }
        }
        MailChange::UpdateMailbox { old, new } => {
            // Offboarding and reinstating are `offboard`'s: here the state
            // is left as it is.
            let offboarding =
                old.state == MailboxState::Offboarded || new.state == MailboxState::Offboarded;
            let key = user_key(old);
            let mut patch = serde_json::Map::new();
            if old.display_name != new.display_name {
                if let Some(d) = &new.display_name {
                    let n = convert::split_name(d, &new.address)?;
                    patch.insert(
                        "name".into(),
                        json!({"givenName": n.given_name, "familyName": n.family_name}),
                    );
                }
            }
            if old.state != new.state && !offboarding {
                patch.insert("suspended".into(), json!(new.state != MailboxState::Active));
            }
            if old.address != new.address {
                patch.insert("primaryEmail".into(), json!(new.address));
            }
            if !patch.is_empty() {
                w.stages.push(vec![dir(
                    "PATCH",
                    format!("/users/{}", enc(&key)),
                    Some(Value::Object(patch)),
                    format!("updating user {}", old.address),
                )]);
            }
            for alias in old.aliases.iter().filter(|a| !new.aliases.contains(a)) {
                w.stages
                    .push(vec![remove_alias("users", &key, alias, &new.address)]);
            }
            for alias in new.aliases.iter().filter(|a| !old.aliases.contains(a)) {
                w.stages
                    .push(vec![add_alias("users", &key, alias, &new.address)]);
            }
        }
        MailChange::DeleteMailbox { old } => {
            w.stages.push(vec![dir(
                "DELETE",
                format!("/users/{}", enc(&user_key(old))),
                None,
                format!("deleting user {}", old.address),
            )]);
        }
        MailChange::CreateGroup { new } => {
            let mut body = json!({"email": new.address});
            if let Some(n) = &new.display_name {
                body["name"] = json!(n);
            }
            w.stages.push(vec![dir(
                "POST",
                "/groups".into(),
                Some(body),
                format!("creating group {}", new.address),
            )]);
            let before = Group {
                id: Some(new.address.clone()),
                members: vec![],
                aliases: vec![],
                // Posting permission is always set on a new group.
                allow_external: !new.allow_external,
                ..new.clone()
            };
            sync_group(&mut w, &before, new);
        }
        MailChange::UpdateGroup { old, new } => {
            if old.display_name != new.display_name {
                w.stages.push(vec![dir(
                    "PATCH",
                    format!("/groups/{}", enc(&group_key(old))),
                    Some(json!({"name": new.display_name})),
                    format!("renaming group {}", old.address),
                )]);
            }
            sync_group(&mut w, old, new);
        }
        MailChange::DeleteGroup { old } => {
            w.stages.push(vec![dir(
                "DELETE",
                format!("/groups/{}", enc(&group_key(old))),
                None,
                format!("deleting group {}", old.address),
            )]);
        }
        MailChange::CreateAlias { new } | MailChange::UpdateAlias { new, .. } => {
            return Err(standalone(&new.address))
        }
        MailChange::DeleteAlias { old } => return Err(standalone(&old.address)),
    }
    Ok(w)
}

/// Members and the posting permission in one stage (independent calls),
/// then alias edits one per stage.
fn sync_group(w: &mut Work, old: &Group, new: &Group) {
    let key = group_key(old);
    let mut stage = Vec::new();
    for m in old.members.iter().filter(|m| !new.members.contains(m)) {
        stage.push(dir(
            "DELETE",
            format!("/groups/{}/members/{}", enc(&key), enc(m)),
            None,
            format!("removing {m} from {}", new.address),
        ));
    }
    for m in new.members.iter().filter(|m| !old.members.contains(m)) {
        let mut s = dir(
            "POST",
            format!("/groups/{}/members", enc(&key)),
            Some(json!({"email": m, "role": "MEMBER"})),
            format!("adding {m} to {}", new.address),
        );
        s.conflict_is_success = true;
        stage.push(s);
    }
    if old.allow_external != new.allow_external {
        stage.push(Step {
            target: Target::GroupsSettings,
            call: Call {
                method: "PATCH",
                path: format!("/groups/v1/groups/{}?alt=json", enc(&new.address)),
                body: Some(json!({"whoCanPostMessage": if new.allow_external {
                    convert::ANYONE_CAN_POST
                } else {
                    convert::DOMAIN_CAN_POST
                }})),
            },
            what: format!("setting who may post to {}", new.address),
            conflict_is_success: false,
        });
    }
    if !stage.is_empty() {
        w.stages.push(stage);
    }
    for alias in old.aliases.iter().filter(|a| !new.aliases.contains(a)) {
        w.stages
            .push(vec![remove_alias("groups", &key, alias, &new.address)]);
    }
    for alias in new.aliases.iter().filter(|a| !old.aliases.contains(a)) {
        w.stages
            .push(vec![add_alias("groups", &key, alias, &new.address)]);
    }
}

fn add_alias(kind: &str, key: &str, alias: &str, owner: &str) -> Step {
    dir(
        "POST",
        format!("/{kind}/{}/aliases", enc(key)),
        Some(json!({"alias": alias})),
        format!("adding alias {alias} to {owner}"),
    )
}

fn remove_alias(kind: &str, key: &str, alias: &str, owner: &str) -> Step {
    dir(
        "DELETE",
        format!("/{kind}/{}/aliases/{}", enc(key), enc(alias)),
        None,
        format!("removing alias {alias} from {owner}"),
    )
}

fn user_key(m: &Mailbox) -> String {
    m.id.clone().unwrap_or_else(|| m.address.clone())
}

fn group_key(g: &Group) -> String {
    g.id.clone().unwrap_or_else(|| g.address.clone())
}

/// What became of a change, from the results of the stages that ran.
pub struct Progress {
    pub done: Vec<String>,
    pub error: Option<ProviderError>,
}

impl Progress {
    pub fn new() -> Progress {
        Progress {
            done: Vec::new(),
            error: None,
        }
    }

    /// Takes one call's result.
    pub fn record(&mut self, step: &Step, result: Result<Value, CallError>, client_id: &str) {
        match result {
            Ok(_) => self.done.push(step.what.clone()),
            Err(CallError::Api { status: 409, .. }) if step.conflict_is_success => {
                self.done.push(step.what.clone())
            }
            Err(e) => {
                if self.error.is_none() {
                    let err = convert::error(e, &step.what, client_id);
                    self.error = Some(if self.done.is_empty() {
                        err
                    } else {
                        done_before(err, &self.done.join(", "))
                    });
                }
            }
        }
    }

    pub fn outcome(self) -> ChangeOutcome {
        match self.error {
            Some(e) => ChangeOutcome::Failed(e),
            None => ChangeOutcome::Applied,
        }
    }
}

/// The password fields of a new user: a crypt(3) hash passes through
/// (`{SHA512-CRYPT}$6$...` → `hashFunction: crypt`, `$6$...`); a clear-text
/// password is sent as it is (over TLS; Google hashes it).
pub fn password_fields(
    password: Option<&InitialPassword>,
    address: &str,
) -> Result<(Option<&'static str>, String), ProviderError> {
    let fix = format!(
        "give it `initial_password: ${{file:...}}` (or `generate`), or `password_hash` holding a crypt(3) hash in one of {}",
        crate::SCHEMES.join(", ")
    );
    match password {
        None | Some(InitialPassword::Generate) => Err(ProviderError::Rejected(format!(
            "user {address} has no initial password; {fix}"
        ))),
        Some(InitialPassword::Plain(p)) => {
            if p.expose().chars().count() < 8 {
                return Err(ProviderError::Rejected(format!(
                    "the initial password of {address} is shorter than the 8 characters Google requires"
                )));
            }
            Ok((None, p.expose().to_string()))
        }
        Some(h @ InitialPassword::Hash(secret)) => {
            let scheme_ok = h.scheme().is_some_and(|s| crate::SCHEMES.contains(&s));
            match secret.expose().trim().split_once('}') {
                Some((_, hash)) if scheme_ok && hash.starts_with('$') => {
                    Ok((Some("crypt"), hash.to_string()))
                }
                _ => Err(ProviderError::Rejected(format!(
                    "the initial password of {address} is not a hash Google accepts; {fix}"
                ))),
            }
        }
    }
}

fn standalone(address: &str) -> ProviderError {
    ProviderError::Unsupported(format!(
        "Google Workspace has no forwarding-only address like {address}; list it under `aliases:` of the mailbox or group it reaches"
    ))
}

fn offboarding_unsupported(address: &str) -> ProviderError {
    ProviderError::Rejected(format!(
        "{address} is declared offboarded but does not exist on Google Workspace: there is nothing to offboard; create it active first, or remove it from the file"
    ))
}

/// A failure after earlier calls of the same change succeeded.
fn done_before(e: ProviderError, done: &str) -> ProviderError {
    e.map_message(|m| format!("{m} (already done for this change: {done}; apply again to finish)"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use mailform_contract::Secret;

    #[test]
    fn crypt_hashes_pass_through_and_others_are_refused() {
        let h = |s: &str| InitialPassword::Hash(Secret::new(s));
        assert_eq!(
            password_fields(Some(&h("{SHA512-CRYPT}$6$salt$hash")), "a@x").unwrap(),
            (Some("crypt"), "$6$salt$hash".into())
        );
        let e = password_fields(Some(&h("{ARGON2ID}$argon2id$v=19$...")), "a@x")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("SHA512-CRYPT") && !e.contains("argon2id$"),
            "{e}"
        );
        assert!(password_fields(None, "a@x").is_err());
        assert!(password_fields(Some(&InitialPassword::Generate), "a@x").is_err());
        let plain = InitialPassword::Plain(Secret::new("correct horse"));
        assert_eq!(password_fields(Some(&plain), "a@x").unwrap().0, None);
        let short = InitialPassword::Plain(Secret::new("short"));
        assert!(password_fields(Some(&short), "a@x").is_err());
    }

    #[test]
    fn addresses_are_encoded_as_path_segments() {
        assert_eq!(enc("a+b@example.com"), "a%2Bb@example.com");
        assert_eq!(enc("x/y"), "x%2Fy");
    }

    #[test]
    fn alias_edits_of_one_object_are_never_in_one_stage() {
        let old = Mailbox {
            id: Some("1".into()),
            address: "a@example.com".into(),
            display_name: Some("A B".into()),
            state: MailboxState::Active,
            successor: None,
            aliases: vec!["x@example.com".into(), "y@example.com".into()],
            kind: Default::default(),
            delegates: vec![],
        };
        let new = Mailbox {
            aliases: vec!["z@example.com".into(), "w@example.com".into()],
            state: MailboxState::Suspended,
            ..old.clone()
        };
        let w = plan(&MailChange::UpdateMailbox { old, new }, "/").unwrap();
        assert_eq!(w.stages.len(), 5, "patch, two removals, two additions");
        for stage in &w.stages {
            assert_eq!(stage.len(), 1);
        }
    }
}
