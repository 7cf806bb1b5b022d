//! The accept loop and each connection: connection cap, TLS handshake
//! (or first byte) timeout, hyper with its timer, the idle timeout and
//! graceful shutdown.

use crate::activity::Activity;
use crate::hijack::{first_line, request_line, Hijack, Prefixed};
use crate::limits::{default_rejector, Limits, Rejection, Rejector};
use crate::linger::Lingering;
use crate::ServerSettings;
use axum::body::Body;
use axum::error_handling::HandleErrorLayer;
use axum::extract::Request;
use axum::response::Response;
use axum::Router;
use http_body_util::BodyExt;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, TcpStream, UnixListener, UnixStream};
use tokio::sync::{watch, Semaphore};
use tower::util::BoxCloneSyncService;
use tower::{BoxError, ServiceBuilder, ServiceExt};

type App = BoxCloneSyncService<Request, Response, Infallible>;

/// A server: its settings, TLS (None: plain HTTP) and how it answers a
/// [`Rejection`]. [`Server::serve`] runs it.
#[derive(Clone)]
pub struct Server {
    settings: ServerSettings,
    tls: Option<Arc<rustls::ServerConfig>>,
    rejector: Rejector,
    name: &'static str,
    streams_bodies: bool,
    hijack: Option<Arc<dyn Hijack>>,
}

/// Where connections come from.
enum Listener {
    Tcp(TcpListener),
    Unix(UnixListener),
}

enum Accepted {
    Tcp(TcpStream, SocketAddr),
    Unix(UnixStream),
}

impl Listener {
    async fn accept(&self) -> std::io::Result<Accepted> {
        Ok(match self {
            Listener::Tcp(l) => {
                let (s, peer) = l.accept().await?;
                Accepted::Tcp(s, peer)
            }
            Listener::Unix(l) => Accepted::Unix(l.accept().await?.0),
        })
    }
}

/// Serves `app` on `listener` with `settings` (TLS when `tls` is given)
/// until `shutdown` resolves; see [`Server`] for more choices.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    settings: &ServerSettings,
    tls: Option<Arc<rustls::ServerConfig>>,
    shutdown: impl Future<Output = ()> + Send,
) {
    Server::new(settings.clone())
        .tls(tls)
        .serve(listener, app, shutdown)
        .await
}

impl Server {
    pub fn new(settings: ServerSettings) -> Server {
        Server {
            settings,
            tls: None,
            rejector: default_rejector(),
            name: "http",
            streams_bodies: false,
            hijack: None,
        }
    }

    /// Connections whose first request `hijack` wants are handed to it raw
    /// (plain HTTP only; see [`Hijack`]).
    pub fn hijack(mut self, hijack: Arc<dyn Hijack>) -> Server {
        self.hijack = Some(hijack);
        self
    }

    /// The app streams request bodies (to disk, to a backend) instead of
    /// buffering them: they take no room in the buffered-bytes budget.
    pub fn streams_bodies(mut self) -> Server {
        self.streams_bodies = true;
        self
    }

    pub fn tls(mut self, tls: Option<Arc<rustls::ServerConfig>>) -> Server {
        self.tls = tls;
        self
    }

    pub fn rejector(mut self, rejector: Rejector) -> Server {
        self.rejector = rejector;
        self
    }

    /// The server's name in logs.
    pub fn name(mut self, name: &'static str) -> Server {
        self.name = name;
        self
    }

    /// Accepts connections until `shutdown` resolves, then lets open
    /// requests finish (up to `drain_timeout`) and returns.
    pub async fn serve(
        self,
        listener: TcpListener,
        app: Router,
        shutdown: impl Future<Output = ()> + Send,
    ) {
        self.run(Listener::Tcp(listener), app, shutdown).await
    }

    /// [`Server::serve`] on a unix socket (plain HTTP; TLS settings are
    /// not used).
    pub async fn serve_unix(
        self,
        listener: UnixListener,
        app: Router,
        shutdown: impl Future<Output = ()> + Send,
    ) {
        self.run(Listener::Unix(listener), app, shutdown).await
    }

    async fn run(self, listener: Listener, app: Router, shutdown: impl Future<Output = ()> + Send) {
        let s = &self.settings;
        let max_conns = s.max_connections.clamp(1, Semaphore::MAX_PERMITS);
        let conns = Arc::new(Semaphore::new(max_conns));
        let (stop_tx, stop_rx) = watch::channel(false);
        let shared = Arc::new(Shared {
            app: limited(app, s, self.rejector.clone(), !self.streams_bodies),
            acceptor: self.tls.clone().map(tokio_rustls::TlsAcceptor::from),
            settings: s.clone(),
            name: self.name,
            hijack: self.hijack.clone(),
        });
        tokio::pin!(shutdown);
        loop {
            let permit = tokio::select! {
                p = conns.clone().acquire_owned() => p.expect("never closed"),
                _ = &mut shutdown => break,
            };
            let accepted = tokio::select! {
                r = listener.accept() => match r {
                    Ok(x) => x,
                    Err(e) => {
                        // Out of file descriptors, mostly: wait, not spin.
                        tracing::warn!(server = self.name, error = %e, "accept-failed");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                },
                _ = &mut shutdown => break,
            };
            let shared = shared.clone();
            let stop = stop_rx.clone();
            tokio::spawn(async move {
                match accepted {
                    Accepted::Tcp(stream, peer) => shared.connection(stream, peer, stop).await,
                    Accepted::Unix(stream) => shared.plain(stream, None, stop).await,
                }
                drop(permit);
            });
        }
        drop(listener);
        let _ = stop_tx.send(true);
        let all = conns.acquire_many(max_conns as u32);
        let grace = s.drain_timeout.0 + Duration::from_secs(1);
        if tokio::time::timeout(grace, all).await.is_err() {
            tracing::warn!(server = self.name, "connections-not-drained");
        }
    }
}

/// The app behind the request limits: load shedding over a global
/// concurrency limit (503 beyond it), then admission ([`Limits`]).
fn limited(app: Router, s: &ServerSettings, rejector: Rejector, buffered: bool) -> App {
    let limits = Arc::new(Limits::new(s, rejector.clone(), buffered));
    let admitted = tower::service_fn(move |req: Request| {
        let (limits, app) = (limits.clone(), app.clone());
        async move {
            Ok::<_, Infallible>(match limits.admit(req).await {
                Ok((req, budget)) => {
                    let resp = app.oneshot(req).await.unwrap_or_else(|e| match e {});
                    drop(budget);
                    resp
                }
                Err(rejected) => rejected,
            })
        }
    });
    let busy = move |_: BoxError| {
        let rejector = rejector.clone();
        async move { rejector(Rejection::Busy) }
    };
    BoxCloneSyncService::new(
        ServiceBuilder::new()
            .layer(HandleErrorLayer::new(busy))
            .load_shed()
            .layer(tower::limit::GlobalConcurrencyLimitLayer::new(
                s.max_requests_in_flight.max(1),
            ))
            .service(admitted),
    )
}

struct Shared {
    app: App,
    acceptor: Option<tokio_rustls::TlsAcceptor>,
    settings: ServerSettings,
    name: &'static str,
    hijack: Option<Arc<dyn Hijack>>,
}

impl Shared {
    async fn connection(&self, stream: TcpStream, peer: SocketAddr, stop: watch::Receiver<bool>) {
        let _ = stream.set_nodelay(true);
        let handshake = self.settings.tls_handshake_timeout.0;
        let name = self.name;
        match &self.acceptor {
            Some(acceptor) => {
                let stream = match tokio::time::timeout(handshake, acceptor.accept(stream)).await {
                    Ok(Ok(s)) => s,
                    Ok(Err(e)) => {
                        tracing::info!(server = name, %peer, error = %e, "tls-handshake-failed");
                        return;
                    }
                    Err(_) => {
                        tracing::info!(server = name, %peer, "tls-handshake-timed-out");
                        return;
                    }
                };
                // ALPN said which protocol: no guessing from the first bytes
                // (which would wait without a timeout).
                let h2 = stream.get_ref().1.alpn_protocol() == Some(b"h2");
                let builder = self.builder();
                let builder = if h2 {
                    builder.http2_only()
                } else {
                    builder.http1_only()
                };
                self.drive(builder, stream, Some(peer), stop).await;
            }
            None if self.hijack.is_some() => self.plain(stream, Some(peer), stop).await,
            None => {
                // A first byte within the handshake timeout; then hyper
                // tells HTTP/1.1 from HTTP/2 by the first bytes.
                let mut b = [0u8; 1];
                match tokio::time::timeout(handshake, stream.peek(&mut b)).await {
                    Ok(Ok(n)) if n > 0 => {}
                    _ => {
                        tracing::debug!(server = name, %peer, "no-first-byte");
                        return;
                    }
                }
                self.drive(self.builder(), stream, Some(peer), stop).await;
            }
        }
    }

    /// A plain-HTTP connection read up to its first request line (within
    /// the handshake timeout for the first byte, the header timeout for
    /// the rest), then handed to the hijacker if it wants it, else to hyper.
    async fn plain<I>(&self, mut io: I, peer: Option<SocketAddr>, mut stop: watch::Receiver<bool>)
    where
        I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        let s = &self.settings;
        let mut buf = Vec::new();
        let read = first_line(
            &mut io,
            &mut buf,
            s.tls_handshake_timeout.0,
            s.header_read_timeout.0,
        );
        if read.await.is_none() {
            tracing::debug!(server = self.name, "no-first-byte");
            return;
        }
        if let Some(h) = &self.hijack {
            if let Some((method, target)) = request_line(&buf) {
                if h.wants(method, target) {
                    let served = h.serve(Box::new(Prefixed::new(buf, io)));
                    tokio::select! {
                        _ = served => {}
                        _ = stopped(&mut stop) => {}
                    }
                    return;
                }
            }
        }
        self.drive(self.builder(), Prefixed::new(buf, io), peer, stop)
            .await;
    }

    fn builder(&self) -> auto::Builder<TokioExecutor> {
        let mut b = auto::Builder::new(TokioExecutor::new());
        b.http1()
            .timer(TokioTimer::new())
            .header_read_timeout(self.settings.header_read_timeout.0);
        b.http2().timer(TokioTimer::new()).max_concurrent_streams(
            self.settings.max_requests_in_flight.min(u32::MAX as usize) as u32,
        );
        b
    }

    async fn drive<I>(
        &self,
        builder: auto::Builder<TokioExecutor>,
        io: I,
        peer: Option<SocketAddr>,
        mut stop: watch::Receiver<bool>,
    ) where
        I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        let activity = Activity::new();
        let app = self.app.clone();
        let act = activity.clone();
        let service = hyper::service::service_fn(move |req: Request<hyper::body::Incoming>| {
            let (app, in_flight) = (app.clone(), act.begin());
            // The client's address, as axum's `into_make_service_with_connect_info` gives it.
            let mut req = req.map(Body::new);
            if let Some(peer) = peer {
                req.extensions_mut()
                    .insert(axum::extract::ConnectInfo(peer));
            }
            async move {
                let resp = app.oneshot(req).await.unwrap_or_else(|e| match e {});
                // In flight until the response body ends or is dropped.
                Ok::<_, Infallible>(resp.map(|b| {
                    Body::new(b.map_frame(move |f| {
                        let _held = &in_flight;
                        f
                    }))
                }))
            }
        });
        let conn = builder.serve_connection(TokioIo::new(Lingering::new(io)), service);
        tokio::pin!(conn);
        let idle = self.settings.idle_timeout.0;
        loop {
            let wait = idle
                .saturating_sub(activity.idle_for())
                .max(Duration::from_millis(10));
            tokio::select! {
                r = conn.as_mut() => {
                    if let Err(e) = r {
                        tracing::debug!(server = self.name, error = %e, "connection-ended");
                    }
                    return;
                }
                _ = stopped(&mut stop) => {
                    conn.as_mut().graceful_shutdown();
                    let _ = tokio::time::timeout(self.settings.drain_timeout.0, conn.as_mut()).await;
                    return;
                }
                _ = tokio::time::sleep(wait) => {
                    if activity.idle_for() >= idle {
                        tracing::debug!(server = self.name, "connection-idle");
                        conn.as_mut().graceful_shutdown();
                        let _ = tokio::time::timeout(Duration::from_secs(1), conn.as_mut()).await;
                        return;
                    }
                }
            }
        }
    }
}

/// Resolves once the server stops (or is gone).
async fn stopped(stop: &mut watch::Receiver<bool>) {
    let _ = stop.wait_for(|s| *s).await;
}
