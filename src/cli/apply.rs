//! `mailform apply`: confirm, check safety, apply, report.

use std::io::{BufRead, IsTerminal};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::Args;
use mailform_contract::ChangeOutcome;

use super::output::{self, errln, outln};
use super::{Global, EXIT_ERROR, EXIT_OK};
use crate::apply::{self, ApplyOptions};
use crate::plan::{Plan, PlanSource, PLAN_FORMAT_VERSION};
use crate::registry::Registry;
use crate::render::{self, count, safe};

#[derive(Debug, Args)]
pub struct ApplyArgs {
    /// A plan saved with `plan --out`. Apply refuses it when the file or
    /// the live state changed since it was made. Without it, apply plans
    /// afresh from the file.
    #[arg(value_name = "PLAN")]
    pub plan: Option<PathBuf>,

    /// Do not ask for confirmation. Without it, apply asks on the terminal
    /// and refuses to run when there is none.
    #[arg(long)]
    pub auto_approve: bool,

    /// Allow deleting mailboxes the file marks `state: deleted`. The mail in
    /// them may be lost.
    #[arg(long)]
    pub allow_destroy: bool,

    /// Allow a plan over the safety limits (`defaults.safety`).
    #[arg(long)]
    pub force: bool,

    /// Where to write the initial passwords made for mailboxes whose
    /// `initial_password` is `generate`: one `address<TAB>password` line
    /// each, appended, in a file readable by you only (created 0600; a file
    /// others can read is refused). Each line is on disk before the mailbox
    /// is created. Required when the plan creates such a mailbox.
    #[arg(long, value_name = "PATH")]
    pub password_file: Option<PathBuf>,

    /// When the plan onboards a mail domain: ask these servers as the
    /// zone's authoritative servers for the verification record instead of
    /// looking up its NS records (repeatable); `IP` or `IP:PORT`.
    #[arg(long = "authoritative", value_name = "ADDR", value_parser = super::verify::parse_addr)]
    pub authoritative: Vec<SocketAddr>,

    /// When the plan onboards a mail domain: the recursive resolver that
    /// looks up the zone's NS records (repeatable; the first is used).
    #[arg(long = "resolver", value_name = "ADDR", default_values = ["1.1.1.1", "8.8.8.8"], value_parser = super::verify::parse_addr)]
    pub resolvers: Vec<SocketAddr>,

    /// When the plan onboards a mail domain: seconds to wait until every
    /// authoritative server serves its verification record before giving
    /// up on that domain (its mail and MX are then not touched; run apply
    /// again later and it goes on). 0 does not wait: the provider is asked
    /// to verify at once.
    #[arg(long, value_name = "SECONDS", default_value_t = 600)]
    pub dns_wait: u64,
}

pub fn run(global: &Global, args: &ApplyArgs) -> anyhow::Result<i32> {
    let saved = match &args.plan {
        Some(path) => Some(read_saved(path)?),
        None => None,
    };
    let (profile, targets) = match &saved {
        Some((source, _)) => {
            if global.profile.is_some() && global.profile != source.profile {
                anyhow::bail!(
                    "the saved plan was made {}; do not pass another --profile",
                    match &source.profile {
                        Some(p) => format!("with profile `{p}`"),
                        None => "without a profile".to_string(),
                    }
                );
            }
            if !global.targets.is_empty() && global.targets != source.targets {
                anyhow::bail!(
                    "the saved plan was made {}; do not pass other targets",
                    if source.targets.is_empty() {
                        "for every domain (no --target)".to_string()
                    } else {
                        format!("with --target {}", source.targets.join(", --target "))
                    }
                );
            }
            (source.profile.clone(), source.targets.clone())
        }
        None => (global.profile.clone(), global.targets.clone()),
    };
    let Some(loaded) = super::load(global, profile, targets.clone())? else {
        return Ok(EXIT_ERROR);
    };
    let registry = Registry::from_config(&loaded.config, &loaded.base_dir);
    let scoped = Global {
        file: global.file.clone(),
        profile: None,
        targets,
        no_color: global.no_color,
        verbose: global.verbose,
    };
    let plan = super::plan::make_plan(&scoped, &loaded, &registry)?;
    if let Some((source, value)) = &saved {
        if source.sha256 != loaded.source_sha256 {
            anyhow::bail!("{} changed since the plan was made; run plan again and review the new plan\nnothing was changed", global.file.display());
        }
        check_same(&plan, value)?;
    }
    let color = super::stdout_color(global);
    output::out(&render::text::plan(&plan, color));
    // A problem fails apply as it fails plan, changes or not: an apply
    // that exits 0 over a problem would tell CI all is well.
    if !plan.has_changes() && plan.problems().is_empty() {
        return Ok(EXIT_OK);
    }
    let password_file = match &args.password_file {
        Some(p) => match apply::passwords::PasswordFile::new(p) {
            Ok(f) => Some(f),
            Err(e) => {
                errln!("error: --password-file: {e}\nnothing was changed");
                return Ok(EXIT_ERROR);
            }
        },
        None => None,
    };
    let options = ApplyOptions {
        allow_destroy: args.allow_destroy,
        force: args.force,
        progress: std::io::stderr().is_terminal(),
        password_file,
        dns_wait: apply::onboard::DnsWait {
            authoritative: args.authoritative.clone(),
            resolvers: args.resolvers.clone(),
            timeout: Duration::from_secs(args.dns_wait),
            interval: Duration::from_secs(args.dns_wait.clamp(1, 50) / 10)
                .max(Duration::from_secs(1)),
        },
        interrupt: apply::Interrupt::default(),
    };
    if let Err(refused) = apply::preflight(&plan, &options) {
        errln!("error: {refused}");
        return Ok(EXIT_ERROR);
    }
    if !args.auto_approve && !confirm()? {
        errln!("Apply cancelled; nothing was changed.");
        return Ok(EXIT_ERROR);
    }
    let rt = super::runtime()?;
    let result = rt.block_on(async {
        let watcher = watch_interrupts(options.interrupt.clone())?;
        let result = apply::apply(&plan, &loaded.desired, &registry, &options).await;
        watcher.abort();
        anyhow::Ok(result)
    })?;
    report(&result);
    Ok(if result.interrupted() > 0 {
        EXIT_INTERRUPTED
    } else if result.complete() {
        EXIT_OK
    } else {
        EXIT_ERROR
    })
}

/// The exit code after Ctrl-C: 128 + SIGINT, as shells report it.
pub const EXIT_INTERRUPTED: i32 = 130;

/// From now on, the first Ctrl-C (SIGINT) raises `interrupt` — apply
/// finishes what is in flight, starts nothing more and prints its summary
/// — and a second one stops the process at once. The handler is in place
/// when this returns, before the first change is sent.
fn watch_interrupts(interrupt: apply::Interrupt) -> anyhow::Result<tokio::task::JoinHandle<()>> {
    #[cfg(unix)]
    let mut signals = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::interrupt())?;
    Ok(tokio::spawn(async move {
        for count in 0.. {
            #[cfg(unix)]
            let signalled = signals.recv().await.is_some();
            #[cfg(not(unix))]
            let signalled = tokio::signal::ctrl_c().await.is_ok();
            if !signalled {
                return;
            }
            if count == 0 {
                interrupt.raise();
                errln!("\nInterrupted: finishing the changes in flight and starting no more; the summary follows. Press Ctrl-C again to stop at once (changes in flight are then left unknown).");
            } else {
                errln!("\nStopped at once: changes in flight may or may not have been applied; `mailform plan` shows what is live.");
                std::process::exit(EXIT_INTERRUPTED);
            }
        }
    }))
}

fn read_saved(path: &std::path::Path) -> anyhow::Result<(PlanSource, serde_json::Value)> {
    // Bounded, regular files only: a saved plan is input like the YAML.
    let text = crate::config::read_source(path, &crate::config::interpolate::ProcessEnv)
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let value: serde_json::Value = serde_json::from_str(&text)
        .map_err(|e| anyhow::anyhow!("{} is not a mailform plan: {e}", path.display()))?;
    let version = value
        .get("format_version")
        .and_then(serde_json::Value::as_u64);
    if version != Some(PLAN_FORMAT_VERSION as u64) {
        let has = match value.get("format_version") {
            None => "has no plan format version".to_string(),
            Some(v) => match version {
                Some(n) => format!("has plan format version {n}"),
                None => format!("has an invalid plan format version ({v})"),
            },
        };
        anyhow::bail!("{} {has}; this mailform reads version {PLAN_FORMAT_VERSION}. Run plan again with this mailform", path.display());
    }
    let source: PlanSource =
        serde_json::from_value(value.get("source").cloned().unwrap_or_default())
            .map_err(|e| anyhow::anyhow!("{} is not a mailform plan: {e}", path.display()))?;
    Ok((source, value))
}

/// The saved plan must be what planning now gives: same live state, same
/// changes. Anything else means the reviewed plan is not what would run.
fn check_same(fresh: &Plan, saved: &serde_json::Value) -> anyhow::Result<()> {
    if saved
        .get("live_fingerprint")
        .and_then(serde_json::Value::as_str)
        != Some(fresh.live_fingerprint.as_str())
    {
        anyhow::bail!("the live state changed since the plan was made (someone else applied, or edited the provider by hand); run plan again and review the new plan\nnothing was changed");
    }
    let now = serde_json::to_value(fresh)?;
    for part in ["zones", "mail"] {
        if now.get(part) != saved.get(part) {
            anyhow::bail!("the saved plan's {part} changes differ from what planning gives now (was it made by another mailform version, or edited?); run plan again\nnothing was changed");
        }
    }
    Ok(())
}

fn confirm() -> anyhow::Result<bool> {
    if !std::io::stdin().is_terminal() {
        anyhow::bail!("refusing to apply without confirmation: there is no terminal to ask on. Review the plan, then pass --auto-approve (as CI does after review)\nnothing was changed");
    }
    output::err("\nApply these changes? Only 'yes' will be accepted: ");
    let mut answer = String::new();
    std::io::stdin().lock().read_line(&mut answer)?;
    Ok(answer.trim() == "yes")
}

fn report(result: &apply::ApplyResult) {
    for e in &result.entries {
        // Provider messages can quote what the provider holds: escaped like
        // every other piece of data printed.
        let (scope, change) = (safe(&e.scope), safe(&e.change));
        match &e.outcome {
            ChangeOutcome::Applied => outln!("  done     {scope} {change}"),
            ChangeOutcome::Failed(err @ mailform_contract::ProviderError::Unknown(_)) => {
                outln!("  UNKNOWN  {scope} {change}: {}", safe(&err.to_string()))
            }
            ChangeOutcome::Failed(err) => {
                outln!("  FAILED   {scope} {change}: {}", safe(&err.to_string()))
            }
            ChangeOutcome::NotAttempted(why) => {
                outln!("  skipped  {scope} {change}: {}", safe(why))
            }
        }
    }
    let interrupted = result.interrupted();
    if interrupted > 0 {
        outln!(
            "\nApply interrupted: {} applied, {} failed, {} not started. Run apply again to make the rest: it continues from what is live.",
            count(result.applied(), "change", "changes"),
            result.failed(),
            interrupted
        );
    } else if result.complete() {
        outln!(
            "\nApply complete: {} applied.",
            count(result.applied(), "change", "changes")
        );
    } else {
        outln!(
            "\nApply incomplete: {} applied, {} failed, {} not attempted. Fix the cause and run apply again: it continues from what is live.",
            result.applied(),
            result.failed(),
            result.not_attempted()
        );
        let unknown = result.count(|o| {
            matches!(
                o,
                ChangeOutcome::Failed(mailform_contract::ProviderError::Unknown(_))
            )
        });
        if unknown > 0 {
            outln!(
                "{unknown} of the failed changes may have been carried out (UNKNOWN above): nothing was sent twice; `mailform plan` shows what is live."
            );
        }
    }
}
