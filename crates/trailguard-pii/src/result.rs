//! The PII step's rich result: the verdict with its evidence, which object (and version) was
//! read, what its bytes really are, and, when there is no verdict, why.

use serde::{Deserialize, Serialize};

use crate::error::PiiDetectError;
use crate::evidence::Evidence;
use crate::verdict::PiiVerdict;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PiiStatus {
    Ok,
    Error,
}

/// Why there is no verdict.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PiiErrorInfo {
    /// `empty`, `too_large`, `unsupported_type`, `too_many_pixels`, `corrupt`, `cannot_shrink`,
    /// `ocr`, `config`, `model_answer_invalid`, `detector_failed`, or the storage / model
    /// backend's own code (`NoSuchKey`, `AccessDenied`, `ThrottlingException`, ...).
    pub code: String,
    pub message: String,
    /// Trying again later may give a verdict: the workflow's Retry acts on it.
    pub retryable: bool,
}

impl From<&PiiDetectError> for PiiErrorInfo {
    fn from(error: &PiiDetectError) -> Self {
        PiiErrorInfo {
            code: error.code().to_string(),
            message: error.to_string(),
            retryable: error.retryable(),
        }
    }
}

/// The rich PII result. `pii_detected` is null when there is no verdict (`status: error`).
/// The SNS audit record embeds it under `pii`, so the evidence and its boxes reach the analyst.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PiiResult {
    pub pii_detected: Option<bool>,
    /// Everything the detector found, counted or not, with boxes where it has them.
    pub evidence: Vec<Evidence>,
    pub detector: String,
    pub reason: String,
    pub status: PiiStatus,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<PiiErrorInfo>,
    pub s3_bucket: String,
    pub s3_key: String,
    /// The version actually read (the store's answer; the requested one when the store keeps no
    /// versions or the read failed). The workflow deletes exactly this version, so a PII image
    /// is removed from a versioned bucket for good even when the event named no version.
    pub version_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub media_type_declared: Option<String>,
    /// The type found from the magic bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub media_type_detected: Option<String>,
    /// True when the uploader's declared type disagrees with the magic bytes.
    #[serde(default)]
    pub media_type_mismatch: bool,
    /// Size of the image the boxes refer to (after EXIF rotation), when it was decoded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub width: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub height: Option<u32>,
    /// OCR words read, when OCR ran.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub words_seen: Option<usize>,
    #[serde(default)]
    pub model_calls: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sent_image_size: Option<(u32, u32)>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub elapsed_ms: Option<u64>,
}

impl PiiResult {
    /// A result for `s3_bucket/s3_key` with no verdict yet.
    pub fn pending(
        detector: &str,
        s3_bucket: &str,
        s3_key: &str,
        version_id: Option<&str>,
    ) -> Self {
        PiiResult {
            pii_detected: None,
            evidence: Vec::new(),
            detector: detector.to_string(),
            reason: String::new(),
            status: PiiStatus::Ok,
            error: None,
            s3_bucket: s3_bucket.to_string(),
            s3_key: s3_key.to_string(),
            version_id: version_id.map(str::to_string),
            media_type_declared: None,
            media_type_detected: None,
            media_type_mismatch: false,
            width: None,
            height: None,
            words_seen: None,
            model_calls: 0,
            sent_image_size: None,
            elapsed_ms: None,
        }
    }

    /// The guide's contract: `"true"` / `"false"`, or `None` when there is no verdict.
    pub fn contract_value(&self) -> Option<&'static str> {
        self.pii_detected.map(|p| if p { "true" } else { "false" })
    }

    /// The evidence that decided the verdict.
    pub fn counted(&self) -> impl Iterator<Item = &Evidence> {
        self.evidence.iter().filter(|e| e.counted)
    }

    /// Takes the detector's verdict, evidence and diagnostics.
    pub fn with_verdict(mut self, verdict: PiiVerdict) -> Self {
        self.pii_detected = Some(verdict.pii_detected);
        self.evidence = verdict.evidence;
        self.detector = verdict.detector;
        self.reason = verdict.reason;
        self.width = Some(verdict.width);
        self.height = Some(verdict.height);
        self.words_seen = verdict.words_seen;
        self.model_calls = verdict.model_calls;
        self.sent_image_size = verdict.sent_image_size;
        self.elapsed_ms = Some(verdict.elapsed_ms);
        self
    }

    /// No verdict: `status: error` with the code and message.
    pub fn with_error(mut self, error: PiiErrorInfo) -> Self {
        self.pii_detected = None;
        self.reason = error.message.clone();
        self.status = PiiStatus::Error;
        self.error = Some(error);
        self
    }
}
