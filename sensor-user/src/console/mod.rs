//! The analyst console: a local web page served by the sensor itself, with the JSON API
//! behind it (`assets/openapi.json`). It shows incidents with their evidence and decisions,
//! the approval queue, active blocks, the audit trail with its verification, health charts
//! and the lake's past incidents, and it lets an authenticated analyst approve, deny, block,
//! unblock and give feedback, each recorded in the audit log under their name.
//!
//! One thread accepts; each connection gets its own short-lived thread (at most
//! [`MAX_CONNECTIONS`] at once), so a live-update stream never holds up other requests.
//! Loopback only unless the operator says otherwise; HTTPS when given a certificate. The
//! page, its script and style are compiled into the binary: nothing is fetched from
//! anywhere at run time.

mod assets;
pub mod auth;
pub mod http;
mod routes;
mod tls;

use std::{
    net::{SocketAddr, TcpListener, TcpStream},
    path::PathBuf,
    sync::{
        Arc,
        atomic::{AtomicBool, AtomicUsize, Ordering::Relaxed},
    },
    thread::JoinHandle,
    time::Duration,
};

use serde_json::Value;

pub use auth::Users;

use crate::{api::Handler, metrics::server::Collect, respond::changes::Changes};

/// Connections served at once; more are answered 503 and closed.
pub const MAX_CONNECTIONS: usize = 64;
/// Read and write budget of one request.
const IO_TIMEOUT: Duration = Duration::from_secs(10);

/// Reads one page of the lake's past incidents: (limit, offset) to a JSON object with
/// `incidents` (newest first) and `total`.
pub type HistoryPage = Box<dyn Fn(usize, usize) -> Result<Value, String> + Send + Sync>;

/// What the console shows and acts on.
pub struct Backend {
    /// The governor's request handler (the control socket's); None when the sensor runs
    /// without governance.
    pub governor: Option<Arc<dyn Handler>>,
    /// Rung on every change worth showing.
    pub changes: Arc<Changes>,
    /// The audit log and its HMAC key.
    pub audit: Option<(PathBuf, Option<Vec<u8>>)>,
    /// The Prometheus exposition, for the health page.
    pub health: Option<Collect>,
    /// The lake's past incidents.
    pub history: Option<HistoryPage>,
}

/// Where and how to serve.
#[derive(Debug, Clone)]
pub struct ConsoleConfig {
    /// Address to listen on ("127.0.0.1:9465").
    pub addr: String,
    /// Allow a non-loopback address.
    pub remote: bool,
    /// PEM certificate chain and private key, for HTTPS.
    pub tls: Option<(PathBuf, PathBuf)>,
    /// Accounts.
    pub users: Users,
}

/// Why the console could not start.
#[derive(Debug, thiserror::Error)]
pub enum ConsoleError {
    /// The address is not an IP:port.
    #[error("console address {0:?} is not IP:PORT")]
    Addr(String),
    /// A non-loopback address without the operator's consent.
    #[error(
        "console address {0} is not loopback: serving beyond this host needs --console-remote (and HTTPS is advised)"
    )]
    NotLoopback(SocketAddr),
    /// Bind or thread failure.
    #[error("console: cannot listen on {addr}: {source}")]
    Listen {
        /// The address.
        addr: String,
        /// The error.
        #[source]
        source: std::io::Error,
    },
    /// The users file is unusable.
    #[error("console users file {path}: {why}")]
    Users {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        why: String,
    },
    /// The certificate or key is unusable.
    #[error("console TLS: {0}")]
    Tls(String),
}

impl ConsoleConfig {
    /// Checks everything but the bind: the address, the consent for a non-loopback one,
    /// the certificate and key. A sensor calls it before it attaches anything.
    ///
    /// # Errors
    /// See [`ConsoleError`].
    pub fn check(&self) -> Result<(), ConsoleError> {
        self.resolve().map(drop)
    }

    fn resolve(&self) -> Result<(SocketAddr, Option<Arc<rustls::ServerConfig>>), ConsoleError> {
        let want: SocketAddr = self.addr.parse().map_err(|_| ConsoleError::Addr(self.addr.clone()))?;
        if !want.ip().is_loopback() && !self.remote {
            return Err(ConsoleError::NotLoopback(want));
        }
        let tls = self.tls.as_ref().map(|(c, k)| tls::server_config(c, k)).transpose()?;
        Ok((want, tls))
    }
}

/// Shared by the accept loop and the connection threads.
struct Ctx {
    backend: Backend,
    users: Users,
    sessions: auth::Sessions,
    origin: auth::Origin,
    tls: Option<Arc<rustls::ServerConfig>>,
    stop: AtomicBool,
    active: AtomicUsize,
}

/// A running console. Dropping it stops accepting; open streams end within a few seconds.
pub struct ConsoleServer {
    addr: SocketAddr,
    ctx: Arc<Ctx>,
    handle: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for ConsoleServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConsoleServer").field("addr", &self.addr).finish()
    }
}

impl ConsoleServer {
    /// Listens on `cfg.addr` and serves `backend`.
    ///
    /// # Errors
    /// See [`ConsoleError`].
    pub fn start(cfg: ConsoleConfig, backend: Backend) -> Result<Self, ConsoleError> {
        let (want, tls) = cfg.resolve()?;
        let listen = |source| ConsoleError::Listen { addr: cfg.addr.clone(), source };
        let listener = TcpListener::bind(want).map_err(listen)?;
        listener.set_nonblocking(true).map_err(listen)?;
        let addr = listener.local_addr().map_err(listen)?;
        let origin = auth::Origin {
            scheme: if tls.is_some() { "https" } else { "http" },
            loopback: addr.ip().is_loopback(),
            port: addr.port(),
        };
        let ctx = Arc::new(Ctx {
            backend,
            users: cfg.users,
            sessions: auth::Sessions::default(),
            origin,
            tls,
            stop: AtomicBool::new(false),
            active: AtomicUsize::new(0),
        });
        let c = Arc::clone(&ctx);
        let handle = std::thread::Builder::new()
            .name("console".into())
            .spawn(move || accept_loop(&listener, &c))
            .map_err(listen)?;
        Ok(Self { addr, ctx, handle: Some(handle) })
    }

    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The page's address ("http://127.0.0.1:9465/").
    pub fn url(&self) -> String {
        format!("{}://{}/", self.ctx.origin.scheme, self.addr)
    }
}

impl Drop for ConsoleServer {
    fn drop(&mut self) {
        self.ctx.stop.store(true, Relaxed);
        self.ctx.backend.changes.bump();
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }
}

fn accept_loop(listener: &TcpListener, ctx: &Arc<Ctx>) {
    while !ctx.stop.load(Relaxed) {
        match listener.accept() {
            Ok((conn, remote)) => {
                if ctx.active.fetch_add(1, Relaxed) >= MAX_CONNECTIONS {
                    ctx.active.fetch_sub(1, Relaxed);
                    refuse_busy(conn);
                    continue;
                }
                let c = Arc::clone(ctx);
                let spawned = std::thread::Builder::new().name("console-conn".into()).spawn(move || {
                    serve(conn, remote, &c);
                    c.active.fetch_sub(1, Relaxed);
                });
                if spawned.is_err() {
                    ctx.active.fetch_sub(1, Relaxed);
                }
            }
            Err(_) => std::thread::sleep(Duration::from_millis(25)),
        }
    }
}

fn refuse_busy(mut conn: TcpStream) {
    let _ = conn.set_nonblocking(false);
    let _ = conn.set_write_timeout(Some(Duration::from_secs(1)));
    let _ = http::Response::error(503, "too many connections").write_to(&mut conn);
}

fn serve(conn: TcpStream, remote: SocketAddr, ctx: &Ctx) {
    let _ = conn.set_nonblocking(false);
    let _ = conn.set_read_timeout(Some(IO_TIMEOUT));
    let _ = conn.set_write_timeout(Some(IO_TIMEOUT));
    match &ctx.tls {
        Some(cfg) => {
            if let Ok(tls) = rustls::ServerConnection::new(Arc::clone(cfg)) {
                routes::exchange(&mut rustls::StreamOwned::new(tls, conn), remote, ctx);
            }
        }
        None => {
            let mut conn = conn;
            routes::exchange(&mut conn, remote, ctx);
        }
    }
}

#[cfg(test)]
mod tests;
