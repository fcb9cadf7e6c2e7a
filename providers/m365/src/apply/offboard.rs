//! Offboarding (`state: offboarded`, `successor`) needs the Exchange
//! backend (`exchange: {enabled: true}`); without it the capabilities say
//! so and the planner refuses it (a plan from elsewhere fails here as
//! unsupported). In order, each step safe to make again:
//! 1. Graph: `PATCH /users/{id}` `accountEnabled: false`, then `POST
//!    /users/{id}/revokeSignInSessions` ("user: revokeSignInSessions" on
//!    learn.microsoft.com: no body, answered `{"value": true}`; absent from
//!    the reduced description, so the fake adds it to its own copy);
//! 2. Exchange: the successor's Full Access (`Add-MailboxPermission
//!    -AccessRights FullAccess -AutoMapping $true`, only when the successor
//!    is a user of the tenant), forwarding with a copy kept
//!    (`Set-Mailbox -ForwardingSmtpAddress smtp:<successor>
//!    -DeliverToMailboxAndForward $true`), then `Set-Mailbox -Type Shared`
//!    — the marker: a read takes a blocked user whose mailbox is shared
//!    (`Get-Mailbox -ResultSize Unlimited`, `RecipientTypeDetails:
//!    SharedMailbox`; one call a plan, only when some user is blocked) as
//!    offboarded, its successor from `ForwardingSmtpAddress`. A failure
//!    before the conversion leaves the user read as suspended, so planned
//!    again;
//! 3. Graph, once shared: the licences (`GET /users/{id}?$select=assignedLicenses`,
//!    `assignLicense` with `removeLicenses`). A failure here is reported
//!    with what to do by hand: the user already reads as offboarded.
//!
//! Reinstating (`offboarded` → `active`/`suspended`): `default_licence`
//! assigned again when configured (else a warning: the admin must licence
//! it), forwarding removed, `Set-Mailbox -Type Regular` (after which it
//! reads as suspended), then `accountEnabled: true` when active. The
//! successor's Full Access is left in place.
use super::*;
use crate::errors::{done_before, licence_left};

impl Run<'_> {
    /// Offboards `old` (`exchange: {enabled: true}`). Each step can be
    /// made again; the one a read takes as "offboarded" — the conversion
    /// to a shared mailbox — comes after blocking sign-in, the successor's
    /// Full Access and the forwarding, so a failure before it leaves the
    /// user read as suspended and planned again. The licences are removed
    /// only once the mailbox is shared (an unlicensed user mailbox is
    /// deleted after 30 days; a shared one needs none).
    pub(super) async fn offboard(
        &mut self,
        old: &Mailbox,
        new: &Mailbox,
    ) -> Result<(), ProviderError> {
        let ex = self.exchange.clone().expect("checked by the caller");
        let who = old.address.clone();
        let key = old.id.clone().unwrap_or_else(|| old.address.clone());
        let successor = new
            .successor
            .as_deref()
            .map(mailform_contract::name::normalize_address);
        if old.state == MailboxState::Offboarded && old.successor == successor {
            // Only the name can differ.
            if old.display_name != new.display_name {
                if let Some(name) = &new.display_name {
                    self.patch_user(
                        &key,
                        &who,
                        api::UserPatch {
                            display_name: Some(name.clone()),
                            account_enabled: None,
                        },
                    )
                    .await?;
                }
            }
            return Ok(());
        }
        // The successor's Full Access needs a user of the tenant; mail can
        // be forwarded anywhere.
        let full_access = match &successor {
            Some(s) => {
                self.load_directory().await?;
                let d = self.directory.as_ref().expect("loaded above");
                if d.ids.contains_key(s) {
                    Some(s.clone())
                } else {
                    d.secondary.get(s).cloned()
                }
            }
            None => None,
        };
        // 1. Sign-in blocked, sessions revoked (Graph).
        self.patch_user(
            &key,
            &who,
            api::UserPatch {
                display_name: new
                    .display_name
                    .clone()
                    .filter(|_| old.display_name != new.display_name),
                account_enabled: Some(false),
            },
        )
        .await?;
        let what = format!("revoking the sign-in sessions of {who}");
        let url = self.url(
            &format!("/users/{}/revokeSignInSessions", enc(&key)),
            &[],
            &what,
            permissions::USERS,
        )?;
        self.api
            .send::<(), Value>(Method::POST, url, None)
            .await
            .map_err(|e| {
                done_before(
                    self.err(e, &what, permissions::USERS),
                    "sign-in was blocked",
                )
            })?;
        // 2. Exchange: Full Access, forwarding with a copy kept, then the
        // conversion (the marker).
        let blocked =
            "sign-in was blocked and the sessions revoked (the user still reads as suspended)";
        let ex_err = |e, what: String| done_before(exchange::error(e, &what, &self.cid), blocked);
        if let Some(s) = &full_access {
            ex.add_full_access(&who, s)
                .await
                .map_err(|e| ex_err(e, format!("giving {s} Full Access to {who}")))?;
        }
        ex.set_forwarding(&who, successor.as_deref(), true)
            .await
            .map_err(|e| ex_err(e, format!("forwarding the mail of {who}")))?;
        ex.set_mailbox_type(&who, true)
            .await
            .map_err(|e| ex_err(e, format!("converting {who} to a shared mailbox")))?;
        // 3. The licences, now that the mailbox is shared.
        let shared = "the mailbox was converted to shared (it reads as offboarded now)";
        let licences = self
            .assigned_licences(&key, &who)
            .await
            .map_err(|e| licence_left(done_before(e, shared)))?;
        if !licences.is_empty() {
            let what = format!("removing the licences of {who}");
            let url = self.url(
                &format!("/users/{}/assignLicense", enc(&key)),
                &[],
                &what,
                permissions::USERS,
            )?;
            let body = api::AssignLicense {
                add_licenses: vec![],
                remove_licenses: licences,
            };
            self.api
                .send::<_, Value>(Method::POST, url, Some(&body))
                .await
                .map_err(|e| {
                    licence_left(done_before(self.err(e, &what, permissions::USERS), shared))
                })?;
        }
        Ok(())
    }

    /// Undoes offboarding up to the account (the caller unblocks it when
    /// wanted): the licence back (`default_licence`), forwarding removed,
    /// the mailbox converted back to a user mailbox — the last, after
    /// which the user reads as suspended.
    pub(super) async fn reinstate(&mut self, old: &Mailbox) -> Result<(), ProviderError> {
        let ex = self.exchange.clone().expect("checked by the caller");
        let who = old.address.clone();
        let key = old.id.clone().unwrap_or_else(|| old.address.clone());
        match self.config.default_licence.clone() {
            Some(part) => {
                // A user still holding a licence keeps it and gets no other.
                let held = self.assigned_licences(&key, &who).await?;
                if held.is_empty() {
                    let sku_id = self.free_seat(&part).await?;
                    let what = format!("assigning licence {part} to {who}");
                    let url = self.url(
                        &format!("/users/{}/assignLicense", enc(&key)),
                        &[],
                        &what,
                        permissions::USERS,
                    )?;
                    let body = api::AssignLicense {
                        add_licenses: vec![api::AssignedLicense {
                            sku_id,
                            disabled_plans: vec![],
                        }],
                        remove_licenses: vec![],
                    };
                    self.api
                        .send::<_, Value>(Method::POST, url, Some(&body))
                        .await
                        .map_err(|e| self.err(e, &what, permissions::USERS))?;
                    if let Some((_, free)) = &mut self.sku {
                        *free -= 1;
                    }
                }
            }
            None => tracing::warn!(
                user = %who,
                "reinstated without a licence (no `default_licence`): a user mailbox needs one within 30 days — assign it in the Microsoft 365 admin center → Users → Active users → Licenses and apps"
            ),
        }
        let ex_err = |e, what: String| exchange::error(e, &what, &self.cid);
        ex.set_forwarding(&who, None, false)
            .await
            .map_err(|e| ex_err(e, format!("removing the forwarding of {who}")))?;
        ex.set_mailbox_type(&who, false)
            .await
            .map_err(|e| ex_err(e, format!("converting {who} back to a user mailbox")))?;
        // Only a shared mailbox's mark is read, so one left behind is
        // harmless until the next offboarding sets it anyway.
        if let Err(e) = ex.set_offboarded_mark(&who, false).await {
            tracing::warn!(user = %who, error = %ex_err(e, format!("clearing the offboarding mark of {who}")), "the mark stays; it does no harm on a user mailbox");
        }
        Ok(())
    }
}
