//! The HTTP API: every command over HTTP in the Upstash REST convention (so `@upstash/redis`
//! works unchanged), server-sent events for subscriptions, Prometheus metrics and a health
//! check. Commands run through the same command layer as RESP (`cmd::execute`), in a session
//! that lives for one request.
//!
//! Routes: `POST /` (a JSON array: one command), `POST /pipeline` and `POST /multi-exec`
//! (arrays of commands; the second atomic), `GET|POST /<cmd>/<arg>/…` (URL-decoded segments,
//! a request body as the last argument), `GET|POST /subscribe/<channel>` and
//! `/psubscribe/<pattern>` (text/event-stream), `POST /vsearch/<key>` (vector search with JSON
//! in and out), `POST /sql/query` and `POST /sql/exec` (SQL with JSON parameters and rows),
//! `GET /metrics`, `GET /healthz`.

pub mod auth;
pub mod command;
pub mod metrics;
pub mod native;
pub mod sse;

use std::sync::Arc;

use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::{header, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get, post};
use axum::Router;

use crate::server::{stopped, Shared};

/// What every handler shares.
#[derive(Clone)]
pub struct AppState {
    pub shared: Arc<Shared>,
}

/// A JSON body with a status: `{"error": …}` replies and the like.
pub fn json_response(status: StatusCode, body: serde_json::Value) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "application/json")],
        body.to_string(),
    )
        .into_response()
}

/// A request refused before or instead of running: answered `{"error": …}` with its status.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct ApiError {
    pub status: StatusCode,
    pub message: String,
}

impl ApiError {
    pub fn new(status: StatusCode, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            message: message.into(),
        }
    }

    pub fn bad_request(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, message)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        json_response(self.status, serde_json::json!({ "error": self.message }))
    }
}

/// The router over `shared`.
pub fn router(shared: Arc<Shared>) -> Router {
    let max_body = usize::try_from(shared.config().http_max_body).unwrap_or(usize::MAX);
    let state = AppState { shared };
    Router::new()
        .route("/", post(command::single))
        .route("/pipeline", post(command::pipeline))
        .route("/multi-exec", post(command::multi_exec))
        .route(
            "/subscribe/{*channel}",
            get(sse::subscribe).post(sse::subscribe),
        )
        .route(
            "/psubscribe/{*pattern}",
            get(sse::psubscribe).post(sse::psubscribe),
        )
        .route("/vsearch/{*key}", post(native::vsearch))
        .route("/sql/query", post(native::sql_query))
        .route("/sql/exec", post(native::sql_exec))
        .route("/metrics", get(metrics::metrics))
        .route("/healthz", get(metrics::healthz))
        .route("/{*path}", any(command::path_form))
        .layer(axum::middleware::from_fn_with_state(state.clone(), cors))
        .layer(DefaultBodyLimit::max(max_body))
        .with_state(state)
}

/// CORS for browsers: the configured origins get the headers, preflights a 204.
async fn cors(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let allowed = {
        let config = state.shared.config();
        let origin = request
            .headers()
            .get(header::ORIGIN)
            .and_then(|o| o.to_str().ok());
        origin.and_then(|o| {
            config
                .http_cors_origins
                .iter()
                .any(|a| a == "*" || a == o)
                .then(|| o.to_string())
        })
    };
    let preflight = request.method() == Method::OPTIONS;
    let mut response = if preflight {
        StatusCode::NO_CONTENT.into_response()
    } else {
        next.run(request).await
    };
    if let Some(origin) = allowed.and_then(|o| HeaderValue::from_str(&o).ok()) {
        let h = response.headers_mut();
        h.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin);
        h.insert(
            header::ACCESS_CONTROL_ALLOW_HEADERS,
            HeaderValue::from_static("authorization, content-type, upstash-encoding"),
        );
        h.insert(
            header::ACCESS_CONTROL_ALLOW_METHODS,
            HeaderValue::from_static("GET, POST, OPTIONS"),
        );
        h.insert(header::VARY, HeaderValue::from_static("Origin"));
    }
    response
}

/// Serves the API on `listener` until the server stops.
pub async fn serve(listener: tokio::net::TcpListener, shared: Arc<Shared>) {
    let mut stop = shared.shutdown_signal();
    let app = router(shared);
    let app = app.into_make_service_with_connect_info::<std::net::SocketAddr>();
    let served = axum::serve(listener, app)
        .with_graceful_shutdown(async move { stopped(&mut stop).await })
        .await;
    if let Err(e) = served {
        tracing::error!("HTTP API stopped: {e}");
    }
}
