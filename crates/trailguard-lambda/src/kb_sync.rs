//! The knowledge-base sync function: turns what TrailGuard saw into knowledge documents in the
//! knowledge-base bucket (`<doc>.md` + `<doc>.md.metadata.json`, built by `trailguard-kb`) and
//! starts a debounced ingestion job of the Bedrock data source over that bucket.
//!
//! Input, any of:
//! - the security-audit workflow's own "Store In Knowledge Base" step (the guide's "process the
//!   security log, generate metadata, store in the knowledge base"), which every successful path
//!   ends with: `{"trailguard_kb": "workflow", "execution", "event", "analysis", "output", "pii",
//!   "alert"}` ([`trailguard_kb::workflow::WorkflowStep`]). The analysis is the one the workflow
//!   acted on, the model's summary included; the outcome is read off the path's output;
//! - an EventBridge "Step Functions Execution Status Change" event of the state machine, for the
//!   executions that never reach that step (FAILED, TIMED_OUT, ABORTED): the execution's `input`
//!   (the raw event) and `output`; when EventBridge left them out (`inputDetails`/
//!   `outputDetails.included` false: the event would be too large) they are read with
//!   `DescribeExecution`. A failed execution has no analysis to pass on, so it is recomputed
//!   from the event with the same embedded rules (no model), at the level the workflow acted on
//!   when that is higher;
//! - an EventBridge "GuardDuty Finding" event (`source` `aws.guardduty`);
//! - an outcome record `{"trailguard_outcome", "analysis", "event", "origin"}` (what `trailguard
//!   run` writes);
//! - `{"trailguard_kb": "ingest"}`: no document, only the debounced ingestion (the schedule's
//!   sweep, so documents written while a job ran are not left waiting for the next event).
//!
//! Errors are named for the workflow's Retry and Catch: `TrailGuard.KbSyncInput` (a payload of
//! none of these shapes), `TrailGuard.KbSyncRetryable` (throttled or unavailable S3 or Bedrock),
//! `TrailGuard.KbSyncFailed` (any other failure).
//!
//! Debouncing uses `ListIngestionJobs` (no state of our own): no new job while one is running or
//! when the latest started less than `KB_INGEST_DEBOUNCE_SECONDS` ago; a `ConflictException`
//! (another invocation won the race) is a skip too.
//!
//! Environment: `KB_BUCKET` (required), `KB_PREFIX` (default `documents/`),
//! `KNOWLEDGE_BASE_ID` and `KNOWLEDGE_BASE_DATA_SOURCE_ID` (required),
//! `KB_INGEST_DEBOUNCE_SECONDS` (default 120).

use std::sync::Arc;

use async_trait::async_trait;
use lambda_runtime::{service_fn, LambdaEvent};
use serde::Serialize;
use serde_json::{json, Value};
use trailguard_aws::{
    AwsSettings, BedrockIngestion, ExecutionDetails, IngestionJobInfo, S3Store, SfnExecutions,
};
use trailguard_core::ports::{ObjectWriter, PortError, PortErrorKind};
use trailguard_core::{AnalysisRecord, TaskFailure, ThreatLevel};
use trailguard_kb::bedrock::bedrock_objects;
pub use trailguard_kb::workflow::workflow_outcome;
use trailguard_kb::workflow::WorkflowStep;
use trailguard_kb::{KnowledgeDoc, OutcomeRecord};
use trailguard_triage::{Triage, TriageConfig};

use crate::{diagnostic, ConfigError};

pub const DEFAULT_PREFIX: &str = "documents/";
pub const DEFAULT_DEBOUNCE_SECONDS: i64 = 120;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    pub bucket: String,
    pub prefix: String,
    pub knowledge_base_id: String,
    pub data_source_id: String,
    pub debounce_seconds: i64,
}

impl Settings {
    pub fn from_lookup(var: impl Fn(&str) -> Option<String>) -> Result<Settings, ConfigError> {
        let get = |name: &str| crate::non_empty(var(name));
        let required =
            |name: &str| get(name).ok_or_else(|| ConfigError(format!("{name} is not set")));
        let debounce_seconds = match get("KB_INGEST_DEBOUNCE_SECONDS") {
            None => DEFAULT_DEBOUNCE_SECONDS,
            Some(v) => v.parse::<i64>().ok().filter(|n| *n >= 0).ok_or_else(|| {
                ConfigError(format!(
                    "KB_INGEST_DEBOUNCE_SECONDS {v:?}: expected a whole number of seconds"
                ))
            })?,
        };
        let mut prefix = get("KB_PREFIX").unwrap_or_else(|| DEFAULT_PREFIX.into());
        if !prefix.ends_with('/') {
            prefix.push('/');
        }
        Ok(Settings {
            bucket: required("KB_BUCKET")?,
            prefix,
            knowledge_base_id: required("KNOWLEDGE_BASE_ID")?,
            data_source_id: required("KNOWLEDGE_BASE_DATA_SOURCE_ID")?,
            debounce_seconds,
        })
    }
}

/// Starts ingestion jobs of the knowledge base's data source (bedrock-agent behind it).
#[async_trait]
pub trait IngestionStarter: Send + Sync {
    /// The most recently started job, if any.
    async fn latest_job(&self) -> Result<Option<IngestionJobInfo>, PortError>;
    async fn start_job(&self, description: &str) -> Result<IngestionJobInfo, PortError>;
}

#[async_trait]
impl IngestionStarter for BedrockIngestion {
    async fn latest_job(&self) -> Result<Option<IngestionJobInfo>, PortError> {
        self.latest().await
    }
    async fn start_job(&self, description: &str) -> Result<IngestionJobInfo, PortError> {
        self.start(description).await
    }
}

/// Reads an execution's input and output (Step Functions `DescribeExecution` behind it).
#[async_trait]
pub trait ExecutionReader: Send + Sync {
    async fn describe(&self, execution_arn: &str) -> Result<ExecutionDetails, PortError>;
}

#[async_trait]
impl ExecutionReader for SfnExecutions {
    async fn describe(&self, execution_arn: &str) -> Result<ExecutionDetails, PortError> {
        SfnExecutions::describe(self, execution_arn).await
    }
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum KbSyncError {
    /// The payload is none of the shapes this function takes: retrying will not help.
    #[error("kb-sync input: {0}")]
    Input(String),
    #[error("kb-sync: {0}")]
    Port(#[from] PortError),
}

impl TaskFailure for KbSyncError {
    fn error_name(&self) -> &'static str {
        match self {
            KbSyncError::Input(_) => "TrailGuard.KbSyncInput",
            KbSyncError::Port(error)
                if matches!(
                    error.kind,
                    PortErrorKind::Throttled | PortErrorKind::Unavailable
                ) =>
            {
                "TrailGuard.KbSyncRetryable"
            }
            KbSyncError::Port(_) => "TrailGuard.KbSyncFailed",
        }
    }
}

/// What became of the ingestion request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "ingestion", rename_all = "snake_case")]
pub enum Ingestion {
    Started {
        job_id: String,
    },
    Skipped {
        reason: String,
        job_id: Option<String>,
    },
}

/// The function's result: the S3 keys written and the ingestion.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SyncResult {
    pub documents: Vec<String>,
    #[serde(flatten)]
    pub ingestion: Ingestion,
}

pub struct KbSyncHandler {
    writer: Arc<dyn ObjectWriter>,
    ingestion: Arc<dyn IngestionStarter>,
    executions: Arc<dyn ExecutionReader>,
    triage: Triage,
    settings: Settings,
    now: fn() -> i64,
}

fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

fn text<'v>(value: &'v Value, pointer: &str) -> Option<&'v str> {
    value
        .pointer(pointer)
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
}

/// A JSON string field that may itself hold JSON (`input`, `output` of an execution).
fn embedded_json(value: Option<&Value>) -> Option<Value> {
    match value? {
        Value::String(text) => serde_json::from_str(text).ok(),
        Value::Null => None,
        other => Some(other.clone()),
    }
}

impl KbSyncHandler {
    pub fn new(
        writer: Arc<dyn ObjectWriter>,
        ingestion: Arc<dyn IngestionStarter>,
        executions: Arc<dyn ExecutionReader>,
        triage: Triage,
        settings: Settings,
    ) -> Self {
        KbSyncHandler {
            writer,
            ingestion,
            executions,
            triage,
            settings,
            now: unix_now,
        }
    }

    /// Replaces the clock (tests).
    pub fn with_clock(mut self, now: fn() -> i64) -> Self {
        self.now = now;
        self
    }

    /// A handler with the embedded rules and no model: the analysis the documents carry.
    pub fn rules_only_triage() -> Result<Triage, trailguard_triage::TriageError> {
        Ok(Triage::load(&[], None, TriageConfig::default())?.0)
    }

    pub async fn handle(&self, payload: Value) -> Result<SyncResult, KbSyncError> {
        let docs = self.documents(&payload).await?;
        let mut keys = Vec::new();
        for doc in &docs {
            let objects = bedrock_objects(doc, &self.settings.prefix);
            // Metadata first: once a document is visible, its metadata is there too.
            self.writer
                .put(
                    &self.settings.bucket,
                    &objects.metadata_key,
                    objects.metadata.into_bytes(),
                    Some("application/json"),
                )
                .await?;
            self.writer
                .put(
                    &self.settings.bucket,
                    &objects.document_key,
                    objects.document.into_bytes(),
                    Some("text/markdown; charset=utf-8"),
                )
                .await?;
            tracing::info!(doc_id = %doc.id, kind = doc.kind.as_str(), key = %objects.document_key, "document written");
            keys.push(objects.document_key);
        }
        let ingestion = self.ingest(docs.len()).await?;
        Ok(SyncResult {
            documents: keys,
            ingestion,
        })
    }

    async fn documents(&self, payload: &Value) -> Result<Vec<KnowledgeDoc>, KbSyncError> {
        if payload.get("trailguard_kb").and_then(Value::as_str) == Some("ingest") {
            return Ok(Vec::new());
        }
        if let Some(step) = WorkflowStep::from_payload(payload) {
            let step = step.map_err(|e| KbSyncError::Input(format!("workflow step: {e}")))?;
            let record = step.outcome_record();
            let (event, outcome) = record
                .documents("")
                .map_err(|e| KbSyncError::Input(e.to_string()))?;
            return Ok(vec![event, outcome]);
        }
        if payload.get("trailguard_outcome").is_some() {
            let record: OutcomeRecord = serde_json::from_value(payload.clone())
                .map_err(|e| KbSyncError::Input(format!("outcome record: {e}")))?;
            let (event, outcome) = record
                .documents("")
                .map_err(|e| KbSyncError::Input(e.to_string()))?;
            return Ok(vec![event, outcome]);
        }
        match (
            text(payload, "/source"),
            text(payload, "/detail-type"),
        ) {
            (Some("aws.states"), Some("Step Functions Execution Status Change")) => {
                self.execution_documents(payload).await
            }
            (Some("aws.guardduty"), Some("GuardDuty Finding")) => {
                let event_json = payload.to_string();
                let record = self.analyze(&event_json).await?;
                let link = text(payload, "/detail/arn")
                    .or_else(|| text(payload, "/id"))
                    .unwrap_or_default()
                    .to_string();
                let doc = trailguard_kb::event_doc(&record, &event_json, &link)
                    .map_err(|e| KbSyncError::Input(e.to_string()))?;
                Ok(vec![doc])
            }
            (source, detail_type) => Err(KbSyncError::Input(format!(
                "expected the workflow's knowledge-base step, a Step Functions execution event, a GuardDuty finding event, an outcome record or {{\"trailguard_kb\": \"ingest\"}}; got source {source:?}, detail-type {detail_type:?}"
            ))),
        }
    }

    async fn analyze(&self, event_json: &str) -> Result<AnalysisRecord, KbSyncError> {
        self.triage
            .analyze(event_json)
            .await
            .map(|analysis| analysis.record)
            .map_err(|e| KbSyncError::Input(format!("the event: {e}")))
    }

    async fn execution_documents(&self, payload: &Value) -> Result<Vec<KnowledgeDoc>, KbSyncError> {
        let detail = payload.get("detail").unwrap_or(&Value::Null);
        let arn = text(detail, "/executionArn")
            .ok_or_else(|| KbSyncError::Input("the execution event has no executionArn".into()))?;
        let mut status = text(detail, "/status").unwrap_or_default().to_string();
        let mut input = embedded_json(detail.get("input"));
        let mut output = embedded_json(detail.get("output"));
        let mut error = text(detail, "/error").map(str::to_string);
        let mut cause = text(detail, "/cause").map(str::to_string);
        let left_out = |key: &str| {
            detail.pointer(&format!("/{key}Details/included")) == Some(&Value::Bool(false))
        };
        let missing_output = output.is_none() && status == "SUCCEEDED";
        if input.is_none() || missing_output || left_out("input") || left_out("output") {
            let described = self.executions.describe(arn).await?;
            tracing::info!(
                execution = arn,
                "input or output not in the event: read with DescribeExecution"
            );
            status = described.status;
            input = described
                .input
                .as_deref()
                .and_then(|t| serde_json::from_str(t).ok());
            output = described
                .output
                .as_deref()
                .and_then(|t| serde_json::from_str(t).ok());
            error = described.error.or(error);
            cause = described.cause.or(cause);
        }
        let event = input.ok_or_else(|| {
            KbSyncError::Input(format!("execution {arn}: no JSON input to document"))
        })?;
        let mut analysis = self.analyze(&event.to_string()).await?;
        // The workflow may have acted on a higher level (the model can only raise it).
        if let Some(level) = output
            .as_ref()
            .and_then(|o| text(o, "/level"))
            .and_then(|l| l.parse::<ThreatLevel>().ok())
        {
            analysis.threat_level = analysis.threat_level.max(level);
        }
        let outcome =
            workflow_outcome(&status, output.as_ref(), error.as_deref(), cause.as_deref());
        let record = OutcomeRecord {
            trailguard_outcome: outcome,
            analysis,
            event,
            origin: arn.to_string(),
        };
        let (event_doc, outcome_doc) = record
            .documents(arn)
            .map_err(|e| KbSyncError::Input(e.to_string()))?;
        Ok(vec![event_doc, outcome_doc])
    }

    /// Starts an ingestion job unless one is running or one started within the debounce window.
    async fn ingest(&self, written: usize) -> Result<Ingestion, KbSyncError> {
        let now = (self.now)();
        if let Some(job) = self.ingestion.latest_job().await? {
            let age = now.saturating_sub(job.started_at);
            if job.is_running() {
                return Ok(Ingestion::Skipped {
                    reason: format!("job {} is {}", job.job_id, job.status),
                    job_id: Some(job.job_id),
                });
            }
            if age < self.settings.debounce_seconds {
                return Ok(Ingestion::Skipped {
                    reason: format!(
                        "job {} started {age} s ago (debounce {} s)",
                        job.job_id, self.settings.debounce_seconds
                    ),
                    job_id: Some(job.job_id),
                });
            }
        }
        match self
            .ingestion
            .start_job(&format!("trailguard kb-sync: {written} document(s)"))
            .await
        {
            Ok(job) => {
                tracing::info!(job_id = %job.job_id, "ingestion job started");
                Ok(Ingestion::Started { job_id: job.job_id })
            }
            Err(error) if error.code.as_deref() == Some("ConflictException") => {
                Ok(Ingestion::Skipped {
                    reason: "another job is running (ConflictException)".into(),
                    job_id: None,
                })
            }
            Err(error) => Err(error.into()),
        }
    }

    /// The result as the function returns it.
    pub async fn handle_json(&self, payload: Value) -> Result<Value, KbSyncError> {
        let result = self.handle(payload).await?;
        Ok(serde_json::to_value(result).unwrap_or_else(|_| json!({})))
    }
}

/// The handler on the AWS SDK clients these settings and `aws` describe.
pub async fn handler(settings: Settings, aws: &AwsSettings) -> anyhow::Result<KbSyncHandler> {
    let sdk = aws.load().await;
    let triage = KbSyncHandler::rules_only_triage()?;
    tracing::info!(bucket = %settings.bucket, prefix = %settings.prefix, knowledge_base = %settings.knowledge_base_id, "kb-sync function ready");
    Ok(KbSyncHandler::new(
        Arc::new(S3Store::new(aws.s3_client(&sdk))),
        Arc::new(BedrockIngestion::from_sdk(
            &sdk,
            &settings.knowledge_base_id,
            &settings.data_source_id,
        )),
        Arc::new(SfnExecutions::from_sdk(&sdk)),
        triage,
        settings,
    ))
}

/// Serves events until the runtime stops.
pub async fn serve() -> Result<(), lambda_runtime::Error> {
    let settings = Settings::from_lookup(|name| std::env::var(name).ok())?;
    let handler = Arc::new(handler(settings, &AwsSettings::default()).await?);
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| {
        let handler = Arc::clone(&handler);
        async move {
            handler
                .handle_json(event.payload)
                .await
                .map_err(|e| diagnostic(&e))
        }
    }))
    .await
}
