//! Model-assisted analysis for TrailGuard, without AWS or I/O of its own (models and storage
//! come in through `trailguard_core::ports`).
//!
//! - [`prompt`]: injection-resistant prompts: data inside nonce-tagged blocks, never instructions;
//! - [`validate`]: answers → checked values (fences and prose tolerated, wrong types not);
//! - [`ask`]: the repair policy (one repair call) executed over a `ChatModel`;
//! - [`merge`]: the model may raise the level, never lower it; S3 fields always from the event;
//! - [`policy`]: when to ask the model (never / always / when not trivially benign);
//! - [`analysis`]: [`analyze_event`], the log-analysis service;
//! - [`pii`]: [`detect_pii`], the image PII service, with vision-model and offline detectors.

pub mod analysis;
pub mod ask;
pub mod handlers;
pub mod merge;
pub mod pii;
pub mod policy;
pub mod prompt;
pub mod sanitize;
pub mod validate;

pub use analysis::{
    analyze_event, AnalysisConfig, AnalysisError, AssistedAnalysis, ModelOutcome, ModelStatus,
    DEFAULT_LOG_MODEL_ID,
};
pub use ask::{converse_validated, ModelFailure, RepairPolicy, Validated};
pub use handlers::{
    AnalysisHandlerError, LogAnalysisHandler, PiiHandler, PiiHandlerError, PiiRequest,
};
pub use pii::{
    detect_pii, detect_pii_version, ImageInput, ImageKind, ImageLimits, OfflinePiiAdapter,
    PiiDetect, PiiDetectError, PiiFinding, PiiResult, PiiStatus, VisionPiiDetector,
    DEFAULT_IMAGE_MODEL_ID,
};
pub use policy::{AskConfig, AskPolicy};
pub use prompt::{InferenceParams, PromptOptions};
pub use validate::{PiiEntity, ResponseLimits, ValidationError};
