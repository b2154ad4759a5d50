//! What AWS's service integrations return around a result (request ids, HTTP metadata) and how
//! they name errors (`S3.NoSuchKeyException`), shared by the local integrations.

use serde_json::{json, Value};
use trailguard_asl::{TaskContext, TaskError};
use trailguard_core::ports::{PortError, PortErrorKind};

pub fn http_metadata(request_id: &str, content_length: usize) -> (Value, Value) {
    let length = content_length.to_string();
    (
        json!({
            "AllHttpHeaders": {
                "X-Amz-Executed-Version": ["$LATEST"],
                "x-amzn-Remapped-Content-Length": ["0"],
                "Connection": ["keep-alive"],
                "x-amzn-RequestId": [request_id],
                "Content-Length": [length],
                "Date": ["Thu, 01 Jan 1970 00:00:00 GMT"],
                "Content-Type": ["application/json"]
            },
            "HttpHeaders": {
                "Connection": "keep-alive",
                "Content-Length": length,
                "Content-Type": "application/json",
                "Date": "Thu, 01 Jan 1970 00:00:00 GMT",
                "X-Amz-Executed-Version": "$LATEST",
                "x-amzn-Remapped-Content-Length": "0",
                "x-amzn-RequestId": request_id
            },
            "HttpStatusCode": 200
        }),
        json!({ "RequestId": request_id }),
    )
}

pub fn request_id(ctx: &TaskContext) -> String {
    // Deterministic per execution/state/attempt, shaped like a UUID.
    use sha2::Digest;
    let digest = sha2::Sha256::digest(format!(
        "{}/{}/{}",
        ctx.execution_arn, ctx.state_name, ctx.retry_count
    ));
    let hex: String = digest.iter().take(16).map(|b| format!("{b:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}

/// The error name and cause a service integration reports for an adapter's error.
pub fn sdk_error(service: &str, error: &PortError) -> TaskError {
    let code = error.code.clone().unwrap_or_else(|| {
        match error.kind {
            PortErrorKind::NotFound if service == "S3" => "NoSuchKey",
            PortErrorKind::NotFound => "ResourceNotFound",
            PortErrorKind::AccessDenied => "AccessDenied",
            PortErrorKind::Throttled => "Throttling",
            PortErrorKind::Unavailable => "ServiceUnavailable",
            PortErrorKind::InvalidInput => "Validation",
            PortErrorKind::Other => "",
        }
        .to_string()
    });
    let unmodeled_s3 = service == "S3" && !crate::errors::S3_MODELED_CODES.contains(&code.as_str());
    let name = if code.is_empty() || unmodeled_s3 {
        format!("{service}.{service}Exception")
    } else if code.ends_with("Exception") {
        format!("{service}.{code}")
    } else {
        format!("{service}.{code}Exception")
    };
    let status = match error.kind {
        PortErrorKind::NotFound => 404,
        PortErrorKind::AccessDenied => 403,
        PortErrorKind::Throttled => 429,
        PortErrorKind::Unavailable => 503,
        PortErrorKind::InvalidInput => 400,
        PortErrorKind::Other => 500,
    };
    TaskError::new(
        name,
        format!(
            "{} (Service: {service}, Status Code: {status}, Request ID: local)",
            error.message
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn s3_codes_without_a_model_shape_are_the_generic_s3_exception() {
        let name = |kind, code: Option<&str>| {
            let mut error = PortError::new(kind, "m");
            if let Some(code) = code {
                error = error.with_code(code);
            }
            sdk_error("S3", &error).error
        };
        assert_eq!(
            name(PortErrorKind::NotFound, Some("NoSuchKey")),
            "S3.NoSuchKeyException"
        );
        assert_eq!(name(PortErrorKind::NotFound, None), "S3.NoSuchKeyException");
        assert_eq!(
            name(PortErrorKind::AccessDenied, None),
            "S3.AccessDeniedException"
        );
        assert_eq!(
            name(PortErrorKind::Throttled, Some("SlowDown")),
            "S3.S3Exception"
        );
        assert_eq!(name(PortErrorKind::Unavailable, None), "S3.S3Exception");
        assert_eq!(
            name(PortErrorKind::NotFound, Some("NoSuchVersion")),
            "S3.S3Exception"
        );
        // Other services keep the code's own name.
        let sns = sdk_error(
            "SNS",
            &PortError::new(PortErrorKind::Other, "m").with_code("InternalError"),
        );
        assert_eq!(sns.error, "SNS.InternalErrorException");
    }
}
