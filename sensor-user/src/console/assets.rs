//! The page, its script and style, and the API description, compiled into the binary.

use super::http::Response;

/// The static file at `path`, if it is one.
pub fn get(path: &str) -> Option<Response> {
    let (ctype, body) = match path {
        "/" | "/index.html" => ("text/html; charset=utf-8", include_str!("assets/index.html")),
        "/app.js" => ("text/javascript; charset=utf-8", include_str!("assets/app.js")),
        "/app.css" => ("text/css; charset=utf-8", include_str!("assets/app.css")),
        "/favicon.svg" => ("image/svg+xml", include_str!("assets/favicon.svg")),
        "/api/openapi.json" => ("application/json", include_str!("assets/openapi.json")),
        _ => return None,
    };
    Some(Response::asset(ctype, body))
}
