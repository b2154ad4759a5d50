//! TrailGuard's own rules: every file loads, carries the metadata the project requires, and
//! fires on its positive synthetic records and not on its negative ones
//! (`tests/fixtures/rules/rule_cases.json`). Correlation rules, built-in detectors, GuardDuty and S3
//! events are tested here too.

// Test helpers outside #[test] functions may fail loudly on broken fixtures.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::{BTreeMap, HashSet};

use serde_json::{json, Value};
use trailguard_core::ThreatLevel;
use trailguard_events::parse_event;
use trailguard_triage::{Detector, DetectorOptions, EMBEDDED_RULES};

fn default_detector() -> Detector {
    Detector::load::<&str>(&[], DetectorOptions::default())
        .expect("embedded rules load")
        .0
}

fn only(text_name: &str) -> Detector {
    let (_, text) = EMBEDDED_RULES
        .iter()
        .find(|(name, _)| *name == text_name)
        .unwrap_or_else(|| panic!("no embedded rule file {text_name}"));
    let options = DetectorOptions {
        embedded_rules: false,
        builtins: false,
        ..DetectorOptions::default()
    };
    let (detector, report) = Detector::from_yaml_texts(&[(text_name, text)], options);
    assert!(
        report.sigma.unsupported.is_empty(),
        "{text_name}: {:?}",
        report.sigma.unsupported
    );
    detector
}

fn record(fields: Value) -> Value {
    let mut base = json!({
        "eventVersion": "1.08",
        "userIdentity": {"type": "AssumedRole", "arn": "arn:aws:sts::111122223333:assumed-role/Admin/alice",
                         "accountId": "111122223333", "principalId": "AROA:alice"},
        "eventTime": "2026-01-01T00:00:00Z",
        "awsRegion": "us-east-1",
        "sourceIPAddress": "203.0.113.10",
        "userAgent": "aws-cli/2.15.0",
        "recipientAccountId": "111122223333"
    });
    if let (Some(base), Value::Object(fields)) = (base.as_object_mut(), fields) {
        base.extend(fields);
    }
    base
}

fn hits_for(detector: &Detector, value: &Value) -> Vec<trailguard_core::RuleHit> {
    let text = value.to_string();
    let event =
        parse_event(&text).unwrap_or_else(|e| panic!("fixture does not parse: {e}: {text}"));
    detector.detect(&event)
}

#[test]
fn every_own_rule_loads_with_required_metadata() {
    let (_, report) = Detector::load::<&str>(&[], DetectorOptions::default()).expect("load");
    let unsupported: Vec<String> = report
        .unsupported_from("rules/")
        .map(|u| format!("{}: {}", u.source, u.reason))
        .collect();
    assert!(
        unsupported.is_empty(),
        "unsupported own rules: {unsupported:#?}"
    );
    assert_eq!(
        report.loaded.len(),
        EMBEDDED_RULES.len(),
        "one rule per file in rules/"
    );
    assert!(
        EMBEDDED_RULES.len() >= 90,
        "rules/ holds {} files",
        EMBEDDED_RULES.len()
    );

    let mut ids = HashSet::new();
    for (name, text) in EMBEDDED_RULES {
        let doc: serde_yaml_like::Doc = serde_yaml_like::parse(text);
        let id = doc.get("id").unwrap_or_else(|| panic!("{name}: no id"));
        assert!(is_uuid(id), "{name}: id {id} is not a UUID");
        assert!(ids.insert(id.to_string()), "{name}: duplicate id {id}");
        for key in ["title", "description", "status", "date", "level"] {
            assert!(
                doc.get(key).is_some_and(|v| !v.is_empty()),
                "{name}: no {key}"
            );
        }
        assert_eq!(doc.get("author"), Some("TrailGuard"), "{name}: author");
        assert!(
            text.contains("product: aws") && text.contains("service: cloudtrail")
                || text.contains("correlation:"),
            "{name}: logsource"
        );
        assert!(
            text.lines().any(|l| {
                let l = l.trim();
                l.starts_with("- attack.t")
                    && l[10..].chars().next().is_some_and(|c| c.is_ascii_digit())
            }),
            "{name}: no ATT&CK technique tag"
        );
        assert!(
            text.contains("falsepositives:"),
            "{name}: no falsepositives"
        );
        let level = doc.get("level").unwrap_or_default();
        assert!(
            ThreatLevel::from_sigma_level(level).is_some(),
            "{name}: level {level}"
        );
    }
}

fn is_uuid(text: &str) -> bool {
    let groups: Vec<&str> = text.split('-').collect();
    groups.iter().map(|g| g.len()).collect::<Vec<_>>() == [8, 4, 4, 4, 12]
        && groups
            .iter()
            .all(|g| g.chars().all(|c| c.is_ascii_hexdigit()))
}

/// Just enough YAML for top-level scalar keys (the rule files' own format).
mod serde_yaml_like {
    pub struct Doc<'a>(Vec<(&'a str, &'a str)>);
    pub fn parse(text: &str) -> Doc<'_> {
        Doc(text
            .lines()
            .filter(|l| !l.starts_with(' ') && !l.starts_with('-'))
            .filter_map(|l| l.split_once(':'))
            .map(|(k, v)| (k.trim(), v.trim()))
            .collect())
    }
    impl<'a> Doc<'a> {
        pub fn get(&self, key: &str) -> Option<&'a str> {
            self.0.iter().find(|(k, _)| *k == key).map(|(_, v)| *v)
        }
    }
}

#[test]
fn every_rule_fires_on_its_positives_and_not_on_its_negatives() {
    let fixtures: BTreeMap<String, Vec<Value>> = serde_json::from_str(include_str!(
        "../../../tests/fixtures/rules/rule_cases.json"
    ))
    .expect("rule_cases.json");
    let mut failures = Vec::new();
    for (file, cases) in &fixtures {
        let detector = only(file);
        let mut positives = 0;
        let mut negatives = 0;
        for case in cases {
            let expect = case["expect"].as_bool().expect("expect");
            let hits = hits_for(&detector, &case["record"]);
            if expect {
                positives += 1;
            } else {
                negatives += 1;
            }
            if hits.is_empty() == expect {
                failures.push(format!(
                    "{file}: {} (expected {expect}, hits {hits:?})",
                    case["name"]
                ));
            }
        }
        assert!(
            positives > 0 && negatives > 0,
            "{file}: needs a positive and a negative case"
        );
    }
    assert!(failures.is_empty(), "{failures:#?}");
    // Every detection rule (correlations are tested below) has cases.
    let missing: Vec<&str> = EMBEDDED_RULES
        .iter()
        .filter(|(_, text)| !text.contains("correlation:"))
        .map(|(name, _)| *name)
        .filter(|name| !fixtures.contains_key(*name))
        .collect();
    assert!(
        missing.is_empty(),
        "rules without synthetic cases: {missing:?}"
    );
}

fn at_minute(mut value: Value, minute: u32) -> Value {
    value["eventTime"] = json!(format!("2026-01-01T00:{minute:02}:00Z"));
    value
}

fn correlate(detector: &Detector, events: &[Value]) -> Vec<trailguard_core::RuleHit> {
    let mut correlator = detector.correlator();
    let mut out = Vec::new();
    for value in events {
        let text = value.to_string();
        let event = parse_event(&text).expect("parse");
        let hits = detector.detect(&event);
        out.extend(correlator.observe(&event, &hits));
    }
    out
}

#[test]
fn secret_read_burst_fires_at_ten_reads_by_one_principal() {
    let detector = default_detector();
    let read = |minute| {
        at_minute(
            record(
                json!({"eventSource": "secretsmanager.amazonaws.com", "eventName": "GetSecretValue",
                          "requestParameters": {"secretId": "s"}}),
            ),
            minute,
        )
    };
    let nine: Vec<Value> = (0..9).map(read).collect();
    assert!(correlate(&detector, &nine).is_empty());
    let ten: Vec<Value> = (0..10).map(read).collect();
    let hits = correlate(&detector, &ten);
    assert_eq!(hits.len(), 1, "{hits:?}");
    assert_eq!(hits[0].level, ThreatLevel::High);
    assert!(hits[0].mitre.contains(&"T1555.006".to_string()));
    // Spread over more than ten minutes: no burst.
    let slow: Vec<Value> = (0..10).map(|i| read(i * 2)).collect();
    assert!(correlate(&detector, &slow).is_empty());
    // Ten different principals: no burst.
    let many: Vec<Value> = (0..10)
        .map(|i| {
            let mut v = read(i);
            v["userIdentity"]["arn"] =
                json!(format!("arn:aws:sts::111122223333:assumed-role/App/s{i}"));
            v
        })
        .collect();
    assert!(correlate(&detector, &many).is_empty());
    // A single read is only context: nothing at medium or above.
    let single = hits_for(&detector, &read(0));
    assert!(
        single.iter().all(|h| h.level < ThreatLevel::Medium),
        "{single:?}"
    );
}

#[test]
fn access_denied_burst_fires_at_twenty_denials() {
    let detector = default_detector();
    let denied = |i: u32| {
        at_minute(
            record(
                json!({"eventSource": "iam.amazonaws.com", "eventName": format!("List{i}"),
                          "errorCode": "AccessDenied", "errorMessage": "denied"}),
            ),
            i / 4,
        )
    };
    assert!(correlate(&detector, &(0..19).map(denied).collect::<Vec<_>>()).is_empty());
    let hits = correlate(&detector, &(0..20).map(denied).collect::<Vec<_>>());
    assert_eq!(hits.len(), 1, "{hits:?}");
    assert_eq!(hits[0].level, ThreatLevel::Medium);
}

#[test]
fn password_spraying_counts_distinct_user_names_per_source() {
    let detector = default_detector();
    let failed = |user: &str, minute| {
        at_minute(
            record(
                json!({"eventSource": "signin.amazonaws.com", "eventName": "ConsoleLogin",
                          "userIdentity": {"type": "IAMUser", "userName": user, "accountId": "111122223333"},
                          "responseElements": {"ConsoleLogin": "Failure"},
                          "additionalEventData": {"MFAUsed": "No"}}),
            ),
            minute,
        )
    };
    let same_user: Vec<Value> = (0..8).map(|m| failed("alice", m)).collect();
    assert!(correlate(&detector, &same_user).is_empty());
    let sprayed: Vec<Value> = ["alice", "bob", "carol", "dave", "erin"]
        .iter()
        .enumerate()
        .map(|(i, u)| failed(u, i as u32))
        .collect();
    let hits = correlate(&detector, &sprayed);
    assert_eq!(hits.len(), 1, "{hits:?}");
    assert_eq!(hits[0].level, ThreatLevel::High);
    // `generate: true`: each failure still reports on its own.
    assert!(hits_for(&detector, &sprayed[0])
        .iter()
        .any(|h| h.level == ThreatLevel::Medium));
}

fn builtin_ids(hits: &[trailguard_core::RuleHit]) -> Vec<&str> {
    hits.iter()
        .filter(|h| h.rule_id.starts_with("trailguard."))
        .map(|h| h.rule_id.as_str())
        .collect()
}

#[test]
fn credentials_created_for_another_user() {
    let detector = default_detector();
    let key = |caller: &str, target: Option<&str>| {
        let params = target.map_or(Value::Null, |t| json!({"userName": t}));
        record(
            json!({"eventSource": "iam.amazonaws.com", "eventName": "CreateAccessKey",
                      "userIdentity": {"type": "IAMUser", "userName": caller, "accountId": "111122223333",
                                       "arn": format!("arn:aws:iam::111122223333:user/{caller}")},
                      "requestParameters": params}),
        )
    };
    let other = hits_for(&detector, &key("jackson", Some("jack")));
    assert_eq!(
        builtin_ids(&other),
        ["trailguard.iam.credentials_for_other_user"]
    );
    assert_eq!(other[0].level, ThreatLevel::High);
    assert!(builtin_ids(&hits_for(&detector, &key("jack", Some("jack")))).is_empty());
    assert!(builtin_ids(&hits_for(&detector, &key("jack", None))).is_empty());
    let mut failed = key("jackson", Some("jack"));
    failed["errorCode"] = json!("LimitExceeded");
    assert!(builtin_ids(&hits_for(&detector, &failed)).is_empty());

    // Assumed-role callers are compared by session name.
    let profile = |target: &str, reset: bool| {
        record(
            json!({"eventSource": "iam.amazonaws.com", "eventName": "UpdateLoginProfile",
                      "userIdentity": {"type": "AssumedRole", "arn": "arn:aws:sts::111122223333:assumed-role/IAM/alice"},
                      "requestParameters": {"userName": target, "passwordResetRequired": reset}}),
        )
    };
    assert!(builtin_ids(&hits_for(&detector, &profile("alice", false))).is_empty());
    let bob = hits_for(&detector, &profile("bob", false));
    assert_eq!(bob.iter().map(|h| h.level).max(), Some(ThreatLevel::High));
    let reset = hits_for(&detector, &profile("bob", true));
    assert_eq!(
        builtin_ids(&reset),
        ["trailguard.iam.credentials_for_other_user"]
    );
    assert!(reset
        .iter()
        .filter(|h| h.rule_id.starts_with("trailguard."))
        .all(|h| h.level == ThreatLevel::Medium));
}

#[test]
fn public_resource_policies() {
    let detector = default_detector();
    let bucket_policy = |statement: Value| {
        record(
            json!({"eventSource": "s3.amazonaws.com", "eventName": "PutBucketPolicy",
                      "requestParameters": {"bucketName": "b", "bucketPolicy": {"Version": "2012-10-17", "Statement": [statement]}}}),
        )
    };
    let public = hits_for(
        &detector,
        &bucket_policy(
            json!({"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "s3:GetObject", "Resource": "*"}),
        ),
    );
    assert_eq!(builtin_ids(&public), ["trailguard.policy.public_principal"]);
    assert_eq!(public[0].level, ThreatLevel::High);
    let org_only = hits_for(
        &detector,
        &bucket_policy(
            json!({"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": "*",
                              "Condition": {"StringEquals": {"aws:PrincipalOrgID": "o-123"}}}),
        ),
    );
    assert!(builtin_ids(&org_only).is_empty());
    let service = hits_for(
        &detector,
        &bucket_policy(
            json!({"Effect": "Allow", "Principal": {"Service": "cloudtrail.amazonaws.com"}, "Action": "s3:PutObject"}),
        ),
    );
    assert!(builtin_ids(&service).is_empty());

    // Policies sent as JSON text (ECR, IAM trust policies).
    let trust = record(
        json!({"eventSource": "iam.amazonaws.com", "eventName": "UpdateAssumeRolePolicy",
        "requestParameters": {"roleName": "r", "policyDocument":
            "{\"Version\":\"2012-10-17\",\"Statement\":[{\"Effect\":\"Allow\",\"Principal\":\"*\",\"Action\":\"sts:AssumeRole\"}]}"}}),
    );
    let trust_hits = hits_for(&detector, &trust);
    assert_eq!(
        builtin_ids(&trust_hits),
        ["trailguard.policy.public_principal"]
    );
    assert!(trust_hits[0].mitre.contains(&"T1098.003".to_string()));

    let lambda = |principal: &str| {
        record(
            json!({"eventSource": "lambda.amazonaws.com", "eventName": "AddPermission20150331v2",
                      "requestParameters": {"functionName": "f", "principal": principal, "action": "lambda:InvokeFunction"}}),
        )
    };
    assert_eq!(
        builtin_ids(&hits_for(&detector, &lambda("*"))),
        ["trailguard.policy.public_principal"]
    );
    assert!(builtin_ids(&hits_for(&detector, &lambda("s3.amazonaws.com"))).is_empty());
}

#[test]
fn s3_cross_account_builtins() {
    let detector = default_detector();
    let copy = |key_account: &str| {
        record(
            json!({"eventSource": "s3.amazonaws.com", "eventName": "CopyObject",
                      "requestParameters": {"bucketName": "b", "key": "k", "x-amz-copy-source": "b/k",
                          "x-amz-server-side-encryption": "aws:kms",
                          "x-amz-server-side-encryption-aws-kms-key-id": format!("arn:aws:kms:us-east-1:{key_account}:key/1")}}),
        )
    };
    assert_eq!(
        builtin_ids(&hits_for(&detector, &copy("999988887777"))),
        ["trailguard.s3.foreign_kms_key"]
    );
    assert!(builtin_ids(&hits_for(&detector, &copy("111122223333"))).is_empty());

    let replication = |account: &str| {
        record(
            json!({"eventSource": "s3.amazonaws.com", "eventName": "PutBucketReplication",
                      "requestParameters": {"bucketName": "b", "ReplicationConfiguration": {"Role": "r",
                          "Rule": {"Status": "Enabled", "Destination": {"Bucket": "arn:aws:s3:::x", "Account": account}}}}}),
        )
    };
    assert_eq!(
        builtin_ids(&hits_for(&detector, &replication("999988887777"))),
        ["trailguard.s3.replication_foreign_account"]
    );
    assert!(builtin_ids(&hits_for(&detector, &replication("111122223333"))).is_empty());

    let copy_between = |dest_account: &str| {
        record(
            json!({"eventSource": "s3.amazonaws.com", "eventName": "CopyObject",
                      "requestParameters": {"bucketName": "dest", "key": "k", "x-amz-copy-source": "src/k"},
                      "resources": [{"type": "AWS::S3::Bucket", "ARN": "arn:aws:s3:::src", "accountId": "111122223333"},
                                    {"type": "AWS::S3::Bucket", "ARN": "arn:aws:s3:::dest", "accountId": dest_account}]}),
        )
    };
    assert_eq!(
        builtin_ids(&hits_for(&detector, &copy_between("999988887777"))),
        ["trailguard.s3.cross_account_copy"]
    );
    assert!(builtin_ids(&hits_for(&detector, &copy_between("111122223333"))).is_empty());
}

#[test]
fn guardduty_findings_are_rated_by_severity() {
    let detector = default_detector();
    let finding = |severity: f64| {
        json!({"version": "0", "id": "e", "detail-type": "GuardDuty Finding", "source": "aws.guardduty",
               "account": "111122223333", "region": "us-east-1", "time": "2026-01-01T00:00:00Z", "resources": [],
               "detail": {"schemaVersion": "2.0", "accountId": "111122223333", "region": "us-east-1",
                          "id": "f1", "arn": "arn:aws:guardduty:us-east-1:111122223333:detector/d/finding/f1",
                          "type": "UnauthorizedAccess:IAMUser/InstanceCredentialExfiltration.OutsideAWS",
                          "severity": severity, "title": "Credentials used outside AWS",
                          "createdAt": "2026-01-01T00:00:00Z", "updatedAt": "2026-01-01T00:00:00Z"}})
    };
    for (severity, level) in [
        (2.0, ThreatLevel::Low),
        (5.0, ThreatLevel::Medium),
        (8.0, ThreatLevel::High),
    ] {
        let hits = hits_for(&detector, &finding(severity));
        assert_eq!(hits.len(), 1, "{hits:?}");
        assert_eq!(hits[0].rule_id, "trailguard.guardduty.severity");
        assert_eq!(hits[0].level, level, "severity {severity}");
        assert!(hits[0].reason.contains("InstanceCredentialExfiltration"));
        assert!(hits[0].mitre.contains(&"T1552.005".to_string()));
    }
}

#[test]
fn s3_object_events_rate_low() {
    let detector = default_detector();
    let notification = json!({"eventVersion": "2.1", "eventSource": "aws:s3", "awsRegion": "us-east-1",
        "eventTime": "2026-01-01T00:00:00.000Z", "eventName": "ObjectCreated:Put",
        "userIdentity": {"principalId": "AWS:AIDA"}, "requestParameters": {"sourceIPAddress": "203.0.113.1"},
        "responseElements": {"x-amz-request-id": "r"},
        "s3": {"s3SchemaVersion": "1.0", "configurationId": "c",
               "bucket": {"name": "b", "ownerIdentity": {"principalId": "A"}, "arn": "arn:aws:s3:::b"},
               "object": {"key": "HOW_TO_DECRYPT_FILES.txt", "size": 10, "eTag": "e", "sequencer": "1"}}});
    assert!(hits_for(&detector, &notification).is_empty());
    let eventbridge = json!({"version": "0", "id": "e", "detail-type": "Object Created", "source": "aws.s3",
        "account": "111122223333", "time": "2026-01-01T00:00:00Z", "region": "us-east-1",
        "resources": ["arn:aws:s3:::b"],
        "detail": {"version": "0", "bucket": {"name": "b"}, "object": {"key": "photo.jpg", "size": 10},
                   "request-id": "r", "requester": "111122223333", "reason": "PutObject"}});
    assert!(hits_for(&detector, &eventbridge).is_empty());
}

#[test]
fn hits_are_sorted_and_the_detector_is_shared_between_threads() {
    let detector = default_detector();
    let root_stop = record(json!({"eventSource": "cloudtrail.amazonaws.com", "eventName": "StopLogging",
        "userIdentity": {"type": "Root", "arn": "arn:aws:iam::111122223333:root", "accountId": "111122223333"},
        "requestParameters": {"name": "t"}}))
    .to_string();
    let quiet =
        record(json!({"eventSource": "s3.amazonaws.com", "eventName": "ListBuckets"})).to_string();
    std::thread::scope(|scope| {
        let workers: Vec<_> = (0..2)
            .map(|_| {
                scope.spawn(|| {
                    for _ in 0..50 {
                        let hits = detector.detect(&parse_event(&root_stop).expect("parse"));
                        assert!(hits.len() >= 2, "{hits:?}");
                        assert!(hits.windows(2).all(|w| w[0].level >= w[1].level));
                        assert_eq!(hits[0].level, ThreatLevel::High);
                        assert!(detector
                            .detect(&parse_event(&quiet).expect("parse"))
                            .is_empty());
                    }
                })
            })
            .collect();
        for worker in workers {
            worker.join().expect("worker");
        }
    });
}

#[test]
fn admin_policy_documents_and_foreign_layers() {
    let detector = default_detector();
    let inline = |statement: Value| {
        record(
            json!({"eventSource": "iam.amazonaws.com", "eventName": "PutUserPolicy",
                      "requestParameters": {"userName": "bob", "policyName": "p",
                          "policyDocument": json!({"Version": "2012-10-17", "Statement": statement}).to_string()}}),
        )
    };
    let admin = hits_for(
        &detector,
        &inline(json!([{"Effect": "Allow", "Action": "*", "Resource": "*"}])),
    );
    assert_eq!(
        builtin_ids(&admin),
        ["trailguard.iam.admin_policy_document"]
    );
    let iam_star = hits_for(
        &detector,
        &inline(json!({"Effect": "Allow", "Action": ["s3:GetObject", "iam:*"], "Resource": ["*"]})),
    );
    assert_eq!(
        builtin_ids(&iam_star),
        ["trailguard.iam.admin_policy_document"]
    );
    let scoped = hits_for(
        &detector,
        &inline(json!([{"Effect": "Allow", "Action": "*", "Resource": "arn:aws:s3:::bucket/*"}])),
    );
    assert!(builtin_ids(&scoped).is_empty());
    let deny = hits_for(
        &detector,
        &inline(json!([{"Effect": "Deny", "Action": "*", "Resource": "*"}])),
    );
    assert!(builtin_ids(&deny).is_empty());

    let layer = |account: &str| {
        record(
            json!({"eventSource": "lambda.amazonaws.com", "eventName": "UpdateFunctionConfiguration20150331v2",
                      "requestParameters": {"functionName": "f",
                          "layers": [format!("arn:aws:lambda:us-east-1:{account}:layer:extension:3")]}}),
        )
    };
    assert_eq!(
        builtin_ids(&hits_for(&detector, &layer("999988887777"))),
        ["trailguard.lambda.foreign_layer"]
    );
    assert!(builtin_ids(&hits_for(&detector, &layer("111122223333"))).is_empty());
}
