//! The facts a record is built from, read off a parsed event and nothing else: who acted, what,
//! on which object or resource, from where, with what result.

use serde::Deserialize;
use serde_json::value::RawValue;
use std::borrow::Cow;
use trailguard_core::EventSource;
use trailguard_events::{Event, EventKind};

/// What the record is built from: plain facts read off one event. Every field is optional
/// because real events omit them.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct EventFacts {
    pub source: Option<EventSource>,
    /// API call or event name (`PutObject`, `ObjectCreated:Put`, a GuardDuty finding type).
    pub action: Option<String>,
    /// Service (`s3.amazonaws.com`, `guardduty`).
    pub service: Option<String>,
    pub account_id: Option<String>,
    /// Display name of who acted (user name, role session, principal id, AWS service).
    pub identity: Option<String>,
    /// Kind of identity (`IAMUser`, `AssumedRole`, `Root`, `AWSService`).
    pub identity_type: Option<String>,
    pub source_ip: Option<String>,
    pub user_agent: Option<String>,
    pub region: Option<String>,
    pub error_code: Option<String>,
    pub error_message: Option<String>,
    pub event_id: Option<String>,
    pub event_time: Option<String>,
    /// The main resource acted on, when the event names one (an ARN or a name).
    pub resource: Option<String>,
    pub s3_bucket: Option<String>,
    pub s3_key: Option<String>,
    /// The object version the event names (S3 `VersionId`).
    pub s3_version_id: Option<String>,
    pub declared_content_type: Option<String>,
    /// True for object uploads: PutObject, CompleteMultipartUpload, CopyObject, "Object Created".
    pub is_object_upload: bool,
    /// GuardDuty finding title, used instead of an API-call sentence.
    pub finding_title: Option<String>,
    pub finding_severity: Option<f64>,
}

/// Request parameters that commonly name the resource acted on, most specific first. Only these
/// are deserialized; everything else in `requestParameters` is skipped.
#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct TargetParams<'a> {
    #[serde(borrow, default)]
    user_name: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    role_name: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    group_name: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    policy_arn: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    trail_name: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    secret_id: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    key_id: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    instance_id: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    snapshot_id: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    image_id: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    group_id: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    function_name: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    detector_id: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    log_group_name: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    name: Option<Cow<'a, str>>,
}

impl<'a> TargetParams<'a> {
    fn first(self) -> Option<Cow<'a, str>> {
        [
            self.user_name,
            self.role_name,
            self.group_name,
            self.policy_arn,
            self.trail_name,
            self.secret_id,
            self.key_id,
            self.instance_id,
            self.snapshot_id,
            self.image_id,
            self.group_id,
            self.function_name,
            self.detector_id,
            self.log_group_name,
            self.name,
        ]
        .into_iter()
        .flatten()
        .find(|value| !value.is_empty())
    }
}

/// The keys of [`TargetParams`], in its field order.
const TARGET_KEYS: [&str; 15] = [
    "userName",
    "roleName",
    "groupName",
    "policyArn",
    "trailName",
    "secretId",
    "keyId",
    "instanceId",
    "snapshotId",
    "imageId",
    "groupId",
    "functionName",
    "detectorId",
    "logGroupName",
    "name",
];

/// The first non-empty target parameter; a quick read of the common case, serde for the rest.
fn target_resource(request_parameters: &RawValue) -> Option<String> {
    match trailguard_events::object_str_fields(request_parameters, TARGET_KEYS) {
        Some(values) => values
            .into_iter()
            .flatten()
            .find(|value| !value.is_empty())
            .map(str::to_string),
        None => serde_json::from_str::<TargetParams<'_>>(request_parameters.get())
            .ok()
            .and_then(TargetParams::first)
            .map(Cow::into_owned),
    }
}

fn owned(value: Option<&str>) -> Option<String> {
    value.filter(|v| !v.is_empty()).map(str::to_string)
}

fn event_source(kind: EventKind) -> EventSource {
    match kind {
        EventKind::CloudTrail => EventSource::Cloudtrail,
        EventKind::GuardDuty => EventSource::Guardduty,
        EventKind::S3Notification => EventSource::S3Notification,
        EventKind::S3EventBridge => EventSource::S3Eventbridge,
    }
}

/// The facts of one event, all read from the event itself.
pub fn facts_from_event(event: &Event<'_>) -> EventFacts {
    let (object, bucket) = event.s3_object_or_bucket();
    let mut facts = EventFacts {
        source: Some(event_source(event.kind())),
        action: owned(event.event_name()),
        account_id: owned(event.account_id()),
        identity: event.identity_display().map(Cow::into_owned),
        source_ip: owned(event.source_ip_address()),
        region: owned(event.region()),
        event_id: owned(event.event_id()),
        event_time: owned(event.event_time()),
        is_object_upload: event.is_object_upload(),
        ..EventFacts::default()
    };
    match &object {
        Some(object) => {
            facts.s3_bucket = Some(object.bucket.to_string());
            facts.s3_key = Some(object.key.to_string());
            facts.s3_version_id = owned(object.version_id.as_deref());
            facts.declared_content_type = object.content_type.as_deref().map(str::to_string);
        }
        None => facts.s3_bucket = bucket.map(Cow::into_owned),
    }

    match event {
        Event::CloudTrail(ct) => {
            let record = &ct.record;
            facts.service = owned(record.event_source.as_deref());
            facts.user_agent = owned(record.user_agent.as_deref());
            facts.error_code = owned(record.error_code.as_deref());
            facts.error_message = owned(record.error_message.as_deref());
            facts.identity_type = record
                .user_identity
                .as_ref()
                .and_then(|identity| owned(identity.identity_type.as_deref()));
            if facts.s3_bucket.is_none() {
                facts.resource =
                    record
                        .request_parameters
                        .and_then(target_resource)
                        .or_else(|| {
                            record
                                .resources
                                .iter()
                                .find_map(|resource| owned(resource.arn.as_deref()))
                        });
            }
        }
        Event::GuardDuty(gd) => {
            facts.service = Some("guardduty".to_string());
            facts.finding_title = owned(gd.finding.title.as_deref());
            facts.finding_severity = gd.finding.severity;
        }
        Event::S3Notification(notification) => {
            facts.service = owned(notification.event_source.as_deref());
        }
        Event::S3EventBridge(s3) => {
            facts.service = owned(s3.envelope.source.as_deref());
            // The API behind "Object Created" is more telling than the detail-type.
            if let Some(reason) = owned(s3.detail.reason.as_deref()) {
                facts.action = Some(reason);
            }
        }
    }
    facts
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The quick read gives what serde gives, on every request of the shared data and on
    /// shapes only serde can judge.
    #[test]
    fn target_resource_matches_serde() {
        let serde_only = |text: &str| {
            serde_json::from_str::<TargetParams<'_>>(text)
                .ok()
                .and_then(TargetParams::first)
                .map(Cow::into_owned)
        };
        let Some(path) = crate::shared_data::require(
            "cloudtrail/panther/labelled_tests_aws_cloudtrail.jsonl",
            "Panther's labelled CloudTrail tests",
        ) else {
            return;
        };
        let text =
            std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let mut checked = 0;
        for line in text.lines() {
            let case: serde_json::Value = serde_json::from_str(line).unwrap();
            if let Some(params) = case.pointer("/log/requestParameters") {
                let params = params.to_string();
                let raw: &RawValue = serde_json::from_str(&params).unwrap();
                assert_eq!(target_resource(raw), serde_only(&params), "{params}");
                checked += 1;
            }
        }
        assert!(checked > 300, "{checked}");
        for text in [
            r#"["positional"]"#,
            r#"{"userName":"","roleName":"r"}"#,
            r#"{"userName":5,"roleName":"r"}"#,
            r#"{"userName":"a\"b"}"#,
            r#"{"name":"n","name":"m"}"#,
            r#"{"keyId":null,"name":"n"}"#,
            "null",
        ] {
            let raw: &RawValue = serde_json::from_str(text).unwrap();
            assert_eq!(target_resource(raw), serde_only(text), "{text}");
        }
    }
}
