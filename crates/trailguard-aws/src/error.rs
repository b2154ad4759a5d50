//! SDK errors → `PortError`, keeping the service's error code.

use aws_sdk_s3::config::http::HttpResponse;
use aws_sdk_s3::error::{ProvideErrorMetadata, SdkError};
use aws_smithy_types::error::display::DisplayErrorContext;
use trailguard_core::ports::{PortError, PortErrorKind};

/// The kind of failure an AWS error code names, if it is one we know.
pub fn classify_error_code(code: &str) -> Option<PortErrorKind> {
    let kind = match code {
        "NoSuchKey"
        | "NoSuchBucket"
        | "NoSuchVersion"
        | "NotFound"
        | "NotFoundException"
        | "ResourceNotFoundException"
        | "NoSuchUpload" => PortErrorKind::NotFound,
        "AccessDenied"
        | "AccessDeniedException"
        | "AuthorizationError"
        | "Forbidden"
        | "InvalidAccessKeyId"
        | "SignatureDoesNotMatch"
        | "ExpiredToken"
        | "ExpiredTokenException"
        | "UnrecognizedClientException"
        | "InvalidClientTokenId"
        | "KMSAccessDenied"
        | "KMSAccessDeniedException"
        | "AllAccessDisabled" => PortErrorKind::AccessDenied,
        "ThrottlingException"
        | "Throttling"
        | "Throttled"
        | "ThrottledException"
        | "SlowDown"
        | "TooManyRequestsException"
        | "RequestLimitExceeded"
        | "RequestThrottled"
        | "RequestThrottledException"
        | "ProvisionedThroughputExceededException"
        | "ServiceQuotaExceededException"
        | "ModelNotReadyException"
        | "KMSThrottling"
        | "KMSThrottlingException" => PortErrorKind::Throttled,
        "ServiceUnavailable"
        | "ServiceUnavailableException"
        | "InternalError"
        | "InternalFailure"
        | "InternalServerException"
        | "InternalErrorException"
        | "ModelTimeoutException"
        | "RequestTimeout"
        | "RequestTimeoutException" => PortErrorKind::Unavailable,
        "ValidationException"
        | "ValidationError"
        | "InvalidParameter"
        | "InvalidParameterException"
        | "InvalidParameterValue"
        | "InvalidParameterValueException"
        | "InvalidRequest"
        | "InvalidArgument"
        | "InvalidTag"
        | "MalformedXML"
        | "InvalidBucketName"
        | "KeyTooLongError"
        | "EntityTooLarge"
        | "ModelErrorException"
        | "InvalidObjectState" => PortErrorKind::InvalidInput,
        _ => return None,
    };
    Some(kind)
}

fn classify_status(status: u16) -> PortErrorKind {
    match status {
        404 => PortErrorKind::NotFound,
        401 | 403 => PortErrorKind::AccessDenied,
        // S3 answers 503 SlowDown when throttling.
        429 | 503 => PortErrorKind::Throttled,
        500..=599 => PortErrorKind::Unavailable,
        400..=499 => PortErrorKind::InvalidInput,
        _ => PortErrorKind::Other,
    }
}

/// Maps an SDK error from `operation` (e.g. `s3:GetObject`) to a `PortError`.
pub fn port_error_from_sdk<E>(operation: &str, error: &SdkError<E, HttpResponse>) -> PortError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    match error {
        SdkError::ServiceError(context) => {
            let status = context.raw().status().as_u16();
            let source = context.err();
            let code = source.code().map(str::to_owned);
            let kind = code
                .as_deref()
                .and_then(classify_error_code)
                .unwrap_or_else(|| classify_status(status));
            let detail = source
                .message()
                .map(str::to_owned)
                .unwrap_or_else(|| DisplayErrorContext(source).to_string());
            let port_error = PortError::new(
                kind,
                format!("{operation} failed (HTTP {status}): {detail}"),
            );
            match code {
                Some(code) => port_error.with_code(code),
                None => port_error,
            }
        }
        SdkError::TimeoutError(_) => PortError::new(
            PortErrorKind::Unavailable,
            format!("{operation} timed out: {}", DisplayErrorContext(error)),
        )
        .with_code("Timeout"),
        SdkError::DispatchFailure(_) => PortError::new(
            PortErrorKind::Unavailable,
            format!(
                "{operation} could not reach the service: {}",
                DisplayErrorContext(error)
            ),
        )
        .with_code("DispatchFailure"),
        SdkError::ConstructionFailure(_) => PortError::new(
            PortErrorKind::InvalidInput,
            format!(
                "{operation} request could not be built: {}",
                DisplayErrorContext(error)
            ),
        ),
        SdkError::ResponseError(context) => {
            let status = context.raw().status().as_u16();
            PortError::new(
                classify_status(status),
                format!(
                    "{operation} returned an unreadable response (HTTP {status}): {}",
                    DisplayErrorContext(error)
                ),
            )
        }
        _ => PortError::new(
            PortErrorKind::Other,
            format!("{operation} failed: {}", DisplayErrorContext(error)),
        ),
    }
}

/// A plain `PortError` for a response the adapter could not use.
pub(crate) fn malformed(operation: &str, detail: impl std::fmt::Display) -> PortError {
    PortError::new(
        PortErrorKind::Other,
        format!("{operation} returned a response TrailGuard cannot use: {detail}"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_map_to_kinds() {
        assert_eq!(
            classify_error_code("NoSuchKey"),
            Some(PortErrorKind::NotFound)
        );
        assert_eq!(
            classify_error_code("AccessDenied"),
            Some(PortErrorKind::AccessDenied)
        );
        assert_eq!(
            classify_error_code("SlowDown"),
            Some(PortErrorKind::Throttled)
        );
        assert_eq!(
            classify_error_code("ThrottlingException"),
            Some(PortErrorKind::Throttled)
        );
        assert_eq!(
            classify_error_code("ValidationException"),
            Some(PortErrorKind::InvalidInput)
        );
        assert_eq!(classify_error_code("SomethingNew"), None);
        assert_eq!(classify_status(503), PortErrorKind::Throttled);
        assert_eq!(classify_status(502), PortErrorKind::Unavailable);
    }
}
