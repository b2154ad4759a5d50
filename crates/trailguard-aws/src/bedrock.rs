//! `ChatModel` on Amazon Bedrock Runtime, over Converse (any model) or InvokeModel (Anthropic
//! Messages body); streamed over ConverseStream. A request's JSON schema is not sent (the
//! callers validate every answer).

use std::collections::HashMap;

use async_trait::async_trait;
use aws_sdk_bedrockruntime::error::ProvideErrorMetadata;
use aws_sdk_bedrockruntime::types::{
    ContentBlock as BedrockBlock, ContentBlockDelta, ConversationRole, ConverseOutput,
    ConverseStreamOutput, ImageBlock, ImageFormat, ImageSource, InferenceConfiguration, Message,
    SystemContentBlock,
};
use aws_smithy_types::{Blob, Document, Number};
use base64::Engine as _;
use serde::Deserialize;
use serde_json::json;
use trailguard_core::ports::{
    ChatMessage, ChatModel, ChatRequest, ChatResponse, ChatRole, ContentBlock, OnText, PortError,
    PortErrorKind, StreamingChatModel,
};

use crate::error::{malformed, port_error_from_sdk};

pub use trailguard_core::ask::{DEFAULT_IMAGE_MODEL_ID, DEFAULT_LOG_MODEL_ID};
/// `anthropic_version` of the Anthropic Messages body on Bedrock's InvokeModel.
pub const ANTHROPIC_BEDROCK_VERSION: &str = "bedrock-2023-05-31";

/// Cross-region inference profile prefixes Bedrock documents (`global.anthropic...`, `us.`, ...).
pub const INFERENCE_PROFILE_PREFIXES: &[&str] =
    &["global", "us", "eu", "apac", "jp", "au", "us-gov"];

/// What a model accepts, by family: Bedrock rejects requests outside it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ModelFamily {
    /// Claude 3.x: temperature, top_p and top_k together.
    ClaudeLegacy,
    /// Claude 4 and later: temperature or top_p, not both ("cannot both be specified for this
    /// model"); top_k as an additional field.
    Claude,
    /// Amazon Nova: temperature, topP; topK under `inferenceConfig` of the additional fields.
    Nova,
    /// Anything else: temperature and top_p only.
    Other,
}

/// The model id inside an id, a profile id or an ARN (`global.anthropic.claude-...` →
/// `anthropic.claude-...`).
fn bare_model_id(model_id: &str) -> &str {
    let tail = model_id
        .rsplit_once("inference-profile/")
        .or_else(|| model_id.rsplit_once("foundation-model/"))
        .map_or(model_id, |(_, tail)| tail);
    match tail.split_once('.') {
        Some((prefix, rest)) if INFERENCE_PROFILE_PREFIXES.contains(&prefix) => rest,
        _ => tail,
    }
}

/// The family a model id (or profile id, or ARN naming one) belongs to.
pub fn model_family(model_id: &str) -> ModelFamily {
    let bare = bare_model_id(model_id);
    if let Some(claude) = bare.strip_prefix("anthropic.claude-") {
        // claude-3-haiku-..., claude-3-5-sonnet-...: the 3.x line; every later one is stricter.
        return if claude.starts_with("3-")
            || claude.starts_with("instant")
            || claude.starts_with('v')
        {
            ModelFamily::ClaudeLegacy
        } else {
            ModelFamily::Claude
        };
    }
    if bare.starts_with("amazon.nova-") {
        return ModelFamily::Nova;
    }
    ModelFamily::Other
}

/// Sampling parameters shaped for a family.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Sampling {
    pub temperature: Option<f32>,
    pub top_p: Option<f32>,
    pub top_k: Option<u32>,
}

/// Drops what `family` rejects: for Claude 4+, top_p when a temperature is set (temperature is
/// the guide's knob); top_k for models that have none.
pub fn sampling_for(
    family: ModelFamily,
    temperature: Option<f32>,
    top_p: Option<f32>,
    top_k: Option<u32>,
) -> Sampling {
    match family {
        ModelFamily::ClaudeLegacy | ModelFamily::Nova => Sampling {
            temperature,
            top_p,
            top_k,
        },
        ModelFamily::Claude => Sampling {
            temperature,
            top_p: if temperature.is_some() { None } else { top_p },
            top_k,
        },
        ModelFamily::Other => Sampling {
            temperature,
            top_p,
            top_k: None,
        },
    }
}

/// Which Bedrock Runtime operation carries the call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum BedrockApi {
    /// The model-agnostic Converse API (what the guide's state machine uses).
    #[default]
    Converse,
    /// InvokeModel with an Anthropic Messages body.
    InvokeModel,
}

/// Inference parameters used when a `ChatRequest` leaves them unset.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct InferenceDefaults {
    pub max_tokens: u32,
    pub temperature: Option<f32>,
    pub top_p: Option<f32>,
    pub top_k: Option<u32>,
}

impl InferenceDefaults {
    /// The guide's log-analysis call: MaxTokens 2048, Temperature 0.5.
    pub fn guide_logs() -> Self {
        InferenceDefaults {
            max_tokens: 2048,
            temperature: Some(0.5),
            top_p: None,
            top_k: None,
        }
    }

    /// The guide's PII call: max_tokens 1024, temperature 0, top_p 0.999, top_k 250.
    pub fn guide_images() -> Self {
        InferenceDefaults {
            max_tokens: 1024,
            temperature: Some(0.0),
            top_p: Some(0.999),
            top_k: Some(250),
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct BedrockChatConfig {
    pub api: BedrockApi,
    /// Used when a request's `model_id` is empty. A foundation model id, a cross-region inference
    /// profile id (`us.anthropic.claude-3-5-sonnet-20241022-v2:0`) or an ARN.
    pub default_model_id: String,
    pub defaults: InferenceDefaults,
}

impl Default for BedrockChatConfig {
    fn default() -> Self {
        BedrockChatConfig::for_logs()
    }
}

impl BedrockChatConfig {
    /// Converse with the default log model and the guide's log-analysis parameters.
    pub fn for_logs() -> Self {
        BedrockChatConfig {
            api: BedrockApi::Converse,
            default_model_id: DEFAULT_LOG_MODEL_ID.into(),
            defaults: InferenceDefaults::guide_logs(),
        }
    }

    /// Converse with the default image model and the guide's PII parameters (shaped per model
    /// family: Claude 4 and later get the temperature without top_p).
    pub fn for_images() -> Self {
        BedrockChatConfig {
            api: BedrockApi::Converse,
            default_model_id: DEFAULT_IMAGE_MODEL_ID.into(),
            defaults: InferenceDefaults::guide_images(),
        }
    }

    pub fn with_api(mut self, api: BedrockApi) -> Self {
        self.api = api;
        self
    }

    pub fn with_model_id(mut self, model_id: impl Into<String>) -> Self {
        self.default_model_id = model_id.into();
        self
    }
}

fn invalid(message: impl Into<String>) -> PortError {
    PortError::new(PortErrorKind::InvalidInput, message)
}

/// Accepts foundation model ids (`anthropic.claude-3-haiku-20240307-v1:0`), cross-region
/// inference profile ids (`us.`/`eu.`/`apac.` + model id) and Bedrock ARNs.
pub fn validate_model_id(model_id: &str) -> Result<(), PortError> {
    if model_id.is_empty() || model_id.len() > 2048 {
        return Err(invalid(
            "Bedrock model id is empty or longer than 2048 characters",
        ));
    }
    if let Some(rest) = model_id.strip_prefix("arn:") {
        let mut parts = rest.splitn(5, ':');
        let partition = parts.next().unwrap_or_default();
        let service = parts.next().unwrap_or_default();
        if !partition.starts_with("aws")
            || service != "bedrock"
            || model_id.chars().any(char::is_whitespace)
        {
            return Err(invalid(format!(
                "{model_id:?} is not a Bedrock model or inference profile ARN"
            )));
        }
        return Ok(());
    }
    let well_formed = model_id
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_' | ':'))
        && model_id.contains('.')
        && !model_id.starts_with('.');
    if !well_formed {
        return Err(invalid(format!(
            "{model_id:?} is not a Bedrock model id (provider.model[:version], optionally with a \
             us./eu./apac. inference profile prefix, or an ARN)"
        )));
    }
    Ok(())
}

fn image_format(media_type: &str) -> Result<ImageFormat, PortError> {
    match media_type.to_ascii_lowercase().as_str() {
        "image/png" => Ok(ImageFormat::Png),
        "image/jpeg" | "image/jpg" => Ok(ImageFormat::Jpeg),
        "image/gif" => Ok(ImageFormat::Gif),
        "image/webp" => Ok(ImageFormat::Webp),
        other => Err(invalid(format!(
            "Bedrock accepts png, jpeg, gif and webp images, not {other:?}"
        ))),
    }
}

/// Request fields after applying the configured defaults and the family's rules.
struct Resolved<'a> {
    model_id: &'a str,
    family: ModelFamily,
    max_tokens: u32,
    sampling: Sampling,
}

#[derive(Debug, Clone)]
pub struct BedrockChat {
    client: aws_sdk_bedrockruntime::Client,
    config: BedrockChatConfig,
}

impl BedrockChat {
    pub fn new(client: aws_sdk_bedrockruntime::Client, config: BedrockChatConfig) -> Self {
        BedrockChat { client, config }
    }

    pub fn config(&self) -> &BedrockChatConfig {
        &self.config
    }

    fn resolve<'a>(&'a self, request: &'a ChatRequest) -> Result<Resolved<'a>, PortError> {
        let model_id = if request.model_id.trim().is_empty() {
            self.config.default_model_id.as_str()
        } else {
            request.model_id.as_str()
        };
        validate_model_id(model_id)?;
        if request.messages.is_empty() {
            return Err(invalid("a Bedrock chat request needs at least one message"));
        }
        let defaults = &self.config.defaults;
        let family = model_family(model_id);
        Ok(Resolved {
            model_id,
            family,
            max_tokens: request.max_tokens.unwrap_or(defaults.max_tokens),
            sampling: sampling_for(
                family,
                request.temperature.or(defaults.temperature),
                request.top_p.or(defaults.top_p),
                request.top_k.or(defaults.top_k),
            ),
        })
    }

    /// What Converse and ConverseStream both send.
    fn converse_parts(&self, request: &ChatRequest) -> Result<ConverseParts, PortError> {
        let resolved = self.resolve(request)?;
        let messages = request
            .messages
            .iter()
            .map(converse_message)
            .collect::<Result<Vec<_>, _>>()?;
        let inference = InferenceConfiguration::builder()
            .max_tokens(i32::try_from(resolved.max_tokens).unwrap_or(i32::MAX))
            .set_temperature(resolved.sampling.temperature)
            .set_top_p(resolved.sampling.top_p)
            .build();
        Ok(ConverseParts {
            model_id: resolved.model_id.to_string(),
            messages,
            inference,
            system: request
                .system
                .as_ref()
                .map(|system| SystemContentBlock::Text(system.clone())),
            // Converse has no top_k field: each family takes it as its own additional field.
            additional: additional_fields(resolved.family, resolved.sampling.top_k),
        })
    }

    async fn converse_api(&self, request: &ChatRequest) -> Result<ChatResponse, PortError> {
        const OP: &str = "bedrock:Converse";
        let parts = self.converse_parts(request)?;
        let output = self
            .client
            .converse()
            .model_id(parts.model_id)
            .set_messages(Some(parts.messages))
            .inference_config(parts.inference)
            .set_system(parts.system.map(|s| vec![s]))
            .set_additional_model_request_fields(parts.additional)
            .send()
            .await
            .map_err(|error| port_error_from_sdk(OP, &error))?;
        let Some(ConverseOutput::Message(message)) = output.output() else {
            return Err(malformed(OP, "no output message"));
        };
        let text = message
            .content()
            .iter()
            .filter_map(|block| match block {
                BedrockBlock::Text(text) => Some(text.as_str()),
                _ => None,
            })
            .collect::<Vec<_>>()
            .join("");
        let usage = output.usage();
        Ok(ChatResponse {
            text,
            stop_reason: Some(output.stop_reason().as_str().to_owned()),
            input_tokens: usage.and_then(|u| u64::try_from(u.input_tokens()).ok()),
            output_tokens: usage.and_then(|u| u64::try_from(u.output_tokens()).ok()),
        })
    }

    async fn converse_stream_api(
        &self,
        request: &ChatRequest,
        on_text: &mut OnText<'_>,
    ) -> Result<ChatResponse, PortError> {
        const OP: &str = "bedrock:ConverseStream";
        let parts = self.converse_parts(request)?;
        let mut output = self
            .client
            .converse_stream()
            .model_id(parts.model_id)
            .set_messages(Some(parts.messages))
            .inference_config(parts.inference)
            .set_system(parts.system.map(|s| vec![s]))
            .set_additional_model_request_fields(parts.additional)
            .send()
            .await
            .map_err(|error| port_error_from_sdk(OP, &error))?;
        let mut answer = ChatResponse::default();
        loop {
            let event = output.stream.recv().await.map_err(|error| {
                // Errors inside the stream (throttling, model stream errors) carry their code.
                let code = error.as_service_error().and_then(|e| e.code());
                let kind = code
                    .and_then(crate::error::classify_error_code)
                    .unwrap_or(PortErrorKind::Unavailable);
                let port_error = PortError::new(
                    kind,
                    format!(
                        "{OP} failed while streaming: {}",
                        aws_smithy_types::error::display::DisplayErrorContext(&error)
                    ),
                );
                match code {
                    Some(code) => port_error.with_code(code),
                    None => port_error,
                }
            })?;
            match event {
                None => break,
                Some(ConverseStreamOutput::ContentBlockDelta(delta)) => {
                    if let Some(ContentBlockDelta::Text(text)) = delta.delta() {
                        if !text.is_empty() {
                            on_text(text);
                            answer.text.push_str(text);
                        }
                    }
                }
                Some(ConverseStreamOutput::MessageStop(stop)) => {
                    answer.stop_reason = Some(stop.stop_reason().as_str().to_owned());
                }
                Some(ConverseStreamOutput::Metadata(metadata)) => {
                    if let Some(usage) = metadata.usage() {
                        answer.input_tokens = u64::try_from(usage.input_tokens()).ok();
                        answer.output_tokens = u64::try_from(usage.output_tokens()).ok();
                    }
                }
                // Message and block starts and stops carry no text.
                Some(_) => {}
            }
        }
        if answer.stop_reason.is_none() {
            return Err(malformed(
                OP,
                "the stream ended without a messageStop event",
            ));
        }
        Ok(answer)
    }

    async fn invoke_model_api(&self, request: &ChatRequest) -> Result<ChatResponse, PortError> {
        const OP: &str = "bedrock:InvokeModel";
        let resolved = self.resolve(request)?;
        let body = match resolved.family {
            ModelFamily::Claude | ModelFamily::ClaudeLegacy => anthropic_body(request, &resolved)?,
            ModelFamily::Nova => nova_body(request, &resolved)?,
            ModelFamily::Other => {
                return Err(invalid(format!(
                "InvokeModel needs a model family's own body (Anthropic Claude or Amazon Nova); \
                     use Converse for {:?}",
                resolved.model_id
            )))
            }
        };
        let output = self
            .client
            .invoke_model()
            .model_id(resolved.model_id)
            .content_type("application/json")
            .accept("application/json")
            .body(Blob::new(body))
            .send()
            .await
            .map_err(|error| port_error_from_sdk(OP, &error))?;
        if resolved.family == ModelFamily::Nova {
            return nova_response(output.body().as_ref()).map_err(|e| malformed(OP, e));
        }
        let parsed: AnthropicResponse =
            serde_json::from_slice(output.body().as_ref()).map_err(|error| {
                malformed(
                    OP,
                    format!("body is not an Anthropic Messages response: {error}"),
                )
            })?;
        let text = parsed
            .content
            .iter()
            .filter(|block| block.kind == "text")
            .filter_map(|block| block.text.as_deref())
            .collect::<Vec<_>>()
            .join("");
        Ok(ChatResponse {
            text,
            stop_reason: parsed.stop_reason,
            input_tokens: parsed.usage.as_ref().and_then(|u| u.input_tokens),
            output_tokens: parsed.usage.as_ref().and_then(|u| u.output_tokens),
        })
    }
}

fn converse_message(message: &ChatMessage) -> Result<Message, PortError> {
    let role = match message.role {
        ChatRole::User => ConversationRole::User,
        ChatRole::Assistant => ConversationRole::Assistant,
    };
    let content = message
        .content
        .iter()
        .map(|block| match block {
            ContentBlock::Text(text) => Ok(BedrockBlock::Text(text.clone())),
            ContentBlock::Image { media_type, bytes } => {
                let image = ImageBlock::builder()
                    .format(image_format(media_type)?)
                    .source(ImageSource::Bytes(Blob::new(bytes.clone())))
                    .build()
                    .map_err(|error| invalid(format!("image block: {error}")))?;
                Ok(BedrockBlock::Image(image))
            }
        })
        .collect::<Result<Vec<_>, PortError>>()?;
    Message::builder()
        .role(role)
        .set_content(Some(content))
        .build()
        .map_err(|error| invalid(format!("message: {error}")))
}

/// The Anthropic Messages body for InvokeModel.
fn anthropic_body(request: &ChatRequest, resolved: &Resolved<'_>) -> Result<Vec<u8>, PortError> {
    let messages = request
        .messages
        .iter()
        .map(|message| {
            let content = message
                .content
                .iter()
                .map(|block| match block {
                    ContentBlock::Text(text) => Ok(json!({"type": "text", "text": text})),
                    ContentBlock::Image { media_type, bytes } => {
                        image_format(media_type)?;
                        Ok(json!({
                            "type": "image",
                            "source": {
                                "type": "base64",
                                "media_type": media_type.to_ascii_lowercase().replace("image/jpg", "image/jpeg"),
                                "data": base64::engine::general_purpose::STANDARD.encode(bytes)
                            }
                        }))
                    }
                })
                .collect::<Result<Vec<_>, PortError>>()?;
            let role = match message.role {
                ChatRole::User => "user",
                ChatRole::Assistant => "assistant",
            };
            Ok(json!({"role": role, "content": content}))
        })
        .collect::<Result<Vec<_>, PortError>>()?;
    let mut body = serde_json::Map::new();
    body.insert("anthropic_version".into(), json!(ANTHROPIC_BEDROCK_VERSION));
    body.insert("max_tokens".into(), json!(resolved.max_tokens));
    if let Some(system) = &request.system {
        body.insert("system".into(), json!(system));
    }
    body.insert("messages".into(), json!(messages));
    if let Some(temperature) = resolved.sampling.temperature {
        body.insert("temperature".into(), json!(temperature));
    }
    if let Some(top_p) = resolved.sampling.top_p {
        body.insert("top_p".into(), json!(top_p));
    }
    if let Some(top_k) = resolved.sampling.top_k {
        body.insert("top_k".into(), json!(top_k));
    }
    serde_json::to_vec(&body).map_err(|error| invalid(format!("request body: {error}")))
}

/// Converse's `additionalModelRequestFields` for top_k, in the family's own shape.
fn additional_fields(family: ModelFamily, top_k: Option<u32>) -> Option<Document> {
    let top_k = Document::Number(Number::PosInt(u64::from(top_k?)));
    match family {
        ModelFamily::Claude | ModelFamily::ClaudeLegacy => {
            Some(Document::Object(HashMap::from([(
                "top_k".to_owned(),
                top_k,
            )])))
        }
        ModelFamily::Nova => Some(Document::Object(HashMap::from([(
            "inferenceConfig".to_owned(),
            Document::Object(HashMap::from([("topK".to_owned(), top_k)])),
        )]))),
        ModelFamily::Other => None,
    }
}

/// The Amazon Nova body for InvokeModel (`schemaVersion` only for the first Nova generation).
fn nova_body(request: &ChatRequest, resolved: &Resolved<'_>) -> Result<Vec<u8>, PortError> {
    let messages = request
        .messages
        .iter()
        .map(|message| {
            let content = message
                .content
                .iter()
                .map(|block| match block {
                    ContentBlock::Text(text) => Ok(json!({"text": text})),
                    ContentBlock::Image { media_type, bytes } => {
                        let format = match image_format(media_type)? {
                            ImageFormat::Jpeg => "jpeg",
                            ImageFormat::Gif => "gif",
                            ImageFormat::Webp => "webp",
                            _ => "png",
                        };
                        Ok(json!({"image": {"format": format, "source": {
                            "bytes": base64::engine::general_purpose::STANDARD.encode(bytes)
                        }}}))
                    }
                })
                .collect::<Result<Vec<_>, PortError>>()?;
            let role = match message.role {
                ChatRole::User => "user",
                ChatRole::Assistant => "assistant",
            };
            Ok(json!({"role": role, "content": content}))
        })
        .collect::<Result<Vec<_>, PortError>>()?;
    let mut inference = serde_json::Map::new();
    inference.insert("maxTokens".into(), json!(resolved.max_tokens));
    if let Some(temperature) = resolved.sampling.temperature {
        inference.insert("temperature".into(), json!(temperature));
    }
    if let Some(top_p) = resolved.sampling.top_p {
        inference.insert("topP".into(), json!(top_p));
    }
    if let Some(top_k) = resolved.sampling.top_k {
        inference.insert("topK".into(), json!(top_k));
    }
    let mut body = serde_json::Map::new();
    if bare_model_id(resolved.model_id).contains("-v1") {
        body.insert("schemaVersion".into(), json!("messages-v1"));
    }
    if let Some(system) = &request.system {
        body.insert("system".into(), json!([{"text": system}]));
    }
    body.insert("messages".into(), json!(messages));
    body.insert(
        "inferenceConfig".into(),
        serde_json::Value::Object(inference),
    );
    serde_json::to_vec(&body).map_err(|error| invalid(format!("request body: {error}")))
}

fn nova_response(body: &[u8]) -> Result<ChatResponse, String> {
    let value: serde_json::Value = serde_json::from_slice(body)
        .map_err(|error| format!("body is not a Nova response: {error}"))?;
    let text = value
        .pointer("/output/message/content")
        .and_then(serde_json::Value::as_array)
        .ok_or("a Nova response without output.message.content")?
        .iter()
        .filter_map(|block| block.get("text").and_then(serde_json::Value::as_str))
        .collect::<Vec<_>>()
        .join("");
    let tokens = |name: &str| {
        value
            .pointer(&format!("/usage/{name}"))
            .and_then(serde_json::Value::as_u64)
    };
    Ok(ChatResponse {
        text,
        stop_reason: value
            .get("stopReason")
            .and_then(serde_json::Value::as_str)
            .map(str::to_owned),
        input_tokens: tokens("inputTokens"),
        output_tokens: tokens("outputTokens"),
    })
}

#[derive(Debug, Deserialize)]
struct AnthropicResponse {
    #[serde(default)]
    content: Vec<AnthropicContent>,
    stop_reason: Option<String>,
    usage: Option<AnthropicUsage>,
}

#[derive(Debug, Deserialize)]
struct AnthropicContent {
    #[serde(rename = "type")]
    kind: String,
    text: Option<String>,
}

#[derive(Debug, Deserialize)]
struct AnthropicUsage {
    input_tokens: Option<u64>,
    output_tokens: Option<u64>,
}

/// The request parts Converse and ConverseStream share.
struct ConverseParts {
    model_id: String,
    messages: Vec<Message>,
    inference: InferenceConfiguration,
    system: Option<SystemContentBlock>,
    additional: Option<Document>,
}

#[async_trait]
impl ChatModel for BedrockChat {
    async fn converse(&self, request: &ChatRequest) -> Result<ChatResponse, PortError> {
        match self.config.api {
            BedrockApi::Converse => self.converse_api(request).await,
            BedrockApi::InvokeModel => self.invoke_model_api(request).await,
        }
    }
}

/// Converse: ConverseStream, text deltas as they come. InvokeModel: the whole answer as one
/// piece (its streaming twin, InvokeModelWithResponseStream, is not used).
#[async_trait]
impl StreamingChatModel for BedrockChat {
    async fn converse_stream(
        &self,
        request: &ChatRequest,
        on_text: &mut OnText<'_>,
    ) -> Result<ChatResponse, PortError> {
        match self.config.api {
            BedrockApi::Converse => self.converse_stream_api(request, on_text).await,
            BedrockApi::InvokeModel => {
                let answer = self.invoke_model_api(request).await?;
                on_text(&answer.text);
                Ok(answer)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn model_ids_and_inference_profiles_are_accepted() {
        for id in [
            DEFAULT_LOG_MODEL_ID,
            DEFAULT_IMAGE_MODEL_ID,
            "us.anthropic.claude-3-5-sonnet-20241022-v2:0",
            "eu.anthropic.claude-3-haiku-20240307-v1:0",
            "apac.anthropic.claude-3-haiku-20240307-v1:0",
            "arn:aws:bedrock:us-east-1:123456789012:inference-profile/us.anthropic.claude-3-haiku-20240307-v1:0",
        ] {
            validate_model_id(id).unwrap();
            assert_ne!(model_family(id), ModelFamily::Other, "{id}");
        }
        for bad in [
            "",
            "claude",
            "anthropic claude",
            "arn:aws:s3:::bucket",
            "../x",
        ] {
            assert!(validate_model_id(bad).is_err(), "{bad}");
        }
        assert_eq!(model_family("us.amazon.nova-pro-v1:0"), ModelFamily::Nova);
    }

    #[test]
    fn invoke_model_body_is_anthropic_messages() {
        let request = ChatRequest {
            model_id: String::new(),
            system: Some("be terse".into()),
            messages: vec![ChatMessage {
                role: ChatRole::User,
                content: vec![
                    ContentBlock::Text("hi".into()),
                    ContentBlock::Image {
                        media_type: "image/png".into(),
                        bytes: vec![1, 2, 3],
                    },
                ],
            }],
            top_k: Some(250),
            ..ChatRequest::default()
        };
        let resolved = Resolved {
            model_id: DEFAULT_IMAGE_MODEL_ID,
            family: model_family(DEFAULT_IMAGE_MODEL_ID),
            max_tokens: 1024,
            sampling: Sampling {
                temperature: Some(0.0),
                top_p: None,
                top_k: Some(250),
            },
        };
        let body: serde_json::Value =
            serde_json::from_slice(&anthropic_body(&request, &resolved).unwrap()).unwrap();
        assert_eq!(body["anthropic_version"], "bedrock-2023-05-31");
        assert_eq!(body["max_tokens"], 1024);
        assert_eq!(body["system"], "be terse");
        assert_eq!(body["top_k"], 250);
        assert_eq!(body["messages"][0]["content"][1]["source"]["data"], "AQID");
        assert_eq!(
            body["messages"][0]["content"][1]["source"]["media_type"],
            "image/png"
        );
    }

    #[test]
    fn families_come_from_ids_profiles_and_arns() {
        for (id, family) in [
            ("anthropic.claude-3-haiku-20240307-v1:0", ModelFamily::ClaudeLegacy),
            ("us.anthropic.claude-3-5-sonnet-20241022-v2:0", ModelFamily::ClaudeLegacy),
            ("global.anthropic.claude-haiku-4-5-20251001-v1:0", ModelFamily::Claude),
            ("anthropic.claude-sonnet-4-6", ModelFamily::Claude),
            ("jp.anthropic.claude-sonnet-4-5-20250929-v1:0", ModelFamily::Claude),
            ("global.amazon.nova-2-lite-v1:0", ModelFamily::Nova),
            ("amazon.nova-micro-v1:0", ModelFamily::Nova),
            ("arn:aws:bedrock:us-east-1:123456789012:inference-profile/global.anthropic.claude-haiku-4-5-20251001-v1:0", ModelFamily::Claude),
            ("arn:aws:bedrock:us-east-1::foundation-model/amazon.nova-pro-v1:0", ModelFamily::Nova),
            ("meta.llama3-70b-instruct-v1:0", ModelFamily::Other),
        ] {
            assert_eq!(model_family(id), family, "{id}");
        }
    }

    #[test]
    fn claude_4_gets_temperature_or_top_p_never_both() {
        let guide = (Some(0.0), Some(0.999), Some(250));
        let shaped = sampling_for(ModelFamily::Claude, guide.0, guide.1, guide.2);
        assert_eq!(
            (shaped.temperature, shaped.top_p, shaped.top_k),
            (Some(0.0), None, Some(250))
        );
        let shaped = sampling_for(ModelFamily::Claude, None, Some(0.9), None);
        assert_eq!(shaped.top_p, Some(0.9));
        let legacy = sampling_for(ModelFamily::ClaudeLegacy, guide.0, guide.1, guide.2);
        assert_eq!(legacy.top_p, Some(0.999));
        assert_eq!(
            sampling_for(ModelFamily::Other, None, None, Some(5)).top_k,
            None
        );
    }

    #[test]
    fn nova_bodies_use_nova_names() {
        let request = ChatRequest {
            system: Some("s".into()),
            messages: vec![ChatMessage {
                role: ChatRole::User,
                content: vec![
                    ContentBlock::Image {
                        media_type: "image/jpeg".into(),
                        bytes: vec![1, 2, 3],
                    },
                    ContentBlock::Text("hi".into()),
                ],
            }],
            ..ChatRequest::default()
        };
        let id = "us.amazon.nova-lite-v1:0";
        let resolved = Resolved {
            model_id: id,
            family: ModelFamily::Nova,
            max_tokens: 100,
            sampling: Sampling {
                temperature: Some(0.0),
                top_p: Some(0.9),
                top_k: Some(20),
            },
        };
        let body: serde_json::Value =
            serde_json::from_slice(&nova_body(&request, &resolved).unwrap()).unwrap();
        assert_eq!(body["schemaVersion"], "messages-v1");
        assert_eq!(body["system"][0]["text"], "s");
        assert_eq!(body["inferenceConfig"]["maxTokens"], 100);
        assert_eq!(body["inferenceConfig"]["topK"], 20);
        assert_eq!(body["messages"][0]["content"][0]["image"]["format"], "jpeg");
        assert_eq!(
            body["messages"][0]["content"][0]["image"]["source"]["bytes"],
            "AQID"
        );
        let parsed = nova_response(
            br#"{"output":{"message":{"role":"assistant","content":[{"text":"ok"}]}},"stopReason":"end_turn","usage":{"inputTokens":3,"outputTokens":1}}"#,
        )
        .unwrap();
        assert_eq!(parsed.text, "ok");
        assert_eq!(parsed.output_tokens, Some(1));
    }

    #[test]
    fn unsupported_image_types_are_refused() {
        assert!(image_format("image/bmp").is_err());
        assert_eq!(image_format("IMAGE/JPEG").unwrap(), ImageFormat::Jpeg);
    }
}
