//! What the security-audit workflow did, as a [`WorkflowOutcome`]: from an execution's status and
//! final output (the EventBridge status-change path), and from the workflow's own "Store In
//! Knowledge Base" step ([`WorkflowStep`]), which passes the analysis it acted on (the model's
//! summary included), the raw event, the path's output and the PII check's result.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use trailguard_core::AnalysisRecord;

use crate::doc::{OutcomeRecord, PiiFinding, WorkflowOutcome};

/// The `trailguard_kb` value of the workflow step's payload.
pub const WORKFLOW_STEP: &str = "workflow";

fn text<'v>(value: &'v Value, pointer: &str) -> Option<&'v str> {
    value
        .pointer(pointer)
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
}

/// `s3://bucket/key[?versionId=v]`.
fn s3_uri(bucket: Option<&str>, key: Option<&str>, version: Option<&str>) -> Option<String> {
    let (bucket, key) = (bucket?, key?);
    Some(match version {
        Some(version) => format!("s3://{bucket}/{key}?versionId={version}"),
        None => format!("s3://{bucket}/{key}"),
    })
}

/// What the security-audit workflow did, from the execution's status and its final output
/// (`{"path", "action", "level", "bucket", "key", "version_id", "quarantine", ...}`).
pub fn workflow_outcome(
    status: &str,
    output: Option<&Value>,
    error: Option<&str>,
    cause: Option<&str>,
) -> WorkflowOutcome {
    let empty = Value::Null;
    let output = output.unwrap_or(&empty);
    let path = text(output, "/path").unwrap_or_default();
    let mut outcome = WorkflowOutcome {
        status: status.to_string(),
        path: if path.is_empty() {
            Vec::new()
        } else {
            vec![path.to_string()]
        },
        ..WorkflowOutcome::default()
    };
    if status != "SUCCEEDED" {
        outcome.action = "failed".into();
        outcome.error = error.map(str::to_string);
        outcome.cause = cause.map(str::to_string);
        return outcome;
    }
    let object = || {
        s3_uri(
            text(output, "/bucket"),
            text(output, "/key"),
            text(output, "/version_id"),
        )
    };
    match path {
        "image-pii" => {
            outcome.action = match text(output, "/action") {
                Some("quarantined") => "quarantined",
                _ => "deleted",
            }
            .into();
            outcome.deleted = object();
            outcome.quarantined_to = s3_uri(
                text(output, "/quarantine/bucket"),
                text(output, "/quarantine/key"),
                None,
            );
            outcome.pii_checked = true;
            outcome.pii_detected = Some(true);
        }
        "image-no-pii" => {
            outcome.action = "alerted".into();
            outcome.pii_checked = true;
            outcome.pii_detected = Some(false);
        }
        "image-gone" => {
            outcome.action = "none".into();
            outcome.pii_checked = true;
            outcome.pii_reason =
                Some("the image was already gone when the workflow checked".into());
        }
        p if p.starts_with("threat-") => outcome.action = "alerted".into(),
        _ => outcome.action = "none".into(),
    }
    outcome
}

/// The counted findings (kinds and masked values, never the values) and the reason of a PII
/// check's rich result (`{"pii_detected", "evidence": [{"kind", "masked_value", "counted"}],
/// "reason"}`); nothing for any other shape (the guide's bare `"true"`).
pub fn pii_findings(result: &Value) -> (Vec<PiiFinding>, Option<String>) {
    let findings = result
        .get("evidence")
        .and_then(Value::as_array)
        .map(|evidence| {
            evidence
                .iter()
                .filter(|e| e.get("counted").and_then(Value::as_bool) != Some(false))
                .filter_map(|e| {
                    Some(PiiFinding {
                        kind: e.get("kind")?.as_str()?.to_string(),
                        masked_value: e
                            .get("masked_value")
                            .and_then(Value::as_str)
                            .unwrap_or_default()
                            .to_string(),
                        confidence: e.get("confidence").and_then(Value::as_f64),
                    })
                })
                .collect()
        })
        .unwrap_or_default();
    let reason = result
        .get("reason")
        .and_then(Value::as_str)
        .map(str::to_string);
    (findings, reason)
}

/// The payload of the workflow's "Store In Knowledge Base" step:
/// `{"trailguard_kb": "workflow", "execution", "event", "analysis", "output", "pii", "alert"}`.
/// The step runs only on a successful path, so the outcome is a `SUCCEEDED` one.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WorkflowStep {
    /// The execution's id (its ARN): the documents' link back.
    pub execution: String,
    /// The raw event (the execution's input).
    pub event: Value,
    /// The analysis the workflow acted on (Analyze Event's result).
    pub analysis: AnalysisRecord,
    /// The path's output (`{"path", "action", "level", ...}`).
    pub output: Value,
    /// The PII check's result, when the path ran one.
    #[serde(default)]
    pub pii: Option<Value>,
    /// The alert's headline, when the path published one (`message_id` in the output).
    #[serde(default)]
    pub alert: Option<String>,
}

impl WorkflowStep {
    /// Reads the step's payload; `None` when it is not one (no `"trailguard_kb": "workflow"`).
    pub fn from_payload(payload: &Value) -> Option<Result<WorkflowStep, serde_json::Error>> {
        (payload.get("trailguard_kb").and_then(Value::as_str) == Some(WORKFLOW_STEP))
            .then(|| serde_json::from_value(payload.clone()))
    }

    /// The outcome record the event and outcome documents are built from.
    pub fn outcome_record(self) -> OutcomeRecord {
        let mut outcome = workflow_outcome("SUCCEEDED", Some(&self.output), None, None);
        if let Some(pii) = self.pii.as_ref().filter(|p| p.is_object()) {
            let (findings, reason) = pii_findings(pii);
            outcome.pii_evidence = findings;
            if outcome.pii_reason.is_none() {
                outcome.pii_reason = reason;
            }
        }
        if text(&self.output, "/message_id").is_some() {
            outcome.alerts = self.alert.into_iter().filter(|a| !a.is_empty()).collect();
        }
        OutcomeRecord {
            trailguard_outcome: outcome,
            analysis: self.analysis,
            event: self.event,
            origin: self.execution,
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code

    use serde_json::json;

    use super::*;

    fn analysis() -> Value {
        json!({
            "event_title": "[PutObject][123456789012][alice]",
            "summarize": "The model's own words: alice uploaded a passport scan.",
            "threat_level": "high",
            "s3_bucket": "uploads",
            "s3_key": "scans/passport.png",
            "is_image_upload": true,
            "media_type": "image/png",
            "s3_version_id": "v1",
            "event_id": "e-1",
            "event_time": "2024-05-01T12:00:00Z",
            "source": "cloudtrail",
            "reasons": [],
            "mitre_techniques": []
        })
    }

    fn event() -> Value {
        json!({
            "eventVersion": "1.08", "eventID": "e-1", "eventTime": "2024-05-01T12:00:00Z",
            "eventSource": "s3.amazonaws.com", "eventName": "PutObject",
            "awsRegion": "us-east-1", "sourceIPAddress": "198.51.100.7",
            "userIdentity": {"type": "IAMUser", "userName": "alice", "accountId": "123456789012"},
            "requestParameters": {"bucketName": "uploads", "key": "scans/passport.png"}
        })
    }

    fn step(output: Value, pii: Value) -> Value {
        json!({
            "trailguard_kb": "workflow",
            "execution": "arn:aws:states:us-east-1:123456789012:execution:tg-security-audit:abc",
            "event": event(),
            "analysis": analysis(),
            "output": output,
            "pii": pii,
            "alert": "PutObject by alice"
        })
    }

    #[test]
    fn a_deleted_image_keeps_the_evidence_and_the_models_summary() {
        let payload = step(
            json!({"path": "image-pii", "action": "deleted", "level": "high",
                   "bucket": "uploads", "key": "scans/passport.png", "version_id": "v1",
                   "quarantine": null}),
            json!({"pii_detected": true, "reason": "PII found: PASSPORT x1",
            "evidence": [
                {"kind": "PASSPORT", "masked_value": "M*******9", "counted": true, "confidence": 0.9},
                {"kind": "NAME", "masked_value": "J***", "counted": false}
            ]}),
        );
        let record = WorkflowStep::from_payload(&payload)
            .unwrap()
            .unwrap()
            .outcome_record();
        let outcome = &record.trailguard_outcome;
        assert_eq!(outcome.status, "SUCCEEDED");
        assert_eq!(outcome.action, "deleted");
        assert_eq!(
            outcome.deleted.as_deref(),
            Some("s3://uploads/scans/passport.png?versionId=v1")
        );
        assert_eq!(outcome.pii_detected, Some(true));
        let kinds: Vec<&str> = outcome
            .pii_evidence
            .iter()
            .map(|f| f.kind.as_str())
            .collect();
        assert_eq!(kinds, ["PASSPORT"], "uncounted findings are left out");
        // No SNS message id in this path's output: no alert subject claimed.
        assert!(outcome.alerts.is_empty());
        assert_eq!(
            record.origin,
            "arn:aws:states:us-east-1:123456789012:execution:tg-security-audit:abc"
        );
        let (event_doc, outcome_doc) = record.documents("").unwrap();
        assert!(
            event_doc.summary.contains("The model's own words"),
            "{}",
            event_doc.summary
        );
        assert_eq!(event_doc.raw_link, record.origin);
        assert_eq!(outcome_doc.action, "deleted");
        assert!(
            outcome_doc.summary.contains("PASSPORT (M*******9)"),
            "{}",
            outcome_doc.summary
        );
    }

    #[test]
    fn an_alert_names_its_headline_only_when_a_message_was_published() {
        let alerted = WorkflowStep::from_payload(&step(
            json!({"path": "threat-high", "action": "notified", "level": "high", "message_id": "m-1"}),
            Value::Null,
        ))
        .unwrap()
        .unwrap()
        .outcome_record();
        assert_eq!(alerted.trailguard_outcome.action, "alerted");
        assert_eq!(alerted.trailguard_outcome.alerts, ["PutObject by alice"]);
        assert!(alerted.trailguard_outcome.pii_evidence.is_empty());
        assert!(!alerted.trailguard_outcome.pii_checked);
    }

    #[test]
    fn other_payloads_are_not_steps_and_bad_steps_are_errors() {
        assert!(WorkflowStep::from_payload(&json!({"trailguard_kb": "ingest"})).is_none());
        assert!(WorkflowStep::from_payload(&json!({"source": "aws.guardduty"})).is_none());
        let mut missing = step(json!({"path": "threat-low"}), Value::Null);
        missing["analysis"] = json!({"summarize": "no level"});
        assert!(WorkflowStep::from_payload(&missing).unwrap().is_err());
    }

    #[test]
    fn failed_executions_carry_the_error_not_the_path_action() {
        let outcome = workflow_outcome(
            "FAILED",
            None,
            Some("TrailGuard.WorkflowError"),
            Some("the notify stage failed"),
        );
        assert_eq!(outcome.action, "failed");
        assert_eq!(outcome.error.as_deref(), Some("TrailGuard.WorkflowError"));
        let gone = workflow_outcome(
            "SUCCEEDED",
            Some(&json!({"path": "image-gone"})),
            None,
            None,
        );
        assert_eq!(gone.action, "none");
        assert!(gone.pii_checked && gone.pii_reason.is_some());
    }
}
