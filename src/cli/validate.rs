//! `mailform validate`: offline checks.

use clap::Args;

use super::{Global, EXIT_ERROR, EXIT_OK};
use crate::registry::Registry;

#[derive(Debug, Args)]
pub struct ValidateArgs {}

pub fn run(global: &Global, _args: &ValidateArgs) -> anyhow::Result<i32> {
    let Some(loaded) = super::load(global, global.profile.clone(), global.targets.clone())? else {
        return Ok(EXIT_ERROR);
    };
    // What each provider can store is known without asking it anything.
    let registry = Registry::from_config(&loaded.config, &loaded.base_dir);
    let mut errors = 0;
    for z in &loaded.desired.zones {
        let caps = registry.dns(&z.provider).capabilities();
        for d in &z.records {
            for p in caps.audit(&d.item) {
                errors += 1;
                eprintln!(
                    "error: {} {}: provider `{}` cannot store this: {p}\n  --> {}:{}:{} (at `{}`)\n",
                    d.item.name,
                    d.item.rtype,
                    z.provider,
                    loaded.path.display(),
                    d.origin.loc.line,
                    d.origin.loc.column,
                    d.origin.path
                );
            }
        }
    }
    if errors > 0 {
        return Ok(EXIT_ERROR);
    }
    let zones = loaded.desired.zones.len();
    let records: usize = loaded.desired.zones.iter().map(|z| z.records.len()).sum();
    let mailboxes: usize = loaded.desired.mail.iter().map(|m| m.mailboxes.len()).sum();
    println!(
        "{} is valid: {zones} zone(s), {records} record set(s), {mailboxes} mailbox(es){}.",
        loaded.path.display(),
        if loaded.warnings.is_empty() {
            String::new()
        } else {
            format!(", {} warning(s)", loaded.warnings.len())
        }
    );
    Ok(EXIT_OK)
}
