//! `Detector::detect_feeding` answers exactly what `detect` and `feeds_correlation` answer
//! separately, on every record of the shared data, with and without the SigmaHQ rules.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "support/shared_data.rs"]
mod shared_data;

use std::path::PathBuf;

use serde_json::Value;
use trailguard_events::parse_event;
use trailguard_triage::{Detector, DetectorOptions};

const PANTHER: &str = "cloudtrail/panther/labelled_tests_aws_cloudtrail.jsonl";
const SIGMAHQ: &str = "sigma/sigmahq/rules";

/// The Panther records and the SigmaHQ rules, or `None` when the shared data is missing.
fn panther_and_sigmahq() -> Option<(PathBuf, PathBuf)> {
    Some((
        shared_data::require(PANTHER, "Panther's labelled CloudTrail tests")?,
        shared_data::require(SIGMAHQ, "SigmaHQ's rules")?,
    ))
}

#[test]
fn detect_feeding_matches_detect_and_feeds_correlation() {
    let Some((path, sigmahq)) = panther_and_sigmahq() else {
        return;
    };
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {} ({e}); set TRAILGUARD_DATA", path.display()));
    let logs: Vec<String> = text
        .lines()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .filter_map(|case| case.get("log").map(Value::to_string))
        .collect();
    assert!(logs.len() > 400, "{}", logs.len());
    let (embedded, _) = Detector::load::<PathBuf>(&[], DetectorOptions::default()).unwrap();
    let (with_sigmahq, _) = Detector::load(&[sigmahq], DetectorOptions::default()).unwrap();
    let mut feeding = 0;
    for detector in [&embedded, &with_sigmahq] {
        for log in &logs {
            let Ok(event) = parse_event(log) else {
                continue;
            };
            let (hits, feeds) = detector.detect_feeding(&event);
            assert_eq!(hits, detector.detect(&event), "{log}");
            assert_eq!(feeds, detector.feeds_correlation(&event), "{log}");
            feeding += usize::from(feeds);
        }
    }
    assert!(feeding > 10, "{feeding}");
}

/// A quick document answers every field the rules read exactly as a tree-parsing one.
#[test]
fn quick_record_doc_answers_like_the_parsed_tree() {
    use trailguard_events::Event;
    use trailguard_sigma::Document;
    use trailguard_triage::RecordDoc;

    let Some((path, sigmahq)) = panther_and_sigmahq() else {
        return;
    };
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {} ({e}); set TRAILGUARD_DATA", path.display()));
    let (detector, _) = Detector::load(&[sigmahq], DetectorOptions::default()).unwrap();
    let mut fields: Vec<String> = detector
        .rule_set()
        .referenced_fields()
        .into_iter()
        .map(str::to_owned)
        .collect();
    // Shapes the rules do not use: a whole object, arrays of objects, dotted keys.
    fields.extend(
        [
            "requestParameters.policyDocument",
            "requestParameters.ipPermissions.items.ipRanges.items.cidrIp",
            "responseElements.credentials.accessKeyId",
            "requestParameters.bucketPolicy.Statement.Principal",
            "requestParameters.instancesSet.items.instanceId",
            "additionalEventData.x-amz-id-2",
            "requestParameters.tagSpecificationSet.items.tags.key",
        ]
        .map(String::from),
    );
    let collect = |doc: &RecordDoc<'_, '_>, field: &str| {
        let mut out = Vec::new();
        doc.visit_field(field, &mut |v| {
            out.push(format!("{v:?}"));
            false
        });
        out
    };
    let mut compared = 0;
    for line in text.lines() {
        let Some(log) = serde_json::from_str::<Value>(line)
            .ok()
            .and_then(|case| case.get("log").map(Value::to_string))
        else {
            continue;
        };
        let Ok(Event::CloudTrail(ct)) = parse_event(&log) else {
            continue;
        };
        for field in &fields {
            let tree = RecordDoc::new(&ct.record);
            let quick = RecordDoc::quick(&ct.record);
            assert_eq!(
                collect(&quick, field),
                collect(&tree, field),
                "{field} in {log}"
            );
            // Stopping early stops at the same value.
            let first = |doc: &RecordDoc<'_, '_>| {
                let mut seen = 0;
                doc.visit_field(field, &mut |_| {
                    seen += 1;
                    true
                });
                seen
            };
            assert_eq!(first(&quick), first(&tree));
            compared += 1;
        }
    }
    assert!(compared > 10_000, "{compared}");
}
