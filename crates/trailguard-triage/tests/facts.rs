//! Facts and records built from the demo events (tests/fixtures/demo/events.jsonl).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test helpers

use trailguard_core::EventSource;
use trailguard_events::parse_event;
use trailguard_triage::{build_record, facts_from_event};

const DEMO: &str = include_str!("../../../tests/fixtures/demo/events.jsonl");

fn demo_records() -> Vec<trailguard_core::AnalysisRecord> {
    DEMO.lines()
        .map(|line| {
            let event = parse_event(line).expect("demo event parses");
            build_record(&facts_from_event(&event), vec![])
        })
        .collect()
}

#[test]
fn eventbridge_put_object_of_a_png_is_an_image_upload() {
    let record = &demo_records()[0];
    assert_eq!(record.event_title, "[PutObject][111122223333][alice]");
    assert_eq!(record.s3_bucket.as_deref(), Some("trailguard-uploads"));
    assert_eq!(record.s3_key.as_deref(), Some("uploads/passport-scan.png"));
    assert!(record.is_image_upload);
    assert_eq!(record.media_type.as_deref(), Some("image/png"));
    assert_eq!(record.source, EventSource::Cloudtrail);
    assert_eq!(
        record.event_id.as_deref(),
        Some("00000000-0000-4000-8000-000000000001")
    );
    assert!(record.summarize.starts_with(
        "IAM user alice (account 111122223333) called PutObject (s3.amazonaws.com) on \
         s3://trailguard-uploads/uploads/passport-scan.png from 198.51.100.23 in us-east-1"
    ));
}

#[test]
fn pdf_upload_is_not_an_image_upload() {
    let record = &demo_records()[1];
    assert!(!record.is_image_upload);
    assert_eq!(record.media_type.as_deref(), Some("application/pdf"));
}

#[test]
fn management_call_names_its_target_and_identity() {
    let record = &demo_records()[2];
    assert_eq!(
        record.event_title,
        "[StopLogging][111122223333][ci-deploy/mallory]"
    );
    assert!(
        record.summarize.contains("assumed role ci-deploy/mallory"),
        "{}",
        record.summarize
    );
    assert!(
        record.summarize.contains("trail/s3PutObjectTrail"),
        "{}",
        record.summarize
    );
    assert_eq!(record.s3_bucket, None);
    assert!(!record.is_image_upload);
}

#[test]
fn bucket_level_call_keeps_the_bucket_without_a_key() {
    let record = &demo_records()[3];
    assert_eq!(record.s3_bucket.as_deref(), Some("trailguard-uploads"));
    assert_eq!(record.s3_key, None);
    assert!(!record.is_image_upload);
}

#[test]
fn guardduty_finding_reads_as_a_finding() {
    let record = &demo_records()[6];
    assert_eq!(record.source, EventSource::Guardduty);
    assert!(record.event_title.starts_with(
        "[UnauthorizedAccess:IAMUser/InstanceCredentialExfiltration.OutsideAWS][111122223333]"
    ));
    assert!(
        record.summarize.starts_with("GuardDuty finding"),
        "{}",
        record.summarize
    );
    assert!(record.summarize.contains("(severity 8.0)"));
}

#[test]
fn s3_notification_key_is_url_decoded() {
    let record = &demo_records()[7];
    assert_eq!(record.source, EventSource::S3Notification);
    assert_eq!(record.s3_key.as_deref(), Some("notes/meeting notes.txt"));
    assert_eq!(record.media_type.as_deref(), Some("text/plain"));
    assert!(!record.is_image_upload);
}
