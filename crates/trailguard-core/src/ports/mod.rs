//! Ports: the small traits behind which storage, notification and models sit.
//!
//! One adapter per backend lives in its own crate (`trailguard-aws`: S3, SNS, Bedrock;
//! `trailguard-local`: a directory or memory bucket, JSON Lines / SMTP / webhook notifiers,
//! OpenAI-compatible and deterministic models). Domain code and the workflow runner only see
//! these traits. No method has a default body: every adapter says what each call means for it.
//! `StreamingChatModel` extends `ChatModel` with a streamed answer; every adapter implements it.

mod chat;
mod notify;
mod objects;

pub use chat::{
    converse_as_one_piece, ChatMessage, ChatModel, ChatRequest, ChatResponse, ChatRole,
    ContentBlock, OnText, StreamingChatModel,
};
pub use notify::{AttributeValue, Notification, Notifier};
pub use objects::{
    CopyOutcome, DeleteOutcome, ObjectHead, ObjectReader, ObjectRef, ObjectWriter, PutOutcome,
    StoredObject,
};

use std::fmt;

/// What went wrong in an adapter, classified so callers can retry or report precisely.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PortErrorKind {
    NotFound,
    AccessDenied,
    /// Throttling or a transient service failure: worth retrying.
    Throttled,
    Unavailable,
    InvalidInput,
    Other,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct PortError {
    pub kind: PortErrorKind,
    /// The backend's own error code when it has one (e.g. `NoSuchKey`, `ThrottlingException`).
    pub code: Option<String>,
    pub message: String,
}

impl fmt::Display for PortError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.code {
            Some(code) => write!(f, "{code}: {}", self.message),
            None => f.write_str(&self.message),
        }
    }
}

impl PortError {
    pub fn new(kind: PortErrorKind, message: impl Into<String>) -> Self {
        PortError {
            kind,
            code: None,
            message: message.into(),
        }
    }

    pub fn with_code(mut self, code: impl Into<String>) -> Self {
        self.code = Some(code.into());
        self
    }

    pub fn is_retryable(&self) -> bool {
        matches!(
            self.kind,
            PortErrorKind::Throttled | PortErrorKind::Unavailable
        )
    }
}
