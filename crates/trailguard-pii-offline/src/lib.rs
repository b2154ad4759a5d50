//! Offline image PII detection for TrailGuard: runs inside the PII Lambda or on a laptop.
//!
//! Input safety ([`input`]) → preprocessing ([`preprocess`]) → Tesseract OCR, eng+kor ([`ocr`])
//! → the validating recognisers and policy of `trailguard-pii` → optional Haar-cascade faces
//! ([`face`]) → a [`trailguard_pii::PiiVerdict`], and an optional redacted copy ([`redact`]).
//!
//! ```no_run
//! use trailguard_pii::PiiDetector;
//! use trailguard_pii_offline::{OfflineConfig, OfflinePiiDetector};
//! let detector = OfflinePiiDetector::new(OfflineConfig::default())?;
//! let verdict = detector.detect(&std::fs::read("scan.png").unwrap_or_default(), Some("image/png"))?;
//! println!("{}", verdict.as_contract_str());
//! # Ok::<(), trailguard_pii::PiiError>(())
//! ```

pub mod config;
pub mod detector;
pub mod eval;
pub mod face;
pub mod input;
pub mod latency;
pub mod ocr;
pub mod preprocess;
pub mod redact;

pub use config::load_config;
pub use detector::{Analysis, OfflineConfig, OfflinePiiDetector};
