//! Splits zone-file text into logical entries: one record or directive each,
//! with comments dropped, parentheses joined and quoted strings decoded.
//!
//! hickory-proto does the real parsing (directives, owner names, TTL and
//! class defaults, record data), but its lexer (0.26) mis-reads two things
//! that real zone files, and the files mailform itself writes, contain: a
//! quoted string inside parentheses (a DKIM key split over lines) is cut at
//! its spaces, and `\DDD` escapes decode to the wrong character. This module
//! does only the lexical part those bugs touch, so that the text handed to
//! hickory is one line per entry with no parentheses and no numeric escapes.
//! It also gives every entry the line it starts on, which hickory's errors
//! lack.

/// One lexical token of an entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Token {
    /// An unquoted word, exactly as written (escapes kept, since inside a
    /// domain name `\.` is not the same as `.`).
    Bare(String),
    /// A quoted character-string, decoded to its bytes.
    Quoted(Vec<u8>),
}

/// One record or directive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Entry {
    /// The 1-based line the entry starts on.
    pub line: usize,
    /// The entry starts with white space: it has no owner name and belongs
    /// to the previous owner.
    pub blank_owner: bool,
    pub tokens: Vec<Token>,
}

/// A lexical error and the 1-based line it is on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct LexError {
    pub line: usize,
    pub message: String,
}

fn lex_error(line: usize, message: impl Into<String>) -> LexError {
    LexError {
        line,
        message: message.into(),
    }
}

/// Splits `text` into entries.
pub(crate) fn split_entries(text: &str) -> Result<Vec<Entry>, LexError> {
    let b = text.as_bytes();
    let mut entries = Vec::new();
    let mut current: Option<Entry> = None;
    let mut line = 1;
    let mut depth = 0usize;
    let mut paren_line = 0;
    // Whether the physical line that may start the next entry began with
    // white space; only meaningful outside parentheses.
    let mut line_starts_blank = matches!(b.first(), Some(b' ' | b'\t'));
    let mut i = 0;

    let start = |current: &mut Option<Entry>, line: usize, blank: bool| {
        if current.is_none() {
            *current = Some(Entry {
                line,
                blank_owner: blank,
                tokens: Vec::new(),
            });
        }
    };

    while i < b.len() {
        match b[i] {
            b'\n' => {
                line += 1;
                i += 1;
                if depth == 0 {
                    entries.extend(current.take());
                    line_starts_blank = matches!(b.get(i), Some(b' ' | b'\t'));
                }
            }
            b' ' | b'\t' | b'\r' => i += 1,
            b';' => {
                while i < b.len() && b[i] != b'\n' {
                    i += 1;
                }
            }
            b'(' => {
                start(&mut current, line, line_starts_blank);
                if depth == 0 {
                    paren_line = line;
                }
                depth += 1;
                i += 1;
            }
            b')' => {
                if depth == 0 {
                    return Err(lex_error(line, "`)` without a matching `(`"));
                }
                depth -= 1;
                i += 1;
            }
            b'"' => {
                start(&mut current, line, line_starts_blank);
                let open_line = line;
                i += 1;
                let mut buf = Vec::new();
                loop {
                    match b.get(i) {
                        None | Some(b'\n') => {
                            return Err(lex_error(open_line, "unterminated quoted string"));
                        }
                        Some(b'"') => {
                            i += 1;
                            break;
                        }
                        Some(b'\\') => {
                            i = decode_escape(b, i, &mut buf).map_err(|m| lex_error(line, m))?;
                        }
                        Some(&c) => {
                            buf.push(c);
                            i += 1;
                        }
                    }
                }
                if let Some(e) = current.as_mut() {
                    e.tokens.push(Token::Quoted(buf));
                }
            }
            _ => {
                start(&mut current, line, line_starts_blank);
                let from = i;
                while i < b.len() && !is_delimiter(b[i]) {
                    if b[i] == b'\\' {
                        // An escaped delimiter (`\ `, `\;`) belongs to the word.
                        if matches!(b.get(i + 1), None | Some(b'\n')) {
                            return Err(lex_error(line, "`\\` at the end of a line"));
                        }
                        i += 1;
                    }
                    i += 1;
                }
                if let Some(e) = current.as_mut() {
                    e.tokens.push(Token::Bare(text[from..i].to_string()));
                }
            }
        }
    }
    if depth > 0 {
        return Err(lex_error(paren_line, "`(` is never closed"));
    }
    entries.extend(current.take());
    Ok(entries)
}

fn is_delimiter(c: u8) -> bool {
    matches!(c, b' ' | b'\t' | b'\r' | b'\n' | b'(' | b')' | b';' | b'"')
}

/// Decodes the escape starting at `b[i]` (a backslash) into `out` and
/// returns the index after it: `\DDD` is one byte, `\X` is `X`.
fn decode_escape(b: &[u8], i: usize, out: &mut Vec<u8>) -> Result<usize, String> {
    match b.get(i + 1) {
        Some(c) if c.is_ascii_digit() => {
            let digits = b.get(i + 1..i + 4).unwrap_or_default();
            if digits.len() != 3 || !digits.iter().all(u8::is_ascii_digit) {
                return Err("`\\` followed by a digit must be a three-digit `\\DDD` escape".into());
            }
            let value = digits
                .iter()
                .fold(0u32, |v, d| v * 10 + u32::from(d - b'0'));
            let byte =
                u8::try_from(value).map_err(|_| format!("escape `\\{value}` is above 255"))?;
            out.push(byte);
            Ok(i + 4)
        }
        Some(b'\n') | None => Err("`\\` at the end of a line".into()),
        Some(&c) => {
            out.push(c);
            Ok(i + 2)
        }
    }
}

/// The bytes an unquoted word stands for, escapes decoded: for record data
/// that is text (TXT, CAA) rather than names.
pub(crate) fn decode_bare(word: &str) -> Result<Vec<u8>, String> {
    let b = word.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\' {
            i = decode_escape(b, i, &mut out)?;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    Ok(out)
}

/// Quotes bytes as a character-string the way BIND writes them: `"` and `\`
/// escaped, anything outside printable ASCII as `\DDD`.
pub(crate) fn quote_bytes(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() + 2);
    out.push('"');
    for &c in bytes {
        match c {
            b'"' => out.push_str("\\\""),
            b'\\' => out.push_str("\\\\"),
            0x20..=0x7e => out.push(c as char),
            _ => out.push_str(&format!("\\{c:03}")),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bare(s: &str) -> Token {
        Token::Bare(s.to_string())
    }

    #[test]
    fn joins_parentheses_and_drops_comments() {
        let text = "$TTL 300 ; default\n\
                    @ IN SOA ns1 host ( 1 ; serial\n  2 3\n 4 5 )\n\
                    \n   ; only a comment\n\
                    \tIN TXT ( \"part one\" ; first\n  \"part two\" )\n";
        let entries = split_entries(text).unwrap();
        assert_eq!(entries.len(), 3);
        assert_eq!(entries[0].tokens, vec![bare("$TTL"), bare("300")]);
        assert_eq!(entries[1].line, 2);
        assert_eq!(entries[1].tokens.len(), 10);
        assert!(!entries[1].blank_owner);
        assert_eq!(entries[2].line, 7);
        assert!(entries[2].blank_owner);
        assert_eq!(
            entries[2].tokens[2..],
            [
                Token::Quoted(b"part one".to_vec()),
                Token::Quoted(b"part two".to_vec())
            ]
        );
    }

    #[test]
    fn decodes_escapes_in_quoted_strings_only() {
        let entries = split_entries(r#"a TXT "caf\195\169 \"q\" \\" x\.y"#).unwrap();
        assert_eq!(
            entries[0].tokens[2],
            Token::Quoted("café \"q\" \\".as_bytes().to_vec())
        );
        assert_eq!(entries[0].tokens[3], bare(r"x\.y"));
        assert_eq!(decode_bare(r"a\032b\;").unwrap(), b"a b;".to_vec());
        assert!(decode_bare(r"\400").is_err());
        assert!(decode_bare(r"\12").is_err());
    }

    #[test]
    fn escaped_delimiters_stay_in_the_word() {
        let entries = split_entries("a TXT semi\\;colon sp\\ ace\n").unwrap();
        assert_eq!(entries[0].tokens[2], bare("semi\\;colon"));
        assert_eq!(entries[0].tokens[3], bare("sp\\ ace"));
    }

    #[test]
    fn reports_lexical_errors_with_their_line() {
        let err = split_entries("a A 1.2.3.4\nb SOA (\n 1 2\n").unwrap_err();
        assert_eq!(err.line, 2);
        assert!(err.message.contains("never closed"));
        let err = split_entries("a A 1.2.3.4\n\nb TXT \"open\n").unwrap_err();
        assert_eq!(err.line, 3);
        let err = split_entries("a A 1.2.3.4 )\n").unwrap_err();
        assert_eq!(err.line, 1);
    }

    #[test]
    fn quoting_round_trips() {
        let raw = "é \"x\" \\ \t".as_bytes();
        let quoted = quote_bytes(raw);
        assert!(quoted.is_ascii());
        let entries = split_entries(&format!("a TXT {quoted}")).unwrap();
        assert_eq!(entries[0].tokens[2], Token::Quoted(raw.to_vec()));
    }
}
