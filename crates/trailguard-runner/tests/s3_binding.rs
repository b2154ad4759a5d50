//! The S3 service integration's version-aware actions (getObject, headObject, copyObject with
//! tags, deleteObject) over the object ports, on a versioned in-memory bucket.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test helpers panic on purpose

use std::sync::Arc;

use serde_json::json;
use trailguard_asl::{TaskContext, TaskHandler};
use trailguard_local::MemoryStore;
use trailguard_runner::integrations::S3Binding;

fn ctx() -> TaskContext {
    TaskContext {
        state_name: "S".into(),
        execution_arn: "arn:aws:states:us-east-1:123456789012:execution:m:e".into(),
        retry_count: 0,
    }
}

#[tokio::test]
async fn s3_binding_passes_version_ids_and_replaces_tags_on_copy() {
    let store = Arc::new(MemoryStore::versioned());
    let v1 = store.insert("b", "dir/a b.png", b"one", Some("image/png"));
    let v2 = store.insert("b", "dir/a b.png", b"two", Some("image/png"));
    let s3 = S3Binding {
        reader: store.clone(),
        writer: store.clone(),
    };
    let head = s3
        .invoke(
            "arn:aws:states:::aws-sdk:s3:headObject",
            json!({"Bucket": "b", "Key": "dir/a b.png", "VersionId": v1}),
            &ctx(),
        )
        .await
        .unwrap();
    assert_eq!(head["ContentLength"], json!(3));
    assert_eq!(head["VersionId"], json!(v1));
    let copied = s3
        .invoke(
            "arn:aws:states:::aws-sdk:s3:copyObject",
            json!({
                "Bucket": "q", "Key": "b/dir/a b.png",
                "CopySource": format!("b/dir/a%20b.png?versionId={v1}"),
                "TaggingDirective": "REPLACE",
                "Tagging": "reason=pii%20found&entities=EMAIL%2BPHONE"
            }),
            &ctx(),
        )
        .await
        .unwrap();
    assert_eq!(copied["CopySourceVersionId"], json!(v1));
    assert_eq!(store.bytes("q", "b/dir/a b.png"), Some(b"one".to_vec()));
    assert_eq!(
        store.tags("q", "b/dir/a b.png"),
        vec![
            ("reason".to_string(), "pii found".to_string()),
            ("entities".to_string(), "EMAIL+PHONE".to_string())
        ]
    );
    let deleted = s3
        .invoke(
            "arn:aws:states:::aws-sdk:s3:deleteObject",
            json!({"Bucket": "b", "Key": "dir/a b.png", "VersionId": v1}),
            &ctx(),
        )
        .await
        .unwrap();
    assert_eq!(deleted, json!({"VersionId": v1}));
    // Without a version id a versioned bucket only adds a delete marker, and says so.
    let marker = s3
        .invoke(
            "arn:aws:states:::aws-sdk:s3:deleteObject",
            json!({"Bucket": "b", "Key": "dir/a b.png"}),
            &ctx(),
        )
        .await
        .unwrap();
    assert_eq!(marker["DeleteMarker"], json!(true));
    assert!(store.has_version("b", "dir/a b.png", &v2));
    assert!(!store.has_version("b", "dir/a b.png", &v1));
    assert!(store.has_version("b", "dir/a b.png", &v2));
    let gone = s3
        .invoke(
            "arn:aws:states:::aws-sdk:s3:headObject",
            json!({"Bucket": "b", "Key": "dir/a b.png", "VersionId": v1}),
            &ctx(),
        )
        .await
        .unwrap_err();
    assert_eq!(gone.error, "S3.NoSuchKeyException");
    let bad = s3
        .invoke(
            "arn:aws:states:::aws-sdk:s3:copyObject",
            json!({"Bucket": "q", "Key": "x", "CopySource": "b/k", "TaggingDirective": "MERGE"}),
            &ctx(),
        )
        .await
        .unwrap_err();
    assert_eq!(bad.error, "S3.S3Exception");
}
