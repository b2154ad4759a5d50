//! TrailGuard's log triage, in one place.
//!
//! - [`facts`]: what an event says (who, what, which object, from where), read off the event;
//! - [`detector`]: the rule floor: embedded Sigma rules (the repository's `rules/`) plus rule
//!   directories, built-in cross-field checks ([`builtin`]), GuardDuty severity ([`guardduty`]);
//!   rules read CloudTrail records through [`document`]; [`injection`]: attempts to steer a
//!   model through log fields;
//! - [`correlator`]: the stateful correlation step (bursts), fed in time order;
//! - [`record`]: facts + hits → the analysis record; [`json`]: its fast JSON writer;
//! - [`policy`], [`prompt`] (with [`compact`]), [`answer`], [`merge`]: when to ask the model,
//!   what to ask (a compacted record and the rule hits), how its answer is checked, and how it is
//!   merged (the model may only raise the level);
//! - [`Triage`]: one event at a time (the Lambda, the local runner); [`pipeline`]: many events
//!   in parallel, in order (`trailguard analyze`). Both run the same stages;
//! - [`handler`]: the log-analysis Lambda's logic.

pub mod analysis;
pub mod answer;
pub mod builtin;
pub mod compact;
pub mod config;
mod consult;
pub mod correlator;
pub mod detector;
pub mod document;
pub mod embedded;
pub mod facts;
pub mod guardduty;
pub mod handler;
pub mod injection;
pub mod injection_corpus;
pub mod json;
pub mod merge;
pub mod pipeline;
pub mod policy;
pub mod precorrelated;
pub mod prompt;
pub mod record;
mod swar;
pub mod triage;

pub use analysis::{Analysis, ModelOutcome, ModelStatus};
pub use answer::{validate_log_answer, ModelAnalysis};
pub use builtin::{BuiltinInfo, BUILTINS};
pub use config::{TriageConfig, DEFAULT_LOG_MODEL_ID};
pub use consult::{model_only_verdict, ModelOnlyError, ModelOnlyPrompt};
pub use correlator::Correlator;
pub use detector::{DetectError, Detector, DetectorOptions, LoadReport, LoadedRule};
pub use document::RecordDoc;
pub use embedded::{EMBEDDED_RULES, EMBEDDED_SOURCE_PREFIX};
pub use facts::{facts_from_event, EventFacts};
pub use handler::{AnalysisHandlerError, LogAnalysisHandler};
pub use json::write_json;
pub use merge::{merge_model_answer, merge_model_answer_in};
pub use pipeline::{InputError, InputRecord, Outcome, PipelineOptions};
pub use policy::{AskConfig, AskPolicy};
pub use prompt::{
    build_log_prompt, build_log_prompt_with, guide_prompt, log_answer_schema,
    log_answer_schema_for, Language, LogPrompt, LogPromptSettings, PromptRules, LOG_OUTPUT_SCHEMA,
};
pub use record::{build_record, build_record_owned, record_from_event};
pub use triage::{AnalysisError, Triage, TriageError};

#[cfg(test)]
#[path = "../tests/support/shared_data.rs"]
mod shared_data;
