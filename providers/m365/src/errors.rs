//! The provider's own error messages: what mailform cannot do without
//! the Exchange backend, and a failure after earlier steps of the same
//! change were made (what was done, what to do next).

use mailform_contract::ProviderError;

pub(crate) fn aliases_unsupported(address: &str, aliases: &[String]) -> ProviderError {
    ProviderError::Unsupported(format!(
        "the aliases of {address} ({}) are its Exchange proxyAddresses, which Graph only reads; changing them needs Exchange Online: turn on the provider's Exchange backend (`exchange: {{enabled: true}}`, see its README), change them in the Exchange admin center, or make the YAML match what is there",
        if aliases.is_empty() { "none wanted".to_string() } else { aliases.join(", ") }
    ))
}

pub(crate) fn external_unsupported(address: &str) -> ProviderError {
    ProviderError::Unsupported(format!(
        "whether {address} takes mail from outside the organisation is an Exchange Online setting (RequireSenderAuthenticationEnabled) Graph cannot read or write; turn on the provider's Exchange backend (`exchange: {{enabled: true}}`), or leave `allow_external` unset (new Microsoft 365 groups take internal mail only)"
    ))
}

pub(crate) fn standalone(address: &str) -> ProviderError {
    ProviderError::Unsupported(format!(
        "Microsoft 365 has no forwarding-only address like {address} through Graph; list it under `aliases:` of the mailbox or group it reaches"
    ))
}

pub(crate) fn offboarding_unsupported(address: &str) -> ProviderError {
    ProviderError::Unsupported(format!(
        "offboarding {address} on Microsoft 365 (or reinstating it) converts its mailbox between shared and user and sets its forwarding, which needs Exchange Online: turn on the provider's Exchange backend (`exchange: {{enabled: true}}`, see its README), or use `state: suspended` and forward by hand"
    ))
}

pub(crate) fn offboarding_new(address: &str) -> ProviderError {
    ProviderError::Unsupported(format!(
        "{address} cannot be created offboarded on Microsoft 365: create it (`state: suspended`), then offboard it in a later apply"
    ))
}

/// The licence removal after the conversion failed: a read takes the
/// user as offboarded, so no plan repeats it.
pub(crate) fn licence_left(e: ProviderError) -> ProviderError {
    e.map_message(|m| format!("{m} — a plan will not show this: remove its licences by hand (Microsoft 365 admin center → Users → Active users → Licenses and apps)"))
}

/// A member Exchange cannot find: what a distribution list can hold.
pub(crate) fn list_member_hint(e: ProviderError) -> ProviderError {
    if !e.to_string().contains("couldn't be found") && !e.to_string().contains("Couldn't find") {
        return e;
    }
    e.map_message(|m| format!("{m} — a distribution list's members must be recipients of the tenant (users, groups, mail contacts); mailform does not create mail contacts for outside addresses, so add one in the Exchange admin center first"))
}

/// A member change that failed after `done` of `total` were made.
pub(crate) fn member_progress(
    e: ProviderError,
    done: usize,
    total: usize,
    group: &str,
) -> ProviderError {
    if done == 0 {
        return e;
    }
    done_before(
        e,
        &format!("{done} of {total} member changes of {group} were made"),
    )
}

/// A failure after earlier steps of the same change succeeded.
pub(crate) fn done_before(e: ProviderError, done: &str) -> ProviderError {
    e.map_message(|m| format!("{done}, but then: {m}; apply again to finish"))
}
