//! Execution history in the shape of `GetExecutionHistory` events.

use serde::Serialize;
use serde_json::{Map, Value};

#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct HistoryEvent {
    pub timestamp: String,
    #[serde(rename = "type")]
    pub event_type: String,
    pub id: u64,
    pub previous_event_id: u64,
    /// e.g. `{"stateEnteredEventDetails": {"name": ..., "input": ...}}`.
    #[serde(flatten)]
    pub details: Map<String, Value>,
}

/// `stateEnteredEventDetails`-style detail key for an event type.
pub fn details_key(event_type: &str) -> String {
    let base = if event_type.ends_with("StateEntered") {
        "stateEntered"
    } else if event_type.ends_with("StateExited") {
        "stateExited"
    } else {
        event_type
    };
    let mut chars = base.chars();
    match chars.next() {
        Some(first) => format!("{}{}EventDetails", first.to_lowercase(), chars.as_str()),
        None => String::from("eventDetails"),
    }
}

/// Payloads are recorded as JSON text, as AWS does.
pub fn text(value: &Value) -> Value {
    Value::String(serde_json::to_string(value).unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detail_keys_follow_aws_naming() {
        assert_eq!(details_key("PassStateEntered"), "stateEnteredEventDetails");
        assert_eq!(details_key("TaskStateExited"), "stateExitedEventDetails");
        assert_eq!(details_key("TaskScheduled"), "taskScheduledEventDetails");
        assert_eq!(
            details_key("ExecutionFailed"),
            "executionFailedEventDetails"
        );
        assert_eq!(
            details_key("MapIterationStarted"),
            "mapIterationStartedEventDetails"
        );
    }
}
