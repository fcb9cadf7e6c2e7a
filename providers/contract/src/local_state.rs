//! For providers that keep their state in local files (zone files, Postfix
//! tables): a lock file that serialises mailform processes working on the
//! same state, and where to write so that a file reached through a symbolic
//! link is replaced at its target rather than the link being replaced.
//!
//! The lock is advisory (`flock(2)`): it keeps two mailform runs from
//! interleaving their read–check–write cycles; edits by hand or by other
//! tools are caught by comparing the files with what was read (the providers
//! do that just before replacing them).

use std::fs::{self, File, OpenOptions};
use std::io::ErrorKind;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::ProviderError;

/// How long a run waits for another one to finish before giving up.
pub const LOCK_WAIT: Duration = Duration::from_secs(30);

/// A held lock on a lock file; released when dropped (or when the process
/// ends, however it ends: the kernel drops `flock` locks with the file).
#[derive(Debug)]
pub struct StateLock {
    _file: File,
}

impl StateLock {
    /// Takes the exclusive lock on `path` (created if missing) for a run
    /// that writes, waiting up to `wait` for a run that holds it. `what`
    /// names the state in the error (`zone file /srv/zones/example.com.zone`).
    pub fn exclusive(path: &Path, what: &str, wait: Duration) -> Result<StateLock, ProviderError> {
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(path)
            .map_err(|e| {
                ProviderError::Io(format!(
                    "cannot open the lock file {} of {what}: {e}; nothing was written",
                    path.display()
                ))
            })?;
        take(&file, true, wait).map_err(|e| busy(path, what, wait, e))?;
        Ok(StateLock { _file: file })
    }

    /// Takes a shared lock on `path` for a run that only reads several
    /// files, so that it never sees a write half done. Waits like
    /// [`StateLock::exclusive`]. A read writes nothing, so a lock file that
    /// does not exist is not created: no run has written through mailform
    /// yet, and the read goes on without a lock (`Ok(None)`).
    pub fn shared(
        path: &Path,
        what: &str,
        wait: Duration,
    ) -> Result<Option<StateLock>, ProviderError> {
        let file = match File::open(path) {
            Ok(f) => f,
            Err(e) if e.kind() == ErrorKind::NotFound => return Ok(None),
            Err(e) => {
                return Err(ProviderError::Io(format!(
                    "cannot open the lock file {} of {what}: {e}",
                    path.display()
                )))
            }
        };
        take(&file, false, wait).map_err(|e| busy(path, what, wait, e))?;
        Ok(Some(StateLock { _file: file }))
    }
}

fn busy(path: &Path, what: &str, wait: Duration, e: std::io::Error) -> ProviderError {
    if e.kind() == ErrorKind::WouldBlock {
        ProviderError::Conflict(format!(
            "another mailform run is applying changes to {what} (it holds {}) and did not \
             finish within {} s; nothing was written; run plan again once it is done",
            path.display(),
            wait.as_secs()
        ))
    } else {
        ProviderError::Io(format!(
            "cannot lock {} for {what}: {e}; nothing was written",
            path.display()
        ))
    }
}

#[cfg(unix)]
fn take(file: &File, exclusive: bool, wait: Duration) -> std::io::Result<()> {
    use rustix::fs::{flock, FlockOperation};
    let op = if exclusive {
        FlockOperation::NonBlockingLockExclusive
    } else {
        FlockOperation::NonBlockingLockShared
    };
    let deadline = Instant::now() + wait;
    loop {
        match flock(file, op) {
            Ok(()) => return Ok(()),
            Err(e) if e == rustix::io::Errno::WOULDBLOCK || e == rustix::io::Errno::INTR => {
                if Instant::now() >= deadline {
                    return Err(ErrorKind::WouldBlock.into());
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            Err(e) => return Err(e.into()),
        }
    }
}

#[cfg(not(unix))]
fn take(_file: &File, _exclusive: bool, _wait: Duration) -> std::io::Result<()> {
    Ok(())
}

/// The file to replace when writing `path`: `path` itself, or, when it is a
/// symbolic link, the file it finally points to (a name server or Postfix
/// reads the target; replacing the link would leave them the old data).
/// A link whose target does not exist is refused: writing a new file there
/// could land anywhere the link names.
pub fn write_target(path: &Path) -> Result<PathBuf, ProviderError> {
    match fs::symlink_metadata(path) {
        Ok(meta) if meta.file_type().is_symlink() => fs::canonicalize(path).map_err(|e| {
            let to = fs::read_link(path)
                .map(|t| t.display().to_string())
                .unwrap_or_else(|_| "?".into());
            ProviderError::Io(format!(
                "{} is a symbolic link to {to}, which cannot be followed ({e}); create the \
                 target or replace the link with the file itself; nothing was written",
                path.display()
            ))
        }),
        Ok(_) => Ok(path.to_path_buf()),
        Err(e) if e.kind() == ErrorKind::NotFound => Ok(path.to_path_buf()),
        Err(e) => Err(ProviderError::Io(format!(
            "cannot inspect {}: {e}; nothing was written",
            path.display()
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_exclusive_lock_waits_and_then_reports_a_conflict() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(".lock");
        assert!(StateLock::shared(&path, "the estate", LOCK_WAIT)
            .unwrap()
            .is_none());
        assert!(!path.exists(), "a read creates no lock file");
        let held = StateLock::exclusive(&path, "the estate", LOCK_WAIT).unwrap();
        let err = StateLock::exclusive(&path, "the estate", Duration::from_millis(100))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("another mailform run") && err.contains("nothing was written"),
            "{err}"
        );
        assert!(StateLock::shared(&path, "the estate", Duration::from_millis(50)).is_err());
        drop(held);
        let a = StateLock::shared(&path, "the estate", LOCK_WAIT).unwrap();
        let b = StateLock::shared(&path, "the estate", LOCK_WAIT).unwrap();
        assert!(a.is_some() && b.is_some());
    }

    #[cfg(unix)]
    #[test]
    fn links_are_written_through_and_dangling_links_refused() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("real.zone");
        fs::write(&target, "x").unwrap();
        let link = dir.path().join("link.zone");
        std::os::unix::fs::symlink(&target, &link).unwrap();
        assert_eq!(
            write_target(&link).unwrap(),
            fs::canonicalize(&target).unwrap()
        );
        assert_eq!(write_target(&target).unwrap(), target);
        let missing = dir.path().join("new.zone");
        assert_eq!(write_target(&missing).unwrap(), missing);
        let dangling = dir.path().join("dangling.zone");
        std::os::unix::fs::symlink(dir.path().join("nowhere"), &dangling).unwrap();
        let err = write_target(&dangling).unwrap_err().to_string();
        assert!(
            err.contains("symbolic link") && err.contains("nowhere"),
            "{err}"
        );
    }
}
