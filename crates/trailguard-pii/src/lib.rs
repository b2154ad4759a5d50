//! Image PII detection for TrailGuard, in one place.
//!
//! One async detector trait ([`PiiDetector`]) with two implementations: [`VisionPiiDetector`]
//! (a vision chat model: Bedrock or an OpenAI-compatible server) and, with the `offline`
//! feature, `OfflinePiiDetector` (input safety → preprocessing → Tesseract OCR, eng+kor → the
//! validating recognisers → Haar-cascade faces → the policy). Both answer with one
//! [`PiiVerdict`] whose [`Evidence`] keeps kind, masked value, confidence and bounding box all
//! the way into the handler's [`PiiResult`] and the workflow's audit record.
//!
//! The `onnx` feature is the offline detector without Tesseract (what the PII Lambda's zip holds);
//! `offline` adds Tesseract. Without either (the Bedrock-only Lambda): recognisers,
//! masking, policy, verdicts, the vision detector and the [`PiiHandler`] remain. Deleting or
//! quarantining an image is the workflow's job, over the `ObjectWriter` port, not this crate's.
//!
//! Modules, one concern each:
//! - recognising: [`checks`] (Luhn, RRN, MRZ, IBAN, SSN, ...), [`recognisers`], [`text`]
//!   (OCR words ↔ searchable text), [`mask`], [`policy`];
//! - the data: [`kind`], [`bbox`], [`page`] (OCR words), [`evidence`], [`verdict`], [`result`];
//! - detecting: [`input`] (what a detector is handed), [`decode`] (decoding with limits),
//!   [`limits`], [`detector`] (the trait), [`vision`], `offline`;
//! - the step: [`handler`] (the Lambda's and the local runner's logic), [`error`].

pub mod bbox;
mod blocking;
pub mod checks;
pub mod cues;
pub mod decode;
pub mod detector;
pub mod error;
pub mod evidence;
pub mod handler;
pub mod input;
pub mod kind;
pub mod limits;
pub mod mask;
#[cfg(feature = "onnx")]
pub mod offline;
pub mod page;
pub mod policy;
pub mod recognisers;
pub mod result;
pub mod text;
pub mod verdict;
pub mod vision;

pub use bbox::BoundingBox;
pub use decode::DecodeLimits;
pub use detector::PiiDetector;
pub use error::{InputError, PiiDetectError};
pub use evidence::{Evidence, EvidenceSource};
pub use handler::{PiiHandler, PiiHandlerError, PiiRequest};
pub use input::ImageInput;
pub use kind::{EntityType, EvidenceKind};
pub use limits::ImageLimits;
#[cfg(feature = "onnx")]
pub use offline::{load_config, Analysis, Engine, OfflineConfig, OfflinePiiDetector};
pub use page::{OcrLine, OcrPage, OcrWord};
pub use policy::{PolicyConfig, Sensitivity};
pub use result::{PiiErrorInfo, PiiResult, PiiStatus};
pub use verdict::PiiVerdict;
pub use vision::{VisionPiiDetector, DEFAULT_IMAGE_MODEL_ID};
