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

const STOP_LOGGING: &str = include_str!("../../../tests/fixtures/events/stop_logging.json");

#[tokio::test]
async fn the_workflow_step_documents_the_analysis_it_acted_on() {
    let list = mock!(aws_sdk_bedrockagent::Client::list_ingestion_jobs).then_output(|| {
        ListIngestionJobsOutput::builder()
            .set_ingestion_job_summaries(Some(vec![]))
            .build()
            .unwrap()
    });
    let start = mock!(aws_sdk_bedrockagent::Client::start_ingestion_job).then_output(started);
    let store = Arc::new(MemoryStore::new());
    let handler = kb_sync(&[&list, &start], store.clone(), 60);
    // The workflow's analysis: the rules' record with the model's summary, which the rules-only
    // recomputation of the execution-event path could never produce.
    let mut analysis = KbSyncHandler::rules_only_triage()
        .unwrap()
        .analyze(STOP_LOGGING)
        .await
        .unwrap()
        .record;
    analysis.summarize = "Model: someone switched off the audit trail.".into();
    let execution = "arn:aws:states:us-east-1:123456789012:execution:tg-security-audit:run-1";
    let out = handler
        .handle(json!({
            "trailguard_kb": "workflow",
            "execution": execution,
            "event": serde_json::from_str::<Value>(STOP_LOGGING).unwrap(),
            "analysis": analysis,
            "output": {"path": "threat-high", "action": "notified", "level": "high", "message_id": "m-1"},
            "pii": null,
            "alert": "StopLogging by alice"
        }))
        .await
        .unwrap();
    assert_eq!(out.documents.len(), 2, "{:?}", out.documents);
    assert_eq!(start.num_calls(), 1);
    let read = |key: &str| String::from_utf8(store.bytes("kb-bucket", key).unwrap()).unwrap();
    let event_key = out
        .documents
        .iter()
        .find(|k| k.contains("/event/"))
        .unwrap();
    let outcome_key = out
        .documents
        .iter()
        .find(|k| k.contains("/outcome/"))
        .unwrap();
    assert!(read(event_key).contains("Model: someone switched off the audit trail."));
    let outcome = read(outcome_key);
    assert!(
        outcome.contains("An alert was sent (StopLogging by alice)"),
        "{outcome}"
    );
    let metadata: Value =
        serde_json::from_str(&read(&format!("{outcome_key}.metadata.json"))).unwrap();
    assert_eq!(metadata["metadataAttributes"]["action"], "alerted");
    assert_eq!(metadata["metadataAttributes"]["raw_link"], execution);
}

#[tokio::test]
async fn a_workflow_step_without_an_analysis_is_an_input_error() {
    let handler = kb_sync(&[], Arc::new(MemoryStore::new()), 60);
    let error = handler
        .handle(json!({
            "trailguard_kb": "workflow",
            "execution": "arn:aws:states:us-east-1:1:execution:m:x",
            "event": serde_json::from_str::<Value>(STOP_LOGGING).unwrap(),
            "output": {"path": "threat-high"}
        }))
        .await
        .unwrap_err();
    assert_eq!(error.error_name(), "TrailGuard.KbSyncInput");
    assert!(error.to_string().contains("analysis"), "{error}");
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

// ---------------------------------------------------------------- retrieve-and-generate mode

mod retrieve_and_generate {
    use super::*;
    use aws_sdk_bedrockagentruntime::operation::retrieve_and_generate::RetrieveAndGenerateOutput;
    use aws_sdk_bedrockagentruntime::types::{
        Citation, GeneratedResponsePart, GuadrailAction, RetrievalResultContent,
        RetrievalResultLocation, RetrievalResultLocationType, RetrievalResultS3Location,
        RetrieveAndGenerateOutput as GeneratedText, RetrievedReference, TextResponsePart,
    };
    use aws_smithy_types::Document;

    fn settings() -> chat::Settings {
        chat::Settings::from_lookup(|name| match name {
            "KNOWLEDGE_BASE_ID" => Some("KB".into()),
            "CHAT_MODE" => Some("retrieve-and-generate".into()),
            "CHAT_MODEL_ID" => Some("global.anthropic.claude-haiku-4-5-20251001-v1:0".into()),
            "CHAT_MODEL_ARN" => Some(
                "arn:aws:bedrock:us-east-1:111122223333:inference-profile/global.anthropic.claude-haiku-4-5-20251001-v1:0"
                    .into(),
            ),
            _ => None,
        })
        .unwrap()
    }

    fn handler(rules: &[&Rule]) -> ChatHandler {
        let client = mock_client!(
            aws_sdk_bedrockagentruntime,
            RuleMode::MatchAny,
            rules,
            |c| c.retry_config(retry())
        );
        // The Converse model must not be called in this mode: it fails if it is.
        ChatHandler::new(
            Arc::new(BedrockRetriever::new(client, "KB")),
            Arc::new(Scripted(None)),
            settings(),
        )
    }

    fn reference(uri: &str, doc_id: Option<&str>) -> RetrievedReference {
        let mut reference = RetrievedReference::builder()
            .content(
                RetrievalResultContent::builder()
                    .text("### ConsoleLogin")
                    .build(),
            )
            .location(
                RetrievalResultLocation::builder()
                    .r#type(RetrievalResultLocationType::S3)
                    .s3_location(RetrievalResultS3Location::builder().uri(uri).build())
                    .build()
                    .unwrap(),
            );
        if let Some(id) = doc_id {
            reference = reference.metadata("doc_id", Document::String(id.into()));
        }
        reference.build()
    }

    fn citation(text: &str, references: Vec<RetrievedReference>) -> Citation {
        Citation::builder()
            .generated_response_part(
                GeneratedResponsePart::builder()
                    .text_response_part(TextResponsePart::builder().text(text).build())
                    .build(),
            )
            .set_retrieved_references(Some(references))
            .build()
    }

    fn generated(
        text: &'static str,
        citations: Vec<Citation>,
        guardrail: Option<GuadrailAction>,
    ) -> RetrieveAndGenerateOutput {
        RetrieveAndGenerateOutput::builder()
            .session_id("s-1")
            .output(GeneratedText::builder().text(text).build().unwrap())
            .set_citations(Some(citations))
            .set_guardrail_action(guardrail)
            .build()
            .unwrap()
    }

    #[tokio::test]
    async fn throttled_past_the_budget_is_503() {
        let rag = mock!(aws_sdk_bedrockagentruntime::Client::retrieve_and_generate)
            .sequence()
            .http_response(|| json_error(429, "ThrottlingException"))
            .repeatedly()
            .build();
        let response = handler(&[&rag])
            .handle(json!({"requestContext": {}, "body": "{\"question\": \"any root logins?\"}"}))
            .await;
        assert_eq!(rag.num_calls(), 3, "the SDK retried twice");
        assert_eq!(response["statusCode"], 503);
        let body: Value = serde_json::from_str(response["body"].as_str().unwrap()).unwrap();
        let error = body["error"].as_str().unwrap();
        assert!(error.contains("retrieve-and-generate failed"), "{error}");
        assert!(error.contains("ThrottlingException"), "{error}");
    }

    #[tokio::test]
    async fn a_rejected_model_arn_is_400() {
        let rag = mock!(aws_sdk_bedrockagentruntime::Client::retrieve_and_generate)
            .then_http_response(|| json_error(400, "ValidationException"));
        let response = handler(&[&rag])
            .handle(json!({"requestContext": {}, "body": "{\"question\": \"any root logins?\"}"}))
            .await;
        assert_eq!(rag.num_calls(), 1, "a validation error is not retried");
        assert_eq!(response["statusCode"], 400);
    }

    #[tokio::test]
    async fn an_answer_without_references_is_the_no_data_answer_in_korean() {
        // What Bedrock answers when nothing relevant is retrieved: text, a citation, no reference.
        let rag =
            mock!(aws_sdk_bedrockagentruntime::Client::retrieve_and_generate).then_output(|| {
                let text = "Sorry, I am unable to assist you with this request.";
                generated(text, vec![citation(text, vec![])], None)
            });
        let answer = handler(&[&rag])
            .handle(json!({"question": "MFA 없이 콘솔에 로그인한 사람이 있나요?"}))
            .await;
        assert_eq!(
            answer["answer"],
            "지식 베이스에 이 질문에 답할 데이터가 없습니다."
        );
        assert_eq!(answer["citations"], json!([]));
        assert_eq!(answer["answered_by"], "none");
    }

    #[tokio::test]
    async fn no_citations_at_all_is_the_no_data_answer() {
        let rag = mock!(aws_sdk_bedrockagentruntime::Client::retrieve_and_generate)
            .then_output(|| generated("Root logged in 3 times.", vec![], None));
        let answer = handler(&[&rag])
            .handle(json!({"question": "How many root logins?"}))
            .await;
        assert_eq!(
            answer["answer"],
            "The knowledge base holds no data that answers this question."
        );
        assert_eq!(answer["citations"], json!([]));
    }

    #[tokio::test]
    async fn citations_are_the_referenced_ids_and_unknown_ids_are_removed() {
        let rag = mock!(aws_sdk_bedrockagentruntime::Client::retrieve_and_generate)
            .match_requests(|input| {
                let kb = input
                    .retrieve_and_generate_configuration()
                    .and_then(|c| c.knowledge_base_configuration());
                input.input().map(|i| i.text()) == Some("any root logins?")
                    && kb.map(|kb| kb.knowledge_base_id()) == Some("KB")
                    && kb.map(|kb| kb.model_arn())
                        == Some("arn:aws:bedrock:us-east-1:111122223333:inference-profile/global.anthropic.claude-haiku-4-5-20251001-v1:0")
            })
            .then_output(|| {
                generated(
                    "Root signed in without MFA. See [ghost-1] too. A second login came from a new IP.",
                    vec![
                        citation(
                            "Root signed in without MFA.",
                            vec![
                                reference("s3://kb/documents/event/a.md", Some("login-1~00ff")),
                                // The same document again (a second chunk): cited once.
                                reference("s3://kb/documents/event/a.md", Some("login-1~00ff")),
                            ],
                        ),
                        citation(
                            "A second login came from a new IP.",
                            // No doc_id in the metadata: the S3 location is the id.
                            vec![reference("s3://kb/documents/event/b.md", None)],
                        ),
                    ],
                    None,
                )
            });
        let answer = handler(&[&rag])
            .handle(json!({"question": "any root logins?"}))
            .await;
        assert_eq!(rag.num_calls(), 1, "the request matched");
        assert_eq!(
            answer["citations"],
            json!(["login-1~00ff", "s3://kb/documents/event/b.md"])
        );
        assert_eq!(answer["dropped_citations"], json!(["ghost-1"]));
        assert_eq!(
            answer["answer"],
            "Root signed in without MFA. [login-1~00ff] See  too. A second login came from a new \
             IP. [s3://kb/documents/event/b.md]"
        );
        assert_eq!(
            answer["answered_by"],
            "global.anthropic.claude-haiku-4-5-20251001-v1:0"
        );
        assert_eq!(answer["sources"].as_array().unwrap().len(), 2);
    }

    #[tokio::test]
    async fn a_guardrail_intervention_is_not_passed_on_as_an_answer() {
        let rag =
            mock!(aws_sdk_bedrockagentruntime::Client::retrieve_and_generate).then_output(|| {
                generated(
                    "Sorry, the model cannot answer this question.",
                    vec![citation(
                        "Sorry, the model cannot answer this question.",
                        vec![reference("s3://kb/documents/event/a.md", Some("login-1"))],
                    )],
                    Some(GuadrailAction::Intervened),
                )
            });
        let answer = handler(&[&rag])
            .handle(json!({"question": "any root logins?"}))
            .await;
        assert_eq!(answer["answered_by"], "none");
        assert_eq!(answer["citations"], json!([]));
    }

    #[test]
    fn the_model_arn_setting() {
        let lookup = |mode: &'static str, model: &'static str, arn: Option<&'static str>| {
            move |name: &str| match name {
                "KNOWLEDGE_BASE_ID" => Some("KB".to_string()),
                "CHAT_MODE" => Some(mode.to_string()),
                "CHAT_MODEL_ID" => Some(model.to_string()),
                "CHAT_MODEL_ARN" => arn.map(str::to_string),
                "AWS_REGION" => Some("eu-west-1".to_string()),
                _ => None,
            }
        };
        // A foundation model: built from the region (AWS_REGION when BEDROCK_REGION is unset).
        let s = chat::Settings::from_lookup(lookup(
            "retrieve-and-generate",
            "anthropic.claude-3-haiku-20240307-v1:0",
            None,
        ))
        .unwrap();
        assert_eq!(s.mode, chat::ChatMode::RetrieveAndGenerate);
        assert_eq!(
            s.model_arn.as_deref(),
            Some("arn:aws:bedrock:eu-west-1::foundation-model/anthropic.claude-3-haiku-20240307-v1:0")
        );
        // An inference profile's ARN names the account: without CHAT_MODEL_ARN it is an error.
        let error = chat::Settings::from_lookup(lookup(
            "retrieve-and-generate",
            "eu.anthropic.claude-3-haiku-20240307-v1:0",
            None,
        ))
        .unwrap_err();
        assert!(error.to_string().contains("CHAT_MODEL_ARN"), "{error}");
        assert_eq!(
            chat::model_arn_for("anthropic.claude-3-haiku-20240307-v1:0", Some("cn-north-1"))
                .unwrap(),
            "arn:aws-cn:bedrock:cn-north-1::foundation-model/anthropic.claude-3-haiku-20240307-v1:0"
        );
        // The default mode needs no ARN; an unknown mode is refused.
        let s = chat::Settings::from_lookup(lookup(
            "retrieve-converse",
            "eu.anthropic.claude-3-haiku-20240307-v1:0",
            None,
        ))
        .unwrap();
        assert_eq!(
            (s.mode, s.model_arn),
            (chat::ChatMode::RetrieveConverse, None)
        );
        assert!(chat::Settings::from_lookup(lookup("generate", "m.x", None)).is_err());
    }
}
