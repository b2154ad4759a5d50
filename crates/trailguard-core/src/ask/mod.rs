//! Asking a model safely, whatever the step: data kept apart from instructions in nonce-tagged
//! blocks ([`prompt`]), answers checked rather than trusted ([`answer`]), model-written text
//! cleaned before it reaches an alert ([`sanitize`]), and one repair call for an invalid answer
//! ([`repair`]). The log-analysis and image prompts themselves live with their steps.

pub mod answer;
pub mod prompt;
pub mod repair;
pub mod sanitize;

pub use answer::{extract_json_object, ResponseLimits, ValidationError};
pub use prompt::{InferenceParams, PromptError, PromptOptions};
pub use repair::{converse_validated, ModelFailure, RepairPolicy, Validated};
pub use sanitize::{mask_digits, sanitize_text};
