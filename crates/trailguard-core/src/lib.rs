//! TrailGuard's domain model and ports.
//!
//! Everything here is pure data and traits: no AWS SDK, no file or network I/O.
//! Adapters (local directory, S3, SNS, Bedrock, OpenAI-compatible, ...) implement the
//! traits in [`ports`] in their own crates.

pub mod model;
pub mod ports;

pub use model::{AnalysisRecord, EventSource, RuleHit, ThreatLevel};
