//! The zone files on disk: where a zone's file is, reading it, and replacing
//! it atomically so that a name server reloading at any moment sees either
//! the old file or the new one, never half of one.

use std::fs::{self, File, OpenOptions};
use std::io::{ErrorKind, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};

use mailform_contract::{local_state, ProviderError};

/// The file of `zone` in `directory`: `<zone>.zone`.
pub(crate) fn zone_path(directory: &Path, zone: &str) -> Result<PathBuf, ProviderError> {
    // The zone name becomes a file name: refuse anything that could leave
    // the directory or name a hidden or special file.
    let valid = !zone.is_empty()
        && !zone.starts_with('.')
        && zone
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_'));
    if !valid {
        return Err(ProviderError::Rejected(format!(
            "{zone:?} is not a zone name the zonefile provider can store (letters, digits, `-`, \
             `_` and `.` only)"
        )));
    }
    Ok(directory.join(format!("{zone}.zone")))
}

/// The file's bytes, or `None` when it does not exist. A symbolic link
/// whose target is missing is an error, not an absent zone: planning to
/// create the zone would write wherever the link points.
pub(crate) fn read(path: &Path) -> Result<Option<Vec<u8>>, ProviderError> {
    match fs::read(path) {
        Ok(bytes) => Ok(Some(bytes)),
        Err(e) if e.kind() == ErrorKind::NotFound => {
            local_state::write_target(path)?;
            Ok(None)
        }
        Err(e) => Err(ProviderError::Io(format!(
            "cannot read {}: {e}",
            path.display()
        ))),
    }
}

/// Where the lock file of the zone file at `path` is: beside the file that
/// is really written (the target of a link), `.<name>.lock`.
pub(crate) fn lock_path(path: &Path) -> Result<PathBuf, ProviderError> {
    let target = local_state::write_target(path)?;
    let name = target
        .file_name()
        .map_or_else(|| "zone".into(), |n| n.to_string_lossy().into_owned());
    Ok(target.with_file_name(format!(".{name}.lock")))
}

/// Replaces `path` with `contents`: a temporary file in the same directory
/// is written and flushed to disk, then renamed over the file. When `path`
/// is a symbolic link, the file it points to is replaced (the temporary
/// file is written beside it) and the link stays.
///
/// `expected` is what the file held when the changes were checked (`None`:
/// it did not exist). It is compared again just before the rename, so that
/// an edit made meanwhile is reported as a conflict rather than lost. (The
/// window that remains is the rename itself.)
pub(crate) fn replace(
    path: &Path,
    contents: &[u8],
    expected: Option<&[u8]>,
) -> Result<(), ProviderError> {
    let shown = path;
    let target = local_state::write_target(path)?;
    let path = target.as_path();
    let io = |what: &str, e: std::io::Error| {
        ProviderError::Io(format!("cannot {what} {}: {e}", path.display()))
    };
    let dir = path
        .parent()
        .ok_or_else(|| ProviderError::Io(format!("{} has no directory", path.display())))?;
    fs::create_dir_all(dir).map_err(|e| io("create the directory of", e))?;

    let (tmp_path, mut tmp) =
        create_temp(dir, path).map_err(|e| io("create a temporary file for", e))?;
    let result = (|| {
        tmp.write_all(contents)
            .map_err(|e| io("write a temporary file for", e))?;
        if let Ok(meta) = fs::metadata(path) {
            // Keep the mode the administrator gave the file (the name
            // server must still be able to read it).
            tmp.set_permissions(meta.permissions())
                .map_err(|e| io("set permissions for", e))?;
        }
        tmp.sync_all()
            .map_err(|e| io("flush a temporary file for", e))?;
        drop(tmp);
        if read(path)?.as_deref() != expected {
            return Err(ProviderError::Conflict(format!(
                "{} was changed by someone else while mailform was applying; nothing was \
                 written; run plan again",
                shown.display()
            )));
        }
        fs::rename(&tmp_path, path).map_err(|e| io("replace", e))?;
        sync_dir(dir);
        Ok(())
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp_path);
    }
    result
}

fn create_temp(dir: &Path, path: &Path) -> std::io::Result<(PathBuf, File)> {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let base = path
        .file_name()
        .map_or_else(|| "zone".into(), |n| n.to_string_lossy().into_owned());
    loop {
        // Hidden and not ending in `.zone`, so nothing takes it for a zone.
        let tmp = dir.join(format!(
            ".{base}.mailform-{}-{}.tmp",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        ));
        match OpenOptions::new().write(true).create_new(true).open(&tmp) {
            Ok(file) => return Ok((tmp, file)),
            Err(e) if e.kind() == ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(e),
        }
    }
}

/// Makes the rename durable. Best effort: the file is already in place, and
/// not every platform or file system can sync a directory.
fn sync_dir(dir: &Path) {
    #[cfg(unix)]
    if let Ok(d) = File::open(dir) {
        let _ = d.sync_all();
    }
    #[cfg(not(unix))]
    let _ = dir;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zone_names_cannot_escape_the_directory() {
        let dir = Path::new("/z");
        assert_eq!(
            zone_path(dir, "example.com").unwrap(),
            PathBuf::from("/z/example.com.zone")
        );
        for bad in ["", "../etc/passwd", "a/b", ".hidden", "a b", "a\0b"] {
            assert!(zone_path(dir, bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn replace_writes_and_leaves_no_temporary_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/example.com.zone");
        replace(&path, b"one\n", None).unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"one\n");
        replace(&path, b"two\n", Some(b"one\n")).unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"two\n");
        let names: Vec<_> = fs::read_dir(path.parent().unwrap())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, ["example.com.zone"]);
    }

    #[test]
    fn replace_refuses_when_the_file_changed_meanwhile() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("example.com.zone");
        fs::write(&path, b"edited by hand\n").unwrap();
        let err = replace(&path, b"new\n", Some(b"as read\n")).unwrap_err();
        assert!(matches!(err, ProviderError::Conflict(_)), "{err:?}");
        assert_eq!(fs::read(&path).unwrap(), b"edited by hand\n");
        let err = replace(&path, b"new\n", None).unwrap_err();
        assert!(matches!(err, ProviderError::Conflict(_)), "{err:?}");
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[cfg(unix)]
    #[test]
    fn replace_keeps_the_file_mode() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("example.com.zone");
        fs::write(&path, b"old\n").unwrap();
        fs::set_permissions(&path, fs::Permissions::from_mode(0o640)).unwrap();
        replace(&path, b"new\n", Some(b"old\n")).unwrap();
        let mode = fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o640);
    }
}
