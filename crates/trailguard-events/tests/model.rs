//! parse_event: every event shape, the helpers, and field-path errors.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test helpers outside #[test] fns

#[path = "support/shared_data.rs"]
mod shared_data;

use std::borrow::Cow;
use trailguard_events::*;

fn fixture(name: &str) -> String {
    let path =
        concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/fixtures/events/").to_owned() + name;
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// A file of the shared data; `None` when the data is missing (skipped, or a failure under CI).
fn shared(rel: &str) -> Option<String> {
    let path = shared_data::require(rel, "the shared event samples")?;
    Some(
        std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display())),
    )
}

/// Elements of a container, as raw JSON text (the readers do this in production).
fn elements(json: &str, key: &str) -> Vec<String> {
    let v: serde_json::Value = serde_json::from_str(json).unwrap();
    v[key]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e.to_string())
        .collect()
}

#[test]
fn bare_cloudtrail_put_object() {
    let json = fixture("cloudtrail_putobject.json");
    let ev = parse_event(&json).unwrap();
    assert_eq!(ev.kind(), EventKind::CloudTrail);
    assert_eq!(ev.kind().as_str(), "cloudtrail");
    let r = ev.cloudtrail().unwrap();
    assert_eq!(r.event_name.as_deref(), Some("PutObject"));
    assert!(
        matches!(r.event_name, Some(Cow::Borrowed(_))),
        "plain strings borrow"
    );
    assert_eq!(r.read_only, Some(false));
    assert_eq!(r.management_event, Some(false));
    assert_eq!(r.event_category.as_deref(), Some("Data"));
    let ui = r.user_identity.as_ref().unwrap();
    assert_eq!(ui.identity_type.as_deref(), Some("AssumedRole"));
    let sc = ui.session_context.as_ref().unwrap();
    assert_eq!(
        sc.attributes.as_ref().unwrap().mfa_authenticated,
        Some(false)
    );
    assert_eq!(
        sc.session_issuer.as_ref().unwrap().user_name.as_deref(),
        Some("Uploader")
    );
    assert_eq!(r.resources.len(), 2);
    assert_eq!(
        r.resources[1].resource_type.as_deref(),
        Some("AWS::S3::Bucket")
    );
    assert!(r.request_parameters.unwrap().get().contains("bucketName"));
    assert!(r.response_elements.is_none(), "null raw part is None");
    assert_eq!(
        r.tls_details.as_ref().unwrap().tls_version.as_deref(),
        Some("TLSv1.3")
    );
    assert_eq!(ev.event_id(), Some("0f3a1c2e-0000-4000-8000-000000000001"));
    assert_eq!(ev.event_time(), Some("2024-05-01T10:05:00Z"));
    assert_eq!(ev.account_id(), Some("111122223333"));
    assert_eq!(ev.identity_display().as_deref(), Some("Uploader/alice"));
    assert!(ev.is_object_upload());
    let obj = ev.s3_object().unwrap();
    assert_eq!(obj.bucket, "photos-in");
    assert_eq!(obj.key, "uploads/cat \"1\".png", "escapes decoded");
    assert!(matches!(obj.key, Cow::Owned(_)));
    assert_eq!(obj.content_type.as_deref(), Some("image/png"));
    assert_eq!(obj.size, Some(2048));
    assert_eq!(ev.s3_bucket().as_deref(), Some("photos-in"));
}

#[test]
fn failed_or_foreign_uploads_are_not_uploads() {
    let json = fixture("cloudtrail_putobject.json");
    let denied = json.replace(
        "\"eventType\"",
        "\"errorCode\":\"AccessDenied\",\"eventType\"",
    );
    assert!(!parse_event(&denied).unwrap().is_object_upload());
    let other = json.replace("\"PutObject\"", "\"GetObject\"");
    let ev = parse_event(&other).unwrap();
    assert!(!ev.is_object_upload());
    assert_eq!(
        ev.s3_object().unwrap().size,
        None,
        "size only for PutObject"
    );
    for name in ["CompleteMultipartUpload", "CopyObject"] {
        let j = json.replace("\"PutObject\"", &format!("\"{name}\""));
        assert!(parse_event(&j).unwrap().is_object_upload(), "{name}");
    }
    let upload_part = json.replace("\"PutObject\"", "\"UploadPart\"");
    assert!(!parse_event(&upload_part).unwrap().is_object_upload());
}

#[test]
fn s3_object_from_resource_arn_when_params_lack_key() {
    let json = r#"{"eventName":"GetObject","eventSource":"s3.amazonaws.com","requestParameters":{"Host":"h"},
        "resources":[{"type":"AWS::S3::Object","ARN":"arn:aws:s3:::b1/dir/a.jpg"},{"type":"AWS::S3::Bucket","ARN":"arn:aws:s3:::b1"}]}"#;
    let ev = parse_event(json).unwrap();
    let obj = ev.s3_object().unwrap();
    assert_eq!((&*obj.bucket, &*obj.key), ("b1", "dir/a.jpg"));
    assert!(matches!(obj.key, Cow::Borrowed(_)));
    assert_eq!(obj.content_type, None);

    let bucket_only = r#"{"eventName":"PutBucketPolicy","eventSource":"s3.amazonaws.com","requestParameters":{"bucketName":"b2","policy":"{}"}}"#;
    let ev = parse_event(bucket_only).unwrap();
    assert!(ev.s3_object().is_none());
    assert_eq!(ev.s3_bucket().as_deref(), Some("b2"));

    let not_s3 = r#"{"eventName":"CreateUser","eventSource":"iam.amazonaws.com","requestParameters":{"bucketName":"x","key":"y"}}"#;
    let ev = parse_event(not_s3).unwrap();
    assert!(ev.s3_object().is_none() && ev.s3_bucket().is_none());
}

#[test]
fn eventbridge_cloudtrail_keeps_envelope() {
    let json = fixture("eventbridge_cloudtrail.json");
    let ev = parse_event(&json).unwrap();
    let Event::CloudTrail(ct) = &ev else {
        panic!("{ev:?}")
    };
    let env = ct.envelope.as_ref().unwrap();
    assert_eq!(env.detail_type, "AWS API Call via CloudTrail");
    assert_eq!(env.source.as_deref(), Some("aws.cloudtrail"));
    assert_eq!(
        env.id.as_deref(),
        Some("7bf73129-1428-4cd3-a780-95db273d1602")
    );
    assert_eq!(ct.record.event_name.as_deref(), Some("StopLogging"));
    assert_eq!(ev.event_id(), Some("c1b7c0de-0000-4000-8000-000000000002"));
    assert_eq!(ev.identity_display().as_deref(), Some("root"));
    assert_eq!(ev.region(), Some("us-east-1"));
    assert!(!ev.is_object_upload());
}

#[test]
fn eventbridge_s3_object_created_and_deleted() {
    let Some(created) =
        shared("events/powertools/s3EventBridgeNotificationObjectCreatedEvent.json")
    else {
        return;
    };
    let ev = parse_event(&created).unwrap();
    assert_eq!(ev.kind(), EventKind::S3EventBridge);
    assert!(ev.is_object_upload());
    assert_eq!(ev.event_name(), Some("Object Created"));
    assert_eq!(ev.account_id(), Some("123456789012"));
    assert_eq!(ev.source_ip_address(), Some("34.252.34.74"));
    let Event::S3EventBridge(s3) = &ev else {
        unreachable!()
    };
    assert_eq!(s3.detail.reason.as_deref(), Some("PutObject"));
    assert_eq!(s3.envelope.resources, vec!["arn:aws:s3:::example-bucket"]);
    let obj = ev.s3_object().unwrap();
    assert_eq!(
        (&*obj.bucket, &*obj.key, obj.size),
        ("example-bucket", "IMG_m7fzo3.jpg", Some(184662))
    );

    let deleted = shared("events/powertools/s3EventBridgeNotificationObjectDeletedEvent.json")
        .expect("same data directory");
    let ev = parse_event(&deleted).unwrap();
    assert!(!ev.is_object_upload());
    assert_eq!(ev.s3_object().unwrap().size, None);
    let Event::S3EventBridge(s3) = &ev else {
        unreachable!()
    };
    assert_eq!(
        s3.detail.deletion_type.as_deref(),
        Some("Delete Marker Created")
    );

    let restore =
        shared("events/powertools/s3EventBridgeNotificationObjectRestoreCompletedEvent.json")
            .expect("same data directory");
    assert_eq!(
        parse_event(&restore).unwrap().kind(),
        EventKind::S3EventBridge
    );

    let ec2 = shared("events/powertools/eventBridgeEvent.json").expect("same data directory");
    let err = parse_event(&ec2).unwrap_err();
    assert!(
        err.to_string()
            .contains("EC2 Instance State-change Notification"),
        "{err}"
    );
}

#[test]
fn s3_notifications_decode_keys() {
    let json = fixture("s3_notification_plus.json");
    let recs = elements(&json, "Records");
    let ev = parse_event(&recs[0]).unwrap();
    assert_eq!(ev.kind(), EventKind::S3Notification);
    let Event::S3Notification(n) = &ev else {
        unreachable!()
    };
    assert_eq!(n.key, "holiday photos/me & you.JPG");
    assert_eq!(n.raw_key, "holiday+photos/me+%26+you.JPG");
    assert!(ev.is_object_upload());
    assert_eq!(ev.event_id(), Some("RID1"));
    assert_eq!(ev.source_ip_address(), Some("203.0.113.8"));
    assert_eq!(ev.identity_display().as_deref(), Some("AWS:AIDAEXAMPLE"));
    assert_eq!(ev.s3_object().unwrap().size, Some(4096));
    let ev = parse_event(&recs[1]).unwrap();
    assert!(!ev.is_object_upload());

    let bad = recs[0].replace("me+%26+you", "me%2");
    let err = parse_event(&bad).unwrap_err();
    assert!(
        err.to_string()
            .starts_with("s3.object.key: invalid URL encoding"),
        "{err}"
    );

    for file in [
        "aws-lambda-go/s3-event.json",
        "powertools/s3Event.json",
        "powertools/s3EventDecodedKey.json",
    ] {
        let Some(json) = shared(&format!("events/{file}")) else {
            return;
        };
        for rec in elements(&json, "Records") {
            let ev = parse_event(&rec).unwrap_or_else(|e| panic!("{file}: {e}"));
            assert_eq!(ev.kind(), EventKind::S3Notification, "{file}");
        }
    }
    let json = shared("events/aws-lambda-go/s3-event.json").expect("same data directory");
    let lambda_go = elements(&json, "Records");
    let ev = parse_event(&lambda_go[0]).unwrap();
    assert_eq!(ev.s3_object().unwrap().key, "Happy Face.jpg");

    let sqs = shared("events/powertools/s3SqsEvent.json").expect("same data directory");
    let err = parse_event(&elements(&sqs, "Records")[0]).unwrap_err();
    assert!(err.to_string().contains("aws:sqs"), "{err}");
}

#[test]
fn guardduty_findings_both_casings() {
    let json = fixture("guardduty_getfindings.json");
    let findings = elements(&json, "Findings");
    let ev = parse_event(&findings[0]).unwrap();
    let Event::GuardDuty(gd) = &ev else {
        panic!("{ev:?}")
    };
    assert_eq!(gd.finding.severity, Some(8.0));
    assert!(gd.finding.service.is_some());
    assert_eq!(
        ev.event_name(),
        Some("UnauthorizedAccess:IAMUser/MaliciousIPCaller")
    );
    assert_eq!(ev.event_id(), Some("f1"));
    assert_eq!(ev.event_time(), Some("2024-05-01T12:30:00.000Z"));
    assert_eq!(ev.account_id(), Some("111122223333"));
    assert_eq!(ev.identity_display().as_deref(), Some("mallory"));
    assert!(ev.s3_object().is_none() && !ev.is_object_upload());
    let ev = parse_event(&findings[1]).unwrap();
    let Event::GuardDuty(gd) = &ev else { panic!() };
    assert_eq!(gd.finding.severity, Some(2.0));

    let eb = fixture("eventbridge_guardduty.json");
    let ev = parse_event(&eb).unwrap();
    let Event::GuardDuty(gd) = &ev else {
        panic!("{ev:?}")
    };
    assert_eq!(
        gd.envelope.as_ref().unwrap().detail_type,
        "GuardDuty Finding"
    );
    assert_eq!(gd.finding.severity, Some(5.5));
    assert_eq!(ev.identity_display().as_deref(), Some("bob"));

    let Some(panther) = shared("cloudtrail/panther/labelled_tests_aws_guardduty.jsonl") else {
        return;
    };
    let mut n = 0;
    for line in panther.lines() {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        let log = v["log"].to_string();
        let ev = parse_event(&log).unwrap_or_else(|e| panic!("{e}: {log}"));
        assert_eq!(ev.kind(), EventKind::GuardDuty);
        n += 1;
    }
    assert_eq!(n, 8);
}

#[test]
fn field_path_errors() {
    let cases = [
        (
            r#"{"eventName":"X","userIdentity":{"type":5}}"#,
            "userIdentity.type: expected a string, found integer `5`",
        ),
        (
            r#"{"eventName":7}"#,
            "eventName: expected a string, found integer `7`",
        ),
        (
            r#"{"eventName":"X","readOnly":"maybe"}"#,
            "readOnly: invalid value",
        ),
        (
            r#"{"eventName":"X","resources":[{"ARN":1}]}"#,
            "resources[0].ARN: expected a string",
        ),
        (
            r#"{"eventName":"X","resources":5}"#,
            "resources: expected a sequence",
        ),
        (
            r#"{"eventName":"X","userIdentity":{"sessionContext":{"sessionIssuer":{"userName":[]}}}}"#,
            "userIdentity.sessionContext.sessionIssuer.userName: expected a string, found sequence",
        ),
        (
            r#"{"detail-type":"AWS API Call via CloudTrail","source":"aws.s3","detail":{"eventName":"X","userIdentity":"me"}}"#,
            "detail.userIdentity: expected struct UserIdentity",
        ),
        (
            r#"{"detail-type":"Object Created","source":"aws.s3","detail":{"bucket":{"name":"b"},"object":{"key":"k","size":-1}}}"#,
            "detail.object.size: invalid value",
        ),
        (
            r#"{"detail-type":"Object Created","source":"aws.s3","detail":{"bucket":{"name":"b"}}}"#,
            "detail: missing field `object`",
        ),
        (
            r#"{"detail-type":"Object Created","source":"aws.s3","detail":[1]}"#,
            "detail: expected an object, found an array",
        ),
        (
            r#"{"Type":"x","Severity":"high"}"#,
            "Severity: invalid value",
        ),
    ];
    for (json, want) in cases {
        let err = parse_event(json).expect_err(json);
        let msg = err.to_string();
        assert!(msg.starts_with(want), "{json}\n got: {msg}\nwant: {want}");
    }
}

#[test]
fn shape_and_syntax_errors() {
    assert!(matches!(
        parse_event("{\"eventName\":"),
        Err(ParseError::Syntax { .. })
    ));
    assert!(matches!(
        parse_event("{} x"),
        Err(ParseError::Syntax { .. })
    ));
    for json in [
        "[1]",
        "5",
        "\"s\"",
        "",
        "{}",
        r#"{"Records":[]}"#,
        r#"{"detail-type":"x"}"#,
    ] {
        let err = parse_event(json).expect_err(json);
        assert!(
            matches!(err, ParseError::Shape(_) | ParseError::Syntax { .. }),
            "{json}: {err:?}"
        );
    }
    // A UTF-8 BOM is tolerated.
    assert!(parse_event("\u{feff}{\"eventName\":\"X\"}").is_ok());
}

#[test]
fn every_panther_cloudtrail_record_parses() {
    let Some(data) = shared("cloudtrail/panther/labelled_tests_aws_cloudtrail.jsonl") else {
        return;
    };
    let mut ok = 0;
    let mut failed = Vec::new();
    for (i, line) in data.lines().enumerate() {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        let log = v["log"].to_string();
        match parse_event(&log) {
            Ok(ev) => {
                assert_eq!(ev.kind(), EventKind::CloudTrail, "line {i}");
                ok += 1;
            }
            Err(e) => failed.push(format!("line {i}: {e}")),
        }
    }
    // One Panther test log holds a Python repr string where `resources[0]` should be an object.
    assert_eq!(ok, 460, "{failed:#?}");
    assert_eq!(failed.len(), 1, "{failed:#?}");
    assert!(failed[0].starts_with("line 109: resources[0]: expected struct Resource, found string"));
}

#[test]
fn otrf_jsonl_parses() {
    let Some(data) = shared(
        "cloudtrail/otrf/ec2_proxy_s3_exfiltration/ec2_proxy_s3_exfiltration_2020-09-14011940.json",
    ) else {
        return;
    };
    let mut n = 0;
    for line in data.lines().filter(|l| !l.trim().is_empty()) {
        let ev = parse_event(line).unwrap();
        assert!(ev.event_name().is_some());
        n += 1;
    }
    assert_eq!(n, 103);
}

/// A file of the workspace's `tests/fixtures/shapes/`: one small event per shape that names an
/// uploaded object (shared with the triage and workflow tests).
fn shape(name: &str) -> String {
    let path =
        concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/fixtures/shapes/").to_owned() + name;
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// Every shape that names an object version gives bucket, key and that version.
#[test]
fn object_versions_from_every_shape() {
    let cases = [
        (
            "eventbridge-object-created.json",
            None,
            "IYV3p45BT0ac8hjHg1houSdS1a.Mro8e",
        ),
        (
            "cloudtrail-putobject-eventbridge.json",
            None,
            "QUpfdndhfd8438MNFDN93jdnJFkdmqnh893",
        ),
        (
            "cloudtrail-putobject-trail.json",
            Some("Records"),
            "QUpfdndhfd8438MNFDN93jdnJFkdmqnh893",
        ),
        (
            "s3-notification.json",
            Some("Records"),
            "096fKKXTRTtl3on89fVO.nfljtsv6qko",
        ),
        (
            "cloudtrail-completemultipartupload-eventbridge.json",
            None,
            "d9Fm3rPQxT5vN2kLw8yZc1bH7jG4sA6e",
        ),
        // The destination's version, not `x-amz-copy-source-version-id` (the source's).
        (
            "cloudtrail-copyobject-eventbridge.json",
            None,
            "kT2wQ9eR4yU7iO1pA5sD8fG3hJ6lZ0xC",
        ),
    ];
    for (file, container, version) in cases {
        let text = shape(file);
        let json = match container {
            Some(key) => elements(&text, key).remove(0),
            None => text,
        };
        // Pretty-printed (as the file is) and compact (as a trail file is).
        let compact = serde_json::from_str::<serde_json::Value>(&json)
            .unwrap()
            .to_string();
        for json in [&json, &compact] {
            let ev = parse_event(json).unwrap_or_else(|e| panic!("{file}: {e}"));
            assert!(ev.is_object_upload(), "{file}");
            let obj = ev.try_s3_object().unwrap().unwrap();
            assert_eq!(&*obj.bucket, "trailguard-uploads", "{file}");
            assert_eq!(&*obj.key, "photos/passport-scan.png", "{file}");
            assert_eq!(obj.version_id.as_deref(), Some(version), "{file}");
        }
    }
}

#[test]
fn cloudtrail_versions_only_for_uploads_and_checked() {
    let record = |name: &str, response: &str| {
        format!(
            r#"{{"eventSource":"s3.amazonaws.com","eventName":"{name}","requestParameters":{{"bucketName":"b","key":"k.png"}},"responseElements":{response}}}"#
        )
    };
    let version = |json: &str| {
        parse_event(json)
            .unwrap()
            .try_s3_object()
            .map(|obj| obj.and_then(|obj| obj.version_id.map(|v| v.into_owned())))
    };
    // An escaped version takes the serde path; other members are skipped whatever they hold.
    assert_eq!(
        version(&record("PutObject", r#"{"x-amz-version-id":"a\u0062c"}"#)),
        Ok(Some("abc".into()))
    );
    assert_eq!(
        version(&record(
            "CompleteMultipartUpload",
            r#"{"k":"\"x\"","n":[1,{"x-amz-version-id":"inner"}],"x-amz-version-id":"v"}"#
        )),
        Ok(Some("v".into()))
    );
    // A version given twice is for serde to judge (it refuses).
    assert!(version(&record(
        "CopyObject",
        r#"{"x-amz-version-id":"a","x-amz-version-id":"b"}"#
    ))
    .is_err());
    for unversioned in [
        record("PutObject", "null"),
        record("PutObject", r#"{"x-amz-version-id":null}"#),
        record("PutObject", r#"{"x-amz-server-side-encryption":"AES256"}"#),
        // Not an upload: a read names no version it created.
        record("GetObject", r#"{"x-amz-version-id":"v"}"#),
    ] {
        assert_eq!(version(&unversioned), Ok(None), "{unversioned}");
    }
    // A version that is not a string is a field error, as for the other object fields.
    let wrong = record("PutObject", r#"{"x-amz-version-id":5}"#);
    let error = version(&wrong).unwrap_err();
    assert!(
        error
            .to_string()
            .starts_with("responseElements.x-amz-version-id: expected a string"),
        "{error}"
    );
    assert!(parse_event(&wrong).unwrap().s3_object().is_none());
}
