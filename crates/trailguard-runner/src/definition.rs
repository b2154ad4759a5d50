//! TrailGuard's workflow definition and loading a definition with its substitutions.

use std::collections::HashMap;

use trailguard_asl::StateMachine;

use crate::RunnerError;

/// TrailGuard's workflow, as deployed (`${...}` are SAM DefinitionSubstitutions).
pub const SECURITY_AUDIT_DEFINITION: &str =
    include_str!("../../../statemachine/security-audit.asl.json");

/// The substitutions a local run supplies unless told otherwise (the SAM template's names).
pub fn default_substitutions() -> HashMap<String, String> {
    [
        ("AnalysisFunctionArn", "trailguard-log-analysis"),
        ("LogAnalysisFunctionArn", "trailguard-log-analysis"),
        ("PiiFunctionArn", "trailguard-pii"),
        ("KbSyncFunctionArn", "trailguard-kb-sync"),
        (
            "AlertTopicArn",
            "arn:aws:sns:us-east-1:123456789012:trailguard-alerts",
        ),
        ("UploadBucketName", "trailguard-uploads"),
        ("QuarantineBucketName", ""),
        ("PiiAction", "delete"),
        ("PiiDetector", "offline"),
        ("LogModelId", trailguard_triage::DEFAULT_LOG_MODEL_ID),
        ("ImageModelId", trailguard_pii::DEFAULT_IMAGE_MODEL_ID),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect()
}

/// Loads a definition with its `${Name}` substitutions; an unset one is an error that names it.
pub fn load_state_machine(
    text: &str,
    label: &str,
    substitutions: &HashMap<String, String>,
) -> Result<StateMachine, RunnerError> {
    let missing = trailguard_asl::unresolved_substitutions(text, substitutions);
    if !missing.is_empty() {
        return Err(RunnerError::Definition {
            label: label.to_string(),
            message: format!(
                "no value for {}: pass --sub NAME=VALUE or set [substitutions] in the bindings",
                missing
                    .iter()
                    .map(|m| format!("${{{m}}}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        });
    }
    StateMachine::from_json(text, substitutions).map_err(|e| RunnerError::Definition {
        label: label.to_string(),
        message: e.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_without_values_are_listed() {
        let subs = HashMap::from([("A".to_string(), "a".to_string())]);
        assert_eq!(
            trailguard_asl::unresolved_substitutions("${A} ${B} ${B} ${not a name}", &subs),
            ["B"]
        );
        let error = load_state_machine("{\"x\": \"${B}\"}", "test", &subs).unwrap_err();
        assert!(error.to_string().contains("${B}"), "{error}");
    }

    #[test]
    fn the_embedded_workflow_loads_with_the_defaults() {
        assert!(load_state_machine(
            SECURITY_AUDIT_DEFINITION,
            "security-audit",
            &default_substitutions()
        )
        .is_ok());
    }
}
