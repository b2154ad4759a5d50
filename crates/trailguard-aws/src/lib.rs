//! TrailGuard's adapters on the official AWS SDK for Rust, behind `trailguard-core`'s ports:
//! [`S3Store`] (`ObjectReader`, `ObjectWriter`), [`SnsNotifier`] (`Notifier`) and [`BedrockChat`] (`ChatModel`, over
//! Converse or InvokeModel).
//!
//! [`AwsSettings`] builds the SDK configuration: region, retry attempts, and, for tests, an endpoint
//! override (moto, the local Bedrock stand-in) with static credentials, so tests go through the real
//! SDK wire path against 127.0.0.1.

mod agent_runtime;
mod bedrock;
mod config;
mod error;
mod kb;
mod s3;
mod sfn;
mod sns;

pub use agent_runtime::{
    BedrockRetriever, GenerateRequest, GeneratedAnswer, GeneratedCitation, RetrievedPassage,
};
pub use bedrock::{
    model_family, sampling_for, validate_model_id, BedrockApi, BedrockChat, BedrockChatConfig,
    InferenceDefaults, ModelFamily, Sampling, ANTHROPIC_BEDROCK_VERSION, DEFAULT_IMAGE_MODEL_ID,
    DEFAULT_LOG_MODEL_ID, INFERENCE_PROFILE_PREFIXES,
};
pub use config::{AwsSettings, StaticCredentials, DEFAULT_MAX_ATTEMPTS};
pub use error::{classify_error_code, port_error_from_sdk};
pub use kb::{BedrockIngestion, IngestionJobInfo};
pub use s3::S3Store;
pub use sfn::{ExecutionDetails, SfnExecutions};
pub use sns::{truncate_subject, SnsNotifier, SNS_SUBJECT_MAX_CHARS};
