//! The typed, borrowed event model. Strings borrow from the caller's buffer unless they hold JSON
//! escapes; the large free-form parts stay raw JSON for the caller to parse when needed.

use serde::Deserialize;
use serde_json::value::RawValue;
use std::borrow::Cow;

use crate::de::{opt_bool, opt_cow, opt_f64, opt_u64};

/// One security event, classified by shape.
// Not boxed: the CloudTrail variant is the bulk case and an extra allocation per record costs more
// than the unused bytes of the smaller variants.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone)]
pub enum Event<'a> {
    /// A CloudTrail record, bare or inside an EventBridge "... via CloudTrail" envelope.
    CloudTrail(CloudTrailEvent<'a>),
    /// A GuardDuty finding (GetFindings shape or EventBridge "GuardDuty Finding").
    GuardDuty(GuardDutyEvent<'a>),
    /// One element of an S3 event notification's `Records[]`.
    S3Notification(S3NotificationRecord<'a>),
    /// An S3 event delivered through EventBridge ("Object Created", "Object Deleted", ...).
    S3EventBridge(S3EventBridgeEvent<'a>),
}

/// Which shape an [`Event`] came in; `as_str` gives a stable label for output.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EventKind {
    CloudTrail,
    GuardDuty,
    S3Notification,
    S3EventBridge,
}

impl EventKind {
    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::CloudTrail => "cloudtrail",
            EventKind::GuardDuty => "guardduty",
            EventKind::S3Notification => "s3-notification",
            EventKind::S3EventBridge => "s3-eventbridge",
        }
    }
}

/// EventBridge envelope metadata.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Envelope<'a> {
    pub version: Option<Cow<'a, str>>,
    pub id: Option<Cow<'a, str>>,
    pub detail_type: Cow<'a, str>,
    pub source: Option<Cow<'a, str>>,
    pub account: Option<Cow<'a, str>>,
    pub region: Option<Cow<'a, str>>,
    pub time: Option<Cow<'a, str>>,
    pub resources: Vec<Cow<'a, str>>,
}

#[derive(Debug, Clone)]
pub struct CloudTrailEvent<'a> {
    pub envelope: Option<Envelope<'a>>,
    pub record: CloudTrailRecord<'a>,
}

#[derive(Debug, Clone)]
pub struct GuardDutyEvent<'a> {
    pub envelope: Option<Envelope<'a>>,
    pub finding: GuardDutyFinding<'a>,
}

#[derive(Debug, Clone)]
pub struct S3EventBridgeEvent<'a> {
    pub envelope: Envelope<'a>,
    pub detail: S3EventBridgeDetail<'a>,
}

/// A CloudTrail record: only the fields analysis needs are typed; the rest is ignored.
#[derive(Debug, Clone, Default)]
pub struct CloudTrailRecord<'a> {
    pub event_version: Option<Cow<'a, str>>,
    pub event_time: Option<Cow<'a, str>>,
    pub event_source: Option<Cow<'a, str>>,
    pub event_name: Option<Cow<'a, str>>,
    pub aws_region: Option<Cow<'a, str>>,
    pub source_ip_address: Option<Cow<'a, str>>,
    pub user_agent: Option<Cow<'a, str>>,
    pub error_code: Option<Cow<'a, str>>,
    pub error_message: Option<Cow<'a, str>>,
    pub request_id: Option<Cow<'a, str>>,
    pub event_id: Option<Cow<'a, str>>,
    pub event_type: Option<Cow<'a, str>>,
    pub read_only: Option<bool>,
    pub recipient_account_id: Option<Cow<'a, str>>,
    pub management_event: Option<bool>,
    pub event_category: Option<Cow<'a, str>>,
    pub shared_event_id: Option<Cow<'a, str>>,
    pub vpc_endpoint_id: Option<Cow<'a, str>>,
    pub user_identity: Option<UserIdentity<'a>>,
    pub resources: Vec<Resource<'a>>,
    pub request_parameters: Option<&'a RawValue>,
    pub response_elements: Option<&'a RawValue>,
    pub additional_event_data: Option<&'a RawValue>,
    pub service_event_details: Option<&'a RawValue>,
    pub tls_details: Option<TlsDetails<'a>>,
}

#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
pub struct UserIdentity<'a> {
    #[serde(borrow, default, deserialize_with = "opt_cow", rename = "type")]
    pub identity_type: Option<Cow<'a, str>>,
    #[serde(
        borrow,
        default,
        deserialize_with = "opt_cow",
        rename = "principalId",
        alias = "principalid"
    )]
    pub principal_id: Option<Cow<'a, str>>,
    #[serde(borrow, default, deserialize_with = "opt_cow")]
    pub arn: Option<Cow<'a, str>>,
    #[serde(
        borrow,
        default,
        deserialize_with = "opt_cow",
        rename = "accountId",
        alias = "accountid"
    )]
    pub account_id: Option<Cow<'a, str>>,
    #[serde(
        borrow,
        default,
        deserialize_with = "opt_cow",
        rename = "accessKeyId",
        alias = "accesskeyid"
    )]
    pub access_key_id: Option<Cow<'a, str>>,
    #[serde(
        borrow,
        default,
        deserialize_with = "opt_cow",
        rename = "userName",
        alias = "username"
    )]
    pub user_name: Option<Cow<'a, str>>,
    #[serde(
        borrow,
        default,
        deserialize_with = "opt_cow",
        rename = "invokedBy",
        alias = "invokedby"
    )]
    pub invoked_by: Option<Cow<'a, str>>,
    #[serde(borrow, default, rename = "sessionContext", alias = "sessioncontext")]
    pub session_context: Option<SessionContext<'a>>,
}

#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
pub struct SessionContext<'a> {
    #[serde(borrow, default)]
    pub attributes: Option<SessionAttributes<'a>>,
    #[serde(borrow, default, rename = "sessionIssuer", alias = "sessionissuer")]
    pub session_issuer: Option<SessionIssuer<'a>>,
}

#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
pub struct SessionAttributes<'a> {
    /// CloudTrail writes this as the string "true"/"false"; booleans are accepted too.
    #[serde(
        default,
        deserialize_with = "opt_bool",
        rename = "mfaAuthenticated",
        alias = "mfaauthenticated"
    )]
    pub mfa_authenticated: Option<bool>,
    #[serde(
        borrow,
        default,
        deserialize_with = "opt_cow",
        rename = "creationDate",
        alias = "creationdate"
    )]
    pub creation_date: Option<Cow<'a, str>>,
}

#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
pub struct SessionIssuer<'a> {
    #[serde(borrow, default, deserialize_with = "opt_cow", rename = "type")]
    pub issuer_type: Option<Cow<'a, str>>,
    #[serde(
        borrow,
        default,
        deserialize_with = "opt_cow",
        rename = "principalId",
        alias = "principalid"
    )]
    pub principal_id: Option<Cow<'a, str>>,
    #[serde(borrow, default, deserialize_with = "opt_cow")]
    pub arn: Option<Cow<'a, str>>,
    #[serde(
        borrow,
        default,
        deserialize_with = "opt_cow",
        rename = "accountId",
        alias = "accountid"
    )]
    pub account_id: Option<Cow<'a, str>>,
    #[serde(
        borrow,
        default,
        deserialize_with = "opt_cow",
        rename = "userName",
        alias = "username"
    )]
    pub user_name: Option<Cow<'a, str>>,
}

/// An element of CloudTrail `resources[]`.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
pub struct Resource<'a> {
    #[serde(
        borrow,
        default,
        deserialize_with = "opt_cow",
        rename = "ARN",
        alias = "arn"
    )]
    pub arn: Option<Cow<'a, str>>,
    #[serde(
        borrow,
        default,
        deserialize_with = "opt_cow",
        rename = "accountId",
        alias = "accountid"
    )]
    pub account_id: Option<Cow<'a, str>>,
    #[serde(borrow, default, deserialize_with = "opt_cow", rename = "type")]
    pub resource_type: Option<Cow<'a, str>>,
}

#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
pub struct TlsDetails<'a> {
    #[serde(borrow, default, deserialize_with = "opt_cow", rename = "tlsVersion")]
    pub tls_version: Option<Cow<'a, str>>,
    #[serde(borrow, default, deserialize_with = "opt_cow", rename = "cipherSuite")]
    pub cipher_suite: Option<Cow<'a, str>>,
    #[serde(
        borrow,
        default,
        deserialize_with = "opt_cow",
        rename = "clientProvidedHostHeader"
    )]
    pub client_provided_host_header: Option<Cow<'a, str>>,
}

/// A GuardDuty finding. Accepts the GetFindings (PascalCase) and EventBridge/export (camelCase) keys.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct GuardDutyFinding<'a> {
    #[serde(
        borrow,
        default,
        deserialize_with = "opt_cow",
        rename = "Id",
        alias = "id"
    )]
    pub id: Option<Cow<'a, str>>,
    #[serde(
        borrow,
        default,
        deserialize_with = "opt_cow",
        rename = "Arn",
        alias = "arn"
    )]
    pub arn: Option<Cow<'a, str>>,
    #[serde(
        borrow,
        default,
        deserialize_with = "opt_cow",
        rename = "Type",
        alias = "type"
    )]
    pub finding_type: Option<Cow<'a, str>>,
    /// AWS scale 0.0–10.0 (below 4 low, 4–6.9 medium, 7+ high).
    #[serde(
        default,
        deserialize_with = "opt_f64",
        rename = "Severity",
        alias = "severity"
    )]
    pub severity: Option<f64>,
    #[serde(
        borrow,
        default,
        deserialize_with = "opt_cow",
        rename = "Title",
        alias = "title"
    )]
    pub title: Option<Cow<'a, str>>,
    #[serde(
        borrow,
        default,
        deserialize_with = "opt_cow",
        rename = "Description",
        alias = "description"
    )]
    pub description: Option<Cow<'a, str>>,
    #[serde(
        borrow,
        default,
        deserialize_with = "opt_cow",
        rename = "AccountId",
        alias = "accountId"
    )]
    pub account_id: Option<Cow<'a, str>>,
    #[serde(
        borrow,
        default,
        deserialize_with = "opt_cow",
        rename = "Region",
        alias = "region"
    )]
    pub region: Option<Cow<'a, str>>,
    #[serde(
        borrow,
        default,
        deserialize_with = "opt_cow",
        rename = "Partition",
        alias = "partition"
    )]
    pub partition: Option<Cow<'a, str>>,
    #[serde(
        borrow,
        default,
        deserialize_with = "opt_cow",
        rename = "SchemaVersion",
        alias = "schemaVersion"
    )]
    pub schema_version: Option<Cow<'a, str>>,
    #[serde(
        borrow,
        default,
        deserialize_with = "opt_cow",
        rename = "CreatedAt",
        alias = "createdAt"
    )]
    pub created_at: Option<Cow<'a, str>>,
    #[serde(
        borrow,
        default,
        deserialize_with = "opt_cow",
        rename = "UpdatedAt",
        alias = "updatedAt"
    )]
    pub updated_at: Option<Cow<'a, str>>,
    #[serde(borrow, default, rename = "Resource", alias = "resource")]
    pub resource: Option<&'a RawValue>,
    #[serde(borrow, default, rename = "Service", alias = "service")]
    pub service: Option<&'a RawValue>,
}

/// One S3 event notification record (`Records[]` element with an `s3` entity).
#[derive(Debug, Clone, Default)]
pub struct S3NotificationRecord<'a> {
    pub event_version: Option<Cow<'a, str>>,
    pub event_source: Option<Cow<'a, str>>,
    pub aws_region: Option<Cow<'a, str>>,
    pub event_time: Option<Cow<'a, str>>,
    /// e.g. "ObjectCreated:Put".
    pub event_name: Option<Cow<'a, str>>,
    /// `userIdentity.principalId`.
    pub principal_id: Option<Cow<'a, str>>,
    /// `requestParameters.sourceIPAddress`.
    pub source_ip_address: Option<Cow<'a, str>>,
    /// `responseElements["x-amz-request-id"]`.
    pub request_id: Option<Cow<'a, str>>,
    pub configuration_id: Option<Cow<'a, str>>,
    pub bucket_name: Cow<'a, str>,
    pub bucket_arn: Option<Cow<'a, str>>,
    pub bucket_owner: Option<Cow<'a, str>>,
    /// The object key, URL-decoded ('+' is a space).
    pub key: Cow<'a, str>,
    /// The key exactly as the notification carried it (URL-encoded).
    pub raw_key: Cow<'a, str>,
    pub size: Option<u64>,
    pub e_tag: Option<Cow<'a, str>>,
    pub version_id: Option<Cow<'a, str>>,
    pub sequencer: Option<Cow<'a, str>>,
}

/// The `detail` of an S3 EventBridge event. Keys are not URL-encoded here.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct S3EventBridgeDetail<'a> {
    #[serde(borrow, default, deserialize_with = "opt_cow")]
    pub version: Option<Cow<'a, str>>,
    #[serde(borrow)]
    pub bucket: S3BucketName<'a>,
    #[serde(borrow)]
    pub object: S3EventBridgeObject<'a>,
    #[serde(borrow, default, deserialize_with = "opt_cow", rename = "request-id")]
    pub request_id: Option<Cow<'a, str>>,
    #[serde(borrow, default, deserialize_with = "opt_cow")]
    pub requester: Option<Cow<'a, str>>,
    #[serde(
        borrow,
        default,
        deserialize_with = "opt_cow",
        rename = "source-ip-address"
    )]
    pub source_ip_address: Option<Cow<'a, str>>,
    /// The API behind the event, e.g. "PutObject", "CompleteMultipartUpload", "DeleteObject".
    #[serde(borrow, default, deserialize_with = "opt_cow")]
    pub reason: Option<Cow<'a, str>>,
    #[serde(
        borrow,
        default,
        deserialize_with = "opt_cow",
        rename = "deletion-type"
    )]
    pub deletion_type: Option<Cow<'a, str>>,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct S3BucketName<'a> {
    #[serde(borrow, deserialize_with = "crate::de::cow")]
    pub name: Cow<'a, str>,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct S3EventBridgeObject<'a> {
    #[serde(borrow, deserialize_with = "crate::de::cow")]
    pub key: Cow<'a, str>,
    #[serde(default, deserialize_with = "opt_u64")]
    pub size: Option<u64>,
    #[serde(borrow, default, deserialize_with = "opt_cow")]
    pub etag: Option<Cow<'a, str>>,
    #[serde(borrow, default, deserialize_with = "opt_cow", rename = "version-id")]
    pub version_id: Option<Cow<'a, str>>,
    #[serde(borrow, default, deserialize_with = "opt_cow")]
    pub sequencer: Option<Cow<'a, str>>,
}

/// An S3 object named by an event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct S3ObjectRef<'a> {
    pub bucket: Cow<'a, str>,
    pub key: Cow<'a, str>,
    /// Only when the event itself carries a content type.
    pub content_type: Option<Cow<'a, str>>,
    pub size: Option<u64>,
    /// The object version the event names (S3 `VersionId`): the notification's
    /// `s3.object.versionId`, the EventBridge detail's `object.version-id`, or for a CloudTrail
    /// upload (PutObject, CompleteMultipartUpload, CopyObject) the version it created,
    /// `responseElements["x-amz-version-id"]`. `None` for unversioned buckets.
    pub version_id: Option<Cow<'a, str>>,
}
