//! `mailform plan`: read live state, diff, print.

use std::path::PathBuf;

use clap::Args;

use super::output::{self, errln};
use super::{Global, EXIT_CHANGES, EXIT_ERROR, EXIT_OK};
use crate::config::Loaded;
use crate::plan::{Plan, PlanSource};
use crate::registry::Registry;
use crate::render::{self, Format};

#[derive(Debug, Args)]
pub struct PlanArgs {
    /// Also save the plan as JSON, for `mailform apply FILE`. It holds no
    /// secrets, and a fingerprint of the live state it was made from.
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,

    /// Exit 0 when there are no changes, 2 when there are, 1 on error.
    /// Without it, plan exits 0 whenever it succeeds.
    #[arg(long)]
    pub detailed_exitcode: bool,

    /// How to print the plan on stdout.
    #[arg(long, value_enum, default_value = "text")]
    pub format: Format,
}

/// Reads live state and plans; shared with `apply`.
pub(crate) fn make_plan(
    global: &Global,
    loaded: &Loaded,
    registry: &Registry,
) -> anyhow::Result<Plan> {
    let rt = super::runtime()?;
    let live = rt.block_on(crate::live::read(&loaded.desired, registry))?;
    let source = PlanSource {
        file: global.file.display().to_string(),
        sha256: loaded.source_sha256.clone(),
        profile: loaded.desired.profile.as_ref().map(|p| p.0.clone()),
        targets: global.targets.clone(),
    };
    Ok(crate::plan::build(&loaded.desired, &live, registry, source))
}

pub fn run(global: &Global, args: &PlanArgs) -> anyhow::Result<i32> {
    let Some(loaded) = super::load(global, global.profile.clone(), global.targets.clone())? else {
        return Ok(EXIT_ERROR);
    };
    let registry = Registry::from_config(&loaded.config, &loaded.base_dir);
    let plan = make_plan(global, &loaded, &registry)?;
    output::out(&render::render_plan(
        &plan,
        args.format,
        super::stdout_color(global),
    ));
    if let Some(out) = &args.out {
        std::fs::write(out, render::json(&plan))
            .map_err(|e| anyhow::anyhow!("cannot write {}: {e}", out.display()))?;
        errln!(
            "Saved the plan to {}. Apply exactly it with: mailform apply {}",
            out.display(),
            out.display()
        );
    }
    if !plan.problems().is_empty() {
        return Ok(EXIT_ERROR);
    }
    Ok(if args.detailed_exitcode && plan.has_changes() {
        EXIT_CHANGES
    } else {
        EXIT_OK
    })
}
