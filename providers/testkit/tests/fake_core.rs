//! The fake core with a toy service: the pipeline's order, every standard
//! fault, violations, the log, vendor faults, and both ways of serving.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::request::Parts;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use mailform_testkit::fake::{Core, FakeServer, Fault, FaultKind, Refusal, Service, Standard};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// A counter: `POST /write` adds one, `GET /count` reads it. Requests need
/// `x-key: k`; a path under `/bad` is outside its "description".
#[derive(Default)]
struct Counter {
    writes: AtomicU64,
}

#[derive(Debug, Clone, PartialEq)]
enum Extra {
    Teapot,
}

impl Service for Counter {
    type Extra = Extra;
    type Error = (u16, &'static str);

    fn operation(&self, parts: &Parts, _body: &Bytes) -> String {
        format!("{} {}", parts.method, parts.uri.path())
    }

    fn check(&self, parts: &Parts, _body: &Bytes) -> Result<(), Refusal<Self::Error>> {
        if parts.uri.path().starts_with("/bad") {
            return Err(Refusal::violation("no such path", (400, "malformed")));
        }
        Ok(())
    }

    fn authenticate(&self, parts: &Parts, _body: &Bytes) -> Result<(), Refusal<Self::Error>> {
        match parts.headers.get("x-key") {
            Some(k) if k == "k" => Ok(()),
            _ => Err(Refusal::answer((401, "bad key"))),
        }
    }

    fn fault_error(&self, fault: Standard) -> Self::Error {
        match fault {
            Standard::Throttle => (429, "slow down"),
            Standard::Unavailable => (503, "unavailable"),
            Standard::AfterWrite => (500, "after write"),
        }
    }

    fn error(_core: &Core<Self>, (status, code): Self::Error) -> Response {
        (
            StatusCode::from_u16(status).unwrap(),
            format!("error {code}"),
        )
            .into_response()
    }

    fn routes(core: Arc<Core<Self>>) -> Router {
        Router::new()
            .route(
                "/write",
                post(|State(c): State<Arc<Core<Counter>>>| async move {
                    if c.take_vendor("POST /write") == Some(Extra::Teapot) {
                        return (StatusCode::IM_A_TEAPOT, "teapot".to_string());
                    }
                    c.service.writes.fetch_add(1, Ordering::Relaxed);
                    (StatusCode::OK, "written".to_string())
                }),
            )
            .route(
                "/count",
                get(|State(c): State<Arc<Core<Counter>>>| async move {
                    c.service.writes.load(Ordering::Relaxed).to_string()
                }),
            )
            .with_state(core)
    }
}

/// One HTTP/1.1 exchange; `None` when the connection closed unanswered.
async fn send(fake: &FakeServer<Counter>, method: &str, path: &str, key: &str) -> Option<String> {
    let mut s = tokio::net::TcpStream::connect(fake.addr()).await.unwrap();
    let req = format!(
        "{method} {path} HTTP/1.1\r\nhost: x\r\nx-key: {key}\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
    );
    s.write_all(req.as_bytes()).await.unwrap();
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out).await;
    (!out.is_empty()).then(|| String::from_utf8_lossy(&out).into_owned())
}

fn status(answer: &Option<String>) -> u16 {
    answer.as_deref().expect("an answer")[9..12]
        .parse()
        .unwrap()
}

async fn start() -> FakeServer<Counter> {
    FakeServer::start_on(
        mailform_testkit::fake::loopback(),
        Counter::default(),
        Duration::ZERO,
    )
    .await
    .unwrap()
}

#[tokio::test]
async fn the_pipeline_checks_then_faults_then_authenticates() {
    let f = start().await;
    // Invalid for the description: recorded and refused before faults.
    f.inject(Fault::on(None, FaultKind::Unavailable));
    assert_eq!(status(&send(&f, "GET", "/bad", "k").await), 400);
    assert_eq!(f.violations(), ["no such path"]);
    assert_eq!(f.pending_faults().len(), 1, "the fault did not fire");
    // Faults come before authentication.
    assert_eq!(status(&send(&f, "GET", "/count", "wrong").await), 503);
    assert_eq!(status(&send(&f, "GET", "/count", "wrong").await), 401);
    assert_eq!(f.violations().len(), 1, "a bad key is not a violation");
    assert_eq!(f.requests(), 3);
    assert_eq!(f.request_log(), ["GET /bad", "GET /count", "GET /count"]);
}

#[tokio::test]
async fn every_standard_fault() {
    let f = start().await;
    f.inject(Fault::on(
        Some("POST /write"),
        FaultKind::Throttle {
            retry_after: Some(7),
        },
    ));
    let a = send(&f, "POST", "/write", "k").await;
    assert_eq!(status(&a), 429);
    assert!(a.unwrap().to_ascii_lowercase().contains("retry-after: 7"));

    f.inject(Fault::on(Some("POST /write"), FaultKind::AfterWrite));
    assert_eq!(status(&send(&f, "POST", "/write", "k").await), 500);
    let count = send(&f, "GET", "/count", "k").await.unwrap();
    assert!(count.ends_with("\r\n\r\n1"), "the write happened: {count}");

    f.inject(Fault::on(Some("POST /write"), FaultKind::Drop));
    assert_eq!(
        send(&f, "POST", "/write", "k").await,
        None,
        "closed unanswered"
    );
    let count = send(&f, "GET", "/count", "k").await.unwrap();
    assert!(
        count.ends_with("\r\n\r\n1"),
        "a dropped request did nothing"
    );

    f.inject(Fault::on(None, FaultKind::Slow(Duration::from_millis(300))));
    let t = Instant::now();
    assert_eq!(status(&send(&f, "GET", "/count", "k").await), 200);
    assert!(t.elapsed() >= Duration::from_millis(300));

    f.inject(Fault::on(Some("POST /write"), FaultKind::Vendor(Extra::Teapot)).skip(1));
    assert_eq!(status(&send(&f, "POST", "/write", "k").await), 200);
    assert_eq!(status(&send(&f, "POST", "/write", "k").await), 418);
    assert!(f.pending_faults().is_empty());
    assert!(f.violations().is_empty());
}

#[tokio::test]
async fn latency_delays_every_answer() {
    let f = start().await;
    f.set_latency(Duration::from_millis(200));
    let t = Instant::now();
    assert_eq!(status(&send(&f, "GET", "/count", "k").await), 200);
    assert!(t.elapsed() >= Duration::from_millis(200));
}

#[test]
fn background_serves_without_a_runtime_and_stops_on_drop() {
    let f = FakeServer::start_background(Counter::default(), Duration::ZERO).unwrap();
    let addr = f.addr();
    assert!(std::net::TcpStream::connect(addr).is_ok());
    drop(f);
    // The runtime shuts down in the background: the listener goes soon
    // after, not necessarily before `drop` returns.
    let t = Instant::now();
    while std::net::TcpStream::connect(addr).is_ok() {
        assert!(t.elapsed() < Duration::from_secs(5), "still serving");
        std::thread::sleep(Duration::from_millis(10));
    }
}
