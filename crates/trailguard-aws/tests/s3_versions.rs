//! S3Store's version-aware calls (`VersionId`) over the real SDK wire path against moto.
//!
//! Start moto first: `scripts/test-services.sh start`. Without it these tests print a SKIPPED
//! notice locally, and fail under CI=true.

// Test helpers outside #[test] fns are not covered by clippy.toml's allow-*-in-tests.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use aws_sdk_s3::types::{BucketVersioningStatus, VersioningConfiguration};
use trailguard_aws::{AwsSettings, S3Store};
use trailguard_core::ports::{ObjectReader, ObjectRef, ObjectWriter, PortErrorKind};
use trailguard_testkit::moto_endpoint;

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

#[tokio::test]
async fn versions_are_read_copied_and_deleted_for_good() {
    let Some(endpoint) = moto_endpoint("versions_are_read_copied_and_deleted_for_good")
        .unwrap_or_else(|error| panic!("{error}"))
    else {
        return;
    };
    let settings = AwsSettings::local(&endpoint);
    let sdk = settings.load().await;
    let client = settings.s3_client(&sdk);
    let bucket = unique("versioned");
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
            VersioningConfiguration::builder()
                .status(BucketVersioningStatus::Enabled)
                .build(),
        )
        .send()
        .await
        .unwrap();
    let store = S3Store::new(client.clone());
    let key = "photos/a b+1 é.png";
    store
        .put(&bucket, key, b"first".to_vec(), Some("image/png"))
        .await
        .unwrap();
    let first = store
        .get(&ObjectRef::new(&bucket, key))
        .await
        .unwrap()
        .version_id
        .unwrap();
    store
        .put(&bucket, key, b"second".to_vec(), Some("image/png"))
        .await
        .unwrap();

    let old = store
        .get(&ObjectRef::new(&bucket, key).at_version(Some(first.as_str())))
        .await
        .unwrap();
    assert_eq!(old.bytes, b"first");
    let head = store
        .head(&ObjectRef::new(&bucket, key).at_version(Some(first.as_str())))
        .await
        .unwrap();
    assert_eq!(head.content_length, 5);
    assert_eq!(head.version_id.as_deref(), Some(first.as_str()));

    store
        .copy(
            &ObjectRef::new(&bucket, key).at_version(Some(first.as_str())),
            &quarantine,
            "q/copy.png",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(
        store
            .get(&ObjectRef::new(&quarantine, "q/copy.png"))
            .await
            .unwrap()
            .bytes,
        b"first"
    );

    store
        .delete(&ObjectRef::new(&bucket, key).at_version(Some(first.as_str())))
        .await
        .unwrap();
    let gone = store
        .head(&ObjectRef::new(&bucket, key).at_version(Some(first.as_str())))
        .await
        .unwrap_err();
    assert_eq!(gone.kind, PortErrorKind::NotFound, "{gone}");
    // The newer upload is untouched, and no delete marker hides it.
    assert_eq!(
        store
            .get(&ObjectRef::new(&bucket, key))
            .await
            .unwrap()
            .bytes,
        b"second"
    );
    // Deleting it again (a repeated event) succeeds.
    store
        .delete(&ObjectRef::new(&bucket, key).at_version(Some(first.as_str())))
        .await
        .unwrap();

    // Without a version id a versioned bucket only adds a delete marker: the data stays.
    let second = store
        .get(&ObjectRef::new(&bucket, key))
        .await
        .unwrap()
        .version_id
        .unwrap();
    store.delete(&ObjectRef::new(&bucket, key)).await.unwrap();
    let hidden = store.head(&ObjectRef::new(&bucket, key)).await.unwrap_err();
    assert_eq!(hidden.kind, PortErrorKind::NotFound);
    assert_eq!(
        store
            .get(&ObjectRef::new(&bucket, key).at_version(Some(second.as_str())))
            .await
            .unwrap()
            .bytes,
        b"second"
    );
}
