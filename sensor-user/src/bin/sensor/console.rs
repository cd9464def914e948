//! `run --console`: the analyst console's accounts, its view of the lake's past incidents,
//! and starting it beside the control socket.

use std::{
    path::{Path, PathBuf},
    sync::{Arc, mpsc},
    time::Duration,
};

use anyhow::{Context, Result};
use sensor_user::{
    api::Handler,
    console::{Backend, ConsoleConfig, ConsoleServer, HistoryPage, Users},
    lake::query::{self, Format},
    metrics::server::Collect,
    respond::changes::Changes,
};
use serde_json::{Value, json};

use crate::cli::ConsoleArgs;

/// The accounts file: --console-users, else STATE_DIR/console-users, created with an
/// `admin` account and a random token the first time (the token is printed once).
fn users(args: &ConsoleArgs, state_dir: &Path) -> Result<(Users, PathBuf)> {
    if let Some(p) = &args.console_users {
        return Ok((Users::load(p)?, p.clone()));
    }
    let path = state_dir.join("console-users");
    if path.exists() {
        return Ok((Users::load(&path)?, path));
    }
    let (users, token) = Users::create(&path, "admin")?;
    eprintln!("console: created {} with user admin, token {token} (shown once)", path.display());
    Ok((users, path))
}

/// How long a page of history may take before the console gives up on it.
const HISTORY_TIMEOUT: Duration = Duration::from_secs(30);

/// The lake's past incidents, one page at a time, read on one thread of their own
/// ("console-lake"): queries run one after another whatever the number of browsers, and
/// the memory DataFusion uses stays in one thread's allocator arena.
fn history(root: PathBuf, host: String) -> Result<HistoryPage> {
    type Ask = (usize, usize, mpsc::Sender<Result<Value, String>>);
    let (tx, rx) = mpsc::channel::<Ask>();
    std::thread::Builder::new()
        .name("console-lake".into())
        .spawn(move || {
            for (limit, offset, reply) in rx {
                let _ = reply.send(history_page(&root, &host, limit, offset));
                // DataFusion frees what a query used, but glibc keeps it in this thread's
                // arena; hand it back so browsing history does not grow the sensor.
                // SAFETY: malloc_trim only releases free heap memory; no pointer is involved.
                unsafe { libc::malloc_trim(0) };
            }
        })
        .context("starting the console's lake reader")?;
    Ok(Box::new(move |limit, offset| {
        let (reply, answer) = mpsc::channel();
        tx.send((limit, offset, reply)).map_err(|_| "the lake reader stopped".to_owned())?;
        answer.recv_timeout(HISTORY_TIMEOUT).map_err(|_| "the lake did not answer in time".to_owned())?
    }))
}

/// One page of the lake's past incidents of `host` (the latest row of each), newest first.
fn history_page(root: &Path, host: &str, limit: usize, offset: usize) -> Result<Value, String> {
    let host = host.replace('\'', "''");
    let rows = |sql: &str| -> Result<Vec<Value>, String> {
        let r = query::run(root, sql).map_err(|e| e.to_string())?;
        let mut out = Vec::new();
        query::write(&mut out, &r, Format::Json).map_err(|e| e.to_string())?;
        out.split(|&b| b == b'\n')
            .filter(|l| !l.is_empty())
            .map(|l| serde_json::from_slice(l).map_err(|e| e.to_string()))
            .collect()
    };
    let total = rows(&format!("SELECT count(DISTINCT incident_id) AS n FROM incidents WHERE host = '{host}'"))?;
    let incidents = rows(&format!(
        "SELECT incident_id, first_seen, last_seen, stage, confidence, severity, techniques, adversaries, targets, \
         agents, findings, decisions, summary FROM (SELECT *, row_number() OVER (PARTITION BY incident_id ORDER BY ts DESC) AS rn \
         FROM incidents WHERE host = '{host}') WHERE rn = 1 ORDER BY incident_id DESC LIMIT {limit} OFFSET {offset}"
    ))?;
    Ok(json!({"total": total.first().and_then(|r| r["n"].as_u64()).unwrap_or(0), "incidents": incidents}))
}

/// What the console reads and acts on.
pub struct Sources {
    /// The governor's request handler and its change counter.
    pub governor: Option<(Arc<dyn Handler>, Arc<Changes>)>,
    /// The audit log and its key.
    pub audit: Option<(PathBuf, Option<Vec<u8>>)>,
    /// The metrics exposition.
    pub health: Collect,
    /// The lake's root and this host's name.
    pub lake: Option<(PathBuf, String)>,
}

/// The console's settings, checked (address, consent, certificate, accounts: the accounts
/// file is created on first use) before any of the sensor's threads start; None with
/// `--console off`.
pub fn prepare(args: &ConsoleArgs, state_dir: &Path) -> Result<Option<ConsoleConfig>> {
    use std::os::unix::fs::DirBuilderExt;
    if args.console == "off" {
        return Ok(None);
    }
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(state_dir)
        .with_context(|| format!("creating the state directory {}", state_dir.display()))?;
    let (users, users_path) = users(args, state_dir)?;
    let tls = args.console_cert.clone().zip(args.console_key.clone());
    let cfg = ConsoleConfig { addr: args.console.clone(), remote: args.console_remote, tls, users };
    cfg.check().with_context(|| format!("the console (accounts in {})", users_path.display()))?;
    Ok(Some(cfg))
}

/// Starts the console prepared by [`prepare`]. It never fails the sensor: it runs after
/// the ring readers started, and a busy port only turns the console off.
pub fn start(cfg: Option<ConsoleConfig>, src: Sources) -> Option<ConsoleServer> {
    let cfg = cfg?;
    let (governor, changes) = match src.governor {
        Some((h, c)) => (Some(h), c),
        None => (None, Arc::default()),
    };
    let backend = Backend {
        governor,
        changes,
        audit: src.audit,
        health: Some(src.health),
        history: src.lake.and_then(|(root, host)| {
            history(root, host).map_err(|e| eprintln!("warning: {e:#}; the console shows no lake history")).ok()
        }),
    };
    match ConsoleServer::start(cfg, backend) {
        Ok(server) => {
            eprintln!("console: {}", server.url());
            Some(server)
        }
        // A busy port does not stop a sensor (as with /metrics); a wrong setting stopped it
        // in `prepare`, before anything was attached.
        Err(e) => {
            eprintln!("warning: {e}; the console is off");
            None
        }
    }
}
