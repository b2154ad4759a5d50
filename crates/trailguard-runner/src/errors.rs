//! Which error names each service integration can emit, so a Retry or Catch never waits for a
//! name that cannot occur (it would silently never match).
//!
//! Step Functions names an AWS SDK integration's errors `ServiceName.ErrorName`, Pascal case, and
//! always with an `Exception` suffix, the error names being those of the service's API reference
//! (<https://docs.aws.amazon.com/step-functions/latest/dg/supported-services-awssdk.html>: "make
//! sure to add the Exception suffix ... S3.BucketAlreadyExistsException"). The Lambda optimized
//! integration's names are on
//! <https://docs.aws.amazon.com/step-functions/latest/dg/connect-lambda.html> (the recommended
//! Retry list), plus whatever `errorType` the function itself raises.

use serde::Serialize;
use trailguard_asl::{base_resource, StateMachine, LAMBDA_INVOKE};

/// The S3 API model's error shapes: an S3 error code with a shape arrives as
/// `S3.<Code>Exception`; any other code (SlowDown, InternalError, ServiceUnavailable, NoSuchVersion,
/// ...) arrives as the SDK's generic `S3.S3Exception`, its status in the Cause. A Retry that waits for
/// `S3.SlowDownException` would never match (infra/workflow-errors.json has the sources).
pub const S3_MODELED_CODES: &[&str] = &[
    "AccessDenied",
    "BucketAlreadyExists",
    "BucketAlreadyOwnedByYou",
    "EncryptionTypeMismatch",
    "IdempotencyParameterMismatch",
    "InvalidObjectState",
    "InvalidRequest",
    "InvalidWriteOffset",
    "NoSuchBucket",
    "NoSuchKey",
    "NoSuchUpload",
    "NotFound",
    "ObjectAlreadyInActiveTierError",
    "ObjectNotInActiveTierError",
    "TooManyParts",
];

/// The names the S3 SDK integration can emit: `S3.S3Exception` and one per modelled shape.
pub const S3_ERRORS: &[&str] = &[
    "S3.S3Exception",
    "S3.AccessDeniedException",
    "S3.BucketAlreadyExistsException",
    "S3.BucketAlreadyOwnedByYouException",
    "S3.EncryptionTypeMismatchException",
    "S3.IdempotencyParameterMismatchException",
    "S3.InvalidObjectStateException",
    "S3.InvalidRequestException",
    "S3.InvalidWriteOffsetException",
    "S3.NoSuchBucketException",
    "S3.NoSuchKeyException",
    "S3.NoSuchUploadException",
    "S3.NotFoundException",
    "S3.ObjectAlreadyInActiveTierErrorException",
    "S3.ObjectNotInActiveTierErrorException",
    "S3.TooManyPartsException",
];

/// SNS Publish's errors (<https://docs.aws.amazon.com/sns/latest/api/API_Publish.html>, Errors;
/// `Throttled` is modelled for the SMS operations only).
pub const SNS_ERRORS: &[&str] = &[
    "SNS.AuthorizationErrorException",
    "SNS.EndpointDisabledException",
    "SNS.InternalErrorException",
    "SNS.InvalidParameterException",
    "SNS.InvalidParameterValueException",
    "SNS.InvalidSecurityException",
    "SNS.KMSAccessDeniedException",
    "SNS.KMSDisabledException",
    "SNS.KMSInvalidStateException",
    "SNS.KMSNotFoundException",
    "SNS.KMSOptInRequiredException",
    "SNS.KMSThrottlingException",
    "SNS.NotFoundException",
    "SNS.PlatformApplicationDisabledException",
    "SNS.ValidationException",
];

/// The Lambda integration's own names; a function adds its `errorType`s.
pub const LAMBDA_ERRORS: &[&str] = &[
    "Lambda.ServiceException",
    "Lambda.AWSLambdaException",
    "Lambda.SdkClientException",
    "Lambda.TooManyRequestsException",
    "Lambda.ResourceNotFoundException",
    "Lambda.Unknown",
];

/// Bedrock Runtime Converse's errors (<https://docs.aws.amazon.com/bedrock/latest/APIReference/API_runtime_Converse.html>).
pub const BEDROCK_ERRORS: &[&str] = &[
    "BedrockRuntime.AccessDeniedException",
    "BedrockRuntime.InternalServerException",
    "BedrockRuntime.ModelErrorException",
    "BedrockRuntime.ModelNotReadyException",
    "BedrockRuntime.ModelTimeoutException",
    "BedrockRuntime.ResourceNotFoundException",
    "BedrockRuntime.ServiceUnavailableException",
    "BedrockRuntime.ThrottlingException",
    "BedrockRuntime.ValidationException",
];

/// Names a function TrailGuard deploys raises (`TaskFailure::error_name`).
pub const TRAILGUARD_FUNCTION_ERRORS: &[&str] = &[
    "TrailGuard.InvalidInput",
    "TrailGuard.Internal",
    "TrailGuard.PiiRetryable",
    "TrailGuard.PiiNoVerdict",
    "TrailGuard.KbSyncInput",
    "TrailGuard.KbSyncRetryable",
    "TrailGuard.KbSyncFailed",
];

/// The names a Task resource can emit, or `None` when it is not one this table knows.
pub fn emittable(resource: &str) -> Option<Vec<&'static str>> {
    let base = base_resource(resource);
    if base == LAMBDA_INVOKE || trailguard_asl::is_lambda_arn(base) {
        return Some(
            LAMBDA_ERRORS
                .iter()
                .chain(TRAILGUARD_FUNCTION_ERRORS)
                .copied()
                .collect(),
        );
    }
    if base.starts_with("arn:aws:states:::aws-sdk:s3:") || base == "arn:aws:states:::s3:getObject" {
        return Some(S3_ERRORS.to_vec());
    }
    if base == "arn:aws:states:::sns:publish" {
        return Some(SNS_ERRORS.to_vec());
    }
    if base.starts_with("arn:aws:states:::aws-sdk:bedrockruntime:") {
        return Some(BEDROCK_ERRORS.to_vec());
    }
    None
}

/// A Retry or Catch name the called integration cannot emit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UnknownErrorName {
    pub state: String,
    pub resource: String,
    pub error: String,
}

/// Every Retry/Catch error name of every Task that its integration cannot emit. `States.*` names
/// are the engine's own and always possible.
pub fn unknown_error_names(machine: &StateMachine) -> Vec<UnknownErrorName> {
    let mut problems = Vec::new();
    for task in &machine.tasks {
        let known = emittable(&task.resource);
        for error in &task.error_names {
            if error.starts_with("States.") {
                continue;
            }
            let ok = known.as_ref().is_some_and(|k| k.contains(&error.as_str()));
            if !ok {
                problems.push(UnknownErrorName {
                    state: task.state.clone(),
                    resource: task.resource.clone(),
                    error: error.clone(),
                });
            }
        }
    }
    problems
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::definition::{default_substitutions, load_state_machine, SECURITY_AUDIT_DEFINITION};

    #[test]
    fn the_workflow_waits_only_for_names_that_can_occur() {
        let machine = load_state_machine(
            SECURITY_AUDIT_DEFINITION,
            "security-audit",
            &default_substitutions(),
        )
        .unwrap();
        assert_eq!(unknown_error_names(&machine), Vec::new());
    }

    #[test]
    fn a_name_no_integration_emits_is_reported() {
        let definition = r#"{"StartAt": "A", "States": {"A": {"Type": "Task",
            "Resource": "arn:aws:states:::aws-sdk:s3:headObject", "Parameters": {"Bucket": "b", "Key": "k"},
            "Retry": [{"ErrorEquals": ["S3.SlowDownException", "States.Timeout"]}], "End": true}}}"#;
        let machine = load_state_machine(definition, "t", &Default::default()).unwrap();
        assert_eq!(
            unknown_error_names(&machine),
            [UnknownErrorName {
                state: "A".into(),
                resource: "arn:aws:states:::aws-sdk:s3:headObject".into(),
                error: "S3.SlowDownException".into(),
            }]
        );
    }
}
