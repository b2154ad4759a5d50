//! Accessors the analysis needs, all read from the event itself (never guessed).

use serde::Deserialize;
use std::borrow::Cow;

use crate::de::{opt_cow, opt_f64};
use crate::model::*;
use crate::parse::{from_str_at, ParseError};

/// The CloudTrail API names that put an object into a bucket.
const UPLOAD_API_NAMES: [&str; 3] = ["PutObject", "CompleteMultipartUpload", "CopyObject"];

impl<'a> Event<'a> {
    pub fn kind(&self) -> EventKind {
        match self {
            Event::CloudTrail(_) => EventKind::CloudTrail,
            Event::GuardDuty(_) => EventKind::GuardDuty,
            Event::S3Notification(_) => EventKind::S3Notification,
            Event::S3EventBridge(_) => EventKind::S3EventBridge,
        }
    }

    /// The EventBridge envelope, when the event came in one.
    pub fn envelope(&self) -> Option<&Envelope<'a>> {
        match self {
            Event::CloudTrail(e) => e.envelope.as_ref(),
            Event::GuardDuty(e) => e.envelope.as_ref(),
            Event::S3EventBridge(e) => Some(&e.envelope),
            Event::S3Notification(_) => None,
        }
    }

    /// The CloudTrail record, for CloudTrail events (bare or enveloped).
    pub fn cloudtrail(&self) -> Option<&CloudTrailRecord<'a>> {
        match self {
            Event::CloudTrail(e) => Some(&e.record),
            _ => None,
        }
    }

    /// CloudTrail eventID, GuardDuty finding Id, EventBridge envelope id; for S3 notifications
    /// (which carry no event id) the S3 request id.
    pub fn event_id(&self) -> Option<&str> {
        match self {
            Event::CloudTrail(e) => e
                .record
                .event_id
                .as_deref()
                .or_else(|| e.envelope.as_ref().and_then(|v| v.id.as_deref())),
            Event::GuardDuty(e) => e
                .finding
                .id
                .as_deref()
                .or_else(|| e.envelope.as_ref().and_then(|v| v.id.as_deref())),
            Event::S3Notification(n) => n.request_id.as_deref(),
            Event::S3EventBridge(e) => e.envelope.id.as_deref(),
        }
    }

    /// When it happened: CloudTrail eventTime, GuardDuty updatedAt (else createdAt), the
    /// notification's eventTime, the envelope time.
    pub fn event_time(&self) -> Option<&str> {
        match self {
            Event::CloudTrail(e) => e
                .record
                .event_time
                .as_deref()
                .or_else(|| e.envelope.as_ref().and_then(|v| v.time.as_deref())),
            Event::GuardDuty(e) => e
                .finding
                .updated_at
                .as_deref()
                .or(e.finding.created_at.as_deref())
                .or_else(|| e.envelope.as_ref().and_then(|v| v.time.as_deref())),
            Event::S3Notification(n) => n.event_time.as_deref(),
            Event::S3EventBridge(e) => e.envelope.time.as_deref(),
        }
    }

    /// CloudTrail eventName, GuardDuty finding type, notification eventName ("ObjectCreated:Put"),
    /// EventBridge detail-type ("Object Created"; the API is in `detail.reason`).
    pub fn event_name(&self) -> Option<&str> {
        match self {
            Event::CloudTrail(e) => e.record.event_name.as_deref(),
            Event::GuardDuty(e) => e.finding.finding_type.as_deref(),
            Event::S3Notification(n) => n.event_name.as_deref(),
            Event::S3EventBridge(e) => Some(&e.envelope.detail_type),
        }
    }

    /// The AWS account the event belongs to: CloudTrail recipientAccountId (else
    /// userIdentity.accountId, else envelope account), GuardDuty AccountId, envelope account.
    /// S3 notifications name no account (the bucket owner is a canonical principal id).
    pub fn account_id(&self) -> Option<&str> {
        match self {
            Event::CloudTrail(e) => e
                .record
                .recipient_account_id
                .as_deref()
                .or_else(|| {
                    e.record
                        .user_identity
                        .as_ref()
                        .and_then(|u| u.account_id.as_deref())
                })
                .or_else(|| e.envelope.as_ref().and_then(|v| v.account.as_deref())),
            Event::GuardDuty(e) => e
                .finding
                .account_id
                .as_deref()
                .or_else(|| e.envelope.as_ref().and_then(|v| v.account.as_deref())),
            Event::S3Notification(_) => None,
            Event::S3EventBridge(e) => e.envelope.account.as_deref(),
        }
    }

    /// The AWS region.
    pub fn region(&self) -> Option<&str> {
        match self {
            Event::CloudTrail(e) => e
                .record
                .aws_region
                .as_deref()
                .or_else(|| e.envelope.as_ref().and_then(|v| v.region.as_deref())),
            Event::GuardDuty(e) => e
                .finding
                .region
                .as_deref()
                .or_else(|| e.envelope.as_ref().and_then(|v| v.region.as_deref())),
            Event::S3Notification(n) => n.aws_region.as_deref(),
            Event::S3EventBridge(e) => e.envelope.region.as_deref(),
        }
    }

    /// Where the request came from, when the event says.
    pub fn source_ip_address(&self) -> Option<&str> {
        match self {
            Event::CloudTrail(e) => e.record.source_ip_address.as_deref(),
            Event::GuardDuty(_) => None,
            Event::S3Notification(n) => n.source_ip_address.as_deref(),
            Event::S3EventBridge(e) => e.detail.source_ip_address.as_deref(),
        }
    }

    /// Who acted, for people: CloudTrail userName, else the name in the identity ARN (the
    /// "Role/Session" of an assumed role, "root", a user's name), else the session issuer's
    /// userName, else principalId, else invokedBy (AWS services), else the identity type.
    /// GuardDuty: the finding's accessKeyDetails.userName. S3: the requester / principalId.
    pub fn identity_display(&self) -> Option<Cow<'_, str>> {
        match self {
            Event::CloudTrail(e) => {
                let u = e.record.user_identity.as_ref()?;
                let issuer = u
                    .session_context
                    .as_ref()
                    .and_then(|s| s.session_issuer.as_ref())
                    .and_then(|i| i.user_name.as_deref());
                u.user_name
                    .as_deref()
                    .filter(|s| !s.is_empty())
                    .or_else(|| u.arn.as_deref().and_then(name_from_arn))
                    .or(issuer)
                    .or(u.principal_id.as_deref())
                    .or(u.invoked_by.as_deref())
                    .or(u.identity_type.as_deref())
                    .filter(|s| !s.is_empty())
                    .map(Cow::Borrowed)
            }
            Event::GuardDuty(e) => {
                let raw = e.finding.resource?;
                let r: GdResource<'_> = serde_json::from_str(raw.get()).ok()?;
                r.access_key_details
                    .and_then(|a| a.user_name)
                    .filter(|s| !s.is_empty())
            }
            Event::S3Notification(n) => n.principal_id.as_deref().map(Cow::Borrowed),
            Event::S3EventBridge(e) => e.detail.requester.as_deref().map(Cow::Borrowed),
        }
    }

    /// True when the event records an object being written into a bucket: CloudTrail
    /// PutObject, CompleteMultipartUpload or CopyObject that succeeded (no errorCode), S3
    /// EventBridge "Object Created", notification "ObjectCreated:*".
    pub fn is_object_upload(&self) -> bool {
        match self {
            Event::CloudTrail(e) => {
                let r = &e.record;
                let from_s3 = r
                    .event_source
                    .as_deref()
                    .is_none_or(|s| s == "s3.amazonaws.com");
                from_s3
                    && r.error_code.is_none()
                    && r.event_name
                        .as_deref()
                        .is_some_and(|n| UPLOAD_API_NAMES.contains(&n))
            }
            Event::GuardDuty(_) => false,
            Event::S3Notification(n) => n.event_name.as_deref().is_some_and(|name| {
                name.strip_prefix("s3:")
                    .unwrap_or(name)
                    .starts_with("ObjectCreated:")
            }),
            Event::S3EventBridge(e) => e.envelope.detail_type == "Object Created",
        }
    }

    /// The S3 object the event names, if any. Parts that fail to parse count as absent; use
    /// [`Event::try_s3_object`] to see such errors.
    pub fn s3_object(&self) -> Option<S3ObjectRef<'a>> {
        self.try_s3_object().ok().flatten()
    }

    /// The S3 object the event names: CloudTrail requestParameters bucketName/key (else an
    /// `arn:aws:s3:::bucket/key` resource), the notification body, the EventBridge detail.
    /// The content type comes only from the request parameters; the size from the notification,
    /// the EventBridge detail or a PutObject's `additionalEventData.bytesTransferredIn`; the
    /// version from the notification, the EventBridge detail or the version a CloudTrail upload
    /// created (see [`S3ObjectRef::version_id`]).
    pub fn try_s3_object(&self) -> Result<Option<S3ObjectRef<'a>>, ParseError> {
        match self {
            Event::CloudTrail(e) => cloudtrail_s3_object(&e.record),
            Event::GuardDuty(_) => Ok(None),
            Event::S3Notification(n) => Ok(Some(S3ObjectRef {
                bucket: n.bucket_name.clone(),
                key: n.key.clone(),
                content_type: None,
                size: n.size,
                version_id: n.version_id.clone(),
            })),
            Event::S3EventBridge(e) => Ok(Some(S3ObjectRef {
                bucket: e.detail.bucket.name.clone(),
                key: e.detail.object.key.clone(),
                content_type: None,
                size: e.detail.object.size,
                version_id: e.detail.object.version_id.clone(),
            })),
        }
    }

    /// The S3 bucket the event names, also for bucket-level calls (PutBucketPolicy, ...).
    pub fn s3_bucket(&self) -> Option<Cow<'a, str>> {
        if let Some(obj) = self.s3_object() {
            return Some(obj.bucket);
        }
        self.s3_bucket_without_object()
    }

    /// [`Event::s3_object`], and when it is `None`, [`Event::s3_bucket`], without working out
    /// the object twice.
    pub fn s3_object_or_bucket(&self) -> (Option<S3ObjectRef<'a>>, Option<Cow<'a, str>>) {
        match self.s3_object() {
            Some(object) => (Some(object), None),
            None => (None, self.s3_bucket_without_object()),
        }
    }

    /// `s3_bucket` for an event whose `s3_object` is `None`.
    fn s3_bucket_without_object(&self) -> Option<Cow<'a, str>> {
        let r = self.cloudtrail()?;
        if r.event_source
            .as_deref()
            .is_some_and(|s| s != "s3.amazonaws.com")
        {
            return None;
        }
        let params = s3_params(r).ok().flatten();
        if let Some(bucket) = params.and_then(|p| p.bucket_name) {
            return Some(bucket);
        }
        r.resources.iter().find_map(|res| {
            let (bucket, _) = s3_arn_parts(res.arn.as_ref()?)?;
            Some(bucket)
        })
    }
}

type BucketAndKey<'a> = (Cow<'a, str>, Option<Cow<'a, str>>);

/// Split an S3 ARN held in a `Cow`, keeping borrowed parts borrowed.
fn s3_arn_parts<'a>(arn: &Cow<'a, str>) -> Option<BucketAndKey<'a>> {
    match arn {
        Cow::Borrowed(s) => {
            let (b, k) = split_s3_arn(s)?;
            Some((Cow::Borrowed(b), k.map(Cow::Borrowed)))
        }
        Cow::Owned(s) => {
            let (b, k) = split_s3_arn(s)?;
            Some((
                Cow::Owned(b.to_owned()),
                k.map(|k| Cow::Owned(k.to_owned())),
            ))
        }
    }
}

/// `arn:aws:s3:::bucket[/key]` → (bucket, key).
fn split_s3_arn(arn: &str) -> Option<(&str, Option<&str>)> {
    let rest = arn
        .strip_prefix("arn:")
        .and_then(|r| r.split_once(':'))
        .and_then(|(_partition, r)| r.strip_prefix("s3:::"))?;
    match rest.split_once('/') {
        Some((bucket, key)) if !bucket.is_empty() && !key.is_empty() => Some((bucket, Some(key))),
        Some((bucket, _)) if !bucket.is_empty() => Some((bucket, None)),
        None if !rest.is_empty() => Some((rest, None)),
        _ => None,
    }
}

/// The resource name of an IAM/STS ARN, shortened for display.
fn name_from_arn(arn: &str) -> Option<&str> {
    // What follows the fifth ':' (`arn.splitn(6, ':').nth(5)`), found byte-wise: this runs for
    // every event.
    let fifth = arn
        .bytes()
        .enumerate()
        .filter(|(_, b)| *b == b':')
        .nth(4)?
        .0;
    let resource = arn.get(fifth + 1..)?;
    if resource.is_empty() {
        return None;
    }
    if let Some(rest) = resource.strip_prefix("assumed-role/") {
        return Some(rest);
    }
    let last = match resource.bytes().rposition(|b| b == b'/') {
        Some(slash) => resource.get(slash + 1..)?,
        None => resource,
    };
    Some(last).filter(|s| !s.is_empty())
}

#[derive(Deserialize, Default)]
struct S3Params<'a> {
    #[serde(borrow, default, deserialize_with = "opt_cow", rename = "bucketName")]
    bucket_name: Option<Cow<'a, str>>,
    #[serde(borrow, default, deserialize_with = "opt_cow")]
    key: Option<Cow<'a, str>>,
    #[serde(borrow, default, deserialize_with = "opt_cow", rename = "Content-Type")]
    content_type_header: Option<Cow<'a, str>>,
    #[serde(borrow, default, deserialize_with = "opt_cow", rename = "content-type")]
    content_type_lower: Option<Cow<'a, str>>,
    #[serde(borrow, default, deserialize_with = "opt_cow", rename = "ContentType")]
    content_type_sdk: Option<Cow<'a, str>>,
    #[serde(
        borrow,
        default,
        deserialize_with = "opt_cow",
        rename = "x-amz-content-type"
    )]
    content_type_amz: Option<Cow<'a, str>>,
}

/// The part of an upload's `responseElements` that names the version it created.
#[derive(Deserialize, Default)]
struct UploadResponse<'a> {
    #[serde(
        borrow,
        default,
        deserialize_with = "opt_cow",
        rename = "x-amz-version-id"
    )]
    version_id: Option<Cow<'a, str>>,
}

#[derive(Deserialize, Default)]
struct AdditionalData {
    #[serde(default, deserialize_with = "opt_f64", rename = "bytesTransferredIn")]
    bytes_transferred_in: Option<f64>,
}

#[derive(Deserialize)]
struct GdResource<'a> {
    #[serde(
        borrow,
        default,
        rename = "accessKeyDetails",
        alias = "AccessKeyDetails"
    )]
    access_key_details: Option<GdAccessKey<'a>>,
}

#[derive(Deserialize)]
struct GdAccessKey<'a> {
    #[serde(
        borrow,
        default,
        deserialize_with = "opt_cow",
        rename = "userName",
        alias = "UserName"
    )]
    user_name: Option<Cow<'a, str>>,
}

fn s3_params<'a>(r: &CloudTrailRecord<'a>) -> Result<Option<S3Params<'a>>, ParseError> {
    match r.request_parameters {
        Some(raw) if raw.get().trim_start().starts_with('{') => {
            let text = raw.get();
            let fast = crate::parse::object_str_fields(
                raw,
                [
                    "bucketName",
                    "key",
                    "Content-Type",
                    "content-type",
                    "ContentType",
                    "x-amz-content-type",
                ],
            );
            match fast {
                Some([bucket, key, header, lower, sdk, amz]) => Ok(Some(S3Params {
                    bucket_name: bucket.map(Cow::Borrowed),
                    key: key.map(Cow::Borrowed),
                    content_type_header: header.map(Cow::Borrowed),
                    content_type_lower: lower.map(Cow::Borrowed),
                    content_type_sdk: sdk.map(Cow::Borrowed),
                    content_type_amz: amz.map(Cow::Borrowed),
                })),
                None => from_str_at::<S3Params<'a>>(text, "requestParameters").map(Some),
            }
        }
        _ => Ok(None),
    }
}

/// The version a CloudTrail upload created: `responseElements["x-amz-version-id"]` of
/// PutObject, CompleteMultipartUpload and CopyObject. For CopyObject that is the destination's
/// version, the object the record names; `x-amz-copy-source-version-id` is the source's.
fn created_version<'a>(r: &CloudTrailRecord<'a>) -> Result<Option<Cow<'a, str>>, ParseError> {
    let is_upload = r
        .event_name
        .as_deref()
        .is_some_and(|name| UPLOAD_API_NAMES.contains(&name));
    match r.response_elements {
        Some(raw) if is_upload && raw.get().trim_start().starts_with('{') => {
            match crate::parse::object_str_fields(raw, ["x-amz-version-id"]) {
                Some([version]) => Ok(version.map(Cow::Borrowed)),
                None => from_str_at::<UploadResponse<'a>>(raw.get(), "responseElements")
                    .map(|response| response.version_id),
            }
        }
        _ => Ok(None),
    }
}

fn cloudtrail_s3_object<'a>(
    r: &CloudTrailRecord<'a>,
) -> Result<Option<S3ObjectRef<'a>>, ParseError> {
    if r.event_source
        .as_deref()
        .is_some_and(|s| s != "s3.amazonaws.com")
    {
        return Ok(None);
    }
    let params = s3_params(r)?.unwrap_or_default();
    let size = if r.event_name.as_deref() == Some("PutObject") {
        match r.additional_event_data {
            Some(raw) if raw.get().trim_start().starts_with('{') => {
                from_str_at::<AdditionalData>(raw.get(), "additionalEventData")?
                    .bytes_transferred_in
                    .filter(|n| *n >= 0.0 && n.fract() == 0.0 && *n < u64::MAX as f64)
                    .map(|n| n as u64)
            }
            _ => None,
        }
    } else {
        None
    };
    let content_type = params
        .content_type_header
        .or(params.content_type_lower)
        .or(params.content_type_sdk)
        .or(params.content_type_amz);
    let version_id = created_version(r)?;
    if let (Some(bucket), Some(key)) = (params.bucket_name.clone(), params.key) {
        return Ok(Some(S3ObjectRef {
            bucket,
            key,
            content_type,
            size,
            version_id,
        }));
    }
    let from_arn = r
        .resources
        .iter()
        .find_map(|res| match s3_arn_parts(res.arn.as_ref()?)? {
            (bucket, Some(key)) => Some((bucket, key)),
            _ => None,
        });
    Ok(from_arn.map(|(bucket, key)| S3ObjectRef {
        bucket,
        key,
        content_type,
        size,
        version_id,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arn_names() {
        assert_eq!(
            name_from_arn("arn:aws:sts::1:assumed-role/Admin/alice"),
            Some("Admin/alice")
        );
        assert_eq!(name_from_arn("arn:aws:iam::1:root"), Some("root"));
        assert_eq!(name_from_arn("arn:aws:iam::1:user/path/bob"), Some("bob"));
        assert_eq!(name_from_arn("nonsense"), None);
        assert_eq!(name_from_arn("arn:aws:iam::1:"), None);
        assert_eq!(name_from_arn("arn:aws:iam::1:user/"), None);
        assert_eq!(name_from_arn("a:b:c:d:e:f:g/h"), Some("h"));
        assert_eq!(name_from_arn("arn:aws:iam::1:root/é"), Some("é"));
        // Same answers as the char-based split it replaces.
        let reference = |arn: &'static str| {
            let resource = arn.splitn(6, ':').nth(5)?;
            if resource.is_empty() {
                return None;
            }
            if let Some(rest) = resource.strip_prefix("assumed-role/") {
                return Some(rest);
            }
            Some(resource.rsplit('/').next().unwrap_or(resource)).filter(|s| !s.is_empty())
        };
        for arn in [
            "arn:aws:sts::123:assumed-role/R/s",
            "arn:aws:sts::123:federated-user/bob",
            "arn:aws:iam::123:user/a/b/c",
            "arn:aws:iam::123:root",
            "arn:aws:iam::123:role/x:y/z",
            ":::::",
            "::::::/",
            "a:b:c:d",
            "",
            "arn:aws:iam::1:assumed-role/",
        ] {
            assert_eq!(name_from_arn(arn), reference(arn), "{arn}");
        }
    }

    /// The quick read of an upload's version gives what serde gives, on every response of the
    /// shared data and on shapes only serde can judge.
    #[test]
    fn created_version_quick_read_matches_serde() {
        let serde_only = |text: &str| {
            crate::parse::from_str_at::<UploadResponse<'_>>(text, "responseElements")
                .map(|r| r.version_id.map(Cow::into_owned))
        };
        let quick = |text: &str| {
            let json = format!(
                r#"{{"eventSource":"s3.amazonaws.com","eventName":"PutObject","requestParameters":{{"bucketName":"b","key":"k"}},"responseElements":{text}}}"#
            );
            let Event::CloudTrail(ct) = crate::parse_event(&json).expect("record parses") else {
                panic!("not CloudTrail")
            };
            created_version(&ct.record).map(|v| v.map(Cow::into_owned))
        };
        let mut responses = vec![
            r#"{"x-amz-version-id":"v"}"#.to_string(),
            r#"{"x-amz-version-id":"v\u0031"}"#.to_string(),
            r#"{"x-amz-version-id":"a","x-amz-version-id":"b"}"#.to_string(),
            r#"{"x-amz-version-id":7}"#.to_string(),
            r#"{"x-amz-version-id":null,"o":{"x-amz-version-id":"no"}}"#.to_string(),
            r#"{"CopyObjectResult":{"ETag":"\"e\""},"x-amz-version-id":"d"}"#.to_string(),
        ];
        if let Some(panther) = crate::shared_data::require(
            "cloudtrail/panther/labelled_tests_aws_cloudtrail.jsonl",
            "Panther's labelled CloudTrail tests",
        ) {
            let text = std::fs::read_to_string(&panther).expect("readable");
            for line in text.lines() {
                let case: serde_json::Value = serde_json::from_str(line).expect("JSON line");
                if let Some(response) = case
                    .pointer("/log/responseElements")
                    .filter(|r| r.is_object())
                {
                    responses.push(response.to_string());
                }
            }
            assert!(responses.len() > 100, "{}", responses.len());
        }
        for text in &responses {
            assert_eq!(
                quick(text).map_err(|e| e.to_string()),
                serde_only(text).map_err(|e| e.to_string()),
                "{text}"
            );
        }
    }

    #[test]
    fn s3_arns() {
        assert_eq!(
            split_s3_arn("arn:aws:s3:::b/k/x.png"),
            Some(("b", Some("k/x.png")))
        );
        assert_eq!(split_s3_arn("arn:aws:s3:::b"), Some(("b", None)));
        assert_eq!(split_s3_arn("arn:aws:s3:::b/"), Some(("b", None)));
        assert_eq!(split_s3_arn("arn:aws:iam::1:role/x"), None);
        assert_eq!(split_s3_arn("arn:aws-cn:s3:::b/k"), Some(("b", Some("k"))));
    }
}
