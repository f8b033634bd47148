//! The GraphiQL page, at `/` and at `GET /graphql` for browsers, and every
//! asset it loads. The assets are vendored npm releases (`assets/graphiql/`,
//! pinned and refreshed by `scripts/refresh-graphiql.sh`) embedded at build
//! time and served under a path that carries a hash of their bytes, so the
//! page works with no internet, asks nothing of another origin (its CSP says
//! so to the browser too), and its assets can be cached forever.
//!
//! In dev mode the page opens with the demo admin token in GraphiQL's
//! headers and a tab per example operation, but only when the request
//! names a loopback host (`localhost`, `127.0.0.0/8`, `[::1]`, any port):
//! a page on another site that rebinds its own name to this machine's
//! address sends its own name, so it gets the page without the token. In
//! production nothing is prefilled.

mod examples;

use std::fmt::Write as _;

use axum::{
    extract::{Path, State},
    http::{header, HeaderMap, HeaderValue, StatusCode},
    response::{IntoResponse, Response},
};
use serde_json::json;
use sha2::{Digest, Sha256};

use super::AppState;
use crate::config::IntrospectionPolicy;

/// One embedded file.
struct Asset {
    name: &'static str,
    content_type: &'static str,
    bytes: &'static [u8],
}

macro_rules! vendored {
    ($name:literal, $content_type:expr) => {
        Asset {
            name: $name,
            content_type: $content_type,
            bytes: include_bytes!(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/assets/graphiql/",
                $name
            )),
        }
    };
}

const JS: &str = "text/javascript; charset=utf-8";
const CSS: &str = "text/css; charset=utf-8";

/// Everything the page loads. The last one is ours: it reads the page's
/// settings and starts GraphiQL (a file, not an inline script, so the CSP
/// can forbid inline scripts).
const ASSETS: &[Asset] = &[
    vendored!("react.production.min.js", JS),
    vendored!("react-dom.production.min.js", JS),
    vendored!("graphiql.min.js", JS),
    vendored!("graphiql.min.css", CSS),
    Asset {
        name: "start.js",
        content_type: JS,
        bytes: include_bytes!("start.js"),
    },
];

/// Only this page's own origin, for everything; inline styles because
/// React sets `style` attributes, `data:` for the fonts and icons GraphiQL's
/// CSS inlines.
const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; \
     style-src 'self' 'unsafe-inline'; img-src 'self' data:; font-src 'self' data:; \
     connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'";

/// The page and its assets, built once per process.
pub struct Playground {
    /// `/graphiql/<hash of every asset>`: a build with other assets gets
    /// another path, so `immutable` caching never serves a stale file.
    prefix: String,
    /// The page's HTML, with nothing prefilled.
    html: String,
    /// In dev mode: the page prefilled with the demo token, for loopback
    /// hosts only.
    dev_html: Option<String>,
}

impl Playground {
    /// `dev_token`: the demo admin's token in dev mode, to prefill; `None`
    /// in production.
    pub fn new(dev_token: Option<&str>) -> Self {
        let mut hash = Sha256::new();
        for asset in ASSETS {
            hash.update(asset.name.as_bytes());
            hash.update(asset.bytes);
        }
        let digest = hash.finalize();
        let mut version = String::with_capacity(16);
        for byte in &digest[..8] {
            let _ = write!(version, "{byte:02x}");
        }
        let prefix = format!("/graphiql/{version}");
        let html = page(&prefix, None);
        let dev_html = dev_token.map(|token| page(&prefix, Some(token)));
        Self {
            prefix,
            html,
            dev_html,
        }
    }

    /// The page for a request that names `host`.
    fn html_for(&self, host: Option<&str>) -> &str {
        match &self.dev_html {
            Some(dev_html) if host.is_some_and(is_loopback_host) => dev_html,
            _ => &self.html,
        }
    }
}

/// Whether a `Host` value names this machine: `localhost`, an address in
/// `127.0.0.0/8` or `[::1]`, with any port.
fn is_loopback_host(host: &str) -> bool {
    let name = match host.strip_prefix('[') {
        Some(bracketed) => match bracketed.split_once(']') {
            Some((address, rest)) if rest.is_empty() || rest.starts_with(':') => address,
            _ => return false,
        },
        None => host.split_once(':').map_or(host, |(name, _)| name),
    };
    if name.eq_ignore_ascii_case("localhost") {
        return true;
    }
    name.parse::<std::net::IpAddr>()
        .is_ok_and(|address| address.is_loopback())
}

fn page(prefix: &str, dev_token: Option<&str>) -> String {
    let settings = match dev_token {
        Some(token) => {
            let headers = serde_json::to_string_pretty(
                &json!({ "Authorization": format!("Bearer {token}") }),
            )
            .unwrap_or_default();
            json!({
                "endpoint": "/graphql",
                "headers": headers,
                "tabs": examples::tabs(&headers),
            })
        }
        None => json!({ "endpoint": "/graphql" }),
    };
    // JSON inside <script>: `<` escaped so no string can close the element.
    let settings = settings.to_string().replace('<', "\\u003c");
    format!(
        r#"<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex">
<title>agentgraph · GraphiQL</title>
<link rel="stylesheet" href="{prefix}/graphiql.min.css">
<style>html, body, #graphiql {{ height: 100%; margin: 0; }}</style>
</head>
<body>
<div id="graphiql">Loading GraphiQL…</div>
<script id="agentgraph-settings" type="application/json">{settings}</script>
<script src="{prefix}/react.production.min.js"></script>
<script src="{prefix}/react-dom.production.min.js"></script>
<script src="{prefix}/graphiql.min.js"></script>
<script src="{prefix}/start.js"></script>
</body>
</html>
"#
    )
}

/// The page. With introspection `off` there is nothing for it to do, so it
/// is not served.
pub async fn graphiql(State(state): State<AppState>, headers: HeaderMap) -> Response {
    if state.config().introspection_policy() == IntrospectionPolicy::Off {
        return StatusCode::NOT_FOUND.into_response();
    }
    let host = headers.get(header::HOST).and_then(|v| v.to_str().ok());
    let html = state.playground().html_for(host).to_owned();
    let mut response = axum::response::Html(html).into_response();
    let headers = response.headers_mut();
    // In dev mode the page holds a token: no cache may keep it.
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CONTENT_SECURITY_POLICY),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    response
}

/// `GET /graphiql/{version}/{file}`: an embedded asset, cacheable forever
/// (its path changes with its bytes). Any other version or file: 404.
pub async fn graphiql_asset(
    State(state): State<AppState>,
    Path((version, file)): Path<(String, String)>,
) -> Response {
    let playground = state.playground();
    let current = playground.prefix.rsplit('/').next().unwrap_or_default();
    let asset = ASSETS.iter().find(|asset| asset.name == file);
    match asset {
        Some(asset) if version == current => (
            [
                (header::CONTENT_TYPE, asset.content_type),
                (header::CACHE_CONTROL, "public, max-age=31536000, immutable"),
                (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
            ],
            asset.bytes,
        )
            .into_response(),
        _ => StatusCode::NOT_FOUND.into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What the binary embeds is what `scripts/refresh-graphiql.sh`
    /// vendored (assets/graphiql/SHA256SUMS).
    #[test]
    fn embedded_assets_match_the_vendored_checksums() {
        let sums = include_str!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/assets/graphiql/SHA256SUMS"
        ));
        let mut checked = 0;
        for line in sums.lines() {
            let Some((sum, name)) = line.split_once("  ") else {
                panic!("malformed SHA256SUMS line: {line}")
            };
            let Some(asset) = ASSETS.iter().find(|asset| asset.name == name) else {
                panic!("{name} is vendored but not embedded")
            };
            let actual: String = Sha256::digest(asset.bytes)
                .iter()
                .map(|byte| format!("{byte:02x}"))
                .collect();
            assert_eq!(actual, sum, "{name} differs from SHA256SUMS");
            checked += 1;
        }
        assert_eq!(checked, ASSETS.len() - 1, "every vendored file is checked");
    }

    #[test]
    fn only_loopback_hosts_are_loopback() {
        for host in [
            "localhost",
            "LOCALHOST:8000",
            "127.0.0.1",
            "127.0.0.1:8000",
            "127.1.2.3:80",
            "[::1]",
            "[::1]:8000",
        ] {
            assert!(is_loopback_host(host), "{host}");
        }
        for host in [
            "evil.example",
            "evil.example:8000",
            "localhost.evil.example",
            "127.0.0.1.evil.example",
            "10.0.0.1:8000",
            "0.0.0.0:8000",
            "[::]:8000",
            "[::1]x",
            "[::ffff:127.0.0.1]",
            "",
        ] {
            assert!(!is_loopback_host(host), "{host}");
        }
    }

    #[test]
    fn the_dev_token_is_only_for_loopback_hosts() {
        let playground = Playground::new(Some("the-dev-token"));
        assert!(playground
            .html_for(Some("localhost:8000"))
            .contains("the-dev-token"));
        assert!(!playground
            .html_for(Some("rebound.evil.example:8000"))
            .contains("the-dev-token"));
        assert!(!playground.html_for(None).contains("the-dev-token"));
        let production = Playground::new(None);
        assert!(!production
            .html_for(Some("localhost"))
            .contains("Authorization"));
    }

    #[test]
    fn the_page_prefills_only_in_dev_mode_and_cannot_be_broken_out_of() {
        let production = page("/graphiql/x", None);
        assert!(!production.contains("Authorization"));
        assert!(!production.contains("\"tabs\""));
        let dev = page("/graphiql/x", Some("</script><script>alert(1)"));
        assert!(dev.contains("Authorization"));
        assert!(dev.contains("\"tabs\""));
        assert!(!dev.contains("</script><script>alert"));
    }
}
