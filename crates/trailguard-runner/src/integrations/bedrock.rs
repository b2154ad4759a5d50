//! `aws-sdk:bedrockruntime:converse` on a [`ChatModel`]: Converse's request and response shapes.

use std::sync::Arc;

use async_trait::async_trait;
use base64::Engine as _;
use serde_json::{json, Value};
use trailguard_asl::{TaskContext, TaskError, TaskHandler};
use trailguard_core::ports::{ChatMessage, ChatModel, ChatRequest, ChatRole, ContentBlock};

use super::metadata::sdk_error;

/// `aws-sdk:bedrockruntime:converse` on a [`ChatModel`].
pub struct ConverseBinding {
    pub model: Arc<dyn ChatModel>,
}

fn parse_converse(arguments: &Value) -> Result<ChatRequest, TaskError> {
    let invalid = |m: &str| TaskError::new("BedrockRuntime.ValidationException", m.to_string());
    let model_id = arguments
        .get("ModelId")
        .and_then(Value::as_str)
        .ok_or_else(|| invalid("ModelId is required"))?
        .to_string();
    let mut messages = Vec::new();
    for message in arguments
        .get("Messages")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let role = match message.get("Role").and_then(Value::as_str) {
            Some("user") => ChatRole::User,
            Some("assistant") => ChatRole::Assistant,
            _ => return Err(invalid("Messages[].Role must be user or assistant")),
        };
        let mut content = Vec::new();
        for block in message
            .get("Content")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            if let Some(text) = block.get("Text") {
                content.push(ContentBlock::Text(match text {
                    Value::String(s) => s.clone(),
                    other => other.to_string(),
                }));
            } else if let Some(image) = block.get("Image") {
                let format = image.get("Format").and_then(Value::as_str).unwrap_or("png");
                let bytes = image
                    .pointer("/Source/Bytes")
                    .and_then(Value::as_str)
                    .and_then(|b| base64::engine::general_purpose::STANDARD.decode(b).ok())
                    .ok_or_else(|| invalid("Image.Source.Bytes must be base64"))?;
                content.push(ContentBlock::Image {
                    media_type: format!("image/{format}"),
                    bytes,
                });
            }
        }
        messages.push(ChatMessage { role, content });
    }
    if messages.is_empty() {
        return Err(invalid("Messages must not be empty"));
    }
    let system = arguments
        .get("System")
        .and_then(Value::as_array)
        .map(|blocks| {
            blocks
                .iter()
                .filter_map(|b| b.get("Text").and_then(Value::as_str))
                .collect::<Vec<_>>()
                .join("\n")
        });
    let config = arguments.get("InferenceConfig");
    let get = |k: &str| config.and_then(|c| c.get(k));
    Ok(ChatRequest {
        model_id,
        system,
        messages,
        max_tokens: get("MaxTokens").and_then(Value::as_u64).map(|n| n as u32),
        temperature: get("Temperature").and_then(Value::as_f64).map(|f| f as f32),
        top_p: get("TopP").and_then(Value::as_f64).map(|f| f as f32),
        top_k: None,
        // Converse Task arguments have no schema field.
        response_schema: None,
    })
}

#[async_trait]
impl TaskHandler for ConverseBinding {
    async fn invoke(
        &self,
        _resource: &str,
        arguments: Value,
        _ctx: &TaskContext,
    ) -> Result<Value, TaskError> {
        let request = parse_converse(&arguments)?;
        let started = std::time::Instant::now();
        let response = self
            .model
            .converse(&request)
            .await
            .map_err(|e| sdk_error("BedrockRuntime", &e))?;
        let input = response.input_tokens.unwrap_or(0);
        let output = response.output_tokens.unwrap_or(0);
        Ok(json!({
            "Metrics": { "LatencyMs": started.elapsed().as_millis() as u64 },
            "Output": { "Message": { "Content": [ { "Text": response.text } ], "Role": "assistant" } },
            "StopReason": response.stop_reason.unwrap_or_else(|| "end_turn".into()),
            "Usage": { "InputTokens": input, "OutputTokens": output, "TotalTokens": input + output }
        }))
    }

    fn supports(&self, _resource: &str, _function_name: Option<&str>) -> bool {
        true
    }
}
