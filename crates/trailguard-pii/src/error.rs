//! Why an image got no verdict. Every failure is one of these, with a short code for results and
//! metrics; nothing on an input path panics.

/// The input itself is the problem: retrying will not help.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InputError {
    #[error("empty object: zero bytes")]
    Empty,
    #[error("object too large: {size} bytes exceeds the limit of {limit} bytes")]
    TooLarge { size: u64, limit: u64 },
    #[error("not a supported image (png, jpeg, gif, webp, bmp, tiff): the content is {detail}")]
    UnsupportedType { detail: String },
    #[error("image dimensions {width}x{height} exceed the limit of {limit} pixels (possible decompression bomb)")]
    TooManyPixels { width: u32, height: u32, limit: u64 },
    #[error("corrupt image ({media_type}): {detail}")]
    Corrupt { media_type: String, detail: String },
    #[error("could not bring the image under {limit} bytes for the model")]
    CannotShrink { limit: usize },
}

impl InputError {
    pub fn code(&self) -> &'static str {
        match self {
            InputError::Empty => "empty",
            InputError::TooLarge { .. } => "too_large",
            InputError::UnsupportedType { .. } => "unsupported_type",
            InputError::TooManyPixels { .. } => "too_many_pixels",
            InputError::Corrupt { .. } => "corrupt",
            InputError::CannotShrink { .. } => "cannot_shrink",
        }
    }
}

/// Why a detector gave no verdict.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PiiDetectError {
    #[error(transparent)]
    Input(#[from] InputError),
    #[error("OCR failed: {0}")]
    Ocr(String),
    /// The detector cannot run as configured (OCR data or face cascade missing, bad config file).
    #[error("detector configuration: {0}")]
    Config(String),
    /// The model call failed (`code` is the backend's, e.g. `ThrottlingException`) or its answers
    /// stayed invalid after the repair (`model_answer_invalid`).
    #[error("{message}")]
    Model {
        code: String,
        message: String,
        retryable: bool,
    },
    /// The detector's task died (a panic in a blocking task, a cancelled runtime).
    #[error("detector failed: {0}")]
    Internal(String),
}

impl PiiDetectError {
    /// A short machine-readable code: the input error's code, `ocr`, `config`, the model
    /// backend's code or `model_answer_invalid`, `detector_failed`.
    pub fn code(&self) -> &str {
        match self {
            PiiDetectError::Input(error) => error.code(),
            PiiDetectError::Ocr(_) => "ocr",
            PiiDetectError::Config(_) => "config",
            PiiDetectError::Model { code, .. } => code,
            PiiDetectError::Internal(_) => "detector_failed",
        }
    }

    /// Whether trying again later may give a verdict (throttling, a service unavailable).
    pub fn retryable(&self) -> bool {
        matches!(
            self,
            PiiDetectError::Model {
                retryable: true,
                ..
            }
        )
    }
}
