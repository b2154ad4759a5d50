//! Edge cases of the kb-sync and chat handlers with the SDK mocked at its HTTP layer
//! (aws-smithy-mocks): throttling, conflicts, empty results, the debounce window.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test helpers panic on purpose

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_bedrockagent::operation::list_ingestion_jobs::ListIngestionJobsOutput;
use aws_sdk_bedrockagent::operation::start_ingestion_job::StartIngestionJobOutput;
use aws_sdk_bedrockagent::types::{IngestionJob, IngestionJobStatus, IngestionJobSummary};
use aws_sdk_bedrockagentruntime::operation::retrieve::RetrieveOutput;
use aws_smithy_mocks::{mock, mock_client, Rule, RuleMode};
use aws_smithy_runtime_api::http::{Response, StatusCode};
use aws_smithy_types::body::SdkBody;
use aws_smithy_types::retry::RetryConfig;
use aws_smithy_types::DateTime;
use serde_json::{json, Value};
use trailguard_aws::{BedrockIngestion, BedrockRetriever, ExecutionDetails};
use trailguard_core::ports::{ChatModel, ChatRequest, ChatResponse, PortError};
use trailguard_core::TaskFailure;
use trailguard_lambda::chat::{self, ChatHandler};
use trailguard_lambda::kb_sync::{ExecutionReader, Ingestion, KbSyncHandler, Settings};
use trailguard_local::MemoryStore;

const NOW: i64 = 1_714_568_400;

fn json_error(status: u16, error_type: &'static str) -> Response<SdkBody> {
    let mut response = Response::new(
        StatusCode::try_from(status).unwrap(),
        SdkBody::from("{\"message\":\"mocked failure\"}"),
    );
    response
        .headers_mut()
        .insert("x-amzn-errortype", error_type);
    response
        .headers_mut()
        .insert("content-type", "application/json");
    response
}

fn retry() -> RetryConfig {
    RetryConfig::standard()
        .with_max_attempts(3)
        .with_initial_backoff(Duration::from_millis(1))
}

struct NoExecutions;

#[async_trait]
impl ExecutionReader for NoExecutions {
    async fn describe(&self, arn: &str) -> Result<ExecutionDetails, PortError> {
        panic!("DescribeExecution was not expected ({arn})")
    }
}

fn summary(status: IngestionJobStatus, started_at: i64) -> IngestionJobSummary {
    IngestionJobSummary::builder()
        .knowledge_base_id("KB")
        .data_source_id("DS")
        .ingestion_job_id("OLDJOB")
        .status(status)
        .started_at(DateTime::from_secs(started_at))
        .updated_at(DateTime::from_secs(started_at))
        .build()
        .unwrap()
}

fn started() -> StartIngestionJobOutput {
    StartIngestionJobOutput::builder()
        .ingestion_job(
            IngestionJob::builder()
                .knowledge_base_id("KB")
                .data_source_id("DS")
                .ingestion_job_id("NEWJOB")
                .status(IngestionJobStatus::Starting)
                .started_at(DateTime::from_secs(NOW))
                .updated_at(DateTime::from_secs(NOW))
                .build()
                .unwrap(),
        )
        .build()
}

fn kb_sync(rules: &[&Rule], store: Arc<MemoryStore>, debounce: i64) -> KbSyncHandler {
    let client = mock_client!(aws_sdk_bedrockagent, RuleMode::MatchAny, rules, |c| c
        .retry_config(retry()));
    let settings = Settings::from_lookup(|name| match name {
        "KB_BUCKET" => Some("kb-bucket".into()),
        "KNOWLEDGE_BASE_ID" => Some("KB".into()),
        "KNOWLEDGE_BASE_DATA_SOURCE_ID" => Some("DS".into()),
        "KB_INGEST_DEBOUNCE_SECONDS" => Some(debounce.to_string()),
        _ => None,
    })
    .unwrap();
    KbSyncHandler::new(
        store,
        Arc::new(BedrockIngestion::new(client, "KB", "DS")),
        Arc::new(NoExecutions),
        KbSyncHandler::rules_only_triage().unwrap(),
        settings,
    )
    .with_clock(|| NOW)
}

const GUARDDUTY: &str = include_str!("../../../tests/fixtures/events/eventbridge_guardduty.json");

#[tokio::test]
async fn a_job_within_the_debounce_window_is_not_repeated() {
    let list = mock!(aws_sdk_bedrockagent::Client::list_ingestion_jobs).then_output(|| {
        ListIngestionJobsOutput::builder()
            .ingestion_job_summaries(summary(IngestionJobStatus::Complete, NOW - 30))
            .build()
            .unwrap()
    });
    let start = mock!(aws_sdk_bedrockagent::Client::start_ingestion_job).then_output(started);
    let store = Arc::new(MemoryStore::new());
    let handler = kb_sync(&[&list, &start], store.clone(), 60);
    let out = handler
        .handle(serde_json::from_str(GUARDDUTY).unwrap())
        .await
        .unwrap();
    assert_eq!(start.num_calls(), 0);
    assert_eq!(
        out.ingestion,
        Ingestion::Skipped {
            reason: "job OLDJOB started 30 s ago (debounce 60 s)".into(),
            job_id: Some("OLDJOB".into()),
        }
    );
    // The document is written even when ingestion waits.
    let key = &out.documents[0];
    assert!(store.contains("kb-bucket", key));
    assert!(store.contains("kb-bucket", &format!("{key}.metadata.json")));
}

#[tokio::test]
async fn a_job_older_than_the_window_starts_a_new_one() {
    let list = mock!(aws_sdk_bedrockagent::Client::list_ingestion_jobs).then_output(|| {
        ListIngestionJobsOutput::builder()
            .ingestion_job_summaries(summary(IngestionJobStatus::Complete, NOW - 61))
            .build()
            .unwrap()
    });
    let start = mock!(aws_sdk_bedrockagent::Client::start_ingestion_job)
        .match_requests(|input| {
            input.knowledge_base_id() == Some("KB") && input.data_source_id() == Some("DS")
        })
        .then_output(started);
    let handler = kb_sync(&[&list, &start], Arc::new(MemoryStore::new()), 60);
    let out = handler
        .handle(json!({"trailguard_kb": "ingest"}))
        .await
        .unwrap();
    assert_eq!(
        out.ingestion,
        Ingestion::Started {
            job_id: "NEWJOB".into()
        }
    );
    assert_eq!(start.num_calls(), 1);
}

#[tokio::test]
async fn a_conflict_means_another_invocation_started_the_job() {
    let list = mock!(aws_sdk_bedrockagent::Client::list_ingestion_jobs).then_output(|| {
        ListIngestionJobsOutput::builder()
            .set_ingestion_job_summaries(Some(vec![]))
            .build()
            .unwrap()
    });
    let start = mock!(aws_sdk_bedrockagent::Client::start_ingestion_job)
        .then_http_response(|| json_error(409, "ConflictException"));
    let handler = kb_sync(&[&list, &start], Arc::new(MemoryStore::new()), 60);
    let out = handler
        .handle(json!({"trailguard_kb": "ingest"}))
        .await
        .unwrap();
    assert!(
        matches!(out.ingestion, Ingestion::Skipped { ref reason, .. } if reason.contains("ConflictException"))
    );
    assert_eq!(start.num_calls(), 1, "a conflict is not retried");
}

#[tokio::test]
async fn throttling_past_the_retry_budget_is_a_retryable_failure() {
    let list = mock!(aws_sdk_bedrockagent::Client::list_ingestion_jobs).then_output(|| {
        ListIngestionJobsOutput::builder()
            .set_ingestion_job_summaries(Some(vec![]))
            .build()
            .unwrap()
    });
    let start = mock!(aws_sdk_bedrockagent::Client::start_ingestion_job)
        .sequence()
        .http_response(|| json_error(429, "ThrottlingException"))
        .repeatedly()
        .build();
    let handler = kb_sync(&[&list, &start], Arc::new(MemoryStore::new()), 60);
    let error = handler
        .handle(json!({"trailguard_kb": "ingest"}))
        .await
        .unwrap_err();
    assert_eq!(start.num_calls(), 3, "the SDK retried twice");
    assert_eq!(error.error_name(), "TrailGuard.KbSyncRetryable");
}

#[tokio::test]
async fn unknown_input_is_a_named_input_error() {
    let handler = kb_sync(&[], Arc::new(MemoryStore::new()), 60);
    let error = handler
        .handle(json!({"source": "aws.s3", "detail-type": "Object Created"}))
        .await
        .unwrap_err();
    assert_eq!(error.error_name(), "TrailGuard.KbSyncInput");
}

/// A model that must not be called, or answers `text`.
struct Scripted(Option<&'static str>);

#[async_trait]
impl ChatModel for Scripted {
    async fn converse(&self, _request: &ChatRequest) -> Result<ChatResponse, PortError> {
        match self.0 {
            Some(text) => Ok(ChatResponse {
                text: text.into(),
                ..ChatResponse::default()
            }),
            None => Err(PortError::new(
                trailguard_core::ports::PortErrorKind::Unavailable,
                "model down",
            )),
        }
    }
}

fn chat_handler(rules: &[&Rule], model: Scripted) -> ChatHandler {
    let client = mock_client!(
        aws_sdk_bedrockagentruntime,
        RuleMode::MatchAny,
        rules,
        |c| c.retry_config(retry())
    );
    let settings =
        chat::Settings::from_lookup(|name| (name == "KNOWLEDGE_BASE_ID").then(|| "KB".into()))
            .unwrap();
    ChatHandler::new(
        Arc::new(BedrockRetriever::new(client, "KB")),
        Arc::new(model),
        settings,
    )
}

#[tokio::test]
async fn retrieve_throttled_past_the_budget_is_503() {
    let retrieve = mock!(aws_sdk_bedrockagentruntime::Client::retrieve)
        .sequence()
        .http_response(|| json_error(429, "ThrottlingException"))
        .repeatedly()
        .build();
    let handler = chat_handler(&[&retrieve], Scripted(None));
    let response = handler
        .handle(json!({"requestContext": {}, "body": "{\"question\": \"any root logins?\"}"}))
        .await;
    assert_eq!(retrieve.num_calls(), 3);
    assert_eq!(response["statusCode"], 503);
    let body: Value = serde_json::from_str(response["body"].as_str().unwrap()).unwrap();
    assert!(body["error"]
        .as_str()
        .unwrap()
        .contains("ThrottlingException"));
}

#[tokio::test]
async fn no_results_answer_in_the_question_language_without_the_model() {
    let retrieve = mock!(aws_sdk_bedrockagentruntime::Client::retrieve).then_output(|| {
        RetrieveOutput::builder()
            .set_retrieval_results(Some(vec![]))
            .build()
            .unwrap()
    });
    let handler = chat_handler(&[&retrieve], Scripted(None));
    let answer = handler
        .handle(json!({"question": "Any console logins without MFA?"}))
        .await;
    assert_eq!(
        answer["answer"],
        "The knowledge base holds no data that answers this question."
    );
    assert_eq!(answer["citations"], json!([]));
    assert_eq!(answer["answered_by"], "none");
}

#[tokio::test]
async fn a_failed_model_still_answers_with_the_matching_documents() {
    use aws_sdk_bedrockagentruntime::types::{
        KnowledgeBaseRetrievalResult, RetrievalResultContent, RetrievalResultLocation,
        RetrievalResultLocationType, RetrievalResultS3Location,
    };
    use aws_smithy_types::Document;
    let retrieve = mock!(aws_sdk_bedrockagentruntime::Client::retrieve).then_output(|| {
        let result = KnowledgeBaseRetrievalResult::builder()
            .content(
                RetrievalResultContent::builder()
                    .text("### ConsoleLogin\nroot signed in without MFA")
                    .build(),
            )
            .location(
                RetrievalResultLocation::builder()
                    .r#type(RetrievalResultLocationType::S3)
                    .s3_location(
                        RetrievalResultS3Location::builder()
                            .uri("s3://kb/documents/event/a.md")
                            .build(),
                    )
                    .build()
                    .unwrap(),
            )
            .score(0.9)
            .metadata("doc_id", Document::String("login-1~00ff00ff".into()))
            .build();
        RetrieveOutput::builder()
            .retrieval_results(result)
            .build()
            .unwrap()
    });
    let handler = chat_handler(&[&retrieve], Scripted(None));
    let answer = handler
        .handle(json!({"question": "any root logins?"}))
        .await;
    assert_eq!(answer["answered_by"], "documents");
    assert_eq!(answer["citations"], json!(["login-1~00ff00ff"]));
    assert!(answer["answer"]
        .as_str()
        .unwrap()
        .contains("- ConsoleLogin [login-1~00ff00ff]"));
}

#[tokio::test]
async fn bad_requests_are_400() {
    let handler = chat_handler(&[], Scripted(None));
    for body in ["not json", "{\"q\": 1}", "{\"question\": \"   \"}"] {
        let response = handler
            .handle(json!({"requestContext": {}, "body": body}))
            .await;
        assert_eq!(response["statusCode"], 400, "{body}");
    }
}
