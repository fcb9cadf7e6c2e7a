//! Postfix lookup-table source files (the text `postmap` compiles): parsing
//! into logical entries, and rewriting one domain's entries while every other
//! byte of the file stays as it was.
//!
//! The syntax is postmap(1)'s: `key whitespace value`; empty lines,
//! whitespace-only lines and lines whose first non-whitespace character is
//! `#` are ignored; a line that starts with whitespace continues the
//! previous logical line. Keys are case-insensitive (postmap folds them).

/// The prefix of the comment line that marks the next entry as a group.
pub(crate) const GROUP_MARKER: &str = "# mailform-group:";

/// One piece of a parsed file, in file order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Item {
    /// A comment, a blank line or anything else that is not an entry; kept
    /// byte for byte.
    Other {
        raw: String,
    },
    Entry(Entry),
}

/// One logical `key value` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Entry {
    /// The 1-based line the key is on.
    pub line: usize,
    /// The key as written.
    pub key: String,
    /// The value with continuation lines joined by one space; may be empty
    /// (which postmap rejects, so callers report it).
    pub value: String,
    /// A group marker comment on the line right before the key: its line
    /// number and the text after [`GROUP_MARKER`].
    pub marker: Option<(usize, String)>,
    /// Every physical line of the entry (marker included), terminators too.
    pub raw: String,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Blank,
    Comment,
    Continuation,
    Start,
}

fn kind(line: &str) -> Kind {
    let trimmed = line.trim();
    if trimmed.is_empty() {
        Kind::Blank
    } else if trimmed.starts_with('#') {
        Kind::Comment
    } else if line.starts_with([' ', '\t']) {
        Kind::Continuation
    } else {
        Kind::Start
    }
}

fn strip_eol(line: &str) -> &str {
    let line = line.strip_suffix('\n').unwrap_or(line);
    line.strip_suffix('\r').unwrap_or(line)
}

/// Splits a table into items. With `markers`, a [`GROUP_MARKER`] comment
/// directly above an entry becomes part of that entry.
pub(crate) fn parse(content: &str, markers: bool) -> Vec<Item> {
    let lines: Vec<&str> = content.split_inclusive('\n').collect();
    let kinds: Vec<Kind> = lines.iter().map(|l| kind(strip_eol(l))).collect();
    let mut items = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        if kinds[i] != Kind::Start {
            // A continuation with no entry above it is ignored by postmap
            // too (with a warning); keeping it verbatim is all we can do.
            items.push(Item::Other {
                raw: lines[i].to_string(),
            });
            i += 1;
            continue;
        }
        let mut raw = lines[i].to_string();
        let mut logical = strip_eol(lines[i]).to_string();
        let mut next = i + 1;
        loop {
            // postmap skips comments and blank lines inside a multi-line
            // entry, so they belong to the entry when a continuation follows.
            let mut k = next;
            while k < lines.len() && matches!(kinds[k], Kind::Blank | Kind::Comment) {
                k += 1;
            }
            if k < lines.len() && kinds[k] == Kind::Continuation {
                for line in &lines[next..=k] {
                    raw.push_str(line);
                }
                logical.push(' ');
                logical.push_str(strip_eol(lines[k]).trim());
                next = k + 1;
            } else {
                break;
            }
        }
        let (key, value) = match logical.split_once(char::is_whitespace) {
            Some((k, v)) => (k.to_string(), v.trim().to_string()),
            None => (logical.trim().to_string(), String::new()),
        };
        let mut marker = None;
        if markers && i > 0 {
            if let Some(Item::Other { raw: prev }) = items.last() {
                if let Some(json) = strip_eol(prev).trim().strip_prefix(GROUP_MARKER) {
                    marker = Some((i, json.trim().to_string()));
                    raw.insert_str(0, prev);
                    items.pop();
                }
            }
        }
        items.push(Item::Entry(Entry {
            line: i + 1,
            key,
            value,
            marker,
            raw,
        }));
        i = next;
    }
    items
}

/// A piece of a file as the rewriter sees it: raw text, and for the
/// domain's own entries their key and the canonical text of what they hold.
#[derive(Debug, Clone)]
pub(crate) struct Segment {
    pub raw: String,
    pub owned: Option<Owned>,
}

#[derive(Debug, Clone)]
pub(crate) struct Owned {
    /// The normalised key (a lower-case address or domain).
    pub key: String,
    /// What the entry would be written as if it were new. When the wanted
    /// text equals it, the entry's own bytes are kept, so reading and writing
    /// an unchanged domain changes nothing, not even spacing.
    pub canon: String,
}

/// Rewrites a file: the domain's owned segments become `wanted` (key, text
/// with trailing newline), in place where the key already was; new keys go
/// after the domain's last entry, or at the end of the file; every other
/// segment is copied unchanged.
pub(crate) fn merge(segments: &[Segment], wanted: &[(String, String)]) -> String {
    let mut used = vec![false; wanted.len()];
    let mut out = String::new();
    let mut insert_at: Option<usize> = None;
    for seg in segments {
        match &seg.owned {
            None => out.push_str(&seg.raw),
            Some(owned) => {
                if let Some(idx) = wanted
                    .iter()
                    .enumerate()
                    .position(|(i, (k, _))| !used[i] && *k == owned.key)
                {
                    used[idx] = true;
                    let text = &wanted[idx].1;
                    if *text == owned.canon {
                        out.push_str(&seg.raw);
                    } else {
                        out.push_str(text);
                    }
                }
                insert_at = Some(out.len());
            }
        }
    }
    let mut new_text = String::new();
    for (i, (_, text)) in wanted.iter().enumerate() {
        if !used[i] {
            new_text.push_str(text);
        }
    }
    if new_text.is_empty() {
        return out;
    }
    match insert_at {
        // A kept last line without a terminator would run into the new text.
        Some(at) if at < out.len() || out.ends_with('\n') || out.is_empty() => {
            out.insert_str(at, &new_text);
        }
        _ => {
            if !out.is_empty() && !out.ends_with('\n') {
                out.push('\n');
            }
            out.push_str(&new_text);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entries(items: &[Item]) -> Vec<&Entry> {
        items
            .iter()
            .filter_map(|i| match i {
                Item::Entry(e) => Some(e),
                Item::Other { .. } => None,
            })
            .collect()
    }

    #[test]
    fn parses_entries_comments_and_continuations() {
        let text = "# header\n\nInfo@Example.com a@example.com,\n  b@example.com\n   # inside\n\tc@example.com\nbare\nx@y z\r\n";
        let items = parse(text, false);
        let e = entries(&items);
        assert_eq!(e.len(), 3);
        assert_eq!(e[0].line, 3);
        assert_eq!(e[0].key, "Info@Example.com");
        assert_eq!(e[0].value, "a@example.com, b@example.com c@example.com");
        assert_eq!(
            e[0].raw,
            "Info@Example.com a@example.com,\n  b@example.com\n   # inside\n\tc@example.com\n"
        );
        assert_eq!((e[1].key.as_str(), e[1].value.as_str()), ("bare", ""));
        assert_eq!((e[2].key.as_str(), e[2].value.as_str()), ("x@y", "z"));
        let joined: String = items
            .iter()
            .map(|i| match i {
                Item::Other { raw } => raw.as_str(),
                Item::Entry(e) => e.raw.as_str(),
            })
            .collect();
        assert_eq!(joined, text, "parsing must not lose a byte");
    }

    #[test]
    fn marker_attaches_only_directly_above() {
        let text = "# mailform-group: {}\nsales@example.com a@example.com\n# mailform-group: {}\n\nops@example.com b@example.com\n";
        let items = parse(text, true);
        let e = entries(&items);
        assert_eq!(e[0].marker, Some((1, "{}".to_string())));
        assert!(e[0].raw.starts_with("# mailform-group"));
        assert_eq!(e[1].marker, None);
        assert!(parse(text, false).iter().all(|i| !matches!(
            i,
            Item::Entry(Entry {
                marker: Some(_),
                ..
            })
        )));
    }

    fn seg(raw: &str, key: Option<&str>, canon: &str) -> Segment {
        Segment {
            raw: raw.to_string(),
            owned: key.map(|k| Owned {
                key: k.to_string(),
                canon: canon.to_string(),
            }),
        }
    }

    #[test]
    fn merge_keeps_unchanged_bytes_and_places_new_entries() {
        let segs = vec![
            seg("# top\n", None, ""),
            seg("a@x   1\n", Some("a@x"), "a@x 1\n"),
            seg("b@x 2\n", Some("b@x"), "b@x 2\n"),
            seg("z@other 9\n", None, ""),
        ];
        let wanted = vec![
            ("a@x".to_string(), "a@x 1\n".to_string()),
            ("c@x".to_string(), "c@x 3\n".to_string()),
        ];
        assert_eq!(merge(&segs, &wanted), "# top\na@x   1\nc@x 3\nz@other 9\n");
        let changed = vec![("b@x".to_string(), "b@x 5\n".to_string())];
        assert_eq!(merge(&segs, &changed), "# top\nb@x 5\nz@other 9\n");
    }

    #[test]
    fn merge_appends_after_a_last_line_without_newline() {
        let segs = vec![seg("z@other 9", None, "")];
        let wanted = vec![("a@x".to_string(), "a@x 1\n".to_string())];
        assert_eq!(merge(&segs, &wanted), "z@other 9\na@x 1\n");
        let segs = vec![seg("a@x 1", Some("a@x"), "a@x 1\n")];
        let wanted = vec![
            ("a@x".to_string(), "a@x 1\n".to_string()),
            ("b@x".to_string(), "b@x 2\n".to_string()),
        ];
        assert_eq!(merge(&segs, &wanted), "a@x 1\nb@x 2\n");
        assert_eq!(merge(&[], &wanted), "a@x 1\nb@x 2\n");
    }
}
