//! The Dovecot passwd-file (`dovecot-users`): one line per mailbox,
//! `user:password:uid:gid:gecos:home:shell:extra_fields`, and the rules for
//! the password hashes mailform accepts into it.
//!
//! Dovecot ignores empty lines and lines starting with `#`; `gecos` and
//! `shell` are unused by Dovecot, so the display name lives in `gecos`;
//! `extra_fields` is a space-separated list of `key=value` passdb/userdb
//! fields, where `nologin` (present at all, whatever its value) refuses
//! sign-in and `reason` is the message given instead.

use mailform_contract::{InitialPassword, MailboxState, ProviderError};

/// The hash schemes a new mailbox's password may be given in.
pub(crate) const SCHEMES: [&str; 5] = [
    "SHA512-CRYPT",
    "SHA256-CRYPT",
    "BLF-CRYPT",
    "ARGON2ID",
    "ARGON2I",
];

/// One piece of a parsed passwd-file, in file order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Item {
    /// A comment or blank line, kept byte for byte.
    Other { raw: String },
    Entry {
        /// 1-based line number.
        line: usize,
        entry: Box<PasswdEntry>,
        raw: String,
    },
}

/// One user line. Fields that mailform does not manage (uid, gid, home,
/// shell, other extra fields) are carried so that rewriting the line keeps
/// them.
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct PasswdEntry {
    pub user: String,
    /// `{SCHEME}hash`; never printed (see the `Debug` impl).
    pub password: String,
    pub uid: String,
    pub gid: String,
    /// Percent-encoded display name (see [`encode_gecos`]).
    pub gecos: String,
    pub home: String,
    pub shell: String,
    /// `key=value` tokens of the extra-fields column, in order.
    pub extra: Vec<String>,
    /// How many `:`-separated fields the line had; fewer than two means it
    /// has no password field at all.
    pub fields: usize,
}

impl std::fmt::Debug for PasswdEntry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The hash is a secret too: it must not reach a log or a test failure.
        f.debug_struct("PasswdEntry")
            .field("user", &self.user)
            .field("password", &"***")
            .field("gecos", &self.gecos)
            .field("extra", &self.extra)
            .finish_non_exhaustive()
    }
}

fn strip_eol(line: &str) -> &str {
    let line = line.strip_suffix('\n').unwrap_or(line);
    line.strip_suffix('\r').unwrap_or(line)
}

/// Splits a passwd-file into items; never fails, the caller judges entries.
pub(crate) fn parse(content: &str) -> Vec<Item> {
    content
        .split_inclusive('\n')
        .enumerate()
        .map(|(i, raw)| {
            let text = strip_eol(raw);
            if text.trim().is_empty() || text.starts_with('#') {
                return Item::Other {
                    raw: raw.to_string(),
                };
            }
            // The extra-fields column may itself contain `:` (for example
            // `userdb_mail=maildir:~/Maildir`), so only the first seven split.
            let parts: Vec<&str> = text.splitn(8, ':').collect();
            let field = |n: usize| parts.get(n).copied().unwrap_or("").to_string();
            Item::Entry {
                line: i + 1,
                entry: Box::new(PasswdEntry {
                    user: field(0),
                    password: field(1),
                    uid: field(2),
                    gid: field(3),
                    gecos: field(4),
                    home: field(5),
                    shell: field(6),
                    extra: field(7).split_whitespace().map(str::to_string).collect(),
                    fields: parts.len(),
                }),
                raw: raw.to_string(),
            }
        })
        .collect()
}

impl PasswdEntry {
    /// A line for a new mailbox.
    pub(crate) fn new(
        user: &str,
        password: String,
        uid: Option<u32>,
        gid: Option<u32>,
    ) -> PasswdEntry {
        PasswdEntry {
            user: user.to_string(),
            password,
            uid: uid.map(|u| u.to_string()).unwrap_or_default(),
            gid: gid.map(|g| g.to_string()).unwrap_or_default(),
            gecos: String::new(),
            home: String::new(),
            shell: String::new(),
            extra: Vec::new(),
            fields: 8,
        }
    }

    /// The line as mailform writes it, with its newline.
    pub(crate) fn render(&self) -> String {
        format!(
            "{}:{}:{}:{}:{}:{}:{}:{}\n",
            self.user,
            self.password,
            self.uid,
            self.gid,
            self.gecos,
            self.home,
            self.shell,
            self.extra.join(" ")
        )
    }

    pub(crate) fn display_name(&self) -> Option<String> {
        let name = decode_gecos(&self.gecos);
        (!name.is_empty()).then_some(name)
    }

    pub(crate) fn set_display_name(&mut self, name: Option<&str>) {
        self.gecos = encode_gecos(name.unwrap_or(""));
    }

    pub(crate) fn state(&self) -> MailboxState {
        if !self.extra.iter().any(|t| is_field(t, "nologin")) {
            MailboxState::Active
        } else if self.extra.iter().any(|t| t == "reason=offboarded") {
            MailboxState::Offboarded
        } else {
            // Sign-in is refused for a reason mailform did not write; the
            // closest contract state is "suspended".
            MailboxState::Suspended
        }
    }

    pub(crate) fn set_state(&mut self, state: MailboxState) {
        self.extra
            .retain(|t| !is_field(t, "nologin") && !is_field(t, "reason"));
        if state != MailboxState::Active {
            self.extra.push("nologin=y".to_string());
            self.extra.push(format!("reason={}", state.as_str()));
        }
    }
}

fn is_field(token: &str, name: &str) -> bool {
    token == name
        || token
            .strip_prefix(name)
            .is_some_and(|rest| rest.starts_with('='))
}

/// Makes a display name safe for the gecos column: `:` would end the
/// field and a newline the line, so those, `%` and other control characters
/// are percent-encoded. Dovecot never reads gecos, so the encoding costs
/// nothing and lets the name read back exactly.
pub(crate) fn encode_gecos(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    for c in name.chars() {
        if c == '%' || c == ':' || c.is_control() {
            let mut buf = [0u8; 4];
            for b in c.encode_utf8(&mut buf).bytes() {
                out.push_str(&format!("%{b:02X}"));
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// The inverse of [`encode_gecos`]; a `%` not followed by two hex digits is
/// taken literally, so hand-written names read as they are.
pub(crate) fn decode_gecos(gecos: &str) -> String {
    let bytes = gecos.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            // Checked digit by digit: `from_str_radix` would also take a sign.
            if let Some(v) = bytes
                .get(i + 1..i + 3)
                .filter(|h| h.iter().all(u8::is_ascii_hexdigit))
                .and_then(|h| std::str::from_utf8(h).ok())
                .and_then(|h| u8::from_str_radix(h, 16).ok())
            {
                out.push(v);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8(out).unwrap_or_else(|_| gecos.to_string())
}

/// Checks the initial password of a new mailbox and gives the value to
/// write. Errors name the mailbox and the fix and never any part of the
/// value.
pub(crate) fn check_password(
    address: &str,
    password: Option<&InitialPassword>,
) -> Result<String, ProviderError> {
    let fix = format!(
        "generate one with `doveadm pw -s SHA512-CRYPT` and set it as the mailbox's \
         `password_hash` (for example `${{file:secrets/{address}.hash}}`); accepted schemes: {}",
        SCHEMES.join(", ")
    );
    let secret = match password {
        Some(InitialPassword::Hash(s)) => s,
        Some(InitialPassword::Plain(_) | InitialPassword::Generate) => {
            return Err(ProviderError::Rejected(format!(
                "mailbox {address} has a clear-text initial password, which the postfix provider \
                 never stores; {fix}"
            )))
        }
        None => {
            return Err(ProviderError::Rejected(format!(
                "mailbox {address} has no initial password, and the postfix provider cannot create \
                 a mailbox nobody can sign in to; {fix}"
            )))
        }
    };
    let value = secret.expose().trim();
    let parsed = value.strip_prefix('{').and_then(|v| v.split_once('}'));
    let ok = parsed.and_then(|(scheme, hash)| {
        let scheme = scheme.to_ascii_uppercase();
        let known = SCHEMES.contains(&scheme.as_str());
        (known && hash_looks_right(&scheme, hash)).then(|| format!("{{{scheme}}}{hash}"))
    });
    ok.ok_or_else(|| {
        ProviderError::Rejected(format!(
            "the initial password of mailbox {address} is not a password hash written as \
             `{{SCHEME}}hash` in an accepted scheme (a clear-text password is never accepted); \
             {fix}"
        ))
    })
}

fn hash_looks_right(scheme: &str, hash: &str) -> bool {
    let prefixes: &[&str] = match scheme {
        "SHA512-CRYPT" => &["$6$"],
        "SHA256-CRYPT" => &["$5$"],
        "BLF-CRYPT" => &["$2y$", "$2b$", "$2a$"],
        "ARGON2ID" => &["$argon2id$"],
        "ARGON2I" => &["$argon2i$"],
        _ => &[],
    };
    // The crypt(3) and PHC string alphabets; anything else (a `:` above all)
    // would corrupt the passwd-file line or is not a hash.
    let charset_ok = hash
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "./$=,+-".contains(c));
    prefixes.iter().any(|p| hash.starts_with(p)) && hash.len() >= 20 && charset_ok
}

#[cfg(test)]
mod tests {
    use super::*;

    const HASH: &str = "{SHA512-CRYPT}$6$HQYnUlm8GpX0Nx0U$o3bbkCjSEQajl39YjEDqMBaOYQwKt3al/hT3ImFV9y5Uhl7gJDXh8V7M2lnPA2CYVDk9kc8VYRX7h8EwzbZdw/";

    #[test]
    fn parses_and_renders_lines() {
        let text = "# users\n\nalice@example.com:{SHA512-CRYPT}$6$x:5000:5000:Alice:/home/a::userdb_mail=maildir:~/Maildir nologin=y reason=suspended\nbob@example.com:{PLAIN}x\n";
        let items = parse(text);
        assert!(matches!(items[0], Item::Other { .. }));
        let Item::Entry { line, entry, .. } = &items[2] else {
            panic!()
        };
        assert_eq!(*line, 3);
        assert_eq!(entry.uid, "5000");
        assert_eq!(entry.home, "/home/a");
        assert_eq!(
            entry.extra,
            vec![
                "userdb_mail=maildir:~/Maildir",
                "nologin=y",
                "reason=suspended"
            ]
        );
        assert_eq!(entry.state(), MailboxState::Suspended);
        assert_eq!(entry.display_name().as_deref(), Some("Alice"));
        let Item::Entry { entry: bob, .. } = &items[3] else {
            panic!()
        };
        assert_eq!(bob.fields, 2);
        assert_eq!(bob.render(), "bob@example.com:{PLAIN}x::::::\n");
    }

    #[test]
    fn states_round_trip_and_keep_other_fields() {
        let mut e = PasswdEntry::new("a@example.com", HASH.into(), Some(8), None);
        e.extra.push("userdb_quota_rule=*:storage=1G".into());
        assert_eq!(e.state(), MailboxState::Active);
        for s in [
            MailboxState::Offboarded,
            MailboxState::Suspended,
            MailboxState::Active,
        ] {
            e.set_state(s);
            let Item::Entry { entry, .. } = &parse(&e.render())[0] else {
                panic!()
            };
            assert_eq!(entry.state(), s);
            assert_eq!(entry.extra[0], "userdb_quota_rule=*:storage=1G");
            assert_eq!(entry.uid, "8");
            assert_eq!(entry.gid, "");
        }
        e.set_state(MailboxState::Offboarded);
        assert!(e.render().ends_with(" nologin=y reason=offboarded\n"));
        // Dovecot refuses sign-in when `nologin` is present at all.
        e.extra = vec!["nologin".into(), "reason=holiday".into()];
        assert_eq!(e.state(), MailboxState::Suspended);
    }

    #[test]
    fn gecos_escapes_separators() {
        for name in ["Alice Smith", "Ops: on call", "a\nb", "100% 张三", "%3A"] {
            let enc = encode_gecos(name);
            assert!(!enc.contains(':') && !enc.contains('\n'), "{enc}");
            assert_eq!(decode_gecos(&enc), name);
        }
        assert_eq!(decode_gecos("50% off"), "50% off");
        assert_eq!(decode_gecos("trailing %"), "trailing %");
        assert_eq!(decode_gecos("%4"), "%4");
    }

    #[test]
    fn debug_hides_the_hash() {
        let e = PasswdEntry::new("a@example.com", HASH.into(), None, None);
        assert!(!format!("{e:?}").contains("$6$"));
    }

    #[test]
    fn password_rules() {
        let ok = |v: &str| {
            check_password(
                "alice@example.com",
                Some(&InitialPassword::Hash(mailform_contract::Secret::new(v))),
            )
        };
        assert_eq!(ok(HASH).unwrap(), HASH);
        assert_eq!(
            ok(&HASH.replace("SHA512-CRYPT", "sha512-crypt")).unwrap(),
            HASH
        );
        for good in [
            "{SHA256-CRYPT}$5$abcdefgh$0123456789abcdefghijklmnopqrstuvwxyzABCDEF",
            "{BLF-CRYPT}$2y$05$abcdefghijklmnopqrstuuGvbnmD.KMZH1b/sR8pYV6CbNbvzcXzy",
            "{ARGON2ID}$argon2id$v=19$m=65536,t=3,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNo",
            "{ARGON2I}$argon2i$v=19$m=32768,t=4,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNo",
        ] {
            assert!(ok(good).is_ok(), "{good}");
        }
        let bad = [
            "hunter2-is-my-password",
            "{PLAIN}hunter2-is-my-password",
            "{SHA512-CRYPT}hunter2-is-my-password",
            "{SHA512-CRYPT}$6$salt$has:colon:inside:it",
            "{MD5-CRYPT}$1$abcdefgh$abcdefghijklmnopqrstuv",
            "{SHA512-CRYPT}$6$short",
            "",
        ];
        for value in bad {
            let err = ok(value).unwrap_err();
            let msg = err.to_string();
            assert!(matches!(err, ProviderError::Rejected(_)), "{msg}");
            assert!(msg.contains("alice@example.com"), "{msg}");
            assert!(msg.contains("doveadm pw"), "{msg}");
            assert!(!msg.contains("hunter2"), "{msg}");
            if !value.is_empty() {
                assert!(!msg.contains(value), "{msg}");
            }
        }
        let missing = check_password("alice@example.com", None)
            .unwrap_err()
            .to_string();
        assert!(missing.contains("alice@example.com") && missing.contains("password_hash"));
    }
}
