//! The PII step's handler, free of the Lambda runtime and of AWS: the Lambda bootstrap and the
//! local workflow runner call the same code. It reads the object through the [`ObjectReader`]
//! port, checks it, asks the detector, and answers with the guide's `"true"`/`"false"` or the
//! rich [`PiiResult`].

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use trailguard_core::media::normalise_content_type;
use trailguard_core::ports::{ObjectReader, ObjectRef, PortError};
use trailguard_core::TaskFailure;

use crate::detector::PiiDetector;
use crate::error::InputError;
use crate::input::ImageInput;
use crate::limits::ImageLimits;
use crate::result::{PiiErrorInfo, PiiResult};

/// The guide's PII payload, plus the object version and TrailGuard's optional `detail` switch.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
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
    /// No verdict in contract mode, or a retryable failure in either mode (the rich result would
    /// say `status: error`).
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

impl TaskFailure for PiiHandlerError {
    /// The error name Step Functions sees; `TrailGuard.PiiRetryable` is what the workflow's Retry
    /// matches, `TrailGuard.PiiNoVerdict` what its Catch sends to the existence check.
    fn error_name(&self) -> &'static str {
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

fn read_failed(error: &PortError, object: &ObjectRef) -> PiiErrorInfo {
    PiiErrorInfo {
        code: error
            .code
            .clone()
            .unwrap_or_else(|| format!("{:?}", error.kind)),
        message: format!("cannot read {object}: {error}"),
        retryable: error.is_retryable(),
    }
}

fn input_failed(error: InputError) -> PiiErrorInfo {
    PiiErrorInfo {
        code: error.code().to_string(),
        message: error.to_string(),
        retryable: false,
    }
}

/// The PII handler: read, check, detect; the guide's `"true"`/`"false"` or the rich result.
pub struct PiiHandler {
    reader: Arc<dyn ObjectReader>,
    detector: Arc<dyn PiiDetector>,
    limits: ImageLimits,
    rich_by_default: bool,
}

impl PiiHandler {
    pub fn new(
        reader: Arc<dyn ObjectReader>,
        detector: Arc<dyn PiiDetector>,
        limits: ImageLimits,
        rich_by_default: bool,
    ) -> Self {
        PiiHandler {
            reader,
            detector,
            limits,
            rich_by_default,
        }
    }

    pub fn detector_name(&self) -> &str {
        self.detector.name()
    }

    /// Reads the object (the named version, else the current one), checks it (size, real type by
    /// magic bytes) and asks the detector. Never an error: every failure is a result with
    /// `status: error`, a code and a message; nothing is guessed.
    pub async fn detect(&self, request: &PiiRequest) -> PiiResult {
        let requested_version = request.version_id.as_deref().filter(|v| !v.is_empty());
        let object =
            ObjectRef::new(&request.s3_bucket, &request.s3_key).at_version(requested_version);
        let mut result = PiiResult::pending(
            self.detector.name(),
            &request.s3_bucket,
            &request.s3_key,
            requested_version,
        );
        let declared = request
            .media_type
            .as_deref()
            .and_then(normalise_content_type);
        result.media_type_declared = declared.clone();
        let stored = match self.reader.get(&object).await {
            Ok(stored) => stored,
            Err(error) => return result.with_error(read_failed(&error, &object)),
        };
        if stored.version_id.is_some() {
            result.version_id = stored.version_id.clone();
        }
        let size = stored.bytes.len() as u64;
        if size > self.limits.max_object_bytes {
            return result.with_error(input_failed(InputError::TooLarge {
                size,
                limit: self.limits.max_object_bytes,
            }));
        }
        let input = match ImageInput::new(&stored.bytes, declared.as_deref()) {
            Ok(input) => input,
            Err(error) => return result.with_error(input_failed(error)),
        };
        result.media_type_detected = Some(input.kind.mime().to_string());
        let mismatch = input.declared_mismatch();
        result.media_type_mismatch = mismatch.is_some();
        match self.detector.detect(&input).await {
            Ok(verdict) => {
                let mut result = result.with_verdict(verdict);
                if let Some(declared) = mismatch {
                    result.reason = format!(
                        "{}; declared type {declared} but the content is {}",
                        result.reason,
                        input.kind.mime()
                    );
                }
                result
            }
            Err(error) => result.with_error(PiiErrorInfo::from(&error)),
        }
    }

    /// The Lambda entry: the guide's `"true"`/`"false"`, or the rich result when asked (the
    /// request's `detail`, else the handler's default).
    pub async fn handle(&self, payload: Value) -> Result<Value, PiiHandlerError> {
        let request: PiiRequest = serde_json::from_value(payload).map_err(|e| {
            PiiHandlerError::InvalidInput(format!(
                "expected {{\"s3_bucket\": string, \"s3_key\": string, \"media_type\": string|null, \"version_id\": string|null}}: {e}"
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
            version = result.version_id.as_deref().unwrap_or_default(),
            detector = %result.detector,
            pii_detected = ?result.pii_detected,
            status = ?result.status,
            error = result.error.as_ref().map(|e| e.code.as_str()).unwrap_or_default(),
            evidence = result.evidence.len(),
            counted = result.counted().count(),
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
