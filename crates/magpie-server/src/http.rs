//! The HTTP side: the WebSocket endpoint, health and metrics, the file
//! and share APIs, and the web client ([`crate::web`]). Built by
//! [`app`] (and [`metrics_app`] for a separate metrics listener) so tests
//! can drive it without binding a socket.

use crate::state::AppState;
use crate::throttle::ConnRefused;
use crate::transport::{REFUSED_RECONNECT_AFTER_MS, serve_ws};
use axum::extract::{ConnectInfo, State, WebSocketUpgrade};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::serve::{ListenerExt, TapIo};
use axum::{Extension, Router};
use sha2::{Digest, Sha256};
use std::net::SocketAddr;
use std::sync::Arc;
use subtle::ConstantTimeEq;
use tokio::net::{TcpListener, TcpStream};

/// WebSocket connections read into a small buffer (tungstenite's default
/// is 128 KiB per connection, which would dominate memory at scale).
const WS_READ_BUFFER: usize = 4 * 1024;

/// The HTTP router of the main HTTP listener.
pub fn app(state: Arc<AppState>) -> Router {
    let router = Router::new()
        .route("/ws", get(websocket))
        .route("/healthz", get(healthz))
        .merge(crate::files::http::routes())
        .merge(crate::drive::http::routes())
        .merge(crate::web::routes());
    // With a metrics listener of its own, /metrics is not served here at
    // all (404), so the public port does not reveal it.
    let router = if state.config.listen_metrics.is_none() {
        router.route("/metrics", get(metrics))
    } else {
        router
    };
    router.with_state(state)
}

/// The router of the separate metrics listener (`listen_metrics`).
pub fn metrics_app(state: Arc<AppState>) -> Router {
    Router::new()
        .route("/metrics", get(metrics))
        .with_state(state)
}

/// The HTTP listener as axum should serve it: every accepted socket gets
/// TCP_NODELAY, as TCP clients' sockets do. Without it, a small WebSocket
/// frame (an ack, a push) written while the previous one is unacknowledged
/// waits for that ack (Nagle's algorithm), up to the peer's delayed-ACK
/// timeout of tens of milliseconds.
///
/// The concrete type (not `impl Listener`) lets axum see through it for the
/// peer address (`ConnectInfo<SocketAddr>`).
pub fn nodelay(listener: TcpListener) -> TapIo<TcpListener, fn(&mut TcpStream)> {
    listener.tap_io(set_nodelay)
}

fn set_nodelay(stream: &mut TcpStream) {
    if let Err(e) = stream.set_nodelay(true) {
        tracing::debug!(error = %e, "setting TCP_NODELAY on an HTTP connection failed");
    }
}

async fn websocket(
    State(state): State<Arc<AppState>>,
    connect_info: Option<Extension<ConnectInfo<SocketAddr>>>,
    headers: HeaderMap,
    upgrade: WebSocketUpgrade,
) -> Response {
    if state.shutdown.is_cancelled() {
        return (StatusCode::SERVICE_UNAVAILABLE, "shutting down").into_response();
    }
    if !origin_allowed(&headers, &state.config.ws_allowed_origins) {
        // A page on another site must not use a visitor's browser to talk
        // to this server (cross-site WebSocket hijacking).
        return (StatusCode::FORBIDDEN, "origin not allowed\n").into_response();
    }
    // Without connect info (a test driving `app` directly) the address is
    // unknown and only the node-wide cap applies.
    let ip = connect_info.and_then(|Extension(ConnectInfo(addr))| {
        let header = |name| headers.get(name).and_then(|v| v.to_str().ok());
        state
            .throttle
            .client_ip(addr.ip(), header("x-forwarded-for"), header("x-real-ip"))
    });
    let peer = match state.throttle.admit_connection(ip) {
        Ok(peer) => peer,
        Err(refused) => {
            let status = match refused {
                ConnRefused::Full => StatusCode::SERVICE_UNAVAILABLE,
                ConnRefused::PerIp => StatusCode::TOO_MANY_REQUESTS,
            };
            let retry_after = (REFUSED_RECONNECT_AFTER_MS / 1000).to_string();
            return (
                status,
                [(header::RETRY_AFTER, retry_after)],
                refused.reason(),
            )
                .into_response();
        }
    };
    let max = state.config.max_frame_bytes;
    upgrade
        .read_buffer_size(WS_READ_BUFFER)
        .max_message_size(max)
        .max_frame_size(max)
        .on_upgrade(move |socket| {
            let tracker = state.connections.clone();
            tracker.track_future(serve_ws(state, socket, peer))
        })
}

/// 200 while serving, 503 once shutting down (so a load balancer stops
/// sending new clients here).
async fn healthz(State(state): State<Arc<AppState>>) -> Response {
    if state.shutdown.is_cancelled() {
        (StatusCode::SERVICE_UNAVAILABLE, "shutting down\n").into_response()
    } else {
        (StatusCode::OK, "ok\n").into_response()
    }
}

async fn metrics(State(state): State<Arc<AppState>>, headers: HeaderMap) -> Response {
    if let Some(token) = &state.config.metrics_token
        && !bearer_matches(&headers, token)
    {
        return (
            StatusCode::UNAUTHORIZED,
            [(header::WWW_AUTHENTICATE, "Bearer")],
            "unauthorized\n",
        )
            .into_response();
    }
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        state.metrics.render(),
    )
        .into_response()
}

/// Whether the request carries `Authorization: Bearer <token>`. The
/// digests are compared, in constant time, so that neither the token's
/// bytes nor its length can be learnt from response times.
fn bearer_matches(headers: &HeaderMap, token: &str) -> bool {
    let given = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or_default();
    let (given, expected) = (Sha256::digest(given.trim()), Sha256::digest(token));
    given.as_slice().ct_eq(expected.as_slice()).into()
}

/// Whether a WebSocket upgrade may go ahead, judged by its Origin header
/// (see PROTOCOL.md 2.2). Browsers always send Origin with a WebSocket
/// upgrade; other clients usually do not, and they cannot be used by a
/// third-party page, so a request without one is allowed.
fn origin_allowed(headers: &HeaderMap, allowed: &[String]) -> bool {
    let Some(origin) = headers.get(header::ORIGIN) else {
        return true;
    };
    let Ok(origin) = origin.to_str() else {
        return false;
    };
    let origin = origin.trim();
    if allowed
        .iter()
        .any(|a| a == "*" || a.trim_end_matches('/').eq_ignore_ascii_case(origin))
    {
        return true;
    }
    headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .is_some_and(|host| same_origin(origin, host))
}

/// `origin` (`scheme://host[:port]`) names the host the request was sent
/// to. The scheme's default port may be left out on either side: behind a
/// TLS proxy, `https://chat.example.com` reaches us with Host
/// `chat.example.com`.
fn same_origin(origin: &str, host: &str) -> bool {
    let Some((scheme, authority)) = origin.split_once("://") else {
        return false;
    };
    let default_port = match scheme.to_ascii_lowercase().as_str() {
        "http" | "ws" => ":80",
        "https" | "wss" => ":443",
        _ => return false,
    };
    let normal = |a: &str| {
        a.strip_suffix(default_port)
            .unwrap_or(a)
            .to_ascii_lowercase()
    };
    !authority.is_empty() && !authority.contains('/') && normal(authority) == normal(host.trim())
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;
    use axum::serve::Listener;

    #[tokio::test]
    async fn accepted_http_sockets_have_nodelay() {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let mut listener = nodelay(listener);
        let _client = TcpStream::connect(addr).await.expect("connect");
        let (accepted, _) = listener.accept().await;
        assert!(accepted.nodelay().expect("read TCP_NODELAY"));
        // The check can fail: a plain accept leaves Nagle on.
        let plain = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let _client = TcpStream::connect(plain.local_addr().expect("addr"))
            .await
            .expect("connect");
        let (accepted, _) = plain.accept().await.expect("accept");
        assert!(!accepted.nodelay().expect("read TCP_NODELAY"));
    }

    fn headers(origin: Option<&str>, host: Option<&str>) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (name, value) in [(header::ORIGIN, origin), (header::HOST, host)] {
            if let Some(v) = value {
                h.insert(name, HeaderValue::from_str(v).expect("header"));
            }
        }
        h
    }

    #[test]
    fn origins() {
        let none: &[String] = &[];
        let listed = ["https://app.example.com".to_string()];
        let any = ["*".to_string()];
        let cases = [
            // (origin, host, allowed list, expected)
            (None, Some("chat.example.com"), none, true),
            (None, None, none, true),
            (
                Some("https://chat.example.com"),
                Some("chat.example.com"),
                none,
                true,
            ),
            (
                Some("https://chat.example.com"),
                Some("chat.example.com:443"),
                none,
                true,
            ),
            (
                Some("http://chat.example.com:7071"),
                Some("chat.example.com:7071"),
                none,
                true,
            ),
            (
                Some("http://CHAT.example.com"),
                Some("chat.example.com"),
                none,
                true,
            ),
            (
                Some("http://chat.example.com:7071"),
                Some("chat.example.com:7072"),
                none,
                false,
            ),
            (
                Some("https://chat.example.com:80"),
                Some("chat.example.com"),
                none,
                false,
            ),
            (
                Some("https://evil.example"),
                Some("chat.example.com"),
                none,
                false,
            ),
            (
                Some("https://chat.example.com.evil"),
                Some("chat.example.com"),
                none,
                false,
            ),
            (Some("null"), Some("chat.example.com"), none, false),
            (
                Some("chat.example.com"),
                Some("chat.example.com"),
                none,
                false,
            ),
            (Some("https://chat.example.com"), None, none, false),
            (
                Some("https://app.example.com"),
                Some("chat.example.com"),
                &listed,
                true,
            ),
            (
                Some("https://app.example.com:8443"),
                Some("chat.example.com"),
                &listed,
                false,
            ),
            (
                Some("https://evil.example"),
                Some("chat.example.com"),
                &listed,
                false,
            ),
            (
                Some("https://evil.example"),
                Some("chat.example.com"),
                &any,
                true,
            ),
        ];
        for (origin, host, allowed, expected) in cases {
            assert_eq!(
                origin_allowed(&headers(origin, host), allowed),
                expected,
                "{origin:?} {host:?} {allowed:?}"
            );
        }
    }

    #[test]
    fn bearer_tokens() {
        let with = |v: &str| {
            let mut h = HeaderMap::new();
            h.insert(
                header::AUTHORIZATION,
                HeaderValue::from_str(v).expect("header"),
            );
            h
        };
        assert!(bearer_matches(&with("Bearer s3cret"), "s3cret"));
        assert!(!bearer_matches(&with("Bearer s3cre"), "s3cret"));
        assert!(!bearer_matches(&with("Bearer s3cret!"), "s3cret"));
        assert!(!bearer_matches(&with("Basic s3cret"), "s3cret"));
        assert!(!bearer_matches(&HeaderMap::new(), "s3cret"));
    }
}
