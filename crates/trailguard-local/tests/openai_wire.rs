//! OpenAiChat against a local /v1/chat/completions server.

// Test helpers outside #[test] fns are not covered by clippy.toml's allow-*-in-tests.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::Duration;

use trailguard_core::ports::{
    ChatMessage, ChatModel, ChatRequest, ChatRole, ContentBlock, PortErrorKind,
};
use trailguard_local::{OpenAiChat, OpenAiConfig};
use trailguard_testkit::{OpenAiStandIn, Reply};

fn vision_request() -> ChatRequest {
    ChatRequest {
        model_id: "anthropic.claude-3-5-sonnet-20241022-v2:0".into(),
        system: Some("You detect PII.".into()),
        messages: vec![ChatMessage {
            role: ChatRole::User,
            content: vec![
                ContentBlock::Image {
                    media_type: "image/png".into(),
                    bytes: vec![0x89, b'P', b'N', b'G'],
                },
                ContentBlock::Text("Does this image contain PII? Answer true or false.".into()),
            ],
        }],
        max_tokens: Some(1024),
        temperature: Some(0.0),
        top_p: Some(0.999),
        top_k: Some(250),
        ..ChatRequest::default()
    }
}

fn fast(config: OpenAiConfig) -> OpenAiConfig {
    OpenAiConfig {
        initial_backoff: Duration::from_millis(5),
        timeout: Duration::from_secs(10),
        ..config
    }
}

#[tokio::test]
async fn vision_request_goes_out_as_data_url_and_answer_comes_back() {
    let server = OpenAiStandIn::start().await.unwrap();
    server.require_api_key("local-key");
    server.push_text("true");
    let chat = OpenAiChat::new(fast(
        OpenAiConfig::new(server.base_url(), "llava:7b").with_api_key("local-key"),
    ))
    .unwrap();
    let answer = chat.converse(&vision_request()).await.unwrap();
    assert_eq!(answer.text, "true");
    assert_eq!(answer.stop_reason.as_deref(), Some("stop"));
    assert!(answer.output_tokens.is_some());

    let requests = server.requests();
    assert_eq!(requests.len(), 1);
    let body = &requests[0].body;
    // The configured model wins over the request's Bedrock model id.
    assert_eq!(body["model"], "llava:7b");
    assert_eq!(body["messages"][0]["role"], "system");
    assert_eq!(body["messages"][0]["content"], "You detect PII.");
    let parts = &body["messages"][1]["content"];
    assert_eq!(parts[0]["type"], "image_url");
    assert_eq!(
        parts[0]["image_url"]["url"],
        "data:image/png;base64,iVBORw=="
    );
    assert_eq!(parts[1]["type"], "text");
    assert_eq!(body["max_tokens"], 1024);
    assert_eq!(body["temperature"], 0.0);
    // top_k is not sent unless asked for (OpenAI itself rejects it).
    assert!(body.get("top_k").is_none());
    assert_eq!(
        requests[0].authorization.as_deref(),
        Some("Bearer local-key")
    );
}

#[tokio::test]
async fn text_only_turns_are_plain_strings_and_top_k_is_opt_in() {
    let server = OpenAiStandIn::start().await.unwrap();
    server.on_prompt_containing("CloudTrail", Reply::text("{\"threat_level\":\"low\"}"));
    let mut config = fast(OpenAiConfig::new(server.base_url(), ""));
    config.send_top_k = true;
    let chat = OpenAiChat::new(config).unwrap();
    let request = ChatRequest {
        model_id: "qwen2.5:0.5b".into(),
        messages: vec![ChatMessage {
            role: ChatRole::User,
            content: vec![ContentBlock::Text("Analyse this CloudTrail record".into())],
        }],
        top_k: Some(40),
        ..ChatRequest::default()
    };
    let answer = chat.converse(&request).await.unwrap();
    assert_eq!(answer.text, "{\"threat_level\":\"low\"}");
    let body = &server.requests()[0].body;
    // With no configured model the request's model id is used.
    assert_eq!(body["model"], "qwen2.5:0.5b");
    assert_eq!(
        body["messages"][0]["content"],
        "Analyse this CloudTrail record"
    );
    assert_eq!(body["top_k"], 40);
}

#[tokio::test]
async fn rate_limits_are_retried_then_succeed() {
    let server = OpenAiStandIn::start().await.unwrap();
    server.push(Reply::Error {
        status: 429,
        code: "rate_limit_exceeded".into(),
        message: "slow down".into(),
    });
    server.push(Reply::Error {
        status: 503,
        code: "overloaded".into(),
        message: "busy".into(),
    });
    server.push_text("false");
    let chat = OpenAiChat::new(fast(OpenAiConfig::new(server.base_url(), "m"))).unwrap();
    assert_eq!(
        chat.converse(&vision_request()).await.unwrap().text,
        "false"
    );
    assert_eq!(server.requests().len(), 3);
}

#[tokio::test]
async fn errors_are_classified_with_the_servers_code() {
    let server = OpenAiStandIn::start().await.unwrap();
    server.require_api_key("right");
    let chat = OpenAiChat::new(fast(
        OpenAiConfig::new(server.base_url(), "m").with_api_key("wrong"),
    ))
    .unwrap();
    let denied = chat.converse(&vision_request()).await.unwrap_err();
    assert_eq!(denied.kind, PortErrorKind::AccessDenied);
    assert_eq!(denied.code.as_deref(), Some("invalid_api_key"));

    let server = OpenAiStandIn::start().await.unwrap();
    for _ in 0..3 {
        server.push(Reply::Error {
            status: 429,
            code: "rate_limit_exceeded".into(),
            message: "slow down".into(),
        });
    }
    let chat = OpenAiChat::new(fast(OpenAiConfig::new(server.base_url(), "m"))).unwrap();
    let throttled = chat.converse(&vision_request()).await.unwrap_err();
    assert_eq!(throttled.kind, PortErrorKind::Throttled);
    assert_eq!(server.requests().len(), 3, "gives up after max_attempts");

    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut config = fast(OpenAiConfig::new(
        format!("http://127.0.0.1:{port}/v1"),
        "m",
    ));
    config.max_attempts = 1;
    let unreachable = OpenAiChat::new(config)
        .unwrap()
        .converse(&vision_request())
        .await
        .unwrap_err();
    assert_eq!(unreachable.kind, PortErrorKind::Unavailable);
    assert_eq!(unreachable.code.as_deref(), Some("ConnectFailed"));
}

#[tokio::test]
async fn a_request_without_messages_is_refused_before_any_call() {
    let chat = OpenAiChat::new(OpenAiConfig::new("http://127.0.0.1:9/v1", "m")).unwrap();
    let error = chat.converse(&ChatRequest::default()).await.unwrap_err();
    assert_eq!(error.kind, PortErrorKind::InvalidInput);
}
