//! TrailGuard's domain model and ports.
//!
//! Everything here is pure data, traits and logic over them: no AWS SDK, no file or network I/O.
//! - [`model`]: threat levels, rule hits, the analysis record the workflow runs on;
//! - [`ports`]: the traits adapters implement (objects, notifications, models);
//! - [`ask`]: asking a model safely (data blocks, answer checks, one repair);
//! - [`media`]: media types from events (declared type, extension) and from bytes (magic);
//! - [`data`]: where third-party evaluation data is found;
//! - [`TaskFailure`]: the error names a workflow's Retry and Catch match on.

pub mod ask;
pub mod data;
pub mod media;
pub mod model;
pub mod ports;

pub use model::{AnalysisRecord, EventSource, RuleHit, ThreatLevel};

/// An error a workflow step reports: `error_name` is what Step Functions sees as the error
/// (`TrailGuard.PiiRetryable`, ...), so Retry and Catch behave the same on AWS and locally.
pub trait TaskFailure: std::error::Error {
    fn error_name(&self) -> &'static str;
}
