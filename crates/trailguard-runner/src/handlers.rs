//! TrailGuard's Lambda handlers as in-process functions: the same code the Lambda bootstraps run
//! (kb-sync: the same documents, to a local [`KnowledgeSink`]), with errors named as Step
//! Functions sees them, so Retry and Catch behave as on AWS.

use std::sync::Arc;

use async_trait::async_trait;
use serde_json::{json, Value};
use trailguard_core::ports::{ObjectWriter, PortErrorKind};
use trailguard_core::TaskFailure;
use trailguard_kb::bedrock::bedrock_objects;
use trailguard_kb::workflow::WorkflowStep;
use trailguard_kb::OutcomeRecord;
use trailguard_pii::PiiHandler;
use trailguard_triage::LogAnalysisHandler;

use crate::integrations::{FunctionError, LambdaFunction};

fn function_error(error: &dyn TaskFailure) -> FunctionError {
    FunctionError {
        error_type: error.error_name().to_string(),
        error_message: error.to_string(),
    }
}

/// The log-analysis handler, in-process.
pub struct AnalysisFunction(pub Arc<LogAnalysisHandler>);

#[async_trait]
impl LambdaFunction for AnalysisFunction {
    async fn call(&self, payload: Value) -> Result<Value, FunctionError> {
        self.0
            .handle_value(&payload)
            .await
            .map_err(|e| function_error(&e))
    }
}

/// The PII handler, in-process.
pub struct PiiFunction(pub Arc<PiiHandler>);

#[async_trait]
impl LambdaFunction for PiiFunction {
    async fn call(&self, payload: Value) -> Result<Value, FunctionError> {
        self.0.handle(payload).await.map_err(|e| function_error(&e))
    }
}

/// Error names of the kb-sync function, as the deployed one raises them (the workflow's Retry
/// waits for `TrailGuard.KbSyncRetryable`).
const KB_SYNC_INPUT: &str = "TrailGuard.KbSyncInput";
const KB_SYNC_RETRYABLE: &str = "TrailGuard.KbSyncRetryable";
const KB_SYNC_FAILED: &str = "TrailGuard.KbSyncFailed";

/// A kb-sync failure with its Step Functions error name.
pub fn kb_sync_error(retryable: bool, message: impl Into<String>) -> FunctionError {
    FunctionError {
        error_type: if retryable {
            KB_SYNC_RETRYABLE
        } else {
            KB_SYNC_FAILED
        }
        .to_string(),
        error_message: message.into(),
    }
}

fn kb_input_error(message: String) -> FunctionError {
    FunctionError {
        error_type: KB_SYNC_INPUT.to_string(),
        error_message: format!("kb-sync input: {message}"),
    }
}

/// Where the in-process kb-sync puts one execution's event and outcome documents.
#[async_trait]
pub trait KnowledgeSink: Send + Sync {
    /// Stores the documents of `record` (its `origin` is the execution id); answers what the
    /// function returns.
    async fn store(&self, record: OutcomeRecord) -> Result<Value, FunctionError>;
    /// Where the documents go, for the user.
    fn describe(&self) -> String;
}

/// The deployed kb-sync's effect on the storage adapter: the Bedrock-format objects
/// (`<prefix><kind>/<yyyy>/<mm>/<dd>/<id>.md` and its `.metadata.json`) in a bucket, which a
/// directory bucket root shows as files. No ingestion job: there is no Bedrock here.
pub struct BucketSink {
    pub writer: Arc<dyn ObjectWriter>,
    pub bucket: String,
    pub prefix: String,
}

#[async_trait]
impl KnowledgeSink for BucketSink {
    async fn store(&self, record: OutcomeRecord) -> Result<Value, FunctionError> {
        let (event, outcome) = record
            .documents(&record.origin)
            .map_err(|e| kb_input_error(e.to_string()))?;
        let mut keys = Vec::new();
        for doc in [event, outcome] {
            let objects = bedrock_objects(&doc, &self.prefix);
            // Metadata first, as the deployed function writes them.
            for (key, body, content_type) in [
                (
                    &objects.metadata_key,
                    objects.metadata.as_bytes(),
                    "application/json",
                ),
                (
                    &objects.document_key,
                    objects.document.as_bytes(),
                    "text/markdown; charset=utf-8",
                ),
            ] {
                self.writer
                    .put(&self.bucket, key, body.to_vec(), Some(content_type))
                    .await
                    .map_err(|e| {
                        kb_sync_error(
                            matches!(
                                e.kind,
                                PortErrorKind::Throttled | PortErrorKind::Unavailable
                            ),
                            format!("kb-sync: s3://{}/{key}: {e}", self.bucket),
                        )
                    })?;
            }
            keys.push(objects.document_key);
        }
        Ok(json!({
            "documents": keys,
            "ingestion": "skipped",
            "reason": "a local run has no Bedrock knowledge base to ingest into (trailguard run --kb DIR indexes the documents)",
            "job_id": null
        }))
    }

    fn describe(&self) -> String {
        format!("s3://{}/{}", self.bucket, self.prefix)
    }
}

/// The knowledge-base sync function, in-process: the payloads of the workflow's "Store In
/// Knowledge Base" step and outcome records, to a [`KnowledgeSink`]. EventBridge events (status
/// changes, GuardDuty findings) are the deployed function's: a local run has none.
pub struct KbSyncFunction(pub Arc<dyn KnowledgeSink>);

#[async_trait]
impl LambdaFunction for KbSyncFunction {
    async fn call(&self, payload: Value) -> Result<Value, FunctionError> {
        if let Some(step) = WorkflowStep::from_payload(&payload) {
            let step = step.map_err(|e| kb_input_error(format!("workflow step: {e}")))?;
            return self.0.store(step.outcome_record()).await;
        }
        if payload.get("trailguard_kb").and_then(Value::as_str) == Some("ingest") {
            return Ok(
                json!({"documents": [], "ingestion": "skipped", "reason": "a local run has no Bedrock knowledge base", "job_id": null}),
            );
        }
        if payload.get("trailguard_outcome").is_some() {
            let record: OutcomeRecord = serde_json::from_value(payload)
                .map_err(|e| kb_input_error(format!("outcome record: {e}")))?;
            return self.0.store(record).await;
        }
        Err(kb_input_error(
            "expected the workflow's knowledge-base step ({\"trailguard_kb\": \"workflow\", ...}) or an outcome record; EventBridge events are for the deployed function".into(),
        ))
    }
}
