//! The HTTP side: the WebSocket endpoint, health and metrics. Built by
//! [`app`] so tests can drive it without binding a socket.

use crate::state::AppState;
use crate::throttle::ConnRefused;
use crate::transport::{REFUSED_RECONNECT_AFTER_MS, serve_ws};
use axum::extract::{ConnectInfo, State, WebSocketUpgrade};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Extension, Router};
use std::net::SocketAddr;
use std::sync::Arc;

/// WebSocket connections read into a small buffer (tungstenite's default
/// is 128 KiB per connection, which would dominate memory at scale).
const WS_READ_BUFFER: usize = 4 * 1024;

/// The HTTP router.
pub fn app(state: Arc<AppState>) -> Router {
    Router::new()
        .route("/ws", get(websocket))
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics))
        .with_state(state)
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

async fn metrics(State(state): State<Arc<AppState>>) -> Response {
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        state.metrics.render(),
    )
        .into_response()
}
