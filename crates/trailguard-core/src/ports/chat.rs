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

/// One model call in Bedrock Converse's shape; other backends translate it.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ChatRequest {
    pub model_id: String,
    pub system: Option<String>,
    pub messages: Vec<ChatMessage>,
    pub max_tokens: Option<u32>,
    pub temperature: Option<f32>,
    pub top_p: Option<f32>,
    pub top_k: Option<u32>,
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
