//! The log-analysis function: its settings, its clients, and the loop that serves events.
//!
//! Input: the EventBridge "AWS API Call via CloudTrail" event (or a bare CloudTrail record, an S3
//! notification record or a GuardDuty finding). Output: the analysis record, the guide's fields
//! first, then TrailGuard's (`reasons`, `mitre_techniques`, `model`).
//!
//! Environment:
//! - `MODEL_BACKEND`: `bedrock` (default), `openai` or `none`;
//! - `LOG_MODEL_ID`: default `global.anthropic.claude-haiku-4-5-20251001-v1:0` (inference profile ids and
//!   ARNs accepted);
//! - `MODEL_POLICY`: `when-not-benign` (default), `always` or `never`;
//! - `BENIGN_EVENT_NAMES`: comma-separated event names that count as benign reads (replaces the
//!   default S3 data-read list);
//! - `BEDROCK_REGION` (else `AWS_REGION`), `BEDROCK_API` (`converse` default, or `invoke-model`);
//! - `OPENAI_BASE_URL`, `OPENAI_API_KEY` for the OpenAI-compatible backend;
//! - `RULES_DIR`: extra Sigma rule directories (colon-separated), on top of the embedded rules.

use std::path::PathBuf;

use std::sync::Arc;

use lambda_runtime::{service_fn, LambdaEvent};
use serde_json::value::RawValue;
use trailguard_core::ports::ChatModel;
use trailguard_triage::{AskPolicy, LogAnalysisHandler, Triage, TriageConfig};

use crate::clients::{bedrock_chat, openai_chat, ModelBackend};
use crate::{diagnostic, ConfigError};

#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    pub backend: ModelBackend,
    pub analysis: TriageConfig,
    pub bedrock_region: Option<String>,
    pub bedrock_invoke_model: bool,
    pub openai_base_url: Option<String>,
    pub openai_api_key: Option<String>,
    pub rule_dirs: Vec<PathBuf>,
}

impl Settings {
    /// Reads the settings through `var` (the process environment in `main`, a map in tests).
    pub fn from_lookup(var: impl Fn(&str) -> Option<String>) -> Result<Settings, ConfigError> {
        let get = |name: &str| crate::non_empty(var(name));
        let backend = ModelBackend::from_setting("MODEL_BACKEND", get("MODEL_BACKEND"))?;
        let mut analysis = TriageConfig::default();
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
        let bedrock_invoke_model = crate::clients::invoke_model_setting(get("BEDROCK_API"))?;
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

/// The model behind the analysis, if any.
pub async fn build_model(settings: &Settings) -> anyhow::Result<Option<Arc<dyn ChatModel>>> {
    let model_id = &settings.analysis.model_id;
    Ok(match settings.backend {
        ModelBackend::None => None,
        ModelBackend::Bedrock => Some(
            bedrock_chat(
                settings.bedrock_region.clone(),
                settings.bedrock_invoke_model,
                trailguard_aws::BedrockChatConfig::for_logs(),
                model_id,
            )
            .await,
        ),
        ModelBackend::OpenAi => Some(openai_chat(
            settings.openai_base_url.as_deref(),
            settings.openai_api_key.as_deref(),
            model_id,
        )?),
    })
}

/// The handler with its rules and model, built once per container.
pub async fn handler_from_env() -> anyhow::Result<LogAnalysisHandler> {
    handler(Settings::from_lookup(|name| std::env::var(name).ok())?).await
}

/// The handler these settings describe, as the function builds it at start-up.
pub async fn handler(settings: Settings) -> anyhow::Result<LogAnalysisHandler> {
    let model = build_model(&settings).await?;
    tracing::info!(
        backend = ?settings.backend,
        model_id = %settings.analysis.model_id,
        policy = settings.analysis.ask.policy.as_str(),
        "log-analysis function ready"
    );
    let (triage, _report) = Triage::load(&settings.rule_dirs, model, settings.analysis)?;
    Ok(LogAnalysisHandler::new(Arc::new(triage)))
}

/// Serves events until the runtime stops. The container keeps one triage, so consecutive events
/// it sees are correlated in the order they arrive (see ARCHITECTURE.md for what shared
/// correlation across containers would need).
pub async fn serve() -> Result<(), lambda_runtime::Error> {
    let handler = Arc::new(handler_from_env().await?);
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Box<RawValue>>| {
        let handler = Arc::clone(&handler);
        async move {
            handler
                .handle_json(event.payload.get())
                .await
                .map_err(|e| diagnostic(&e))
        }
    }))
    .await
}
