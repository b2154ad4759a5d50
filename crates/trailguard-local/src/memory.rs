//! In-memory stand-ins: a bucket that can keep versions like S3 and a notifier that keeps what
//! it was sent. For tests and dry runs of a definition.

use std::collections::HashMap;
use std::sync::Mutex;

use async_trait::async_trait;
use trailguard_core::ports::{
    CopyOutcome, DeleteOutcome, Notification, Notifier, ObjectHead, ObjectReader, ObjectRef,
    ObjectWriter, PortError, PortErrorKind, PutOutcome, StoredObject,
};

type Tags = Vec<(String, String)>;

/// One version of a key: an object with its tags, or a delete marker.
#[derive(Debug, Clone)]
struct Version {
    id: String,
    object: Option<(StoredObject, Tags)>,
}

#[derive(Default)]
struct Buckets {
    /// Oldest first; the last entry is the current version.
    keys: HashMap<(String, String), Vec<Version>>,
    next_version: u64,
}

/// Objects in memory, keyed by (bucket, key); records every deletion.
///
/// [`MemoryStore::new`] behaves like an unversioned bucket (version id `"null"`, a delete removes
/// the object); [`MemoryStore::versioned`] like a bucket with versioning enabled (each write adds a
/// version `v1`, `v2`, ...; a delete without a version id adds a delete marker and keeps the data).
#[derive(Default)]
pub struct MemoryStore {
    versioned: bool,
    buckets: Mutex<Buckets>,
    deleted: Mutex<Vec<(String, String)>>,
    deleted_versions: Mutex<Vec<(String, String, Option<String>)>>,
}

fn id(bucket: &str, key: &str) -> (String, String) {
    (bucket.to_string(), key.to_string())
}

// S3's own messages (which name neither bucket nor key).
fn no_such_key() -> PortError {
    PortError::new(PortErrorKind::NotFound, "The specified key does not exist.")
        .with_code("NoSuchKey")
}

fn no_such_version() -> PortError {
    PortError::new(
        PortErrorKind::NotFound,
        "The specified version does not exist.",
    )
    .with_code("NoSuchVersion")
}

impl Buckets {
    /// The current object (not a delete marker) or the named version.
    fn find(
        &self,
        bucket: &str,
        key: &str,
        version: Option<&str>,
    ) -> Result<(StoredObject, Tags), PortError> {
        let versions = self.keys.get(&id(bucket, key));
        match version {
            None => versions
                .and_then(|v| v.last())
                .and_then(|v| v.object.clone())
                .ok_or_else(no_such_key),
            Some(wanted) => match versions.and_then(|v| v.iter().find(|v| v.id == wanted)) {
                Some(Version {
                    object: Some(object),
                    ..
                }) => Ok(object.clone()),
                Some(_) => Err(PortError::new(
                    PortErrorKind::InvalidInput,
                    format!("version {wanted} of s3://{bucket}/{key} is a delete marker"),
                )
                .with_code("MethodNotAllowed")),
                None => Err(no_such_version()),
            },
        }
    }
}

impl MemoryStore {
    /// An unversioned bucket.
    pub fn new() -> Self {
        Self::default()
    }

    /// A bucket with versioning enabled.
    pub fn versioned() -> Self {
        MemoryStore {
            versioned: true,
            ..Self::default()
        }
    }

    fn write(
        &self,
        bucket: &str,
        key: &str,
        mut object: StoredObject,
        tags: Tags,
    ) -> Result<String, PortError> {
        let mut buckets = self.buckets.lock().map_err(|_| poisoned())?;
        let version_id = if self.versioned {
            buckets.next_version += 1;
            format!("v{}", buckets.next_version)
        } else {
            "null".to_string()
        };
        object.version_id = Some(version_id.clone());
        let versions = buckets.keys.entry(id(bucket, key)).or_default();
        if !self.versioned {
            versions.clear();
        }
        versions.push(Version {
            id: version_id.clone(),
            object: Some((object, tags)),
        });
        Ok(version_id)
    }

    /// Writes an object; returns its version id (`"null"` when unversioned).
    pub fn insert(
        &self,
        bucket: &str,
        key: &str,
        bytes: &[u8],
        content_type: Option<&str>,
    ) -> String {
        let object = StoredObject {
            bytes: bytes.to_vec(),
            content_type: content_type.map(str::to_string),
            etag: Some(format!("\"{:x}\"", bytes.len())),
            version_id: None,
        };
        self.write(bucket, key, object, Vec::new())
            .unwrap_or_default()
    }

    /// Whether the key has a current object (not deleted, not a delete marker).
    pub fn contains(&self, bucket: &str, key: &str) -> bool {
        self.buckets
            .lock()
            .map(|b| b.find(bucket, key, None).is_ok())
            .unwrap_or(false)
    }

    /// Whether the version still exists and holds data (a delete marker does not).
    pub fn has_version(&self, bucket: &str, key: &str, version: &str) -> bool {
        self.buckets
            .lock()
            .map(|b| b.find(bucket, key, Some(version)).is_ok())
            .unwrap_or(false)
    }

    /// Version ids of a key, oldest first, delete markers included.
    pub fn versions(&self, bucket: &str, key: &str) -> Vec<String> {
        self.buckets
            .lock()
            .map(|b| {
                b.keys
                    .get(&id(bucket, key))
                    .map(|v| v.iter().map(|v| v.id.clone()).collect())
                    .unwrap_or_default()
            })
            .unwrap_or_default()
    }

    /// The current object's bytes.
    pub fn bytes(&self, bucket: &str, key: &str) -> Option<Vec<u8>> {
        self.buckets
            .lock()
            .ok()
            .and_then(|b| b.find(bucket, key, None).ok())
            .map(|(object, _)| object.bytes)
    }

    /// Removes every version of a key at once, as someone else would (not recorded as a delete).
    pub fn remove(&self, bucket: &str, key: &str) {
        if let Ok(mut buckets) = self.buckets.lock() {
            buckets.keys.remove(&id(bucket, key));
        }
    }

    /// Every delete call, as (bucket, key).
    pub fn deleted(&self) -> Vec<(String, String)> {
        self.deleted.lock().map(|d| d.clone()).unwrap_or_default()
    }

    /// Every delete call, as (bucket, key, version id given).
    pub fn deleted_versions(&self) -> Vec<(String, String, Option<String>)> {
        self.deleted_versions
            .lock()
            .map(|d| d.clone())
            .unwrap_or_default()
    }

    /// The current object's tags (empty when it has none or does not exist).
    pub fn tags(&self, bucket: &str, key: &str) -> Vec<(String, String)> {
        self.buckets
            .lock()
            .ok()
            .and_then(|b| b.find(bucket, key, None).ok())
            .map(|(_, tags)| tags)
            .unwrap_or_default()
    }
}

fn poisoned() -> PortError {
    PortError::new(PortErrorKind::Other, "memory store lock poisoned")
}

#[async_trait]
impl ObjectReader for MemoryStore {
    async fn get(&self, object: &ObjectRef) -> Result<StoredObject, PortError> {
        let buckets = self.buckets.lock().map_err(|_| poisoned())?;
        buckets
            .find(&object.bucket, &object.key, object.version_id.as_deref())
            .map(|(stored, _)| stored)
    }

    async fn head(&self, object: &ObjectRef) -> Result<ObjectHead, PortError> {
        let stored = self.get(object).await?;
        Ok(ObjectHead {
            content_length: u64::try_from(stored.bytes.len()).unwrap_or(u64::MAX),
            content_type: stored.content_type,
            etag: stored.etag,
            version_id: stored.version_id,
        })
    }
}

#[async_trait]
impl ObjectWriter for MemoryStore {
    async fn put(
        &self,
        bucket: &str,
        key: &str,
        bytes: Vec<u8>,
        content_type: Option<&str>,
    ) -> Result<PutOutcome, PortError> {
        let version_id = self.insert(bucket, key, &bytes, content_type);
        Ok(PutOutcome {
            version_id: self.versioned.then_some(version_id),
        })
    }

    async fn copy(
        &self,
        source: &ObjectRef,
        target_bucket: &str,
        target_key: &str,
        tags: &[(String, String)],
    ) -> Result<CopyOutcome, PortError> {
        if tags.len() > 10 {
            return Err(PortError::new(
                PortErrorKind::InvalidInput,
                format!("{} tags; S3 allows at most 10", tags.len()),
            )
            .with_code("InvalidTag"));
        }
        let (object, _) = self.buckets.lock().map_err(|_| poisoned())?.find(
            &source.bucket,
            &source.key,
            source.version_id.as_deref(),
        )?;
        let source_version_id = object.version_id.clone();
        let version_id = self.write(target_bucket, target_key, object, tags.to_vec())?;
        Ok(CopyOutcome {
            version_id: self.versioned.then_some(version_id),
            source_version_id: if self.versioned {
                source_version_id
            } else {
                None
            },
        })
    }

    async fn delete(&self, object: &ObjectRef) -> Result<DeleteOutcome, PortError> {
        let (bucket, key) = (object.bucket.as_str(), object.key.as_str());
        let version_id = object.version_id.as_deref();
        let outcome = {
            let mut buckets = self.buckets.lock().map_err(|_| poisoned())?;
            let mut marker = None;
            if version_id.is_none() && self.versioned {
                buckets.next_version += 1;
                marker = Some(format!("v{}", buckets.next_version));
            }
            let versions = buckets.keys.entry(id(bucket, key)).or_default();
            let outcome = match (version_id, marker) {
                // A versioned bucket keeps the data and adds a delete marker.
                (None, Some(marker)) => {
                    versions.push(Version {
                        id: marker.clone(),
                        object: None,
                    });
                    DeleteOutcome {
                        version_id: Some(marker),
                        delete_marker: true,
                    }
                }
                (None, None) => {
                    versions.clear();
                    DeleteOutcome::default()
                }
                // Deleting a version that does not exist succeeds, as on S3.
                (Some(wanted), _) => {
                    versions.retain(|v| v.id != wanted);
                    DeleteOutcome {
                        version_id: Some(wanted.to_string()),
                        delete_marker: false,
                    }
                }
            };
            if versions.is_empty() {
                buckets.keys.remove(&id(bucket, key));
            }
            outcome
        };
        self.deleted
            .lock()
            .map_err(|_| poisoned())?
            .push(id(bucket, key));
        self.deleted_versions.lock().map_err(|_| poisoned())?.push((
            bucket.to_string(),
            key.to_string(),
            version_id.map(str::to_string),
        ));
        Ok(outcome)
    }
}

/// Keeps every published message.
#[derive(Default)]
pub struct RecordingNotifier {
    messages: Mutex<Vec<Notification>>,
}

impl RecordingNotifier {
    pub fn new() -> Self {
        Self::default()
    }

    /// `(subject, message)` pairs in publication order.
    pub fn messages(&self) -> Vec<(Option<String>, String)> {
        self.notifications()
            .into_iter()
            .map(|n| (n.subject, n.message))
            .collect()
    }

    /// Everything published, attributes included, in publication order.
    pub fn notifications(&self) -> Vec<Notification> {
        self.messages.lock().map(|m| m.clone()).unwrap_or_default()
    }
}

#[async_trait]
impl Notifier for RecordingNotifier {
    async fn publish(&self, notification: &Notification) -> Result<String, PortError> {
        let mut messages = self.messages.lock().map_err(|_| poisoned())?;
        messages.push(notification.clone());
        Ok(format!("00000000-0000-4000-8000-{:012}", messages.len()))
    }
}
