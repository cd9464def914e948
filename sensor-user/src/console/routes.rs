//! What each console request does: the host check, sign-in, authentication, the CSRF gate
//! on every state change, then the API (mostly the control socket's commands under the
//! signed-in user's name), the static page, and the live-update stream.

use std::{
    io::{Read, Write},
    net::SocketAddr,
    sync::atomic::Ordering::Relaxed,
    time::{Duration, Instant},
};

use serde_json::{Map, Value, json};

use super::{
    Ctx, assets,
    auth::{self, Credential, Identity, SESSION_COOKIE},
    http::{self, HttpError, Request, Response},
};
use crate::{api::Peer, audit};

/// A failed sign-in costs this long, so tokens cannot be guessed quickly.
const FAILED_LOGIN_DELAY: Duration = Duration::from_millis(300);
/// An idle event stream sends a comment this often (and notices a closed client).
const KEEPALIVE: Duration = Duration::from_secs(10);
/// Audit records shown at most.
const MAX_AUDIT: u64 = 1000;
/// Past incidents per page at most.
const MAX_PAGE: u64 = 500;

/// Reads one request from `io` and answers it.
pub(super) fn exchange(io: &mut (impl Read + Write), remote: SocketAddr, ctx: &Ctx) {
    let req = match http::read_request(io) {
        Ok(r) => r,
        Err(HttpError::Incomplete | HttpError::Io(_)) => return,
        Err(e @ HttpError::TooLarge) => return drop(Response::error(413, e).write_to(io)),
        Err(e) => return drop(Response::error(400, e).write_to(io)),
    };
    match route(&req, remote, ctx) {
        Ok(Some(r)) | Err(r) => drop(r.write(io, req.method != "HEAD")),
        Ok(None) => stream_changes(io, ctx),
    }
}

/// The response, or None for the event stream.
fn route(req: &Request, remote: SocketAddr, ctx: &Ctx) -> Result<Option<Response>, Response> {
    let host = req.header("host").ok_or_else(|| Response::error(400, "no Host header"))?;
    if !ctx.origin.host_allowed(host) {
        return Err(Response::error(421, "this console answers only to its loopback address"));
    }
    // HEAD is answered as GET (without the body, see `exchange`).
    let method = if req.method == "HEAD" { "GET" } else { req.method.as_str() };
    let (get, post) = (method == "GET", method == "POST");
    if get {
        if let Some(r) = assets::get(&req.path) {
            return Ok(Some(r));
        }
    }
    if req.path == "/api/login" {
        return if post { login(req, ctx).map(Some) } else { Err(Response::error(405, "POST only")) };
    }
    if !req.path.starts_with("/api/") {
        return Err(Response::error(404, "not found"));
    }
    let who = auth::authenticate(req, &ctx.users, &ctx.sessions)
        .ok_or_else(|| Response::error(401, "sign in first (session cookie or Authorization: Bearer TOKEN)"))?;
    if !get {
        if !post {
            return Err(Response::error(405, "GET or POST only"));
        }
        auth::may_change(req, &who, &ctx.origin).map_err(|e| Response::error(403, e))?;
    }
    let peer = Peer::web(
        &who.user,
        format!(
            "console {} from {}",
            if who.credential == Credential::Token { "token" } else { "session" },
            remote.ip()
        ),
    );
    let segs: Vec<&str> = req.path.trim_start_matches("/api/").split('/').collect();
    let body = || req.json().map_err(|e| Response::error(400, e));
    let id = |s: &str| s.parse::<u64>().map_err(|_| Response::error(404, "not found"));
    let cmd = match (method, segs.as_slice()) {
        ("GET", ["events"]) => return Ok(None),
        ("GET", ["session"]) => return Ok(Some(session(&who))),
        ("POST", ["logout"]) => {
            if let Some(c) = req.cookie(SESSION_COOKIE) {
                ctx.sessions.close(c);
            }
            let r = Response::json(200, &json!({"ok": true}));
            return Ok(Some(r.with_header(format!("Set-Cookie: {SESSION_COOKIE}=; Path=/; Max-Age=0"))));
        }
        ("GET", ["audit"]) => return audit_page(req, ctx).map(Some),
        ("GET", ["health"]) => return Ok(Some(health(ctx))),
        ("GET", ["history"]) => return history(req, ctx).map(Some),
        ("GET", ["status"]) => json!({"cmd": "status"}),
        ("GET", ["incidents"]) => json!({"cmd": "incidents"}),
        ("GET", ["incidents", n]) => json!({"cmd": "incident", "id": id(n)?}),
        ("GET", ["approvals"]) => json!({"cmd": "approvals"}),
        ("GET", ["blocks"]) => json!({"cmd": "blocks"}),
        ("POST", ["incidents", n, "feedback"]) => with(json!({"cmd": "feedback", "incident": id(n)?}), body()?),
        ("POST", ["approvals", n, "approve"]) => json!({"cmd": "approve", "id": id(n)?}),
        ("POST", ["approvals", n, "deny"]) => with(json!({"cmd": "deny", "id": id(n)?}), body()?),
        ("POST", ["blocks"]) => with(json!({"cmd": "block"}), body()?),
        ("POST", ["blocks", "unblock"]) => with(json!({"cmd": "unblock"}), body()?),
        _ => return Err(Response::error(404, "not found")),
    };
    let gov =
        ctx.backend.governor.as_ref().ok_or_else(|| Response::error(404, "this sensor runs without governance"))?;
    let answer = gov.handle(&peer, cmd);
    let ok = answer.get("ok").and_then(Value::as_bool).unwrap_or(false);
    Ok(Some(Response::json(if ok { 200 } else { 400 }, &answer)))
}

/// `cmd` with the request body's fields added (the body cannot replace the command or id).
fn with(mut cmd: Value, body: Map<String, Value>) -> Value {
    if let Value::Object(m) = &mut cmd {
        for (k, v) in body {
            m.entry(k).or_insert(v);
        }
    }
    cmd
}

fn session(who: &Identity) -> Response {
    let csrf = match &who.credential {
        Credential::Session { csrf } => Value::String(csrf.clone()),
        Credential::Token => Value::Null,
    };
    Response::json(200, &json!({"ok": true, "user": who.user, "csrf": csrf}))
}

fn login(req: &Request, ctx: &Ctx) -> Result<Response, Response> {
    ctx.origin.same_origin(req).map_err(|e| Response::error(403, e))?;
    let body = req.json().map_err(|e| Response::error(400, e))?;
    let field = |k: &str| body.get(k).and_then(Value::as_str).unwrap_or("");
    let Some(user) = ctx.users.check(field("user"), field("token")) else {
        std::thread::sleep(FAILED_LOGIN_DELAY);
        return Err(Response::error(401, "unknown user or wrong token"));
    };
    let (id, csrf) = ctx.sessions.open(user).map_err(|e| Response::error(503, e))?;
    let secure = if ctx.origin.scheme == "https" { "; Secure" } else { "" };
    let max_age = auth::SESSION_IDLE.as_secs();
    Ok(Response::json(200, &json!({"ok": true, "user": user, "csrf": csrf})).with_header(format!(
        "Set-Cookie: {SESSION_COOKIE}={id}; Path=/; HttpOnly; SameSite=Strict; Max-Age={max_age}{secure}"
    )))
}

fn audit_page(req: &Request, ctx: &Ctx) -> Result<Response, Response> {
    let Some((path, key)) = &ctx.backend.audit else {
        return Err(Response::error(404, "this sensor keeps no audit log"));
    };
    let limit = req.query_u64("limit").unwrap_or(200).min(MAX_AUDIT) as usize;
    let report = audit::verify(path, key.as_deref()).map_err(|e| Response::error(500, e))?;
    let records = audit::read_records(path).map_err(|e| Response::error(500, e))?;
    let total = records.len();
    let newest: Vec<Value> =
        records.into_iter().rev().take(limit).map(|(line, rec)| json!({"line": line, "record": rec})).collect();
    Ok(Response::json(
        200,
        &json!({
            "ok": true,
            "path": path,
            "total": total,
            "verify": {
                "ok": report.ok(),
                "records": report.records,
                "keyed": report.keyed,
                "problems": report.problems.iter().map(ToString::to_string).collect::<Vec<_>>(),
                "recoveries": report.recoveries,
            },
            "records": newest,
        }),
    ))
}

fn health(ctx: &Ctx) -> Response {
    let text = ctx.backend.health.as_ref().map(|c| c()).unwrap_or_default();
    let samples: Vec<Value> = text.lines().filter_map(parse_sample).collect();
    Response::json(200, &json!({"ok": true, "now_ms": crate::respond::wall_ns() / 1_000_000, "samples": samples}))
}

/// One exposition line as `{"name", "labels", "value"}`; comments and bucket lines skipped.
fn parse_sample(line: &str) -> Option<Value> {
    if line.starts_with('#') || line.is_empty() {
        return None;
    }
    let (series, value) = line.rsplit_once(' ')?;
    let value: f64 = value.parse().ok()?;
    let (name, labels) = match series.split_once('{') {
        Some((n, rest)) => (n, rest.strip_suffix('}')?),
        None => (series, ""),
    };
    if name.ends_with("_bucket") {
        return None;
    }
    let mut map = Map::new();
    let mut rest = labels;
    while let Some((k, after)) = rest.split_once("=\"") {
        let mut v = String::new();
        let mut chars = after.char_indices();
        let mut end = after.len();
        while let Some((i, c)) = chars.next() {
            match c {
                '\\' => {
                    if let Some((_, e)) = chars.next() {
                        v.push(if e == 'n' { '\n' } else { e });
                    }
                }
                '"' => {
                    end = i + 1;
                    break;
                }
                c => v.push(c),
            }
        }
        map.insert(k.trim_start_matches(',').to_owned(), Value::String(v));
        rest = &after[end..];
    }
    Some(json!({"name": name, "labels": map, "value": if value.is_finite() { json!(value) } else { Value::Null }}))
}

fn history(req: &Request, ctx: &Ctx) -> Result<Response, Response> {
    let Some(page) = &ctx.backend.history else {
        return Err(Response::error(404, "this sensor writes no lake"));
    };
    let limit = req.query_u64("limit").unwrap_or(100).clamp(1, MAX_PAGE) as usize;
    let offset = req.query_u64("offset").unwrap_or(0) as usize;
    let mut v = page(limit, offset).map_err(|e| Response::error(500, e))?;
    if let Value::Object(m) = &mut v {
        m.insert("ok".into(), Value::Bool(true));
    }
    Ok(Response::json(200, &v))
}

/// Server-sent events: `change` with the new sequence number each time the governor's
/// view changes, a comment line when idle.
fn stream_changes(io: &mut impl Write, ctx: &Ctx) {
    if http::write_stream_head(io).is_err() {
        return;
    }
    let changes = &ctx.backend.changes;
    let mut seen = changes.seq();
    let hello = format!("retry: 1000\nevent: change\ndata: {{\"seq\":{seen}}}\n\n");
    if io.write_all(hello.as_bytes()).and_then(|()| io.flush()).is_err() {
        return;
    }
    let mut idle_since = Instant::now();
    while !ctx.stop.load(Relaxed) {
        let now = changes.wait_past(seen, KEEPALIVE.saturating_sub(idle_since.elapsed()));
        let msg = if now > seen {
            seen = now;
            idle_since = Instant::now();
            format!("event: change\ndata: {{\"seq\":{now}}}\n\n")
        } else if idle_since.elapsed() >= KEEPALIVE {
            idle_since = Instant::now();
            ": idle\n\n".to_owned()
        } else {
            continue;
        };
        if io.write_all(msg.as_bytes()).and_then(|()| io.flush()).is_err() {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exposition_lines_become_samples_with_unescaped_labels() {
        let s = parse_sample(r#"sensor_ring_events_total{ring="net",kind="a\"b"} 42"#).expect("sample");
        assert_eq!(s["name"], "sensor_ring_events_total");
        assert_eq!(s["labels"]["ring"], "net");
        assert_eq!(s["labels"]["kind"], "a\"b");
        assert_eq!(s["value"], 42.0);
        assert_eq!(parse_sample("sensor_up 1").expect("bare")["value"], 1.0);
        assert!(parse_sample("# HELP x y").is_none());
        assert!(parse_sample(r#"lat_bucket{le="0.1"} 3"#).is_none());
        assert!(parse_sample("garbage").is_none());
    }
}
