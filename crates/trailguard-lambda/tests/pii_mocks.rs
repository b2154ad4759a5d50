//! The PII handler over real S3 and Bedrock Runtime SDK clients whose HTTP layer is mocked with
//! `aws-smithy-mocks`, through the `trailguard-aws` adapters.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test helpers panic on purpose

use std::sync::Arc;
use std::time::Duration;

use aws_sdk_bedrockruntime::operation::converse::ConverseOutput;
use aws_sdk_bedrockruntime::types::{
    ContentBlock, ConversationRole, ConverseOutput as Output, Message, StopReason,
};
use aws_sdk_s3::operation::get_object::GetObjectOutput;
use aws_sdk_s3::primitives::ByteStream;
use aws_smithy_mocks::{mock, mock_client, Rule, RuleMode};
use aws_smithy_runtime_api::http::{Response, StatusCode};
use aws_smithy_types::body::SdkBody;
use aws_smithy_types::retry::RetryConfig;
use serde_json::{json, Value};
use trailguard_aws::{BedrockChat, BedrockChatConfig, S3Store};
use trailguard_core::ports::ChatModel;
use trailguard_lambda::pii::Settings;
use trailguard_pii::{ImageLimits, VisionPiiDetector};
use trailguard_pii::{PiiHandler, PiiHandlerError as HandlerError};

fn png(width: u32, height: u32) -> Vec<u8> {
    let image = image::RgbImage::from_fn(width, height, |x, y| image::Rgb([x as u8, y as u8, 128]));
    let mut out = Vec::new();
    image::DynamicImage::ImageRgb8(image)
        .write_to(&mut std::io::Cursor::new(&mut out), image::ImageFormat::Png)
        .unwrap();
    out
}

fn retry() -> RetryConfig {
    RetryConfig::standard()
        .with_max_attempts(3)
        .with_initial_backoff(Duration::from_millis(1))
}

fn s3_object(bytes: Vec<u8>) -> GetObjectOutput {
    GetObjectOutput::builder()
        .content_length(bytes.len() as i64)
        .content_type("image/png")
        .body(ByteStream::from(bytes))
        .build()
}

fn s3_error(status: u16, code: &str, message: &str) -> Response<SdkBody> {
    let body = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>{code}</Code><Message>{message}</Message><RequestId>R1</RequestId></Error>"
    );
    let mut response = Response::new(StatusCode::try_from(status).unwrap(), SdkBody::from(body));
    response
        .headers_mut()
        .insert("content-type", "application/xml");
    response
}

fn bedrock_error(status: u16, error_type: &'static str) -> Response<SdkBody> {
    let mut response = Response::new(
        StatusCode::try_from(status).unwrap(),
        SdkBody::from("{\"message\":\"Too many requests, please wait before trying again.\"}"),
    );
    response
        .headers_mut()
        .insert("x-amzn-errortype", error_type);
    response
}

fn converse_text(text: &str) -> ConverseOutput {
    let message = Message::builder()
        .role(ConversationRole::Assistant)
        .content(ContentBlock::Text(text.to_string()))
        .build()
        .unwrap();
    ConverseOutput::builder()
        .output(Output::Message(message))
        .stop_reason(StopReason::EndTurn)
        .build()
        .unwrap()
}

fn handler(s3_rules: &[&Rule], bedrock_rules: &[&Rule], rich: bool) -> PiiHandler {
    let s3 = mock_client!(aws_sdk_s3, RuleMode::Sequential, s3_rules, |c| c
        .retry_config(retry()));
    let bedrock = mock_client!(
        aws_sdk_bedrockruntime,
        RuleMode::Sequential,
        bedrock_rules,
        |c| c.retry_config(retry())
    );
    let limits = ImageLimits::default();
    let store = Arc::new(S3Store::new(s3).with_max_get_bytes(limits.max_object_bytes));
    let model: Arc<dyn ChatModel> =
        Arc::new(BedrockChat::new(bedrock, BedrockChatConfig::for_images()));
    let detector = Arc::new(VisionPiiDetector::new(
        model,
        "bedrock",
        trailguard_pii::DEFAULT_IMAGE_MODEL_ID,
    ));
    PiiHandler::new(store, detector, limits, rich)
}

fn input() -> Value {
    json!({"s3_bucket": "trailguard-uploads", "s3_key": "uploads/id-card.png", "media_type": "image/png"})
}

#[tokio::test]
async fn throttled_s3_and_bedrock_are_retried_then_the_contract_string_returns() {
    let image = png(32, 32);
    let get = mock!(aws_sdk_s3::Client::get_object)
        .sequence()
        .http_response(|| s3_error(503, "SlowDown", "Please reduce your request rate."))
        .output(move || s3_object(image.clone()))
        .build();
    let converse = mock!(aws_sdk_bedrockruntime::Client::converse)
        .sequence()
        .http_response(|| bedrock_error(429, "ThrottlingException"))
        .output(|| converse_text(r#"{"pii_detected": true, "entities": [{"type": "KR_RRN", "evidence": "resident number ending 4567"}], "reason": "an ID card"}"#))
        .build();
    let out = handler(&[&get], &[&converse], false)
        .handle(input())
        .await
        .unwrap();
    assert_eq!(out, Value::String("true".into()));
    assert_eq!(get.num_calls(), 2);
    assert_eq!(converse.num_calls(), 2);
}

#[tokio::test]
async fn access_denied_is_a_clear_error_in_both_modes() {
    let denied = || {
        mock!(aws_sdk_s3::Client::get_object)
            .then_http_response(|| s3_error(403, "AccessDenied", "Access Denied"))
    };
    let rule = denied();
    let error = handler(&[&rule], &[], false)
        .handle(input())
        .await
        .unwrap_err();
    assert_eq!(rule.num_calls(), 1, "access denied is not retried");
    let HandlerError::NoVerdict {
        ref code,
        retryable,
        ..
    } = error
    else {
        panic!("{error:?}")
    };
    assert_eq!(code, "AccessDenied");
    assert!(!retryable);
    let diagnostic: lambda_runtime::Diagnostic = trailguard_lambda::diagnostic(&error);
    assert_eq!(diagnostic.error_type, "TrailGuard.PiiNoVerdict");
    assert!(diagnostic
        .error_message
        .contains("s3://trailguard-uploads/uploads/id-card.png"));

    let rule = denied();
    let out = handler(&[&rule], &[], true).handle(input()).await.unwrap();
    assert_eq!(out["status"], "error");
    assert_eq!(out["pii_detected"], Value::Null);
    assert_eq!(out["error"]["code"], "AccessDenied");
}

#[tokio::test]
async fn bedrock_access_denied_is_reported_not_guessed() {
    let image = png(8, 8);
    let get = mock!(aws_sdk_s3::Client::get_object).then_output(move || s3_object(image.clone()));
    let converse = mock!(aws_sdk_bedrockruntime::Client::converse)
        .then_http_response(|| bedrock_error(403, "AccessDeniedException"));
    let out = handler(&[&get], &[&converse], true)
        .handle(input())
        .await
        .unwrap();
    assert_eq!(out["status"], "error");
    assert_eq!(out["error"]["code"], "AccessDeniedException");
}

#[tokio::test]
async fn prose_fenced_and_wrong_typed_answers() {
    let cases: [(&[&str], Result<&str, &str>); 4] = [
        (&["```json\n{\"pii_detected\": false, \"entities\": [], \"reason\": \"a landscape\"}\n```"], Ok("false")),
        (&["Looking at the image, I see a passport.\n{\"pii_detected\": true, \"entities\": [{\"type\": \"KR_PASSPORT\", \"evidence\": \"passport page\"}], \"reason\": \"passport\"}"], Ok("true")),
        (&["It might contain something.", "false"], Ok("false")),
        (&["{\"pii_detected\": \"true\"}", "{\"pii_detected\": \"yes\"}"], Err("model_answer_invalid")),
    ];
    for (answers, expected) in cases {
        let image = png(8, 8);
        let get =
            mock!(aws_sdk_s3::Client::get_object).then_output(move || s3_object(image.clone()));
        let mut sequence = mock!(aws_sdk_bedrockruntime::Client::converse).sequence();
        for answer in answers {
            let answer = answer.to_string();
            sequence = sequence.output(move || converse_text(&answer));
        }
        let converse = sequence.build();
        let result = handler(&[&get], &[&converse], false).handle(input()).await;
        match expected {
            Ok(value) => assert_eq!(result.unwrap(), Value::String(value.into()), "{answers:?}"),
            Err(code) => {
                let Err(HandlerError::NoVerdict { code: got, .. }) = result else {
                    panic!("{answers:?}")
                };
                assert_eq!(got, code);
            }
        }
        assert_eq!(converse.num_calls(), answers.len());
    }
}

#[tokio::test]
async fn detail_flag_returns_the_rich_result_and_bad_objects_are_errors() {
    let image = png(8, 8);
    let get = mock!(aws_sdk_s3::Client::get_object).then_output(move || s3_object(image.clone()));
    let converse = mock!(aws_sdk_bedrockruntime::Client::converse).then_output(|| {
        converse_text(r#"{"pii_detected": false, "entities": [], "reason": "no personal data"}"#)
    });
    let mut request = input();
    request["detail"] = json!(true);
    request["media_type"] = json!("image/jpeg");
    let out = handler(&[&get], &[&converse], false)
        .handle(request)
        .await
        .unwrap();
    assert_eq!(out["pii_detected"], false);
    assert_eq!(
        out["detector"],
        "bedrock:global.anthropic.claude-haiku-4-5-20251001-v1:0"
    );
    assert_eq!(out["media_type_detected"], "image/png");
    assert_eq!(out["media_type_mismatch"], true);

    for (body, code) in [
        (Vec::new(), "empty"),
        (
            b"<svg xmlns='http://www.w3.org/2000/svg'/>".to_vec(),
            "unsupported_type",
        ),
    ] {
        let get =
            mock!(aws_sdk_s3::Client::get_object).then_output(move || s3_object(body.clone()));
        let converse =
            mock!(aws_sdk_bedrockruntime::Client::converse).then_output(|| converse_text("true"));
        let error = handler(&[&get], &[&converse], false)
            .handle(input())
            .await
            .unwrap_err();
        let HandlerError::NoVerdict { code: got, .. } = error else {
            panic!()
        };
        assert_eq!(got, code);
        assert_eq!(converse.num_calls(), 0, "nothing unsafe reaches the model");
    }
    let bad = handler(&[], &[], false)
        .handle(json!({"s3_key": "x"}))
        .await
        .unwrap_err();
    assert!(matches!(bad, HandlerError::InvalidInput(_)));
}

#[test]
fn settings_come_from_the_environment() {
    let settings = Settings::from_lookup(|name| match name {
        "PII_RESULT" => Some("rich".into()),
        "PII_MAX_MODEL_SIDE" => Some("4000".into()),
        "IMAGE_MODEL_ID" => Some("us.anthropic.claude-3-5-sonnet-20241022-v2:0".into()),
        _ => None,
    })
    .unwrap();
    assert!(settings.rich_result);
    assert_eq!(settings.limits.max_model_side, 4000);
    assert_eq!(
        settings.model_id,
        "us.anthropic.claude-3-5-sonnet-20241022-v2:0"
    );
    let defaults = Settings::from_lookup(|_| None).unwrap();
    assert_eq!(
        defaults.model_id,
        "global.anthropic.claude-haiku-4-5-20251001-v1:0"
    );
    assert_eq!(defaults.limits.max_model_bytes, 3_750_000);
    assert!(Settings::from_lookup(|n| (n == "PII_MAX_MODEL_SIDE").then(|| "-1".into())).is_err());
    assert!(Settings::from_lookup(|n| (n == "PII_DETECTOR").then(|| "magic".into())).is_err());
}

#[tokio::test]
async fn rich_mode_still_fails_retryable_errors_so_the_workflow_can_retry() {
    // Throttled on every attempt: no verdict, and a transient one.
    let converse = mock!(aws_sdk_bedrockruntime::Client::converse)
        .sequence()
        .http_response(|| bedrock_error(429, "ThrottlingException"))
        .times(3)
        .build();
    let image = png(32, 32);
    let get = mock!(aws_sdk_s3::Client::get_object).then_output(move || s3_object(image.clone()));
    let error = handler(&[&get], &[&converse], true)
        .handle(input())
        .await
        .unwrap_err();
    let diagnostic = trailguard_lambda::diagnostic(&error);
    assert_eq!(diagnostic.error_type, "TrailGuard.PiiRetryable");
    assert_eq!(converse.num_calls(), 3);
}

#[tokio::test]
async fn the_version_named_in_the_request_is_the_one_checked() {
    let image = png(32, 32);
    let get = mock!(aws_sdk_s3::Client::get_object)
        .match_requests(|request| request.version_id() == Some("v1-with-pii"))
        .then_output(move || s3_object(image.clone()));
    let converse = mock!(aws_sdk_bedrockruntime::Client::converse).then_output(|| {
        converse_text(r#"{"pii_detected": false, "entities": [], "reason": "a landscape"}"#)
    });
    let mut request = input();
    request["version_id"] = json!("v1-with-pii");
    let out = handler(&[&get], &[&converse], true)
        .handle(request)
        .await
        .unwrap();
    assert_eq!(
        get.num_calls(),
        1,
        "GetObject must carry the event's VersionId"
    );
    assert_eq!(out["version_id"], "v1-with-pii");
    assert_eq!(out["pii_detected"], false);
}
