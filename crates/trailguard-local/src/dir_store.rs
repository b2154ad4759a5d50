//! A directory as the bucket root: object `s3://bucket/key` is the file `<root>/<bucket>/<key>`;
//! its content type and tags sit in `<root>/.trailguard-meta/<bucket>/<key>.json`.
//!
//! A directory keeps no history: each key has one version, with no version id, and any
//! `VersionId` names it, so events from a versioned bucket replay here.

use std::io::ErrorKind;
use std::path::{Component, Path, PathBuf};

use async_trait::async_trait;
use md5::{Digest, Md5};
use serde::{Deserialize, Serialize};
use trailguard_core::ports::{
    CopyOutcome, DeleteOutcome, ObjectHead, ObjectReader, ObjectRef, ObjectWriter, PortError,
    PortErrorKind, PutOutcome, StoredObject,
};

const META_DIR: &str = ".trailguard-meta";
/// S3's limits on object tags.
const MAX_TAGS: usize = 10;
const MAX_TAG_KEY_CHARS: usize = 128;
const MAX_TAG_VALUE_CHARS: usize = 256;

/// What the sidecar file keeps about an object.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct ObjectMetadata {
    pub content_type: Option<String>,
    #[serde(default)]
    pub tags: Vec<(String, String)>,
}

#[derive(Debug, Clone)]
pub struct DirStore {
    root: PathBuf,
}

fn invalid(message: impl Into<String>) -> PortError {
    PortError::new(PortErrorKind::InvalidInput, message)
}

fn io_error(action: &str, path: &Path, error: &std::io::Error) -> PortError {
    let kind = match error.kind() {
        ErrorKind::NotFound => PortErrorKind::NotFound,
        ErrorKind::PermissionDenied => PortErrorKind::AccessDenied,
        _ => PortErrorKind::Other,
    };
    PortError::new(kind, format!("{action} {}: {error}", path.display()))
}

fn validate_bucket(bucket: &str) -> Result<(), PortError> {
    let ok = !bucket.is_empty()
        && bucket.len() <= 255
        && !bucket.starts_with('.')
        && bucket
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'));
    if ok {
        Ok(())
    } else {
        Err(invalid(format!(
            "bucket name {bucket:?} is not allowed (letters, digits, '.', '-', '_'; not starting with '.')"
        ))
        .with_code("InvalidBucketName"))
    }
}

/// The key as relative path components; refuses anything that could leave the bucket directory.
fn key_components(key: &str) -> Result<Vec<&str>, PortError> {
    let refuse = |why: &str| {
        Err(invalid(format!("object key {key:?} refused: {why}")).with_code("InvalidKey"))
    };
    if key.is_empty() {
        return refuse("empty");
    }
    if key.len() > 1024 {
        return refuse("longer than 1024 bytes");
    }
    if key.contains('\0') {
        return refuse("contains NUL");
    }
    if key.starts_with('/') {
        return refuse("absolute");
    }
    let parts: Vec<&str> = key.split('/').collect();
    for part in &parts {
        if part.is_empty() || *part == "." || *part == ".." {
            return refuse("empty, '.' or '..' path segment");
        }
    }
    // Belt and braces: the platform's own parser must see only normal components.
    if !Path::new(key)
        .components()
        .all(|component| matches!(component, Component::Normal(_)))
    {
        return refuse("not a plain relative path");
    }
    Ok(parts)
}

impl DirStore {
    /// `root` is created on first write if missing.
    pub fn new(root: impl Into<PathBuf>) -> Self {
        DirStore { root: root.into() }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The file holding `s3://bucket/key`, after validating both.
    pub fn object_path(&self, bucket: &str, key: &str) -> Result<PathBuf, PortError> {
        validate_bucket(bucket)?;
        let mut path = self.root.join(bucket);
        for part in key_components(key)? {
            path.push(part);
        }
        Ok(path)
    }

    fn meta_path(&self, bucket: &str, key: &str) -> Result<PathBuf, PortError> {
        validate_bucket(bucket)?;
        let mut path = self.root.join(META_DIR).join(bucket);
        for part in key_components(key)? {
            path.push(part);
        }
        let mut name = path.as_os_str().to_owned();
        name.push(".json");
        Ok(PathBuf::from(name))
    }

    /// Refuses paths that resolve outside the root (e.g. through a symlinked directory).
    async fn ensure_inside_root(&self, path: &Path) -> Result<(), PortError> {
        let root = tokio::fs::canonicalize(&self.root)
            .await
            .map_err(|error| io_error("resolving store root", &self.root, &error))?;
        // Resolve the deepest existing ancestor (the file itself may not exist yet).
        let mut probe = path.to_path_buf();
        let resolved = loop {
            match tokio::fs::canonicalize(&probe).await {
                Ok(resolved) => break resolved,
                Err(_) => {
                    if !probe.pop() {
                        return Err(invalid(format!(
                            "{} has no existing ancestor",
                            path.display()
                        )));
                    }
                }
            }
        };
        if resolved.starts_with(&root) {
            Ok(())
        } else {
            Err(PortError::new(
                PortErrorKind::AccessDenied,
                format!(
                    "{} resolves outside the store root {}",
                    path.display(),
                    root.display()
                ),
            )
            .with_code("AccessDenied"))
        }
    }

    async fn ensure_root(&self) -> Result<(), PortError> {
        tokio::fs::create_dir_all(&self.root)
            .await
            .map_err(|error| io_error("creating store root", &self.root, &error))
    }

    async fn bucket_exists(&self, bucket: &str) -> bool {
        tokio::fs::metadata(self.root.join(bucket))
            .await
            .is_ok_and(|meta| meta.is_dir())
    }

    /// The sidecar metadata of an object (default when the object has none).
    pub async fn metadata(&self, bucket: &str, key: &str) -> Result<ObjectMetadata, PortError> {
        let path = self.meta_path(bucket, key)?;
        match tokio::fs::read(&path).await {
            Ok(bytes) => serde_json::from_slice(&bytes).map_err(|error| {
                PortError::new(
                    PortErrorKind::Other,
                    format!("metadata file {} is corrupt: {error}", path.display()),
                )
            }),
            Err(error) if error.kind() == ErrorKind::NotFound => Ok(ObjectMetadata::default()),
            Err(error) => Err(io_error("reading", &path, &error)),
        }
    }

    /// The tags of an object, as `put_object_tagging` set them.
    pub async fn tags(&self, bucket: &str, key: &str) -> Result<Vec<(String, String)>, PortError> {
        self.require_object(bucket, key).await?;
        Ok(self.metadata(bucket, key).await?.tags)
    }

    async fn write_metadata(
        &self,
        bucket: &str,
        key: &str,
        metadata: &ObjectMetadata,
    ) -> Result<(), PortError> {
        let path = self.meta_path(bucket, key)?;
        let bytes = serde_json::to_vec_pretty(metadata)
            .map_err(|error| PortError::new(PortErrorKind::Other, format!("metadata: {error}")))?;
        write_atomically(&path, &bytes).await
    }

    async fn require_object(&self, bucket: &str, key: &str) -> Result<PathBuf, PortError> {
        let path = self.object_path(bucket, key)?;
        match tokio::fs::metadata(&path).await {
            Ok(meta) if meta.is_file() => {
                self.ensure_inside_root(&path).await?;
                Ok(path)
            }
            _ if !self.bucket_exists(bucket).await => Err(PortError::new(
                PortErrorKind::NotFound,
                format!(
                    "bucket {bucket:?} does not exist under {}",
                    self.root.display()
                ),
            )
            .with_code("NoSuchBucket")),
            _ => Err(PortError::new(
                PortErrorKind::NotFound,
                format!("s3://{bucket}/{key} does not exist"),
            )
            .with_code("NoSuchKey")),
        }
    }
}

/// Writes via a temporary file and a rename, so readers never see half an object.
async fn write_atomically(path: &Path, bytes: &[u8]) -> Result<(), PortError> {
    let parent = path
        .parent()
        .ok_or_else(|| invalid(format!("{} has no parent directory", path.display())))?;
    tokio::fs::create_dir_all(parent)
        .await
        .map_err(|error| io_error("creating", parent, &error))?;
    let mut temp_name = path.as_os_str().to_owned();
    temp_name.push(format!(".tmp-{}", uuid::Uuid::new_v4().simple()));
    let temp = PathBuf::from(temp_name);
    tokio::fs::write(&temp, bytes)
        .await
        .map_err(|error| io_error("writing", &temp, &error))?;
    if let Err(error) = tokio::fs::rename(&temp, path).await {
        let _ = tokio::fs::remove_file(&temp).await;
        return Err(io_error("renaming into", path, &error));
    }
    Ok(())
}

fn etag(bytes: &[u8]) -> String {
    let digest = Md5::digest(bytes);
    let hex: String = digest.iter().map(|byte| format!("{byte:02x}")).collect();
    format!("\"{hex}\"")
}

fn validate_tags(tags: &[(String, String)]) -> Result<(), PortError> {
    if tags.len() > MAX_TAGS {
        return Err(
            invalid(format!("{} tags; S3 allows at most {MAX_TAGS}", tags.len()))
                .with_code("InvalidTag"),
        );
    }
    for (key, value) in tags {
        if key.is_empty()
            || key.chars().count() > MAX_TAG_KEY_CHARS
            || value.chars().count() > MAX_TAG_VALUE_CHARS
        {
            return Err(invalid(format!(
                "tag {key:?}: keys are 1-{MAX_TAG_KEY_CHARS} characters, values at most {MAX_TAG_VALUE_CHARS}"
            ))
            .with_code("InvalidTag"));
        }
    }
    Ok(())
}

// A directory keeps one copy per key and no history: it reports no version id, and a version id
// in a request names that one copy (what an event names is the upload the directory holds).
#[async_trait]
impl ObjectReader for DirStore {
    async fn get(&self, object: &ObjectRef) -> Result<StoredObject, PortError> {
        let path = self.require_object(&object.bucket, &object.key).await?;
        let bytes = tokio::fs::read(&path)
            .await
            .map_err(|error| io_error("reading", &path, &error))?;
        let metadata = self.metadata(&object.bucket, &object.key).await?;
        Ok(StoredObject {
            etag: Some(etag(&bytes)),
            bytes,
            content_type: metadata.content_type,
            version_id: None,
        })
    }

    /// From the file's metadata, without reading it (so no ETag).
    async fn head(&self, object: &ObjectRef) -> Result<ObjectHead, PortError> {
        let path = self.require_object(&object.bucket, &object.key).await?;
        let length = tokio::fs::metadata(&path)
            .await
            .map_err(|error| io_error("reading", &path, &error))?
            .len();
        Ok(ObjectHead {
            content_length: length,
            content_type: self
                .metadata(&object.bucket, &object.key)
                .await?
                .content_type,
            etag: None,
            version_id: None,
        })
    }
}

#[async_trait]
impl ObjectWriter for DirStore {
    async fn put(
        &self,
        bucket: &str,
        key: &str,
        bytes: Vec<u8>,
        content_type: Option<&str>,
    ) -> Result<PutOutcome, PortError> {
        let path = self.object_path(bucket, key)?;
        self.ensure_root().await?;
        self.ensure_inside_root(&path).await?;
        write_atomically(&path, &bytes).await?;
        // A new object starts without tags, as on S3.
        self.write_metadata(
            bucket,
            key,
            &ObjectMetadata {
                content_type: content_type.map(str::to_owned),
                tags: Vec::new(),
            },
        )
        .await?;
        Ok(PutOutcome { version_id: None })
    }

    async fn copy(
        &self,
        source: &ObjectRef,
        target_bucket: &str,
        target_key: &str,
        tags: &[(String, String)],
    ) -> Result<CopyOutcome, PortError> {
        validate_tags(tags)?;
        let source_path = self.require_object(&source.bucket, &source.key).await?;
        let target = self.object_path(target_bucket, target_key)?;
        self.ensure_inside_root(&target).await?;
        let bytes = tokio::fs::read(&source_path)
            .await
            .map_err(|error| io_error("reading", &source_path, &error))?;
        let mut metadata = self.metadata(&source.bucket, &source.key).await?;
        metadata.tags = tags.to_vec();
        write_atomically(&target, &bytes).await?;
        self.write_metadata(target_bucket, target_key, &metadata)
            .await?;
        Ok(CopyOutcome {
            version_id: None,
            source_version_id: source.version_id.clone(),
        })
    }

    async fn delete(&self, object: &ObjectRef) -> Result<DeleteOutcome, PortError> {
        let outcome = DeleteOutcome {
            version_id: object.version_id.clone(),
            delete_marker: false,
        };
        let path = self.object_path(&object.bucket, &object.key)?;
        if tokio::fs::symlink_metadata(&path).await.is_err() {
            return Ok(outcome);
        }
        self.ensure_inside_root(&path).await?;
        match tokio::fs::remove_file(&path).await {
            Ok(()) => {}
            Err(error) if error.kind() == ErrorKind::NotFound => {}
            Err(error) => return Err(io_error("deleting", &path, &error)),
        }
        let meta = self.meta_path(&object.bucket, &object.key)?;
        match tokio::fs::remove_file(&meta).await {
            Ok(()) => Ok(outcome),
            Err(error) if error.kind() == ErrorKind::NotFound => Ok(outcome),
            Err(error) => Err(io_error("deleting", &meta, &error)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unsafe_keys_and_buckets_are_refused() {
        let store = DirStore::new("/tmp/nowhere");
        for key in [
            "",
            "../x",
            "a/../../x",
            "/etc/passwd",
            "a//b",
            "./a",
            "a\0b",
            "a/",
        ] {
            let error = store.object_path("b", key).unwrap_err();
            assert_eq!(error.kind, PortErrorKind::InvalidInput, "{key:?}");
        }
        for bucket in ["", "..", ".trailguard-meta", "a/b", "a\0"] {
            assert!(store.object_path(bucket, "k").is_err(), "{bucket:?}");
        }
        assert_eq!(
            store.object_path("b", "uploads/x y.png").unwrap(),
            PathBuf::from("/tmp/nowhere/b/uploads/x y.png")
        );
    }

    #[tokio::test]
    async fn a_version_id_names_the_one_copy_a_directory_keeps() {
        let root = std::env::temp_dir().join(format!(
            "trailguard-dirstore-versions-{}-{}",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos())
                .unwrap_or(0)
        ));
        let store = DirStore::new(&root);
        let scanned = ObjectRef::new("uploads", "a/b.png").at_version(Some("3HL4kqtJ"));
        store
            .put("uploads", "a/b.png", b"png".to_vec(), Some("image/png"))
            .await
            .unwrap();
        let head = store.head(&scanned).await.unwrap();
        assert_eq!(head.content_length, 3);
        assert_eq!(head.content_type.as_deref(), Some("image/png"));
        let tags = vec![("trailguard-action".to_string(), "quarantine".to_string())];
        store
            .copy(&scanned, "quarantine", "x.png", &tags)
            .await
            .unwrap();
        assert_eq!(store.tags("quarantine", "x.png").await.unwrap(), tags);
        let deleted = store.delete(&scanned).await.unwrap();
        assert_eq!(deleted.version_id.as_deref(), Some("3HL4kqtJ"));
        assert!(!deleted.delete_marker);
        assert!(!root.join("uploads/a/b.png").exists());
        assert!(root.join("quarantine/x.png").is_file());
        // Again (a repeated event): still a success; a head is NotFound.
        store.delete(&scanned).await.unwrap();
        let gone = store
            .head(&ObjectRef::new("uploads", "a/b.png"))
            .await
            .unwrap_err();
        assert_eq!(gone.kind, PortErrorKind::NotFound);
        let _ = std::fs::remove_dir_all(&root);
    }

    #[test]
    fn etag_is_quoted_md5() {
        assert_eq!(etag(b""), "\"d41d8cd98f00b204e9800998ecf8427e\"");
    }
}
