//! What one execution did, read from its typed trace: the states taken, the threat level, the
//! alerts sent, the image checked and what happened to it.

use serde::Serialize;
use serde_json::Value;
use trailguard_asl::{Execution, ExecutionStatus, TraceEvent, LAMBDA_INVOKE};
use trailguard_core::ports::ObjectRef;

use crate::integrations::{function_name, S3_SDK, SNS_PUBLISH};

/// One alert an execution published.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SentAlert {
    pub subject: Option<String>,
    pub message_id: String,
    /// The `threat_level` message attribute, when the workflow set one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub threat_level: Option<String>,
}

/// What happened to the event's object, if anything.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    Deleted,
    Quarantined,
    Alerted,
    None,
    Failed,
}

impl Action {
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Deleted => "deleted",
            Action::Quarantined => "quarantined",
            Action::Alerted => "alerted",
            Action::None => "none",
            Action::Failed => "failed",
        }
    }
}

/// One execution, summarised.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ExecutionReport {
    pub status: ExecutionStatus,
    pub path: Vec<String>,
    pub action: Action,
    /// The object version removed (delete, or the delete after a quarantine copy).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deleted: Option<ObjectRefView>,
    /// Where a quarantined copy went.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub quarantined_to: Option<ObjectRefView>,
    pub threat_level: Option<String>,
    /// What the analysis function returned (the guide's fields, the rule hits, the model's part).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub analysis: Option<Value>,
    pub alerts: Vec<SentAlert>,
    pub pii_checked: bool,
    pub pii_detected: Option<bool>,
    pub error: Option<String>,
    pub cause: Option<String>,
    pub output: Option<Value>,
}

/// An object as reports show it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ObjectRefView {
    pub bucket: String,
    pub key: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version_id: Option<String>,
}

impl ObjectRefView {
    fn from_arguments(arguments: &Value) -> Self {
        let text = |k: &str| arguments.get(k).and_then(Value::as_str).map(str::to_string);
        ObjectRefView {
            bucket: text("Bucket").unwrap_or_default(),
            key: text("Key").unwrap_or_default(),
            version_id: text("VersionId"),
        }
    }

    pub fn object_ref(&self) -> ObjectRef {
        ObjectRef::new(&self.bucket, &self.key).at_version(self.version_id.as_deref())
    }
}

impl std::fmt::Display for ObjectRefView {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.object_ref().fmt(f)
    }
}

/// The line that separates an alert's readable text from its JSON appendix.
pub const DETAILS_MARKER: &str = "\n--- details (JSON) ---\n";

/// The JSON appendix of an alert TrailGuard's workflow published (the analysis, the audit record
/// or the error), or the whole message when it is JSON itself (the guide's own workflow).
pub fn alert_details(message: &str) -> Option<Value> {
    let json = match message.split_once(DETAILS_MARKER) {
        Some((_, json)) => json,
        None => message,
    };
    serde_json::from_str(json).ok()
}

/// The guide's `"true"`/`"false"`, a boolean, or the rich result's `pii_detected`.
pub fn pii_verdict(payload: &Value) -> Option<bool> {
    match payload {
        Value::Bool(b) => Some(*b),
        Value::String(s) => match s.trim().to_ascii_lowercase().as_str() {
            "true" => Some(true),
            "false" => Some(false),
            _ => None,
        },
        Value::Object(o) => o.get("pii_detected").and_then(pii_verdict),
        _ => None,
    }
}

/// Which functions are which, for reading a trace.
#[derive(Debug, Clone, Default)]
pub struct FunctionRoles {
    pub analysis: Vec<String>,
    pub pii: Vec<String>,
}

impl FunctionRoles {
    fn is(list: &[String], reference: &str) -> bool {
        let name = function_name(reference);
        list.iter()
            .any(|f| f == reference || function_name(f) == name)
    }

    pub fn is_pii(&self, reference: &str) -> bool {
        Self::is(&self.pii, reference)
    }

    pub fn is_analysis(&self, reference: &str) -> bool {
        Self::is(&self.analysis, reference)
    }
}

/// The function a Lambda task called.
fn called_function(resource: &str, arguments: &Value) -> Option<String> {
    if resource == LAMBDA_INVOKE {
        arguments
            .get("FunctionName")
            .and_then(Value::as_str)
            .map(str::to_string)
    } else if trailguard_asl::is_lambda_arn(resource) {
        Some(resource.to_string())
    } else {
        None
    }
}

/// Reads an execution's trace.
pub fn report(execution: &Execution, roles: &FunctionRoles) -> ExecutionReport {
    let mut path = Vec::new();
    let mut analysis: Option<Value> = None;
    let mut level_from_output = None;
    let mut alerts = Vec::new();
    let mut deleted = None;
    let mut quarantined_to = None;
    let mut pii_checked = false;
    let mut pii_detected = None;
    for event in &execution.trace {
        match event {
            TraceEvent::StateEntered { state } => path.push(state.clone()),
            TraceEvent::StateExited { output, .. } => {
                if level_from_output.is_none() {
                    level_from_output = output
                        .get("threat_level")
                        .and_then(Value::as_str)
                        .map(str::to_string);
                }
            }
            TraceEvent::TaskSucceeded {
                resource,
                arguments,
                result,
                ..
            } => {
                if resource == SNS_PUBLISH {
                    alerts.push(SentAlert {
                        subject: arguments
                            .get("Subject")
                            .and_then(Value::as_str)
                            .map(str::to_string),
                        message_id: result
                            .get("MessageId")
                            .and_then(Value::as_str)
                            .unwrap_or_default()
                            .to_string(),
                        threat_level: arguments
                            .pointer("/MessageAttributes/threat_level/StringValue")
                            .and_then(Value::as_str)
                            .map(str::to_string),
                    });
                } else if let Some(action) = resource.strip_prefix(S3_SDK) {
                    match action {
                        "deleteObject" => deleted = Some(ObjectRefView::from_arguments(arguments)),
                        "copyObject" => {
                            quarantined_to = Some(ObjectRefView::from_arguments(arguments))
                        }
                        _ => {}
                    }
                } else if let Some(function) = called_function(resource, arguments) {
                    let payload = if resource == LAMBDA_INVOKE {
                        result.get("Payload").unwrap_or(&Value::Null)
                    } else {
                        result
                    };
                    if roles.is_pii(&function) {
                        pii_checked = true;
                        pii_detected = pii_verdict(payload);
                    } else if roles.is_analysis(&function) && analysis.is_none() {
                        analysis = Some(payload.clone());
                    }
                }
            }
            TraceEvent::TaskFailed { .. } => {}
        }
    }
    let failed = execution.status == ExecutionStatus::Failed;
    let action = match (failed, &deleted, &quarantined_to, alerts.is_empty()) {
        (true, ..) => Action::Failed,
        (false, Some(_), Some(_), _) => Action::Quarantined,
        (false, Some(_), None, _) => Action::Deleted,
        (false, None, _, false) => Action::Alerted,
        (false, None, _, true) => Action::None,
    };
    ExecutionReport {
        status: execution.status,
        path,
        action,
        deleted,
        quarantined_to,
        threat_level: analysis
            .as_ref()
            .and_then(|a| a.get("threat_level"))
            .and_then(Value::as_str)
            .map(str::to_string)
            .or(level_from_output),
        analysis,
        alerts,
        pii_checked,
        pii_detected,
        error: execution.error.clone(),
        cause: execution.cause.clone(),
        output: execution.output.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn alert_details_are_the_json_appendix() {
        let message =
            "TrailGuard rated an AWS event HIGH.\n\nEvent: X\n\n--- details (JSON) ---\n{\"a\": 1}";
        assert_eq!(alert_details(message), Some(json!({"a": 1})));
        assert_eq!(alert_details("{\"b\": 2}"), Some(json!({"b": 2})));
        assert_eq!(alert_details("plain text"), None);
    }

    #[test]
    fn verdicts_come_in_both_shapes() {
        assert_eq!(pii_verdict(&json!("true")), Some(true));
        assert_eq!(pii_verdict(&json!("FALSE")), Some(false));
        assert_eq!(pii_verdict(&json!({"pii_detected": true})), Some(true));
        assert_eq!(pii_verdict(&json!({"pii_detected": null})), None);
    }
}
