//! TrailGuard's own workflow, `statemachine/security-audit.asl.json`, on test doubles.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test helpers panic on purpose

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use serde_json::{json, Value};
use trailguard_asl::{Execution, ExecutionStatus, ManualClock, Runner, StateMachine};
use trailguard_core::ports::{ChatRequest, ChatResponse};
use trailguard_local::{DeterministicChat, MemoryStore, RecordingNotifier};
use trailguard_runner::handlers::AnalysisFunction;
use trailguard_runner::integrations::{
    FnLambda, FunctionError, LambdaBinding, LambdaFunction, Ports,
};
use trailguard_runner::{BucketSink, KbSyncFunction};
use trailguard_triage::{AskPolicy, LogAnalysisHandler, Triage, TriageConfig};

const DEFINITION: &str = include_str!("../../../statemachine/security-audit.asl.json");

fn substitutions() -> HashMap<String, String> {
    HashMap::from([
        (
            "AnalysisFunctionArn".to_string(),
            "arn:aws:lambda:us-east-1:123456789012:function:trailguard-analysis".to_string(),
        ),
        (
            "PiiFunctionArn".to_string(),
            "arn:aws:lambda:us-east-1:123456789012:function:trailguard-pii".to_string(),
        ),
        (
            "KbSyncFunctionArn".to_string(),
            "arn:aws:lambda:us-east-1:123456789012:function:trailguard-kb-sync".to_string(),
        ),
        (
            "AlertTopicArn".to_string(),
            "arn:aws:sns:us-east-1:123456789012:trailguard-alerts".to_string(),
        ),
        ("PiiAction".to_string(), "delete".to_string()),
        (
            "QuarantineBucketName".to_string(),
            "trailguard-quarantine".to_string(),
        ),
    ])
}

struct Outcome {
    execution: Execution,
    store: Arc<MemoryStore>,
    notifier: Arc<RecordingNotifier>,
    /// The payloads the kb-sync stand-in was called with.
    kb: Arc<Mutex<Vec<Value>>>,
}

fn object_created() -> Value {
    json!({
        "source": "aws.s3", "detail-type": "Object Created",
        "detail": { "bucket": { "name": "uploads" }, "object": { "key": "photos/passport.jpg" } }
    })
}

/// The analysis as a stand-in function that answers `analysis` (or fails with it).
fn stand_in(analysis: Result<Value, &'static str>) -> Arc<dyn LambdaFunction> {
    Arc::new(FnLambda(move |_event: Value| match &analysis {
        Ok(a) => Ok(a.clone()),
        Err(message) => Err(FunctionError {
            error_type: "RuntimeError".into(),
            error_message: (*message).into(),
        }),
    }))
}

async fn run(analysis: Result<Value, &'static str>, pii: Value) -> Outcome {
    run_event(stand_in(analysis), pii, object_created()).await
}

/// A kb-sync that records its payloads and answers as the deployed one does.
fn recording_kb(calls: Arc<Mutex<Vec<Value>>>) -> Arc<dyn LambdaFunction> {
    Arc::new(FnLambda(move |payload: Value| {
        calls.lock().unwrap().push(payload);
        Ok(json!({"documents": [], "ingestion": "skipped", "reason": "test", "job_id": null}))
    }))
}

async fn run_event(analysis: Arc<dyn LambdaFunction>, pii: Value, event: Value) -> Outcome {
    run_with(analysis, pii, event, |_, calls| recording_kb(calls)).await
}

async fn run_with(
    analysis: Arc<dyn LambdaFunction>,
    pii: Value,
    event: Value,
    kb: impl FnOnce(Arc<MemoryStore>, Arc<Mutex<Vec<Value>>>) -> Arc<dyn LambdaFunction>,
) -> Outcome {
    let machine = StateMachine::from_json(DEFINITION, &substitutions()).unwrap();
    let store = Arc::new(MemoryStore::new());
    store.insert(
        "uploads",
        "photos/passport.jpg",
        b"jpeg",
        Some("image/jpeg"),
    );
    let notifier = Arc::new(RecordingNotifier::new());
    let mut lambda = LambdaBinding::new();
    lambda.register("trailguard-analysis", analysis);
    lambda.register(
        "trailguard-pii",
        Arc::new(FnLambda(move |_payload: Value| Ok(pii.clone()))),
    );
    let calls = Arc::new(Mutex::new(Vec::new()));
    lambda.register("trailguard-kb-sync", kb(store.clone(), calls.clone()));
    let bindings = Ports {
        functions: lambda,
        model: Arc::new(DeterministicChat::fixed("{}")),
        notifier: notifier.clone(),
        reader: store.clone(),
        writer: store.clone(),
    }
    .bindings();
    let runner = Runner::new(machine, bindings)
        .unwrap()
        .with_clock(ManualClock::new(0));
    let execution = runner.execute(event).await;
    Outcome {
        execution,
        store,
        notifier,
        kb: calls,
    }
}

/// What the analysis function returns for the uploaded photo: the object as the event names it.
fn analysis(level: &str, image: bool) -> Value {
    json!({
        "event_title": "[PutObject][123456789012][alice]",
        "summarize": "upload",
        "threat_level": level,
        "s3_bucket": "uploads",
        "s3_key": "photos/passport.jpg",
        "is_image_upload": image,
        "media_type": "image/jpeg"
    })
}

/// TrailGuard's analysis, asking a model that names another bucket and key on every answer.
fn triage_with_a_lying_model(level: &'static str) -> Arc<dyn LambdaFunction> {
    let model = DeterministicChat::with_response(move |_: &ChatRequest| {
        Ok(ChatResponse {
            text: format!(
                r#"{{"event_title":"[PutObject][1][x]","summarize":"s","threat_level":"{level}","s3_bucket":"other-bucket","s3_key":"other-key","is_image_upload":true,"media_type":"image/jpeg"}}"#
            ),
            ..ChatResponse::default()
        })
    });
    let mut config = TriageConfig::default();
    config.ask.policy = AskPolicy::Always;
    let (triage, _) = Triage::load(&[], Some(Arc::new(model)), config).unwrap();
    Arc::new(AnalysisFunction(Arc::new(LogAnalysisHandler::new(
        Arc::new(triage),
    ))))
}

#[tokio::test]
async fn a_model_naming_another_object_cannot_move_the_delete() {
    let outcome = run_event(
        triage_with_a_lying_model("high"),
        json!({"pii_detected": true}),
        object_created(),
    )
    .await;
    assert_eq!(
        outcome.execution.status,
        ExecutionStatus::Succeeded,
        "{:?}",
        outcome.execution.cause
    );
    assert_eq!(
        outcome.store.deleted(),
        vec![("uploads".into(), "photos/passport.jpg".into())]
    );
    let record: Value =
        trailguard_runner::alert_details(&outcome.notifier.messages()[0].1).unwrap();
    assert_eq!(record["analysis"]["threat_level"], json!("high"));
    assert_eq!(record["bucket"], json!("uploads"));
}

#[tokio::test]
async fn image_with_pii_is_recorded_then_deleted_from_the_event_location() {
    let outcome = run(Ok(analysis("medium", true)), json!({"pii_detected": true})).await;
    assert_eq!(
        outcome.execution.status,
        ExecutionStatus::Succeeded,
        "{:?}",
        outcome.execution.cause
    );
    assert_eq!(
        outcome.store.deleted(),
        vec![("uploads".into(), "photos/passport.jpg".into())]
    );
    let messages = outcome.notifier.messages();
    assert_eq!(messages.len(), 1, "the audit record precedes the deletion");
    let record: Value = trailguard_runner::alert_details(&messages[0].1).unwrap();
    assert_eq!(record["action"], json!("delete"));
    assert_eq!(record["analysis"]["threat_level"], json!("medium"));
    let output = outcome.execution.output.unwrap();
    assert_eq!(output["path"], json!("image-pii"));
    assert_eq!(output["action"], json!("deleted"));
    // The closing step got the analysis acted on, the raw event, the path's output (which it
    // passes through unchanged) and the PII check's result.
    let kb = outcome.kb.lock().unwrap().clone();
    assert_eq!(kb.len(), 1);
    assert_eq!(kb[0]["trailguard_kb"], json!("workflow"));
    assert_eq!(kb[0]["analysis"], analysis("medium", true));
    assert_eq!(kb[0]["event"], object_created());
    assert_eq!(kb[0]["output"], output);
    assert_eq!(kb[0]["pii"], json!({"pii_detected": true}));
    assert!(
        kb[0]["execution"]
            .as_str()
            .unwrap()
            .starts_with("arn:aws:states:"),
        "{}",
        kb[0]["execution"]
    );
}

#[tokio::test]
async fn image_without_pii_notifies_and_keeps_the_object() {
    for pii in [json!("false"), json!({"pii_detected": false})] {
        let outcome = run(Ok(analysis("low", true)), pii).await;
        assert_eq!(
            outcome.execution.status,
            ExecutionStatus::Succeeded,
            "{:?}",
            outcome.execution.cause
        );
        assert!(outcome.store.deleted().is_empty());
        assert_eq!(
            outcome.execution.output.unwrap()["path"],
            json!("image-no-pii")
        );
        assert_eq!(outcome.notifier.messages().len(), 1);
    }
}

#[tokio::test]
async fn every_threat_level_alerts_with_the_analysis() {
    for (level, path) in [
        ("high", "threat-high"),
        ("medium", "threat-medium"),
        ("low", "threat-low"),
        ("bogus", "threat-unknown"),
    ] {
        let outcome = run(Ok(analysis(level, false)), json!(false)).await;
        assert_eq!(
            outcome.execution.status,
            ExecutionStatus::Succeeded,
            "{level}: {:?}",
            outcome.execution.cause
        );
        assert_eq!(outcome.execution.output.unwrap()["path"], json!(path));
        let messages = outcome.notifier.messages();
        assert_eq!(messages.len(), 1);
        let body: Value = trailguard_runner::alert_details(&messages[0].1).unwrap();
        assert_eq!(body, analysis(level, false));
        let kb = outcome.kb.lock().unwrap().clone();
        assert_eq!(kb.len(), 1, "{level}");
        assert_eq!(kb[0]["output"]["path"], json!(path));
        assert_eq!(kb[0]["alert"], json!("PutObject by alice"));
        assert_eq!(kb[0]["pii"], Value::Null);
    }
}

#[tokio::test]
async fn every_successful_path_ends_in_the_knowledge_base_step() {
    for (level, image, pii) in [
        ("high", false, json!(false)),
        ("low", true, json!({"pii_detected": false})),
        ("medium", true, json!({"pii_detected": true})),
    ] {
        let outcome = run(Ok(analysis(level, image)), pii).await;
        assert_eq!(outcome.execution.status, ExecutionStatus::Succeeded);
        let entered: Vec<&str> = outcome
            .execution
            .trace
            .iter()
            .filter_map(|e| match e {
                trailguard_asl::TraceEvent::StateEntered { state } => Some(state.as_str()),
                _ => None,
            })
            .collect();
        assert_eq!(
            entered.last(),
            Some(&"Store In Knowledge Base"),
            "{entered:?}"
        );
    }
}

#[tokio::test]
async fn a_failing_knowledge_base_step_fails_the_execution_with_an_error_alert() {
    let outcome = run_with(
        stand_in(Ok(analysis("high", false))),
        json!(false),
        object_created(),
        |_, calls| {
            Arc::new(FnLambda(move |payload: Value| {
                calls.lock().unwrap().push(payload);
                Err(FunctionError {
                    error_type: "TrailGuard.KbSyncFailed".into(),
                    error_message: "kb-sync: AccessDenied".into(),
                })
            }))
        },
    )
    .await;
    assert_eq!(outcome.execution.status, ExecutionStatus::Failed);
    assert_eq!(
        outcome.execution.cause.as_deref(),
        Some("The knowledge-base stage failed: TrailGuard.KbSyncFailed")
    );
    assert_eq!(
        outcome.kb.lock().unwrap().len(),
        1,
        "a failure is not retried"
    );
    let messages = outcome.notifier.messages();
    assert_eq!(messages.len(), 2, "the HIGH alert, then the error alert");
    let details: Value = trailguard_runner::alert_details(&messages[1].1).unwrap();
    assert_eq!(details["stage"], json!("knowledge-base"));
    assert_eq!(details["done"]["path"], json!("threat-high"));
}

#[tokio::test]
async fn a_throttled_knowledge_base_step_is_retried() {
    let outcome = run_with(
        stand_in(Ok(analysis("low", false))),
        json!(false),
        object_created(),
        |_, calls| {
            Arc::new(FnLambda(move |payload: Value| {
                let mut calls = calls.lock().unwrap();
                calls.push(payload);
                if calls.len() < 3 {
                    return Err(FunctionError {
                        error_type: "TrailGuard.KbSyncRetryable".into(),
                        error_message: "SlowDown".into(),
                    });
                }
                Ok(json!({"documents": []}))
            }))
        },
    )
    .await;
    assert_eq!(
        outcome.execution.status,
        ExecutionStatus::Succeeded,
        "{:?}",
        outcome.execution.cause
    );
    assert_eq!(outcome.kb.lock().unwrap().len(), 3);
    assert_eq!(
        outcome.execution.output.unwrap()["path"],
        json!("threat-low")
    );
}

/// The in-process kb-sync writes what the deployed one writes to the knowledge-base bucket.
#[tokio::test]
async fn the_in_process_kb_sync_writes_the_bedrock_documents() {
    let outcome = run_with(
        triage_with_a_lying_model("high"),
        json!({"pii_detected": true, "evidence": [{"kind": "PASSPORT", "masked_value": "M****9", "counted": true}]}),
        object_created(),
        |store, _| {
            Arc::new(KbSyncFunction(Arc::new(BucketSink {
                writer: store,
                bucket: "kb".into(),
                prefix: "documents/".into(),
            })))
        },
    )
    .await;
    assert_eq!(
        outcome.execution.status,
        ExecutionStatus::Succeeded,
        "{:?}",
        outcome.execution.cause
    );
    let result = outcome
        .execution
        .trace
        .iter()
        .rev()
        .find_map(|e| match e {
            trailguard_asl::TraceEvent::TaskSucceeded { state, result, .. }
                if state == "Store In Knowledge Base" =>
            {
                Some(result["Payload"].clone())
            }
            _ => None,
        })
        .unwrap();
    let keys: Vec<String> = serde_json::from_value(result["documents"].clone()).unwrap();
    assert_eq!(keys.len(), 2, "{result}");
    let outcome_key = keys.iter().find(|k| k.contains("/outcome/")).unwrap();
    assert!(outcome
        .store
        .contains("kb", &format!("{outcome_key}.metadata.json")));
    let text = String::from_utf8(outcome.store.bytes("kb", outcome_key).unwrap()).unwrap();
    assert!(text.contains("was deleted"), "{text}");
    assert!(text.contains("PASSPORT (M****9)"), "{text}");
    // The path's output is the execution's, unchanged by the step.
    assert_eq!(
        outcome.execution.output.unwrap()["path"],
        json!("image-pii")
    );
}

#[tokio::test]
async fn a_failing_analysis_is_alerted_not_dropped() {
    let outcome = run(Err("model unavailable"), json!(false)).await;
    assert_eq!(outcome.execution.status, ExecutionStatus::Failed);
    assert_eq!(
        outcome.execution.error.as_deref(),
        Some("TrailGuard.WorkflowError")
    );
    let messages = outcome.notifier.messages();
    assert_eq!(messages.len(), 1);
    assert!(messages[0]
        .0
        .as_deref()
        .unwrap_or("")
        .contains("ERROR: needs manual review"));
    assert!(messages[0].1.contains("model unavailable"));
}

/// The production trigger: EventBridge "AWS API Call via CloudTrail" for PutObject.
#[tokio::test]
async fn cloudtrail_put_object_event_deletes_the_object_it_names() {
    let event = json!({
        "source": "aws.s3", "detail-type": "AWS API Call via CloudTrail",
        "detail": {
            "eventSource": "s3.amazonaws.com", "eventName": "PutObject",
            "requestParameters": { "bucketName": "uploads", "key": "photos/passport.jpg" }
        }
    });
    let outcome = run_event(
        triage_with_a_lying_model("low"),
        json!({"pii_detected": true}),
        event,
    )
    .await;
    assert_eq!(
        outcome.execution.status,
        ExecutionStatus::Succeeded,
        "{:?}",
        outcome.execution.cause
    );
    assert_eq!(
        outcome.store.deleted(),
        vec![("uploads".into(), "photos/passport.jpg".into())]
    );
}
