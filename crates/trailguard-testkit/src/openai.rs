//! A local OpenAI-compatible server: `POST /v1/chat/completions`, as Ollama, vLLM and llama.cpp
//! server speak it, one JSON body or, with `stream: true`, server-sent events (a few characters
//! per event, usage last when `stream_options.include_usage`). Optionally requires a bearer token.

use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::Router;
use serde_json::{json, Value};

use crate::bedrock::collect_strings;
use crate::server::{lock, Reply, RunningServer, Script, Shared};

#[derive(Debug, Clone, PartialEq)]
pub struct RecordedOpenAiRequest {
    pub authorization: Option<String>,
    pub body: Value,
}

#[derive(Debug, Default)]
struct OpenAiState {
    script: Script,
    required_key: Option<String>,
    requests: Vec<RecordedOpenAiRequest>,
}

#[derive(Debug)]
pub struct OpenAiStandIn {
    server: RunningServer,
    state: Shared<OpenAiState>,
}

impl OpenAiStandIn {
    pub async fn start() -> std::io::Result<Self> {
        let state: Shared<OpenAiState> = Arc::new(Mutex::new(OpenAiState::default()));
        let router = Router::new()
            .route("/v1/chat/completions", post(chat_completions))
            .with_state(state.clone());
        let server = RunningServer::start(router).await?;
        Ok(OpenAiStandIn { server, state })
    }

    /// The base URL including `/v1`, as OpenAI clients expect it.
    pub fn base_url(&self) -> String {
        format!("{}/v1", self.server.base_url())
    }

    /// Refuses requests without `Authorization: Bearer <key>` (401).
    pub fn require_api_key(&self, key: impl Into<String>) {
        lock(&self.state).required_key = Some(key.into());
    }

    pub fn push(&self, reply: Reply) {
        lock(&self.state).script.push(reply);
    }

    pub fn push_text(&self, text: impl Into<String>) {
        self.push(Reply::Text(text.into()));
    }

    pub fn on_prompt_containing(&self, needle: impl Into<String>, reply: Reply) {
        lock(&self.state).script.add_rule(needle.into(), reply);
    }

    pub fn set_default_text(&self, text: impl Into<String>) {
        lock(&self.state).script.set_default(text.into());
    }

    pub fn requests(&self) -> Vec<RecordedOpenAiRequest> {
        lock(&self.state).requests.clone()
    }
}

async fn chat_completions(
    State(state): State<Shared<OpenAiState>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let authorization = headers
        .get("authorization")
        .and_then(|value| value.to_str().ok())
        .map(str::to_owned);
    let Ok(body) = serde_json::from_slice::<Value>(&body) else {
        return openai_error(400, "invalid_request_error", "body is not valid JSON");
    };
    let haystack = collect_strings(&body);
    let streamed = body.get("stream").and_then(Value::as_bool) == Some(true);
    let body_usage = body
        .pointer("/stream_options/include_usage")
        .and_then(Value::as_bool)
        == Some(true);
    let model = body
        .get("model")
        .and_then(Value::as_str)
        .unwrap_or("unknown")
        .to_owned();
    let reply = {
        let mut state = lock(&state);
        if let Some(key) = &state.required_key {
            if authorization.as_deref() != Some(format!("Bearer {key}").as_str()) {
                return openai_error(401, "invalid_api_key", "Incorrect API key provided.");
            }
        }
        state.requests.push(RecordedOpenAiRequest {
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
        } => openai_error(status, &code, &message),
        Reply::Text(text) if streamed => {
            let usage = body_usage.then(|| {
                let prompt_tokens = haystack.split_whitespace().count();
                let completion_tokens = text.split_whitespace().count();
                json!({
                    "prompt_tokens": prompt_tokens,
                    "completion_tokens": completion_tokens,
                    "total_tokens": prompt_tokens + completion_tokens
                })
            });
            (
                StatusCode::OK,
                [("content-type", "text/event-stream")],
                sse_body(&model, &text, usage),
            )
                .into_response()
        }
        Reply::Text(text) => {
            let prompt_tokens = haystack.split_whitespace().count();
            let completion_tokens = text.split_whitespace().count();
            let payload = json!({
                "id": "chatcmpl-standin",
                "object": "chat.completion",
                "created": 0,
                "model": model,
                "choices": [{
                    "index": 0,
                    "message": {"role": "assistant", "content": text},
                    "finish_reason": "stop"
                }],
                "usage": {
                    "prompt_tokens": prompt_tokens,
                    "completion_tokens": completion_tokens,
                    "total_tokens": prompt_tokens + completion_tokens
                }
            });
            (
                StatusCode::OK,
                [("content-type", "application/json")],
                payload.to_string(),
            )
                .into_response()
        }
    }
}

/// The streamed answer: `chat.completion.chunk` events of three characters each, the finish
/// reason, the usage (when asked for), then `[DONE]`.
fn sse_body(model: &str, text: &str, usage: Option<Value>) -> String {
    let chunk = |delta: Value, finish: Value| {
        json!({
            "id": "chatcmpl-standin",
            "object": "chat.completion.chunk",
            "created": 0,
            "model": model,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]
        })
    };
    let mut events = vec![chunk(
        json!({"role": "assistant", "content": ""}),
        Value::Null,
    )];
    let chars: Vec<char> = text.chars().collect();
    for piece in chars.chunks(3) {
        let piece: String = piece.iter().collect();
        events.push(chunk(json!({"content": piece}), Value::Null));
    }
    events.push(chunk(json!({}), json!("stop")));
    if let Some(usage) = usage {
        events.push(json!({
            "id": "chatcmpl-standin",
            "object": "chat.completion.chunk",
            "created": 0,
            "model": model,
            "choices": [],
            "usage": usage
        }));
    }
    let mut out = String::new();
    for event in events {
        out.push_str(&format!("data: {event}\n\n"));
    }
    out.push_str("data: [DONE]\n\n");
    out
}

fn openai_error(status: u16, code: &str, message: &str) -> Response {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let body = json!({"error": {"message": message, "type": code, "code": code}}).to_string();
    (status, [("content-type", "application/json")], body).into_response()
}
