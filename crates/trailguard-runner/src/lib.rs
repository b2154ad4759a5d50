//! Runs TrailGuard's Step Functions workflow locally.
//!
//! A [`Workflow`] is a definition (the embedded `statemachine/security-audit.asl.json` or any
//! other) whose Task resources are bound, from a [`BindingsConfig`], to TrailGuard's Lambda
//! handlers in-process ([`handlers`]), to local commands, or to the ports of the local adapters
//! ([`adapters`]) through the service integrations' shapes ([`integrations`]); tests bind the AWS
//! adapters the same way. Each execution comes back with a typed [`ExecutionReport`].

pub mod adapters;
pub mod config;
pub mod definition;
pub mod errors;
pub mod handlers;
pub mod integrations;
pub mod trace;
pub mod workflow;

use std::sync::Arc;

pub use config::{
    AdapterConfig, BindingsConfig, LambdaConfig, PiiDetectorKind, PiiResultMode, ANALYSIS_HANDLER,
    DEFAULT_KB_BUCKET, DEFAULT_KB_PREFIX, KB_SYNC_HANDLER, PII_HANDLER,
};
pub use definition::{default_substitutions, load_state_machine, SECURITY_AUDIT_DEFINITION};
pub use handlers::{BucketSink, KbSyncFunction, KnowledgeSink};
pub use trace::{
    alert_details, report, Action, ExecutionReport, FunctionRoles, ObjectRefView, SentAlert,
    DETAILS_MARKER,
};
pub use workflow::{Defaults, DefinitionSource, Workflow, WorkflowInfo, WorkflowRun};

#[derive(Debug, thiserror::Error)]
pub enum RunnerError {
    #[error("bindings: {0}")]
    Bindings(String),
    #[error("definition {label}: {message}")]
    Definition { label: String, message: String },
}

/// The offline PII detector (OCR, recognisers, faces), or why it cannot start.
#[cfg(feature = "offline")]
pub fn offline_pii_detector() -> Result<Arc<dyn trailguard_pii::PiiDetector>, RunnerError> {
    let detector = trailguard_pii::OfflinePiiDetector::new(trailguard_pii::OfflineConfig::default())
        .map_err(|e| {
            RunnerError::Bindings(format!(
                "the offline PII detector cannot start (Tesseract with eng+kor data: Debian packages tesseract-ocr-eng, tesseract-ocr-kor): {e}"
            ))
        })?;
    Ok(Arc::new(detector))
}

#[cfg(not(feature = "offline"))]
pub fn offline_pii_detector() -> Result<Arc<dyn trailguard_pii::PiiDetector>, RunnerError> {
    Err(RunnerError::Bindings(
        "the offline PII detector is not in this build (feature `offline`)".into(),
    ))
}
