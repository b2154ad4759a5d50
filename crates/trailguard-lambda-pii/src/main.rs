//! PII Lambda bootstrap: clients built once, handler logic in the library.

use std::sync::Arc;

use lambda_runtime::{service_fn, LambdaEvent};
use serde_json::Value;
use trailguard_aws::{AwsSettings, BedrockApi, BedrockChat, BedrockChatConfig, S3Store};
use trailguard_core::ports::ChatModel;
use trailguard_lambda_pii::{diagnostic, init_json_logs, DetectorKind, PiiHandler, Settings};
use trailguard_llm::{PiiDetect, VisionPiiDetector};

fn vision(model: Arc<dyn ChatModel>, backend: &str, settings: &Settings) -> Arc<dyn PiiDetect> {
    Arc::new(
        VisionPiiDetector::new(model, backend, settings.model_id.clone())
            .with_limits(settings.limits),
    )
}

async fn build_detector(settings: &Settings) -> anyhow::Result<Arc<dyn PiiDetect>> {
    match settings.detector {
        DetectorKind::Bedrock => {
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
            let config = BedrockChatConfig::for_images()
                .with_api(api)
                .with_model_id(settings.model_id.clone());
            let model: Arc<dyn ChatModel> =
                Arc::new(BedrockChat::new(aws.bedrock_client(&sdk), config));
            Ok(vision(model, "bedrock", settings))
        }
        DetectorKind::OpenAi => build_openai(settings),
        DetectorKind::Offline => build_offline(),
    }
}

#[cfg(feature = "openai")]
fn build_openai(settings: &Settings) -> anyhow::Result<Arc<dyn PiiDetect>> {
    let base_url = settings.openai_base_url.clone().unwrap_or_default();
    let mut config = trailguard_openai::OpenAiConfig::new(base_url, settings.model_id.clone());
    if let Some(key) = &settings.openai_api_key {
        config = config.with_api_key(key.clone());
    }
    let model: Arc<dyn ChatModel> = Arc::new(trailguard_openai::OpenAiChat::new(config)?);
    Ok(vision(model, "openai", settings))
}

#[cfg(not(feature = "openai"))]
fn build_openai(_: &Settings) -> anyhow::Result<Arc<dyn PiiDetect>> {
    anyhow::bail!("PII_DETECTOR=openai: this build was made without the `openai` feature")
}

#[cfg(feature = "offline")]
fn build_offline() -> anyhow::Result<Arc<dyn PiiDetect>> {
    let detector = trailguard_pii_offline::OfflinePiiDetector::new(
        trailguard_pii_offline::OfflineConfig::default(),
    )?;
    Ok(Arc::new(trailguard_llm::OfflinePiiAdapter::new(Arc::new(
        detector,
    ))))
}

#[cfg(not(feature = "offline"))]
fn build_offline() -> anyhow::Result<Arc<dyn PiiDetect>> {
    anyhow::bail!("PII_DETECTOR=offline: this build was made without the `offline` feature (it links libtesseract)")
}

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    init_json_logs();
    let settings = Settings::from_lookup(|name| std::env::var(name).ok())?;
    let aws = AwsSettings::default();
    let sdk = aws.load().await;
    let store = Arc::new(
        S3Store::new(aws.s3_client(&sdk)).with_max_get_bytes(settings.limits.max_object_bytes),
    );
    let detector = build_detector(&settings).await?;
    tracing::info!(detector = %detector.name(), rich = settings.rich_result, "PII Lambda ready");
    let handler = Arc::new(PiiHandler::new(
        store,
        detector,
        settings.limits,
        settings.rich_result,
    ));
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| {
        let handler = Arc::clone(&handler);
        async move { handler.handle(event.payload).await.map_err(diagnostic) }
    }))
    .await
}
