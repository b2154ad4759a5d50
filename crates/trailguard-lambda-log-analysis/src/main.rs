//! Log-analysis Lambda bootstrap: clients built once, handler logic in the library.

use std::sync::Arc;

use lambda_runtime::{service_fn, LambdaEvent};
use serde_json::value::RawValue;
use trailguard_aws::{AwsSettings, BedrockApi, BedrockChat, BedrockChatConfig};
use trailguard_core::ports::ChatModel;
use trailguard_lambda_log_analysis::{
    diagnostic, init_json_logs, LogAnalysisHandler, ModelBackend, Settings,
};

async fn build_model(settings: &Settings) -> anyhow::Result<Option<Arc<dyn ChatModel>>> {
    match settings.backend {
        ModelBackend::None => Ok(None),
        ModelBackend::Bedrock => {
            let aws = AwsSettings {
                region: settings.bedrock_region.clone(),
                ..AwsSettings::default()
            };
            let sdk = aws.load().await;
            let api = if settings.bedrock_invoke_model {
                BedrockApi::InvokeModel
            } else {
                BedrockApi::Converse
            };
            let config = BedrockChatConfig::for_logs()
                .with_api(api)
                .with_model_id(settings.analysis.model_id.clone());
            Ok(Some(Arc::new(BedrockChat::new(
                aws.bedrock_client(&sdk),
                config,
            ))))
        }
        ModelBackend::OpenAi => build_openai(settings),
    }
}

#[cfg(feature = "openai")]
fn build_openai(settings: &Settings) -> anyhow::Result<Option<Arc<dyn ChatModel>>> {
    let base_url = settings.openai_base_url.clone().unwrap_or_default();
    let mut config =
        trailguard_openai::OpenAiConfig::new(base_url, settings.analysis.model_id.clone());
    if let Some(key) = &settings.openai_api_key {
        config = config.with_api_key(key.clone());
    }
    Ok(Some(Arc::new(trailguard_openai::OpenAiChat::new(config)?)))
}

#[cfg(not(feature = "openai"))]
fn build_openai(_: &Settings) -> anyhow::Result<Option<Arc<dyn ChatModel>>> {
    anyhow::bail!("MODEL_BACKEND=openai: this build was made without the `openai` feature")
}

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    init_json_logs();
    let settings = Settings::from_lookup(|name| std::env::var(name).ok())?;
    let detector = LogAnalysisHandler::load_detector(&settings.rule_dirs)?;
    let model = build_model(&settings).await?;
    tracing::info!(
        backend = ?settings.backend,
        model_id = %settings.analysis.model_id,
        policy = settings.analysis.ask.policy.as_str(),
        "log-analysis Lambda ready"
    );
    let handler = Arc::new(LogAnalysisHandler::new(detector, model, settings.analysis));
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Box<RawValue>>| {
        let handler = Arc::clone(&handler);
        async move {
            handler
                .handle_json(event.payload.get())
                .await
                .map_err(diagnostic)
        }
    }))
    .await
}
