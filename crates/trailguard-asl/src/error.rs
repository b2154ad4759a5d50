//! Errors: definition problems found at load, and runtime failures in AWS's error names.

use serde_json::Value;

/// A definition rejected at load time.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LoadError {
    #[error("invalid JSON in state machine definition: {0}")]
    InvalidJson(String),
    #[error("state '{state}': {reason}")]
    State { state: String, reason: String },
    #[error("state machine definition: {0}")]
    Definition(String),
    #[error("state '{state}': no binding for resource '{resource}'")]
    UnboundResource { state: String, resource: String },
    #[error("bindings: {0}")]
    Bindings(String),
}

impl LoadError {
    pub(crate) fn state(state: &str, reason: impl Into<String>) -> Self {
        LoadError::State {
            state: state.to_string(),
            reason: reason.into(),
        }
    }
}

/// AWS's error names.
pub mod names {
    pub const ALL: &str = "States.ALL";
    pub const TASK_FAILED: &str = "States.TaskFailed";
    pub const TIMEOUT: &str = "States.Timeout";
    pub const HEARTBEAT_TIMEOUT: &str = "States.HeartbeatTimeout";
    pub const RUNTIME: &str = "States.Runtime";
    pub const QUERY_EVALUATION: &str = "States.QueryEvaluationError";
    pub const NO_CHOICE_MATCHED: &str = "States.NoChoiceMatched";
    pub const RESULT_PATH_MATCH_FAILURE: &str = "States.ResultPathMatchFailure";
    pub const PARAMETER_PATH_FAILURE: &str = "States.ParameterPathFailure";
    pub const INTRINSIC_FAILURE: &str = "States.IntrinsicFailure";
    pub const ITEM_READER_FAILED: &str = "States.ItemReaderFailed";
    pub const BRANCH_FAILED: &str = "States.BranchFailed";
    pub const EXCEED_TOLERATED_FAILURE: &str = "States.ExceedToleratedFailureThreshold";
    pub const PERMISSIONS: &str = "States.Permissions";
    pub const DATA_LIMIT_EXCEEDED: &str = "States.DataLimitExceeded";
}

/// A failure inside an execution: AWS's `{Error, Cause}` pair.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatesError {
    pub error: String,
    pub cause: Option<String>,
}

impl StatesError {
    pub fn new(error: impl Into<String>, cause: impl Into<String>) -> Self {
        StatesError {
            error: error.into(),
            cause: Some(cause.into()),
        }
    }

    /// `{"Error": ..., "Cause": ...}` as Catch and `$states.errorOutput` see it.
    pub fn to_output(&self) -> Value {
        let mut map = serde_json::Map::new();
        map.insert("Error".into(), Value::String(self.error.clone()));
        if let Some(cause) = &self.cause {
            map.insert("Cause".into(), Value::String(cause.clone()));
        }
        Value::Object(map)
    }
}

impl std::fmt::Display for StatesError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.cause {
            Some(cause) => write!(f, "{}: {}", self.error, cause),
            None => f.write_str(&self.error),
        }
    }
}

impl std::error::Error for StatesError {}

/// Whether a Retry/Catch `ErrorEquals` list matches `error`, with AWS's rules:
/// `States.ALL` matches everything but the terminal `States.Runtime` and
/// `States.DataLimitExceeded`; `States.TaskFailed` matches every error except `States.Timeout`.
pub fn error_matches(error_equals: &[String], error: &str) -> bool {
    error_equals.iter().any(|name| match name.as_str() {
        names::ALL => error != names::RUNTIME && error != names::DATA_LIMIT_EXCEEDED,
        names::TASK_FAILED => {
            error != names::TIMEOUT
                && error != names::RUNTIME
                && error != names::DATA_LIMIT_EXCEEDED
        }
        other => other == error,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn list(names: &[&str]) -> Vec<String> {
        names.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn matching_follows_aws_rules() {
        assert!(error_matches(
            &list(&["States.ALL"]),
            "Lambda.ServiceException"
        ));
        assert!(!error_matches(&list(&["States.ALL"]), "States.Runtime"));
        assert!(!error_matches(
            &list(&["States.ALL"]),
            "States.DataLimitExceeded"
        ));
        assert!(error_matches(&list(&["States.TaskFailed"]), "Custom"));
        assert!(!error_matches(
            &list(&["States.TaskFailed"]),
            "States.Timeout"
        ));
        assert!(error_matches(
            &list(&["A", "States.Timeout"]),
            "States.Timeout"
        ));
        assert!(!error_matches(&list(&["A"]), "B"));
    }
}
