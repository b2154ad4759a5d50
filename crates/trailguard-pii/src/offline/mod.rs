//! The offline detector (feature `offline`): runs inside the PII Lambda or on a laptop, with no
//! model and no network.
//!
//! Input safety (crate `decode`) → preprocessing ([`preprocess`]) → OCR passes ([`engines`]:
//! Tesseract, eng+kor, in [`tesseract`]) → the validating recognisers and the policy → faces
//! ([`haar`]) → a [`PiiVerdict`](crate::PiiVerdict), and an optional redacted copy
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
pub mod latency;
pub mod preprocess;
pub mod redact;
pub mod tesseract;

pub use config::{load_config, parse_config, OfflineConfig};
pub use detector::{Analysis, OfflinePiiDetector};
pub use engines::{FaceDetector, OcrEngine, Segmentation};
pub use haar::{HaarCascade, HaarFaces};
pub use tesseract::TesseractOcr;
