//! PII data model: entity types, boxes, OCR words, the verdict and the detector trait.

use serde::{Deserialize, Serialize};
use std::fmt;

/// What kind of personal data a hit is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum EntityType {
    EmailAddress,
    PhoneNumber,
    CreditCard,
    /// Korean resident registration number (주민등록번호) or alien registration number.
    KrRrn,
    KrPassport,
    KrDriverLicense,
    /// Machine-readable zone of a passport or ID card (ICAO 9303 TD1/TD3).
    Mrz,
    UsSsn,
    Iban,
    IpAddress,
    Person,
    Face,
}

impl EntityType {
    pub const ALL: [EntityType; 12] = [
        EntityType::EmailAddress,
        EntityType::PhoneNumber,
        EntityType::CreditCard,
        EntityType::KrRrn,
        EntityType::KrPassport,
        EntityType::KrDriverLicense,
        EntityType::Mrz,
        EntityType::UsSsn,
        EntityType::Iban,
        EntityType::IpAddress,
        EntityType::Person,
        EntityType::Face,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            EntityType::EmailAddress => "EMAIL_ADDRESS",
            EntityType::PhoneNumber => "PHONE_NUMBER",
            EntityType::CreditCard => "CREDIT_CARD",
            EntityType::KrRrn => "KR_RRN",
            EntityType::KrPassport => "KR_PASSPORT",
            EntityType::KrDriverLicense => "KR_DRIVER_LICENSE",
            EntityType::Mrz => "MRZ",
            EntityType::UsSsn => "US_SSN",
            EntityType::Iban => "IBAN",
            EntityType::IpAddress => "IP_ADDRESS",
            EntityType::Person => "PERSON",
            EntityType::Face => "FACE",
        }
    }

    pub fn parse(name: &str) -> Option<EntityType> {
        EntityType::ALL
            .into_iter()
            .find(|t| t.as_str().eq_ignore_ascii_case(name.trim()))
    }
}

impl fmt::Display for EntityType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A pixel rectangle in the original image's orientation (after EXIF rotation).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct BoundingBox {
    pub left: u32,
    pub top: u32,
    pub width: u32,
    pub height: u32,
}

impl BoundingBox {
    pub fn new(left: u32, top: u32, width: u32, height: u32) -> Self {
        BoundingBox {
            left,
            top,
            width,
            height,
        }
    }

    pub fn right(&self) -> u32 {
        self.left.saturating_add(self.width)
    }

    pub fn bottom(&self) -> u32 {
        self.top.saturating_add(self.height)
    }

    pub fn union(&self, other: &BoundingBox) -> BoundingBox {
        let left = self.left.min(other.left);
        let top = self.top.min(other.top);
        let right = self.right().max(other.right());
        let bottom = self.bottom().max(other.bottom());
        BoundingBox::new(left, top, right - left, bottom - top)
    }

    pub fn area(&self) -> u64 {
        u64::from(self.width) * u64::from(self.height)
    }

    /// Intersection over union, for matching detections against ground truth.
    pub fn iou(&self, other: &BoundingBox) -> f64 {
        let left = self.left.max(other.left);
        let top = self.top.max(other.top);
        let right = self.right().min(other.right());
        let bottom = self.bottom().min(other.bottom());
        if right <= left || bottom <= top {
            return 0.0;
        }
        let inter = u64::from(right - left) * u64::from(bottom - top);
        let union = self.area() + other.area() - inter;
        if union == 0 {
            0.0
        } else {
            inter as f64 / union as f64
        }
    }

    /// Scales a box found on a resized image back to the original size.
    pub fn scaled(&self, factor: f64) -> BoundingBox {
        let s = |v: u32| ((f64::from(v)) * factor).round().max(0.0) as u32;
        BoundingBox::new(s(self.left), s(self.top), s(self.width), s(self.height))
    }
}

/// One detected entity. `text_masked` never holds the full value.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Entity {
    pub entity_type: EntityType,
    /// 0..1: how sure the recogniser is (validation passed, context seen, OCR confidence).
    pub confidence: f32,
    pub bbox: Option<BoundingBox>,
    pub text_masked: String,
    /// Which recogniser (and validation) produced it, e.g. `credit_card:luhn+iin`.
    pub recogniser: String,
    /// Whether the policy counted it towards the verdict.
    #[serde(default)]
    pub counted: bool,
}

/// One OCR word with its box and confidence (0..1).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OcrWord {
    pub text: String,
    pub bbox: BoundingBox,
    pub confidence: f32,
}

/// Words of one text line, left to right.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct OcrLine {
    pub words: Vec<OcrWord>,
}

/// The OCR result of one image (or one preprocessing pass).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct OcrPage {
    pub lines: Vec<OcrLine>,
}

impl OcrPage {
    pub fn word_count(&self) -> usize {
        self.lines.iter().map(|l| l.words.len()).sum()
    }

    pub fn mean_confidence(&self) -> f32 {
        let n = self.word_count();
        if n == 0 {
            return 0.0;
        }
        let sum: f32 = self
            .lines
            .iter()
            .flat_map(|l| l.words.iter())
            .map(|w| w.confidence)
            .sum();
        sum / n as f32
    }
}

/// The detector's answer for one image. The guide's Lambda contract is `pii_detected` as "true"/"false".
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PiiVerdict {
    pub pii_detected: bool,
    pub entities: Vec<Entity>,
    pub detector: String,
    /// Why: which counted entities decided it, or why nothing did.
    pub reason: String,
    /// The type found from magic bytes (e.g. `image/png`), never the uploader's claim.
    pub media_type_detected: Option<String>,
    /// The uploader's claim, when it disagreed with the magic bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub media_type_declared_mismatch: Option<String>,
    pub width: u32,
    pub height: u32,
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
}

/// Why an input could not be judged. Each is a clear, non-crashing result.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize, Deserialize)]
#[serde(tag = "error", rename_all = "snake_case")]
pub enum PiiError {
    #[error("empty object: zero bytes")]
    Empty,
    #[error("object too large: {size} bytes exceeds the limit of {limit} bytes")]
    TooLarge { size: u64, limit: u64 },
    #[error("not a supported image: {detail}")]
    UnsupportedType { detail: String },
    #[error("image dimensions {width}x{height} exceed the limit of {limit} pixels (possible decompression bomb)")]
    TooManyPixels { width: u32, height: u32, limit: u64 },
    #[error("corrupt image ({media_type}): {detail}")]
    Corrupt { media_type: String, detail: String },
    #[error("OCR failed: {detail}")]
    Ocr { detail: String },
    #[error("detector configuration: {detail}")]
    Config { detail: String },
}

impl PiiError {
    /// A short machine-readable code for results and metrics.
    pub fn code(&self) -> &'static str {
        match self {
            PiiError::Empty => "empty",
            PiiError::TooLarge { .. } => "too_large",
            PiiError::UnsupportedType { .. } => "unsupported_type",
            PiiError::TooManyPixels { .. } => "too_many_pixels",
            PiiError::Corrupt { .. } => "corrupt",
            PiiError::Ocr { .. } => "ocr",
            PiiError::Config { .. } => "config",
        }
    }
}

/// An image PII detector: the offline one, or a vision-model adapter.
pub trait PiiDetector: Send + Sync {
    fn name(&self) -> &str;
    fn detect(
        &self,
        bytes: &[u8],
        declared_media_type: Option<&str>,
    ) -> Result<PiiVerdict, PiiError>;
}
