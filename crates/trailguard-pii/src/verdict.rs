//! A detector's verdict on one image, with all its evidence.

use serde::{Deserialize, Serialize};

use crate::evidence::Evidence;

/// What a detector concluded about one image. The evidence keeps every finding, counted or not,
/// with boxes where the detector has them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PiiVerdict {
    pub pii_detected: bool,
    pub evidence: Vec<Evidence>,
    /// Why: which counted evidence decided it, or why nothing did.
    pub reason: String,
    /// Which detector: `offline:tesseract/eng+kor`, `bedrock:<model id>`, `openai:<model id>`.
    pub detector: String,
    /// Size of the image the boxes refer to: the original after EXIF rotation.
    pub width: u32,
    pub height: u32,
    /// OCR words read (the most of any pass); `None` when no OCR ran.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub words_seen: Option<usize>,
    /// Model calls made, repairs included (0 without a model).
    #[serde(default)]
    pub model_calls: u32,
    /// Width and height sent to the model when the image had to be downscaled or re-encoded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sent_image_size: Option<(u32, u32)>,
    pub elapsed_ms: u64,
}

impl PiiVerdict {
    /// The guide's contract: the string "true" or "false".
    pub fn as_contract_str(&self) -> &'static str {
        if self.pii_detected {
            "true"
        } else {
            "false"
        }
    }

    /// The evidence that decided the verdict.
    pub fn counted(&self) -> impl Iterator<Item = &Evidence> {
        self.evidence.iter().filter(|e| e.counted)
    }
}
