//! The served MTA-STS policy (RFC 8461 §3.3): fetched over HTTPS from
//! `https://mta-sts.<domain>/.well-known/mta-sts.txt` the way a sending
//! server fetches it (certificate checked, no redirects, a size cap),
//! parsed (§3.2), and compared with what the `mta_sts` block describes.

use std::net::SocketAddr;
use std::time::Duration;

/// How policies are fetched.
#[derive(Debug, Clone)]
pub struct FetchOptions {
    /// 443 for the real thing; another port for a staging or test server.
    pub port: u16,
    /// Extra trusted roots (PEM), for a private PKI or a test server.
    pub extra_roots_pem: Vec<Vec<u8>>,
    pub timeout: Duration,
}

/// A parsed policy (RFC 8461 §3.2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    pub mode: String,
    /// Lower-cased, without trailing dots, sorted.
    pub mx: Vec<String>,
    pub max_age: u64,
}

/// Senders cap what they read; RFC 8461 §3.3 suggests 64 KiB.
const MAX_POLICY_BYTES: usize = 64 * 1024;
/// §3.2: max_age is at most 31557600 seconds (about one year).
const MAX_AGE_LIMIT: u64 = 31_557_600;

/// Parses policy text: `key: value` lines (CRLF, LF accepted), `version`
/// first and `STSv1`, `mode` one of enforce/testing/none, `mx` required
/// unless mode is none, `max_age` in range. Unknown keys are ignored, as
/// the RFC says senders must.
pub fn parse(text: &str) -> Result<Policy, String> {
    let mut lines = text
        .split('\n')
        .map(|l| l.strip_suffix('\r').unwrap_or(l))
        .filter(|l| !l.is_empty());
    let pair = |line: &str| -> Result<(String, String), String> {
        let (k, v) = line
            .split_once(':')
            .ok_or_else(|| format!("line `{line}` is not `key: value`"))?;
        Ok((k.trim().to_ascii_lowercase(), v.trim().to_string()))
    };
    match lines.next().map(pair).transpose()? {
        Some((k, v)) if k == "version" && v == "STSv1" => {}
        _ => return Err("the first line must be `version: STSv1`".into()),
    }
    let (mut mode, mut mx, mut max_age) = (None, Vec::new(), None);
    for line in lines {
        let (k, v) = pair(line)?;
        match k.as_str() {
            "mode" => mode = Some(v),
            "mx" => mx.push(v.trim_end_matches('.').to_ascii_lowercase()),
            "max_age" => {
                max_age = Some(
                    v.parse::<u64>()
                        .ok()
                        .filter(|n| *n <= MAX_AGE_LIMIT)
                        .ok_or_else(|| {
                            format!(
                                "max_age `{v}` is not a number of seconds up to {MAX_AGE_LIMIT}"
                            )
                        })?,
                )
            }
            _ => {}
        }
    }
    let mode = mode.ok_or("no `mode` line")?;
    if !matches!(mode.as_str(), "enforce" | "testing" | "none") {
        return Err(format!(
            "mode `{mode}` is not one of enforce, testing, none"
        ));
    }
    if mx.is_empty() && mode != "none" {
        return Err(format!("mode {mode} without any `mx` line"));
    }
    mx.sort();
    mx.dedup();
    Ok(Policy {
        mode,
        mx,
        max_age: max_age.ok_or("no `max_age` line")?,
    })
}

/// What differs between the served and the declared policy, in words.
pub fn differences(served: &Policy, declared: &Policy) -> Vec<String> {
    let mut out = Vec::new();
    if served.mode != declared.mode {
        out.push(format!(
            "mode is {} (declared {})",
            served.mode, declared.mode
        ));
    }
    if served.mx != declared.mx {
        out.push(format!(
            "mx is [{}] (declared [{}])",
            served.mx.join(", "),
            declared.mx.join(", ")
        ));
    }
    if served.max_age != declared.max_age {
        out.push(format!(
            "max_age is {} (declared {})",
            served.max_age, declared.max_age
        ));
    }
    out
}

/// Fetches the policy text of `domain` from `addr` (the address the
/// policy host resolved to), checking the certificate for the policy host.
pub async fn fetch(
    domain: &str,
    addr: SocketAddr,
    options: &FetchOptions,
) -> Result<String, String> {
    let host = format!("mta-sts.{domain}");
    let mut builder = reqwest::Client::builder()
        .https_only(true)
        // §3.3: senders must not follow redirects.
        .redirect(reqwest::redirect::Policy::none())
        .timeout(options.timeout)
        .resolve(&host, addr);
    for pem in &options.extra_roots_pem {
        let certs = reqwest::Certificate::from_pem_bundle(pem)
            .map_err(|e| format!("cannot read the CA file: {e}"))?;
        for cert in certs {
            builder = builder.add_root_certificate(cert);
        }
    }
    let client = builder
        .build()
        .map_err(|e| format!("cannot set up HTTPS: {e}"))?;
    let url = if options.port == 443 {
        format!("https://{host}/.well-known/mta-sts.txt")
    } else {
        format!("https://{host}:{}/.well-known/mta-sts.txt", options.port)
    };
    let mut response = client.get(&url).send().await.map_err(|e| {
        let mut msg = format!("GET {url} failed: {e}");
        let mut source = std::error::Error::source(&e);
        while let Some(s) = source {
            msg.push_str(&format!(": {s}"));
            source = s.source();
        }
        msg
    })?;
    let status = response.status();
    if !status.is_success() {
        return Err(format!(
            "GET {url} answered HTTP {status}{}",
            if status.is_redirection() {
                " (senders do not follow redirects)"
            } else {
                ""
            }
        ));
    }
    let content_type = response
        .headers()
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_ascii_lowercase();
    if !content_type.starts_with("text/plain") {
        return Err(format!(
            "GET {url} answered Content-Type `{content_type}`; senders require text/plain"
        ));
    }
    let mut body = Vec::new();
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(|e| format!("reading {url} failed: {e}"))?
    {
        body.extend_from_slice(&chunk);
        if body.len() > MAX_POLICY_BYTES {
            return Err(format!("{url} is larger than {MAX_POLICY_BYTES} bytes"));
        }
    }
    String::from_utf8(body).map_err(|_| format!("{url} is not UTF-8 text"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_crlf_and_lf_policies_and_ignores_unknown_keys() {
        let p = parse("version: STSv1\r\nmode: enforce\r\nmx: MX1.example.com.\r\nmx: *.example.net\r\nfoo: bar\r\nmax_age: 86400\r\n").unwrap();
        assert_eq!(p.mode, "enforce");
        assert_eq!(p.mx, vec!["*.example.net", "mx1.example.com"]);
        assert_eq!(p.max_age, 86400);
        assert_eq!(
            parse("version: STSv1\nmode: none\nmax_age: 0\n")
                .unwrap()
                .mx,
            Vec::<String>::new()
        );
    }

    #[test]
    fn rejects_what_senders_reject() {
        for (text, want) in [
            ("mode: enforce\nversion: STSv1\n", "first line"),
            ("version: STSv2\nmode: enforce\n", "first line"),
            (
                "version: STSv1\nmode: strict\nmx: a\nmax_age: 1\n",
                "mode `strict`",
            ),
            (
                "version: STSv1\nmode: enforce\nmax_age: 1\n",
                "without any `mx`",
            ),
            ("version: STSv1\nmode: testing\nmx: a\n", "no `max_age`"),
            (
                "version: STSv1\nmode: testing\nmx: a\nmax_age: 99999999\n",
                "max_age",
            ),
            ("version: STSv1\nmode testing\n", "not `key: value`"),
        ] {
            let err = parse(text).unwrap_err();
            assert!(err.contains(want), "{text:?}: {err}");
        }
    }

    #[test]
    fn names_each_difference() {
        let a = parse("version: STSv1\nmode: enforce\nmx: a.example\nmax_age: 10\n").unwrap();
        let b = parse("version: STSv1\nmode: testing\nmx: b.example\nmax_age: 20\n").unwrap();
        let d = differences(&a, &b);
        assert_eq!(d.len(), 3, "{d:?}");
        assert!(differences(&a, &a).is_empty());
    }
}
