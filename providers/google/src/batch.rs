//! Google's batch protocol: up to 1,000 independent calls in one HTTP
//! request, as a `multipart/mixed` body of `application/http` parts, each
//! answered by a part of the same `Content-ID` (`response-<id>`).
//!
//! The calls of one batch may run in any order or at once, so only calls
//! that do not depend on each other go in one batch, and never two alias
//! edits of the same user or group (Google answers 412 to those). Every
//! inner call counts against the quota, so the rate limiter is charged one
//! token per call. See "Sending batch requests" in the Directory API guide.

use std::collections::BTreeMap;

use serde_json::Value;

/// Google's limit of calls in one batch.
pub const MAX_CALLS: usize = 1000;

/// One call inside a batch.
#[derive(Debug, Clone)]
pub struct Call {
    pub method: &'static str,
    /// The absolute path with its query, e.g. `/admin/directory/v1/users`.
    pub path: String,
    pub body: Option<Value>,
}

/// The multipart body for `calls`, each part's `Content-ID` its index.
pub fn encode(calls: &[Call], boundary: &str) -> Vec<u8> {
    let mut out = String::new();
    for (i, c) in calls.iter().enumerate() {
        out.push_str(&format!(
            "--{boundary}\r\nContent-Type: application/http\r\nContent-ID: <item{i}>\r\n\r\n{} {} HTTP/1.1\r\n",
            c.method, c.path
        ));
        match &c.body {
            Some(b) => {
                let text = b.to_string();
                out.push_str(&format!(
                    "Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{text}\r\n",
                    text.len()
                ));
            }
            // The blank line ending the headers, then the CRLF that
            // belongs to the next delimiter.
            None => out.push_str("\r\n\r\n"),
        }
    }
    out.push_str(&format!("--{boundary}--\r\n"));
    out.into_bytes()
}

/// The boundary parameter of a `multipart/mixed` content type.
pub fn boundary(content_type: &str) -> Option<String> {
    content_type.split(';').find_map(|p| {
        let (k, v) = p.trim().split_once('=')?;
        k.eq_ignore_ascii_case("boundary")
            .then(|| v.trim().trim_matches('"').to_string())
    })
}

/// The parts of a multipart body: each part's headers (lower-cased names)
/// and the bytes after them. Headers are parsed with `httparse`.
pub fn parts(body: &[u8], boundary: &str) -> Result<Vec<Part>, String> {
    let delimiter = format!("--{boundary}");
    let text = body;
    let mut out = Vec::new();
    let mut starts = Vec::new();
    let d = delimiter.as_bytes();
    let mut i = 0;
    while i + d.len() <= text.len() {
        if &text[i..i + d.len()] == d {
            starts.push(i);
            i += d.len();
        } else {
            i += 1;
        }
    }
    for w in starts.windows(2) {
        let mut chunk = &text[w[0] + d.len()..w[1]];
        chunk = chunk.strip_prefix(b"\r\n").unwrap_or(chunk);
        chunk = chunk.strip_suffix(b"\r\n").unwrap_or(chunk);
        let mut headers = [httparse::EMPTY_HEADER; 16];
        let (used, parsed) = match httparse::parse_headers(chunk, &mut headers) {
            Ok(httparse::Status::Complete((n, h))) => (n, h),
            _ => return Err("a batch part whose headers cannot be read".into()),
        };
        out.push(Part {
            headers: header_map(parsed),
            body: chunk[used..].to_vec(),
        });
    }
    Ok(out)
}

/// One part of a multipart body.
#[derive(Debug, Clone)]
pub struct Part {
    pub headers: BTreeMap<String, String>,
    pub body: Vec<u8>,
}

fn header_map(headers: &[httparse::Header]) -> BTreeMap<String, String> {
    headers
        .iter()
        .map(|h| {
            (
                h.name.to_ascii_lowercase(),
                String::from_utf8_lossy(h.value).trim().to_string(),
            )
        })
        .collect()
}

/// The status and body of an HTTP response inside a part.
pub fn http_response(bytes: &[u8]) -> Result<(u16, String), String> {
    let mut headers = [httparse::EMPTY_HEADER; 32];
    let mut r = httparse::Response::new(&mut headers);
    match r.parse(bytes) {
        Ok(httparse::Status::Complete(n)) => Ok((
            r.code.unwrap_or(0),
            String::from_utf8_lossy(&bytes[n..]).into_owned(),
        )),
        _ => Err("a batch answer part that is not an HTTP response".into()),
    }
}

/// The method, target and body of an HTTP request inside a part.
pub fn http_request(bytes: &[u8]) -> Result<(String, String, Vec<u8>), String> {
    let mut headers = [httparse::EMPTY_HEADER; 32];
    let mut r = httparse::Request::new(&mut headers);
    match r.parse(bytes) {
        Ok(httparse::Status::Complete(n)) => Ok((
            r.method.unwrap_or("").to_string(),
            r.path.unwrap_or("").to_string(),
            bytes[n..].to_vec(),
        )),
        _ => Err("a batch part that is not an HTTP request".into()),
    }
}

/// The index a response part answers (`Content-ID: <response-item7>`).
pub fn response_index(headers: &BTreeMap<String, String>) -> Option<usize> {
    headers
        .get("content-id")?
        .trim_matches(|c| c == '<' || c == '>')
        .strip_prefix("response-item")?
        .parse()
        .ok()
}

/// A boundary unlikely to occur in any body.
pub fn new_boundary() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default()
        .as_nanos();
    format!("mailform_batch_{nanos:x}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parts_round_trip() {
        let calls = vec![
            Call {
                method: "POST",
                path: "/admin/directory/v1/users".into(),
                body: Some(serde_json::json!({"primaryEmail": "a@example.com"})),
            },
            Call {
                method: "DELETE",
                path: "/admin/directory/v1/users/b%40example.com".into(),
                body: None,
            },
        ];
        let body = encode(&calls, "xyz");
        let parsed = parts(&body, "xyz").unwrap();
        assert_eq!(parsed.len(), 2);
        assert_eq!(parsed[0].headers["content-id"], "<item0>");
        let (method, path, text) = http_request(&parsed[0].body).unwrap();
        assert_eq!(
            (method.as_str(), path.as_str()),
            ("POST", "/admin/directory/v1/users")
        );
        assert_eq!(text, br#"{"primaryEmail":"a@example.com"}"#);
        let (method, path, text) = http_request(&parsed[1].body).unwrap();
        assert_eq!(method, "DELETE");
        assert_eq!(path, "/admin/directory/v1/users/b%40example.com");
        assert!(text.is_empty());
        let (code, body) =
            http_response(b"HTTP/1.1 404 Not Found\r\nContent-Type: application/json\r\n\r\n{}")
                .unwrap();
        assert_eq!((code, body.as_str()), (404, "{}"));
        assert_eq!(
            boundary("multipart/mixed; boundary=\"batch_1\"").as_deref(),
            Some("batch_1")
        );
        let mut h = BTreeMap::new();
        h.insert("content-id".to_string(), "<response-item12>".to_string());
        assert_eq!(response_index(&h), Some(12));
    }
}
