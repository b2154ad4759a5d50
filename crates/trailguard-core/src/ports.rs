//! Ports: the small traits behind which storage, notification and models sit.
//!
//! One adapter per backend lives in its own crate (local directory, S3, SNS, SMTP, Bedrock,
//! OpenAI-compatible, deterministic). Domain code and the workflow runner only see these traits.

use async_trait::async_trait;
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

/// An object read from storage.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct StoredObject {
    pub bytes: Vec<u8>,
    /// The content type the uploader declared; a claim, not a fact.
    pub content_type: Option<String>,
    pub etag: Option<String>,
    pub version_id: Option<String>,
}

/// What HeadObject tells about an object, without its body.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ObjectHead {
    pub content_length: u64,
    pub content_type: Option<String>,
    pub etag: Option<String>,
    pub version_id: Option<String>,
}

/// Whether `object` is the version `version_id` names. A store that keeps no history reports no
/// version id and holds exactly one version per key, which any version id then names.
pub fn is_version(object: &StoredObject, version_id: &str) -> bool {
    object
        .version_id
        .as_deref()
        .is_none_or(|current| current == version_id)
}

fn no_such_version(bucket: &str, key: &str, version_id: &str) -> PortError {
    PortError::new(
        PortErrorKind::NotFound,
        format!("s3://{bucket}/{key} has no version {version_id:?}"),
    )
    .with_code("NoSuchVersion")
}

/// Object storage: an S3 bucket on AWS, a directory locally.
///
/// The `*_version` methods take an optional version id (S3's `VersionId`): `None` is the plain
/// call. Their defaults suit stores without history (see [`is_version`]); versioned stores override
/// them, because on a versioned bucket a plain delete only adds a delete marker.
#[async_trait]
pub trait ObjectStore: Send + Sync {
    async fn get_object(&self, bucket: &str, key: &str) -> Result<StoredObject, PortError>;
    async fn put_object(
        &self,
        bucket: &str,
        key: &str,
        bytes: Vec<u8>,
        content_type: Option<&str>,
    ) -> Result<(), PortError>;
    /// Deleting an object that does not exist succeeds, as on S3.
    async fn delete_object(&self, bucket: &str, key: &str) -> Result<(), PortError>;
    async fn copy_object(
        &self,
        source_bucket: &str,
        source_key: &str,
        target_bucket: &str,
        target_key: &str,
    ) -> Result<(), PortError>;
    async fn put_object_tagging(
        &self,
        bucket: &str,
        key: &str,
        tags: &[(String, String)],
    ) -> Result<(), PortError>;

    /// Reads one version of an object (`None`: the current one).
    async fn get_object_version(
        &self,
        bucket: &str,
        key: &str,
        version_id: Option<&str>,
    ) -> Result<StoredObject, PortError> {
        let object = self.get_object(bucket, key).await?;
        match version_id {
            Some(version) if !is_version(&object, version) => {
                Err(no_such_version(bucket, key, version))
            }
            _ => Ok(object),
        }
    }

    /// An object's metadata (HeadObject); NotFound when the object or version does not exist.
    async fn head_object(
        &self,
        bucket: &str,
        key: &str,
        version_id: Option<&str>,
    ) -> Result<ObjectHead, PortError> {
        let object = self.get_object_version(bucket, key, version_id).await?;
        Ok(ObjectHead {
            content_length: u64::try_from(object.bytes.len()).unwrap_or(u64::MAX),
            content_type: object.content_type,
            etag: object.etag,
            version_id: object.version_id,
        })
    }

    /// Deletes one version for good (`None`: the plain delete, a delete marker on a versioned
    /// bucket). Deleting a version or object that does not exist succeeds, as on S3.
    async fn delete_object_version(
        &self,
        bucket: &str,
        key: &str,
        version_id: Option<&str>,
    ) -> Result<(), PortError> {
        let Some(version) = version_id else {
            return self.delete_object(bucket, key).await;
        };
        match self.get_object(bucket, key).await {
            Ok(object) if is_version(&object, version) => self.delete_object(bucket, key).await,
            // Without history only the current version exists: any other one is already gone.
            Ok(_) => Ok(()),
            Err(error) if error.kind == PortErrorKind::NotFound => Ok(()),
            Err(error) => Err(error),
        }
    }

    /// Copies one version of an object (`None`: the current one).
    async fn copy_object_version(
        &self,
        source_bucket: &str,
        source_key: &str,
        source_version_id: Option<&str>,
        target_bucket: &str,
        target_key: &str,
    ) -> Result<(), PortError> {
        if let Some(version) = source_version_id {
            let object = self.get_object(source_bucket, source_key).await?;
            if !is_version(&object, version) {
                return Err(no_such_version(source_bucket, source_key, version));
            }
        }
        self.copy_object(source_bucket, source_key, target_bucket, target_key)
            .await
    }
}

/// Alert delivery: an SNS topic on AWS, a JSON Lines file, SMTP or a webhook locally.
#[async_trait]
pub trait Notifier: Send + Sync {
    /// Publishes one message; returns the backend's message id.
    async fn publish(&self, subject: Option<&str>, message: &str) -> Result<String, PortError>;
}

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
