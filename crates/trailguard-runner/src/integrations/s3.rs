//! `aws-sdk:s3:*` on the object ports, with S3's argument, result and error shapes.

use std::sync::Arc;

use async_trait::async_trait;
use serde_json::{json, Map, Value};
use trailguard_asl::{TaskContext, TaskError, TaskHandler};
use trailguard_core::ports::{ObjectReader, ObjectRef, ObjectWriter, PortError, PortErrorKind};

use super::metadata::sdk_error;

/// `aws-sdk:s3:*` (and the Map ItemReader's `s3:getObject`) on the object ports: getObject,
/// headObject, deleteObject and copyObject, each with `VersionId` (copyObject: `?versionId=` in
/// `CopySource`) as S3 takes it.
pub struct S3Binding {
    pub reader: Arc<dyn ObjectReader>,
    pub writer: Arc<dyn ObjectWriter>,
}

const ACTIONS: [&str; 4] = ["getObject", "headObject", "deleteObject", "copyObject"];

fn required<'a>(arguments: &'a Value, key: &str) -> Result<&'a str, TaskError> {
    arguments.get(key).and_then(Value::as_str).ok_or_else(|| {
        TaskError::new(
            "S3.S3Exception",
            format!("{key} is required (Service: S3, Status Code: 400)"),
        )
    })
}

fn optional<'a>(arguments: &'a Value, key: &str) -> Result<Option<&'a str>, TaskError> {
    match arguments.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(TaskError::new(
            "S3.S3Exception",
            format!("{key} must be a string (Service: S3, Status Code: 400)"),
        )),
    }
}

/// Decodes `%XX` escapes (and `+` as a space when `plus_is_space`, as in a query string).
fn percent_decode(text: &str, plus_is_space: bool) -> Result<String, TaskError> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' => {
                let hex = bytes
                    .get(i + 1..i + 3)
                    .and_then(|h| std::str::from_utf8(h).ok())
                    .and_then(|h| u8::from_str_radix(h, 16).ok())
                    .ok_or_else(|| {
                        TaskError::new(
                            "S3.S3Exception",
                            format!(
                                "invalid URL encoding in {text:?} (Service: S3, Status Code: 400)"
                            ),
                        )
                    })?;
                out.push(hex);
                i += 3;
            }
            b'+' if plus_is_space => {
                out.push(b' ');
                i += 1;
            }
            other => {
                out.push(other);
                i += 1;
            }
        }
    }
    String::from_utf8(out).map_err(|_| {
        TaskError::new(
            "S3.S3Exception",
            format!("{text:?} does not decode to UTF-8 (Service: S3, Status Code: 400)"),
        )
    })
}

/// `CopySource`: `[/]bucket/url-encoded-key[?versionId=ID]` → (bucket, key, version).
fn parse_copy_source(source: &str) -> Result<(String, String, Option<String>), TaskError> {
    let source = source.trim_start_matches('/');
    let (path, version) = match source.split_once("?versionId=") {
        Some((path, version)) => (path, Some(percent_decode(version, false)?)),
        None => (source, None),
    };
    let decoded = percent_decode(path, false)?;
    let (bucket, key) = decoded
        .split_once('/')
        .filter(|(bucket, key)| !bucket.is_empty() && !key.is_empty())
        .ok_or_else(|| {
            TaskError::new(
                "S3.S3Exception",
                "CopySource must be bucket/key[?versionId=ID] (Service: S3, Status Code: 400)",
            )
        })?;
    Ok((bucket.to_string(), key.to_string(), version))
}

/// The `Tagging` argument: URL query parameters `k1=v1&k2=v2`.
fn parse_tagging(text: &str) -> Result<Vec<(String, String)>, TaskError> {
    text.split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            Ok((percent_decode(key, true)?, percent_decode(value, true)?))
        })
        .collect()
}

fn s3_not_found(error: &PortError) -> TaskError {
    // HeadObject and GetObject name a missing key or version NoSuchKey in the SDK Step Functions uses.
    TaskError::new(
        "S3.NoSuchKeyException",
        format!(
            "{} (Service: S3, Status Code: 404, Request ID: local)",
            error.message
        ),
    )
}

fn s3_error(error: PortError) -> TaskError {
    if error.kind == PortErrorKind::NotFound && error.code.as_deref() != Some("NoSuchBucket") {
        s3_not_found(&error)
    } else {
        sdk_error("S3", &error)
    }
}

#[async_trait]
impl TaskHandler for S3Binding {
    async fn invoke(
        &self,
        resource: &str,
        arguments: Value,
        _ctx: &TaskContext,
    ) -> Result<Value, TaskError> {
        let action = resource.rsplit(':').next().unwrap_or("");
        let bucket = required(&arguments, "Bucket")?;
        match action {
            "getObject" => {
                let key = required(&arguments, "Key")?;
                let version = optional(&arguments, "VersionId")?;
                let object = self
                    .reader
                    .get(&ObjectRef::new(bucket, key).at_version(version))
                    .await
                    .map_err(s3_error)?;
                let mut out = Map::new();
                out.insert(
                    "Body".into(),
                    Value::String(String::from_utf8_lossy(&object.bytes).into_owned()),
                );
                out.insert("ContentLength".into(), json!(object.bytes.len()));
                if let Some(t) = object.content_type {
                    out.insert("ContentType".into(), Value::String(t));
                }
                if let Some(e) = object.etag {
                    out.insert("ETag".into(), Value::String(e));
                }
                if let Some(v) = object.version_id {
                    out.insert("VersionId".into(), Value::String(v));
                }
                Ok(Value::Object(out))
            }
            "headObject" => {
                let key = required(&arguments, "Key")?;
                let version = optional(&arguments, "VersionId")?;
                let head = self
                    .reader
                    .head(&ObjectRef::new(bucket, key).at_version(version))
                    .await
                    .map_err(s3_error)?;
                let mut out = Map::new();
                out.insert("ContentLength".into(), json!(head.content_length));
                if let Some(t) = head.content_type {
                    out.insert("ContentType".into(), Value::String(t));
                }
                if let Some(e) = head.etag {
                    out.insert("ETag".into(), Value::String(e));
                }
                if let Some(v) = head.version_id {
                    out.insert("VersionId".into(), Value::String(v));
                }
                Ok(Value::Object(out))
            }
            "deleteObject" => {
                let key = required(&arguments, "Key")?;
                let version = optional(&arguments, "VersionId")?;
                let deleted = self
                    .writer
                    .delete(&ObjectRef::new(bucket, key).at_version(version))
                    .await
                    .map_err(|e| sdk_error("S3", &e))?;
                let mut out = Map::new();
                if deleted.delete_marker {
                    out.insert("DeleteMarker".into(), Value::Bool(true));
                }
                if let Some(v) = deleted.version_id {
                    out.insert("VersionId".into(), Value::String(v));
                }
                Ok(Value::Object(out))
            }
            "copyObject" => {
                let key = required(&arguments, "Key")?;
                let (source_bucket, source_key, source_version) =
                    parse_copy_source(required(&arguments, "CopySource")?)?;
                let replace_tags = match optional(&arguments, "TaggingDirective")? {
                    None | Some("COPY") => false,
                    Some("REPLACE") => true,
                    Some(other) => {
                        return Err(TaskError::new(
                            "S3.S3Exception",
                            format!("TaggingDirective {other:?} must be COPY or REPLACE (Service: S3, Status Code: 400)"),
                        ))
                    }
                };
                let tags = match optional(&arguments, "Tagging")? {
                    Some(text) => parse_tagging(text)?,
                    None => Vec::new(),
                };
                // COPY keeps the source's tags on S3; the local stores keep none, so only
                // REPLACE carries tags here.
                let tags = if replace_tags { tags } else { Vec::new() };
                let source =
                    ObjectRef::new(source_bucket, source_key).at_version(source_version.as_deref());
                let copied = self
                    .writer
                    .copy(&source, bucket, key, &tags)
                    .await
                    .map_err(s3_error)?;
                let mut out = Map::new();
                out.insert("CopyObjectResult".into(), json!({}));
                if let Some(v) = copied.source_version_id.or(source_version) {
                    out.insert("CopySourceVersionId".into(), Value::String(v));
                }
                if let Some(v) = copied.version_id {
                    out.insert("VersionId".into(), Value::String(v));
                }
                Ok(Value::Object(out))
            }
            other => Err(TaskError::new(
                "States.Runtime",
                format!("the S3 action '{other}' has no local binding"),
            )),
        }
    }

    fn supports(&self, resource: &str, _function_name: Option<&str>) -> bool {
        resource
            .rsplit(':')
            .next()
            .is_some_and(|action| ACTIONS.contains(&action))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copy_source_and_tagging_decode_like_s3() {
        assert_eq!(
            parse_copy_source("/uploads/photos%2Fa%20b%2Bc.jpg?versionId=v%2B1").unwrap(),
            (
                "uploads".into(),
                "photos/a b+c.jpg".into(),
                Some("v+1".into())
            )
        );
        assert_eq!(
            parse_copy_source("uploads/k").unwrap(),
            ("uploads".into(), "k".into(), None)
        );
        assert!(parse_copy_source("uploads").is_err());
        assert!(parse_copy_source("uploads/%zz").is_err());
        assert_eq!(
            parse_tagging("a=1&reason=pii+found&e=EMAIL%2BPHONE").unwrap(),
            vec![
                ("a".into(), "1".into()),
                ("reason".into(), "pii found".into()),
                ("e".into(), "EMAIL+PHONE".into())
            ]
        );
    }
}
