//! Every event shape that names an uploaded object gives the record its bucket, key, version
//! and media type, from the event: on the service (with or without a model that names other
//! values) and in the analyze pipeline. Fixtures: the workspace's `tests/fixtures/shapes/`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test helpers panic on purpose

#[path = "support/scripted_chat.rs"]
mod scripted_chat;

use std::path::PathBuf;
use std::sync::Arc;

use scripted_chat::ScriptedChat;
use trailguard_core::ports::ChatModel;
use trailguard_core::{AnalysisRecord, EventSource};
use trailguard_events::{read_inputs, ReadOptions};
use trailguard_triage::pipeline::{self, Formatter, InputRecord, Outcome, PipelineOptions};
use trailguard_triage::{AskPolicy, Detector, DetectorOptions, ModelStatus, Triage, TriageConfig};

/// (fixture, the shape's source, the version it names).
const SHAPES: [(&str, EventSource, &str); 6] = [
    (
        "eventbridge-object-created.json",
        EventSource::S3Eventbridge,
        "IYV3p45BT0ac8hjHg1houSdS1a.Mro8e",
    ),
    (
        "cloudtrail-putobject-eventbridge.json",
        EventSource::Cloudtrail,
        "QUpfdndhfd8438MNFDN93jdnJFkdmqnh893",
    ),
    (
        "cloudtrail-putobject-trail.json",
        EventSource::Cloudtrail,
        "QUpfdndhfd8438MNFDN93jdnJFkdmqnh893",
    ),
    (
        "s3-notification.json",
        EventSource::S3Notification,
        "096fKKXTRTtl3on89fVO.nfljtsv6qko",
    ),
    (
        "cloudtrail-completemultipartupload-eventbridge.json",
        EventSource::Cloudtrail,
        "d9Fm3rPQxT5vN2kLw8yZc1bH7jG4sA6e",
    ),
    // The copy's destination version, not the source's (`x-amz-copy-source-version-id`).
    (
        "cloudtrail-copyobject-eventbridge.json",
        EventSource::Cloudtrail,
        "kT2wQ9eR4yU7iO1pA5sD8fG3hJ6lZ0xC",
    ),
];

fn shape_path(file: &str) -> PathBuf {
    PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../tests/fixtures/shapes"
    ))
    .join(file)
}

/// The one event in a fixture, as the readers split it (a trail file and a notification hold
/// theirs in `Records`).
fn event_of(file: &str) -> String {
    let mut events: Vec<String> = read_inputs(&[shape_path(file)], &ReadOptions::default())
        .map(|item| item.unwrap().json.into_string())
        .collect();
    assert_eq!(events.len(), 1, "{file}");
    events.remove(0)
}

fn detector() -> Detector {
    Detector::load::<&str>(&[], DetectorOptions::default())
        .unwrap()
        .0
}

fn assert_names_the_upload(
    record: &AnalysisRecord,
    file: &str,
    source: EventSource,
    version: &str,
) {
    assert_eq!(
        record.s3_bucket.as_deref(),
        Some("trailguard-uploads"),
        "{file}"
    );
    assert_eq!(
        record.s3_key.as_deref(),
        Some("photos/passport-scan.png"),
        "{file}"
    );
    assert_eq!(record.s3_version_id.as_deref(), Some(version), "{file}");
    assert_eq!(record.media_type.as_deref(), Some("image/png"), "{file}");
    assert!(record.is_image_upload, "{file}");
    assert_eq!(record.source, source, "{file}");
}

#[tokio::test]
async fn every_shape_names_bucket_key_version_and_media_type() {
    let triage = Triage::new(detector(), None, TriageConfig::default());
    for (file, source, version) in SHAPES {
        let analysis = triage.analyze(&event_of(file)).await.unwrap();
        assert_names_the_upload(&analysis.record, file, source, version);
        let json = serde_json::to_value(&analysis).unwrap();
        assert_eq!(json["s3_version_id"], version, "{file}");
    }
}

#[tokio::test]
async fn a_model_cannot_move_the_object() {
    for (file, source, version) in SHAPES {
        // The model names another bucket, key and version, and a different media type.
        let chat =
            ScriptedChat::from_texts([r#"{"event_title":"[PutObject][111122223333][alice]",
            "summarize":"alice uploaded a scan","threat_level":"medium","s3_bucket":"victim",
            "s3_key":"other.png","s3_version_id":"forged","is_image_upload":false,
            "media_type":"text/plain"}"#]);
        let mut config = TriageConfig::default();
        config.ask.policy = AskPolicy::Always;
        let model = Arc::new(chat.clone()) as Arc<dyn ChatModel>;
        let triage = Triage::new(detector(), Some(model), config);
        let analysis = triage.analyze(&event_of(file)).await.unwrap();
        assert_eq!(analysis.model.status, ModelStatus::Accepted, "{file}");
        assert_names_the_upload(&analysis.record, file, source, version);
        assert!(
            analysis
                .model
                .notes
                .iter()
                .any(|n| n.contains("\"other.png\" ignored")),
            "{file}: {:?}",
            analysis.model.notes
        );
        assert_eq!(chat.requests().len(), 1);
    }
}

#[test]
fn the_pipeline_names_the_same_object() {
    let file: Arc<str> = Arc::from("shapes");
    let inputs = SHAPES.iter().enumerate().map(|(index, (name, _, _))| {
        Ok(InputRecord {
            file: file.clone(),
            index: index as u64,
            json: event_of(name).into(),
        })
    });
    let format: &Formatter = &trailguard_triage::write_json;
    let mut records = Vec::new();
    pipeline::run_rules(
        inputs,
        &detector(),
        format,
        PipelineOptions::default(),
        |outcome| match outcome {
            Outcome::Analysed {
                record, formatted, ..
            } => {
                let json: serde_json::Value = serde_json::from_slice(&formatted).unwrap();
                assert_eq!(
                    json["s3_version_id"],
                    record.s3_version_id.as_deref().unwrap()
                );
                records.push(record);
            }
            Outcome::Failed(error) => panic!("{error}"),
        },
    );
    assert_eq!(records.len(), SHAPES.len());
    for (record, (file, source, version)) in records.iter().zip(SHAPES) {
        assert_names_the_upload(record, file, source, version);
    }
}
