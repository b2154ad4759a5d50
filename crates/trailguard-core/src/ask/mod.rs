//! Asking a model safely, whatever the step: data kept apart from instructions in nonce-tagged
//! blocks ([`prompt`]), answers checked rather than trusted ([`answer`]), model-written text
//! cleaned before it reaches an alert ([`sanitize`]), and one repair call for an invalid answer
//! ([`repair`]), and a tokenizer-free size estimate for comparing prompts ([`tokens`]). The
//! log-analysis and image prompts themselves live with their steps.

/// The model that analyses logs unless configured: Claude Haiku 4.5 through the global
/// cross-region inference profile (small and fast; current on Bedrock as of December 2026).
pub const DEFAULT_LOG_MODEL_ID: &str = "global.anthropic.claude-haiku-4-5-20251001-v1:0";
/// The vision model that looks for personal data in images unless configured: Claude Haiku 4.5
/// (it reads images) through the global profile. `anthropic.claude-sonnet-4-6` reads harder
/// images better at three times the price; infra/README.md compares them.
pub const DEFAULT_IMAGE_MODEL_ID: &str = "global.anthropic.claude-haiku-4-5-20251001-v1:0";

pub mod answer;
pub mod prompt;
pub mod repair;
pub mod sanitize;
pub mod tokens;

pub use answer::{extract_json_object, ResponseLimits, ValidationError};
pub use prompt::{InferenceParams, PromptError, PromptOptions};
pub use repair::{converse_validated, ModelFailure, RepairPolicy, Validated};
pub use sanitize::{hidden_char, mask_digits, sanitize_text, HiddenChar};
pub use tokens::approx_tokens;
