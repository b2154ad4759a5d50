//! [`GgufChat`]: the ChatModel port on a GGUF model in this process.

use std::ops::ControlFlow;
use std::path::Path;
use std::sync::Arc;

use async_trait::async_trait;
use serde_json::Value;
use trailguard_core::ports::{
    ChatModel, ChatRequest, ChatResponse, ChatRole, ContentBlock, OnText, PortError, PortErrorKind,
    StreamingChatModel,
};
use trailguard_gguf::{
    GenerateRequest, Generation, LoadOptions, LocalModel, LocalModelError, ModelInfo, Role,
    StopReason,
};

/// How a model is loaded and how far one answer may go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GgufChatOptions {
    /// CPU threads for prompt and generation; 0 = every available core. On a machine busy with
    /// other work, OpenMP's spinning makes 2 threads slower than 1 unless the process starts
    /// with `OMP_WAIT_POLICY=PASSIVE` (BENCHMARKS.md); `OMP_THREAD_LIMIT` caps it too.
    pub threads: u32,
    /// Context window in tokens (prompt + answer), at most the model's trained context.
    pub context_len: u32,
    /// Most tokens one answer may take: a request asking for more (the guide asks 2048) gets
    /// this many.
    pub max_tokens: u32,
    /// `maxLength` given to every string of a request's schema that has none, so a small model
    /// cannot loop inside one string until `max_tokens` cuts the JSON.
    pub max_string_chars: u64,
    /// Sampler seed when the temperature is above 0 (each call starts from it).
    pub seed: u32,
}

impl Default for GgufChatOptions {
    fn default() -> Self {
        GgufChatOptions {
            threads: 0,
            context_len: 4096,
            max_tokens: 512,
            max_string_chars: 300,
            seed: 0,
        }
    }
}

/// A GGUF chat model loaded once; clones share it. Calls run one at a time (the engine's lock),
/// each on a blocking thread.
#[derive(Clone)]
pub struct GgufChat {
    model: Arc<LocalModel>,
    options: GgufChatOptions,
    name: String,
}

impl std::fmt::Debug for GgufChat {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GgufChat")
            .field("name", &self.name)
            .field("info", self.model.info())
            .field("options", &self.options)
            .finish()
    }
}

impl GgufChat {
    /// Loads the model at `path` (blocking: header check, then llama.cpp maps the file). A
    /// missing, truncated or non-GGUF file is an error naming it. `name` labels the model in
    /// logs and analyses (the catalog name, e.g. `smollm2-135m`).
    ///
    /// # Errors
    /// [`LocalModelError`] for the file or the options.
    pub fn load(
        path: &Path,
        name: impl Into<String>,
        options: GgufChatOptions,
    ) -> Result<GgufChat, LocalModelError> {
        if options.max_tokens == 0 {
            return Err(LocalModelError::InvalidOptions(
                "max_tokens must be >= 1".into(),
            ));
        }
        let model = LocalModel::load(
            path,
            LoadOptions {
                threads: options.threads,
                context_len: options.context_len,
                seed: options.seed,
            },
        )?;
        Ok(GgufChat {
            model: Arc::new(model),
            options,
            name: name.into(),
        })
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn info(&self) -> &ModelInfo {
        self.model.info()
    }

    pub fn options(&self) -> &GgufChatOptions {
        &self.options
    }

    /// The prompt exactly as the model reads it (chat template applied).
    ///
    /// # Errors
    /// As [`to_generate_request`], or the template failing.
    pub fn render_prompt(&self, request: &ChatRequest) -> Result<String, PortError> {
        let generate = to_generate_request(request, &self.options)?;
        self.model.render_prompt(&generate).map_err(port_error)
    }

    async fn run(
        &self,
        request: &ChatRequest,
        on_text: &mut OnText<'_>,
    ) -> Result<ChatResponse, PortError> {
        let generate = to_generate_request(request, &self.options)?;
        let model = self.model.clone();
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<String>();
        let task = tokio::task::spawn_blocking(move || {
            let result = model.generate(&generate, &mut |piece| {
                // The receiver is gone when the caller dropped the call: stop generating.
                match tx.send(piece.to_string()) {
                    Ok(()) => ControlFlow::Continue(()),
                    Err(_) => ControlFlow::Break(()),
                }
            });
            (generate, result)
        });
        while let Some(piece) = rx.recv().await {
            on_text(&piece);
        }
        let (generate, result) = task.await.map_err(|error| {
            PortError::new(
                PortErrorKind::Other,
                format!("the local model's generation thread failed: {error}"),
            )
        })?;
        let generation = result.map_err(port_error)?;
        if let Some(schema) = &generate.json_schema {
            check_answer(&self.name, schema, &generation);
        }
        Ok(ChatResponse {
            text: generation.text,
            stop_reason: Some(stop_reason(&generation.stop_reason).to_string()),
            input_tokens: u64::try_from(generation.input_tokens).ok(),
            output_tokens: u64::try_from(generation.output_tokens).ok(),
        })
    }
}

/// Logs an answer that misses its schema: the grammar guarantees the syntax of what was
/// generated, not that it was finished (`max_tokens`). The caller's validation decides.
fn check_answer(name: &str, schema: &Value, generation: &Generation) {
    let problems = match serde_json::from_str::<Value>(&generation.text) {
        Ok(value) => trailguard_gguf::schema::validate(schema, &value),
        Err(error) => vec![format!("not JSON: {error}")],
    };
    if !problems.is_empty() {
        tracing::warn!(
            model = name,
            stop = ?generation.stop_reason,
            problems = %problems.join("; "),
            "the local model's answer does not match the request's schema"
        );
    }
}

fn stop_reason(reason: &StopReason) -> &'static str {
    // Bedrock's words, so every backend reads the same.
    match reason {
        StopReason::Eos => "end_turn",
        StopReason::StopString(_) => "stop_sequence",
        StopReason::MaxTokens => "max_tokens",
        StopReason::Cancelled => "cancelled",
    }
}

fn port_error(error: LocalModelError) -> PortError {
    let (kind, code) = match &error {
        LocalModelError::ContextOverflow { .. } => (PortErrorKind::InvalidInput, "ContextOverflow"),
        LocalModelError::InvalidRequest(_) => (PortErrorKind::InvalidInput, "InvalidRequest"),
        LocalModelError::UnsupportedSchema { .. } => {
            (PortErrorKind::InvalidInput, "UnsupportedSchema")
        }
        LocalModelError::InvalidOptions(_) => (PortErrorKind::InvalidInput, "InvalidOptions"),
        LocalModelError::NotFound(_) => (PortErrorKind::NotFound, "ModelNotFound"),
        _ => (PortErrorKind::Other, "LocalModelError"),
    };
    PortError::new(kind, format!("local model: {error}")).with_code(code)
}

fn invalid(message: impl Into<String>) -> PortError {
    PortError::new(PortErrorKind::InvalidInput, message).with_code("ValidationException")
}

/// The generation a request asks for: system prompt, turns (text blocks of a turn joined by a
/// newline), `max_tokens` capped by the options, temperature (none: greedy), top_p, and the
/// request's schema with bounded strings. `top_k` is not used. Images are refused: the model
/// reads text only.
///
/// # Errors
/// `InvalidInput` for an image, no message, or a schema that is not a JSON object.
pub fn to_generate_request(
    request: &ChatRequest,
    options: &GgufChatOptions,
) -> Result<GenerateRequest, PortError> {
    if request.messages.is_empty() {
        return Err(invalid("a chat request needs at least one message"));
    }
    let mut messages = Vec::with_capacity(request.messages.len());
    for message in &request.messages {
        let mut text = Vec::with_capacity(message.content.len());
        for block in &message.content {
            match block {
                ContentBlock::Text(t) => text.push(t.as_str()),
                ContentBlock::Image { .. } => {
                    return Err(invalid(
                        "the in-process model reads text only: this request holds an image",
                    )
                    .with_code("UnsupportedContent"))
                }
            }
        }
        let role = match message.role {
            ChatRole::User => Role::User,
            ChatRole::Assistant => Role::Assistant,
        };
        messages.push((role, text.join("\n")));
    }
    let json_schema = match &request.response_schema {
        None => None,
        Some(schema @ Value::Object(_)) => {
            Some(bound_strings(schema.clone(), options.max_string_chars))
        }
        Some(_) => return Err(invalid("response_schema must be a JSON object")),
    };
    Ok(GenerateRequest {
        system: request.system.clone(),
        messages,
        max_tokens: request
            .max_tokens
            .map_or(options.max_tokens, |m| m.min(options.max_tokens)),
        temperature: request.temperature.unwrap_or(0.0),
        top_p: request.top_p,
        json_schema,
        stop: Vec::new(),
    })
}

/// `schema` with `"maxLength": max_chars` on every string type that has no `maxLength`, no
/// `enum` and no `const`, at any depth (properties, items, type lists, anyOf/oneOf branches).
pub fn bound_strings(mut schema: Value, max_chars: u64) -> Value {
    bound(&mut schema, max_chars);
    schema
}

fn bound(schema: &mut Value, max_chars: u64) {
    let Value::Object(map) = schema else {
        return;
    };
    let is_string = match map.get("type") {
        Some(Value::String(t)) => t == "string",
        Some(Value::Array(types)) => types.iter().any(|t| t == "string"),
        _ => false,
    };
    if is_string
        && !map.contains_key("maxLength")
        && !map.contains_key("enum")
        && !map.contains_key("const")
    {
        map.insert("maxLength".into(), Value::from(max_chars));
    }
    if let Some(Value::Object(properties)) = map.get_mut("properties") {
        for property in properties.values_mut() {
            bound(property, max_chars);
        }
    }
    if let Some(items) = map.get_mut("items") {
        bound(items, max_chars);
    }
    for keyword in ["anyOf", "oneOf"] {
        if let Some(Value::Array(branches)) = map.get_mut(keyword) {
            branches.iter_mut().for_each(|b| bound(b, max_chars));
        }
    }
}

#[async_trait]
impl ChatModel for GgufChat {
    async fn converse(&self, request: &ChatRequest) -> Result<ChatResponse, PortError> {
        self.run(request, &mut |_| {}).await
    }
}

/// Token by token, whole UTF-8 characters (a Korean syllable split over two tokens arrives as
/// one piece); dropping the future stops the generation at the next token.
#[async_trait]
impl StreamingChatModel for GgufChat {
    async fn converse_stream(
        &self,
        request: &ChatRequest,
        on_text: &mut OnText<'_>,
    ) -> Result<ChatResponse, PortError> {
        self.run(request, on_text).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use trailguard_core::ports::ChatMessage;

    fn text(role: ChatRole, text: &str) -> ChatMessage {
        ChatMessage {
            role,
            content: vec![ContentBlock::Text(text.into())],
        }
    }

    #[test]
    fn requests_map_to_generations() {
        let request = ChatRequest {
            model_id: "ignored".into(),
            system: Some("sys".into()),
            messages: vec![
                ChatMessage {
                    role: ChatRole::User,
                    content: vec![
                        ContentBlock::Text("a".into()),
                        ContentBlock::Text("b".into()),
                    ],
                },
                text(ChatRole::Assistant, "c"),
                text(ChatRole::User, "d"),
            ],
            max_tokens: Some(2048),
            temperature: Some(0.5),
            top_p: Some(0.9),
            top_k: Some(40),
            response_schema: None,
        };
        let options = GgufChatOptions {
            max_tokens: 300,
            ..GgufChatOptions::default()
        };
        let generate = to_generate_request(&request, &options).unwrap();
        assert_eq!(generate.system.as_deref(), Some("sys"));
        assert_eq!(
            generate.messages,
            vec![
                (Role::User, "a\nb".to_string()),
                (Role::Assistant, "c".to_string()),
                (Role::User, "d".to_string())
            ]
        );
        assert_eq!(generate.max_tokens, 300, "capped by the options");
        assert_eq!(generate.temperature, 0.5);
        assert_eq!(generate.top_p, Some(0.9));
        assert_eq!(generate.json_schema, None);

        let defaults = ChatRequest {
            messages: vec![text(ChatRole::User, "x")],
            max_tokens: Some(20),
            ..ChatRequest::default()
        };
        let generate = to_generate_request(&defaults, &options).unwrap();
        assert_eq!(
            (generate.max_tokens, generate.temperature, generate.system),
            (20, 0.0, None)
        );
        let unset = ChatRequest {
            messages: vec![text(ChatRole::User, "x")],
            ..ChatRequest::default()
        };
        assert_eq!(
            to_generate_request(&unset, &options).unwrap().max_tokens,
            300
        );
    }

    #[test]
    fn images_empty_requests_and_bad_schemas_are_refused() {
        let options = GgufChatOptions::default();
        let image = ChatRequest {
            messages: vec![ChatMessage {
                role: ChatRole::User,
                content: vec![ContentBlock::Image {
                    media_type: "image/png".into(),
                    bytes: vec![1, 2],
                }],
            }],
            ..ChatRequest::default()
        };
        let error = to_generate_request(&image, &options).unwrap_err();
        assert_eq!(error.kind, PortErrorKind::InvalidInput);
        assert_eq!(error.code.as_deref(), Some("UnsupportedContent"));
        assert!(to_generate_request(&ChatRequest::default(), &options).is_err());
        let bad_schema = ChatRequest {
            messages: vec![text(ChatRole::User, "x")],
            response_schema: Some(json!("string")),
            ..ChatRequest::default()
        };
        assert!(to_generate_request(&bad_schema, &options).is_err());
    }

    #[test]
    fn schema_strings_get_bounds_unless_they_have_one() {
        let schema = json!({
            "type": "object",
            "properties": {
                "title": {"type": "string"},
                "kept": {"type": "string", "maxLength": 20},
                "level": {"type": "string", "enum": ["low", "high"]},
                "tags": {"type": "array", "items": {"type": "string"}},
                "maybe": {"type": ["string", "null"]},
                "nested": {"type": "object", "properties": {"x": {"type": "string"}}},
                "n": {"type": "integer"}
            }
        });
        let bounded = bound_strings(schema, 99);
        let p = &bounded["properties"];
        assert_eq!(p["title"]["maxLength"], 99);
        assert_eq!(p["kept"]["maxLength"], 20);
        assert!(p["level"].get("maxLength").is_none());
        assert_eq!(p["tags"]["items"]["maxLength"], 99);
        assert_eq!(p["maybe"]["maxLength"], 99);
        assert_eq!(p["nested"]["properties"]["x"]["maxLength"], 99);
        assert!(p["n"].get("maxLength").is_none());
        let request = ChatRequest {
            messages: vec![text(ChatRole::User, "x")],
            response_schema: Some(
                json!({"type": "object", "properties": {"s": {"type": "string"}}}),
            ),
            ..ChatRequest::default()
        };
        let generate = to_generate_request(&request, &GgufChatOptions::default()).unwrap();
        assert_eq!(
            generate.json_schema.unwrap()["properties"]["s"]["maxLength"],
            300
        );
    }

    #[test]
    fn engine_errors_keep_their_meaning() {
        let overflow = port_error(LocalModelError::ContextOverflow {
            prompt_tokens: 5000,
            max_tokens: 10,
            context_len: 4096,
        });
        assert_eq!(overflow.kind, PortErrorKind::InvalidInput);
        assert_eq!(overflow.code.as_deref(), Some("ContextOverflow"));
        assert!(overflow.message.contains("4096"), "{overflow}");
        assert_eq!(stop_reason(&StopReason::MaxTokens), "max_tokens");
        assert_eq!(stop_reason(&StopReason::Eos), "end_turn");
    }
}
