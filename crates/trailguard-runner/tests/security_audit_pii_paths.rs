//! The PII paths of `statemachine/security-audit.asl.json` on in-memory adapters and a manual
//! clock: delete by version on a versioned bucket, quarantine (copy with tags, then delete),
//! retries of `TrailGuard.PiiRetryable`, no-verdict alerts, and repeated events.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test helpers panic on purpose

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use serde_json::{json, Value};
use trailguard_asl::{
    Execution, ExecutionStatus, ManualClock, Runner, StateMachine, TaskContext, TaskError,
    TaskHandler,
};
use trailguard_core::ports::{Notification, Notifier, PortError};
use trailguard_local::{DeterministicChat, MemoryStore, RecordingNotifier};
use trailguard_runner::integrations::{FnLambda, FunctionError, LambdaBinding, Ports};

const DEFINITION: &str = include_str!("../../../statemachine/security-audit.asl.json");
const BUCKET: &str = "uploads";
const KEY: &str = "photos/passport.jpg";
const QUARANTINE: &str = "trailguard-quarantine";

fn machine(pii_action: &str) -> StateMachine {
    let substitutions = HashMap::from([
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
        ("PiiAction".to_string(), pii_action.to_string()),
        ("QuarantineBucketName".to_string(), QUARANTINE.to_string()),
    ]);
    StateMachine::from_json(DEFINITION, &substitutions).unwrap()
}

/// The closing knowledge-base step's function: checks it gets the path's output, answers as the
/// deployed one does.
fn kb_sync() -> Arc<FnLambda<impl Fn(Value) -> Result<Value, FunctionError> + Send + Sync>> {
    Arc::new(FnLambda(|payload: Value| {
        assert_eq!(payload["trailguard_kb"], json!("workflow"));
        assert!(payload["output"]["path"].is_string(), "{payload}");
        Ok(json!({"documents": [], "ingestion": "skipped"}))
    }))
}

/// What the analysis function answers: a medium-level image upload of the object the event
/// names, read off the event as TrailGuard's analysis does for these two shapes.
fn analysis_of(event: &Value) -> Value {
    let detail = &event["detail"];
    let first = |candidates: [&Value; 2]| {
        candidates
            .into_iter()
            .find(|v| v.is_string())
            .cloned()
            .unwrap_or(Value::Null)
    };
    json!({
        "event_title": "[PutObject][123456789012][alice]",
        "summarize": "image upload",
        "threat_level": "medium",
        "s3_bucket": first([&detail["bucket"]["name"], &detail["requestParameters"]["bucketName"]]),
        "s3_key": first([&detail["object"]["key"], &detail["requestParameters"]["key"]]),
        "is_image_upload": true,
        "media_type": "image/jpeg",
        "s3_version_id": first([&detail["object"]["version-id"], &detail["responseElements"]["x-amz-version-id"]]),
    })
}

/// EventBridge's native S3 "Object Created" event.
fn object_created(key: &str, version: Option<&str>) -> Value {
    let mut object = json!({ "key": key, "size": 4 });
    if let Some(v) = version {
        object["version-id"] = json!(v);
    }
    json!({
        "source": "aws.s3", "detail-type": "Object Created",
        "detail": { "bucket": { "name": BUCKET }, "object": object }
    })
}

/// EventBridge "AWS API Call via CloudTrail" for PutObject on a versioned bucket.
fn cloudtrail_put(key: &str, version: &str) -> Value {
    json!({
        "source": "aws.s3", "detail-type": "AWS API Call via CloudTrail",
        "detail": {
            "eventSource": "s3.amazonaws.com", "eventName": "PutObject",
            "requestParameters": { "bucketName": BUCKET, "key": key },
            "responseElements": {
                "x-amz-server-side-encryption": "aws:kms",
                "x-amz-version-id": version
            },
            "additionalEventData": { "SignatureVersion": "SigV4", "bytesTransferredIn": 4 }
        }
    })
}

fn function_error(error_type: &str, message: &str) -> FunctionError {
    FunctionError {
        error_type: error_type.into(),
        error_message: message.into(),
    }
}

/// What the PII Lambda answers on its `call`-th invocation (0-based), given the store.
type PiiScript = dyn Fn(&MemoryStore, &Value, usize) -> Result<Value, FunctionError> + Send + Sync;

/// Like the real handler: an object that is gone gives no verdict.
fn detector(verdict: Value) -> Box<PiiScript> {
    Box::new(move |store, payload, _| {
        let bucket = payload["s3_bucket"].as_str().unwrap();
        let key = payload["s3_key"].as_str().unwrap();
        if store.contains(bucket, key) {
            Ok(verdict.clone())
        } else {
            Err(function_error(
                "TrailGuard.PiiNoVerdict",
                &format!("no PII verdict for s3://{bucket}/{key}: NoSuchKey: object not found"),
            ))
        }
    })
}

/// Records, at each publication, whether the uploaded object still existed.
struct ObservingNotifier {
    inner: RecordingNotifier,
    store: Arc<MemoryStore>,
    watch: (String, String),
    object_present: Mutex<Vec<bool>>,
}

#[async_trait]
impl Notifier for ObservingNotifier {
    async fn publish(&self, notification: &Notification) -> Result<String, PortError> {
        let present = self.store.contains(&self.watch.0, &self.watch.1)
            || !self.store.versions(&self.watch.0, &self.watch.1).is_empty();
        self.object_present.lock().unwrap().push(present);
        self.inner.publish(notification).await
    }
}

struct World {
    store: Arc<MemoryStore>,
    notifier: Arc<ObservingNotifier>,
    clock: Arc<ManualClock>,
    pii_calls: Arc<AtomicUsize>,
    /// What the analysis function answered last.
    last_analysis: Arc<Mutex<Value>>,
}

impl World {
    fn new(store: MemoryStore, key: &str) -> World {
        let store = Arc::new(store);
        World {
            notifier: Arc::new(ObservingNotifier {
                inner: RecordingNotifier::new(),
                store: store.clone(),
                watch: (BUCKET.to_string(), key.to_string()),
                object_present: Mutex::new(Vec::new()),
            }),
            store,
            clock: ManualClock::new(1_700_000_000_000),
            pii_calls: Arc::new(AtomicUsize::new(0)),
            last_analysis: Arc::new(Mutex::new(Value::Null)),
        }
    }

    async fn run(&self, pii_action: &str, event: Value, pii: Arc<PiiScript>) -> Execution {
        self.run_with_head(pii_action, event, pii, None).await
    }

    /// `head`: what the workflow's HeadObject call gets instead of the store's answer.
    async fn run_with_head(
        &self,
        pii_action: &str,
        event: Value,
        pii: Arc<PiiScript>,
        head: Option<Arc<dyn TaskHandler>>,
    ) -> Execution {
        let mut lambda = LambdaBinding::new();
        let last = self.last_analysis.clone();
        lambda.register(
            "trailguard-analysis",
            Arc::new(FnLambda(move |event: Value| {
                let analysis = analysis_of(&event);
                *last.lock().unwrap() = analysis.clone();
                Ok(analysis)
            })),
        );
        let store = self.store.clone();
        let calls = self.pii_calls.clone();
        lambda.register(
            "trailguard-pii",
            Arc::new(FnLambda(move |payload: Value| {
                let call = calls.fetch_add(1, Ordering::SeqCst);
                pii(&store, &payload, call)
            })),
        );
        lambda.register("trailguard-kb-sync", kb_sync());
        let mut bindings = Ports {
            functions: lambda,
            model: Arc::new(DeterministicChat::fixed("{}")),
            notifier: self.notifier.clone(),
            reader: self.store.clone(),
            writer: self.store.clone(),
        }
        .bindings();
        if let Some(head) = head {
            bindings.bind("arn:aws:states:::aws-sdk:s3:headObject", head);
        }
        Runner::new(machine(pii_action), bindings)
            .unwrap()
            .with_clock(self.clock.clone())
            .with_seed(7)
            .execute(event)
            .await
    }

    fn analysis(&self) -> Value {
        self.last_analysis.lock().unwrap().clone()
    }

    /// `(subject, parsed message)` in publication order.
    fn messages(&self) -> Vec<(String, Value)> {
        self.notifier
            .inner
            .messages()
            .into_iter()
            .map(|(subject, body)| {
                (
                    subject.unwrap_or_default(),
                    trailguard_runner::alert_details(&body).unwrap(),
                )
            })
            .collect()
    }
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

fn assert_succeeded(execution: &Execution) {
    assert_eq!(
        execution.status,
        ExecutionStatus::Succeeded,
        "{:?}: {:?}",
        execution.error,
        execution.cause
    );
}

#[tokio::test]
async fn versioned_bucket_event_deletes_the_uploaded_version_for_good() {
    for from_cloudtrail in [false, true] {
        let world = World::new(MemoryStore::versioned(), KEY);
        let version = world.store.insert(BUCKET, KEY, b"jpeg", Some("image/jpeg"));
        let event = if from_cloudtrail {
            cloudtrail_put(KEY, &version)
        } else {
            object_created(KEY, Some(&version))
        };
        let execution = world
            .run("delete", event, Arc::from(detector(json!("true"))))
            .await;
        assert_succeeded(&execution);
        assert_eq!(
            world.store.deleted_versions(),
            vec![(BUCKET.into(), KEY.into(), Some(version.clone()))]
        );
        assert!(!world.store.has_version(BUCKET, KEY, &version));
        assert!(
            world.store.versions(BUCKET, KEY).is_empty(),
            "no delete marker, no version left"
        );
        let messages = world.messages();
        assert_eq!(messages.len(), 1);
        assert_eq!(messages[0].1["action"], json!("delete"));
        assert_eq!(messages[0].1["version_id"], json!(version));
        assert_eq!(
            *world.notifier.object_present.lock().unwrap(),
            vec![true],
            "the audit record is published before the deletion"
        );
        let output = execution.output.unwrap();
        assert_eq!(output["action"], json!("deleted"));
        assert_eq!(output["version_id"], json!(version));
    }
}

#[tokio::test]
async fn the_events_version_is_deleted_not_a_newer_upload() {
    let world = World::new(MemoryStore::versioned(), KEY);
    let with_pii = world.store.insert(BUCKET, KEY, b"pii", Some("image/jpeg"));
    let newer = world
        .store
        .insert(BUCKET, KEY, b"clean", Some("image/jpeg"));
    // The PII check must look at the event's version, not at the newer current one.
    let pii_version = with_pii.clone();
    let pii: Arc<PiiScript> = Arc::new(move |_store, payload, _call| {
        Ok(json!(payload["version_id"] == json!(pii_version)))
    });
    let execution = world
        .run("delete", object_created(KEY, Some(&with_pii)), pii)
        .await;
    assert_succeeded(&execution);
    assert_eq!(execution.output.unwrap()["path"], json!("image-pii"));
    assert!(!world.store.has_version(BUCKET, KEY, &with_pii));
    assert!(world.store.has_version(BUCKET, KEY, &newer));
    assert_eq!(world.store.bytes(BUCKET, KEY), Some(b"clean".to_vec()));
}

/// Why the version matters: without one, a versioned bucket only hides the object.
#[tokio::test]
async fn without_a_version_id_the_plain_delete_leaves_a_delete_marker() {
    let world = World::new(MemoryStore::versioned(), KEY);
    let version = world.store.insert(BUCKET, KEY, b"jpeg", Some("image/jpeg"));
    let execution = world
        .run(
            "delete",
            object_created(KEY, None),
            Arc::from(detector(json!("true"))),
        )
        .await;
    assert_succeeded(&execution);
    assert_eq!(
        world.store.deleted_versions(),
        vec![(BUCKET.into(), KEY.into(), None)]
    );
    assert!(!world.store.contains(BUCKET, KEY));
    assert!(world.store.has_version(BUCKET, KEY, &version));
    assert_eq!(world.messages()[0].1["version_id"], Value::Null);
}

#[tokio::test]
async fn quarantine_copies_the_version_with_tags_then_deletes_it() {
    // A key that needs URL-encoding in CopySource.
    let key = "photos/my passport+1 é.jpg";
    let world = World::new(MemoryStore::versioned(), key);
    let version = world.store.insert(BUCKET, key, b"jpeg", Some("image/jpeg"));
    let verdict = json!({
        "pii_detected": true, "status": "ok", "detector": "bedrock:claude-3-5-sonnet (v2), eu",
        "evidence": [
            {"kind": "EMAIL", "masked_value": "a***@b.c", "source": "model", "counted": true},
            {"kind": "PHONE", "masked_value": "+1 5**", "source": "model", "counted": true},
            {"kind": "EMAIL", "masked_value": "d***@e.f", "source": "model", "counted": true},
            {"kind": "FACE", "masked_value": "[face]", "source": "face", "counted": false}
        ],
        "reason": "e-mail and phone visible", "s3_bucket": BUCKET, "s3_key": key
    });
    let execution = world
        .run(
            "quarantine",
            object_created(key, Some(&version)),
            Arc::from(detector(verdict)),
        )
        .await;
    assert_succeeded(&execution);
    assert_eq!(
        states_entered(&execution)[4..],
        [
            "PII Action?",
            "Record PII Quarantine",
            "Quarantine Image",
            "Delete Image",
            "Store In Knowledge Base"
        ]
    );
    let quarantine_key = format!("{BUCKET}/{key}");
    assert_eq!(
        world.store.bytes(QUARANTINE, &quarantine_key),
        Some(b"jpeg".to_vec())
    );
    let tags: HashMap<String, String> = world
        .store
        .tags(QUARANTINE, &quarantine_key)
        .into_iter()
        .collect();
    assert_eq!(tags["trailguard-action"], "quarantine");
    assert_eq!(tags["trailguard-reason"], "pii-detected");
    assert_eq!(tags["trailguard-source-bucket"], BUCKET);
    assert_eq!(tags["trailguard-source-version"], version);
    assert_eq!(tags["trailguard-entities"], "EMAIL+PHONE");
    // Characters S3 refuses in tag values become '_'.
    assert_eq!(
        tags["trailguard-detector"],
        "bedrock:claude-3-5-sonnet _v2__ eu"
    );
    assert_eq!(tags["trailguard-threat-level"], "medium");
    assert!(tags.len() <= 10, "S3 allows 10 tags: {tags:?}");
    // The original version is gone for good.
    assert!(world.store.versions(BUCKET, key).is_empty());
    // One audit record, published while the original still existed.
    let messages = world.messages();
    assert_eq!(messages.len(), 1);
    assert!(messages[0].0.contains("quarantined"), "{}", messages[0].0);
    assert_eq!(messages[0].1["action"], json!("quarantine"));
    assert_eq!(
        messages[0].1["quarantine"],
        json!({"bucket": QUARANTINE, "key": quarantine_key})
    );
    assert_eq!(messages[0].1["pii"]["evidence"][1]["kind"], json!("PHONE"));
    assert_eq!(*world.notifier.object_present.lock().unwrap(), vec![true]);
    let output = execution.output.unwrap();
    assert_eq!(output["action"], json!("quarantined"));
    assert_eq!(output["quarantine"]["key"], json!(quarantine_key));
}

#[tokio::test]
async fn quarantine_works_on_an_unversioned_bucket_with_the_contract_answer() {
    // A key without '/': CopySource still encodes it right.
    let key = "passport.jpg";
    let world = World::new(MemoryStore::new(), key);
    world.store.insert(BUCKET, key, b"jpeg", Some("image/jpeg"));
    let execution = world
        .run(
            "quarantine",
            object_created(key, None),
            Arc::from(detector(json!("true"))),
        )
        .await;
    assert_succeeded(&execution);
    assert!(!world.store.contains(BUCKET, key));
    let quarantine_key = format!("{BUCKET}/{key}");
    assert_eq!(
        world.store.bytes(QUARANTINE, &quarantine_key),
        Some(b"jpeg".to_vec())
    );
    let tags: HashMap<String, String> = world
        .store
        .tags(QUARANTINE, &quarantine_key)
        .into_iter()
        .collect();
    assert_eq!(tags["trailguard-source-version"], "none");
    assert_eq!(tags["trailguard-entities"], "unknown");
    assert_eq!(tags["trailguard-detector"], "unknown");
}

#[tokio::test]
async fn retryable_pii_failures_are_retried_with_backoff_and_jitter() {
    let world = World::new(MemoryStore::new(), KEY);
    world.store.insert(BUCKET, KEY, b"jpeg", Some("image/jpeg"));
    let pii: Arc<PiiScript> = Arc::new(|_store, _payload, call| {
        if call < 3 {
            Err(function_error(
                "TrailGuard.PiiRetryable",
                "ThrottlingException: too many requests",
            ))
        } else {
            Ok(json!("true"))
        }
    });
    let execution = world.run("delete", object_created(KEY, None), pii).await;
    assert_succeeded(&execution);
    assert_eq!(world.pii_calls.load(Ordering::SeqCst), 4);
    assert!(!world.store.contains(BUCKET, KEY));
    // IntervalSeconds 2, BackoffRate 2, FULL jitter: attempt n waits in [0, 2^(n+1)] s.
    let sleeps = world.clock.sleeps();
    assert_eq!(sleeps.len(), 3, "{sleeps:?}");
    for (n, sleep) in sleeps.iter().enumerate() {
        assert!(*sleep <= 2000 << n, "retry {n} waited {sleep} ms");
    }
    assert!(
        sleeps.windows(2).any(|w| w[0] != w[1]),
        "jitter varies: {sleeps:?}"
    );
}

#[tokio::test]
async fn persistent_retryable_failure_ends_in_an_alert_after_the_retries() {
    let world = World::new(MemoryStore::new(), KEY);
    world.store.insert(BUCKET, KEY, b"jpeg", Some("image/jpeg"));
    let pii: Arc<PiiScript> = Arc::new(|_store, _payload, _call| {
        Err(function_error(
            "TrailGuard.PiiRetryable",
            "ServiceUnavailable",
        ))
    });
    let execution = world.run("delete", object_created(KEY, None), pii).await;
    assert_eq!(execution.status, ExecutionStatus::Failed);
    assert_eq!(execution.error.as_deref(), Some("TrailGuard.WorkflowError"));
    assert_eq!(
        world.pii_calls.load(Ordering::SeqCst),
        6,
        "1 call + 5 retries"
    );
    let sleeps = world.clock.sleeps();
    assert!(
        sleeps[..5].iter().all(|s| *s <= 30_000),
        "MaxDelaySeconds 30: {sleeps:?}"
    );
    assert!(world.store.contains(BUCKET, KEY), "nothing deleted");
    let messages = world.messages();
    assert_eq!(messages.len(), 1);
    assert!(messages[0].0.contains("ERROR: needs manual review"));
    assert_eq!(messages[0].1["stage"], json!("pii-detection"));
    assert_eq!(
        messages[0].1["error"]["Error"],
        json!("TrailGuard.PiiRetryable")
    );
    assert_eq!(messages[0].1["analysis"], world.analysis());
}

#[tokio::test]
async fn no_verdict_alerts_with_the_analysis_and_keeps_the_object() {
    let world = World::new(MemoryStore::new(), KEY);
    world
        .store
        .insert(BUCKET, KEY, b"not an image", Some("image/jpeg"));
    let pii: Arc<PiiScript> = Arc::new(|_store, _payload, _call| {
        Err(function_error(
            "TrailGuard.PiiNoVerdict",
            "no PII verdict for s3://uploads/photos/passport.jpg: not_an_image: magic bytes",
        ))
    });
    let execution = world.run("delete", object_created(KEY, None), pii).await;
    assert_eq!(execution.status, ExecutionStatus::Failed);
    assert_eq!(execution.error.as_deref(), Some("TrailGuard.WorkflowError"));
    assert_eq!(world.pii_calls.load(Ordering::SeqCst), 1, "no retry");
    assert!(states_entered(&execution).contains(&"Object Still There?".to_string()));
    assert!(world.store.contains(BUCKET, KEY));
    assert!(world.store.deleted().is_empty());
    let messages = world.messages();
    assert_eq!(messages.len(), 1);
    assert!(messages[0].0.contains("ERROR: needs manual review"));
    let alert = &messages[0].1;
    assert_eq!(alert["stage"], json!("pii-detection"));
    assert_eq!(alert["error"]["Error"], json!("TrailGuard.PiiNoVerdict"));
    assert!(alert["error"]["Cause"]
        .as_str()
        .unwrap()
        .contains("not_an_image"));
    assert_eq!(alert["analysis"], world.analysis());
    assert_eq!(alert["event"]["detail"]["object"]["key"], json!(KEY));
}

/// The rich result (`PII_RESULT=rich`) reports a failure as `status: error`, not as an error.
#[tokio::test]
async fn rich_no_verdict_result_alerts_instead_of_reporting_no_pii() {
    let world = World::new(MemoryStore::new(), KEY);
    world
        .store
        .insert(BUCKET, KEY, b"corrupt", Some("image/png"));
    let verdict = json!({
        "pii_detected": null, "status": "error", "evidence": [], "detector": "bedrock",
        "reason": "corrupt image", "error": {"code": "corrupt_image", "message": "corrupt image", "retryable": false},
        "s3_bucket": BUCKET, "s3_key": KEY
    });
    let execution = world
        .run(
            "delete",
            object_created(KEY, None),
            Arc::from(detector(verdict)),
        )
        .await;
    assert_eq!(execution.status, ExecutionStatus::Failed);
    let messages = world.messages();
    assert_eq!(messages.len(), 1);
    assert!(
        messages[0].0.contains("ERROR: needs manual review"),
        "{}",
        messages[0].0
    );
    assert_eq!(
        messages[0].1["error"]["Error"],
        json!("TrailGuard.PiiNoVerdict")
    );
    assert!(messages[0].1["error"]["Cause"]
        .as_str()
        .unwrap()
        .contains("corrupt_image"));
    assert_eq!(messages[0].1["analysis"], world.analysis());
    assert!(world.store.contains(BUCKET, KEY));
}

#[tokio::test]
async fn repeated_event_for_a_handled_object_is_a_notice_not_a_failure() {
    for (action, versioned) in [
        ("delete", false),
        ("delete", true),
        ("quarantine", false),
        ("quarantine", true),
    ] {
        let store = if versioned {
            MemoryStore::versioned()
        } else {
            MemoryStore::new()
        };
        let world = World::new(store, KEY);
        let version = world.store.insert(BUCKET, KEY, b"jpeg", Some("image/jpeg"));
        let event = object_created(KEY, versioned.then_some(version.as_str()));
        let first = world
            .run(action, event.clone(), Arc::from(detector(json!("true"))))
            .await;
        assert_succeeded(&first);
        assert_eq!(world.store.deleted().len(), 1, "{action}");

        let again = world
            .run(action, event, Arc::from(detector(json!("true"))))
            .await;
        assert_succeeded(&again);
        let output = again.output.unwrap();
        assert_eq!(output["path"], json!("image-gone"), "{action} {versioned}");
        assert_eq!(output["action"], json!("skipped"));
        assert_eq!(world.store.deleted().len(), 1, "nothing deleted twice");
        if action == "quarantine" {
            assert_eq!(
                world
                    .store
                    .versions(QUARANTINE, &format!("{BUCKET}/{KEY}"))
                    .len(),
                1,
                "one quarantined copy"
            );
        }
        let messages = world.messages();
        assert_eq!(messages.len(), 2);
        let (subject, notice) = &messages[1];
        assert!(subject.contains("already gone"), "{subject}");
        assert!(!subject.contains("error"), "{subject}");
        assert_eq!(notice["action"], json!("skipped"));
        assert!(notice["reason"]
            .as_str()
            .unwrap()
            .starts_with("object gone"));
        assert_eq!(notice["analysis"], world.analysis());
        assert_eq!(
            notice["pii_error"]["Error"],
            json!("TrailGuard.PiiNoVerdict")
        );
    }
}

#[tokio::test]
async fn object_deleted_between_detection_and_quarantine_is_a_notice() {
    let world = World::new(MemoryStore::new(), KEY);
    world.store.insert(BUCKET, KEY, b"jpeg", Some("image/jpeg"));
    // The verdict arrives, then someone else removes the object before the copy.
    let pii: Arc<PiiScript> = Arc::new(|store, _payload, _call| {
        store.remove(BUCKET, KEY);
        Ok(json!("true"))
    });
    let execution = world
        .run("quarantine", object_created(KEY, None), pii)
        .await;
    assert_succeeded(&execution);
    assert_eq!(execution.output.unwrap()["path"], json!("image-gone"));
    let messages = world.messages();
    assert_eq!(messages.len(), 2, "{messages:?}");
    assert!(messages[0].0.contains("quarantined"));
    assert!(messages[1].0.contains("already gone"));
    assert_eq!(
        messages[1].1["pii_error"],
        Value::Null,
        "there was a verdict"
    );
    assert_eq!(messages[1].1["action"], json!("skipped"));
}

#[tokio::test]
async fn an_unknown_pii_action_keeps_the_image_and_alerts() {
    let world = World::new(MemoryStore::new(), KEY);
    world.store.insert(BUCKET, KEY, b"jpeg", Some("image/jpeg"));
    let execution = world
        .run(
            "shred",
            object_created(KEY, None),
            Arc::from(detector(json!("true"))),
        )
        .await;
    assert_eq!(execution.status, ExecutionStatus::Failed);
    assert!(world.store.contains(BUCKET, KEY));
    let messages = world.messages();
    assert_eq!(messages.len(), 1);
    assert_eq!(messages[0].1["stage"], json!("pii-action"));
    assert_eq!(
        messages[0].1["error"]["Error"],
        json!("TrailGuard.InvalidPiiAction")
    );
    assert_eq!(messages[0].1["analysis"], world.analysis());
}

/// With `PII_RESULT=rich` a missing object comes back as `status: error`, not as a Lambda error.
#[tokio::test]
async fn repeated_event_with_the_rich_result_is_a_notice_too() {
    let world = World::new(MemoryStore::versioned(), KEY);
    let version = world.store.insert(BUCKET, KEY, b"jpeg", Some("image/jpeg"));
    let rich: Arc<PiiScript> = Arc::new(|store, payload, _call| {
        let version = payload["version_id"].as_str().unwrap();
        Ok(if store.has_version(BUCKET, KEY, version) {
            json!({"pii_detected": true, "status": "ok", "evidence": [{"kind": "EMAIL", "masked_value": "a***@b.c", "source": "ocr", "counted": true}], "detector": "offline"})
        } else {
            json!({"pii_detected": null, "status": "error", "evidence": [], "detector": "offline",
                   "error": {"code": "NoSuchKey", "message": "object not found", "retryable": false}})
        })
    });
    let event = object_created(KEY, Some(&version));
    assert_succeeded(&world.run("delete", event.clone(), rich.clone()).await);
    let again = world.run("delete", event, rich).await;
    assert_succeeded(&again);
    assert_eq!(again.output.unwrap()["path"], json!("image-gone"));
    let messages = world.messages();
    assert_eq!(messages.len(), 2);
    assert!(messages[1].0.contains("already gone"));
    assert_eq!(
        messages[1].1["pii_error"]["Error"],
        json!("TrailGuard.PiiNoVerdict")
    );
    assert!(messages[1].1["pii_error"]["Cause"]
        .as_str()
        .unwrap()
        .contains("NoSuchKey"));
    assert_eq!(world.store.deleted().len(), 1);
}

/// A notifier that is down: every publish fails as SNS's internal error would.
struct DownNotifier;

#[async_trait]
impl Notifier for DownNotifier {
    async fn publish(&self, _: &Notification) -> Result<String, PortError> {
        Err(PortError::new(
            trailguard_core::ports::PortErrorKind::Unavailable,
            "SNS is down",
        )
        .with_code("InternalError"))
    }
}

/// Nothing is deleted without an audit record: when the record cannot be published, the image
/// stays and the execution fails (after its retries), visibly.
#[tokio::test]
async fn a_failed_audit_record_deletes_nothing() {
    for action in ["delete", "quarantine"] {
        let store = Arc::new(MemoryStore::versioned());
        let version = store.insert(BUCKET, KEY, b"jpeg", Some("image/jpeg"));
        let mut lambda = LambdaBinding::new();
        lambda.register(
            "trailguard-analysis",
            Arc::new(FnLambda(|event: Value| Ok(analysis_of(&event)))),
        );
        lambda.register(
            "trailguard-pii",
            Arc::new(FnLambda(|_: Value| Ok(json!({"pii_detected": true})))),
        );
        lambda.register("trailguard-kb-sync", kb_sync());
        let bindings = Ports {
            functions: lambda,
            model: Arc::new(DeterministicChat::fixed("{}")),
            notifier: Arc::new(DownNotifier),
            reader: store.clone(),
            writer: store.clone(),
        }
        .bindings();
        let execution = Runner::new(machine(action), bindings)
            .unwrap()
            .with_clock(ManualClock::new(0))
            .execute(object_created(KEY, Some(&version)))
            .await;
        assert_eq!(execution.status, ExecutionStatus::Failed, "{action}");
        assert!(store.deleted_versions().is_empty(), "{action}");
        assert!(store.has_version(BUCKET, KEY, &version), "{action}");
        assert!(
            store
                .versions(QUARANTINE, &format!("{BUCKET}/{KEY}"))
                .is_empty(),
            "{action}: nothing copied either"
        );
    }
}

/// HeadObject failing the way the SDK integration reports a HEAD error: the generic
/// `S3.S3Exception` with only the status code in the cause (a HEAD response has no error body).
struct GenericHeadError(u16, Arc<AtomicUsize>);

#[async_trait]
impl TaskHandler for GenericHeadError {
    async fn invoke(
        &self,
        _resource: &str,
        _arguments: Value,
        _ctx: &TaskContext,
    ) -> Result<Value, TaskError> {
        self.1.fetch_add(1, Ordering::SeqCst);
        Err(TaskError::new(
            "S3.S3Exception",
            format!("null (Service: S3, Status Code: {}, Request ID: X)", self.0),
        ))
    }

    fn supports(&self, _resource: &str, _function_name: Option<&str>) -> bool {
        true
    }
}

/// No verdict, then a HEAD that fails generically: a 404 means the object is gone (a notice,
/// not retried), anything else is a workflow error for review.
#[tokio::test]
async fn a_generic_head_404_is_a_notice_and_other_statuses_an_error() {
    for (status, expect_gone) in [(404, true), (403, false)] {
        let world = World::new(MemoryStore::new(), KEY);
        world.store.insert(BUCKET, KEY, b"jpeg", Some("image/jpeg"));
        let heads = Arc::new(AtomicUsize::new(0));
        let no_verdict: Arc<PiiScript> = Arc::new(|_, _, _| {
            Err(function_error(
                "TrailGuard.PiiNoVerdict",
                "no PII verdict: corrupt image",
            ))
        });
        let execution = world
            .run_with_head(
                "delete",
                object_created(KEY, None),
                no_verdict,
                Some(Arc::new(GenericHeadError(status, heads.clone()))),
            )
            .await;
        let states = states_entered(&execution);
        let messages = world.messages();
        assert_eq!(messages.len(), 1, "{status}: {states:?}");
        if expect_gone {
            assert_succeeded(&execution);
            assert!(states.contains(&"Gone Or Error?".to_string()), "{states:?}");
            assert!(messages[0].0.contains("already gone"), "{}", messages[0].0);
            // A 404 is an answer, not a failure to retry.
            assert_eq!(
                states
                    .iter()
                    .filter(|s| *s == "Object Still There?")
                    .count(),
                1
            );
        } else {
            assert_eq!(execution.status, ExecutionStatus::Failed);
            assert!(states.contains(&"Head Failed".to_string()), "{states:?}");
            assert!(messages[0].0.contains("ERROR: needs manual review"));
            assert_eq!(
                messages[0].1["existence_check_error"]["Error"],
                "S3.S3Exception"
            );
        }
        assert!(
            world.store.deleted().is_empty(),
            "{status}: nothing deleted"
        );
    }
}
