//! Records HTTP POSTs (webhook deliveries) and answers with a configurable status.

use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::Router;

use crate::server::{lock, RunningServer, Shared};

#[derive(Debug, Clone, PartialEq)]
pub struct RecordedPost {
    pub path: String,
    pub content_type: Option<String>,
    pub authorization: Option<String>,
    pub body: Vec<u8>,
}

#[derive(Debug)]
struct SinkState {
    status: u16,
    posts: Vec<RecordedPost>,
}

#[derive(Debug)]
pub struct HttpSink {
    server: RunningServer,
    state: Shared<SinkState>,
}

impl HttpSink {
    pub async fn start() -> std::io::Result<Self> {
        let state = Arc::new(Mutex::new(SinkState {
            status: 200,
            posts: Vec::new(),
        }));
        let router = Router::new()
            .route("/", post(record))
            .route("/{*path}", post(record))
            .with_state(state.clone());
        let server = RunningServer::start(router).await?;
        Ok(HttpSink { server, state })
    }

    /// `http://127.0.0.1:PORT` plus `path`.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.server.base_url())
    }

    /// The status answered to every later POST (e.g. 500 to test failures).
    pub fn respond_with(&self, status: u16) {
        lock(&self.state).status = status;
    }

    pub fn posts(&self) -> Vec<RecordedPost> {
        lock(&self.state).posts.clone()
    }
}

async fn record(
    State(state): State<Shared<SinkState>>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|value| value.to_str().ok())
            .map(str::to_owned)
    };
    let mut state = lock(&state);
    state.posts.push(RecordedPost {
        path: uri.path().to_owned(),
        content_type: header("content-type"),
        authorization: header("authorization"),
        body: body.to_vec(),
    });
    let status = StatusCode::from_u16(state.status).unwrap_or(StatusCode::OK);
    (status, "ok").into_response()
}
