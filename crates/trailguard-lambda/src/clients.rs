//! Model clients both functions build the same way.

use std::sync::Arc;

use trailguard_aws::{AwsSettings, BedrockApi, BedrockChat, BedrockChatConfig};
use trailguard_core::ports::ChatModel;

use crate::ConfigError;

/// Where a function's model runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ModelBackend {
    Bedrock,
    OpenAi,
    None,
}

impl ModelBackend {
    pub fn from_setting(name: &str, value: Option<String>) -> Result<Self, ConfigError> {
        match value.map(|v| v.to_ascii_lowercase()).as_deref() {
            None | Some("bedrock") => Ok(ModelBackend::Bedrock),
            Some("openai") => Ok(ModelBackend::OpenAi),
            Some("none") | Some("off") | Some("rules") => Ok(ModelBackend::None),
            Some(other) => Err(ConfigError(format!(
                "{name} {other:?}: expected bedrock, openai or none"
            ))),
        }
    }
}

/// `BEDROCK_API`: Converse (default) or InvokeModel.
pub fn invoke_model_setting(value: Option<String>) -> Result<bool, ConfigError> {
    match value.as_deref() {
        None | Some("converse") => Ok(false),
        Some("invoke-model") | Some("invoke_model") | Some("InvokeModel") => Ok(true),
        Some(other) => Err(ConfigError(format!(
            "BEDROCK_API {other:?}: expected converse or invoke-model"
        ))),
    }
}

/// A Bedrock Runtime chat model (`region`: `BEDROCK_REGION`, else the function's region).
pub async fn bedrock_chat(
    region: Option<String>,
    invoke_model: bool,
    config: BedrockChatConfig,
    model_id: &str,
) -> Arc<dyn ChatModel> {
    let aws = AwsSettings {
        region,
        ..AwsSettings::default()
    };
    let sdk = aws.load().await;
    let api = if invoke_model {
        BedrockApi::InvokeModel
    } else {
        BedrockApi::Converse
    };
    Arc::new(BedrockChat::new(
        aws.bedrock_client(&sdk),
        config.with_api(api).with_model_id(model_id),
    ))
}

/// An OpenAI-compatible chat model.
#[cfg(feature = "openai")]
pub fn openai_chat(
    base_url: Option<&str>,
    api_key: Option<&str>,
    model_id: &str,
) -> anyhow::Result<Arc<dyn ChatModel>> {
    let mut config = trailguard_local::OpenAiConfig::new(base_url.unwrap_or_default(), model_id);
    if let Some(key) = api_key {
        config = config.with_api_key(key);
    }
    Ok(Arc::new(trailguard_local::OpenAiChat::new(config)?))
}

#[cfg(not(feature = "openai"))]
pub fn openai_chat(
    _base_url: Option<&str>,
    _api_key: Option<&str>,
    _model_id: &str,
) -> anyhow::Result<Arc<dyn ChatModel>> {
    anyhow::bail!("the openai backend: this build was made without the `openai` feature")
}
