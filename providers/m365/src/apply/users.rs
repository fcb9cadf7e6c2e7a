//! Users (mailboxes): created (plain ones 20 a `$batch`, their licences
//! in a second), changed (name, sign-in, aliases through Exchange) and
//! deleted. Graph takes no password hashes: a clear-text initial password
//! the user must change.

use super::*;
use crate::client::BatchItem;
use crate::errors::{aliases_unsupported, done_before, offboarding_new, offboarding_unsupported};

impl Run<'_> {
    pub(super) async fn create_user(
        &mut self,
        new: &Mailbox,
        password: Option<&InitialPassword>,
    ) -> Result<(), ProviderError> {
        if new.kind == MailboxKind::Shared {
            return self.create_shared(new).await;
        }
        if new.state == MailboxState::Offboarded {
            return Err(if self.exchange.is_none() {
                offboarding_unsupported(&new.address)
            } else {
                offboarding_new(&new.address)
            });
        }
        if !new.aliases.is_empty() && self.exchange.is_none() {
            return Err(aliases_unsupported(&new.address, &new.aliases));
        }
        let password = initial_password(password, &new.address)?;
        // A licence without a free seat fails the change before the user
        // exists.
        let sku = match &self.config.default_licence {
            Some(part) => Some(self.free_seat(part).await?),
            None => None,
        };
        let body = api::NewUser {
            account_enabled: new.state == MailboxState::Active,
            display_name: new
                .display_name
                .clone()
                .unwrap_or_else(|| new.address.clone()),
            mail_nickname: convert::user_nickname(&new.address)?,
            user_principal_name: new.address.clone(),
            password_profile: api::PasswordProfile {
                password,
                force_change_password_next_sign_in: true,
            },
            usage_location: self
                .config
                .usage_location
                .as_ref()
                .map(|u| u.to_ascii_uppercase()),
        };
        let what = format!("creating user {}", new.address);
        let url = self.url("/users", &[], &what, permissions::USERS)?;
        let created: api::User = self
            .api
            .send(Method::POST, url, Some(&body))
            .await
            .map_err(|e| self.err(e, &what, permissions::USERS))?;
        self.remember_user(&new.address, &created.id);
        if let Some(sku_id) = sku {
            let what = format!(
                "assigning licence {} to {}",
                self.config.default_licence.as_deref().unwrap_or(""),
                new.address
            );
            let url = self
                .url(
                    &format!("/users/{}/assignLicense", enc(&created.id)),
                    &[],
                    &what,
                    permissions::USERS,
                )
                .map_err(|e| done_before(e, "the user was created"))?;
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
                .map_err(|e| {
                    done_before(
                        self.err(e, &what, permissions::USERS),
                        "the user was created",
                    )
                })?;
            if let Some((_, free)) = &mut self.sku {
                *free -= 1;
            }
        }
        if !new.aliases.is_empty() {
            let ex = self.exchange.clone().expect("checked above");
            ex.set_mailbox_addresses(&new.address, &new.aliases, &[], true)
                .await
                .map_err(|e| {
                    done_before(
                        exchange::error(
                            e,
                            &format!("adding aliases to {}", new.address),
                            &self.cid,
                        ),
                        "the user was created",
                    )
                })?;
        }
        Ok(())
    }

    /// The plain user creates at the start of `changes` (up to 20) that
    /// need nothing but Graph and pass every check done before sending,
    /// created in one `$batch`, with their licences in a second; one
    /// result per change taken (none: not batchable, the caller goes on
    /// one at a time, which also reports the first that failed a check).
    /// The creates are independent, so each is carried out or refused on
    /// its own; a sub-request answered 429 is sent again, one answered 5xx
    /// is not.
    pub(super) async fn create_users_batched(
        &mut self,
        changes: &[MailChange],
    ) -> Vec<Result<(), ProviderError>> {
        let mut bodies = Vec::new();
        let mut addresses = Vec::new();
        for c in changes.iter().take(crate::client::BATCH_LIMIT) {
            let MailChange::CreateMailbox { new, password } = c else {
                break;
            };
            if new.state == MailboxState::Offboarded
                || !new.aliases.is_empty()
                || new.kind != MailboxKind::User
            {
                break;
            }
            let (Ok(password), Ok(nickname)) = (
                initial_password(password.as_ref(), &new.address),
                convert::user_nickname(&new.address),
            ) else {
                break;
            };
            bodies.push(api::NewUser {
                account_enabled: new.state == MailboxState::Active,
                display_name: new
                    .display_name
                    .clone()
                    .unwrap_or_else(|| new.address.clone()),
                mail_nickname: nickname,
                user_principal_name: new.address.clone(),
                password_profile: api::PasswordProfile {
                    password,
                    force_change_password_next_sign_in: true,
                },
                usage_location: self
                    .config
                    .usage_location
                    .as_ref()
                    .map(|u| u.to_ascii_uppercase()),
            });
            addresses.push(new.address.clone());
        }
        // Only as many as there are free seats; the next one fails on its
        // own, one at a time, before it is created.
        let mut sku_id = None;
        if let Some(part) = self.config.default_licence.clone() {
            if bodies.is_empty() {
                return vec![];
            }
            match self.free_seat(&part).await {
                Ok(id) => sku_id = Some(id),
                Err(_) => return vec![],
            }
            let free = self.sku.as_ref().map_or(0, |s| s.1).max(0) as usize;
            bodies.truncate(free);
            addresses.truncate(free);
        }
        if bodies.len() < 2 {
            return vec![];
        }
        let items: Vec<BatchItem> = bodies
            .iter()
            .map(|b| BatchItem {
                method: Method::POST,
                url: "/users".into(),
                body: Some(serde_json::to_value(b).unwrap_or(Value::Null)),
                retry_not_found: false,
            })
            .collect();
        let answers = self.api.batch(&items).await;
        let mut results = Vec::with_capacity(items.len());
        let mut created = Vec::new();
        for (address, answer) in addresses.iter().zip(answers) {
            let what = format!("creating user {address}");
            let user = answer.and_then(|v| {
                serde_json::from_value::<api::User>(v).map_err(|e| CallError::Parse(e.to_string()))
            });
            match user {
                Ok(u) => {
                    self.remember_user(address, &u.id);
                    created.push((results.len(), u.id));
                    results.push(Ok(()));
                }
                Err(e) => results.push(Err(self.err(e, &what, permissions::USERS))),
            }
        }
        if let Some(sku_id) = sku_id {
            let items: Vec<BatchItem> = created
                .iter()
                .map(|(_, id)| BatchItem {
                    method: Method::POST,
                    url: format!("/users/{}/assignLicense", enc(id)),
                    body: Some(
                        serde_json::to_value(api::AssignLicense {
                            add_licenses: vec![api::AssignedLicense {
                                sku_id: sku_id.clone(),
                                disabled_plans: vec![],
                            }],
                            remove_licenses: vec![],
                        })
                        .unwrap_or(Value::Null),
                    ),
                    retry_not_found: true,
                })
                .collect();
            let answers = self.api.batch(&items).await;
            let part = self.config.default_licence.clone().unwrap_or_default();
            for ((k, _), answer) in created.iter().zip(answers) {
                match answer {
                    Ok(_) => {
                        if let Some((_, free)) = &mut self.sku {
                            *free -= 1;
                        }
                    }
                    Err(e) => {
                        let what = format!("assigning licence {part} to {}", addresses[*k]);
                        results[*k] = Err(done_before(
                            self.err(e, &what, permissions::USERS),
                            "the user was created",
                        ));
                    }
                }
            }
        }
        results
    }

    pub(super) async fn update_user(
        &mut self,
        old: &Mailbox,
        new: &Mailbox,
    ) -> Result<(), ProviderError> {
        if old.kind != new.kind {
            // The planner refuses this; a plan from elsewhere must not do it.
            return Err(ProviderError::Unsupported(format!(
                "{} is a {} mailbox; mailform does not convert it to a {} one — convert it in the Exchange admin center (Recipients → Mailboxes → Convert)",
                old.address,
                old.kind.as_str(),
                new.kind.as_str()
            )));
        }
        if new.kind == MailboxKind::Shared {
            return self.update_shared(old, new).await;
        }
        let offboarding = new.state == MailboxState::Offboarded;
        let reinstating = old.state == MailboxState::Offboarded && !offboarding;
        if (offboarding || reinstating) && self.exchange.is_none() {
            return Err(offboarding_unsupported(&new.address));
        }
        if old.address != new.address {
            return Err(ProviderError::Unsupported(format!(
                "changing the address of {} to {} needs Exchange Online (the primary SMTP address), which the provider (its Exchange backend included) does not change yet",
                old.address, new.address
            )));
        }
        if set(&old.aliases) != set(&new.aliases) {
            let Some(ex) = self.exchange.clone() else {
                return Err(aliases_unsupported(&new.address, &new.aliases));
            };
            let (add, remove) = diff(&old.aliases, &new.aliases);
            ex.set_mailbox_addresses(&old.address, &add, &remove, false)
                .await
                .map_err(|e| {
                    exchange::error(
                        e,
                        &format!("changing the aliases of {}", old.address),
                        &self.cid,
                    )
                })?;
        }
        if offboarding {
            return self.offboard(old, new).await;
        }
        if reinstating {
            self.reinstate(old).await?;
        }
        let mut patch = api::UserPatch::default();
        if old.display_name != new.display_name {
            patch.display_name = new.display_name.clone();
        }
        if old.state != new.state && new.state == MailboxState::Active {
            patch.account_enabled = Some(true);
        } else if old.state != new.state && old.state == MailboxState::Active {
            patch.account_enabled = Some(false);
        }
        if patch == api::UserPatch::default() {
            return Ok(());
        }
        let what = format!("updating user {}", old.address);
        let key = old.id.clone().unwrap_or_else(|| old.address.clone());
        let url = self.url(
            &format!("/users/{}", enc(&key)),
            &[],
            &what,
            permissions::USERS,
        )?;
        self.api
            .send::<_, Value>(Method::PATCH, url, Some(&patch))
            .await
            .map_err(|e| {
                let e = self.err(e, &what, permissions::USERS);
                if reinstating {
                    done_before(
                        e,
                        "the mailbox was converted back to a user mailbox (it reads as suspended now)",
                    )
                } else {
                    e
                }
            })?;
        Ok(())
    }
}

/// The clear-text initial password; Graph takes no hashes.
pub(super) fn initial_password(
    password: Option<&InitialPassword>,
    address: &str,
) -> Result<String, ProviderError> {
    match password {
        Some(InitialPassword::Plain(p)) => Ok(p.expose().to_string()),
        Some(InitialPassword::Hash(_)) => Err(ProviderError::Rejected(format!(
            "Microsoft 365 takes no password hashes: give {address} `initial_password` (`${{file:...}}`, `${{env:...}}` or `generate`) instead of `password_hash`"
        ))),
        Some(InitialPassword::Generate) | None => Err(ProviderError::Rejected(format!(
            "user {address} has no initial password; give it `initial_password: ${{file:...}}` (or `generate`)"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use mailform_contract::Secret;

    #[test]
    fn only_clear_text_passwords_are_taken() {
        let plain = InitialPassword::Plain(Secret::new("Correct-Horse-1"));
        assert_eq!(
            initial_password(Some(&plain), "a@x").unwrap(),
            "Correct-Horse-1"
        );
        let hash = InitialPassword::Hash(Secret::new("{SHA512-CRYPT}$6$salt$hash"));
        let e = initial_password(Some(&hash), "a@x")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("no password hashes") && !e.contains("$6$"),
            "{e}"
        );
        assert!(initial_password(None, "a@x").is_err());
    }
}
