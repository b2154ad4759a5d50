//! S3Store and SnsNotifier over the real SDK wire path against moto in server mode.
//!
//! Start moto first: `scripts/test-services.sh start`. Without it these tests print a SKIPPED
//! notice locally, and fail under CI=true.

// Test helpers outside #[test] fns are not covered by clippy.toml's allow-*-in-tests.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use trailguard_aws::{AwsSettings, S3Store, SnsNotifier};
use trailguard_core::ports::{
    Notification, Notifier, ObjectReader, ObjectRef, ObjectWriter, PortErrorKind,
};
use trailguard_testkit::{moto_endpoint, moto_sns_messages};

/// A name no other test run uses (moto keeps state between tests).
fn unique(prefix: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!(
        "{prefix}-{}-{}",
        std::process::id(),
        nanos % 1_000_000_000_000
    )
}

/// The moto endpoint, or `None` to skip (local runs without moto); fails under CI without moto.
fn moto(test_name: &str) -> Option<String> {
    moto_endpoint(test_name).unwrap_or_else(|error| panic!("{error}"))
}

const PNG: &[u8] =
    b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x01\0\0\0\x01\x08\x06\0\0\0\x1f\x15\xc4\x89";

#[tokio::test]
async fn s3_store_fetches_tags_copies_and_deletes_an_uploaded_image() {
    let Some(endpoint) = moto("s3_store_fetches_tags_copies_and_deletes_an_uploaded_image") else {
        return;
    };
    let settings = AwsSettings::local(&endpoint);
    let sdk = settings.load().await;
    let client = settings.s3_client(&sdk);
    let bucket = unique("uploads");
    let quarantine = unique("quarantine");
    for name in [&bucket, &quarantine] {
        client
            .create_bucket()
            .bucket(name.as_str())
            .send()
            .await
            .unwrap();
    }
    client
        .put_bucket_versioning()
        .bucket(&bucket)
        .versioning_configuration(
            aws_sdk_s3::types::VersioningConfiguration::builder()
                .status(aws_sdk_s3::types::BucketVersioningStatus::Enabled)
                .build(),
        )
        .send()
        .await
        .unwrap();

    let store = S3Store::new(client.clone());
    let key = "uploads/passport scan+1.png";
    store
        .put(&bucket, key, PNG.to_vec(), Some("image/png"))
        .await
        .unwrap();

    let object = store.get(&ObjectRef::new(&bucket, key)).await.unwrap();
    assert_eq!(object.bytes, PNG);
    assert_eq!(object.content_type.as_deref(), Some("image/png"));
    assert!(object.etag.is_some());
    assert!(
        object.version_id.is_some(),
        "versioned bucket gives a version id"
    );

    let tags = vec![
        ("trailguard:pii".to_owned(), "true".to_owned()),
        ("trailguard:detector".to_owned(), "bedrock".to_owned()),
    ];
    store
        .copy(
            &ObjectRef::new(&bucket, key),
            &quarantine,
            "evidence/passport.png",
            &tags,
        )
        .await
        .unwrap();
    let tagging = client
        .get_object_tagging()
        .bucket(&quarantine)
        .key("evidence/passport.png")
        .send()
        .await
        .unwrap();
    let mut read_back: Vec<(String, String)> = tagging
        .tag_set()
        .iter()
        .map(|tag| (tag.key().to_owned(), tag.value().to_owned()))
        .collect();
    read_back.sort();
    let mut expected = tags.clone();
    expected.sort();
    assert_eq!(read_back, expected);

    assert_eq!(
        store
            .get(&ObjectRef::new(&quarantine, "evidence/passport.png"))
            .await
            .unwrap()
            .bytes,
        PNG
    );

    // The PII image is deleted; fetching it again is NotFound, deleting again still succeeds.
    store.delete(&ObjectRef::new(&bucket, key)).await.unwrap();
    let gone = store.get(&ObjectRef::new(&bucket, key)).await.unwrap_err();
    assert_eq!(gone.kind, PortErrorKind::NotFound);
    assert_eq!(gone.code.as_deref(), Some("NoSuchKey"));
    store.delete(&ObjectRef::new(&bucket, key)).await.unwrap();

    let no_bucket = store
        .get(&ObjectRef::new(unique("missing"), "x"))
        .await
        .unwrap_err();
    assert_eq!(no_bucket.kind, PortErrorKind::NotFound);
    assert_eq!(no_bucket.code.as_deref(), Some("NoSuchBucket"));
}

#[tokio::test]
async fn sns_notifier_publishes_an_alert_that_moto_recorded() {
    let Some(endpoint) = moto("sns_notifier_publishes_an_alert_that_moto_recorded") else {
        return;
    };
    let settings = AwsSettings::local(&endpoint);
    let sdk = settings.load().await;
    let client = settings.sns_client(&sdk);
    let topic_arn = client
        .create_topic()
        .name(unique("trailguard-alerts"))
        .send()
        .await
        .unwrap()
        .topic_arn()
        .unwrap()
        .to_owned();

    let notifier = SnsNotifier::new(client.clone(), &topic_arn);
    let message = "{\"threat_level\":\"high\",\"summary\":\"PII image deleted\"}";
    let long_subject = format!("HIGH threat: {}", "x".repeat(200));
    let message_id = notifier
        .publish(&Notification::new(Some(long_subject.as_str()), message))
        .await
        .unwrap();

    let published = moto_sns_messages(&endpoint, &topic_arn).await.unwrap();
    assert_eq!(published.len(), 1);
    assert_eq!(published[0].message_id, message_id);
    assert_eq!(published[0].message, message);
    let subject = published[0].subject.as_deref().unwrap();
    assert_eq!(subject.chars().count(), 100);
    assert!(subject.starts_with("HIGH threat: xxx"));

    let missing = SnsNotifier::new(client, "arn:aws:sns:us-east-1:123456789012:no-such-topic")
        .publish(&Notification::new(None, "x"))
        .await
        .unwrap_err();
    assert_eq!(missing.kind, PortErrorKind::NotFound, "{missing}");
}
