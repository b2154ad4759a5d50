//! The image PII function: its settings, its clients, and the loop that serves requests.
//!
//! Input: `{"s3_bucket": ..., "s3_key": ..., "media_type": ...}` (the guide's payload).
//! Output, by default: the string `"true"` or `"false"` (the guide's contract, so its state
//! machine's `pii_detected = 'true'` choice works unchanged). With `"detail": true` in the input or
//! `PII_RESULT=rich`: the rich result `{pii_detected, entities, detector, reason, status, ...}`.
//!
//! When there is no verdict (object missing or unreadable, empty, not an image, corrupt, model
//! failure): in contract mode the invocation fails with a named error (`TrailGuard.PiiNoVerdict`,
//! or `TrailGuard.PiiRetryable` for throttling/unavailability), so the execution stops visibly
//! instead of reporting "no PII"; in rich mode the result carries `status: "error"`,
//! `pii_detected: null` and the code and message.
//!
//! Environment: `PII_DETECTOR` (`bedrock` default, `openai`, `offline`), `IMAGE_MODEL_ID`
//! (default `global.anthropic.claude-haiku-4-5-20251001-v1:0`), `PII_RESULT` (`contract` default or
//! `rich`), `PII_MAX_OBJECT_BYTES` (25 MiB), `PII_MAX_MODEL_BYTES` (3750000),
//! `PII_MAX_MODEL_SIDE` (8000), `PII_MAX_DECODE_PIXELS` (40000000), `BEDROCK_REGION`,
//! `BEDROCK_API` (`converse` / `invoke-model`), `OPENAI_BASE_URL`, `OPENAI_API_KEY`.

use std::sync::Arc;

use lambda_runtime::{service_fn, LambdaEvent};
use serde_json::Value;
use trailguard_aws::{AwsSettings, S3Store};
use trailguard_pii::{
    ImageLimits, PiiDetector, PiiHandler, VisionPiiDetector, DEFAULT_IMAGE_MODEL_ID,
};

use crate::clients::{bedrock_chat, openai_chat};
use crate::{diagnostic, ConfigError};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DetectorKind {
    Bedrock,
    OpenAi,
    Offline,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    pub detector: DetectorKind,
    pub model_id: String,
    pub rich_result: bool,
    pub limits: ImageLimits,
    pub bedrock_region: Option<String>,
    pub bedrock_invoke_model: bool,
    pub openai_base_url: Option<String>,
    pub openai_api_key: Option<String>,
}

impl Settings {
    pub fn from_lookup(var: impl Fn(&str) -> Option<String>) -> Result<Settings, ConfigError> {
        let get = |name: &str| crate::non_empty(var(name));
        let number = |name: &str, default: u64| -> Result<u64, ConfigError> {
            match get(name) {
                None => Ok(default),
                Some(v) => v.parse::<u64>().ok().filter(|n| *n > 0).ok_or_else(|| {
                    ConfigError(format!("{name} {v:?}: expected a positive integer"))
                }),
            }
        };
        let detector = match get("PII_DETECTOR")
            .map(|v| v.to_ascii_lowercase())
            .as_deref()
        {
            None | Some("bedrock") => DetectorKind::Bedrock,
            Some("openai") => DetectorKind::OpenAi,
            Some("offline") => DetectorKind::Offline,
            Some(other) => {
                return Err(ConfigError(format!(
                    "PII_DETECTOR {other:?}: expected bedrock, openai or offline"
                )))
            }
        };
        let rich_result = match get("PII_RESULT").map(|v| v.to_ascii_lowercase()).as_deref() {
            None | Some("contract") | Some("bool") => false,
            Some("rich") => true,
            Some(other) => {
                return Err(ConfigError(format!(
                    "PII_RESULT {other:?}: expected contract or rich"
                )))
            }
        };
        let defaults = ImageLimits::default();
        let limits = ImageLimits {
            max_object_bytes: number("PII_MAX_OBJECT_BYTES", defaults.max_object_bytes)?,
            max_model_bytes: usize::try_from(number(
                "PII_MAX_MODEL_BYTES",
                defaults.max_model_bytes as u64,
            )?)
            .map_err(|e| ConfigError(format!("PII_MAX_MODEL_BYTES: {e}")))?,
            max_model_side: u32::try_from(number(
                "PII_MAX_MODEL_SIDE",
                u64::from(defaults.max_model_side),
            )?)
            .map_err(|e| ConfigError(format!("PII_MAX_MODEL_SIDE: {e}")))?,
            max_decode_pixels: number("PII_MAX_DECODE_PIXELS", defaults.max_decode_pixels)?,
            max_decode_alloc: defaults.max_decode_alloc,
        };
        let bedrock_invoke_model = crate::clients::invoke_model_setting(get("BEDROCK_API"))?;
        let openai_base_url = get("OPENAI_BASE_URL");
        if detector == DetectorKind::OpenAi && openai_base_url.is_none() {
            return Err(ConfigError(
                "PII_DETECTOR=openai needs OPENAI_BASE_URL".into(),
            ));
        }
        Ok(Settings {
            detector,
            model_id: get("IMAGE_MODEL_ID").unwrap_or_else(|| DEFAULT_IMAGE_MODEL_ID.into()),
            rich_result,
            limits,
            bedrock_region: get("BEDROCK_REGION"),
            bedrock_invoke_model,
            openai_base_url,
            openai_api_key: get("OPENAI_API_KEY"),
        })
    }
}

/// The configured detector: a vision model on Bedrock or an OpenAI-compatible server, or the
/// offline OCR detector.
pub async fn build_detector(settings: &Settings) -> anyhow::Result<Arc<dyn PiiDetector>> {
    let vision = |model, backend: &str| -> Arc<dyn PiiDetector> {
        Arc::new(
            VisionPiiDetector::new(model, backend, settings.model_id.clone())
                .with_limits(settings.limits),
        )
    };
    Ok(match settings.detector {
        DetectorKind::Bedrock => vision(
            bedrock_chat(
                settings.bedrock_region.clone(),
                settings.bedrock_invoke_model,
                trailguard_aws::BedrockChatConfig::for_images(),
                &settings.model_id,
            )
            .await,
            "bedrock",
        ),
        DetectorKind::OpenAi => vision(
            openai_chat(
                settings.openai_base_url.as_deref(),
                settings.openai_api_key.as_deref(),
                &settings.model_id,
            )?,
            "openai",
        ),
        DetectorKind::Offline => offline_detector()?,
    })
}

#[cfg(feature = "offline")]
fn offline_detector() -> anyhow::Result<Arc<dyn PiiDetector>> {
    // PII_MODEL_DIR, PII_ENGINE, ... (models/ beside the bootstrap when unset).
    let config = trailguard_pii::OfflineConfig::from_env(|name| std::env::var(name).ok())?;
    Ok(Arc::new(trailguard_pii::OfflinePiiDetector::new(config)?))
}

#[cfg(not(feature = "offline"))]
fn offline_detector() -> anyhow::Result<Arc<dyn PiiDetector>> {
    anyhow::bail!("PII_DETECTOR=offline: this build was made without the `offline` feature (scripts/build-lambdas.sh --pii-models builds it, with its models)")
}

/// The handler with its S3 client and detector, built once per container.
pub async fn handler_from_env() -> anyhow::Result<PiiHandler> {
    let settings = Settings::from_lookup(|name| std::env::var(name).ok())?;
    let aws = AwsSettings::default();
    let sdk = aws.load().await;
    let store = Arc::new(
        S3Store::new(aws.s3_client(&sdk)).with_max_get_bytes(settings.limits.max_object_bytes),
    );
    let detector = build_detector(&settings).await?;
    tracing::info!(detector = %detector.name(), rich = settings.rich_result, "PII function ready");
    Ok(PiiHandler::new(
        store,
        detector,
        settings.limits,
        settings.rich_result,
    ))
}

/// Serves requests until the runtime stops.
pub async fn serve() -> Result<(), lambda_runtime::Error> {
    let handler = Arc::new(handler_from_env().await?);
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| {
        let handler = Arc::clone(&handler);
        async move {
            handler
                .handle(event.payload)
                .await
                .map_err(|e| diagnostic(&e))
        }
    }))
    .await
}
