//! Putting new file contents in place safely: each file is written to a
//! temporary file in the same directory, flushed to disk, compiled with
//! `postmap` when configured, and only then renamed over the old one, so a
//! reader (Postfix, Dovecot, the next mailform run) sees either the old or
//! the new file, never half of one.
//!
//! A file that is a symbolic link is replaced at its target (the temporary
//! file is written beside the target), and so is a `.db` that is one: the
//! link stays, and what Postfix and Dovecot open through it is the new file.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::Command;

use mailform_contract::local_state;

/// Reads a file; a file that does not exist reads as empty.
pub(crate) fn read_or_empty(path: &Path) -> io::Result<String> {
    match fs::read_to_string(path) {
        Ok(s) => Ok(s),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(String::new()),
        Err(e) => Err(e),
    }
}

/// A new version of one file, written but not yet in place.
#[derive(Debug)]
pub(crate) struct Staged {
    /// The path as configured (for messages).
    path: PathBuf,
    /// The file replaced: `path`, or the target of the link `path` is.
    target: PathBuf,
    tmp: PathBuf,
    compiled: bool,
}

fn db_path(path: &Path) -> PathBuf {
    let mut s = path.as_os_str().to_owned();
    s.push(".db");
    PathBuf::from(s)
}

impl Staged {
    /// Writes `content` next to `path`. The new file gets the old one's
    /// permissions and owner (a passwd-file readable only by Dovecot must stay
    /// so), or `new_mode` when there is no old file.
    pub(crate) fn write(path: &Path, content: &str, new_mode: u32) -> io::Result<Staged> {
        let target = write_target(path)?;
        let name = target
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        // One name is enough: writers hold the estate's lock.
        let tmp = target.with_file_name(format!(".{name}.mailform-tmp"));
        // Left over from a run that died; it was never in place.
        let _ = fs::remove_file(&tmp);
        let _ = fs::remove_file(db_path(&tmp));
        let old = match fs::metadata(&target) {
            Ok(m) => Some(m),
            Err(e) if e.kind() == io::ErrorKind::NotFound => None,
            Err(e) => return Err(e),
        };
        let mode = old
            .as_ref()
            .map_or(new_mode, |m| m.permissions().mode() & 0o7777);
        let staged = Staged {
            path: path.to_path_buf(),
            target,
            tmp,
            compiled: false,
        };
        let result = (|| {
            let mut file = OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(&staged.tmp)?;
            file.write_all(content.as_bytes())?;
            if let Some(old) = &old {
                let mine = file.metadata()?;
                if (mine.uid(), mine.gid()) != (old.uid(), old.gid()) {
                    std::os::unix::fs::fchown(&file, Some(old.uid()), Some(old.gid()))?;
                }
            }
            // After the chown, which may clear set-id bits; and explicitly,
            // because the umask applies to `mode` at creation.
            file.set_permissions(fs::Permissions::from_mode(mode))?;
            file.sync_all()
        })();
        match result {
            Ok(()) => Ok(staged),
            Err(e) => {
                staged.discard();
                Err(e)
            }
        }
    }

    /// Runs `<command> hash:<temporary file>`, producing the `.db` that will
    /// be renamed into place with the file. The error says what failed.
    pub(crate) fn compile(&mut self, command: &[String]) -> Result<(), String> {
        let target = format!("hash:{}", self.tmp.display());
        let shown = format!("{} {target}", command.join(" "));
        let (program, args) = command
            .split_first()
            .ok_or_else(|| "the `postmap` setting is empty".to_string())?;
        let output = Command::new(program)
            .args(args)
            .arg(&target)
            .output()
            .map_err(|e| format!("could not run `{shown}`: {e}"))?;
        if !output.status.success() {
            let stderr = String::from_utf8_lossy(&output.stderr);
            return Err(format!(
                "`{shown}` failed ({}): {}",
                output.status,
                stderr.trim()
            ));
        }
        File::open(db_path(&self.tmp))
            .and_then(|f| f.sync_all())
            .map_err(|e| format!("`{shown}` did not leave a readable .db file: {e}"))?;
        self.compiled = true;
        Ok(())
    }

    /// Renames the new file (and its `.db`) over the old one. The `.db` goes
    /// first: should the second rename fail, the source still differs from
    /// what the next plan wants, so that run redoes both.
    pub(crate) fn commit(&self) -> io::Result<()> {
        if self.compiled {
            // Postfix opens `<path as configured>.db`, which may be a link
            // of its own, elsewhere than the source's target.
            let db = write_target(&db_path(&self.path))?;
            let built = db_path(&self.tmp);
            if db.parent() != built.parent() {
                let beside = db.with_file_name(format!(
                    ".{}.mailform-tmp",
                    db.file_name().unwrap_or_default().to_string_lossy()
                ));
                let copied = fs::copy(&built, &beside)
                    .and_then(|_| File::open(&beside)?.sync_all())
                    .and_then(|()| fs::rename(&beside, &db));
                if let Err(e) = copied {
                    let _ = fs::remove_file(&beside);
                    return Err(e);
                }
                let _ = fs::remove_file(&built);
                sync_parent(&db)?;
            } else {
                fs::rename(&built, &db)?;
            }
        }
        fs::rename(&self.tmp, &self.target)?;
        // The renames are durable only once the directory is flushed.
        sync_parent(&self.target)
    }

    /// Removes the temporary files; the old file is untouched.
    pub(crate) fn discard(&self) {
        let _ = fs::remove_file(&self.tmp);
        let _ = fs::remove_file(db_path(&self.tmp));
    }

    pub(crate) fn path(&self) -> &Path {
        &self.path
    }
}

fn sync_parent(path: &Path) -> io::Result<()> {
    match path.parent() {
        Some(dir) => File::open(dir)?.sync_all(),
        None => Ok(()),
    }
}

fn write_target(path: &Path) -> io::Result<PathBuf> {
    local_state::write_target(path).map_err(|e| io::Error::other(e.to_string()))
}

/// Whether the compiled `.db` of the map at `path` is missing or older than
/// the map, so Postfix does not see what the map says. `false` when the map
/// itself does not exist.
pub(crate) fn db_is_stale(path: &Path) -> io::Result<bool> {
    let source = match fs::metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(false),
        Err(e) => return Err(e),
    };
    match fs::metadata(db_path(path)) {
        Ok(db) => Ok(db.modified()? < source.modified()?),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(true),
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_keep_mode_and_leave_no_temporary_files() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("dovecot-users");
        let staged = Staged::write(&path, "a\n", 0o640).unwrap();
        assert_eq!(
            read_or_empty(&path).unwrap(),
            "",
            "not in place before commit"
        );
        staged.commit().unwrap();
        assert_eq!(fs::read_to_string(&path).unwrap(), "a\n");
        assert_eq!(
            fs::metadata(&path).unwrap().permissions().mode() & 0o777,
            0o640
        );

        fs::set_permissions(&path, fs::Permissions::from_mode(0o600)).unwrap();
        let staged = Staged::write(&path, "b\n", 0o644).unwrap();
        staged.discard();
        assert_eq!(fs::read_to_string(&path).unwrap(), "a\n");
        Staged::write(&path, "b\n", 0o644)
            .unwrap()
            .commit()
            .unwrap();
        assert_eq!(
            fs::metadata(&path).unwrap().permissions().mode() & 0o777,
            0o600
        );
        let names: Vec<_> = fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, vec![std::ffi::OsString::from("dovecot-users")]);
    }

    #[test]
    fn a_failing_compiler_is_reported() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("virtual_alias_maps");
        let mut staged = Staged::write(&path, "a@b c@d\n", 0o644).unwrap();
        let err = staged.compile(&["false".to_string()]).unwrap_err();
        assert!(
            err.contains("`false hash:") && err.contains("failed"),
            "{err}"
        );
        let err = staged
            .compile(&["/nonexistent/postmap".to_string()])
            .unwrap_err();
        assert!(err.contains("could not run"), "{err}");
        staged.discard();
        assert!(!path.exists());
    }
}
