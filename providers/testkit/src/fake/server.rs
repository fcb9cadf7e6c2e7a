//! Serving a [`Service`] on loopback: the accept loop (hyper directly, so
//! that a `Drop` fault can close a connection without answering), the
//! request pipeline, and the runtime a synchronous test needs.

use std::net::SocketAddr;
use std::ops::Deref;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{header, HeaderValue};
use axum::middleware::Next;
use axum::response::Response;
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::net::TcpListener;
use tower_service::Service as _;

use super::{Core, FaultKind, Service, Standard};

/// The largest request body read.
const BODY_LIMIT: usize = 64 << 20;

/// Marks an answer the connection layer turns into a closed connection.
#[derive(Clone, Copy)]
struct DropConnection;

/// A running fake. Dropping it stops the server (and its runtime, if it
/// has one). It derefs to its [`Core`] for faults, latency, the log and
/// violations.
pub struct FakeServer<S: Service> {
    addr: SocketAddr,
    core: Arc<Core<S>>,
    task: Option<tokio::task::JoinHandle<()>>,
    runtime: Option<tokio::runtime::Runtime>,
}

impl<S: Service> FakeServer<S> {
    /// Serves `service` on `addr` (port 0: an unused one), on the current
    /// runtime.
    pub async fn start_on(
        addr: SocketAddr,
        service: S,
        latency: Duration,
    ) -> Result<FakeServer<S>, String> {
        let listener = TcpListener::bind(addr)
            .await
            .map_err(|e| format!("cannot listen on {addr}: {e}"))?;
        let addr = listener.local_addr().map_err(|e| e.to_string())?;
        let core = Arc::new(Core::new(service, latency));
        let task = tokio::spawn(serve(listener, core.clone()));
        Ok(FakeServer {
            addr,
            core,
            task: Some(task),
            runtime: None,
        })
    }

    /// Serves `service` on 127.0.0.1 at an unused port, on a runtime of its
    /// own, for synchronous tests (assert_cmd).
    pub fn start_background(service: S, latency: Duration) -> Result<FakeServer<S>, String> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .map_err(|e| e.to_string())?;
        let mut fake = runtime.block_on(Self::start_on(loopback(), service, latency))?;
        fake.runtime = Some(runtime);
        Ok(fake)
    }

    /// Where it listens.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The shared state, for handlers started elsewhere.
    pub fn core(&self) -> &Arc<Core<S>> {
        &self.core
    }
}

/// 127.0.0.1, any free port.
pub fn loopback() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 0))
}

impl<S: Service> Deref for FakeServer<S> {
    type Target = Core<S>;

    fn deref(&self) -> &Core<S> {
        &self.core
    }
}

impl<S: Service> Drop for FakeServer<S> {
    fn drop(&mut self) {
        if let Some(t) = self.task.take() {
            t.abort();
        }
        if let Some(rt) = self.runtime.take() {
            rt.shutdown_background();
        }
    }
}

/// The accept loop. An answer marked [`DropConnection`] makes the service
/// fail, which makes hyper close the connection without an answer.
async fn serve<S: Service>(listener: TcpListener, core: Arc<Core<S>>) {
    let router = S::routes(core.clone()).layer(axum::middleware::from_fn_with_state(
        core.clone(),
        pipeline::<S>,
    ));
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        let router = router.clone();
        tokio::spawn(async move {
            let service =
                hyper::service::service_fn(move |req: hyper::Request<hyper::body::Incoming>| {
                    let mut router = router.clone();
                    async move {
                        let resp = router
                            .call(req.map(Body::new))
                            .await
                            .unwrap_or_else(|e| match e {});
                        if resp.extensions().get::<DropConnection>().is_some() {
                            return Err(std::io::Error::other("injected connection drop"));
                        }
                        Ok(resp)
                    }
                });
            let _ = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

/// Every request: log, check, wait, fault, authenticate, handle, and the
/// after-write fault.
async fn pipeline<S: Service>(
    State(core): State<Arc<Core<S>>>,
    req: Request,
    next: Next,
) -> Response {
    let (parts, body) = req.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, BODY_LIMIT).await else {
        core.received(String::new());
        return dropped();
    };
    let op = core.service.operation(&parts, &bytes);
    core.received(op.clone());
    if let Err(r) = core.service.check(&parts, &bytes) {
        if let Some(v) = r.violation {
            core.violation(v);
        }
        return S::error(&core, r.error);
    }
    let latency = core.latency();
    if !latency.is_zero() {
        tokio::time::sleep(latency).await;
    }
    let fault = core.take(&op, |k| !matches!(k, FaultKind::Vendor(_)));
    match fault {
        Some(FaultKind::Throttle { retry_after }) => {
            let mut r = S::error(&core, core.service.fault_error(Standard::Throttle));
            if let Some(secs) = retry_after {
                r.headers_mut()
                    .insert(header::RETRY_AFTER, HeaderValue::from(secs));
            }
            return r;
        }
        Some(FaultKind::Unavailable) => {
            return S::error(&core, core.service.fault_error(Standard::Unavailable))
        }
        Some(FaultKind::Drop) => return dropped(),
        Some(FaultKind::Slow(d)) => tokio::time::sleep(d).await,
        _ => {}
    }
    if let Err(r) = core.service.authenticate(&parts, &bytes) {
        if let Some(v) = r.violation {
            core.violation(v);
        }
        return S::error(&core, r.error);
    }
    let answer = next
        .run(Request::from_parts(parts, Body::from(bytes)))
        .await;
    if fault == Some(FaultKind::AfterWrite) {
        return S::error(&core, core.service.fault_error(Standard::AfterWrite));
    }
    answer
}

fn dropped() -> Response {
    let mut r = Response::new(Body::empty());
    r.extensions_mut().insert(DropConnection);
    r
}
