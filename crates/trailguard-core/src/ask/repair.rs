//! The repair policy, executed: one call, validation, at most `max_repairs` repair calls.

use crate::ports::{ChatModel, ChatRequest, PortError};

use super::answer::ValidationError;
use super::prompt::{build_repair_request, PromptOptions};

/// How many repair calls an invalid answer earns: one, since a model that fails twice rarely
/// succeeds on a third try.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RepairPolicy {
    pub max_repairs: u32,
}

impl Default for RepairPolicy {
    fn default() -> Self {
        RepairPolicy { max_repairs: 1 }
    }
}

/// A validated answer and what it cost.
#[derive(Debug, Clone, PartialEq)]
pub struct Validated<T> {
    pub value: T,
    pub calls: u32,
    pub repaired: bool,
}

/// Why no valid answer came.
#[derive(Debug, Clone, PartialEq)]
pub enum ModelFailure {
    /// The call itself failed (after the adapter's own retries).
    Call { error: PortError, calls: u32 },
    /// Every answer was invalid; the last error is kept.
    Invalid { error: ValidationError, calls: u32 },
}

impl ModelFailure {
    pub fn calls(&self) -> u32 {
        match self {
            ModelFailure::Call { calls, .. } | ModelFailure::Invalid { calls, .. } => *calls,
        }
    }

    pub fn reason(&self) -> String {
        match self {
            ModelFailure::Call { error, .. } => format!("model call failed: {error}"),
            ModelFailure::Invalid { error, calls } => {
                format!("model answer invalid after {calls} call(s): {error}")
            }
        }
    }
}

/// Calls `model`, validates with `validate`, and on an invalid answer sends the repair request
/// (the answer and the error) up to `policy.max_repairs` times. Call errors are not repaired.
pub async fn converse_validated<T>(
    model: &dyn ChatModel,
    request: &ChatRequest,
    policy: RepairPolicy,
    prompt_options: &PromptOptions,
    expected_shape: &str,
    validate: impl Fn(&str) -> Result<T, ValidationError>,
) -> Result<Validated<T>, ModelFailure> {
    let mut calls = 0u32;
    let mut current = request.clone();
    loop {
        calls += 1;
        let response = model
            .converse(&current)
            .await
            .map_err(|error| ModelFailure::Call { error, calls })?;
        match validate(&response.text) {
            Ok(value) => {
                return Ok(Validated {
                    value,
                    calls,
                    repaired: calls > 1,
                })
            }
            Err(error) => {
                tracing::info!(calls, %error, "model answer invalid");
                if calls > policy.max_repairs {
                    return Err(ModelFailure::Invalid { error, calls });
                }
                // The repair goes from the original request, so the history never grows past one
                // bad answer.
                current = build_repair_request(
                    request,
                    &response.text,
                    &error,
                    expected_shape,
                    prompt_options,
                );
            }
        }
    }
}
