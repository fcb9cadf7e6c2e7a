//! The applier: carries out a plan through the providers, in dependency
//! order, and reports exactly what was and was not done.
//!
//! Order (see [`order`]): mail domains the provider does not serve yet are
//! onboarded first ([`onboard`]: verification record published, served by
//! every authoritative server, domain verified; their zones are then
//! planned again); mailboxes, groups and aliases are created or
//! updated next; then DNS records other than MX; then MX changes of
//! domains whose mail changed, so that mail is never routed to a provider
//! before the mailboxes exist there; deletions of mail objects come last,
//! then successors take over the addresses of mailboxes just deleted.
//! A step that depends on a failed step is not attempted. Re-running after
//! a partial failure converges, because a new plan starts from what is live.

pub mod onboard;
pub mod order;
pub mod passwords;

use mailform_contract::ChangeOutcome;
use serde::Serialize;

use crate::plan::Plan;
use crate::registry::Registry;
use crate::render::{count, safe};
use order::{steps, Phase, StepChanges};

/// Switches that allow what a plan alone may not do.
#[derive(Debug, Clone, Default)]
pub struct ApplyOptions {
    /// Allow deleting mailboxes marked `state: deleted`.
    pub allow_destroy: bool,
    /// Allow plans over the safety limits.
    pub force: bool,
    /// Show a progress bar on stderr.
    pub progress: bool,
    /// Where passwords made for `initial_password: generate` are written.
    pub password_file: Option<passwords::PasswordFile>,
    /// How onboarding waits for verification records to be served.
    pub dns_wait: onboard::DnsWait,
    /// Raised when the user asks to stop (Ctrl-C): no further step starts.
    pub interrupt: Interrupt,
}

/// A request to stop applying, raised from outside (the binary raises it
/// on SIGINT). Steps already in flight finish — a provider call cut off
/// halfway leaves its changes unknown — and every step not yet started is
/// reported as not attempted, so the summary says exactly what was done.
#[derive(Debug, Clone, Default)]
pub struct Interrupt(std::sync::Arc<std::sync::atomic::AtomicBool>);

impl Interrupt {
    pub fn raise(&self) {
        self.0.store(true, std::sync::atomic::Ordering::SeqCst);
    }

    pub fn is_raised(&self) -> bool {
        self.0.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// Resolves once raised: for waits that may be given up, such as
    /// waiting for DNS to serve a record, where nothing is being written.
    pub async fn raised(&self) {
        while !self.is_raised() {
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
    }
}

/// Why a step was not started after an interrupt.
pub const INTERRUPTED: &str = "not started: apply was interrupted";

/// Why an apply was refused before anything was changed.
#[derive(Debug, thiserror::Error)]
#[error("{0}\nnothing was changed")]
pub struct Refused(pub String);

/// Checks that the plan may be applied with these options.
pub fn preflight(plan: &Plan, options: &ApplyOptions) -> Result<(), Refused> {
    let problems = plan.problems();
    if !problems.is_empty() {
        let list: Vec<String> = problems
            .iter()
            .map(|p| match &p.at {
                Some(at) => format!("  - {}: {}", safe(at), safe(&p.message)),
                None => format!("  - {}", safe(&p.message)),
            })
            .collect();
        return Err(Refused(format!(
            "the plan has problems that must be fixed first:\n{}",
            list.join("\n")
        )));
    }
    let generated: Vec<&str> = plan
        .mail
        .iter()
        .flat_map(|m| passwords::to_generate(&m.changes))
        .collect();
    if !generated.is_empty() && options.password_file.is_none() {
        return Err(Refused(format!(
            "{} new mailbox{} get{} a generated initial password ({}); name the file to write {} to with --password-file PATH (created readable by you only), then hand each password over safely",
            generated.len(),
            if generated.len() == 1 { "" } else { "es" },
            if generated.len() == 1 { "s" } else { "" },
            safe(&generated.join(", ")),
            if generated.len() == 1 { "it" } else { "them" },
        )));
    }
    let deletions = plan.mailbox_deletions();
    if !deletions.is_empty() && !options.allow_destroy {
        return Err(Refused(format!(
            "the plan deletes {} mailbox{} ({}), and the mail in {} may be lost; if that is intended, run apply again with --allow-destroy",
            deletions.len(),
            if deletions.len() == 1 { "" } else { "es" },
            safe(&deletions.join(", ")),
            if deletions.len() == 1 { "it" } else { "them" },
        )));
    }
    let roles = plan.role_address_deletions();
    if !roles.is_empty() && !options.allow_destroy {
        return Err(Refused(format!(
            "the plan deletes {} ({}), which every mail domain must answer (RFC 5321 §4.5.1, RFC 2142): reports of abuse and delivery problems would bounce; if that is intended, run apply again with --allow-destroy",
            count(roles.len(), "role address", "role addresses"),
            safe(&roles.join(", ")),
        )));
    }
    let breaches = plan.thresholds();
    if !breaches.is_empty() && !options.force {
        let list: Vec<String> = breaches
            .iter()
            .map(|b| {
                format!(
                    "  - {} of {} {} ({}%) would change; the limit is {}%",
                    b.changed,
                    b.existing,
                    b.what,
                    b.changed * 100 / b.existing.max(1),
                    b.limit_percent
                )
            })
            .collect();
        return Err(Refused(format!(
            "the plan changes more than the safety limits allow:\n{}\nreview the plan; if it is intended, run apply with --force (limits are set under defaults.safety)",
            list.join("\n")
        )));
    }
    Ok(())
}

/// What became of one change.
#[derive(Debug, Clone, Serialize)]
pub struct Entry {
    pub phase: Phase,
    /// The zone or mail domain.
    pub scope: String,
    pub change: String,
    pub outcome: ChangeOutcome,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct ApplyResult {
    pub entries: Vec<Entry>,
}

impl ApplyResult {
    pub fn count(&self, f: impl Fn(&ChangeOutcome) -> bool) -> usize {
        self.entries.iter().filter(|e| f(&e.outcome)).count()
    }

    pub fn applied(&self) -> usize {
        self.count(|o| matches!(o, ChangeOutcome::Applied))
    }

    pub fn failed(&self) -> usize {
        self.count(|o| matches!(o, ChangeOutcome::Failed(_)))
    }

    pub fn not_attempted(&self) -> usize {
        self.count(|o| matches!(o, ChangeOutcome::NotAttempted(_)))
    }

    pub fn complete(&self) -> bool {
        self.applied() == self.entries.len()
    }

    /// Changes not started because apply was interrupted.
    pub fn interrupted(&self) -> usize {
        self.count(|o| matches!(o, ChangeOutcome::NotAttempted(why) if why == INTERRUPTED))
    }
}

/// Applies `plan`, made from `desired`. Call [`preflight`] first.
pub async fn apply(
    plan: &Plan,
    desired: &crate::desired::Desired,
    registry: &Registry,
    options: &ApplyOptions,
) -> ApplyResult {
    let mut result = ApplyResult::default();
    // Mail domains whose earlier step did not fully apply.
    let mut failed_scopes: std::collections::BTreeSet<String> = Default::default();
    let mut deletes_failed: std::collections::BTreeSet<String> = Default::default();
    let mut dns_failed: std::collections::BTreeSet<String> = Default::default();
    let mut plan = plan.clone();
    let (entries, after, onboard_failed) =
        onboard::onboard_all(&plan, registry, &options.dns_wait, &options.interrupt).await;
    failed_scopes.extend(onboard_failed.iter().cloned());
    result.entries.extend(entries);
    let mut unplanned: std::collections::BTreeMap<String, String> = Default::default();
    if plan.zones.iter().any(|z| !z.replanned_after.is_empty()) {
        for (zone, why) in onboard::replan_zones(&mut plan, desired, registry, &after).await {
            unplanned.insert(zone, why);
        }
    }
    let steps = steps(&plan);
    let total: u64 = steps.iter().map(|s| s.len() as u64).sum();
    let bar = if options.progress && total > 0 {
        let bar = indicatif::ProgressBar::new(total);
        bar.set_style(
            indicatif::ProgressStyle::with_template(
                "{spinner} [{elapsed_precise}] {bar:30} {pos}/{len} {msg}",
            )
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        bar
    } else {
        indicatif::ProgressBar::hidden()
    };
    for step in steps {
        bar.set_message(format!("{} {}", step.phase.label(), step.scope));
        let domain = step.mail_domain.clone().unwrap_or_default();
        let blocked = if options.interrupt.is_raised() {
            Some(INTERRUPTED.to_string())
        } else if step.phase.is_mail() && onboard_failed.contains(&domain) {
            Some(format!("onboarding {domain} did not finish"))
        } else if step.phase.depends_on_mail() && failed_scopes.contains(&domain) {
            Some(format!("mail changes for {domain} did not all apply"))
        } else if step.phase == Phase::Handover && !deletes_failed.is_empty() {
            Some(format!(
                "deleting {} did not finish, so the address is not free",
                deletes_failed
                    .iter()
                    .cloned()
                    .collect::<Vec<_>>()
                    .join(", ")
            ))
        } else if matches!(step.phase, Phase::Dns | Phase::Mx) {
            unplanned.get(&step.scope).map(|why| {
                format!(
                    "zone {} could not be planned again after onboarding: {why}",
                    step.scope
                )
            })
        } else {
            None
        };
        let descriptions = step.descriptions();
        let outcomes: Vec<ChangeOutcome> = if let Some(why) = blocked {
            vec![ChangeOutcome::NotAttempted(why); descriptions.len()]
        } else {
            let report = match &step.changes {
                StepChanges::Dns(changes) => {
                    registry
                        .dns(&step.provider)
                        .apply_zone(&step.scope, changes)
                        .await
                }
                StepChanges::Mail(changes) => {
                    match passwords::fill(changes, options.password_file.as_ref()) {
                        Ok(filled) => {
                            registry
                                .mail(&step.provider)
                                .apply_domain(&step.scope, &filled)
                                .await
                        }
                        Err(e) => mailform_contract::ApplyReport::all_failed(
                            changes.len(),
                            mailform_contract::ProviderError::Io(e),
                        ),
                    }
                }
            };
            normalise(report.outcomes, descriptions.len())
        };
        let incomplete = outcomes
            .iter()
            .any(|o| !matches!(o, ChangeOutcome::Applied));
        if step.phase.is_mail() && incomplete {
            failed_scopes.insert(domain.clone());
        }
        if step.phase == Phase::MailDeletes && incomplete {
            deletes_failed.insert(domain.clone());
        }
        if matches!(step.phase, Phase::Dns | Phase::Mx) && incomplete {
            dns_failed.insert(step.scope.clone());
        }
        for (change, outcome) in descriptions.into_iter().zip(outcomes) {
            tracing::info!(scope = %step.scope, %change, ?outcome, "change");
            result.entries.push(Entry {
                phase: step.phase,
                scope: step.scope.clone(),
                change,
                outcome,
            });
        }
        bar.inc(step.len() as u64);
    }
    bar.finish_and_clear();
    if options.interrupt.is_raised() {
        for m in plan
            .mail
            .iter()
            .filter(|m| !m.domain_status.setup.is_empty())
        {
            result.entries.push(Entry {
                phase: Phase::Setup,
                scope: m.domain.clone(),
                change: m.domain_status.setup.join("; "),
                outcome: ChangeOutcome::NotAttempted(INTERRUPTED.to_string()),
            });
        }
        return result;
    }
    result.entries.extend(
        onboard::setup_all(
            &plan,
            desired,
            registry,
            options,
            &after,
            &onboard_failed,
            &dns_failed,
        )
        .await,
    );
    result
}

/// A provider must report one outcome per change; if one reports fewer,
/// the missing ones are unknown and said so rather than assumed applied.
fn normalise(mut outcomes: Vec<ChangeOutcome>, expected: usize) -> Vec<ChangeOutcome> {
    outcomes.truncate(expected);
    while outcomes.len() < expected {
        outcomes.push(ChangeOutcome::Failed(mailform_contract::ProviderError::Service(
            "the provider reported no outcome for this change; run plan to see whether it was applied".into(),
        )));
    }
    outcomes
}
