//! A local Bedrock Runtime: `POST /model/{modelId}/converse` and `POST /model/{modelId}/invoke` in
//! the service's JSON wire format (restJson1), and `POST /model/{modelId}/converse-stream` in the
//! AWS event-stream binary format (prelude, headers, JSON payload, CRC32s; a few characters of
//! text per `contentBlockDelta`). SigV4-signed requests are accepted without verifying
//! the signature, but an unsigned request is refused as AWS would. Requests are checked as Bedrock
//! checks them, by model family: a field the family does not take ("extraneous key"), or
//! `temperature` with `top_p` for Claude 4 and later, is a `ValidationException`.

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
    ConverseStream,
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
            .route("/model/{model_id}/converse-stream", post(converse_stream))
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

async fn converse_stream(
    State(state): State<Shared<BedrockState>>,
    Path(model_id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    handle(state, BedrockApi::ConverseStream, model_id, headers, body)
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
    if let Err(message) = check_request(api, &model_id, &body) {
        lock(&state).requests.push(RecordedBedrockRequest {
            api,
            model_id,
            authorization,
            body,
        });
        return error_response(400, "ValidationException", &message);
    }
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
                BedrockApi::ConverseStream => {
                    return (
                        StatusCode::OK,
                        [("content-type", "application/vnd.amazon.eventstream")],
                        converse_stream_body(&text, input_tokens, output_tokens),
                    )
                        .into_response()
                }
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
                BedrockApi::InvokeModel if family(&model_id) == Family::Nova => json!({
                    "output": {"message": {"role": "assistant", "content": [{"text": text}]}},
                    "stopReason": "end_turn",
                    "usage": {"inputTokens": input_tokens, "outputTokens": output_tokens}
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

/// The model families Bedrock validates requests for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Family {
    ClaudeLegacy,
    Claude,
    Nova,
    Other,
}

const PROFILE_PREFIXES: [&str; 7] = ["global", "us", "eu", "apac", "jp", "au", "us-gov"];

fn family(model_id: &str) -> Family {
    let tail = model_id
        .rsplit_once("inference-profile/")
        .or_else(|| model_id.rsplit_once("foundation-model/"))
        .map_or(model_id, |(_, tail)| tail);
    let bare = match tail.split_once('.') {
        Some((prefix, rest)) if PROFILE_PREFIXES.contains(&prefix) => rest,
        _ => tail,
    };
    match bare.strip_prefix("anthropic.claude-") {
        Some(rest) if rest.starts_with("3-") => Family::ClaudeLegacy,
        Some(_) => Family::Claude,
        None if bare.starts_with("amazon.nova-") => Family::Nova,
        None => Family::Other,
    }
}

/// Bedrock's wording for a field a model does not take.
fn extraneous(key: &str) -> String {
    format!(
        "Malformed input request: #: extraneous key [{key}] is not permitted, please reformat your input and try again."
    )
}

fn only_keys(value: &Value, allowed: &[&str]) -> Result<(), String> {
    match value.as_object() {
        Some(map) => match map.keys().find(|k| !allowed.contains(&k.as_str())) {
            Some(key) => Err(extraneous(key)),
            None => Ok(()),
        },
        None => Ok(()),
    }
}

const BOTH_SAMPLING: &str = "The model returned the following errors: `temperature` and `top_p` cannot both be specified for this model. Please use only one.";

/// What Bedrock refuses, by API and family.
fn check_request(api: BedrockApi, model_id: &str, body: &Value) -> Result<(), String> {
    let family = family(model_id);
    match api {
        BedrockApi::Converse | BedrockApi::ConverseStream => {
            only_keys(
                body,
                &[
                    "messages",
                    "system",
                    "inferenceConfig",
                    "toolConfig",
                    "guardrailConfig",
                    "additionalModelRequestFields",
                    "additionalModelResponseFieldPaths",
                    "promptVariables",
                    "requestMetadata",
                    "performanceConfig",
                ],
            )?;
            let inference = &body["inferenceConfig"];
            only_keys(
                inference,
                &["maxTokens", "stopSequences", "temperature", "topP"],
            )?;
            if family == Family::Claude
                && !inference["temperature"].is_null()
                && !inference["topP"].is_null()
            {
                return Err(BOTH_SAMPLING.into());
            }
            let extra = &body["additionalModelRequestFields"];
            match family {
                Family::Claude | Family::ClaudeLegacy => {
                    only_keys(extra, &["top_k", "anthropic_beta", "thinking"])
                }
                Family::Nova => {
                    only_keys(extra, &["inferenceConfig"])?;
                    only_keys(&extra["inferenceConfig"], &["topK", "reasoningConfig"])
                }
                Family::Other => match extra.as_object().and_then(|m| m.keys().next()) {
                    Some(key) => Err(extraneous(key)),
                    None => Ok(()),
                },
            }
        }
        BedrockApi::InvokeModel => match family {
            Family::Claude | Family::ClaudeLegacy => {
                only_keys(
                    body,
                    &[
                        "anthropic_version",
                        "anthropic_beta",
                        "max_tokens",
                        "system",
                        "messages",
                        "temperature",
                        "top_p",
                        "top_k",
                        "stop_sequences",
                        "tools",
                        "tool_choice",
                        "thinking",
                    ],
                )?;
                if body["anthropic_version"] != "bedrock-2023-05-31" {
                    return Err("Malformed input request: #: required key [anthropic_version] not found, or not bedrock-2023-05-31".into());
                }
                if family == Family::Claude
                    && !body["temperature"].is_null()
                    && !body["top_p"].is_null()
                {
                    return Err(BOTH_SAMPLING.into());
                }
                Ok(())
            }
            Family::Nova => {
                only_keys(
                    body,
                    &[
                        "schemaVersion",
                        "system",
                        "messages",
                        "inferenceConfig",
                        "toolConfig",
                    ],
                )?;
                only_keys(
                    &body["inferenceConfig"],
                    &[
                        "maxTokens",
                        "temperature",
                        "topP",
                        "topK",
                        "stopSequences",
                        "reasoningConfig",
                    ],
                )
            }
            Family::Other => Err(format!(
                "the stand-in knows no InvokeModel body for {model_id}"
            )),
        },
    }
}

/// ConverseStream's answer: messageStart, the text in `contentBlockDelta` events of three
/// characters, contentBlockStop, messageStop, metadata (usage).
fn converse_stream_body(text: &str, input_tokens: usize, output_tokens: usize) -> Vec<u8> {
    let mut out = Vec::new();
    let mut event = |kind: &str, payload: Value| {
        out.extend(event_stream_message(
            &[
                (":event-type", kind),
                (":content-type", "application/json"),
                (":message-type", "event"),
            ],
            payload.to_string().as_bytes(),
        ));
    };
    event("messageStart", json!({"role": "assistant"}));
    let chars: Vec<char> = text.chars().collect();
    for piece in chars.chunks(3) {
        let piece: String = piece.iter().collect();
        event(
            "contentBlockDelta",
            json!({"contentBlockIndex": 0, "delta": {"text": piece}}),
        );
    }
    event("contentBlockStop", json!({"contentBlockIndex": 0}));
    event("messageStop", json!({"stopReason": "end_turn"}));
    event(
        "metadata",
        json!({
            "usage": {
                "inputTokens": input_tokens,
                "outputTokens": output_tokens,
                "totalTokens": input_tokens + output_tokens
            },
            "metrics": {"latencyMs": 1}
        }),
    );
    out
}

/// One message of the AWS event-stream encoding: total length, headers length, prelude CRC32,
/// string headers (type 7), payload, message CRC32; integers big-endian.
fn event_stream_message(headers: &[(&str, &str)], payload: &[u8]) -> Vec<u8> {
    let mut encoded_headers = Vec::new();
    for (name, value) in headers {
        encoded_headers.push(u8::try_from(name.len()).unwrap_or(u8::MAX));
        encoded_headers.extend_from_slice(name.as_bytes());
        encoded_headers.push(7);
        encoded_headers.extend_from_slice(&u16::try_from(value.len()).unwrap_or(0).to_be_bytes());
        encoded_headers.extend_from_slice(value.as_bytes());
    }
    let total = 12 + encoded_headers.len() + payload.len() + 4;
    let mut out = Vec::with_capacity(total);
    out.extend_from_slice(&u32::try_from(total).unwrap_or(u32::MAX).to_be_bytes());
    out.extend_from_slice(
        &u32::try_from(encoded_headers.len())
            .unwrap_or(u32::MAX)
            .to_be_bytes(),
    );
    let prelude_crc = crc32fast::hash(&out);
    out.extend_from_slice(&prelude_crc.to_be_bytes());
    out.extend_from_slice(&encoded_headers);
    out.extend_from_slice(payload);
    let message_crc = crc32fast::hash(&out);
    out.extend_from_slice(&message_crc.to_be_bytes());
    out
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
