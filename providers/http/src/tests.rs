//! Tests against a scripted HTTP server on loopback.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

use super::*;

/// What the server does with the n-th request.
#[derive(Clone, Copy)]
enum Answer {
    Status(u16, Option<u64>),
    Drop,
}

/// Serves `script` in order (the last entry repeats); returns the base URL
/// and the count of requests seen.
async fn server(script: Vec<Answer>) -> (Url, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let seen = Arc::new(AtomicUsize::new(0));
    let counter = seen.clone();
    tokio::spawn(async move {
        loop {
            let Ok((mut sock, _)) = listener.accept().await else {
                return;
            };
            let n = counter.fetch_add(1, Ordering::SeqCst);
            let answer = script[n.min(script.len() - 1)];
            let mut buf = vec![0u8; 4096];
            let _ = sock.read(&mut buf).await;
            match answer {
                Answer::Drop => drop(sock),
                Answer::Status(code, retry_after) => {
                    let extra = retry_after
                        .map(|s| format!("Retry-After: {s}\r\n"))
                        .unwrap_or_default();
                    let resp = format!("HTTP/1.1 {code} X\r\n{extra}Content-Length: 2\r\nConnection: close\r\n\r\nok");
                    let _ = sock.write_all(resp.as_bytes()).await;
                }
            }
        }
    });
    (
        Url::parse(&format!("http://{addr}/x?token=SECRET")).unwrap(),
        seen,
    )
}

fn client() -> HttpClient {
    HttpClient::new(ClientConfig {
        retry: Retry {
            max_attempts: 3,
            base: Duration::from_millis(10),
            max_delay: Duration::from_secs(2),
        },
        ..ClientConfig::default()
    })
    .unwrap()
}

#[tokio::test]
async fn honours_retry_after_on_429_even_for_writes() {
    let (url, seen) = server(vec![
        Answer::Status(429, Some(1)),
        Answer::Status(200, None),
    ])
    .await;
    let c = client();
    let start = Instant::now();
    let r = c
        .send(c.request(Method::POST, url), Idempotence::NonIdempotent)
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert!(
        start.elapsed() >= Duration::from_millis(900),
        "waited {:?}",
        start.elapsed()
    );
    assert_eq!(seen.load(Ordering::SeqCst), 2);
    assert_eq!(c.requests_sent(), 2);
}

#[tokio::test]
async fn server_errors_are_retried_for_reads_only() {
    let (url, seen) = server(vec![Answer::Status(503, None), Answer::Status(200, None)]).await;
    let c = client();
    assert_eq!(
        c.send(c.request(Method::GET, url.clone()), Idempotence::Idempotent)
            .await
            .unwrap()
            .status(),
        200
    );
    assert_eq!(seen.load(Ordering::SeqCst), 2);

    let (url, seen) = server(vec![Answer::Status(503, None), Answer::Status(200, None)]).await;
    let r = c
        .send(c.request(Method::POST, url), Idempotence::NonIdempotent)
        .await
        .unwrap();
    assert_eq!(r.status(), 503, "a write that may have run is not repeated");
    assert_eq!(seen.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn a_dropped_write_is_reported_as_possibly_sent_and_not_repeated() {
    let (url, seen) = server(vec![Answer::Drop, Answer::Status(200, None)]).await;
    let c = client();
    c.redact("SECRET");
    let err = c
        .send(
            c.request(Method::POST, url.clone()),
            Idempotence::NonIdempotent,
        )
        .await
        .unwrap_err();
    assert!(
        matches!(err, HttpError::Transport { sent: true, .. }),
        "{err:?}"
    );
    assert!(!err.to_string().contains("SECRET"), "{err}");
    assert_eq!(seen.load(Ordering::SeqCst), 1);
    // The same drop on a read is retried.
    let (url, seen) = server(vec![Answer::Drop, Answer::Status(200, None)]).await;
    assert_eq!(
        c.send(c.request(Method::GET, url), Idempotence::Idempotent)
            .await
            .unwrap()
            .status(),
        200
    );
    assert_eq!(seen.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn connection_refused_is_safe_to_retry_and_says_not_sent() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let c = client();
    let url = Url::parse(&format!("http://{addr}/")).unwrap();
    let err = c
        .send(c.request(Method::POST, url), Idempotence::NonIdempotent)
        .await
        .unwrap_err();
    assert!(
        matches!(err, HttpError::Transport { sent: false, .. }),
        "{err:?}"
    );
    assert_eq!(
        c.requests_sent(),
        3,
        "connect failures are retried: nothing reached the server"
    );
}

#[tokio::test]
async fn the_rate_limit_paces_requests() {
    let (url, _) = server(vec![Answer::Status(200, None)]).await;
    let c = HttpClient::new(ClientConfig {
        rate_limit: Some(RateLimit {
            requests: 2,
            per: Duration::from_millis(400),
        }),
        ..ClientConfig::default()
    })
    .unwrap();
    let start = Instant::now();
    for _ in 0..4 {
        c.send(c.request(Method::GET, url.clone()), Idempotence::Idempotent)
            .await
            .unwrap();
    }
    // Two in the burst, two more at 200 ms each.
    assert!(
        start.elapsed() >= Duration::from_millis(380),
        "{:?}",
        start.elapsed()
    );
}

#[test]
fn query_values_never_reach_messages() {
    let u = Url::parse("https://alidns.aliyuncs.com/?AccessKeyId=AK&Signature=sig").unwrap();
    let s = redact_query(&u);
    assert!(!s.contains("AK") && !s.contains("sig"), "{s}");
    assert!(s.contains("AccessKeyId=redacted"), "{s}");
}
