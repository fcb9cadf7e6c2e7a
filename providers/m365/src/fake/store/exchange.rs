//! Exchange's view of the fake tenant's users and groups: recipients by
//! identity, proxy-address edits, mailboxes (shared ones and Full
//! Access), Microsoft 365 groups' sender setting, distribution lists.

use serde_json::{json, Value};

use super::*;

impl Store {
    /// The recipient (user or group) `identity` names — an address it
    /// holds, or its id — as Exchange resolves `-Identity`.
    fn recipient(&self, identity: &str) -> Option<(bool, String)> {
        let a = lower(identity);
        let holds = |p: &[String]| {
            p.iter()
                .any(|x| lower(x.split_once(':').map_or(x, |s| s.1)) == a)
        };
        if let Some(u) = self
            .users
            .values()
            .find(|u| u.id == identity || u.user_principal_name == a || holds(&u.proxy_addresses))
        {
            return Some((true, u.id.clone()));
        }
        self.groups
            .values()
            .find(|g| {
                g.id == identity
                    || g.mail.as_deref() == Some(a.as_str())
                    || holds(&g.proxy_addresses)
            })
            .map(|g| (false, g.id.clone()))
    }

    /// `EmailAddresses @{add=...; remove=...}` on a user (`user`) or group.
    /// Errors: (Exchange error code, message).
    pub fn exchange_addresses(
        &mut self,
        identity: &str,
        user: bool,
        add: &[String],
        remove: &[String],
    ) -> Result<(), (&'static str, String)> {
        let not_found = || {
            (
                "ManagementObjectNotFoundException",
                format!("The operation couldn't be performed because object '{identity}' couldn't be found on 'DB3PR01A001DC01.EURPR01A001.prod.outlook.com'."),
            )
        };
        let (is_user, id) = self.recipient(identity).ok_or_else(not_found)?;
        if is_user != user {
            return Err(not_found());
        }
        let mut parsed = Vec::new();
        for p in add.iter().chain(remove) {
            let Some(addr) = p.strip_prefix("smtp:").or_else(|| p.strip_prefix("SMTP:")) else {
                return Err((
                    "ParameterBindingException",
                    format!(
                        "Cannot process \"{p}\": only smtp: addresses are supported by the fake."
                    ),
                ));
            };
            parsed.push(lower(addr));
        }
        let (adds, removes) = parsed.split_at(add.len());
        for a in adds {
            let domain = a.rsplit_once('@').map_or("", |d| d.1);
            if !self.domains.iter().any(|d| d == domain) {
                return Err(("TaskInvalidArgumentException", format!("The SMTP address has an invalid domain \"{domain}\". It isn't an accepted domain of your organization.")));
            }
            if let Some(holder) = self.recipient(a) {
                if holder.1 != id {
                    return Err(("ProxyAddressExistsException", format!("The proxy address \"SMTP:{a}\" is already being used by the proxy addresses or LegacyExchangeDN. Please choose another proxy address.")));
                }
            } else if self.deleted_addresses.contains(a) {
                return Err(("ProxyAddressExistsException", format!("The proxy address \"SMTP:{a}\" is already being used by the proxy addresses or LegacyExchangeDN. Please choose another proxy address.")));
            }
        }
        let proxies = if user {
            &mut self.users.get_mut(&id).expect("user").proxy_addresses
        } else {
            &mut self.groups.get_mut(&id).expect("group").proxy_addresses
        };
        for r in removes {
            if proxies
                .iter()
                .any(|p| p.starts_with("SMTP:") && lower(&p[5..]) == *r)
            {
                return Err((
                    "TaskInvalidArgumentException",
                    format!("The primary SMTP address \"{r}\" can't be removed."),
                ));
            }
        }
        proxies.retain(|p| {
            !removes
                .iter()
                .any(|r| lower(p.split_once(':').map_or(p, |x| x.1)) == *r)
        });
        for a in adds {
            if !proxies
                .iter()
                .any(|p| lower(p.split_once(':').map_or(p, |x| x.1)) == *a)
            {
                proxies.push(format!("smtp:{a}"));
            }
        }
        self.writes += 1;
        Ok(())
    }

    /// `revokeSignInSessions`.
    pub fn revoke_sessions(&mut self, key: &str) -> Result<Value, Refusal> {
        let id = self.user_id(key)?;
        self.users.get_mut(&id).expect("user").sessions_revoked += 1;
        self.writes += 1;
        Ok(
            json!({"@odata.context": "https://graph.microsoft.com/v1.0/$metadata#Edm.Boolean", "value": true}),
        )
    }

    /// The user mailbox `identity` names, as Exchange resolves it.
    pub fn exchange_user(&self, identity: &str) -> Option<String> {
        match self.recipient(identity) {
            Some((true, id)) => Some(id),
            _ => None,
        }
    }

    /// `Get-Mailbox` output objects, the properties mailform reads.
    pub fn exchange_mailboxes(&self) -> Vec<Value> {
        self.users
            .values()
            .map(|u| {
                json!({
                    "ExternalDirectoryObjectId": u.id,
                    "UserPrincipalName": u.user_principal_name,
                    "PrimarySmtpAddress": u.mail,
                    "RecipientTypeDetails": if u.shared { "SharedMailbox" } else { "UserMailbox" },
                    "ForwardingSmtpAddress": u.forwarding,
                    "DeliverToMailboxAndForward": u.deliver_and_forward,
                    "EmailAddresses": u.proxy_addresses,
                    "CustomAttribute15": u.custom_attribute15.clone().unwrap_or_default(),
                })
            })
            .collect()
    }

    /// Whether Exchange has not provisioned `identity` yet (and counts
    /// the call).
    pub fn exchange_not_yet(&mut self, identity: &str) -> bool {
        let pending = match self.recipient(identity) {
            Some((true, id)) => &mut self.users.get_mut(&id).expect("user").exchange_pending,
            Some((false, id)) => &mut self.groups.get_mut(&id).expect("group").exchange_pending,
            None => return false,
        };
        if *pending > 0 {
            *pending -= 1;
            return true;
        }
        false
    }

    /// The unified group `identity` names.
    pub fn unified_group_id(&self, identity: &str) -> Option<String> {
        match self.recipient(identity) {
            Some((false, id)) if self.groups[&id].unified() => Some(id),
            _ => None,
        }
    }

    /// `Get-UnifiedGroup` output objects, the properties mailform reads.
    pub fn unified_groups(&self) -> Vec<Value> {
        self.groups
            .values()
            .filter(|g| g.unified())
            .map(|g| {
                json!({
                    "ExternalDirectoryObjectId": g.id,
                    "PrimarySmtpAddress": g.mail,
                    "DisplayName": g.display_name,
                    "EmailAddresses": g.proxy_addresses,
                    "RequireSenderAuthenticationEnabled": g.require_sender_auth,
                })
            })
            .collect()
    }

    /// Whether a recipient Exchange made is called `name` already.
    fn name_taken(&self, name: &str) -> bool {
        let n = Some(lower(name));
        self.users
            .values()
            .any(|u| u.exchange_name.as_deref().map(lower) == n)
            || self
                .groups
                .values()
                .any(|g| g.exchange_name.as_deref().map(lower) == n)
    }

    /// What `New-Mailbox` and `New-DistributionGroup` check of a new
    /// recipient's name and primary address.
    fn new_recipient(&self, name: &str, address: &str) -> Result<String, ExchangeRefusal> {
        let a = lower(address);
        let domain = a.rsplit_once('@').map_or("", |d| d.1);
        if !self.domains.iter().any(|d| d == domain) {
            return Err((400, "TaskInvalidArgumentException", format!("The SMTP address has an invalid domain \"{domain}\". It isn't an accepted domain of your organization.")));
        }
        if self.taken(&a).is_some() {
            return Err((400, "ProxyAddressExistsException", format!("The proxy address \"SMTP:{a}\" is already being used by the proxy addresses or LegacyExchangeDN. Please choose another proxy address.")));
        }
        if self.name_taken(name) {
            return Err((
                400,
                "ADObjectAlreadyExistsException",
                format!("The name \"{name}\" is already being used. Please try another name."),
            ));
        }
        Ok(a)
    }

    /// `New-Mailbox -Shared`: a disabled account with a shared mailbox,
    /// seen by Graph as a user at once.
    pub fn new_shared_mailbox(
        &mut self,
        name: &str,
        alias: &str,
        display_name: &str,
        address: &str,
    ) -> Result<Value, ExchangeRefusal> {
        let a = self.new_recipient(name, address)?;
        let id = self.id();
        let user = FakeUser {
            id: id.clone(),
            user_principal_name: a.clone(),
            mail: Some(a.clone()),
            display_name: display_name.into(),
            mail_nickname: alias.into(),
            account_enabled: false,
            proxy_addresses: vec![
                format!("SMTP:{a}"),
                format!("smtp:{alias}@{}", self.initial_domain),
            ],
            shared: true,
            exchange_name: Some(name.into()),
            ..FakeUser::default()
        };
        self.users.insert(id.clone(), user);
        self.writes += 1;
        Ok(
            json!({"Name": name, "Alias": alias, "PrimarySmtpAddress": a, "ExternalDirectoryObjectId": id, "RecipientTypeDetails": "SharedMailbox"}),
        )
    }

    /// `Get-MailboxPermission -Identity`: the mailbox's own `SELF` entry,
    /// an inherited denial as Exchange lists for administrators, and an
    /// explicit Full Access entry per grant.
    pub fn mailbox_permissions(&self, id: &str) -> Vec<Value> {
        let u = &self.users[id];
        let mut out = vec![
            json!({"Identity": u.user_principal_name, "User": "NT AUTHORITY\\SELF", "AccessRights": ["FullAccess, ReadPermission"], "IsInherited": false, "Deny": false}),
            json!({"Identity": u.user_principal_name, "User": "NAMPR01A001\\Administrator", "AccessRights": ["FullAccess"], "IsInherited": true, "Deny": true}),
        ];
        for g in &u.full_access {
            if let Some(d) = self.users.get(g) {
                out.push(json!({"Identity": u.user_principal_name, "User": d.user_principal_name, "AccessRights": ["FullAccess"], "IsInherited": false, "Deny": false}));
            }
        }
        out
    }

    /// The distribution group (or mail-enabled security group)
    /// `identity` names.
    pub fn distribution_group_id(&self, identity: &str) -> Option<String> {
        match self.recipient(identity) {
            Some((false, id)) if !self.groups[&id].unified() && self.groups[&id].mail_enabled => {
                Some(id)
            }
            _ => None,
        }
    }

    /// A member Exchange resolves (the fake's recipients that can be
    /// members: users).
    fn exchange_member(&self, member: &str) -> Result<String, ExchangeRefusal> {
        self.exchange_user(member).ok_or_else(|| {
            (
                404,
                "ManagementObjectNotFoundException",
                format!("Couldn't find object \"{member}\". Please make sure that it was spelled correctly or specify a different object."),
            )
        })
    }

    /// `New-DistributionGroup -Type Distribution`.
    pub fn new_distribution_group(
        &mut self,
        name: &str,
        alias: &str,
        display_name: &str,
        address: &str,
        members: &[String],
        require_sender_auth: bool,
    ) -> Result<Value, ExchangeRefusal> {
        let a = self.new_recipient(name, address)?;
        let ids = members
            .iter()
            .map(|m| self.exchange_member(m))
            .collect::<Result<Vec<_>, _>>()?;
        let id = self.id();
        let mut proxies = vec![format!("SMTP:{a}")];
        if !a.ends_with(&format!("@{}", self.initial_domain)) {
            proxies.push(format!("smtp:{alias}@{}", self.initial_domain));
        }
        let mut unique = Vec::new();
        for i in ids {
            if !unique.contains(&i) {
                unique.push(i);
            }
        }
        self.groups.insert(
            id.clone(),
            FakeGroup {
                id: id.clone(),
                display_name: display_name.into(),
                mail: Some(a.clone()),
                mail_nickname: alias.into(),
                mail_enabled: true,
                security_enabled: false,
                group_types: vec![],
                proxy_addresses: proxies,
                members: unique,
                require_sender_auth,
                exchange_pending: 0,
                exchange_name: Some(name.into()),
                // Listed at once: see the module doc (departures).
                unlisted: 0,
            },
        );
        self.writes += 1;
        Ok(
            json!({"Name": name, "PrimarySmtpAddress": a, "ExternalDirectoryObjectId": id, "RecipientTypeDetails": "MailUniversalDistributionGroup"}),
        )
    }

    /// `Get-DistributionGroup` output objects, the properties mailform reads.
    pub fn distribution_groups(&self) -> Vec<Value> {
        self.groups
            .values()
            .filter(|g| g.mail_enabled && !g.unified())
            .map(|g| {
                json!({
                    "ExternalDirectoryObjectId": g.id,
                    "PrimarySmtpAddress": g.mail,
                    "DisplayName": g.display_name,
                    "RecipientTypeDetails": if g.security_enabled { "MailUniversalSecurityGroup" } else { "MailUniversalDistributionGroup" },
                    "EmailAddresses": g.proxy_addresses,
                    "RequireSenderAuthenticationEnabled": g.require_sender_auth,
                })
            })
            .collect()
    }

    /// `Add-DistributionGroupMember` / `Remove-DistributionGroupMember`.
    pub fn distribution_member(
        &mut self,
        group: &str,
        member: &str,
        add: bool,
    ) -> Result<(), ExchangeRefusal> {
        let Some(gid) = self.distribution_group_id(group) else {
            return Err((404, "ManagementObjectNotFoundException", format!("The operation couldn't be performed because object '{group}' couldn't be found.")));
        };
        let uid = self.exchange_member(member)?;
        let g = self.groups.get_mut(&gid).expect("group");
        let has = g.members.contains(&uid);
        match (add, has) {
            (true, true) => Err((
                400,
                "MemberAlreadyExistsException",
                format!("The recipient \"{member}\" is already a member of the group \"{group}\"."),
            )),
            (false, false) => Err((
                400,
                "MemberNotFoundException",
                format!("The recipient \"{member}\" isn't a member of the group \"{group}\"."),
            )),
            (true, false) => {
                g.members.push(uid);
                self.writes += 1;
                Ok(())
            }
            (false, true) => {
                g.members.retain(|m| *m != uid);
                self.writes += 1;
                Ok(())
            }
        }
    }

    /// `Remove-DistributionGroup`: gone at once (Exchange keeps no
    /// deleted distribution groups).
    pub fn remove_distribution_group(&mut self, group: &str) -> Result<(), ExchangeRefusal> {
        let Some(gid) = self.distribution_group_id(group) else {
            return Err((404, "ManagementObjectNotFoundException", format!("The operation couldn't be performed because object '{group}' couldn't be found.")));
        };
        self.groups.remove(&gid);
        self.writes += 1;
        Ok(())
    }
}
