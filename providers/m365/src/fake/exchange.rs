//! The fake Exchange Online `InvokeCommand` endpoint
//! (`POST /adminapi/beta/{tenant}/InvokeCommand`, see the crate's
//! `exchange` module for what is known of it), on the same store as the
//! fake Graph: addresses written here are the users' and groups'
//! `proxyAddresses` Graph reads.
//!
//! Checked, in order: the path and tenant; a bearer token issued for the
//! Exchange resource (`https://outlook.office365.com/.default` — a Graph
//! token is refused 401, as Exchange does for a wrong audience); the
//! `X-AnchorMailbox` header (`UPN:SystemMailbox{bb558c35-...}@<initial
//! domain>`); the app's Exchange rights ([`super::FakeConfig::exchange_admin`]);
//! the `CmdletInput` envelope, the cmdlet and its parameters. Only what
//! mailform sends is supported: `Set-Mailbox` (`Identity`,
//! `EmailAddresses`; or `Type` `Shared`/`Regular`, `ForwardingSmtpAddress`
//! `smtp:...`/null, `DeliverToMailboxAndForward`), `Get-Mailbox`
//! (`Identity`, `ResultSize`), `Add-MailboxPermission` (`Identity`,
//! `User`, `AccessRights FullAccess`, `AutoMapping`), `Set-UnifiedGroup`
//! (`Identity`, `EmailAddresses`, `RequireSenderAuthenticationEnabled`),
//! `Get-UnifiedGroup` (`Identity`, `ResultSize`); for shared mailboxes
//! `New-Mailbox -Shared` (`Name`, `Alias`, `DisplayName`,
//! `PrimarySmtpAddress`), `Get-MailboxPermission` (`Identity`; the
//! mailbox's own `NT AUTHORITY\SELF` entry and an inherited denial come
//! with the grants, as Exchange lists them) and `Remove-MailboxPermission`
//! (`Identity`, `User`, `AccessRights FullAccess`, `Confirm`; an entry
//! that does not exist only warns); for distribution lists
//! `New-DistributionGroup` (`Name`, `Alias`, `DisplayName`,
//! `PrimarySmtpAddress`, `Type Distribution`, `Members`,
//! `RequireSenderAuthenticationEnabled`), `Get-DistributionGroup`,
//! `Set-DistributionGroup` (`DisplayName`, `EmailAddresses`,
//! `RequireSenderAuthenticationEnabled`), `Add-`/`Remove-DistributionGroupMember`
//! (`Identity`, `Member`; already a member / not a member are errors, as
//! in Exchange) and `Remove-DistributionGroup`; for DKIM
//! `Get-DkimSigningConfig` (`Identity`; a domain without a config is not
//! found), `New-DkimSigningConfig` (`DomainName`, `Enabled`; the domain
//! must be a verified, accepted domain of the tenant — see
//! [`super::FakeConfig::exchange_domain_lag`] — without a config yet) and
//! `Set-DkimSigningConfig` (`Identity`, `Enabled`; `$true` only once both
//! selector CNAMEs are served, checked like domain verification's TXT —
//! module `dns` — else Exchange's "CNAME record does not exist for this
//! config" refusal). The selector targets are
//! `selectorN-<domain, dots as dashes>._domainkey.<initial domain>`. Each cmdlet's parameters
//! are checked against a table: any other is refused ("A parameter cannot
//! be found that matches parameter name 'X'."), as is any other cmdlet,
//! and recorded as a violation. Recipients Exchange makes (shared
//! mailboxes, distribution groups) are in the Graph store at once; a name
//! or address already taken, an address outside the accepted domains and
//! an unknown identity or member are refused with Exchange's exception
//! names. Members of distribution groups are users only. Faults named `InvokeCommand <cmdlet>`
//! (`ServerError`, `TooManyRequests`) fire before the cmdlet runs.
//!
//! Error bodies follow the one shape seen in the wild (MicrosoftDocs/
//! office-docs-powershell issue #7970: `{"error": {"code", "message",
//! "innererror": {"message", "type"}}}`); the codes and messages of
//! refusals other than the 401 are **plausible, not documented**: they
//! reuse the exception names PowerShell users see
//! (`ManagementObjectNotFoundException`, ...).

use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Value};

use super::Shared;

fn answer(status: u16, body: Value) -> Response {
    (
        StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST),
        [("content-type", "application/json; charset=utf-8")],
        body.to_string(),
    )
        .into_response()
}

fn error(status: u16, code: &str, message: &str) -> Response {
    answer(
        status,
        json!({"error": {"code": code, "message": message, "innererror": {
            "message": message,
            "type": "Microsoft.Exchange.Admin.OData.Core.ODataServiceException",
        }}}),
    )
}

/// The OData type a hashtable parameter must carry to bind.
const GENERIC_HASHTABLE: &str = "#Exchange.GenericHashTable";

fn generic_hashtable(v: &Value) -> bool {
    v.get("@odata.type").and_then(Value::as_str) == Some(GENERIC_HASHTABLE)
}

/// An `-EmailAddresses @{add=...; remove=...}` parameter as the lists to
/// add and remove, or Exchange's refusal of any other shape. (A fake's
/// refusal is returned at once, so its size does not matter.)
#[allow(clippy::result_large_err)]
fn address_edits(
    s: &Shared,
    cmdlet: &str,
    ea: &Value,
) -> Result<(Vec<String>, Vec<String>), Response> {
    let list = |v: Option<&Value>| -> Option<Vec<String>> {
        match v {
            None => Some(vec![]),
            Some(Value::Array(a)) => a.iter().map(|x| x.as_str().map(str::to_string)).collect(),
            _ => None,
        }
    };
    // PowerShell's hashtable keys are case-insensitive (`@{Add=...}` as
    // well as `@{add=...}`).
    let key = |name: &str| {
        ea.as_object()
            .and_then(|m| m.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)))
            .map(|(_, v)| v)
    };
    let ok = generic_hashtable(ea)
        && ea.as_object().is_some_and(|m| {
            m.keys().all(|k| {
                k == "@odata.type"
                    || k.eq_ignore_ascii_case("add")
                    || k.eq_ignore_ascii_case("remove")
            })
        });
    match (list(key("add")), list(key("remove")), ok) {
        (Some(add), Some(remove), true) => Ok((add, remove)),
        _ => {
            s.violation(format!(
                "Exchange: {cmdlet} -EmailAddresses {ea} is not @{{add=...; remove=...}}"
            ));
            Err(error(
                400,
                "ParameterBindingException",
                "Cannot process argument transformation on parameter 'EmailAddresses'.",
            ))
        }
    }
}

pub(crate) async fn handle(
    s: &Shared,
    method: &Method,
    path: &str,
    headers: &HeaderMap,
    body: &[u8],
) -> Response {
    let parts: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    let ["adminapi", "beta", tenant, "InvokeCommand"] = parts[..] else {
        s.violation(format!(
            "Exchange: {method} {path} is not an endpoint the fake knows"
        ));
        return error(404, "NotFound", "The resource could not be found.");
    };
    if method != Method::POST {
        s.violation(format!(
            "Exchange: {method} {path}: InvokeCommand takes POST"
        ));
        return error(405, "MethodNotAllowed", "The HTTP method is not allowed.");
    }
    s.log("POST /adminapi/beta/{tenant}/InvokeCommand");
    let (initial, known) = {
        let st = s.store.lock().expect("store");
        let known = tenant.eq_ignore_ascii_case(&s.config.tenant_id)
            || st.domains.iter().any(|d| d.eq_ignore_ascii_case(tenant));
        (st.initial_domain.clone(), known)
    };
    if !known {
        return error(404, "NotFound", &format!("Tenant '{tenant}' not found."));
    }
    let audience = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .and_then(|t| s.tokens.lock().expect("tokens").get(t).cloned())
        .map(|(a, _)| a);
    match audience.as_deref() {
        Some(super::EXCHANGE_AUDIENCE) => {}
        Some(other) => {
            s.violation(format!(
                "Exchange: a token for {other}, not https://outlook.office365.com"
            ));
            return error(401, "Unauthorized", "The token audience is invalid.");
        }
        None => return error(401, "Unauthorized", "The token is invalid or expired."),
    }
    let expected = super::super::exchange::anchor(&initial);
    let anchor = headers
        .get("x-anchormailbox")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if anchor != expected {
        s.violation(format!(
            "Exchange: X-AnchorMailbox {anchor:?}, expected {expected:?}"
        ));
        return error(
            400,
            "ErrorIncorrectRoutingHint",
            &format!("The x-anchor mailbox '{anchor}' does not match the target of the request."),
        );
    }
    let latency = *s.latency.lock().expect("latency");
    if !latency.is_zero() {
        tokio::time::sleep(latency).await;
    }
    let body: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
    let cmdlet = body
        .pointer("/CmdletInput/CmdletName")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    let params = body
        .pointer("/CmdletInput/Parameters")
        .cloned()
        .unwrap_or_else(|| json!({}));
    if !s.config.exchange_admin {
        return error(
            401,
            "Unauthorized",
            &format!("User is not allowed to call {cmdlet}"),
        );
    }
    let Some(p) = params.as_object() else {
        s.violation("Exchange: CmdletInput.Parameters is not an object".into());
        return error(400, "BadRequest", "Parameters must be an object.");
    };
    let allowed: &[&str] = match cmdlet.as_str() {
        "Set-Mailbox" => &[
            "Identity",
            "EmailAddresses",
            "Type",
            "ForwardingSmtpAddress",
            "DeliverToMailboxAndForward",
            "CustomAttribute15",
        ],
        "New-Mailbox" => &[
            "Shared",
            "Name",
            "Alias",
            "DisplayName",
            "PrimarySmtpAddress",
        ],
        "Get-MailboxPermission" => &["Identity"],
        "Remove-MailboxPermission" => &["Identity", "User", "AccessRights", "Confirm"],
        "Get-DistributionGroup" => &["Identity", "ResultSize"],
        "New-DistributionGroup" => &[
            "Name",
            "Alias",
            "DisplayName",
            "PrimarySmtpAddress",
            "Type",
            "Members",
            "RequireSenderAuthenticationEnabled",
        ],
        "Set-DistributionGroup" => &[
            "Identity",
            "DisplayName",
            "EmailAddresses",
            "RequireSenderAuthenticationEnabled",
        ],
        "Add-DistributionGroupMember" => &["Identity", "Member"],
        "Remove-DistributionGroupMember" => &["Identity", "Member", "Confirm"],
        "Remove-DistributionGroup" => &["Identity", "Confirm"],
        "Get-Mailbox" => &["Identity", "ResultSize"],
        "Add-MailboxPermission" => &["Identity", "User", "AccessRights", "AutoMapping"],
        "Set-UnifiedGroup" => &[
            "Identity",
            "EmailAddresses",
            "RequireSenderAuthenticationEnabled",
        ],
        "Get-UnifiedGroup" => &["Identity", "ResultSize"],
        "Get-DkimSigningConfig" => &["Identity"],
        "New-DkimSigningConfig" => &["DomainName", "Enabled"],
        "Set-DkimSigningConfig" => &["Identity", "Enabled"],
        other => {
            s.violation(format!(
                "Exchange: cmdlet {other:?} is not supported by the fake"
            ));
            return error(
                400,
                "BadRequest",
                &format!(
                    "The term '{other}' is not recognized as a cmdlet available to this session."
                ),
            );
        }
    };
    if let Some(k) = p.keys().find(|k| !allowed.contains(&k.as_str())) {
        s.violation(format!(
            "Exchange: {cmdlet} -{k} is not supported by the fake"
        ));
        return error(
            400,
            "ParameterBindingException",
            &format!("A parameter cannot be found that matches parameter name '{k}'."),
        );
    }
    // A hashtable parameter binds only when typed as one (see the
    // module doc); JSON has no other way to say what it is.
    if let Some((k, v)) = p
        .iter()
        .find(|(_, v)| v.is_object() && !generic_hashtable(v))
    {
        s.violation(format!(
            "Exchange: {cmdlet} -{k} {v} is a JSON object without \"@odata.type\": \"{GENERIC_HASHTABLE}\""
        ));
        return error(
            400,
            "ParameterBindingException",
            &format!("Cannot process argument transformation on parameter '{k}'. Cannot convert the value to a hashtable."),
        );
    }
    let list = |v: Option<&Value>| -> Option<Vec<String>> {
        match v {
            None => Some(vec![]),
            Some(Value::Array(a)) => a.iter().map(|x| x.as_str().map(str::to_string)).collect(),
            _ => None,
        }
    };
    let identity = p
        .get("Identity")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    match super::faults::take(
        &mut s.faults.lock().expect("faults"),
        &format!("InvokeCommand {cmdlet}"),
    ) {
        Some(super::FaultKind::ServerError) => {
            return error(503, "ServiceUnavailable", "The service is unavailable.")
        }
        Some(super::FaultKind::TooManyRequests) => {
            return error(429, "TooManyRequests", "Too many requests.")
        }
        _ => {}
    }
    // Whether both selector CNAMEs of the domain a DKIM cmdlet names are
    // served as Exchange names them; asking DNS is async, so before the
    // store is locked.
    let mut dkim_enabled = false;
    let mut dkim_served = false;
    if cmdlet == "New-DkimSigningConfig" || cmdlet == "Set-DkimSigningConfig" {
        let domain = if cmdlet.starts_with("New-") {
            p.get("DomainName").and_then(Value::as_str).unwrap_or("")
        } else {
            identity.as_str()
        };
        match p.get("Enabled") {
            Some(Value::Bool(b)) => dkim_enabled = *b,
            None if cmdlet.starts_with("New-") => {}
            other => {
                s.violation(format!(
                    "Exchange: {cmdlet} -Enabled {other:?}: the fake takes a boolean (and Set- needs one)"
                ));
                return error(
                    400,
                    "ParameterBindingException",
                    "Cannot process argument transformation on parameter 'Enabled'.",
                );
            }
        }
        if domain.is_empty() {
            s.violation(format!("Exchange: {cmdlet} without a domain"));
            return error(
                400,
                "ParameterBindingException",
                "Cannot bind argument to parameter 'Identity' because it is an empty string.",
            );
        }
        if dkim_enabled {
            let selectors = s.store.lock().expect("store").dkim_selectors(domain);
            dkim_served = true;
            for (name, target) in selectors {
                let served = super::dns::served_cname(s, &name).await;
                dkim_served &= served.as_deref() == Some(target.as_str());
            }
        }
    }
    let not_found = |identity: &str| {
        error(404, "ManagementObjectNotFoundException", &format!("The operation couldn't be performed because object '{identity}' couldn't be found."))
    };
    let mut st = s.store.lock().expect("store");
    match cmdlet.as_str() {
        "Get-Mailbox" => {
            let mut boxes = st.exchange_mailboxes();
            if !identity.is_empty() {
                let Some(id) = st.exchange_user(&identity) else {
                    return not_found(&identity);
                };
                boxes.retain(|m| m["ExternalDirectoryObjectId"] == id.as_str());
            }
            answer(
                200,
                json!({
                    "@odata.context": format!("{}/adminapi/beta/{tenant}/$metadata#Collection(Exchange.GenericHashTable)", s.base()),
                    "value": boxes,
                }),
            )
        }
        "Add-MailboxPermission" => {
            let Some(id) = st.exchange_user(&identity) else {
                return not_found(&identity);
            };
            let user = p.get("User").and_then(Value::as_str).unwrap_or("");
            let Some(uid) = st.exchange_user(user) else {
                return not_found(user);
            };
            let rights_ok = match p.get("AccessRights") {
                Some(Value::Array(a)) => a.len() == 1 && a[0] == "FullAccess",
                Some(Value::String(r)) => r == "FullAccess",
                _ => false,
            };
            if !rights_ok || !p.get("AutoMapping").is_none_or(|a| a.is_boolean()) {
                s.violation(format!(
                    "Exchange: Add-MailboxPermission {params}: only -AccessRights FullAccess and a boolean -AutoMapping are supported by the fake"
                ));
                return error(
                    400,
                    "ParameterBindingException",
                    "Cannot process argument transformation on parameter 'AccessRights'.",
                );
            }
            let u = st.users.get_mut(&id).expect("user");
            if !u.full_access.contains(&uid) {
                u.full_access.push(uid);
            }
            st.writes += 1;
            answer(
                200,
                json!({"value": [{"Identity": identity, "User": user, "AccessRights": ["FullAccess"], "Deny": false, "IsInherited": false}]}),
            )
        }
        "New-Mailbox" => {
            let text = |k: &str| p.get(k).and_then(Value::as_str).unwrap_or("").to_string();
            let (name, alias, display, address) = (
                text("Name"),
                text("Alias"),
                text("DisplayName"),
                text("PrimarySmtpAddress"),
            );
            if p.get("Shared") != Some(&Value::Bool(true)) {
                s.violation(format!(
                    "Exchange: New-Mailbox {params}: the fake makes shared mailboxes only (-Shared)"
                ));
                return error(
                    400,
                    "ParameterBindingException",
                    "Parameter set cannot be resolved using the specified named parameters.",
                );
            }
            if name.is_empty() || !address.contains('@') {
                s.violation(format!(
                    "Exchange: New-Mailbox {params} without -Name or -PrimarySmtpAddress"
                ));
                return error(
                    400,
                    "ParameterBindingException",
                    "Cannot bind argument to parameter 'Name' because it is an empty string.",
                );
            }
            let alias = if alias.is_empty() {
                name.clone()
            } else {
                alias
            };
            let display = if display.is_empty() {
                name.clone()
            } else {
                display
            };
            match st.new_shared_mailbox(&name, &alias, &display, &address) {
                Ok(v) => answer(200, json!({"value": [v]})),
                Err((status, code, message)) => error(status, code, &message),
            }
        }
        "Get-MailboxPermission" => {
            let Some(id) = st.exchange_user(&identity) else {
                return not_found(&identity);
            };
            answer(200, json!({"value": st.mailbox_permissions(&id)}))
        }
        "Remove-MailboxPermission" => {
            let Some(id) = st.exchange_user(&identity) else {
                return not_found(&identity);
            };
            let user = p.get("User").and_then(Value::as_str).unwrap_or("");
            let Some(uid) = st.exchange_user(user) else {
                return not_found(user);
            };
            let rights_ok = match p.get("AccessRights") {
                Some(Value::Array(a)) => a.len() == 1 && a[0] == "FullAccess",
                Some(Value::String(r)) => r == "FullAccess",
                _ => false,
            };
            if !rights_ok {
                s.violation(format!(
                    "Exchange: Remove-MailboxPermission {params}: only -AccessRights FullAccess is supported by the fake"
                ));
                return error(
                    400,
                    "ParameterBindingException",
                    "Cannot process argument transformation on parameter 'AccessRights'.",
                );
            }
            // Exchange only warns when there is no such entry.
            let u = st.users.get_mut(&id).expect("user");
            let before = u.full_access.len();
            u.full_access.retain(|x| *x != uid);
            if u.full_access.len() != before {
                st.writes += 1;
            }
            answer(200, json!({"value": []}))
        }
        "Get-DistributionGroup" => {
            let mut groups = st.distribution_groups();
            if !identity.is_empty() {
                let Some(id) = st.distribution_group_id(&identity) else {
                    return not_found(&identity);
                };
                groups.retain(|g| g["ExternalDirectoryObjectId"] == id.as_str());
            }
            answer(
                200,
                json!({
                    "@odata.context": format!("{}/adminapi/beta/{tenant}/$metadata#Collection(Exchange.GenericHashTable)", s.base()),
                    "value": groups,
                }),
            )
        }
        "New-DistributionGroup" => {
            let text = |k: &str| p.get(k).and_then(Value::as_str).unwrap_or("").to_string();
            let (name, alias, display, address) = (
                text("Name"),
                text("Alias"),
                text("DisplayName"),
                text("PrimarySmtpAddress"),
            );
            if p.get("Type").is_some_and(|t| t != "Distribution") {
                s.violation(format!(
                    "Exchange: New-DistributionGroup -Type {}: the fake makes Distribution groups only",
                    p["Type"]
                ));
                return error(
                    400,
                    "ParameterBindingException",
                    "Cannot process argument transformation on parameter 'Type'.",
                );
            }
            let Some(members) = list(p.get("Members")) else {
                s.violation(format!(
                    "Exchange: New-DistributionGroup -Members {} is not a list of addresses",
                    p["Members"]
                ));
                return error(
                    400,
                    "ParameterBindingException",
                    "Cannot process argument transformation on parameter 'Members'.",
                );
            };
            let auth = match p.get("RequireSenderAuthenticationEnabled") {
                None => true,
                Some(Value::Bool(b)) => *b,
                Some(other) => {
                    s.violation(format!(
                        "Exchange: RequireSenderAuthenticationEnabled {other} is not a boolean"
                    ));
                    return error(400, "ParameterBindingException", "Cannot process argument transformation on parameter 'RequireSenderAuthenticationEnabled'.");
                }
            };
            if name.is_empty() {
                s.violation("Exchange: New-DistributionGroup without -Name".into());
                return error(
                    400,
                    "ParameterBindingException",
                    "Cannot bind argument to parameter 'Name' because it is an empty string.",
                );
            }
            let alias = if alias.is_empty() {
                name.clone()
            } else {
                alias
            };
            let display = if display.is_empty() {
                name.clone()
            } else {
                display
            };
            let address = if address.is_empty() {
                format!("{alias}@{}", st.default_domain)
            } else {
                address
            };
            match st.new_distribution_group(&name, &alias, &display, &address, &members, auth) {
                Ok(v) => answer(200, json!({"value": [v]})),
                Err((status, code, message)) => error(status, code, &message),
            }
        }
        "Set-DistributionGroup" => {
            let Some(id) = st.distribution_group_id(&identity) else {
                return not_found(&identity);
            };
            let auth = match p.get("RequireSenderAuthenticationEnabled") {
                None => None,
                Some(Value::Bool(b)) => Some(*b),
                Some(other) => {
                    s.violation(format!(
                        "Exchange: RequireSenderAuthenticationEnabled {other} is not a boolean"
                    ));
                    return error(400, "ParameterBindingException", "Cannot process argument transformation on parameter 'RequireSenderAuthenticationEnabled'.");
                }
            };
            if let Some(ea) = p.get("EmailAddresses") {
                let (add, remove) = match address_edits(s, "Set-DistributionGroup", ea) {
                    Ok(edits) => edits,
                    Err(refused) => return refused,
                };
                if let Err((code, message)) = st.exchange_addresses(&identity, false, &add, &remove)
                {
                    return error(400, code, &message);
                }
            }
            let g = st.groups.get_mut(&id).expect("group");
            if let Some(n) = p.get("DisplayName").and_then(Value::as_str) {
                g.display_name = n.into();
            }
            if let Some(a) = auth {
                g.require_sender_auth = a;
            }
            st.writes += 1;
            answer(200, json!({"value": []}))
        }
        "Add-DistributionGroupMember" | "Remove-DistributionGroupMember" => {
            let member = p.get("Member").and_then(Value::as_str).unwrap_or("");
            match st.distribution_member(&identity, member, cmdlet.starts_with("Add-")) {
                Ok(()) => answer(200, json!({"value": []})),
                Err((status, code, message)) => error(status, code, &message),
            }
        }
        "Remove-DistributionGroup" => match st.remove_distribution_group(&identity) {
            Ok(()) => answer(200, json!({"value": []})),
            Err((status, code, message)) => error(status, code, &message),
        },
        "Set-Mailbox"
            if p.contains_key("Type")
                || p.contains_key("ForwardingSmtpAddress")
                || p.contains_key("DeliverToMailboxAndForward")
                || p.contains_key("CustomAttribute15") =>
        {
            if st.exchange_not_yet(&identity) {
                return not_found(&identity);
            }
            let Some(id) = st.exchange_user(&identity) else {
                return not_found(&identity);
            };
            let kind = match p.get("Type") {
                None => None,
                Some(Value::String(t)) if t == "Shared" => Some(true),
                Some(Value::String(t)) if t == "Regular" => Some(false),
                Some(other) => {
                    s.violation(format!(
                        "Exchange: Set-Mailbox -Type {other}: the fake knows Shared and Regular"
                    ));
                    return error(
                        400,
                        "ParameterBindingException",
                        "Cannot process argument transformation on parameter 'Type'.",
                    );
                }
            };
            let forwarding = match p.get("ForwardingSmtpAddress") {
                None => None,
                Some(Value::Null) => Some(None),
                Some(Value::String(f))
                    if f.to_ascii_lowercase().starts_with("smtp:") && f.contains('@') =>
                {
                    Some(Some(f.clone()))
                }
                Some(other) => {
                    s.violation(format!(
                        "Exchange: Set-Mailbox -ForwardingSmtpAddress {other} is not smtp:<address> or null"
                    ));
                    return error(400, "ParameterBindingException", "Cannot process argument transformation on parameter 'ForwardingSmtpAddress'.");
                }
            };
            let deliver = match p.get("DeliverToMailboxAndForward") {
                None => None,
                Some(Value::Bool(b)) => Some(*b),
                Some(other) => {
                    s.violation(format!(
                        "Exchange: Set-Mailbox -DeliverToMailboxAndForward {other} is not a boolean"
                    ));
                    return error(400, "ParameterBindingException", "Cannot process argument transformation on parameter 'DeliverToMailboxAndForward'.");
                }
            };
            if p.contains_key("EmailAddresses") {
                s.violation(
                    "Exchange: the fake takes -EmailAddresses on its own Set-Mailbox".into(),
                );
                return error(400, "BadRequest", "Unsupported parameter combination.");
            }
            let mark = match p.get("CustomAttribute15") {
                None => None,
                Some(Value::Null) => Some(None),
                Some(Value::String(v)) => Some(Some(v.clone()).filter(|v| !v.is_empty())),
                Some(other) => {
                    s.violation(format!(
                        "Exchange: Set-Mailbox -CustomAttribute15 {other} is not a string or null"
                    ));
                    return error(
                        400,
                        "ParameterBindingException",
                        "Cannot process argument transformation on parameter 'CustomAttribute15'.",
                    );
                }
            };
            let u = st.users.get_mut(&id).expect("user");
            if let Some(m) = mark {
                u.custom_attribute15 = m;
            }
            if let Some(k) = kind {
                u.shared = k;
            }
            if let Some(f) = forwarding {
                u.forwarding = f;
            }
            if let Some(d) = deliver {
                u.deliver_and_forward = d;
            }
            st.writes += 1;
            answer(200, json!({"value": []}))
        }
        "Get-UnifiedGroup" => {
            let mut groups = st.unified_groups();
            if !identity.is_empty() {
                let Some(id) = st.unified_group_id(&identity) else {
                    return error(404, "ManagementObjectNotFoundException", &format!("The operation couldn't be performed because object '{identity}' couldn't be found."));
                };
                groups.retain(|g| g["ExternalDirectoryObjectId"] == id.as_str());
            }
            answer(
                200,
                json!({
                    "@odata.context": format!("{}/adminapi/beta/{tenant}/$metadata#Collection(Exchange.GenericHashTable)", s.base()),
                    "value": groups,
                }),
            )
        }
        "Set-Mailbox" | "Set-UnifiedGroup" => {
            if identity.is_empty() {
                s.violation(format!("Exchange: {cmdlet} without -Identity"));
                return error(
                    400,
                    "ParameterBindingException",
                    "Cannot bind argument to parameter 'Identity' because it is an empty string.",
                );
            }
            let user = cmdlet == "Set-Mailbox";
            if st.exchange_not_yet(&identity) {
                return error(404, "ManagementObjectNotFoundException", &format!("The operation couldn't be performed because object '{identity}' couldn't be found."));
            }
            if !user && st.unified_group_id(&identity).is_none() {
                return error(404, "ManagementObjectNotFoundException", &format!("The operation couldn't be performed because object '{identity}' couldn't be found."));
            }
            if let Some(ea) = p.get("EmailAddresses") {
                let (add, remove) = match address_edits(s, &cmdlet, ea) {
                    Ok(edits) => edits,
                    Err(refused) => return refused,
                };
                if let Err((code, message)) = st.exchange_addresses(&identity, user, &add, &remove)
                {
                    return error(400, code, &message);
                }
            }
            if let Some(r) = p.get("RequireSenderAuthenticationEnabled") {
                let Some(r) = r.as_bool() else {
                    s.violation(format!(
                        "Exchange: RequireSenderAuthenticationEnabled {r} is not a boolean"
                    ));
                    return error(400, "ParameterBindingException", "Cannot process argument transformation on parameter 'RequireSenderAuthenticationEnabled'.");
                };
                let id = st.unified_group_id(&identity).expect("checked above");
                st.groups.get_mut(&id).expect("group").require_sender_auth = r;
                st.writes += 1;
            }
            answer(200, json!({"value": []}))
        }
        "Get-DkimSigningConfig" => match st.get_dkim(&identity) {
            Ok(v) => answer(200, json!({"value": [v]})),
            Err((status, code, message)) => error(status, code, &message),
        },
        "New-DkimSigningConfig" => {
            let domain = p.get("DomainName").and_then(Value::as_str).unwrap_or("");
            match st.new_dkim(domain, dkim_enabled, dkim_served) {
                Ok(v) => answer(200, json!({"value": [v]})),
                Err((status, code, message)) => error(status, code, &message),
            }
        }
        "Set-DkimSigningConfig" => match st.set_dkim(&identity, dkim_enabled, dkim_served) {
            Ok(()) => answer(200, json!({"value": []})),
            Err((status, code, message)) => error(status, code, &message),
        },
        _ => unreachable!("refused above"),
    }
}
