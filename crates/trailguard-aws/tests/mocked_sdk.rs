//! Edge cases with `aws-smithy-mocks`: the real SDK clients (retry loop, deserialisers) with
//! scripted HTTP answers, and our error mapping on top.

// Test helpers outside #[test] fns are not covered by clippy.toml's allow-*-in-tests.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::Duration;

use aws_sdk_bedrockruntime::operation::converse::ConverseOutput;
use aws_sdk_bedrockruntime::types::{
    ContentBlock as BedrockBlock, ConversationRole, Message, StopReason,
};
use aws_sdk_s3::operation::get_object::GetObjectOutput;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_sns::operation::publish::PublishOutput;
use aws_smithy_mocks::{mock, mock_client, RuleMode};
use trailguard_aws::{AwsSettings, BedrockChat, BedrockChatConfig, S3Store, SnsNotifier};
use trailguard_core::ports::{
    ChatMessage, ChatModel, ChatRequest, ChatRole, ContentBlock, Notification, Notifier,
    ObjectReader, ObjectRef, ObjectWriter, PortErrorKind,
};

fn settings() -> AwsSettings {
    AwsSettings {
        initial_backoff: Duration::from_millis(1),
        ..AwsSettings::default()
    }
}

fn s3_error(code: &str, message: &str) -> String {
    format!("<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>{code}</Code><Message>{message}</Message><RequestId>r1</RequestId></Error>")
}

#[tokio::test]
async fn s3_slowdown_is_retried_then_succeeds() {
    let retry = settings().retry_config();
    let rule = mock!(aws_sdk_s3::Client::get_object)
        .sequence()
        .http_status(
            503,
            Some(s3_error("SlowDown", "Please reduce your request rate.")),
        )
        .times(2)
        .output(|| {
            GetObjectOutput::builder()
                .body(ByteStream::from_static(b"image-bytes"))
                .content_type("image/png")
                .e_tag("\"abc\"")
                .build()
        })
        .build();
    let client = mock_client!(aws_sdk_s3, RuleMode::Sequential, [&rule], |b| b
        .retry_config(retry.clone()));
    let store = S3Store::new(client);
    let object = store
        .get(&ObjectRef::new("uploads", "a.png"))
        .await
        .unwrap();
    assert_eq!(object.bytes, b"image-bytes");
    assert_eq!(object.content_type.as_deref(), Some("image/png"));
    assert_eq!(object.etag.as_deref(), Some("\"abc\""));
    assert_eq!(rule.num_calls(), 3, "two throttled attempts, then success");
}

#[tokio::test]
async fn s3_throttling_beyond_max_attempts_is_a_throttled_error() {
    let retry = settings().with_max_attempts(2).retry_config();
    let rule = mock!(aws_sdk_s3::Client::delete_object)
        .sequence()
        .http_status(
            503,
            Some(s3_error("SlowDown", "Please reduce your request rate.")),
        )
        .times(5)
        .build();
    let client = mock_client!(aws_sdk_s3, RuleMode::Sequential, [&rule], |b| b
        .retry_config(retry.clone()));
    let error = S3Store::new(client)
        .delete(&ObjectRef::new("uploads", "a.png"))
        .await
        .unwrap_err();
    assert_eq!(error.kind, PortErrorKind::Throttled);
    assert_eq!(error.code.as_deref(), Some("SlowDown"));
    assert!(error.is_retryable());
    assert_eq!(rule.num_calls(), 2, "max_attempts honoured");
}

#[tokio::test]
async fn s3_access_denied_is_a_clear_error_and_not_retried() {
    let rule = mock!(aws_sdk_s3::Client::delete_object)
        .sequence()
        .http_status(403, Some(s3_error("AccessDenied", "Access Denied")))
        .times(3)
        .build();
    let retry = settings().retry_config();
    let client = mock_client!(aws_sdk_s3, RuleMode::Sequential, [&rule], |b| b
        .retry_config(retry.clone()));
    let error = S3Store::new(client)
        .delete(&ObjectRef::new("uploads", "pii.png"))
        .await
        .unwrap_err();
    assert_eq!(error.kind, PortErrorKind::AccessDenied);
    assert_eq!(error.code.as_deref(), Some("AccessDenied"));
    assert_eq!(
        error.to_string(),
        "AccessDenied: s3:DeleteObject failed (HTTP 403): Access Denied"
    );
    assert!(!error.is_retryable());
    assert_eq!(rule.num_calls(), 1);
}

#[tokio::test]
async fn s3_no_such_key_is_not_found() {
    let rule = mock!(aws_sdk_s3::Client::get_object)
        .sequence()
        .http_status(
            404,
            Some(s3_error("NoSuchKey", "The specified key does not exist.")),
        )
        .build();
    let client = mock_client!(aws_sdk_s3, [&rule]);
    let error = S3Store::new(client)
        .get(&ObjectRef::new("uploads", "gone.png"))
        .await
        .unwrap_err();
    assert_eq!(error.kind, PortErrorKind::NotFound);
    assert_eq!(error.code.as_deref(), Some("NoSuchKey"));
    assert!(error.message.contains("The specified key does not exist."));
}

#[tokio::test]
async fn s3_refuses_objects_over_the_size_limit_before_reading_them() {
    let rule = mock!(aws_sdk_s3::Client::get_object).then_output(|| {
        GetObjectOutput::builder()
            .body(ByteStream::from_static(&[0u8; 64]))
            .content_length(64)
            .build()
    });
    let client = mock_client!(aws_sdk_s3, [&rule]);
    let error = S3Store::new(client)
        .with_max_get_bytes(10)
        .get(&ObjectRef::new("uploads", "big.png"))
        .await
        .unwrap_err();
    assert_eq!(error.kind, PortErrorKind::InvalidInput);
    assert_eq!(error.code.as_deref(), Some("ObjectTooLarge"));
}

#[tokio::test]
async fn sns_authorization_error_and_long_subjects() {
    let denied = mock!(aws_sdk_sns::Client::publish)
        .sequence()
        .http_status(
            403,
            Some("<ErrorResponse><Error><Type>Sender</Type><Code>AuthorizationError</Code><Message>User is not authorized to perform: SNS:Publish</Message></Error><RequestId>r</RequestId></ErrorResponse>".into()),
        )
        .build();
    let ok = mock!(aws_sdk_sns::Client::publish)
        .match_requests(|input| input.subject().is_some_and(|s| s.chars().count() == 100))
        .then_output(|| PublishOutput::builder().message_id("m-1").build());
    let client = mock_client!(aws_sdk_sns, RuleMode::Sequential, [&denied, &ok]);
    let notifier = SnsNotifier::new(client, "arn:aws:sns:us-east-1:123456789012:alerts");
    let error = notifier
        .publish(&Notification::new(Some("x"), "body"))
        .await
        .unwrap_err();
    assert_eq!(error.kind, PortErrorKind::AccessDenied);
    assert_eq!(error.code.as_deref(), Some("AuthorizationError"));
    let id = notifier
        .publish(&Notification::new(Some("S".repeat(250).as_str()), "body"))
        .await
        .unwrap();
    assert_eq!(id, "m-1");
}

fn chat_request() -> ChatRequest {
    ChatRequest {
        model_id: "us.anthropic.claude-3-haiku-20240307-v1:0".into(),
        messages: vec![ChatMessage {
            role: ChatRole::User,
            content: vec![ContentBlock::Text("analyse".into())],
        }],
        ..ChatRequest::default()
    }
}

#[tokio::test]
async fn bedrock_throttling_is_retried_then_succeeds() {
    let rule = mock!(aws_sdk_bedrockruntime::Client::converse)
        .sequence()
        .http_status(
            429,
            Some(r#"{"__type":"ThrottlingException","message":"Too many requests"}"#.into()),
        )
        .times(2)
        .output(|| {
            ConverseOutput::builder()
                .output(aws_sdk_bedrockruntime::types::ConverseOutput::Message(
                    Message::builder()
                        .role(ConversationRole::Assistant)
                        .content(BedrockBlock::Text("{\"threat_level\":\"low\"}".into()))
                        .build()
                        .unwrap(),
                ))
                .stop_reason(StopReason::EndTurn)
                .build()
                .unwrap()
        })
        .build();
    let retry = settings().retry_config();
    let client = mock_client!(aws_sdk_bedrockruntime, RuleMode::Sequential, [&rule], |b| b
        .retry_config(retry.clone()));
    let chat = BedrockChat::new(client, BedrockChatConfig::for_logs());
    let answer = chat.converse(&chat_request()).await.unwrap();
    assert_eq!(answer.text, "{\"threat_level\":\"low\"}");
    assert_eq!(answer.stop_reason.as_deref(), Some("end_turn"));
    assert_eq!(rule.num_calls(), 3);
}

#[tokio::test]
async fn bedrock_access_denied_names_the_problem() {
    let rule = mock!(aws_sdk_bedrockruntime::Client::converse)
        .sequence()
        .http_status(
            403,
            Some(r#"{"__type":"AccessDeniedException","message":"You don't have access to the model with the specified model ID."}"#.into()),
        )
        .build();
    let client = mock_client!(aws_sdk_bedrockruntime, [&rule]);
    let chat = BedrockChat::new(client, BedrockChatConfig::for_logs());
    let error = chat.converse(&chat_request()).await.unwrap_err();
    assert_eq!(error.kind, PortErrorKind::AccessDenied);
    assert_eq!(error.code.as_deref(), Some("AccessDeniedException"));
    assert!(error.message.contains("bedrock:Converse"));
    assert!(error.message.contains("don't have access to the model"));
}

#[tokio::test]
async fn bedrock_validation_error_is_invalid_input() {
    let rule = mock!(aws_sdk_bedrockruntime::Client::invoke_model)
        .sequence()
        .http_status(
            400,
            Some(
                r#"{"__type":"ValidationException","message":"max_tokens: Field required"}"#.into(),
            ),
        )
        .build();
    let client = mock_client!(aws_sdk_bedrockruntime, [&rule]);
    let chat = BedrockChat::new(
        client,
        BedrockChatConfig::for_images().with_api(trailguard_aws::BedrockApi::InvokeModel),
    );
    let error = chat.converse(&chat_request()).await.unwrap_err();
    assert_eq!(error.kind, PortErrorKind::InvalidInput);
    assert_eq!(error.code.as_deref(), Some("ValidationException"));
}
