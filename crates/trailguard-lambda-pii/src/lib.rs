//! The PII Lambda's logic, testable without the Lambda runtime.
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
//! (default `anthropic.claude-3-5-sonnet-20241022-v2:0`), `PII_RESULT` (`contract` default or
//! `rich`), `PII_MAX_OBJECT_BYTES` (25 MiB), `PII_MAX_MODEL_BYTES` (3750000),
//! `PII_MAX_MODEL_SIDE` (8000), `PII_MAX_DECODE_PIXELS` (40000000), `BEDROCK_REGION`,
//! `BEDROCK_API` (`converse` / `invoke-model`), `OPENAI_BASE_URL`, `OPENAI_API_KEY`.

use trailguard_llm::{ImageLimits, DEFAULT_IMAGE_MODEL_ID};

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

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("configuration: {0}")]
pub struct ConfigError(pub String);

impl Settings {
    pub fn from_lookup(var: impl Fn(&str) -> Option<String>) -> Result<Settings, ConfigError> {
        let get = |name: &str| {
            var(name)
                .map(|v| v.trim().to_string())
                .filter(|v| !v.is_empty())
        };
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
        let bedrock_invoke_model = match get("BEDROCK_API").as_deref() {
            None | Some("converse") => false,
            Some("invoke-model") | Some("invoke_model") | Some("InvokeModel") => true,
            Some(other) => {
                return Err(ConfigError(format!(
                    "BEDROCK_API {other:?}: expected converse or invoke-model"
                )))
            }
        };
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

pub use trailguard_llm::{PiiHandler, PiiHandlerError as HandlerError, PiiRequest};

/// The Lambda error for a failed invocation (Step Functions sees `error_type` as the error name,
/// e.g. `TrailGuard.PiiRetryable`).
pub fn diagnostic(error: HandlerError) -> lambda_runtime::Diagnostic {
    lambda_runtime::Diagnostic {
        error_type: error.error_type().into(),
        error_message: error.to_string(),
    }
}

/// JSON logs for CloudWatch; level from `AWS_LAMBDA_LOG_LEVEL` or `RUST_LOG` (default info).
pub fn init_json_logs() {
    use lambda_runtime::tracing::subscriber::{filter::EnvFilter, fmt};
    let level = std::env::var("AWS_LAMBDA_LOG_LEVEL")
        .or_else(|_| std::env::var("RUST_LOG"))
        .unwrap_or_else(|_| "info".into())
        .to_ascii_lowercase();
    let _ = fmt()
        .json()
        .with_target(false)
        .without_time()
        .with_env_filter(EnvFilter::new(level))
        .with_current_span(false)
        .try_init();
}
