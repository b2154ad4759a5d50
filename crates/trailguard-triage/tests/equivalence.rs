//! The analyze pipeline (parallel workers, ordered correlation) and `Triage::analyze` called on
//! each event in order give the same records, byte for byte: same threat level, same rule ids,
//! same JSON. Also when the correlation is computed ahead in order and the analyses run in
//! another order, or on several threads. Over OTRF's and Panther's CloudTrail records, and a
//! synthetic sequence whose bursts complete correlations.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test helpers panic on purpose

#[path = "support/shared_data.rs"]
mod shared_data;

use std::sync::Arc;

use serde_json::{json, Value};
use trailguard_core::AnalysisRecord;
use trailguard_events::{read_inputs, ReadOptions};
use trailguard_triage::pipeline::{self, Formatter, InputRecord, Outcome, PipelineOptions};
use trailguard_triage::{Analysis, Detector, DetectorOptions, Triage, TriageConfig};

fn detector() -> Detector {
    Detector::load::<&str>(&[], DetectorOptions::default())
        .unwrap()
        .0
}

/// What one input gave: the record and its JSON, or that it did not parse.
#[derive(Debug, PartialEq)]
enum Rated {
    Record(Box<AnalysisRecord>, Vec<u8>),
    Unparsable,
}

fn rule_ids(record: &AnalysisRecord) -> Vec<&str> {
    record.reasons.iter().map(|h| h.rule_id.as_str()).collect()
}

fn through_pipeline(detector: &Detector, events: &[String]) -> Vec<Rated> {
    let file: Arc<str> = Arc::from("mem");
    let inputs = events.iter().enumerate().map(|(index, json)| {
        Ok(InputRecord {
            file: file.clone(),
            index: index as u64,
            json: json.as_str().into(),
        })
    });
    let format: &Formatter = &trailguard_triage::write_json;
    // Small batches on several workers: outcomes arrive out of order and must be put back.
    let options = PipelineOptions {
        threads: 3,
        batch_size: 7,
        queue_batches: 2,
    };
    let mut out = Vec::new();
    pipeline::run_rules(inputs, detector, format, options, |outcome| {
        out.push(match outcome {
            Outcome::Analysed {
                record, formatted, ..
            } => Rated::Record(Box::new(record), formatted),
            Outcome::Failed(_) => Rated::Unparsable,
        })
    });
    out
}

fn rated(analysis: Result<Analysis, trailguard_triage::AnalysisError>) -> Rated {
    match analysis {
        Ok(analysis) => {
            assert_eq!(
                analysis.model.status,
                trailguard_triage::ModelStatus::NotConfigured
            );
            let json = serde_json::to_vec(&analysis.record).unwrap();
            Rated::Record(Box::new(analysis.record), json)
        }
        Err(_) => Rated::Unparsable,
    }
}

async fn one_by_one(detector: &Detector, events: &[String]) -> Vec<Rated> {
    let triage = Triage::new(detector.clone(), None, TriageConfig::default());
    let mut out = Vec::new();
    for event in events {
        out.push(rated(triage.analyze(event).await));
    }
    out
}

/// Correlation computed ahead in input order, then the analyses in reverse order.
async fn ahead_then_reversed(detector: &Detector, events: &[String]) -> Vec<Rated> {
    let triage = Triage::new(detector.clone(), None, TriageConfig::default());
    for event in events {
        triage.correlate_in_order(event);
    }
    let mut out = Vec::new();
    for event in events.iter().rev() {
        out.push(rated(triage.analyze(event).await));
    }
    out.reverse();
    out
}

/// Correlation computed ahead in input order, then the analyses on two threads at once.
fn ahead_then_two_threads(detector: &Detector, events: &[String]) -> Vec<Rated> {
    let triage = Triage::new(detector.clone(), None, TriageConfig::default());
    for event in events {
        triage.correlate_in_order(event);
    }
    let halves: Vec<Vec<(usize, Rated)>> = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..2)
            .map(|parity| {
                let triage = &triage;
                scope.spawn(move || {
                    let runtime = tokio::runtime::Builder::new_current_thread()
                        .build()
                        .unwrap();
                    events
                        .iter()
                        .enumerate()
                        .filter(|(i, _)| i % 2 == parity)
                        .map(|(i, event)| (i, rated(runtime.block_on(triage.analyze(event)))))
                        .collect()
                })
            })
            .collect();
        workers.into_iter().map(|w| w.join().unwrap()).collect()
    });
    let mut all: Vec<(usize, Rated)> = halves.into_iter().flatten().collect();
    all.sort_by_key(|(i, _)| *i);
    all.into_iter().map(|(_, rated)| rated).collect()
}

/// Compares every way of rating `events`; returns (records, records raised by a correlation).
async fn all_agree(label: &str, detector: &Detector, events: &[String]) -> (usize, usize) {
    let piped = through_pipeline(detector, events);
    let single = one_by_one(detector, events).await;
    let reversed = ahead_then_reversed(detector, events).await;
    let threaded = ahead_then_two_threads(detector, events);
    assert_eq!(piped.len(), events.len(), "{label}");
    let mut records = 0;
    let mut correlated = 0;
    for (i, event) in events.iter().enumerate() {
        if let (Rated::Record(a, a_json), Rated::Record(b, _)) = (&piped[i], &single[i]) {
            // Spelled out first, so a difference reads well.
            assert_eq!(a.threat_level, b.threat_level, "{label} #{i}: {event}");
            assert_eq!(rule_ids(a), rule_ids(b), "{label} #{i}: {event}");
            assert_eq!(
                String::from_utf8_lossy(a_json),
                String::from_utf8_lossy(&serde_json::to_vec(b.as_ref()).unwrap()),
                "{label} #{i}"
            );
            records += 1;
            let correlation_ids = detector
                .rule_set()
                .correlations()
                .iter()
                .map(|c| c.meta.id.as_str())
                .collect::<Vec<_>>();
            correlated += usize::from(rule_ids(a).iter().any(|id| correlation_ids.contains(id)));
        }
        assert_eq!(piped[i], single[i], "{label} #{i}: {event}");
        assert_eq!(
            reversed[i], single[i],
            "{label} #{i} (ahead, reversed): {event}"
        );
        assert_eq!(
            threaded[i], single[i],
            "{label} #{i} (ahead, threads): {event}"
        );
    }
    println!(
        "{label}: {} inputs, {records} records identical on all paths, {correlated} raised by a correlation",
        events.len()
    );
    (records, correlated)
}

#[tokio::test]
async fn otrf_records_are_rated_the_same_by_pipeline_and_service() {
    let Some(dir) = shared_data::require("cloudtrail/otrf", "OTRF's CloudTrail datasets") else {
        return;
    };
    let events: Vec<String> = read_inputs(&[dir], &ReadOptions::default())
        .map(|item| item.unwrap().json.into_string())
        .collect();
    let (records, _) = all_agree("OTRF", &detector(), &events).await;
    assert_eq!(records, 103);
}

#[tokio::test]
async fn panther_records_are_rated_the_same_by_pipeline_and_service() {
    let Some(path) = shared_data::require(
        "cloudtrail/panther/labelled_tests_aws_cloudtrail.jsonl",
        "Panther's labelled CloudTrail tests",
    ) else {
        return;
    };
    let text = std::fs::read_to_string(&path).unwrap();
    let events: Vec<String> = text
        .lines()
        .filter(|line| !line.trim().is_empty())
        .map(|line| serde_json::from_str::<Value>(line).unwrap()["log"].to_string())
        .collect();
    assert_eq!(events.len(), 461);
    let (records, _) = all_agree("Panther", &detector(), &events).await;
    // One Panther log is not a CloudTrail record TrailGuard can read; both paths say so.
    assert_eq!(records, 460);
}

/// Bursts that complete correlations (secret reads, denials, password spraying), interleaved
/// with the object shapes, a GuardDuty finding and input that does not parse.
#[tokio::test]
async fn bursts_are_rated_the_same_by_pipeline_and_service() {
    let base = |second: u32, fields: Value| {
        let mut record = json!({
            "eventVersion": "1.08",
            "userIdentity": {"type": "AssumedRole", "arn": "arn:aws:sts::111122223333:assumed-role/Admin/alice",
                             "accountId": "111122223333", "principalId": "AROA:alice"},
            "eventTime": format!("2026-01-01T00:{:02}:{:02}Z", second / 60, second % 60),
            "awsRegion": "us-east-1",
            "sourceIPAddress": "203.0.113.10",
            "recipientAccountId": "111122223333"
        });
        if let (Some(record), Value::Object(fields)) = (record.as_object_mut(), fields) {
            record.extend(fields);
        }
        record.to_string()
    };
    let shapes = concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/fixtures/shapes");
    let mut shape_events: Vec<String> = Vec::new();
    for item in read_inputs(&[shapes.into()], &ReadOptions::default()) {
        shape_events.push(item.unwrap().json.into_string());
    }
    assert_eq!(shape_events.len(), 6);
    let mut events = Vec::new();
    for i in 0..60u32 {
        events.push(base(
            i,
            json!({"eventSource": "secretsmanager.amazonaws.com", "eventName": "GetSecretValue",
                   "requestParameters": {"secretId": format!("s{}", i % 3)}}),
        ));
        events.push(base(
            i,
            json!({"eventSource": "iam.amazonaws.com", "eventName": format!("List{i}"),
                   "errorCode": "AccessDenied", "errorMessage": "denied"}),
        ));
        if i % 10 == 0 {
            let user = ["alice", "bob", "carol", "dave", "erin", "frank"][(i / 10) as usize];
            events.push(base(
                i,
                json!({"eventSource": "signin.amazonaws.com", "eventName": "ConsoleLogin",
                       "userIdentity": {"type": "IAMUser", "userName": user, "accountId": "111122223333"},
                       "responseElements": {"ConsoleLogin": "Failure"},
                       "additionalEventData": {"MFAUsed": "No"}}),
            ));
        }
        if let Some(shape) = shape_events.get(i as usize) {
            events.push(shape.clone());
        }
        if i == 30 {
            events.push("{\"eventName\": 5}".into());
            events.push(
                json!({"detail-type": "GuardDuty Finding", "source": "aws.guardduty",
                       "detail": {"Type": "Recon:EC2/PortProbeUnprotectedPort", "Severity": 2.0,
                                  "Id": "gd1", "AccountId": "111122223333"}})
                .to_string(),
            );
        }
    }
    let (records, correlated) = all_agree("synthetic bursts", &detector(), &events).await;
    assert_eq!(records, events.len() - 1);
    assert!(correlated >= 4, "{correlated}");
}
