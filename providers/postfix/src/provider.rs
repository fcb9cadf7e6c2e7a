//! [`PostfixProvider`]: the [`MailProvider`] that reads and applies one
//! domain at a time against the estate directory.
//!
//! An apply is all or nothing per domain: every change is checked against a
//! fresh read before anything is written, and the files are only replaced
//! once every new file (and, with `postmap`, every compiled map) is ready.
//!
//! Every file the provider writes is live state: where the files disagree
//! (a mailbox with no maildir entry, a domain missing from
//! `virtual_mailbox_domains`, a map newer than its `.db`), the domain's
//! status lists the repair as a setup step, which the plan shows and
//! [`MailProvider::complete_setup`] carries out.
//!
//! Runs are serialised across processes by `flock(2)` on `.mailform.lock`
//! in the directory: exclusive from an apply's read to its last rename,
//! shared for reads. Edits by hand meanwhile are caught by comparing the
//! files with what was read just before they are replaced.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use mailform_contract::local_state::{StateLock, LOCK_WAIT};
use mailform_contract::name::normalize_name;
use mailform_contract::provider::PasswordPolicy;
use mailform_contract::{
    ApplyReport, ChangeOutcome, DomainStatus, MailCapabilities, MailChange, MailDomainState,
    MailProvider, ProviderError,
};

use crate::config::Config;
use crate::fsio::{self, Staged};
use crate::passwd::SCHEMES;
use crate::state::{Estate, FileId};

/// The `postfix` mail provider. See the crate documentation for the files
/// and the Postfix and Dovecot settings that go with them.
#[derive(Debug, Clone)]
pub struct PostfixProvider {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    config: Config,
    dir: PathBuf,
    /// Domains share the files, so concurrent applies to two domains would
    /// each overwrite the other's lines without it.
    lock: Mutex<()>,
}

impl PostfixProvider {
    /// A provider for `config`; a relative `directory` is taken from
    /// `base_dir` (the directory of the mailform YAML file).
    pub fn new(config: Config, base_dir: &Path) -> Self {
        let dir = base_dir.join(&config.directory);
        PostfixProvider {
            inner: Arc::new(Inner {
                config,
                dir,
                lock: Mutex::new(()),
            }),
        }
    }

    /// The directory holding the estate's files.
    pub fn directory(&self) -> &Path {
        &self.inner.dir
    }

    async fn blocking<T: Send + 'static>(
        &self,
        job: impl FnOnce(&Inner) -> T + Send + 'static,
    ) -> Result<T, ProviderError> {
        let inner = Arc::clone(&self.inner);
        tokio::task::spawn_blocking(move || job(&inner))
            .await
            .map_err(|e| ProviderError::Io(format!("the file worker stopped: {e}")))
    }
}

#[async_trait]
impl MailProvider for PostfixProvider {
    fn kind(&self) -> &'static str {
        "postfix"
    }

    fn capabilities(&self) -> MailCapabilities {
        MailCapabilities {
            mailbox_aliases: false,
            group_aliases: false,
            groups: true,
            standalone_aliases: true,
            group_external_senders: true,
            display_names: true,
            password: PasswordPolicy {
                hash_schemes: SCHEMES.iter().map(|s| s.to_string()).collect(),
                plain: false,
                required: true,
            },
            shared_mailboxes: false,
            distribution_lists: false,
            settings_hint: None,
            domain_aliases: false,
            offboarding: true,
        }
    }

    async fn read_domain(&self, domain: &str) -> Result<MailDomainState, ProviderError> {
        let domain = domain.to_string();
        self.blocking(move |inner| inner.read(&domain)).await?
    }

    /// Ready, with the repairs the files need as setup steps.
    async fn domain_status(&self, domain: &str) -> Result<DomainStatus, ProviderError> {
        let domain = domain.to_string();
        let repairs = self.blocking(move |inner| inner.repairs(&domain)).await??;
        Ok(DomainStatus {
            setup: repairs,
            ..DomainStatus::ready()
        })
    }

    async fn complete_setup(&self, domain: &str) -> Result<Vec<String>, ProviderError> {
        let domain = domain.to_string();
        self.blocking(move |inner| inner.repair(&domain)).await?
    }

    async fn apply_domain(&self, domain: &str, changes: &[MailChange]) -> ApplyReport {
        let domain = domain.to_string();
        let count = changes.len();
        let changes = changes.to_vec();
        match self
            .blocking(move |inner| inner.apply(&domain, &changes))
            .await
        {
            Ok(report) => report,
            Err(e) => ApplyReport::all_failed(count, e),
        }
    }
}

impl Inner {
    fn checked_domain(&self, domain: &str) -> Result<String, ProviderError> {
        let domain = normalize_name(domain.trim());
        if domain.is_empty()
            || domain.starts_with('.')
            || domain
                .chars()
                .any(|c| c.is_whitespace() || c.is_control() || matches!(c, '@' | ',' | ':' | '#'))
        {
            return Err(ProviderError::Rejected(format!(
                "{domain:?} is not a domain name"
            )));
        }
        Ok(domain)
    }

    fn load(&self, domain: &str) -> Result<(Estate, [String; 5]), ProviderError> {
        // A missing directory is far more likely a wrong `directory` setting
        // than an empty estate; reading it as empty would plan to recreate
        // every mailbox somewhere else.
        if !self.dir.is_dir() {
            return Err(ProviderError::Io(format!(
                "the postfix provider's directory {} does not exist; create it or fix `directory`",
                self.dir.display()
            )));
        }
        let mut contents: [String; 5] = Default::default();
        for file in FileId::ALL {
            let path = self.dir.join(file.name());
            contents[file as usize] = fsio::read_or_empty(&path)
                .map_err(|e| ProviderError::Io(format!("cannot read {}: {e}", path.display())))?;
        }
        let estate = Estate::load(domain, &contents, &self.dir, &self.config)?;
        Ok((estate, contents))
    }

    /// The lock file shared by every mailform run on this directory.
    fn lock_path(&self) -> PathBuf {
        self.dir.join(".mailform.lock")
    }

    fn what(&self) -> String {
        format!("the postfix files in {}", self.dir.display())
    }

    fn shared_lock(&self) -> Result<Option<StateLock>, ProviderError> {
        StateLock::shared(&self.lock_path(), &self.what(), LOCK_WAIT)
    }

    fn exclusive_lock(&self) -> Result<StateLock, ProviderError> {
        StateLock::exclusive(&self.lock_path(), &self.what(), LOCK_WAIT)
    }

    fn read(&self, domain: &str) -> Result<MailDomainState, ProviderError> {
        let domain = self.checked_domain(domain)?;
        let _guard = self.lock.lock().unwrap_or_else(|p| p.into_inner());
        let _lock = self.shared_lock()?;
        Ok(self.load(&domain)?.0.model.state())
    }

    /// The maps whose `.db` Postfix would read stale, when this provider
    /// compiles them.
    fn stale_maps(&self) -> Result<Vec<FileId>, ProviderError> {
        if self.config.postmap.is_none() {
            return Ok(Vec::new());
        }
        let mut stale = Vec::new();
        for file in FileId::ALL.into_iter().filter(|f| f.is_map()) {
            let path = self.dir.join(file.name());
            if fsio::db_is_stale(&path).map_err(|e| {
                ProviderError::Io(format!(
                    "cannot compare {} with its .db: {e}",
                    path.display()
                ))
            })? {
                stale.push(file);
            }
        }
        Ok(stale)
    }

    /// What the files need repaired for `estate`'s domain, one line each.
    fn repairs_of(&self, estate: &Estate, stale: &[FileId]) -> Vec<String> {
        let mut repairs = estate.repairs.clone();
        repairs.extend(stale.iter().map(|f| {
            format!(
                "repair {0}.db: compile it with postmap (missing or older than {0}, so Postfix \
                 does not see what the map says)",
                f.name()
            )
        }));
        repairs
    }

    fn repairs(&self, domain: &str) -> Result<Vec<String>, ProviderError> {
        let domain = self.checked_domain(domain)?;
        let _guard = self.lock.lock().unwrap_or_else(|p| p.into_inner());
        let _lock = self.shared_lock()?;
        let (estate, _) = self.load(&domain)?;
        Ok(self.repairs_of(&estate, &self.stale_maps()?))
    }

    /// Writes the domain's model back where the files disagree; what it
    /// repaired, nothing when nothing needed it.
    fn repair(&self, domain: &str) -> Result<Vec<String>, ProviderError> {
        let domain = self.checked_domain(domain)?;
        let _guard = self.lock.lock().unwrap_or_else(|p| p.into_inner());
        let _lock = self.exclusive_lock()?;
        let (estate, old) = self.load(&domain)?;
        let stale = self.stale_maps()?;
        let repairs = self.repairs_of(&estate, &stale);
        if !repairs.is_empty() {
            self.write(&old, &estate.render(), &stale)?;
        }
        Ok(repairs)
    }

    fn apply(&self, domain: &str, changes: &[MailChange]) -> ApplyReport {
        if changes.is_empty() {
            return ApplyReport::all_applied(0);
        }
        let domain = match self.checked_domain(domain) {
            Ok(d) => d,
            Err(e) => return ApplyReport::all_failed(changes.len(), e),
        };
        let _guard = self.lock.lock().unwrap_or_else(|p| p.into_inner());
        // Held from the read to the last rename: another mailform run
        // applying meanwhile would otherwise have its lines overwritten.
        let _lock = match self.exclusive_lock() {
            Ok(lock) => lock,
            Err(e) => return ApplyReport::all_failed(changes.len(), e),
        };
        let (mut estate, old) = match self.load(&domain) {
            Ok(loaded) => loaded,
            Err(e) => return ApplyReport::all_failed(changes.len(), e),
        };

        // Every change is checked, so one run reports every refusal; a
        // refused change leaves the model as it was for the ones after it.
        let errors: Vec<Option<ProviderError>> = changes
            .iter()
            .map(|c| estate.model.apply(c, &self.config).err())
            .collect();
        if errors.iter().any(Option::is_some) {
            let outcomes = errors
                .into_iter()
                .map(|e| match e {
                    Some(e) => ChangeOutcome::Failed(e),
                    None => ChangeOutcome::NotAttempted(format!(
                        "another change for {domain} was refused, and this provider applies a \
                         domain's changes all or nothing; nothing was written"
                    )),
                })
                .collect();
            return ApplyReport { outcomes };
        }

        let new = estate.render();
        match self.write(&old, &new, &[]) {
            Ok(()) => ApplyReport::all_applied(changes.len()),
            Err(e) => {
                // Which change a failed write belongs to cannot be told
                // apart; every change shares the one outcome.
                ApplyReport {
                    outcomes: vec![ChangeOutcome::Failed(e); changes.len()],
                }
            }
        }
    }

    /// Replaces the files whose contents changed (and the maps in
    /// `recompile`, whose `.db` is stale), all or (up to the final renames)
    /// nothing. `old` is what was read; a file that no longer holds it was
    /// edited meanwhile, and nothing is written.
    fn write(
        &self,
        old: &[String; 5],
        new: &[String; 5],
        recompile: &[FileId],
    ) -> Result<(), ProviderError> {
        let postmap: Option<Vec<String>> = self
            .config
            .postmap
            .as_ref()
            .map(|p| p.split_whitespace().map(str::to_string).collect());
        let mut staged: Vec<Staged> = Vec::new();
        let mut which: Vec<FileId> = Vec::new();
        let discard = |staged: &[Staged]| staged.iter().for_each(Staged::discard);
        for file in FileId::ALL {
            let i = file as usize;
            if old[i] == new[i] && !recompile.contains(&file) {
                continue;
            }
            let path = self.dir.join(file.name());
            // The passwd-file holds password hashes: not for every local user.
            let mode = if file.is_map() { 0o644 } else { 0o640 };
            match Staged::write(&path, &new[i], mode) {
                Ok(s) => {
                    staged.push(s);
                    which.push(file);
                }
                Err(e) => {
                    discard(&staged);
                    return Err(ProviderError::Io(format!(
                        "cannot write {}: {e}; nothing was changed",
                        path.display()
                    )));
                }
            }
            if let (Some(cmd), true) = (&postmap, file.is_map()) {
                let last = staged.last_mut().expect("just pushed");
                if let Err(e) = last.compile(cmd) {
                    discard(&staged);
                    return Err(ProviderError::Service(format!(
                        "compiling {} failed: {e}; nothing was changed (fix the map or the \
                         `postmap` setting and apply again)",
                        path.display()
                    )));
                }
            }
        }
        // Other mailform runs wait for the lock; an edit by hand or by
        // another tool does not, and must not be overwritten.
        for (s, file) in staged.iter().zip(&which) {
            let error = match fsio::read_or_empty(s.path()) {
                Ok(now) if now == old[*file as usize] => continue,
                Ok(_) => ProviderError::Conflict(format!(
                    "{} was changed by someone else while mailform was applying; nothing was \
                     written; run plan again",
                    s.path().display()
                )),
                Err(e) => ProviderError::Io(format!(
                    "cannot read {} again: {e}; nothing was written",
                    s.path().display()
                )),
            };
            discard(&staged);
            return Err(error);
        }
        let mut done: Vec<String> = Vec::new();
        let mut rest = staged.into_iter();
        while let Some(s) = rest.next() {
            let path = s.path().display().to_string();
            if let Err(e) = s.commit() {
                let left: Vec<Staged> = rest.collect();
                discard(&left);
                s.discard();
                return Err(ProviderError::Io(format!(
                    "replacing {path} failed: {e}; already replaced: [{}]; the domain may be \
                     half applied, so run plan again to see what is left",
                    done.join(", ")
                )));
            }
            done.push(path);
        }
        Ok(())
    }
}
