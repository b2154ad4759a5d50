//! The `ObjectStore` version defaults (for stores without history) and the S3 binding's
//! version-aware actions, on a store that implements only the required methods.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test helpers panic on purpose

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use serde_json::json;
use trailguard_asl::bindings::S3Binding;
use trailguard_asl::{TaskContext, TaskHandler};
use trailguard_core::ports::{ObjectStore, PortError, PortErrorKind, StoredObject};

/// One object per key, no version ids: what a plain directory or a minimal test double offers.
#[derive(Default)]
struct PlainStore {
    objects: Mutex<HashMap<(String, String), StoredObject>>,
}

fn at(bucket: &str, key: &str) -> (String, String) {
    (bucket.into(), key.into())
}

#[async_trait]
impl ObjectStore for PlainStore {
    async fn get_object(&self, bucket: &str, key: &str) -> Result<StoredObject, PortError> {
        self.objects
            .lock()
            .unwrap()
            .get(&at(bucket, key))
            .cloned()
            .ok_or_else(|| {
                PortError::new(PortErrorKind::NotFound, "missing").with_code("NoSuchKey")
            })
    }
    async fn put_object(
        &self,
        bucket: &str,
        key: &str,
        bytes: Vec<u8>,
        content_type: Option<&str>,
    ) -> Result<(), PortError> {
        self.objects.lock().unwrap().insert(
            at(bucket, key),
            StoredObject {
                bytes,
                content_type: content_type.map(str::to_string),
                ..StoredObject::default()
            },
        );
        Ok(())
    }
    async fn delete_object(&self, bucket: &str, key: &str) -> Result<(), PortError> {
        self.objects.lock().unwrap().remove(&at(bucket, key));
        Ok(())
    }
    async fn copy_object(
        &self,
        source_bucket: &str,
        source_key: &str,
        target_bucket: &str,
        target_key: &str,
    ) -> Result<(), PortError> {
        let object = self.get_object(source_bucket, source_key).await?;
        self.objects
            .lock()
            .unwrap()
            .insert(at(target_bucket, target_key), object);
        Ok(())
    }
    async fn put_object_tagging(
        &self,
        _bucket: &str,
        _key: &str,
        _tags: &[(String, String)],
    ) -> Result<(), PortError> {
        Ok(())
    }
}

fn ctx() -> TaskContext {
    TaskContext {
        state_name: "S".into(),
        execution_arn: "arn:aws:states:us-east-1:123456789012:execution:m:e".into(),
        retry_count: 0,
    }
}

#[tokio::test]
async fn a_store_without_history_has_one_version_per_key() {
    let store = PlainStore::default();
    store
        .put_object("b", "k", b"data".to_vec(), Some("image/png"))
        .await
        .unwrap();
    // Any version id names the one copy it keeps.
    let head = store.head_object("b", "k", Some("v9")).await.unwrap();
    assert_eq!(head.content_length, 4);
    assert_eq!(head.content_type.as_deref(), Some("image/png"));
    assert_eq!(
        store
            .get_object_version("b", "k", Some("v9"))
            .await
            .unwrap()
            .bytes,
        b"data"
    );
    store
        .copy_object_version("b", "k", Some("v9"), "q", "k")
        .await
        .unwrap();
    assert!(store.get_object("q", "k").await.is_ok());
    store
        .delete_object_version("b", "k", Some("v9"))
        .await
        .unwrap();
    assert!(store.get_object("b", "k").await.is_err());
    // Deleting it again, or a version of a key that never existed, succeeds as on S3.
    store
        .delete_object_version("b", "k", Some("v9"))
        .await
        .unwrap();
    let missing = store.head_object("b", "k", None).await.unwrap_err();
    assert_eq!(missing.kind, PortErrorKind::NotFound);
}

#[tokio::test]
async fn s3_binding_passes_version_ids_and_replaces_tags_on_copy() {
    let store = Arc::new(trailguard_asl::testing::MemoryStore::versioned());
    let v1 = store.insert("b", "dir/a b.png", b"one", Some("image/png"));
    let v2 = store.insert("b", "dir/a b.png", b"two", Some("image/png"));
    let s3 = S3Binding {
        store: store.clone(),
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
