//! The guide's own `statemachine.asl.json`, unmodified, on test-double bindings:
//! every path it can take.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test helpers panic on purpose

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;

use serde_json::{json, Value};
use trailguard_asl::{Execution, ExecutionStatus, ManualClock, Runner, StateMachine};
use trailguard_local::{DeterministicChat, MemoryStore, RecordingNotifier};
use trailguard_runner::integrations::{FnLambda, LambdaBinding, Ports};

fn guide_definition() -> String {
    let root = std::env::var("TRAILGUARD_SEED")
        .map(PathBuf::from)
        .unwrap_or_else(|_| {
            PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/seed"))
        });
    let path = root.join("statemachine.asl.json");
    std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "the guide's state machine is missing at {}: {e}",
            path.display()
        )
    })
}

struct World {
    store: Arc<MemoryStore>,
    notifier: Arc<RecordingNotifier>,
    model: Arc<DeterministicChat>,
}

/// The model answers `analysis` (wrapped in a ```json fence, as Claude often does);
/// the PII Lambda answers `pii`.
async fn run(analysis: Value, pii: &'static str) -> (Execution, World) {
    let machine = StateMachine::from_json(&guide_definition(), &HashMap::new()).unwrap();
    let store = Arc::new(MemoryStore::new());
    store.insert(
        "uploads",
        "photos/id-card.png",
        b"\x89PNG...",
        Some("image/png"),
    );
    let notifier = Arc::new(RecordingNotifier::new());
    let model = Arc::new(DeterministicChat::fixed(&format!(
        "```json\n{analysis}\n```"
    )));
    let mut lambda = LambdaBinding::new();
    lambda.register(
        "YOUR-LAMBDA",
        Arc::new(FnLambda(move |payload: Value| {
            assert_eq!(payload["s3_bucket"], json!("uploads"));
            Ok(json!(pii))
        })),
    );
    let bindings = Ports {
        functions: lambda,
        model: model.clone(),
        notifier: notifier.clone(),
        reader: store.clone(),
        writer: store.clone(),
    }
    .bindings();
    let runner = Runner::new(machine, bindings)
        .unwrap()
        .with_clock(ManualClock::new(0));
    let event = json!({"eventName": "PutObject", "requestParameters": {"bucketName": "uploads", "key": "photos/id-card.png"}});
    let execution = runner.execute(event).await;
    (
        execution,
        World {
            store,
            notifier,
            model,
        },
    )
}

fn states_entered(execution: &Execution) -> Vec<String> {
    let history = serde_json::to_value(&execution.history).unwrap();
    history
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| {
            e["type"]
                .as_str()
                .is_some_and(|t| t.ends_with("StateEntered"))
        })
        .map(|e| {
            e["stateEnteredEventDetails"]["name"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect()
}

fn image_analysis() -> Value {
    json!({
        "event_title": "[PutObject][123456789012][alice]",
        "summarize": "An image was uploaded.",
        "threat_level": "low",
        "s3_bucket": "uploads",
        "s3_key": "photos/id-card.png",
        "is_image_upload": true,
        "media_type": "image/png"
    })
}

#[tokio::test]
async fn image_with_pii_is_deleted() {
    let (execution, world) = run(image_analysis(), "true").await;
    assert_eq!(
        execution.status,
        ExecutionStatus::Succeeded,
        "{:?} {:?}",
        execution.error,
        execution.cause
    );
    assert_eq!(
        states_entered(&execution),
        vec![
            "Analyze S3 API Logs from CloudTrail",
            "Image file detected?",
            "Detect PII using GenAI",
            "PII detected?",
            "Delete Image included PII"
        ]
    );
    assert_eq!(
        world.store.deleted(),
        vec![("uploads".to_string(), "photos/id-card.png".to_string())]
    );
    assert!(!world.store.contains("uploads", "photos/id-card.png"));
    assert!(world.notifier.messages().is_empty());
    // The prompt carries the event as text.
    let request = &world.model.requests()[0];
    assert_eq!(request.model_id, "anthropic.claude-3-haiku-20240307-v1:0");
    assert_eq!(request.max_tokens, Some(2048));
}

#[tokio::test]
async fn image_without_pii_notifies() {
    let (execution, world) = run(image_analysis(), "false").await;
    assert_eq!(
        execution.status,
        ExecutionStatus::Succeeded,
        "{:?} {:?}",
        execution.error,
        execution.cause
    );
    assert_eq!(
        states_entered(&execution).last().map(String::as_str),
        Some("No PII detected")
    );
    assert!(world.store.deleted().is_empty());
    let messages = world.notifier.messages();
    assert_eq!(messages.len(), 1);
    let message: Value = trailguard_runner::alert_details(&messages[0].1).unwrap();
    assert_eq!(message["pii_detected"], json!("false"));
    assert_eq!(message["Input"]["s3_key"], json!("photos/id-card.png"));
}

#[tokio::test]
async fn threat_levels_pick_the_matching_notification() {
    for (level, state) in [
        ("high", "Threat High Message"),
        ("medium", "Threat Medium Message"),
        ("low", "Threat Low Message"),
    ] {
        let mut analysis = image_analysis();
        analysis["is_image_upload"] = json!(false);
        analysis["threat_level"] = json!(level);
        let (execution, world) = run(analysis.clone(), "false").await;
        assert_eq!(
            execution.status,
            ExecutionStatus::Succeeded,
            "{level}: {:?}",
            execution.cause
        );
        assert_eq!(
            states_entered(&execution).last().map(String::as_str),
            Some(state)
        );
        let messages = world.notifier.messages();
        assert_eq!(messages.len(), 1);
        let message: Value = trailguard_runner::alert_details(&messages[0].1).unwrap();
        assert_eq!(message, analysis, "every alert carries the analysis JSON");
        assert!(execution.output.unwrap()["MessageId"].is_string());
    }
}

#[tokio::test]
async fn unexpected_level_fails_with_no_choice_matched() {
    let mut analysis = image_analysis();
    analysis["is_image_upload"] = json!(false);
    analysis["threat_level"] = json!("critical");
    let (execution, world) = run(analysis, "false").await;
    assert_eq!(execution.status, ExecutionStatus::Failed);
    assert_eq!(execution.error.as_deref(), Some("States.NoChoiceMatched"));
    assert!(world.notifier.messages().is_empty());
    let last = execution.history.last().unwrap();
    assert_eq!(last.event_type, "ExecutionFailed");
}
