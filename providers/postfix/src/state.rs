//! One domain's mailboxes, aliases and groups as the five files hold them:
//! reading the files into a model (with what must be repaired where the
//! files disagree), and writing the model back into the files. Changes to
//! the model are in `changes.rs`.
//!
//! Only the domain's own entries are ever rewritten: the rest of every file
//! (other domains, comments, entries this provider does not manage such as a
//! catch-all `@example.com`) is carried through byte for byte.

use std::path::Path;

use mailform_contract::name::normalize_address;
use mailform_contract::{Alias, Group, MailDomainState, Mailbox, ProviderError};
use serde::{Deserialize, Serialize};

use crate::config::Config;
use crate::passwd::{self, PasswdEntry};
use crate::tables::{self, Owned, Segment, GROUP_MARKER};

/// The files of an estate, in the order they are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FileId {
    Users,
    MailboxMaps,
    AliasMaps,
    RecipientAccess,
    MailboxDomains,
}

impl FileId {
    pub(crate) const ALL: [FileId; 5] = [
        FileId::Users,
        FileId::MailboxMaps,
        FileId::AliasMaps,
        FileId::RecipientAccess,
        FileId::MailboxDomains,
    ];

    pub(crate) fn name(self) -> &'static str {
        match self {
            FileId::Users => "dovecot-users",
            FileId::MailboxMaps => "virtual_mailbox_maps",
            FileId::AliasMaps => "virtual_alias_maps",
            FileId::RecipientAccess => "recipient_access",
            FileId::MailboxDomains => "virtual_mailbox_domains",
        }
    }

    /// Whether Postfix reads the file through `postmap`.
    pub(crate) fn is_map(self) -> bool {
        self != FileId::Users
    }

    fn index(self) -> usize {
        self as usize
    }
}

/// The `recipient_access` action of a group closed to outside senders; the
/// restriction class of that name is defined in main.cf (see the crate docs).
pub(crate) const INTERNAL_ONLY: &str = "internal_only";

/// The JSON in a group's marker comment.
#[derive(Debug, Default, Serialize, Deserialize)]
struct GroupMarker {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    display_name: Option<String>,
}

/// A mailbox and the parts of its lines mailform does not manage.
#[derive(Debug, Clone)]
pub(crate) struct MailboxRecord {
    pub mailbox: Mailbox,
    pub maildir: String,
    pub passwd: PasswdEntry,
}

/// A domain's objects, in file order (new ones last).
#[derive(Debug, Clone, Default)]
pub(crate) struct Model {
    pub domain: String,
    /// Whether `virtual_mailbox_domains` lists the domain.
    pub listed: bool,
    pub mailboxes: Vec<MailboxRecord>,
    pub aliases: Vec<Alias>,
    pub groups: Vec<Group>,
}

/// The parsed files of an estate seen from one domain.
#[derive(Debug, Clone)]
pub(crate) struct Estate {
    segments: [Vec<Segment>; 5],
    pub model: Model,
    /// What the files disagree on that writing the model back repairs, one
    /// line each for the plan. Empty when the files are consistent.
    pub repairs: Vec<String>,
    /// `recipient_access` entries of the domain's addresses that are not
    /// groups: segment index, address, value.
    access_others: Vec<(usize, String, String)>,
}

/// Where a parse error points.
struct Loc<'a> {
    dir: &'a Path,
    file: FileId,
}

impl Loc<'_> {
    fn err(&self, line: usize, msg: impl std::fmt::Display) -> ProviderError {
        ProviderError::Parse(format!(
            "{}:{line}: {msg}",
            self.dir.join(self.file.name()).display()
        ))
    }
}

/// The lower-cased address when `key` is `local@domain`.
pub(crate) fn domain_address(key: &str, domain: &str) -> Option<String> {
    let key = key.to_ascii_lowercase();
    let (local, d) = key.rsplit_once('@')?;
    (d == domain && !local.is_empty()).then_some(key)
}

/// Whether `key` concerns the domain at all (an address in it, the
/// catch-all `@domain`, or the domain itself).
fn in_domain(key: &str, domain: &str) -> bool {
    let key = key.to_ascii_lowercase();
    key == domain || key.rsplit_once('@').is_some_and(|(_, d)| d == domain)
}

fn split_targets(value: &str) -> Vec<String> {
    value
        .split(|c: char| c == ',' || c.is_whitespace())
        .filter(|t| !t.is_empty())
        .map(normalize_address)
        .collect()
}

fn alias_text(address: &str, targets: &[String]) -> String {
    format!("{address} {}\n", targets.join(", "))
}

fn group_text(group: &Group) -> String {
    let marker = GroupMarker {
        display_name: group.display_name.clone(),
    };
    let json = serde_json::to_string(&marker).unwrap_or_else(|_| "{}".to_string());
    format!(
        "{GROUP_MARKER} {json}\n{}",
        alias_text(&group.address, &group.members)
    )
}

fn map_text(key: &str, value: &str) -> String {
    format!("{key} {value}\n")
}

fn other(raw: String) -> Segment {
    Segment { raw, owned: None }
}

fn owned(raw: String, key: &str, canon: String) -> Segment {
    Segment {
        raw,
        owned: Some(Owned {
            key: key.to_string(),
            canon,
        }),
    }
}

/// Parses a table, turning entries of the domain with no value into errors
/// (postmap refuses them too) and returning the domain's entries by
/// lower-cased key, with their index in `segments`.
fn load_table(
    content: &str,
    markers: bool,
    domain: &str,
    loc: &Loc,
    segments: &mut Vec<Segment>,
) -> Result<Vec<(usize, tables::Entry)>, ProviderError> {
    let mut mine: Vec<(usize, tables::Entry)> = Vec::new();
    for item in tables::parse(content, markers) {
        match item {
            tables::Item::Other { raw } => segments.push(other(raw)),
            tables::Item::Entry(entry) => {
                if in_domain(&entry.key, domain) && entry.value.is_empty() {
                    return Err(loc.err(
                        entry.line,
                        format!(
                            "`{}` has no value; a lookup table line is `key value`",
                            entry.key
                        ),
                    ));
                }
                let key = entry.key.to_ascii_lowercase();
                if key == domain || domain_address(&key, domain).is_some() {
                    if let Some((_, first)) =
                        mine.iter().find(|(_, e)| e.key.eq_ignore_ascii_case(&key))
                    {
                        return Err(loc.err(
                            entry.line,
                            format!(
                                "{key} is listed again (first on line {}); remove one",
                                first.line
                            ),
                        ));
                    }
                    // A placeholder the caller replaces once it knows
                    // what the entry is.
                    segments.push(other(entry.raw.clone()));
                    mine.push((segments.len() - 1, entry));
                } else {
                    segments.push(other(entry.raw));
                }
            }
        }
    }
    Ok(mine)
}

impl Estate {
    /// Reads the domain's objects from the files' `contents` (indexed like
    /// [`FileId::ALL`]; a missing file is empty). `dir` only names files in
    /// errors. Any line of the domain that cannot be understood fails the
    /// whole read, and so does a disagreement between the files that has no
    /// one repair; the others are read as they should be and listed in
    /// [`Estate::repairs`].
    pub(crate) fn load(
        domain: &str,
        contents: &[String; 5],
        dir: &Path,
        config: &Config,
    ) -> Result<Estate, ProviderError> {
        let mut repairs = Vec::new();
        let mut segments: [Vec<Segment>; 5] = Default::default();
        let mut model = Model {
            domain: domain.to_string(),
            ..Model::default()
        };
        let loc = |file| Loc { dir, file };
        let text = |file: FileId| contents[file.index()].as_str();

        // virtual_mailbox_domains: only whether the domain is listed.
        let file = FileId::MailboxDomains;
        let segs = &mut segments[file.index()];
        for (idx, entry) in load_table(text(file), false, domain, &loc(file), segs)? {
            if entry.key.eq_ignore_ascii_case(domain) {
                model.listed = true;
                segs[idx] = owned(entry.raw, domain, map_text(domain, "OK"));
            }
        }

        // virtual_mailbox_maps: one maildir per mailbox.
        let file = FileId::MailboxMaps;
        let segs = &mut segments[file.index()];
        let mut maildirs: Vec<(usize, String, String)> = Vec::new();
        for (idx, entry) in load_table(text(file), false, domain, &loc(file), segs)? {
            let Some(address) = domain_address(&entry.key, domain) else {
                continue;
            };
            if entry.value.contains(char::is_whitespace) {
                return Err(loc(file).err(
                    entry.line,
                    format!("the maildir of {address} must be one path without spaces"),
                ));
            }
            segs[idx] = owned(entry.raw, &address, map_text(&address, &entry.value));
            maildirs.push((entry.line, address, entry.value));
        }

        // dovecot-users: one line per mailbox.
        let file = FileId::Users;
        let mut users: Vec<(usize, PasswdEntry)> = Vec::new();
        for item in passwd::parse(text(file)) {
            let segs = &mut segments[file.index()];
            match item {
                passwd::Item::Other { raw } => segs.push(other(raw)),
                passwd::Item::Entry { line, entry, raw } => {
                    let Some(address) = domain_address(&entry.user, domain) else {
                        segs.push(other(raw));
                        continue;
                    };
                    if entry.fields < 2 {
                        return Err(loc(file).err(
                            line,
                            format!("{address} has no password field; a line is `user:password:uid:gid:gecos:home:shell:extra_fields`"),
                        ));
                    }
                    if let Some((first, _)) = users.iter().find(|(_, u)| u.user == address) {
                        return Err(loc(file).err(
                            line,
                            format!(
                                "{address} is listed again (first on line {first}); remove one"
                            ),
                        ));
                    }
                    let mut entry = *entry;
                    entry.user = address.clone();
                    segs.push(owned(raw, &address, entry.render()));
                    users.push((line, entry));
                }
            }
        }

        for (line, address, _) in &maildirs {
            if !users.iter().any(|(_, u)| u.user == *address) {
                return Err(loc(FileId::MailboxMaps).err(
                    *line,
                    format!(
                        "{address} has a maildir here but no line in dovecot-users, so nobody \
                         can sign in to it; add its dovecot-users line or remove this entry"
                    ),
                ));
            }
        }
        // A sign-in line without a maildir entry: the mailbox was created
        // and its maildir entry lost (Postfix rejects its mail), so the entry
        // the provider would write for it is the repair.
        for (line, user) in &users {
            if !maildirs.iter().any(|(_, a, _)| *a == user.user) {
                let maildir = config.maildir_for(&user.user).map_err(|why| {
                    loc(FileId::Users).err(
                        *line,
                        format!(
                            "{} can sign in but has no virtual_mailbox_maps entry, so it receives \
                             no mail, and its entry cannot be made again: {why}",
                            user.user
                        ),
                    )
                })?;
                repairs.push(format!(
                    "repair virtual_mailbox_maps: add `{} {maildir}` (dovecot-users line \
                     {line} has no maildir entry, so Postfix rejects its mail)",
                    user.user
                ));
                maildirs.push((0, user.user.clone(), maildir));
            }
        }
        for (_, address, maildir) in maildirs {
            let passwd = users
                .iter()
                .find(|(_, u)| u.user == address)
                .map(|(_, u)| u.clone())
                .expect("checked above");
            model.mailboxes.push(MailboxRecord {
                mailbox: Mailbox {
                    id: None,
                    address,
                    display_name: passwd.display_name(),
                    state: passwd.state(),
                    successor: None,
                    aliases: Vec::new(),
                    kind: Default::default(),
                    delegates: vec![],
                },
                maildir,
                passwd,
            });
        }

        // virtual_alias_maps: successors, groups (marked) and aliases.
        let file = FileId::AliasMaps;
        let segs = &mut segments[file.index()];
        for (idx, entry) in load_table(text(file), true, domain, &loc(file), segs)? {
            let Some(address) = domain_address(&entry.key, domain) else {
                continue;
            };
            let targets = split_targets(&entry.value);
            if targets.is_empty() {
                return Err(loc(file).err(entry.line, format!("{address} has no targets")));
            }
            if let Some(rec) = model
                .mailboxes
                .iter_mut()
                .find(|m| m.mailbox.address == address)
            {
                if let Some((marker_line, _)) = entry.marker {
                    return Err(loc(file).err(
                        marker_line,
                        format!("{address} is a mailbox and cannot also be a group; remove this marker or the mailbox"),
                    ));
                }
                // Postfix rewrites through virtual_alias_maps before
                // delivery, so an entry for a mailbox is where its new
                // mail goes: the successor.
                let [successor] = &targets[..] else {
                    return Err(loc(file).err(
                        entry.line,
                        format!(
                            "{address} is a mailbox, so this entry is read as its successor and \
                             must name exactly one address (it names {})",
                            targets.len()
                        ),
                    ));
                };
                rec.mailbox.successor = Some(successor.clone());
                segs[idx] = owned(entry.raw, &address, alias_text(&address, &targets));
            } else if let Some((marker_line, json)) = &entry.marker {
                let marker: GroupMarker = serde_json::from_str(json).map_err(|e| {
                    loc(file).err(
                        *marker_line,
                        format!("the group marker of {address} is not valid JSON ({e}); expected `{GROUP_MARKER} {{\"display_name\":\"...\"}}`"),
                    )
                })?;
                let group = Group {
                    id: None,
                    address: address.clone(),
                    display_name: marker.display_name.filter(|n| !n.is_empty()),
                    members: targets,
                    aliases: Vec::new(),
                    allow_external: true,
                    kind: Default::default(),
                };
                segs[idx] = owned(entry.raw, &address, group_text(&group));
                model.groups.push(group);
            } else {
                segs[idx] = owned(entry.raw, &address, alias_text(&address, &targets));
                model.aliases.push(Alias { address, targets });
            }
        }

        // recipient_access: which groups are closed to outside senders.
        let file = FileId::RecipientAccess;
        let segs = &mut segments[file.index()];
        let mut access_others = Vec::new();
        for (idx, entry) in load_table(text(file), false, domain, &loc(file), segs)? {
            let Some(address) = domain_address(&entry.key, domain) else {
                continue;
            };
            let Some(group) = model.groups.iter_mut().find(|g| g.address == address) else {
                // Access rules for other addresses are the admin's own,
                // unless a group of that address is created (see render).
                access_others.push((idx, address, entry.value));
                continue;
            };
            if !entry.value.eq_ignore_ascii_case(INTERNAL_ONLY) {
                return Err(loc(file).err(
                    entry.line,
                    format!(
                        "{address} is a mailform group, so its entry must be `{INTERNAL_ONLY}` \
                         (closed to outside senders) or absent (open); found `{}`",
                        entry.value
                    ),
                ));
            }
            group.allow_external = false;
            segs[idx] = owned(entry.raw, &address, map_text(&address, INTERNAL_ONLY));
        }

        if !model.mailboxes.is_empty() && !model.listed {
            repairs.push(format!(
                "repair virtual_mailbox_domains: list {domain} (missing, so Postfix rejects the \
                 mail of its {} mailbox(es))",
                model.mailboxes.len()
            ));
        }

        Ok(Estate {
            segments,
            model,
            repairs,
            access_others,
        })
    }

    /// The new contents of every file, indexed like [`FileId::ALL`].
    pub(crate) fn render(&self) -> [String; 5] {
        let m = &self.model;
        let mut wanted: [Vec<(String, String)>; 5] = Default::default();
        let has_objects = !(m.mailboxes.is_empty() && m.aliases.is_empty() && m.groups.is_empty());
        // Listed once it has a mailbox; unlisted only once nothing of the
        // domain is left, since aliases and groups of a listed domain stop
        // working when the listing goes.
        if !m.mailboxes.is_empty() || (m.listed && has_objects) {
            wanted[FileId::MailboxDomains.index()]
                .push((m.domain.clone(), map_text(&m.domain, "OK")));
        }
        for rec in &m.mailboxes {
            let address = &rec.mailbox.address;
            wanted[FileId::MailboxMaps.index()]
                .push((address.clone(), map_text(address, &rec.maildir)));
            wanted[FileId::Users.index()].push((address.clone(), rec.passwd.render()));
            if let Some(successor) = &rec.mailbox.successor {
                wanted[FileId::AliasMaps.index()].push((
                    address.clone(),
                    alias_text(address, std::slice::from_ref(successor)),
                ));
            }
        }
        for alias in &m.aliases {
            wanted[FileId::AliasMaps.index()].push((
                alias.address.clone(),
                alias_text(&alias.address, &alias.targets),
            ));
        }
        for group in &m.groups {
            wanted[FileId::AliasMaps.index()].push((group.address.clone(), group_text(group)));
            if !group.allow_external {
                wanted[FileId::RecipientAccess.index()].push((
                    group.address.clone(),
                    map_text(&group.address, INTERNAL_ONLY),
                ));
            }
        }
        let mut segments = self.segments.clone();
        // A group created where an access entry was left behind (its
        // virtual_alias_maps lines deleted by hand) owns that entry: written
        // as a second line it would make the next read fail as a duplicate.
        for (idx, address, value) in &self.access_others {
            if m.groups.iter().any(|g| g.address == *address) {
                segments[FileId::RecipientAccess.index()][*idx].owned = Some(Owned {
                    key: address.clone(),
                    canon: map_text(address, value),
                });
            }
        }
        std::array::from_fn(|i| tables::merge(&segments[i], &wanted[i]))
    }
}

impl Model {
    /// The domain's objects in contract form.
    pub(crate) fn state(&self) -> MailDomainState {
        MailDomainState {
            domain: self.domain.clone(),
            mailboxes: self.mailboxes.iter().map(|r| r.mailbox.clone()).collect(),
            aliases: self.aliases.clone(),
            groups: self.groups.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use mailform_contract::MailboxState;

    fn load(files: [&str; 5]) -> Result<Estate, ProviderError> {
        let contents = files.map(str::to_string);
        let config: Config = serde_json::from_str(r#"{"directory": "mail"}"#).unwrap();
        Estate::load("example.com", &contents, Path::new("/srv/mail"), &config)
    }

    const USERS: &str = "# dovecot users\nalice@example.com:{SHA512-CRYPT}$6$a$b:5000:5000:Alice Liddell:::\nbob@example.com:{SHA512-CRYPT}$6$c$d::::::nologin=y reason=offboarded\nzed@other.org:{SHA512-CRYPT}$6$e$f::::::\n";
    const VMM: &str = "alice@example.com example.com/alice/\nbob@example.com example.com/bob/\nzed@other.org other.org/zed/\n";
    const VAM: &str = "# aliases\nbob@example.com alice@example.com\ninfo@example.com alice@example.com, bob@example.com\n# mailform-group: {\"display_name\":\"Sales\"}\nsales@example.com alice@example.com\n@example.com alice@example.com\nx@other.org zed@other.org\n";
    const RA: &str = "sales@example.com internal_only\nabuse@example.com OK\n";
    const VMD: &str = "example.com OK\nother.org OK\n";

    #[test]
    fn reads_every_kind_of_object() {
        let estate = load([USERS, VMM, VAM, RA, VMD]).unwrap();
        let state = estate.model.state();
        assert!(estate.model.listed);
        assert_eq!(state.mailboxes.len(), 2);
        let alice = &state.mailboxes[0];
        assert_eq!(alice.display_name.as_deref(), Some("Alice Liddell"));
        assert_eq!(alice.state, MailboxState::Active);
        let bob = &state.mailboxes[1];
        assert_eq!(bob.state, MailboxState::Offboarded);
        assert_eq!(bob.successor.as_deref(), Some("alice@example.com"));
        assert_eq!(
            state.aliases,
            vec![Alias {
                address: "info@example.com".into(),
                targets: vec!["alice@example.com".into(), "bob@example.com".into()],
            }]
        );
        assert_eq!(state.groups.len(), 1);
        let sales = &state.groups[0];
        assert_eq!(sales.display_name.as_deref(), Some("Sales"));
        assert!(!sales.allow_external);
        assert_eq!(sales.members, vec!["alice@example.com".to_string()]);
        // Rendering an unchanged estate writes back the same bytes.
        assert_eq!(
            estate.render(),
            [USERS, VMM, VAM, RA, VMD].map(str::to_string)
        );
    }

    #[test]
    fn malformed_lines_of_the_domain_fail_with_file_and_line() {
        let cases: [([&str; 5], &str); 6] = [
            (
                ["", "a@example.com\n", "", "", ""],
                "virtual_mailbox_maps:1:",
            ),
            (
                [
                    "a@example.com:x:::::::\n",
                    "a@example.com x/\n",
                    "\n\ni@example.com ,\n",
                    "",
                    "",
                ],
                "virtual_alias_maps:3:",
            ),
            (
                ["a@example.com\n", "a@example.com x/\n", "", "", ""],
                "dovecot-users:1:",
            ),
            (
                ["", "a@example.com x/\n", "", "", ""],
                "virtual_mailbox_maps:1:",
            ),
            (
                [
                    "",
                    "",
                    "# mailform-group: {oops\ng@example.com a@example.com\n",
                    "",
                    "",
                ],
                "virtual_alias_maps:1:",
            ),
            (
                [
                    "",
                    "",
                    "# mailform-group: {}\ng@example.com a@example.com\n",
                    "g@example.com REJECT\n",
                    "",
                ],
                "recipient_access:1:",
            ),
        ];
        for (files, want) in cases {
            let err = load(files).unwrap_err();
            assert!(matches!(err, ProviderError::Parse(_)), "{err}");
            assert!(
                err.to_string().contains(&format!("/srv/mail/{want}")),
                "{err} (want {want})"
            );
        }
        // The same faults in another domain's lines are not this domain's business.
        let other = load([
            "z@other.org\n",
            "q@other.org\n",
            "i@other.org\n",
            "",
            "other.org\n",
        ]);
        assert!(other.is_ok());
        // A duplicate and a successor with two targets are errors too.
        let dup = load(["", "", "i@example.com a@b.c\nI@Example.com d@e.f\n", "", ""]).unwrap_err();
        assert!(dup.to_string().contains("virtual_alias_maps:2:"), "{dup}");
        let two = load([
            "a@example.com:x:::::::\n",
            "a@example.com x/\n",
            "a@example.com b@x.y c@x.y\n",
            "",
            "",
        ])
        .unwrap_err();
        assert!(two.to_string().contains("exactly one address"), "{two}");
    }

    #[test]
    fn disagreeing_files_read_as_what_they_should_be_with_the_repairs() {
        // Bob's maildir entry and the domain's listing are gone.
        let vmm = "alice@example.com example.com/alice/\nzed@other.org other.org/zed/\n";
        let estate = load([USERS, vmm, VAM, RA, "other.org OK\n"]).unwrap();
        let state = estate.model.state();
        assert_eq!(state.mailboxes.len(), 2);
        assert_eq!(estate.repairs.len(), 2, "{:?}", estate.repairs);
        assert!(estate.repairs[0].contains("`bob@example.com example.com/bob/`"));
        assert!(estate.repairs[1].contains("virtual_mailbox_domains"));
        let files = estate.render();
        assert_eq!(files[FileId::MailboxMaps.index()], "alice@example.com example.com/alice/\nbob@example.com example.com/bob/\nzed@other.org other.org/zed/\n");
        assert_eq!(
            files[FileId::MailboxDomains.index()],
            "other.org OK\nexample.com OK\n"
        );
        // Once written back, nothing is left to repair.
        let again = load(std::array::from_fn(|i| files[i].as_str())).unwrap();
        assert!(again.repairs.is_empty(), "{:?}", again.repairs);
        assert_eq!(again.render(), files);
    }

    #[test]
    fn a_group_created_again_owns_the_access_entry_left_behind() {
        let ra = "sales@example.com internal_only\nabuse@example.com OK\n";
        let config: Config = serde_json::from_str(r#"{"directory": "mail"}"#).unwrap();
        for (allow_external, want) in [
            (
                false,
                "sales@example.com internal_only\nabuse@example.com OK\n",
            ),
            (true, "abuse@example.com OK\n"),
        ] {
            let mut estate = load(["", "", "", ra, ""]).unwrap();
            let group = Group {
                id: None,
                address: "sales@example.com".into(),
                display_name: None,
                members: vec!["a@example.com".into()],
                aliases: Vec::new(),
                allow_external,
                kind: Default::default(),
            };
            let change = mailform_contract::MailChange::CreateGroup { new: group };
            estate.model.apply(&change, &config).unwrap();
            let files = estate.render();
            assert_eq!(files[FileId::RecipientAccess.index()], want);
            assert!(load(std::array::from_fn(|i| files[i].as_str())).is_ok());
        }
    }
}
