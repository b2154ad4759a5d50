//! Asking a model: Bedrock (Converse / InvokeModel), an OpenAI-compatible server, or rules.

use async_trait::async_trait;

use super::PortError;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChatRole {
    User,
    Assistant,
}

#[derive(Debug, Clone, PartialEq)]
pub enum ContentBlock {
    Text(String),
    /// Raw image bytes with their (verified) MIME type.
    Image {
        media_type: String,
        bytes: Vec<u8>,
    },
}

#[derive(Debug, Clone, PartialEq)]
pub struct ChatMessage {
    pub role: ChatRole,
    pub content: Vec<ContentBlock>,
}

/// One model call in Bedrock Converse's shape; other backends translate it. Build it with
/// `..ChatRequest::default()` so fields added later need no change at the call site.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ChatRequest {
    pub model_id: String,
    pub system: Option<String>,
    pub messages: Vec<ChatMessage>,
    pub max_tokens: Option<u32>,
    pub temperature: Option<f32>,
    pub top_p: Option<f32>,
    pub top_k: Option<u32>,
    /// A JSON schema the answer should match (a JSON object value). A hint, not a guarantee:
    /// the in-process GGUF backend constrains decoding with it (`pattern` only as `^[CLASS]`),
    /// an OpenAI-compatible server gets it as `response_format` (`json_schema`) without its
    /// `pattern`s, Bedrock Converse has no such parameter and ignores it. Callers still validate
    /// the answer (`ask::converse_validated`).
    pub response_schema: Option<serde_json::Value>,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct ChatResponse {
    pub text: String,
    pub stop_reason: Option<String>,
    pub input_tokens: Option<u64>,
    pub output_tokens: Option<u64>,
}

/// A chat model: Bedrock (Converse / InvokeModel), an OpenAI-compatible server, or deterministic rules.
#[async_trait]
pub trait ChatModel: Send + Sync {
    async fn converse(&self, request: &ChatRequest) -> Result<ChatResponse, PortError>;
}

/// Receives the answer's text as it is generated, piece by piece.
pub type OnText<'a> = dyn FnMut(&str) + Send + 'a;

/// A chat model that hands out its answer while it is generated (a chat window's typing). A
/// separate trait, so test doubles that only answer need not stream; every adapter implements
/// both.
#[async_trait]
pub trait StreamingChatModel: ChatModel {
    /// As [`ChatModel::converse`], calling `on_text` with each new piece of the answer in order:
    /// the pieces joined are the returned `text` (whole UTF-8 characters; a backend that cannot
    /// stream sends one piece). Dropping the future stops the call; an error after some pieces
    /// were sent means the answer is incomplete.
    async fn converse_stream(
        &self,
        request: &ChatRequest,
        on_text: &mut OnText<'_>,
    ) -> Result<ChatResponse, PortError>;
}

/// [`StreamingChatModel::converse_stream`] for a backend that cannot stream: the whole answer as
/// one piece.
pub async fn converse_as_one_piece<M: ChatModel + ?Sized>(
    model: &M,
    request: &ChatRequest,
    on_text: &mut OnText<'_>,
) -> Result<ChatResponse, PortError> {
    let response = model.converse(request).await?;
    on_text(&response.text);
    Ok(response)
}
