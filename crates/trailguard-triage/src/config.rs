//! How triage asks the model: when (the policy), which model, with which parameters, and how
//! much of its answer is accepted.

use trailguard_core::ask::{InferenceParams, PromptOptions, RepairPolicy, ResponseLimits};

use crate::policy::AskConfig;
use crate::prompt::Language;

pub use trailguard_core::ask::DEFAULT_LOG_MODEL_ID;

#[derive(Debug, Clone, PartialEq)]
pub struct TriageConfig {
    pub ask: AskConfig,
    pub model_id: String,
    pub inference: InferenceParams,
    pub prompt: PromptOptions,
    pub limits: ResponseLimits,
    pub repair: RepairPolicy,
    /// The language the model writes `summarize` and `event_title` in.
    pub language: Language,
}

impl Default for TriageConfig {
    /// The guide's call (Claude 3 Haiku, MaxTokens 2048, Temperature 0.5), asked when an event
    /// is not trivially benign, one repair for an invalid answer.
    fn default() -> Self {
        TriageConfig {
            ask: AskConfig::default(),
            model_id: DEFAULT_LOG_MODEL_ID.into(),
            inference: InferenceParams::guide_logs(),
            prompt: PromptOptions::default(),
            limits: ResponseLimits::default(),
            repair: RepairPolicy::default(),
            language: Language::English,
        }
    }
}
