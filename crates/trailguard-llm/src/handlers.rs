//! The two Lambda handlers' logic, free of the Lambda runtime and of AWS: the Lambda bootstraps
//! and the local workflow runner (`trailguard run`) call the same code.

use std::path::PathBuf;
use std::sync::Arc;

use serde::Deserialize;
use serde_json::Value;
use trailguard_core::ports::{ChatModel, ObjectStore};
use trailguard_detect::{Detector, DetectorOptions};

use crate::pii::detect_pii_version;
use crate::pii::PiiErrorInfo;
use crate::{analyze_event, AnalysisConfig, ImageLimits, PiiDetect, PiiResult};

/// Why a log-analysis invocation failed. Only input that is not an event fails; model trouble
/// never does.
#[derive(Debug, thiserror::Error)]
pub enum AnalysisHandlerError {
    #[error("{0}")]
    InvalidInput(String),
    #[error("could not serialise the result: {0}")]
    Output(String),
}

impl AnalysisHandlerError {
    /// The error name Step Functions sees (`errorType` of the Lambda error).
    pub fn error_type(&self) -> &'static str {
        match self {
            AnalysisHandlerError::InvalidInput(_) => "TrailGuard.InvalidInput",
            AnalysisHandlerError::Output(_) => "TrailGuard.Internal",
        }
    }
}

/// Everything a log-analysis invocation needs, built once per container (or per local run).
pub struct LogAnalysisHandler {
    detector: Detector,
    model: Option<Arc<dyn ChatModel>>,
    config: AnalysisConfig,
}

impl LogAnalysisHandler {
    pub fn new(
        detector: Detector,
        model: Option<Arc<dyn ChatModel>>,
        config: AnalysisConfig,
    ) -> Self {
        LogAnalysisHandler {
            detector,
            model,
            config,
        }
    }

    /// Loads the embedded rules plus `rule_dirs`; unsupported rules are logged, not fatal.
    pub fn load_detector(
        rule_dirs: &[PathBuf],
    ) -> Result<Detector, trailguard_detect::DetectError> {
        let (detector, report) = Detector::load(rule_dirs, DetectorOptions::default())?;
        tracing::info!(rules = %report, "rules loaded");
        Ok(detector)
    }

    /// Analyses one event given as raw JSON.
    pub async fn handle_json(&self, json: &str) -> Result<Value, AnalysisHandlerError> {
        let analysis = analyze_event(json, &self.detector, self.model.as_deref(), &self.config)
            .await
            .map_err(|e| AnalysisHandlerError::InvalidInput(e.to_string()))?;
        tracing::info!(
            event_id = analysis.record.event_id.as_deref().unwrap_or_default(),
            threat_level = %analysis.record.threat_level,
            model_status = ?analysis.model.status,
            model_calls = analysis.model.calls,
            "analysed"
        );
        serde_json::to_value(&analysis).map_err(|e| AnalysisHandlerError::Output(e.to_string()))
    }

    /// Same as [`Self::handle_json`] for an already-parsed payload.
    pub async fn handle_value(&self, payload: &Value) -> Result<Value, AnalysisHandlerError> {
        let json = serde_json::to_string(payload)
            .map_err(|e| AnalysisHandlerError::InvalidInput(e.to_string()))?;
        self.handle_json(&json).await
    }
}

/// The guide's PII payload, plus TrailGuard's optional `detail` switch.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct PiiRequest {
    pub s3_bucket: String,
    pub s3_key: String,
    #[serde(default)]
    pub media_type: Option<String>,
    /// The object version to check (S3 `VersionId`, from the event); `None`: the current one.
    #[serde(default)]
    pub version_id: Option<String>,
    /// Ask for the rich result for this invocation.
    #[serde(default)]
    pub detail: Option<bool>,
}

#[derive(Debug, thiserror::Error)]
pub enum PiiHandlerError {
    #[error("invalid input: {0}")]
    InvalidInput(String),
    /// No verdict in contract mode (the rich result would say `status: error`).
    #[error("no PII verdict for s3://{bucket}/{key}: {code}: {message}")]
    NoVerdict {
        bucket: String,
        key: String,
        code: String,
        message: String,
        retryable: bool,
    },
    #[error("could not serialise the result: {0}")]
    Output(String),
}

impl PiiHandlerError {
    /// The error name Step Functions sees; `TrailGuard.PiiRetryable` is what a Retry matches.
    pub fn error_type(&self) -> &'static str {
        match self {
            PiiHandlerError::InvalidInput(_) => "TrailGuard.InvalidInput",
            PiiHandlerError::NoVerdict {
                retryable: true, ..
            } => "TrailGuard.PiiRetryable",
            PiiHandlerError::NoVerdict { .. } => "TrailGuard.PiiNoVerdict",
            PiiHandlerError::Output(_) => "TrailGuard.Internal",
        }
    }
}

/// The PII handler: fetch, check, detect; the guide's `"true"`/`"false"` or the rich result.
pub struct PiiHandler {
    store: Arc<dyn ObjectStore>,
    detector: Arc<dyn PiiDetect>,
    limits: ImageLimits,
    rich_by_default: bool,
}

impl PiiHandler {
    pub fn new(
        store: Arc<dyn ObjectStore>,
        detector: Arc<dyn PiiDetect>,
        limits: ImageLimits,
        rich_by_default: bool,
    ) -> Self {
        PiiHandler {
            store,
            detector,
            limits,
            rich_by_default,
        }
    }

    /// Runs detection and returns the rich result (never an error).
    pub async fn detect(&self, request: &PiiRequest) -> PiiResult {
        detect_pii_version(
            self.store.as_ref(),
            &request.s3_bucket,
            &request.s3_key,
            request.version_id.as_deref().filter(|v| !v.is_empty()),
            request.media_type.as_deref(),
            self.detector.as_ref(),
            &self.limits,
        )
        .await
    }

    /// The Lambda entry: the guide's `"true"`/`"false"`, or the rich result when asked.
    pub async fn handle(&self, payload: Value) -> Result<Value, PiiHandlerError> {
        let request: PiiRequest = serde_json::from_value(payload).map_err(|e| {
            PiiHandlerError::InvalidInput(format!(
                "expected {{\"s3_bucket\": string, \"s3_key\": string, \"media_type\": string|null}}: {e}"
            ))
        })?;
        if request.s3_bucket.is_empty() || request.s3_key.is_empty() {
            return Err(PiiHandlerError::InvalidInput(
                "s3_bucket and s3_key must not be empty".into(),
            ));
        }
        let result = self.detect(&request).await;
        tracing::info!(
            bucket = %result.s3_bucket,
            key = %result.s3_key,
            detector = %result.detector,
            pii_detected = ?result.pii_detected,
            status = ?result.status,
            error = result.error.as_ref().map(|e| e.code.as_str()).unwrap_or_default(),
            entities = result.entities.len(),
            "pii checked"
        );
        let rich = request.detail.unwrap_or(self.rich_by_default);
        // A transient failure (throttling, unavailable) fails the invocation in both modes, so
        // the workflow's Retry on TrailGuard.PiiRetryable can act; other errors are results.
        let retryable = result.error.as_ref().is_some_and(|e| e.retryable);
        if rich && !retryable {
            return serde_json::to_value(&result)
                .map_err(|e| PiiHandlerError::Output(e.to_string()));
        }
        match result.contract_value() {
            Some(value) if !rich => Ok(Value::String(value.into())),
            _ => {
                let error = result.error.unwrap_or_else(|| PiiErrorInfo {
                    code: "unknown".into(),
                    message: result.reason.clone(),
                    retryable: false,
                });
                Err(PiiHandlerError::NoVerdict {
                    bucket: result.s3_bucket,
                    key: result.s3_key,
                    code: error.code,
                    message: error.message,
                    retryable: error.retryable,
                })
            }
        }
    }
}

/// The handlers as in-process Lambda functions of the local runner: errors carry the names Step
/// Functions would see, so the workflow's Retry and Catch behave as on AWS.
#[cfg(feature = "asl")]
mod in_process {
    use super::{LogAnalysisHandler, PiiHandler};
    use serde_json::Value;
    use trailguard_asl::{FunctionError, LambdaFunction};

    fn function_error(error_type: &str, message: String) -> FunctionError {
        FunctionError {
            error_type: error_type.to_string(),
            error_message: message,
        }
    }

    #[async_trait::async_trait]
    impl LambdaFunction for LogAnalysisHandler {
        async fn call(&self, payload: Value) -> Result<Value, FunctionError> {
            self.handle_value(&payload)
                .await
                .map_err(|e| function_error(e.error_type(), e.to_string()))
        }
    }

    #[async_trait::async_trait]
    impl LambdaFunction for PiiHandler {
        async fn call(&self, payload: Value) -> Result<Value, FunctionError> {
            self.handle(payload)
                .await
                .map_err(|e| function_error(e.error_type(), e.to_string()))
        }
    }
}
