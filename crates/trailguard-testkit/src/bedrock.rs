//! A local Bedrock Runtime: `POST /model/{modelId}/converse` and `POST /model/{modelId}/invoke` in
//! the service's JSON wire format (restJson1). SigV4-signed requests are accepted without verifying
//! the signature, but an unsigned request is refused as AWS would.

use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::Router;
use serde_json::{json, Value};

use crate::server::{lock, Reply, RunningServer, Script, Shared};

/// Which Bedrock Runtime operation a request used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BedrockApi {
    Converse,
    InvokeModel,
}

/// A request as the stand-in received it.
#[derive(Debug, Clone, PartialEq)]
pub struct RecordedBedrockRequest {
    pub api: BedrockApi,
    /// The model id, percent-decoded from the path.
    pub model_id: String,
    pub authorization: Option<String>,
    pub body: Value,
}

#[derive(Debug, Default)]
struct BedrockState {
    script: Script,
    requests: Vec<RecordedBedrockRequest>,
}

/// The running stand-in; dropping it stops the server.
#[derive(Debug)]
pub struct BedrockStandIn {
    server: RunningServer,
    state: Shared<BedrockState>,
}

impl BedrockStandIn {
    /// Starts on 127.0.0.1 with an ephemeral port, on the current tokio runtime.
    pub async fn start() -> std::io::Result<Self> {
        BedrockStandIn::start_on(0).await
    }

    /// Starts on 127.0.0.1:`port` (0 = any free port).
    pub async fn start_on(port: u16) -> std::io::Result<Self> {
        let state: Shared<BedrockState> = Arc::new(Mutex::new(BedrockState::default()));
        let router = Router::new()
            .route("/model/{model_id}/converse", post(converse))
            .route("/model/{model_id}/invoke", post(invoke))
            .with_state(state.clone());
        let server = RunningServer::start_on(router, port).await?;
        Ok(BedrockStandIn { server, state })
    }

    /// The endpoint URL to give the SDK (`http://127.0.0.1:PORT`).
    pub fn endpoint(&self) -> String {
        self.server.base_url()
    }

    /// Queues one reply; queued replies are served first, in order.
    pub fn push(&self, reply: Reply) {
        lock(&self.state).script.push(reply);
    }

    pub fn push_text(&self, text: impl Into<String>) {
        self.push(Reply::Text(text.into()));
    }

    /// Answers `reply` whenever a request's text contains `needle` (after the queue is empty).
    pub fn on_prompt_containing(&self, needle: impl Into<String>, reply: Reply) {
        lock(&self.state).script.add_rule(needle.into(), reply);
    }

    /// The answer when nothing else matches; without one the stand-in returns a 500.
    pub fn set_default_text(&self, text: impl Into<String>) {
        lock(&self.state).script.set_default(text.into());
    }

    /// Every request received so far, in order.
    pub fn requests(&self) -> Vec<RecordedBedrockRequest> {
        lock(&self.state).requests.clone()
    }
}

async fn converse(
    State(state): State<Shared<BedrockState>>,
    Path(model_id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    handle(state, BedrockApi::Converse, model_id, headers, body)
}

async fn invoke(
    State(state): State<Shared<BedrockState>>,
    Path(model_id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    handle(state, BedrockApi::InvokeModel, model_id, headers, body)
}

fn handle(
    state: Shared<BedrockState>,
    api: BedrockApi,
    model_id: String,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let authorization = headers
        .get("authorization")
        .and_then(|value| value.to_str().ok())
        .map(str::to_owned);
    if !authorization
        .as_deref()
        .is_some_and(|auth| auth.starts_with("AWS4-HMAC-SHA256 "))
    {
        return error_response(
            403,
            "UnrecognizedClientException",
            "Missing or malformed SigV4 Authorization header.",
        );
    }
    let Ok(body) = serde_json::from_slice::<Value>(&body) else {
        return error_response(
            400,
            "ValidationException",
            "Request body is not valid JSON.",
        );
    };
    let haystack = collect_strings(&body);
    let reply = {
        let mut state = lock(&state);
        state.requests.push(RecordedBedrockRequest {
            api,
            model_id: model_id.clone(),
            authorization,
            body,
        });
        state.script.next(&haystack)
    };
    match reply {
        Reply::Error {
            status,
            code,
            message,
        } => error_response(status, &code, &message),
        Reply::Text(text) => {
            let input_tokens = haystack.split_whitespace().count();
            let output_tokens = text.split_whitespace().count();
            let payload = match api {
                BedrockApi::Converse => json!({
                    "output": {"message": {"role": "assistant", "content": [{"text": text}]}},
                    "stopReason": "end_turn",
                    "usage": {
                        "inputTokens": input_tokens,
                        "outputTokens": output_tokens,
                        "totalTokens": input_tokens + output_tokens
                    },
                    "metrics": {"latencyMs": 1}
                }),
                BedrockApi::InvokeModel => json!({
                    "id": "msg_standin",
                    "type": "message",
                    "role": "assistant",
                    "model": model_id,
                    "content": [{"type": "text", "text": text}],
                    "stop_reason": "end_turn",
                    "stop_sequence": null,
                    "usage": {"input_tokens": input_tokens, "output_tokens": output_tokens}
                }),
            };
            (
                StatusCode::OK,
                [("content-type", "application/json")],
                payload.to_string(),
            )
                .into_response()
        }
    }
}

/// restJson1 errors: the code in `x-amzn-ErrorType` and `__type`, the text in `message`.
fn error_response(status: u16, code: &str, message: &str) -> Response {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let body = json!({"__type": code, "message": message}).to_string();
    (
        status,
        [
            ("content-type", "application/json".to_owned()),
            (
                "x-amzn-errortype",
                format!("{code}:http://internal.amazon.com/coral/com.amazon.bedrock/"),
            ),
        ],
        body,
    )
        .into_response()
}

/// Every string in the request, newline-joined, for prompt-substring rules.
pub(crate) fn collect_strings(value: &Value) -> String {
    fn walk(value: &Value, out: &mut String) {
        match value {
            Value::String(text) => {
                out.push_str(text);
                out.push('\n');
            }
            Value::Array(items) => items.iter().for_each(|item| walk(item, out)),
            Value::Object(map) => map.values().for_each(|item| walk(item, out)),
            _ => {}
        }
    }
    let mut out = String::new();
    walk(value, &mut out);
    out
}
