//! The log-analysis Lambda's logic, free of the Lambda runtime and of AWS: the Lambda bootstrap
//! and the local workflow runner call the same code.

use std::sync::Arc;

use serde_json::Value;
use trailguard_core::TaskFailure;

use crate::triage::Triage;

/// Why a log-analysis invocation failed. Only input that is not an event fails; model trouble
/// never does.
#[derive(Debug, thiserror::Error)]
pub enum AnalysisHandlerError {
    #[error("{0}")]
    InvalidInput(String),
    #[error("could not serialise the result: {0}")]
    Output(String),
}

impl TaskFailure for AnalysisHandlerError {
    /// The error name Step Functions sees (`errorType` of the Lambda error).
    fn error_name(&self) -> &'static str {
        match self {
            AnalysisHandlerError::InvalidInput(_) => "TrailGuard.InvalidInput",
            AnalysisHandlerError::Output(_) => "TrailGuard.Internal",
        }
    }
}

/// One log-analysis invocation per call, over a [`Triage`] built once per container (or per
/// local run) and shared.
#[derive(Debug, Clone)]
pub struct LogAnalysisHandler {
    triage: Arc<Triage>,
}

impl LogAnalysisHandler {
    pub fn new(triage: Arc<Triage>) -> Self {
        LogAnalysisHandler { triage }
    }

    pub fn triage(&self) -> &Arc<Triage> {
        &self.triage
    }

    /// Analyses one event given as raw JSON.
    pub async fn handle_json(&self, json: &str) -> Result<Value, AnalysisHandlerError> {
        let analysis = self
            .triage
            .analyze(json)
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
