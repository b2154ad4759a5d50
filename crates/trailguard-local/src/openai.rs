//! `ChatModel` for OpenAI-compatible `/v1/chat/completions` servers: Ollama, vLLM, llama.cpp
//! server (and OpenAI itself). Images go as `data:` URLs with base64 content; a request's JSON
//! schema goes as `response_format` (`json_schema`); streaming is `stream: true` (server-sent
//! events).

use std::time::Duration;

use async_trait::async_trait;
use base64::Engine as _;
use serde::Deserialize;
use serde_json::{json, Value};
use trailguard_core::ports::{
    ChatModel, ChatRequest, ChatResponse, ChatRole, ContentBlock, OnText, PortError, PortErrorKind,
    StreamingChatModel,
};

#[derive(Debug, Clone, PartialEq)]
pub struct OpenAiConfig {
    /// Up to and including `/v1`, e.g. `http://127.0.0.1:11434/v1` (Ollama) or
    /// `http://127.0.0.1:8000/v1` (vLLM, llama.cpp server).
    pub base_url: String,
    /// The served model's name. When empty, the request's `model_id` is used; otherwise this
    /// wins, because requests usually carry Bedrock model ids.
    pub model: String,
    /// Sent as `Authorization: Bearer ...` when set.
    pub api_key: Option<String>,
    /// Whole-request timeout (local models can be slow on CPU).
    pub timeout: Duration,
    /// Attempts per call; 429 and 5xx answers and connection failures are retried.
    pub max_attempts: u32,
    pub initial_backoff: Duration,
    /// `top_k` is not an OpenAI parameter: vLLM and llama.cpp accept it, OpenAI rejects it.
    pub send_top_k: bool,
    /// Send a request's JSON schema as `response_format: {type: "json_schema", ...}` (OpenAI,
    /// vLLM, llama.cpp server and recent Ollama constrain decoding with it); off for a server
    /// that refuses the field. The answer is validated either way. `pattern` keywords are left
    /// out (`without_patterns`).
    pub send_response_schema: bool,
}

impl Default for OpenAiConfig {
    fn default() -> Self {
        OpenAiConfig {
            base_url: "http://127.0.0.1:11434/v1".into(),
            model: String::new(),
            api_key: None,
            timeout: Duration::from_secs(120),
            max_attempts: 3,
            initial_backoff: Duration::from_millis(500),
            send_top_k: false,
            send_response_schema: true,
        }
    }
}

/// `schema` without its `pattern` keywords (at any depth; a property named `pattern` stays).
/// Servers disagree on them: llama.cpp's server (and LM Studio, Ollama on it) refuses the whole
/// request for a pattern not written `^…$`, such as the `^[가-힣]` a Korean answer's schema holds
/// for the in-process engine. The prompt still asks for the language; the answer is validated.
fn without_patterns(schema: &Value) -> Value {
    let mut schema = schema.clone();
    strip_patterns(&mut schema);
    schema
}

fn strip_patterns(schema: &mut Value) {
    let Value::Object(map) = schema else {
        return;
    };
    map.remove("pattern");
    for (key, sub) in map.iter_mut() {
        match key.as_str() {
            // Maps of name → schema.
            "properties" | "patternProperties" | "$defs" | "definitions" => {
                if let Value::Object(named) = sub {
                    named.values_mut().for_each(strip_patterns);
                }
            }
            // Lists of schemas.
            "anyOf" | "oneOf" | "allOf" | "prefixItems" => {
                if let Value::Array(list) = sub {
                    list.iter_mut().for_each(strip_patterns);
                }
            }
            "items" | "additionalProperties" | "not" => strip_patterns(sub),
            _ => {}
        }
    }
}

impl OpenAiConfig {
    pub fn new(base_url: impl Into<String>, model: impl Into<String>) -> Self {
        OpenAiConfig {
            base_url: base_url.into(),
            model: model.into(),
            ..OpenAiConfig::default()
        }
    }

    pub fn with_api_key(mut self, api_key: impl Into<String>) -> Self {
        self.api_key = Some(api_key.into());
        self
    }

    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }
}

#[derive(Debug, Clone)]
pub struct OpenAiChat {
    http: reqwest::Client,
    config: OpenAiConfig,
    endpoint: String,
}

impl OpenAiChat {
    pub fn new(config: OpenAiConfig) -> Result<Self, PortError> {
        let http = reqwest::Client::builder()
            .timeout(config.timeout)
            .build()
            .map_err(|error| {
                PortError::new(
                    PortErrorKind::Other,
                    format!("HTTP client setup failed: {error}"),
                )
            })?;
        let endpoint = format!("{}/chat/completions", config.base_url.trim_end_matches('/'));
        Ok(OpenAiChat {
            http,
            config,
            endpoint,
        })
    }

    pub fn config(&self) -> &OpenAiConfig {
        &self.config
    }

    /// The JSON body sent for `request`.
    pub fn request_body(&self, request: &ChatRequest) -> Result<Value, PortError> {
        let model = if self.config.model.is_empty() {
            request.model_id.as_str()
        } else {
            self.config.model.as_str()
        };
        if model.trim().is_empty() {
            return Err(PortError::new(
                PortErrorKind::InvalidInput,
                "no model name: set the OpenAI-compatible backend's model",
            ));
        }
        if request.messages.is_empty() {
            return Err(PortError::new(
                PortErrorKind::InvalidInput,
                "a chat request needs at least one message",
            ));
        }
        let mut messages = Vec::with_capacity(request.messages.len() + 1);
        if let Some(system) = &request.system {
            messages.push(json!({"role": "system", "content": system}));
        }
        for message in &request.messages {
            let role = match message.role {
                ChatRole::User => "user",
                ChatRole::Assistant => "assistant",
            };
            let has_image = message
                .content
                .iter()
                .any(|block| matches!(block, ContentBlock::Image { .. }));
            // Plain strings for text-only turns: every server accepts them.
            let content = if has_image {
                Value::Array(message.content.iter().map(content_part).collect())
            } else {
                Value::String(
                    message
                        .content
                        .iter()
                        .filter_map(|block| match block {
                            ContentBlock::Text(text) => Some(text.as_str()),
                            ContentBlock::Image { .. } => None,
                        })
                        .collect::<Vec<_>>()
                        .join("\n"),
                )
            };
            messages.push(json!({"role": role, "content": content}));
        }
        let mut body = serde_json::Map::new();
        body.insert("model".into(), json!(model));
        body.insert("messages".into(), Value::Array(messages));
        body.insert("stream".into(), json!(false));
        if let Some(max_tokens) = request.max_tokens {
            body.insert("max_tokens".into(), json!(max_tokens));
        }
        if let Some(temperature) = request.temperature {
            body.insert("temperature".into(), json!(temperature));
        }
        if let Some(top_p) = request.top_p {
            body.insert("top_p".into(), json!(top_p));
        }
        if let (Some(top_k), true) = (request.top_k, self.config.send_top_k) {
            body.insert("top_k".into(), json!(top_k));
        }
        if let (Some(schema), true) = (&request.response_schema, self.config.send_response_schema) {
            // Not strict: OpenAI's strict mode wants every property required, which the
            // guide's schema does not say.
            body.insert(
                "response_format".into(),
                json!({"type": "json_schema", "json_schema": {"name": "answer", "schema": without_patterns(schema)}}),
            );
        }
        Ok(Value::Object(body))
    }

    /// The JSON body of a streamed call: [`Self::request_body`] with `stream: true` and the
    /// token counts asked for in the last event.
    pub fn stream_body(&self, request: &ChatRequest) -> Result<Value, PortError> {
        let mut body = self.request_body(request)?;
        if let Value::Object(map) = &mut body {
            map.insert("stream".into(), json!(true));
            map.insert("stream_options".into(), json!({"include_usage": true}));
        }
        Ok(body)
    }

    async fn send(&self, body: &Value) -> Result<reqwest::Response, PortError> {
        let mut call = self.http.post(&self.endpoint).json(body);
        if let Some(key) = &self.config.api_key {
            call = call.bearer_auth(key);
        }
        let response = call
            .send()
            .await
            .map_err(|error| transport_error(&self.endpoint, &error))?;
        let status = response.status().as_u16();
        if (200..300).contains(&status) {
            return Ok(response);
        }
        let bytes = response
            .bytes()
            .await
            .map_err(|error| transport_error(&self.endpoint, &error))?;
        Err(http_error(&self.endpoint, status, &bytes))
    }

    /// One streamed call. `sent` is set once a piece reached `on_text` (then no retry).
    async fn stream_once(
        &self,
        body: &Value,
        on_text: &mut OnText<'_>,
        sent: &mut bool,
    ) -> Result<ChatResponse, PortError> {
        let mut response = self.send(body).await?;
        let is_sse = response
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|value| value.to_str().ok())
            .is_some_and(|value| value.starts_with("text/event-stream"));
        if !is_sse {
            // A server that ignores `stream` answers with one completion: one piece.
            let bytes = response
                .bytes()
                .await
                .map_err(|error| transport_error(&self.endpoint, &error))?;
            let answer = self.completion(&bytes)?;
            *sent = true;
            on_text(&answer.text);
            return Ok(answer);
        }
        let mut events = SseEvents::default();
        let mut answer = ChatResponse::default();
        let mut done = false;
        while !done {
            let chunk = response
                .chunk()
                .await
                .map_err(|error| transport_error(&self.endpoint, &error))?;
            let data = match &chunk {
                Some(bytes) => events.push(bytes),
                None => {
                    done = true;
                    events.finish()
                }
            };
            for event in data {
                if event.trim() == "[DONE]" {
                    done = true;
                    break;
                }
                let piece = self.stream_chunk(&event, &mut answer)?;
                if !piece.is_empty() {
                    *sent = true;
                    on_text(&piece);
                    answer.text.push_str(&piece);
                }
            }
        }
        Ok(answer)
    }

    /// One streamed event: its text, with stop reason and token counts noted in `answer`.
    fn stream_chunk(&self, data: &str, answer: &mut ChatResponse) -> Result<String, PortError> {
        let chunk: StreamChunk = serde_json::from_str(data).map_err(|error| {
            PortError::new(
                PortErrorKind::Other,
                format!(
                    "{} streamed an event that is not a chat completion chunk: {error}",
                    self.endpoint
                ),
            )
        })?;
        if let Some(error) = chunk.error {
            let message = error
                .get("message")
                .and_then(Value::as_str)
                .map_or_else(|| error.to_string(), str::to_owned);
            return Err(PortError::new(
                PortErrorKind::Unavailable,
                format!("{} failed while streaming: {message}", self.endpoint),
            )
            .with_code("StreamError"));
        }
        if let Some(usage) = chunk.usage {
            answer.input_tokens = usage.prompt_tokens.or(answer.input_tokens);
            answer.output_tokens = usage.completion_tokens.or(answer.output_tokens);
        }
        let mut text = String::new();
        for choice in chunk.choices {
            if let Some(content) = choice.delta.and_then(|d| d.content) {
                text.push_str(&content);
            }
            if choice.finish_reason.is_some() {
                answer.stop_reason = choice.finish_reason;
            }
        }
        Ok(text)
    }

    fn completion(&self, bytes: &[u8]) -> Result<ChatResponse, PortError> {
        let parsed: CompletionResponse = serde_json::from_slice(bytes).map_err(|error| {
            PortError::new(
                PortErrorKind::Other,
                format!(
                    "{} returned a body that is not a chat completion: {error}",
                    self.endpoint
                ),
            )
        })?;
        let Some(choice) = parsed.choices.into_iter().next() else {
            return Err(PortError::new(
                PortErrorKind::Other,
                format!("{} returned no choices", self.endpoint),
            ));
        };
        Ok(ChatResponse {
            text: choice.message.content.unwrap_or_default(),
            stop_reason: choice.finish_reason,
            input_tokens: parsed.usage.as_ref().and_then(|u| u.prompt_tokens),
            output_tokens: parsed.usage.as_ref().and_then(|u| u.completion_tokens),
        })
    }

    async fn call_once(&self, body: &Value) -> Result<ChatResponse, PortError> {
        let response = self.send(body).await?;
        let bytes = response
            .bytes()
            .await
            .map_err(|error| transport_error(&self.endpoint, &error))?;
        self.completion(&bytes)
    }
}

/// Splits a server-sent event stream into the `data` of each event. Bytes are kept until a
/// whole line is in, so a character split between network reads is never cut.
#[derive(Debug, Default)]
struct SseEvents {
    pending: Vec<u8>,
    data: Option<String>,
}

impl SseEvents {
    /// Adds bytes; returns the data of every event they complete.
    fn push(&mut self, bytes: &[u8]) -> Vec<String> {
        self.pending.extend_from_slice(bytes);
        let mut out = Vec::new();
        while let Some(end) = self.pending.iter().position(|&b| b == b'\n') {
            let line: Vec<u8> = self.pending.drain(..=end).collect();
            let line = String::from_utf8_lossy(&line);
            self.line(line.trim_end_matches(['\n', '\r']), &mut out);
        }
        out
    }

    /// The last event, when the stream ends without a blank line.
    fn finish(&mut self) -> Vec<String> {
        let mut out = Vec::new();
        if !self.pending.is_empty() {
            let rest = std::mem::take(&mut self.pending);
            let line = String::from_utf8_lossy(&rest);
            self.line(line.trim_end_matches(['\n', '\r']), &mut out);
        }
        out.extend(self.data.take());
        out
    }

    fn line(&mut self, line: &str, out: &mut Vec<String>) {
        if line.is_empty() {
            out.extend(self.data.take());
        } else if let Some(value) = line.strip_prefix("data:") {
            let value = value.strip_prefix(' ').unwrap_or(value);
            match &mut self.data {
                Some(data) => {
                    data.push('\n');
                    data.push_str(value);
                }
                None => self.data = Some(value.to_string()),
            }
        }
        // Comments (`: ...`), `event:`, `id:` and `retry:` lines carry nothing we use.
    }
}

fn content_part(block: &ContentBlock) -> Value {
    match block {
        ContentBlock::Text(text) => json!({"type": "text", "text": text}),
        ContentBlock::Image { media_type, bytes } => json!({
            "type": "image_url",
            "image_url": {
                "url": format!(
                    "data:{};base64,{}",
                    media_type.to_ascii_lowercase(),
                    base64::engine::general_purpose::STANDARD.encode(bytes)
                )
            }
        }),
    }
}

fn transport_error(endpoint: &str, error: &reqwest::Error) -> PortError {
    let code = if error.is_timeout() {
        "Timeout"
    } else if error.is_connect() {
        "ConnectFailed"
    } else {
        "TransportError"
    };
    PortError::new(PortErrorKind::Unavailable, format!("{endpoint}: {error}")).with_code(code)
}

fn http_error(endpoint: &str, status: u16, body: &[u8]) -> PortError {
    let kind = match status {
        401 | 403 => PortErrorKind::AccessDenied,
        404 => PortErrorKind::NotFound,
        429 => PortErrorKind::Throttled,
        500..=599 => PortErrorKind::Unavailable,
        400..=499 => PortErrorKind::InvalidInput,
        _ => PortErrorKind::Other,
    };
    let parsed: Option<Value> = serde_json::from_slice(body).ok();
    let error = parsed.as_ref().and_then(|value| value.get("error"));
    let message = error
        .and_then(|e| {
            e.get("message")
                .and_then(Value::as_str)
                .or_else(|| e.as_str())
        })
        .map(str::to_owned)
        .unwrap_or_else(|| String::from_utf8_lossy(&body[..body.len().min(300)]).into_owned());
    let code = error
        .and_then(|e| e.get("code").or_else(|| e.get("type")))
        .and_then(|code| match code {
            Value::String(text) => Some(text.clone()),
            Value::Number(number) => Some(number.to_string()),
            _ => None,
        })
        .unwrap_or_else(|| format!("HTTP{status}"));
    PortError::new(
        kind,
        format!("{endpoint} answered HTTP {status}: {message}"),
    )
    .with_code(code)
}

#[derive(Debug, Deserialize)]
struct CompletionResponse {
    #[serde(default)]
    choices: Vec<Choice>,
    usage: Option<Usage>,
}

#[derive(Debug, Deserialize)]
struct Choice {
    message: ChoiceMessage,
    finish_reason: Option<String>,
}

#[derive(Debug, Deserialize)]
struct ChoiceMessage {
    content: Option<String>,
}

#[derive(Debug, Deserialize)]
struct StreamChunk {
    #[serde(default)]
    choices: Vec<StreamChoice>,
    usage: Option<Usage>,
    error: Option<Value>,
}

#[derive(Debug, Deserialize)]
struct StreamChoice {
    delta: Option<StreamDelta>,
    finish_reason: Option<String>,
}

#[derive(Debug, Deserialize)]
struct StreamDelta {
    content: Option<String>,
}

#[derive(Debug, Deserialize)]
struct Usage {
    prompt_tokens: Option<u64>,
    completion_tokens: Option<u64>,
}

#[async_trait]
impl ChatModel for OpenAiChat {
    async fn converse(&self, request: &ChatRequest) -> Result<ChatResponse, PortError> {
        let body = self.request_body(request)?;
        let attempts = self.config.max_attempts.max(1);
        let mut backoff = self.config.initial_backoff;
        let mut attempt = 1;
        loop {
            match self.call_once(&body).await {
                Err(error) if error.is_retryable() && attempt < attempts => {
                    tracing::warn!(%error, attempt, "chat completion failed; retrying");
                    tokio::time::sleep(backoff).await;
                    backoff = backoff.saturating_mul(2);
                    attempt += 1;
                }
                result => return result,
            }
        }
    }
}

/// `stream: true`: each server-sent event's `delta.content` goes to `on_text` as it arrives.
/// Failures before the first piece are retried like `converse`; later ones are returned.
#[async_trait]
impl StreamingChatModel for OpenAiChat {
    async fn converse_stream(
        &self,
        request: &ChatRequest,
        on_text: &mut OnText<'_>,
    ) -> Result<ChatResponse, PortError> {
        let body = self.stream_body(request)?;
        let attempts = self.config.max_attempts.max(1);
        let mut backoff = self.config.initial_backoff;
        let mut attempt = 1;
        loop {
            let mut sent = false;
            match self.stream_once(&body, on_text, &mut sent).await {
                Err(error) if error.is_retryable() && !sent && attempt < attempts => {
                    tracing::warn!(%error, attempt, "streamed chat completion failed; retrying");
                    tokio::time::sleep(backoff).await;
                    backoff = backoff.saturating_mul(2);
                    attempt += 1;
                }
                result => return result,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sse_events_survive_any_split() {
        let stream = "data: {\"a\":\"가\"}\n\n: comment\nevent: x\ndata: one\ndata: two\r\n\r\ndata: [DONE]\n\n";
        let bytes = stream.as_bytes();
        for cut in 0..bytes.len() {
            let mut events = SseEvents::default();
            let mut out = events.push(&bytes[..cut]);
            out.extend(events.push(&bytes[cut..]));
            out.extend(events.finish());
            assert_eq!(
                out,
                ["{\"a\":\"가\"}", "one\ntwo", "[DONE]"],
                "cut at {cut}"
            );
        }
        let mut events = SseEvents::default();
        assert!(events.push(b"data: tail").is_empty());
        assert_eq!(events.finish(), ["tail"]);
    }

    #[test]
    fn schema_goes_as_response_format_unless_disabled() {
        let request = ChatRequest {
            model_id: "m".into(),
            messages: vec![trailguard_core::ports::ChatMessage {
                role: ChatRole::User,
                content: vec![ContentBlock::Text("hi".into())],
            }],
            response_schema: Some(json!({"type": "object"})),
            ..ChatRequest::default()
        };
        let chat = OpenAiChat::new(OpenAiConfig::new("http://127.0.0.1:9/v1", "")).unwrap();
        let body = chat.request_body(&request).unwrap();
        assert_eq!(
            body["response_format"],
            json!({"type": "json_schema", "json_schema": {"name": "answer", "schema": {"type": "object"}}})
        );
        assert_eq!(body["stream"], json!(false));
        let streamed = chat.stream_body(&request).unwrap();
        assert_eq!(streamed["stream"], json!(true));
        assert_eq!(streamed["stream_options"]["include_usage"], json!(true));
        let mut config = OpenAiConfig::new("http://127.0.0.1:9/v1", "");
        config.send_response_schema = false;
        let body = OpenAiChat::new(config)
            .unwrap()
            .request_body(&request)
            .unwrap();
        assert!(body.get("response_format").is_none());
    }

    #[test]
    fn patterns_are_not_sent() {
        let hangul = json!({"type": "string", "pattern": "^[가-힣]", "maxLength": 9});
        let schema = json!({"type": "object", "properties": {
            "summarize": hangul,
            "pattern": {"type": "string"},
            "note": {"anyOf": [hangul, {"type": "null"}]},
            "tags": {"type": "array", "items": hangul}
        }});
        let request = ChatRequest {
            model_id: "m".into(),
            messages: vec![trailguard_core::ports::ChatMessage {
                role: ChatRole::User,
                content: vec![ContentBlock::Text("hi".into())],
            }],
            response_schema: Some(schema),
            ..ChatRequest::default()
        };
        let chat = OpenAiChat::new(OpenAiConfig::new("http://127.0.0.1:9/v1", "")).unwrap();
        let body = chat.request_body(&request).unwrap();
        let sent = &body["response_format"]["json_schema"]["schema"];
        let plain = json!({"type": "string", "maxLength": 9});
        assert_eq!(
            sent,
            &json!({"type": "object", "properties": {
                "summarize": plain,
                "pattern": {"type": "string"},
                "note": {"anyOf": [plain, {"type": "null"}]},
                "tags": {"type": "array", "items": plain}
            }})
        );
    }
}
