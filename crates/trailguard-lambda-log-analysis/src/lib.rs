//! The log-analysis Lambda's logic, testable without the Lambda runtime.
//!
//! Input: the EventBridge "AWS API Call via CloudTrail" event (or a bare CloudTrail record, an S3
//! notification record or a GuardDuty finding). Output: the analysis record, the guide's fields
//! first, then TrailGuard's (`reasons`, `mitre_techniques`, `model`).
//!
//! Environment:
//! - `MODEL_BACKEND`: `bedrock` (default), `openai` or `none`;
//! - `LOG_MODEL_ID`: default `anthropic.claude-3-haiku-20240307-v1:0` (inference profile ids and
//!   ARNs accepted);
//! - `MODEL_POLICY`: `when-not-benign` (default), `always` or `never`;
//! - `BENIGN_EVENT_NAMES`: comma-separated event names that count as benign reads (replaces the
//!   default S3 data-read list);
//! - `BEDROCK_REGION` (else `AWS_REGION`), `BEDROCK_API` (`converse` default, or `invoke-model`);
//! - `OPENAI_BASE_URL`, `OPENAI_API_KEY` for the OpenAI-compatible backend;
//! - `RULES_DIR`: extra Sigma rule directories (colon-separated), on top of the embedded rules.

use std::path::PathBuf;

use trailguard_llm::{AnalysisConfig, AskPolicy};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ModelBackend {
    Bedrock,
    OpenAi,
    None,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    pub backend: ModelBackend,
    pub analysis: AnalysisConfig,
    pub bedrock_region: Option<String>,
    pub bedrock_invoke_model: bool,
    pub openai_base_url: Option<String>,
    pub openai_api_key: Option<String>,
    pub rule_dirs: Vec<PathBuf>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("configuration: {0}")]
pub struct ConfigError(pub String);

fn non_empty(value: Option<String>) -> Option<String> {
    value
        .map(|v| v.trim().to_string())
        .filter(|v| !v.is_empty())
}

impl Settings {
    /// Reads the settings through `var` (the process environment in `main`, a map in tests).
    pub fn from_lookup(var: impl Fn(&str) -> Option<String>) -> Result<Settings, ConfigError> {
        let get = |name: &str| non_empty(var(name));
        let backend = match get("MODEL_BACKEND")
            .as_deref()
            .map(str::to_ascii_lowercase)
            .as_deref()
        {
            None | Some("bedrock") => ModelBackend::Bedrock,
            Some("openai") => ModelBackend::OpenAi,
            Some("none") | Some("off") | Some("rules") => ModelBackend::None,
            Some(other) => {
                return Err(ConfigError(format!(
                    "MODEL_BACKEND {other:?}: expected bedrock, openai or none"
                )))
            }
        };
        let mut analysis = AnalysisConfig::default();
        if let Some(model_id) = get("LOG_MODEL_ID") {
            analysis.model_id = model_id;
        }
        if let Some(policy) = get("MODEL_POLICY") {
            analysis.ask.policy = policy
                .parse::<AskPolicy>()
                .map_err(|e| ConfigError(format!("MODEL_POLICY: {e}")))?;
        }
        if let Some(names) = get("BENIGN_EVENT_NAMES") {
            analysis.ask.benign_event_names = names
                .split(',')
                .map(str::trim)
                .filter(|n| !n.is_empty())
                .map(str::to_string)
                .collect();
        }
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
        if backend == ModelBackend::OpenAi && openai_base_url.is_none() {
            return Err(ConfigError(
                "MODEL_BACKEND=openai needs OPENAI_BASE_URL (e.g. http://127.0.0.1:11434/v1)"
                    .into(),
            ));
        }
        Ok(Settings {
            backend,
            analysis,
            bedrock_region: get("BEDROCK_REGION"),
            bedrock_invoke_model,
            openai_base_url,
            openai_api_key: get("OPENAI_API_KEY"),
            rule_dirs: get("RULES_DIR")
                .map(|dirs| std::env::split_paths(&dirs).collect())
                .unwrap_or_default(),
        })
    }
}

pub use trailguard_llm::{AnalysisHandlerError as HandlerError, LogAnalysisHandler};

/// The Lambda error for a failed invocation (Step Functions sees `error_type` as the error name).
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
