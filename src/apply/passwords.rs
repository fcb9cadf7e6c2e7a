//! Initial passwords the applier makes for `initial_password: generate`.
//!
//! Each is 24 characters drawn without bias from 56 unambiguous letters
//! and digits (about 139 bits) from the operating system's random source,
//! drawn again until it holds an upper-case letter, a lower-case letter and
//! a digit (what complexity rules such as Entra ID's ask for).
//! It is appended to the file named by `apply --password-file` — created
//! with mode 0600, refused if others can read it — and synced to disk
//! *before* the provider is asked to create the mailbox, so no mailbox is
//! ever created with a password nobody holds. If the creation then fails,
//! the line stays; the next apply appends a new one, and the last line for
//! an address is the one that counts.

use std::io::Write;
use std::path::{Path, PathBuf};

use mailform_contract::{InitialPassword, MailChange, Secret};

/// No `0/O`, `1/l/I`: passwords are read off a screen and typed.
const ALPHABET: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789";
const LENGTH: usize = 24;

/// A fresh random password with upper-case letters, lower-case letters
/// and digits — the three classes that complexity rules such as Entra
/// ID's "three of four" accept — drawn again until it has all three.
pub fn generate() -> Result<Secret, String> {
    loop {
        let p = draw()?;
        let has = |f: fn(&u8) -> bool| p.as_bytes().iter().any(f);
        if has(u8::is_ascii_uppercase) && has(u8::is_ascii_lowercase) && has(u8::is_ascii_digit) {
            return Ok(Secret::new(p));
        }
    }
}

fn draw() -> Result<String, String> {
    let mut out = String::with_capacity(LENGTH);
    // Rejection sampling: only bytes below the largest multiple of the
    // alphabet's size are used, so every character is equally likely.
    let limit = 256 - (256 % ALPHABET.len());
    let mut buf = [0u8; 64];
    while out.len() < LENGTH {
        getrandom::fill(&mut buf).map_err(|e| format!("no random source: {e}"))?;
        for b in buf {
            if (b as usize) < limit && out.len() < LENGTH {
                out.push(ALPHABET[b as usize % ALPHABET.len()] as char);
            }
        }
    }
    Ok(out)
}

/// Addresses of the mailboxes a list of changes creates with a generated
/// password.
pub fn to_generate(changes: &[MailChange]) -> Vec<&str> {
    changes
        .iter()
        .filter_map(|c| match c {
            MailChange::CreateMailbox {
                new,
                password: Some(InitialPassword::Generate),
            } => Some(new.address.as_str()),
            _ => None,
        })
        .collect()
}

/// The file generated passwords are written to.
#[derive(Debug, Clone)]
pub struct PasswordFile {
    path: PathBuf,
}

impl PasswordFile {
    /// Checks that `path` can be written and is not readable by others.
    pub fn new(path: &Path) -> Result<PasswordFile, String> {
        if let Ok(meta) = std::fs::metadata(path) {
            #[cfg(unix)]
            {
                use std::os::unix::fs::PermissionsExt;
                let mode = meta.permissions().mode();
                if mode & 0o077 != 0 {
                    return Err(format!(
                        "{} can be read by other users (mode {:o}); run `chmod 600 {}` or name a new file",
                        path.display(),
                        mode & 0o777,
                        path.display()
                    ));
                }
            }
            if !meta.is_file() {
                return Err(format!("{} is not a file", path.display()));
            }
        } else if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            if !dir.is_dir() {
                return Err(format!(
                    "the directory of {} does not exist",
                    path.display()
                ));
            }
        }
        Ok(PasswordFile {
            path: path.to_path_buf(),
        })
    }

    /// Appends `address<TAB>password` and syncs it to disk.
    pub fn record(&self, address: &str, password: &Secret) -> Result<(), String> {
        let mut options = std::fs::OpenOptions::new();
        options.create(true).append(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(0o600);
        }
        let mut f = options
            .open(&self.path)
            .map_err(|e| format!("cannot open {}: {e}", self.path.display()))?;
        writeln!(f, "{address}\t{}", password.expose())
            .and_then(|_| f.sync_all())
            .map_err(|e| format!("cannot write {}: {e}", self.path.display()))
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// `changes` with every `Generate` replaced by a recorded fresh password.
pub fn fill(
    changes: &[MailChange],
    file: Option<&PasswordFile>,
) -> Result<Vec<MailChange>, String> {
    changes
        .iter()
        .map(|c| match c {
            MailChange::CreateMailbox {
                new,
                password: Some(InitialPassword::Generate),
            } => {
                let file = file.ok_or_else(|| {
                    format!(
                        "{} needs a generated password but no --password-file was given",
                        new.address
                    )
                })?;
                let secret = generate()?;
                file.record(&new.address, &secret)?;
                Ok(MailChange::CreateMailbox {
                    new: new.clone(),
                    password: Some(InitialPassword::Plain(secret)),
                })
            }
            other => Ok(other.clone()),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_are_long_unambiguous_complex_and_different() {
        let a = generate().unwrap();
        let b = generate().unwrap();
        assert_eq!(a.expose().len(), LENGTH);
        assert!(a.expose().bytes().all(|c| ALPHABET.contains(&c)));
        assert_ne!(a.expose(), b.expose());
        // Without the redraw, about 1 in 40 would lack a digit.
        for _ in 0..2000 {
            let p = generate().unwrap();
            let p = p.expose().as_bytes();
            assert!(p.iter().any(u8::is_ascii_digit));
            assert!(p.iter().any(u8::is_ascii_uppercase));
            assert!(p.iter().any(u8::is_ascii_lowercase));
        }
    }

    #[cfg(unix)]
    #[test]
    fn the_file_is_private_and_appended_to() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("pw.txt");
        let f = PasswordFile::new(&path).unwrap();
        f.record("a@example.com", &Secret::new("one")).unwrap();
        f.record("b@example.com", &Secret::new("two")).unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            "a@example.com\tone\nb@example.com\ttwo\n"
        );
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        assert!(PasswordFile::new(&path).unwrap_err().contains("chmod 600"));
    }
}
