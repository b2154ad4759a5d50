//! `ObjectStore` on Amazon S3.

use async_trait::async_trait;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{Tag, Tagging};
use trailguard_core::ports::{ObjectHead, ObjectStore, PortError, PortErrorKind, StoredObject};

use crate::error::{malformed, port_error_from_sdk};

#[derive(Debug, Clone)]
pub struct S3Store {
    client: aws_sdk_s3::Client,
    max_get_bytes: Option<u64>,
}

impl S3Store {
    pub fn new(client: aws_sdk_s3::Client) -> Self {
        S3Store {
            client,
            max_get_bytes: None,
        }
    }

    /// Refuses to download objects larger than `limit` bytes (checked on Content-Length, before
    /// the body is read), so a huge upload cannot exhaust a Lambda's memory.
    pub fn with_max_get_bytes(mut self, limit: u64) -> Self {
        self.max_get_bytes = Some(limit);
        self
    }

    pub fn client(&self) -> &aws_sdk_s3::Client {
        &self.client
    }
}

/// `CopySource` is `bucket/key[?versionId=ID]` with the key and version URL-encoded ('/' kept).
fn copy_source_version(bucket: &str, key: &str, version_id: Option<&str>) -> String {
    let mut source = copy_source(bucket, key);
    if let Some(version) = version_id {
        source.push_str("?versionId=");
        for byte in version.bytes() {
            match byte {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                    source.push(char::from(byte))
                }
                other => source.push_str(&format!("%{other:02X}")),
            }
        }
    }
    source
}

/// `CopySource` is `bucket/key` with the key URL-encoded ('/' kept).
fn copy_source(bucket: &str, key: &str) -> String {
    let mut encoded = String::with_capacity(bucket.len() + key.len() + 1);
    encoded.push_str(bucket);
    encoded.push('/');
    for byte in key.bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b'/' => {
                encoded.push(char::from(byte))
            }
            other => encoded.push_str(&format!("%{other:02X}")),
        }
    }
    encoded
}

#[async_trait]
impl ObjectStore for S3Store {
    async fn get_object(&self, bucket: &str, key: &str) -> Result<StoredObject, PortError> {
        self.get_object_version(bucket, key, None).await
    }

    async fn get_object_version(
        &self,
        bucket: &str,
        key: &str,
        version_id: Option<&str>,
    ) -> Result<StoredObject, PortError> {
        const OP: &str = "s3:GetObject";
        let output = self
            .client
            .get_object()
            .bucket(bucket)
            .key(key)
            .set_version_id(version_id.map(str::to_owned))
            .send()
            .await
            .map_err(|error| port_error_from_sdk(OP, &error))?;
        if let (Some(limit), Some(length)) = (self.max_get_bytes, output.content_length()) {
            if u64::try_from(length).is_ok_and(|length| length > limit) {
                return Err(PortError::new(
                    PortErrorKind::InvalidInput,
                    format!("s3://{bucket}/{key} is {length} bytes, over the {limit}-byte limit"),
                )
                .with_code("ObjectTooLarge"));
            }
        }
        let content_type = output.content_type().map(str::to_owned);
        let etag = output.e_tag().map(str::to_owned);
        let version_id = output.version_id().map(str::to_owned);
        let bytes = output
            .body
            .collect()
            .await
            .map_err(|error| {
                malformed(
                    OP,
                    format!("reading the body of s3://{bucket}/{key}: {error}"),
                )
            })?
            .into_bytes()
            .to_vec();
        Ok(StoredObject {
            bytes,
            content_type,
            etag,
            version_id,
        })
    }

    async fn put_object(
        &self,
        bucket: &str,
        key: &str,
        bytes: Vec<u8>,
        content_type: Option<&str>,
    ) -> Result<(), PortError> {
        self.client
            .put_object()
            .bucket(bucket)
            .key(key)
            .body(ByteStream::from(bytes))
            .set_content_type(content_type.map(str::to_owned))
            .send()
            .await
            .map_err(|error| port_error_from_sdk("s3:PutObject", &error))?;
        Ok(())
    }

    async fn head_object(
        &self,
        bucket: &str,
        key: &str,
        version_id: Option<&str>,
    ) -> Result<ObjectHead, PortError> {
        let output = self
            .client
            .head_object()
            .bucket(bucket)
            .key(key)
            .set_version_id(version_id.map(str::to_owned))
            .send()
            .await
            .map_err(|error| port_error_from_sdk("s3:HeadObject", &error))?;
        Ok(ObjectHead {
            content_length: output
                .content_length()
                .and_then(|length| u64::try_from(length).ok())
                .unwrap_or(0),
            content_type: output.content_type().map(str::to_owned),
            etag: output.e_tag().map(str::to_owned),
            version_id: output.version_id().map(str::to_owned),
        })
    }

    async fn delete_object(&self, bucket: &str, key: &str) -> Result<(), PortError> {
        self.delete_object_version(bucket, key, None).await
    }

    /// With a version id: `s3:DeleteObjectVersion`, which removes that version for good.
    async fn delete_object_version(
        &self,
        bucket: &str,
        key: &str,
        version_id: Option<&str>,
    ) -> Result<(), PortError> {
        match self
            .client
            .delete_object()
            .bucket(bucket)
            .key(key)
            .set_version_id(version_id.map(str::to_owned))
            .send()
            .await
        {
            Ok(_) => Ok(()),
            Err(error) => {
                let port_error = port_error_from_sdk("s3:DeleteObject", &error);
                // S3 itself answers 204 for a missing key or version; some compatible stores
                // say NoSuchKey / NoSuchVersion.
                if matches!(
                    port_error.code.as_deref(),
                    Some("NoSuchKey" | "NoSuchVersion")
                ) {
                    Ok(())
                } else {
                    Err(port_error)
                }
            }
        }
    }

    async fn copy_object(
        &self,
        source_bucket: &str,
        source_key: &str,
        target_bucket: &str,
        target_key: &str,
    ) -> Result<(), PortError> {
        self.copy_object_version(source_bucket, source_key, None, target_bucket, target_key)
            .await
    }

    async fn copy_object_version(
        &self,
        source_bucket: &str,
        source_key: &str,
        source_version_id: Option<&str>,
        target_bucket: &str,
        target_key: &str,
    ) -> Result<(), PortError> {
        self.client
            .copy_object()
            .copy_source(copy_source_version(
                source_bucket,
                source_key,
                source_version_id,
            ))
            .bucket(target_bucket)
            .key(target_key)
            .send()
            .await
            .map_err(|error| port_error_from_sdk("s3:CopyObject", &error))?;
        Ok(())
    }

    async fn put_object_tagging(
        &self,
        bucket: &str,
        key: &str,
        tags: &[(String, String)],
    ) -> Result<(), PortError> {
        const OP: &str = "s3:PutObjectTagging";
        let tag_set = tags
            .iter()
            .map(|(tag_key, value)| {
                Tag::builder()
                    .key(tag_key)
                    .value(value)
                    .build()
                    .map_err(|error| {
                        PortError::new(
                            PortErrorKind::InvalidInput,
                            format!("{OP}: bad tag {tag_key:?}: {error}"),
                        )
                    })
            })
            .collect::<Result<Vec<_>, _>>()?;
        let tagging = Tagging::builder()
            .set_tag_set(Some(tag_set))
            .build()
            .map_err(|error| {
                PortError::new(PortErrorKind::InvalidInput, format!("{OP}: {error}"))
            })?;
        self.client
            .put_object_tagging()
            .bucket(bucket)
            .key(key)
            .tagging(tagging)
            .send()
            .await
            .map_err(|error| port_error_from_sdk(OP, &error))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::{copy_source, copy_source_version};

    #[test]
    fn copy_source_encodes_the_key_but_not_slashes() {
        assert_eq!(
            copy_source("b", "uploads/a b+c.png"),
            "b/uploads/a%20b%2Bc.png"
        );
        assert_eq!(copy_source("b", "é"), "b/%C3%A9");
        assert_eq!(
            copy_source_version("b", "a b", Some("3/L4kqtJ+")),
            "b/a%20b?versionId=3%2FL4kqtJ%2B"
        );
        assert_eq!(copy_source_version("b", "k", None), "b/k");
    }
}
