//! `ChatModel` for OpenAI-compatible `/v1/chat/completions` servers: Ollama, vLLM, llama.cpp
//! server (and OpenAI itself). Images go as `data:` URLs with base64 content.

use std::time::Duration;

use async_trait::async_trait;
use base64::Engine as _;
use serde::Deserialize;
use serde_json::{json, Value};
use trailguard_core::ports::{
    ChatModel, ChatRequest, ChatResponse, ChatRole, ContentBlock, PortError, PortErrorKind,
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
        Ok(Value::Object(body))
    }

    async fn call_once(&self, body: &Value) -> Result<ChatResponse, PortError> {
        let mut call = self.http.post(&self.endpoint).json(body);
        if let Some(key) = &self.config.api_key {
            call = call.bearer_auth(key);
        }
        let response = call
            .send()
            .await
            .map_err(|error| transport_error(&self.endpoint, &error))?;
        let status = response.status().as_u16();
        let bytes = response
            .bytes()
            .await
            .map_err(|error| transport_error(&self.endpoint, &error))?;
        if !(200..300).contains(&status) {
            return Err(http_error(&self.endpoint, status, &bytes));
        }
        let parsed: CompletionResponse = serde_json::from_slice(&bytes).map_err(|error| {
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
