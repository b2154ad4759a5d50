//! The probe: one deserialization target holding every CloudTrail field typed, plus raw slots
//! for the keys that identify the other shapes. Both parse passes fill it (the hand-written
//! fast pass and serde's), and classification reads it.

use serde::Deserialize;
use serde_json::value::RawValue;
use std::borrow::Cow;

use crate::de::{opt_bool, opt_cow, opt_u64};
use crate::model::{TlsDetails, UserIdentity};

#[derive(Deserialize)]
pub(super) struct Probe<'a> {
    // CloudTrail. Lower-case aliases: some pipelines (and Panther's test logs) lower-case keys.
    #[serde(
        borrow,
        default,
        deserialize_with = "opt_cow",
        rename = "eventVersion",
        alias = "eventversion"
    )]
    pub(super) event_version: Option<Cow<'a, str>>,
    #[serde(
        borrow,
        default,
        deserialize_with = "opt_cow",
        rename = "eventTime",
        alias = "eventtime"
    )]
    pub(super) event_time: Option<Cow<'a, str>>,
    #[serde(
        borrow,
        default,
        deserialize_with = "opt_cow",
        rename = "eventSource",
        alias = "eventsource"
    )]
    pub(super) event_source: Option<Cow<'a, str>>,
    #[serde(
        borrow,
        default,
        deserialize_with = "opt_cow",
        rename = "eventName",
        alias = "eventname"
    )]
    pub(super) event_name: Option<Cow<'a, str>>,
    #[serde(
        borrow,
        default,
        deserialize_with = "opt_cow",
        rename = "awsRegion",
        alias = "awsregion"
    )]
    pub(super) aws_region: Option<Cow<'a, str>>,
    #[serde(
        borrow,
        default,
        deserialize_with = "opt_cow",
        rename = "sourceIPAddress",
        alias = "sourceipaddress"
    )]
    pub(super) source_ip_address: Option<Cow<'a, str>>,
    #[serde(
        borrow,
        default,
        deserialize_with = "opt_cow",
        rename = "userAgent",
        alias = "useragent"
    )]
    pub(super) user_agent: Option<Cow<'a, str>>,
    #[serde(
        borrow,
        default,
        deserialize_with = "opt_cow",
        rename = "errorCode",
        alias = "errorcode"
    )]
    pub(super) error_code: Option<Cow<'a, str>>,
    #[serde(
        borrow,
        default,
        deserialize_with = "opt_cow",
        rename = "errorMessage",
        alias = "errormessage"
    )]
    pub(super) error_message: Option<Cow<'a, str>>,
    #[serde(
        borrow,
        default,
        deserialize_with = "opt_cow",
        rename = "requestID",
        alias = "requestid"
    )]
    pub(super) request_id: Option<Cow<'a, str>>,
    #[serde(
        borrow,
        default,
        deserialize_with = "opt_cow",
        rename = "eventID",
        alias = "eventid"
    )]
    pub(super) event_id: Option<Cow<'a, str>>,
    #[serde(
        borrow,
        default,
        deserialize_with = "opt_cow",
        rename = "eventType",
        alias = "eventtype"
    )]
    pub(super) event_type: Option<Cow<'a, str>>,
    #[serde(
        default,
        deserialize_with = "opt_bool",
        rename = "readOnly",
        alias = "readonly"
    )]
    pub(super) read_only: Option<bool>,
    #[serde(
        borrow,
        default,
        deserialize_with = "opt_cow",
        rename = "recipientAccountId",
        alias = "recipientaccountid"
    )]
    pub(super) recipient_account_id: Option<Cow<'a, str>>,
    #[serde(
        default,
        deserialize_with = "opt_bool",
        rename = "managementEvent",
        alias = "managementevent"
    )]
    pub(super) management_event: Option<bool>,
    #[serde(
        borrow,
        default,
        deserialize_with = "opt_cow",
        rename = "eventCategory",
        alias = "eventcategory"
    )]
    pub(super) event_category: Option<Cow<'a, str>>,
    #[serde(
        borrow,
        default,
        deserialize_with = "opt_cow",
        rename = "sharedEventID",
        alias = "sharedeventid"
    )]
    pub(super) shared_event_id: Option<Cow<'a, str>>,
    #[serde(
        borrow,
        default,
        deserialize_with = "opt_cow",
        rename = "vpcEndpointId",
        alias = "vpcendpointid"
    )]
    pub(super) vpc_endpoint_id: Option<Cow<'a, str>>,
    #[serde(borrow, default, rename = "userIdentity", alias = "useridentity")]
    pub(super) user_identity: Option<UserIdentity<'a>>,
    /// CloudTrail: objects; EventBridge envelope: ARN strings. Typed after classification.
    #[serde(borrow, default)]
    pub(super) resources: Option<&'a RawValue>,
    #[serde(
        borrow,
        default,
        rename = "requestParameters",
        alias = "requestparameters"
    )]
    pub(super) request_parameters: Option<&'a RawValue>,
    #[serde(
        borrow,
        default,
        rename = "responseElements",
        alias = "responseelements"
    )]
    pub(super) response_elements: Option<&'a RawValue>,
    #[serde(
        borrow,
        default,
        rename = "additionalEventData",
        alias = "additionaleventdata"
    )]
    pub(super) additional_event_data: Option<&'a RawValue>,
    #[serde(
        borrow,
        default,
        rename = "serviceEventDetails",
        alias = "serviceeventdetails"
    )]
    pub(super) service_event_details: Option<&'a RawValue>,
    #[serde(borrow, default, rename = "tlsDetails", alias = "tlsdetails")]
    pub(super) tls_details: Option<TlsDetails<'a>>,

    // EventBridge envelope ("id" and "region" are also camelCase GuardDuty keys).
    #[serde(borrow, default, deserialize_with = "opt_cow", rename = "detail-type")]
    pub(super) detail_type: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    pub(super) detail: Option<&'a RawValue>,
    #[serde(borrow, default, deserialize_with = "opt_cow")]
    pub(super) source: Option<Cow<'a, str>>,
    #[serde(borrow, default, deserialize_with = "opt_cow")]
    pub(super) account: Option<Cow<'a, str>>,
    #[serde(borrow, default, deserialize_with = "opt_cow")]
    pub(super) region: Option<Cow<'a, str>>,
    #[serde(borrow, default, deserialize_with = "opt_cow")]
    pub(super) time: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    pub(super) id: Option<&'a RawValue>,
    #[serde(borrow, default, deserialize_with = "opt_cow")]
    pub(super) version: Option<Cow<'a, str>>,

    // S3 notification entity.
    #[serde(borrow, default)]
    pub(super) s3: Option<S3EntityDe<'a>>,

    // GuardDuty markers, typed in a second pass.
    #[serde(borrow, default, rename = "Severity")]
    pub(super) severity_pascal: Option<&'a RawValue>,
    #[serde(borrow, default, rename = "severity")]
    pub(super) severity_camel: Option<&'a RawValue>,
    #[serde(borrow, default, rename = "Type")]
    pub(super) type_pascal: Option<&'a RawValue>,
    #[serde(borrow, default, rename = "type")]
    pub(super) type_camel: Option<&'a RawValue>,

    // Containers handed to parse_event by mistake.
    #[serde(borrow, default, rename = "Records")]
    pub(super) records: Option<&'a RawValue>,
    #[serde(borrow, default, rename = "Findings")]
    pub(super) findings: Option<&'a RawValue>,
}

impl<'a> Probe<'a> {
    /// Every field absent.
    pub(super) fn empty() -> Self {
        Probe {
            event_version: None,
            event_time: None,
            event_source: None,
            event_name: None,
            aws_region: None,
            source_ip_address: None,
            user_agent: None,
            error_code: None,
            error_message: None,
            request_id: None,
            event_id: None,
            event_type: None,
            read_only: None,
            recipient_account_id: None,
            management_event: None,
            event_category: None,
            shared_event_id: None,
            vpc_endpoint_id: None,
            user_identity: None,
            resources: None,
            request_parameters: None,
            response_elements: None,
            additional_event_data: None,
            service_event_details: None,
            tls_details: None,
            detail_type: None,
            detail: None,
            source: None,
            account: None,
            region: None,
            time: None,
            id: None,
            version: None,
            s3: None,
            severity_pascal: None,
            severity_camel: None,
            type_pascal: None,
            type_camel: None,
            records: None,
            findings: None,
        }
    }
}

#[derive(Deserialize)]
pub(super) struct S3EntityDe<'a> {
    #[serde(
        borrow,
        default,
        deserialize_with = "opt_cow",
        rename = "configurationId"
    )]
    pub(super) configuration_id: Option<Cow<'a, str>>,
    #[serde(borrow)]
    pub(super) bucket: S3BucketDe<'a>,
    #[serde(borrow)]
    pub(super) object: S3ObjectDe<'a>,
}

#[derive(Deserialize)]
pub(super) struct S3BucketDe<'a> {
    #[serde(borrow, deserialize_with = "crate::de::cow")]
    pub(super) name: Cow<'a, str>,
    #[serde(borrow, default, deserialize_with = "opt_cow")]
    pub(super) arn: Option<Cow<'a, str>>,
    #[serde(borrow, default, rename = "ownerIdentity")]
    pub(super) owner_identity: Option<PrincipalDe<'a>>,
}

#[derive(Deserialize)]
pub(super) struct PrincipalDe<'a> {
    #[serde(borrow, default, deserialize_with = "opt_cow", rename = "principalId")]
    pub(super) principal_id: Option<Cow<'a, str>>,
}

#[derive(Deserialize)]
pub(super) struct S3ObjectDe<'a> {
    #[serde(borrow, deserialize_with = "crate::de::cow")]
    pub(super) key: Cow<'a, str>,
    #[serde(default, deserialize_with = "opt_u64")]
    pub(super) size: Option<u64>,
    #[serde(borrow, default, deserialize_with = "opt_cow", rename = "eTag")]
    pub(super) e_tag: Option<Cow<'a, str>>,
    #[serde(borrow, default, deserialize_with = "opt_cow", rename = "versionId")]
    pub(super) version_id: Option<Cow<'a, str>>,
    #[serde(borrow, default, deserialize_with = "opt_cow")]
    pub(super) sequencer: Option<Cow<'a, str>>,
}
