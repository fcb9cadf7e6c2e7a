//! `mailform import`: live state to YAML.

use std::path::PathBuf;

use clap::Args;

use super::output::{self, errln};
use super::{Global, EXIT_ERROR, EXIT_OK};
use crate::registry::Registry;

#[derive(Debug, Args)]
pub struct ImportArgs {
    /// Write the YAML here instead of stdout. An existing file is not
    /// overwritten unless --overwrite is given.
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,

    /// Allow --out to replace an existing file.
    #[arg(long)]
    pub overwrite: bool,
}

pub fn run(global: &Global, args: &ImportArgs) -> anyhow::Result<i32> {
    let Some(loaded) = super::load(global, None, global.targets.clone())? else {
        return Ok(EXIT_ERROR);
    };
    let registry = Registry::from_config(&loaded.config, &loaded.base_dir);
    let rt = super::runtime()?;
    let live = rt.block_on(crate::live::read(&loaded.desired, &registry))?;
    let source = crate::config::read_source(&loaded.path, &crate::config::interpolate::ProcessEnv)
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    // Domains whose provider takes clear-text initial passwords: their
    // mailboxes are written with `initial_password: generate`, so the file
    // rebuilds a lost tenant (with fresh passwords) as it is.
    let generates: std::collections::BTreeSet<String> = loaded
        .desired
        .mail
        .iter()
        .filter(|m| registry.mail(&m.provider).capabilities().password.plain)
        .map(|m| m.domain.clone())
        .collect();
    let imported = crate::import::to_yaml(&source, &loaded.desired, &live, &generates)
        .map_err(|e| anyhow::anyhow!("cannot write the YAML: {e}"))?;
    for s in &imported.skipped {
        errln!(
            "note: skipped {}: this record type cannot be declared in a mailform file yet",
            crate::render::safe(s)
        );
    }
    match &args.out {
        None => output::out(&imported.yaml),
        Some(path) => {
            if path.exists() && !args.overwrite {
                anyhow::bail!("{} exists; pass --overwrite to replace it", path.display());
            }
            std::fs::write(path, &imported.yaml)?;
            errln!("Wrote {}.", path.display());
        }
    }
    Ok(EXIT_OK)
}
