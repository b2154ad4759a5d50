//! The offline detector (feature `onnx`; `offline` adds Tesseract): runs inside the PII Lambda or on a laptop, with no
//! model and no network.
//!
//! Input safety (crate `decode`) → faces ([`engines`]: BlazeFace in [`onnx`], or Haar cascades
//! in [`haar`]) → text in rounds, the likeliest lines first, stopping at the first evidence that
//! counts (PP-OCRv4 in [`onnx`], Tesseract re-reading Hangul lines; or Tesseract passes over a
//! preprocessed page, [`tesseract`], [`preprocess`]) → the validating recognisers, context cues
//! and the policy → a [`PiiVerdict`](crate::PiiVerdict), and an optional redacted copy
//! ([`redact`]). [`eval`] and [`latency`] produce the figures of `trailguard bench pii`.
//!
//! ```no_run
//! # async fn run() -> Result<(), trailguard_pii::PiiDetectError> {
//! use trailguard_pii::{ImageInput, OfflineConfig, OfflinePiiDetector, PiiDetector};
//! let detector = OfflinePiiDetector::new(OfflineConfig::default())?;
//! let bytes = std::fs::read("scan.png").unwrap_or_default();
//! let verdict = detector.detect(&ImageInput::new(&bytes, Some("image/png"))?).await?;
//! println!("{}", verdict.as_contract_str());
//! # Ok(())
//! # }
//! ```

mod config;
mod detector;
pub mod engines;
pub mod eval;
pub mod haar;
#[cfg(feature = "offline")]
pub mod latency;
pub mod onnx;
pub mod preprocess;
pub mod redact;
#[cfg(feature = "offline")]
pub mod tesseract;

pub use config::{load_config, parse_config, parse_kinds, Engine, OfflineConfig};
pub use detector::{Analysis, OfflinePiiDetector, StageMs};
pub use engines::{FaceDetector, OcrEngine, Segmentation};
pub use haar::{HaarCascade, HaarFaces};
pub use onnx::{BlazeFaces, OnnxModels, PpOcr, FETCH_COMMAND};
#[cfg(feature = "offline")]
pub use tesseract::{TesseractOcr, TesseractPages};
