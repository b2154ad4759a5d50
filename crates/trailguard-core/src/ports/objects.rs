//! Object storage: an S3 bucket on AWS, a directory or memory locally.
//!
//! Every call names the object with an [`ObjectRef`], whose `version_id` is S3's `VersionId`:
//! `Some` names one version for good, `None` the current object. On a versioned bucket a delete
//! without a version id only hides the object behind a delete marker, so code that must remove
//! data passes the version it checked.

use async_trait::async_trait;

use super::PortError;

/// One object, or one version of it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ObjectRef {
    pub bucket: String,
    pub key: String,
    /// `None`: the current version.
    pub version_id: Option<String>,
}

impl ObjectRef {
    pub fn new(bucket: impl Into<String>, key: impl Into<String>) -> Self {
        ObjectRef {
            bucket: bucket.into(),
            key: key.into(),
            version_id: None,
        }
    }

    /// The same object at `version_id` (an empty id counts as none).
    pub fn at_version(mut self, version_id: Option<&str>) -> Self {
        self.version_id = version_id.filter(|v| !v.is_empty()).map(str::to_string);
        self
    }
}

impl std::fmt::Display for ObjectRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "s3://{}/{}", self.bucket, self.key)?;
        match &self.version_id {
            Some(version) => write!(f, " (version {version})"),
            None => Ok(()),
        }
    }
}

/// An object read from storage.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct StoredObject {
    pub bytes: Vec<u8>,
    /// The content type the uploader declared; a claim, not a fact.
    pub content_type: Option<String>,
    pub etag: Option<String>,
    /// The version read; `None` on a store without versions.
    pub version_id: Option<String>,
}

/// What HeadObject tells about an object, without its body.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ObjectHead {
    pub content_length: u64,
    pub content_type: Option<String>,
    pub etag: Option<String>,
    pub version_id: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PutOutcome {
    /// The version the write created; `None` on a store without versions.
    pub version_id: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DeleteOutcome {
    /// The version removed for good, when one was named.
    pub version_id: Option<String>,
    /// True when the store only added a delete marker (a versioned bucket, no version named):
    /// the data is still there.
    pub delete_marker: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CopyOutcome {
    /// The version the copy created at the target.
    pub version_id: Option<String>,
    /// The source version that was copied.
    pub source_version_id: Option<String>,
}

/// Reading objects.
#[async_trait]
pub trait ObjectReader: Send + Sync {
    /// The object's bytes; NotFound (code `NoSuchKey` or `NoSuchVersion`) when absent.
    async fn get(&self, object: &ObjectRef) -> Result<StoredObject, PortError>;
    /// The object's metadata; NotFound when the object or version does not exist.
    async fn head(&self, object: &ObjectRef) -> Result<ObjectHead, PortError>;
}

/// Writing, copying (quarantine) and deleting objects.
#[async_trait]
pub trait ObjectWriter: Send + Sync {
    async fn put(
        &self,
        bucket: &str,
        key: &str,
        bytes: Vec<u8>,
        content_type: Option<&str>,
    ) -> Result<PutOutcome, PortError>;
    /// Copies `source` (its named version, or the current one) to `target_bucket/target_key`,
    /// with exactly `tags` on the copy. NotFound when the source is gone.
    async fn copy(
        &self,
        source: &ObjectRef,
        target_bucket: &str,
        target_key: &str,
        tags: &[(String, String)],
    ) -> Result<CopyOutcome, PortError>;
    /// Deletes the named version for good, or, with no version id, the current object (a delete
    /// marker on a versioned bucket). Deleting what does not exist succeeds, as on S3.
    async fn delete(&self, object: &ObjectRef) -> Result<DeleteOutcome, PortError>;
}
