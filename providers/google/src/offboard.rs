//! Offboarding on Google Workspace, and reading it back.
//!
//! Google rejects mail to a suspended user ("When a user is suspended,
//! emails sent to the account will be rejected", Workspace knowledge base
//! 000005596), so an offboarded user is *not* suspended — that would lose
//! the customers' mail the successor should get. Instead, in this order:
//! 1. Drive and Calendar data go to the successor (Data Transfer API);
//! 2. the user's mail is forwarded to the successor and kept in the
//!    mailbox (Gmail settings API, acting as the user: a forwarding
//!    address, then automatic forwarding with `leaveInInbox`);
//! 3. its password is replaced by a random one nobody is told, then its
//!    sessions are ended (`signOut`, whose only scope is
//!    `admin.directory.user.security`);
//! 4. the user is moved to the `offboarded_org_unit`: nobody can sign in,
//!    mail keeps arriving and is forwarded.
//!
//! The move to the organisational unit comes last, after every step that
//! matters, and is what a read takes as "offboarded" (with the successor
//! read from the forwarding), so a run that fails at any step is planned
//! again and finished, not forgotten. Every step is safe to repeat: a
//! forwarding address that exists (409) is read back, a transfer repeated
//! moves what is left.
//!
//! Reinstating (`state: active`) moves the user back and turns forwarding
//! off; the password stays unknown, so an admin resets it.

use mailform_contract::{Mailbox, MailboxState, ProviderError};
use mailform_http::{Method, Url};
use serde_json::{json, Value};

use crate::apply::enc;
use crate::auth::scopes;
use crate::client::{Api, CallError};
use crate::config::Config;
use crate::convert;

fn url(base: &str, path: &str) -> Result<Url, ProviderError> {
    crate::provider::url(base, "", path, &[])
}

/// Who `address`'s mail is forwarded to, read as that user.
pub async fn successor(
    api: &Api,
    config: &Config,
    address: &str,
) -> Result<Option<String>, ProviderError> {
    let cid = api.client_id().to_string();
    let v: Value = api
        .send_as::<(), _>(
            Some(address),
            Method::GET,
            url(
                &config.gmail_endpoint(),
                &format!("/gmail/v1/users/{}/settings/autoForwarding", enc(address)),
            )?,
            None,
            &[scopes::GMAIL_SETTINGS_BASIC],
        )
        .await
        .map_err(|e| {
            convert::error(
                e,
                &format!("reading the forwarding of offboarded {address}"),
                &cid,
            )
        })?;
    Ok((v["enabled"] == true)
        .then(|| v["emailAddress"].as_str().map(|s| s.to_ascii_lowercase()))
        .flatten())
}

/// A password nobody is told.
fn scrambled() -> Result<String, ProviderError> {
    let mut buf = [0u8; 24];
    getrandom::fill(&mut buf)
        .map_err(|e| ProviderError::Service(format!("no random source: {e}")))?;
    Ok(buf.iter().map(|b| format!("{b:02x}")).collect())
}

/// Brings `old` to `new` where either is offboarded; the other fields
/// (name, aliases) are left to the batched stages.
pub async fn apply(
    api: &Api,
    config: &Config,
    old: &Mailbox,
    new: &Mailbox,
) -> Result<(), ProviderError> {
    let cid = api.client_id().to_string();
    let key = old.id.clone().unwrap_or_else(|| old.address.clone());
    let dir = config.directory_endpoint();
    let err = |what: String| {
        let cid = cid.clone();
        move |e: CallError| convert::error(e, &what, &cid)
    };
    if new.state != MailboxState::Offboarded {
        // Reinstating: forwarding off, back to the usual unit.
        forwarding(api, config, &new.address, None).await?;
        api.send_as::<_, Value>(
            None,
            Method::PATCH,
            url(&dir, &format!("/admin/directory/v1/users/{}", enc(&key)))?,
            Some(&json!({
                "orgUnitPath": config.org_unit(),
                "suspended": new.state == MailboxState::Suspended,
            })),
            scopes::WRITE,
        )
        .await
        .map_err(err(format!("reinstating {}", new.address)))?;
        return Ok(());
    }
    let newly = old.state != MailboxState::Offboarded;
    if let Some(successor) = &new.successor {
        if newly || old.successor.as_ref() != Some(successor) {
            transfer(
                api,
                config,
                old.id.as_deref(),
                &key,
                &new.address,
                successor,
            )
            .await?;
        }
    }
    if newly || old.successor != new.successor {
        forwarding(api, config, &new.address, new.successor.as_deref()).await?;
    }
    if newly {
        // The password first, then the sessions: a session begun in
        // between would need the old password.
        api.send_as::<_, Value>(
            None,
            Method::PATCH,
            url(&dir, &format!("/admin/directory/v1/users/{}", enc(&key)))?,
            Some(&json!({
                "password": scrambled()?,
                "changePasswordAtNextLogin": false,
            })),
            scopes::WRITE,
        )
        .await
        .map_err(err(format!("replacing the password of {}", new.address)))?;
        api.send_as::<(), Value>(
            None,
            Method::POST,
            url(
                &dir,
                &format!("/admin/directory/v1/users/{}/signOut", enc(&key)),
            )?,
            None,
            &[scopes::USER_SECURITY],
        )
        .await
        .map_err(err(format!("signing {} out of its sessions", new.address)))?;
        // Last: the unit is what marks the user offboarded.
        api.send_as::<_, Value>(
            None,
            Method::PATCH,
            url(&dir, &format!("/admin/directory/v1/users/{}", enc(&key)))?,
            Some(&json!({
                "orgUnitPath": config.offboarded_org_unit(),
                "suspended": false,
            })),
            scopes::WRITE,
        )
        .await
        .map_err(err(format!(
            "moving {} to {} (its data and mail already go to the successor, its sessions are ended)",
            new.address,
            config.offboarded_org_unit()
        )))?;
    }
    Ok(())
}

/// Forwards `address`'s mail to `to` (kept in the inbox too), or stops
/// forwarding when `to` is `None`.
async fn forwarding(
    api: &Api,
    config: &Config,
    address: &str,
    to: Option<&str>,
) -> Result<(), ProviderError> {
    let cid = api.client_id().to_string();
    let base = config.gmail_endpoint();
    let user = enc(address);
    if let Some(to) = to {
        let created = api
            .send_as::<_, Value>(
                Some(address),
                Method::POST,
                url(
                    &base,
                    &format!("/gmail/v1/users/{user}/settings/forwardingAddresses"),
                )?,
                Some(&json!({"forwardingEmail": to})),
                &[scopes::GMAIL_SETTINGS_SHARING],
            )
            .await;
        let status = match created {
            Ok(v) => v["verificationStatus"].as_str().unwrap_or("").to_string(),
            // Already a forwarding address of this user.
            Err(CallError::Api { status: 409, .. }) => {
                let v: Value = api
                    .send_as::<(), _>(
                        Some(address),
                        Method::GET,
                        url(
                            &base,
                            &format!(
                                "/gmail/v1/users/{user}/settings/forwardingAddresses/{}",
                                enc(to)
                            ),
                        )?,
                        None,
                        // `forwardingAddresses.get` does not accept
                        // `gmail.settings.sharing`.
                        &[scopes::GMAIL_SETTINGS_BASIC],
                    )
                    .await
                    .map_err(|e| {
                        convert::error(
                            e,
                            &format!("reading forwarding address {to} of {address}"),
                            &cid,
                        )
                    })?;
                v["verificationStatus"].as_str().unwrap_or("").to_string()
            }
            Err(e) => {
                return Err(convert::error(
                    e,
                    &format!("adding {to} as forwarding address of {address}"),
                    &cid,
                ))
            }
        };
        if status != "accepted" {
            return Err(ProviderError::Rejected(format!(
                "{to} has not confirmed it accepts mail forwarded from {address} (Google sent it a confirmation message); once it has, apply again"
            )));
        }
    }
    let body = match to {
        Some(to) => json!({"enabled": true, "emailAddress": to, "disposition": "leaveInInbox"}),
        None => json!({"enabled": false}),
    };
    api.send_as::<_, Value>(
        Some(address),
        Method::PUT,
        url(
            &base,
            &format!("/gmail/v1/users/{user}/settings/autoForwarding"),
        )?,
        Some(&body),
        &[scopes::GMAIL_SETTINGS_SHARING],
    )
    .await
    .map_err(|e| convert::error(e, &format!("setting the forwarding of {address}"), &cid))?;
    Ok(())
}

/// Starts the transfer of Drive (private and shared files) and Calendar
/// data from the user to the successor, when the successor is a user of
/// the tenant. Google carries it out on its own time; a transfer repeated
/// later moves whatever is left.
async fn transfer(
    api: &Api,
    config: &Config,
    user_id: Option<&str>,
    key: &str,
    address: &str,
    successor: &str,
) -> Result<(), ProviderError> {
    let cid = api.client_id().to_string();
    let dir = config.directory_endpoint();
    let apps: Value = api
        .send_as::<(), _>(
            None,
            Method::GET,
            url(&dir, "/admin/datatransfer/v1/applications")?,
            None,
            &[scopes::DATA_TRANSFER],
        )
        .await
        .map_err(|e| {
            convert::error(
                e,
                "listing the applications data can be transferred from",
                &cid,
            )
        })?;
    let id_of = |name: &str| {
        apps["applications"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|a| a["name"].as_str().is_some_and(|n| n.starts_with(name)))
            .and_then(|a| a["id"].as_str().map(str::to_string))
    };
    let (Some(drive), Some(calendar)) = (id_of("Drive"), id_of("Calendar")) else {
        return Err(ProviderError::Parse(
            "the Data Transfer API lists no Drive or Calendar application".into(),
        ));
    };
    let to: Value = match api
        .send_as::<(), _>(
            None,
            Method::GET,
            url(
                &dir,
                &format!("/admin/directory/v1/users/{}", enc(successor)),
            )?,
            None,
            scopes::WRITE,
        )
        .await
    {
        Ok(v) => v,
        // A successor outside the tenant cannot own its files: they stay
        // in the (kept) account; only mail is forwarded.
        Err(CallError::Api { status: 404, .. }) => return Ok(()),
        Err(e) => {
            return Err(convert::error(
                e,
                &format!("looking up successor {successor}"),
                &cid,
            ))
        }
    };
    // The departing user's id is known from the read; look it up only
    // when it is not.
    let from_id = match user_id {
        Some(id) => Value::from(id),
        None => {
            let from: Value = api
                .send_as::<(), _>(
                    None,
                    Method::GET,
                    url(&dir, &format!("/admin/directory/v1/users/{}", enc(key)))?,
                    None,
                    scopes::WRITE,
                )
                .await
                .map_err(|e| convert::error(e, &format!("looking up {address}"), &cid))?;
            from["id"].clone()
        }
    };
    let body = json!({
        "oldOwnerUserId": from_id,
        "newOwnerUserId": to["id"],
        "applicationDataTransfers": [
            {"applicationId": drive, "applicationTransferParams": [{"key": "PRIVACY_LEVEL", "value": ["PRIVATE", "SHARED"]}]},
            {"applicationId": calendar, "applicationTransferParams": [{"key": "RELEASE_RESOURCES", "value": ["TRUE"]}]},
        ],
    });
    api.send_as::<_, Value>(
        None,
        Method::POST,
        url(&dir, "/admin/datatransfer/v1/transfers")?,
        Some(&body),
        &[scopes::DATA_TRANSFER],
    )
    .await
    .map_err(|e| {
        convert::error(
            e,
            &format!("transferring the data of {address} to {successor}"),
            &cid,
        )
    })?;
    Ok(())
}
