//! The object ports on Amazon S3.

use async_trait::async_trait;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::TaggingDirective;
use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use trailguard_core::ports::{
    CopyOutcome, DeleteOutcome, ObjectHead, ObjectReader, ObjectRef, ObjectWriter, PortError,
    PortErrorKind, PutOutcome, StoredObject,
};

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

/// Bytes S3 wants percent-encoded in a `CopySource` key (everything but unreserved characters
/// and `/`) and in a `Tagging` query value (everything but unreserved characters).
const KEY_ENCODE: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~')
    .remove(b'/');
const VALUE_ENCODE: &AsciiSet = &KEY_ENCODE.add(b'/');

/// `CopySource` is `bucket/key[?versionId=ID]` with the key and version URL-encoded ('/' kept
/// in the key).
fn copy_source(source: &ObjectRef) -> String {
    let mut encoded = format!(
        "{}/{}",
        source.bucket,
        utf8_percent_encode(&source.key, KEY_ENCODE)
    );
    if let Some(version) = &source.version_id {
        encoded.push_str("?versionId=");
        encoded.extend(utf8_percent_encode(version, VALUE_ENCODE));
    }
    encoded
}

/// `Tagging` is a URL query: `k1=v1&k2=v2`.
fn tagging_query(tags: &[(String, String)]) -> String {
    tags.iter()
        .map(|(key, value)| {
            format!(
                "{}={}",
                utf8_percent_encode(key, VALUE_ENCODE),
                utf8_percent_encode(value, VALUE_ENCODE)
            )
        })
        .collect::<Vec<_>>()
        .join("&")
}

#[async_trait]
impl ObjectReader for S3Store {
    async fn get(&self, object: &ObjectRef) -> Result<StoredObject, PortError> {
        const OP: &str = "s3:GetObject";
        let (bucket, key) = (&object.bucket, &object.key);
        let output = self
            .client
            .get_object()
            .bucket(bucket)
            .key(key)
            .set_version_id(object.version_id.clone())
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

    async fn head(&self, object: &ObjectRef) -> Result<ObjectHead, PortError> {
        let output = self
            .client
            .head_object()
            .bucket(&object.bucket)
            .key(&object.key)
            .set_version_id(object.version_id.clone())
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
}

#[async_trait]
impl ObjectWriter for S3Store {
    async fn put(
        &self,
        bucket: &str,
        key: &str,
        bytes: Vec<u8>,
        content_type: Option<&str>,
    ) -> Result<PutOutcome, PortError> {
        let output = self
            .client
            .put_object()
            .bucket(bucket)
            .key(key)
            .body(ByteStream::from(bytes))
            .set_content_type(content_type.map(str::to_owned))
            .send()
            .await
            .map_err(|error| port_error_from_sdk("s3:PutObject", &error))?;
        Ok(PutOutcome {
            version_id: output.version_id().map(str::to_owned),
        })
    }

    async fn copy(
        &self,
        source: &ObjectRef,
        target_bucket: &str,
        target_key: &str,
        tags: &[(String, String)],
    ) -> Result<CopyOutcome, PortError> {
        let output = self
            .client
            .copy_object()
            .copy_source(copy_source(source))
            .bucket(target_bucket)
            .key(target_key)
            .tagging_directive(TaggingDirective::Replace)
            .tagging(tagging_query(tags))
            .send()
            .await
            .map_err(|error| port_error_from_sdk("s3:CopyObject", &error))?;
        Ok(CopyOutcome {
            version_id: output.version_id().map(str::to_owned),
            source_version_id: output.copy_source_version_id().map(str::to_owned),
        })
    }

    /// With a version id this is `s3:DeleteObjectVersion`, which removes that version for good;
    /// without one, a versioned bucket only adds a delete marker.
    async fn delete(&self, object: &ObjectRef) -> Result<DeleteOutcome, PortError> {
        match self
            .client
            .delete_object()
            .bucket(&object.bucket)
            .key(&object.key)
            .set_version_id(object.version_id.clone())
            .send()
            .await
        {
            Ok(output) => Ok(DeleteOutcome {
                version_id: output
                    .version_id()
                    .map(str::to_owned)
                    .or_else(|| object.version_id.clone()),
                delete_marker: object.version_id.is_none() && output.delete_marker() == Some(true),
            }),
            Err(error) => {
                let port_error = port_error_from_sdk("s3:DeleteObject", &error);
                // S3 itself answers 204 for a missing key or version; some compatible stores
                // say NoSuchKey / NoSuchVersion.
                if matches!(
                    port_error.code.as_deref(),
                    Some("NoSuchKey" | "NoSuchVersion")
                ) {
                    Ok(DeleteOutcome {
                        version_id: object.version_id.clone(),
                        delete_marker: false,
                    })
                } else {
                    Err(port_error)
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{copy_source, tagging_query};
    use trailguard_core::ports::ObjectRef;

    #[test]
    fn copy_source_encodes_the_key_but_not_slashes() {
        assert_eq!(
            copy_source(&ObjectRef::new("b", "uploads/a b+c.png")),
            "b/uploads/a%20b%2Bc.png"
        );
        assert_eq!(copy_source(&ObjectRef::new("b", "é")), "b/%C3%A9");
        assert_eq!(
            copy_source(&ObjectRef::new("b", "a b").at_version(Some("3/L4kqtJ+"))),
            "b/a%20b?versionId=3%2FL4kqtJ%2B"
        );
        assert_eq!(copy_source(&ObjectRef::new("b", "k")), "b/k");
    }

    #[test]
    fn tagging_is_a_url_query() {
        let tags = [
            ("trailguard-action".to_string(), "quarantine".to_string()),
            ("why".to_string(), "pii found/face & card".to_string()),
        ];
        assert_eq!(
            tagging_query(&tags),
            "trailguard-action=quarantine&why=pii%20found%2Fface%20%26%20card"
        );
        assert_eq!(tagging_query(&[]), "");
    }
}
