//! BedrockChat over the real SDK wire path (SigV4 signing, restJson1, retries) against the local
//! Bedrock Runtime stand-in on 127.0.0.1.

// Test helpers outside #[test] fns are not covered by clippy.toml's allow-*-in-tests.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use trailguard_aws::{
    AwsSettings, BedrockApi, BedrockChat, BedrockChatConfig, DEFAULT_IMAGE_MODEL_ID,
    DEFAULT_LOG_MODEL_ID,
};
use trailguard_core::ports::{
    ChatMessage, ChatModel, ChatRequest, ChatRole, ContentBlock, PortErrorKind,
};
use trailguard_testkit::{BedrockStandIn, Reply};

async fn chat(standin: &BedrockStandIn, config: BedrockChatConfig) -> BedrockChat {
    let settings = AwsSettings::local(standin.endpoint());
    let sdk = settings.load().await;
    BedrockChat::new(settings.bedrock_client(&sdk), config)
}

fn log_request(model_id: &str) -> ChatRequest {
    ChatRequest {
        model_id: model_id.into(),
        system: Some("You are a security analyst.".into()),
        messages: vec![ChatMessage {
            role: ChatRole::User,
            content: vec![ContentBlock::Text(
                "<log>{\"eventName\":\"PutObject\"}</log> Analyse the CloudTrail record.".into(),
            )],
        }],
        ..ChatRequest::default()
    }
}

fn image_request() -> ChatRequest {
    ChatRequest {
        model_id: String::new(),
        messages: vec![ChatMessage {
            role: ChatRole::User,
            content: vec![
                ContentBlock::Image {
                    media_type: "image/jpeg".into(),
                    bytes: vec![0xFF, 0xD8, 0xFF, 0xE0],
                },
                ContentBlock::Text("Does this image contain PII?".into()),
            ],
        }],
        ..ChatRequest::default()
    }
}

#[tokio::test]
async fn converse_round_trip_with_guide_defaults_and_signed_request() {
    let standin = BedrockStandIn::start().await.unwrap();
    standin.on_prompt_containing("CloudTrail", Reply::text("{\"threat_level\":\"medium\"}"));
    let chat = chat(&standin, BedrockChatConfig::for_logs()).await;
    let answer = chat.converse(&log_request("")).await.unwrap();
    assert_eq!(answer.text, "{\"threat_level\":\"medium\"}");
    assert_eq!(answer.stop_reason.as_deref(), Some("end_turn"));
    assert!(answer.input_tokens.unwrap() > 0);

    let requests = standin.requests();
    assert_eq!(requests.len(), 1);
    let request = &requests[0];
    assert_eq!(request.api, trailguard_testkit::BedrockApi::Converse);
    assert_eq!(request.model_id, DEFAULT_LOG_MODEL_ID);
    assert!(
        request.model_id.starts_with("global."),
        "the default is called through the global inference profile"
    );
    let auth = request.authorization.as_deref().unwrap();
    assert!(auth.contains("Credential=testing/"), "{auth}");
    assert!(auth.contains("/us-east-1/bedrock/aws4_request"), "{auth}");
    let body = &request.body;
    assert_eq!(body["system"][0]["text"], "You are a security analyst.");
    assert_eq!(body["messages"][0]["role"], "user");
    assert_eq!(body["inferenceConfig"]["maxTokens"], 2048);
    assert_eq!(body["inferenceConfig"]["temperature"], 0.5);
    assert!(body.get("additionalModelRequestFields").is_none());
}

#[tokio::test]
async fn converse_vision_call_with_inference_profile_and_top_k() {
    let standin = BedrockStandIn::start().await.unwrap();
    standin.push_text("true");
    let chat = chat(
        &standin,
        BedrockChatConfig::for_images()
            .with_model_id("us.anthropic.claude-3-5-sonnet-20241022-v2:0"),
    )
    .await;
    let answer = chat.converse(&image_request()).await.unwrap();
    assert_eq!(answer.text, "true");
    let request = &standin.requests()[0];
    assert_eq!(
        request.model_id,
        "us.anthropic.claude-3-5-sonnet-20241022-v2:0"
    );
    let body = &request.body;
    assert_eq!(body["messages"][0]["content"][0]["image"]["format"], "jpeg");
    assert_eq!(
        body["messages"][0]["content"][0]["image"]["source"]["bytes"],
        "/9j/4A=="
    );
    assert_eq!(body["additionalModelRequestFields"]["top_k"], 250);
    assert_eq!(body["inferenceConfig"]["maxTokens"], 1024);
    assert_eq!(body["inferenceConfig"]["temperature"], 0.0);
    // Claude 3.5 takes top_p with the temperature (Claude 4 and later would refuse it).
    assert!(body["inferenceConfig"]["topP"].is_number());
}

#[tokio::test]
async fn invoke_model_round_trip_with_anthropic_messages_body() {
    let standin = BedrockStandIn::start().await.unwrap();
    standin.push_text("false");
    let chat = chat(
        &standin,
        BedrockChatConfig::for_images().with_api(BedrockApi::InvokeModel),
    )
    .await;
    let answer = chat.converse(&image_request()).await.unwrap();
    assert_eq!(answer.text, "false");
    assert_eq!(answer.stop_reason.as_deref(), Some("end_turn"));
    let request = &standin.requests()[0];
    assert_eq!(request.api, trailguard_testkit::BedrockApi::InvokeModel);
    assert_eq!(request.model_id, DEFAULT_IMAGE_MODEL_ID);
    let body = &request.body;
    assert_eq!(body["anthropic_version"], "bedrock-2023-05-31");
    assert_eq!(body["max_tokens"], 1024);
    assert_eq!(body["top_k"], 250);
    assert_eq!(body["temperature"], 0.0);
    // The default (Claude Haiku 4.5) refuses temperature with top_p: only the temperature goes.
    assert!(body.get("top_p").is_none(), "{body}");
    let image = &body["messages"][0]["content"][0];
    assert_eq!(image["type"], "image");
    assert_eq!(image["source"]["media_type"], "image/jpeg");
    assert_eq!(image["source"]["data"], "/9j/4A==");
}

#[tokio::test]
async fn throttling_from_the_service_is_retried_over_the_wire() {
    let standin = BedrockStandIn::start().await.unwrap();
    standin.push(Reply::throttled());
    standin.push(Reply::throttled());
    standin.push_text("{\"threat_level\":\"high\"}");
    for api in [BedrockApi::Converse, BedrockApi::InvokeModel] {
        let chat = chat(&standin, BedrockChatConfig::for_logs().with_api(api)).await;
        let answer = chat
            .converse(&log_request("eu.anthropic.claude-3-haiku-20240307-v1:0"))
            .await;
        if api == BedrockApi::Converse {
            assert_eq!(answer.unwrap().text, "{\"threat_level\":\"high\"}");
            assert_eq!(standin.requests().len(), 3);
        } else {
            // Queue is empty now: no rule, no default → the stand-in's 500 after retries.
            let error = answer.unwrap_err();
            assert_eq!(error.kind, PortErrorKind::Unavailable);
            assert_eq!(error.code.as_deref(), Some("InternalServerException"));
            assert_eq!(standin.requests().len(), 6, "3 attempts for the 500");
        }
    }
}

#[tokio::test]
async fn persistent_throttling_and_access_denied_are_classified() {
    let standin = BedrockStandIn::start().await.unwrap();
    for _ in 0..3 {
        standin.push(Reply::throttled());
    }
    standin.push(Reply::access_denied());
    let chat = chat(
        &standin,
        BedrockChatConfig::for_logs().with_api(BedrockApi::InvokeModel),
    )
    .await;
    let throttled = chat.converse(&log_request("")).await.unwrap_err();
    assert_eq!(throttled.kind, PortErrorKind::Throttled);
    assert_eq!(throttled.code.as_deref(), Some("ThrottlingException"));
    let denied = chat.converse(&log_request("")).await.unwrap_err();
    assert_eq!(denied.kind, PortErrorKind::AccessDenied);
    assert_eq!(denied.code.as_deref(), Some("AccessDeniedException"));
    assert!(denied.message.contains("bedrock:InvokeModel"), "{denied}");
    assert_eq!(standin.requests().len(), 4, "access denied is not retried");
}

#[tokio::test]
async fn bad_model_ids_and_unknown_invoke_bodies_are_refused_locally() {
    let standin = BedrockStandIn::start().await.unwrap();
    standin.set_default_text("x");
    let chat_converse = chat(&standin, BedrockChatConfig::for_logs()).await;
    let error = chat_converse
        .converse(&log_request("claude haiku"))
        .await
        .unwrap_err();
    assert_eq!(error.kind, PortErrorKind::InvalidInput);
    let chat_invoke = chat(
        &standin,
        BedrockChatConfig::for_logs().with_api(BedrockApi::InvokeModel),
    )
    .await;
    let error = chat_invoke
        .converse(&log_request("meta.llama3-70b-instruct-v1:0"))
        .await
        .unwrap_err();
    assert_eq!(error.kind, PortErrorKind::InvalidInput);
    let mut bmp = image_request();
    bmp.messages[0].content[0] = ContentBlock::Image {
        media_type: "image/bmp".into(),
        bytes: vec![b'B', b'M'],
    };
    assert_eq!(
        chat_converse.converse(&bmp).await.unwrap_err().kind,
        PortErrorKind::InvalidInput
    );
    assert!(standin.requests().is_empty(), "nothing reached the service");
    // A Nova model over Converse takes top_k in its own place.
    let mut nova = log_request("us.amazon.nova-pro-v1:0");
    nova.top_k = Some(5);
    chat_converse.converse(&nova).await.unwrap();
    assert_eq!(
        standin.requests()[0].body["additionalModelRequestFields"]["inferenceConfig"]["topK"],
        5
    );
}

/// Each default model family, both APIs: the body the adapter sends is one Bedrock accepts
/// (the stand-in refuses what Bedrock refuses), through an inference profile.
#[tokio::test]
async fn every_default_family_sends_what_it_accepts_through_a_profile() {
    for model_id in [
        DEFAULT_LOG_MODEL_ID,
        DEFAULT_IMAGE_MODEL_ID,
        "global.anthropic.claude-sonnet-4-6",
        "global.amazon.nova-2-lite-v1:0",
        "us.amazon.nova-lite-v1:0",
    ] {
        for api in [BedrockApi::Converse, BedrockApi::InvokeModel] {
            let standin = BedrockStandIn::start().await.unwrap();
            standin.set_default_text("{\"pii_detected\": false}");
            // The PII call carries the guide's temperature 0, top_p 0.999 and top_k 250.
            let chat = chat(
                &standin,
                BedrockChatConfig::for_images()
                    .with_api(api)
                    .with_model_id(model_id),
            )
            .await;
            let answer = chat.converse(&image_request()).await;
            assert_eq!(
                answer.map(|a| a.text).map_err(|e| e.to_string()),
                Ok("{\"pii_detected\": false}".to_string()),
                "{model_id} over {api:?}"
            );
            let request = &standin.requests()[0];
            assert_eq!(request.model_id, model_id);
            let prefix = model_id.split('.').next().unwrap();
            assert!(
                trailguard_aws::INFERENCE_PROFILE_PREFIXES.contains(&prefix),
                "{model_id}: called through an inference profile"
            );
        }
    }
}

/// The stand-in refuses what Bedrock refuses, so the test above means something.
#[tokio::test]
async fn the_standin_refuses_what_bedrock_refuses() {
    let standin = BedrockStandIn::start().await.unwrap();
    standin.set_default_text("x");
    let settings = AwsSettings::local(standin.endpoint());
    let sdk = settings.load().await;
    let client = settings.bedrock_client(&sdk);
    let message = aws_sdk_bedrockruntime::types::Message::builder()
        .role(aws_sdk_bedrockruntime::types::ConversationRole::User)
        .content(aws_sdk_bedrockruntime::types::ContentBlock::Text(
            "hi".into(),
        ))
        .build()
        .unwrap();
    let both = aws_sdk_bedrockruntime::types::InferenceConfiguration::builder()
        .temperature(0.0)
        .top_p(0.999)
        .build();
    let refused = client
        .converse()
        .model_id(DEFAULT_LOG_MODEL_ID)
        .messages(message.clone())
        .inference_config(both.clone())
        .send()
        .await
        .unwrap_err();
    let text = format!(
        "{}",
        aws_smithy_types::error::display::DisplayErrorContext(&refused)
    );
    assert!(text.contains("cannot both be specified"), "{text}");
    // Claude 3 took both.
    client
        .converse()
        .model_id("anthropic.claude-3-haiku-20240307-v1:0")
        .messages(message)
        .inference_config(both)
        .send()
        .await
        .unwrap();
    let invoke = |body: serde_json::Value| {
        client
            .invoke_model()
            .model_id(DEFAULT_LOG_MODEL_ID)
            .content_type("application/json")
            .body(aws_smithy_types::Blob::new(body.to_string()))
            .send()
    };
    let unknown = invoke(serde_json::json!({"anthropic_version": "bedrock-2023-05-31", "max_tokens": 5, "messages": [], "model": "x"}))
        .await
        .unwrap_err();
    let text = format!(
        "{}",
        aws_smithy_types::error::display::DisplayErrorContext(&unknown)
    );
    assert!(text.contains("extraneous key [model]"), "{text}");
}

#[tokio::test]
async fn unsigned_requests_are_refused_by_the_standin() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let standin = BedrockStandIn::start().await.unwrap();
    standin.set_default_text("x");
    let host = standin.endpoint().trim_start_matches("http://").to_owned();
    let mut stream = tokio::net::TcpStream::connect(&host).await.unwrap();
    let request = format!(
        "POST /model/anthropic.claude-3-haiku-20240307-v1%3A0/converse HTTP/1.1\r\nHost: {host}\r\n\
         Content-Type: application/json\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{{}}"
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).await.unwrap();
    assert!(response.starts_with("HTTP/1.1 403"), "{response}");
    assert!(
        response.contains("UnrecognizedClientException"),
        "{response}"
    );
    assert!(standin.requests().is_empty());
}
