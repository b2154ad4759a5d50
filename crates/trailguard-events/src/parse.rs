//! `parse_event`: one JSON value → a classified, borrowed [`Event`].
//!
//! A bare CloudTrail record (the bulk case) is deserialized in one pass: the probe struct holds every
//! CloudTrail field typed plus raw slots for the keys that identify the other shapes. Envelopes and
//! GuardDuty findings take a second, cheap pass over their own part.

use serde::de::DeserializeOwned;
use serde::Deserialize;
use std::borrow::Cow;

use crate::de::opt_cow;
use crate::model::*;

mod fast;
mod probe;

pub use fast::{object_str_fields, path_values, RawScalar};
use probe::Probe;

/// Why one event could not be turned into an [`Event`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    /// Not well-formed JSON.
    #[error("invalid JSON at line {line} column {column}: {message}")]
    Syntax {
        message: String,
        line: usize,
        column: usize,
    },
    /// Well-formed JSON, but a field the model needs has the wrong type or value.
    #[error("{path}: {message}")]
    Field { path: String, message: String },
    /// Well-formed JSON of a shape TrailGuard does not handle.
    #[error("{0}")]
    Shape(String),
}

/// Parse one JSON value (a bare CloudTrail record, an EventBridge envelope, an S3 notification
/// record or a GuardDuty finding). Strings and raw parts borrow from `json`.
pub fn parse_event(json: &str) -> Result<Event<'_>, ParseError> {
    let json = json.strip_prefix('\u{feff}').unwrap_or(json);
    expect_object(json)?;
    // The hand-written pass reads well-formed common records; serde decides everything else.
    let probe: Probe<'_> = match fast::probe(json) {
        Some(probe) => probe,
        None => from_str_at(json, "")?,
    };
    classify(json, probe)
}

/// The serde-only path, kept as the reference the fast path is tested against.
#[cfg(test)]
pub(crate) fn parse_event_serde(json: &str) -> Result<Event<'_>, ParseError> {
    let json = json.strip_prefix('\u{feff}').unwrap_or(json);
    expect_object(json)?;
    let probe: Probe<'_> = from_str_at(json, "")?;
    classify(json, probe)
}

fn expect_object(json: &str) -> Result<(), ParseError> {
    let first = json.bytes().find(|b| !b.is_ascii_whitespace());
    match first {
        Some(b'{') => Ok(()),
        Some(b'[') => Err(ParseError::Shape(
            "expected one event (a JSON object), found an array; read arrays with the readers"
                .into(),
        )),
        None => Err(ParseError::Shape(
            "empty input: expected a JSON object".into(),
        )),
        Some(_) => {
            // Let serde_json say what it is (a syntax error or a scalar).
            match serde_json::from_str::<serde::de::IgnoredAny>(json) {
                Err(e) => Err(syntax_or_field(
                    json,
                    "",
                    e,
                    None::<fn(&str) -> Option<String>>,
                )),
                Ok(_) => Err(ParseError::Shape(format!(
                    "expected one event (a JSON object), found {}",
                    scalar_name(json)
                ))),
            }
        }
    }
}

fn scalar_name(json: &str) -> &'static str {
    match json.trim_start().as_bytes().first() {
        Some(b'"') => "a string",
        Some(b't' | b'f') => "a boolean",
        Some(b'n') => "null",
        _ => "a number",
    }
}

/// Deserialize `T` from `s`; on a type error, re-run with path tracking so the error names the
/// field (`userIdentity.type: expected a string, found integer `5``). `prefix` is the path of `s`.
pub(crate) fn from_str_at<'a, T: Deserialize<'a>>(
    s: &'a str,
    prefix: &str,
) -> Result<T, ParseError> {
    match serde_json::from_str::<T>(s) {
        Ok(v) => Ok(v),
        Err(e) => Err(syntax_or_field(
            s,
            prefix,
            e,
            Some(|s: &'a str| {
                let mut de = serde_json::Deserializer::from_str(s);
                match serde_path_to_error::deserialize::<_, T>(&mut de) {
                    Err(pe) => Some(pe.path().to_string()),
                    Ok(_) => None,
                }
            }),
        )),
    }
}

/// Owned variant for callers that do not need borrowing (used by tests of lazily parsed parts).
#[allow(dead_code)]
pub(crate) fn from_str_owned_at<T: DeserializeOwned>(
    s: &str,
    prefix: &str,
) -> Result<T, ParseError> {
    from_str_at::<T>(s, prefix)
}

fn syntax_or_field<'a, F>(
    s: &'a str,
    prefix: &str,
    e: serde_json::Error,
    find_path: Option<F>,
) -> ParseError
where
    F: FnOnce(&'a str) -> Option<String>,
{
    let message = strip_position(&e);
    if !e.is_data() {
        return ParseError::Syntax {
            message,
            line: e.line(),
            column: e.column(),
        };
    }
    let inner = find_path.and_then(|f| f(s)).filter(|p| p != ".");
    let path = join_path(prefix, inner.as_deref());
    ParseError::Field {
        path,
        message: reword(&message),
    }
}

fn join_path(prefix: &str, inner: Option<&str>) -> String {
    match (prefix.is_empty(), inner) {
        (true, None) => "$".to_owned(),
        (true, Some(p)) => p.to_owned(),
        (false, None) => prefix.to_owned(),
        (false, Some(p)) if p.starts_with('[') => format!("{prefix}{p}"),
        (false, Some(p)) => format!("{prefix}.{p}"),
    }
}

fn strip_position(e: &serde_json::Error) -> String {
    let full = e.to_string();
    let suffix = format!(" at line {} column {}", e.line(), e.column());
    match full.strip_suffix(&suffix) {
        Some(s) => s.to_owned(),
        None => full,
    }
}

/// serde says "invalid type: integer `5`, expected a string"; lead with what was expected.
fn reword(message: &str) -> String {
    if let Some(rest) = message.strip_prefix("invalid type: ") {
        if let Some((found, expected)) = rest.split_once(", expected ") {
            return format!("expected {expected}, found {found}");
        }
    }
    message.to_owned()
}

#[derive(Deserialize, Default)]
struct NotificationRequestParams<'a> {
    #[serde(
        borrow,
        default,
        deserialize_with = "opt_cow",
        rename = "sourceIPAddress"
    )]
    source_ip_address: Option<Cow<'a, str>>,
}

#[derive(Deserialize, Default)]
struct NotificationResponseElements<'a> {
    #[serde(
        borrow,
        default,
        deserialize_with = "opt_cow",
        rename = "x-amz-request-id"
    )]
    request_id: Option<Cow<'a, str>>,
}

fn classify<'a>(json: &'a str, p: Probe<'a>) -> Result<Event<'a>, ParseError> {
    if p.detail_type.is_some() || p.detail.is_some() {
        return classify_envelope(p);
    }
    if p.s3.is_some() {
        return notification(p).map(Event::S3Notification);
    }
    if let Some(src) = p.event_source.as_deref() {
        // Lambda-style records ("aws:sqs", "aws:sns", ...) share eventSource but are not CloudTrail.
        if src.starts_with("aws:") {
            return Err(ParseError::Shape(format!(
                "unsupported notification record (eventSource {src:?}); only S3 notifications are handled"
            )));
        }
    }
    if p.event_name.is_some() || p.event_source.is_some() {
        return cloudtrail(p, "").map(|record| {
            Event::CloudTrail(CloudTrailEvent {
                envelope: None,
                record,
            })
        });
    }
    let has_severity = p.severity_pascal.is_some() || p.severity_camel.is_some();
    let has_type = p.type_pascal.is_some() || p.type_camel.is_some();
    if has_severity && has_type {
        let finding: GuardDutyFinding<'a> = from_str_at(json, "")?;
        return Ok(Event::GuardDuty(GuardDutyEvent {
            envelope: None,
            finding,
        }));
    }
    if p.records.is_some() || p.findings.is_some() {
        return Err(ParseError::Shape(
            "a {\"Records\"|\"Findings\": [...]} container, not one event; read it with the readers"
                .into(),
        ));
    }
    Err(ParseError::Shape(
        "unrecognised event: no eventName/eventSource (CloudTrail), detail-type (EventBridge), \
         s3 (S3 notification) or Type+Severity (GuardDuty)"
            .into(),
    ))
}

fn classify_envelope(p: Probe<'_>) -> Result<Event<'_>, ParseError> {
    let Some(detail_type) = p.detail_type else {
        return Err(ParseError::Shape(
            "EventBridge envelope without \"detail-type\"".into(),
        ));
    };
    let Some(detail) = p.detail else {
        return Err(ParseError::Shape(
            "EventBridge envelope without \"detail\"".into(),
        ));
    };
    let resources: Vec<Cow<'_, str>> = match p.resources {
        Some(raw) => from_str_at::<Option<Vec<CowStr<'_>>>>(raw.get(), "resources")?
            .unwrap_or_default()
            .into_iter()
            .map(|s| s.0)
            .collect(),
        None => Vec::new(),
    };
    let id = match p.id {
        Some(raw) => from_str_at::<Option<CowStr<'_>>>(raw.get(), "id")?.map(|s| s.0),
        None => None,
    };
    let envelope = Envelope {
        version: p.version,
        id,
        detail_type,
        source: p.source,
        account: p.account,
        region: p.region,
        time: p.time,
        resources,
    };
    let dt: &str = &envelope.detail_type;
    let source = envelope.source.as_deref().unwrap_or("");
    if dt.ends_with("via CloudTrail") {
        expect_object_at(detail.get(), "detail")?;
        let inner: Probe<'_> = from_str_at(detail.get(), "detail")?;
        if inner.event_name.is_none() && inner.event_source.is_none() {
            return Err(ParseError::Shape(format!(
                "EventBridge {dt:?} event whose detail is not a CloudTrail record (no eventName)"
            )));
        }
        let record = cloudtrail(inner, "detail")?;
        return Ok(Event::CloudTrail(CloudTrailEvent {
            envelope: Some(envelope),
            record,
        }));
    }
    if dt == "GuardDuty Finding" || source == "aws.guardduty" {
        expect_object_at(detail.get(), "detail")?;
        let finding: GuardDutyFinding<'_> = from_str_at(detail.get(), "detail")?;
        return Ok(Event::GuardDuty(GuardDutyEvent {
            envelope: Some(envelope),
            finding,
        }));
    }
    if source == "aws.s3" {
        expect_object_at(detail.get(), "detail")?;
        let detail: S3EventBridgeDetail<'_> = from_str_at(detail.get(), "detail")?;
        return Ok(Event::S3EventBridge(S3EventBridgeEvent {
            envelope,
            detail,
        }));
    }
    Err(ParseError::Shape(format!(
        "unsupported EventBridge event: detail-type {dt:?}, source {source:?}"
    )))
}

fn expect_object_at(json: &str, path: &str) -> Result<(), ParseError> {
    match json.bytes().find(|b| !b.is_ascii_whitespace()) {
        Some(b'{') => Ok(()),
        _ => Err(ParseError::Field {
            path: path.to_owned(),
            message: format!("expected an object, found {}", json_kind(json)),
        }),
    }
}

fn json_kind(json: &str) -> &'static str {
    match json.trim_start().as_bytes().first() {
        Some(b'[') => "an array",
        Some(b'{') => "an object",
        _ => scalar_name(json),
    }
}

/// A borrowing string for use inside `Vec`/`Option` where serde would otherwise allocate.
struct CowStr<'a>(Cow<'a, str>);

impl<'de: 'a, 'a> Deserialize<'de> for CowStr<'a> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        crate::de::cow(d).map(CowStr)
    }
}

fn cloudtrail<'a>(p: Probe<'a>, prefix: &str) -> Result<CloudTrailRecord<'a>, ParseError> {
    let resources = match p.resources {
        Some(raw) => {
            let path = if prefix.is_empty() {
                "resources".to_owned()
            } else {
                format!("{prefix}.resources")
            };
            from_str_at::<Option<Vec<Resource<'a>>>>(raw.get(), &path)?.unwrap_or_default()
        }
        None => Vec::new(),
    };
    Ok(CloudTrailRecord {
        event_version: p.event_version,
        event_time: p.event_time,
        event_source: p.event_source,
        event_name: p.event_name,
        aws_region: p.aws_region,
        source_ip_address: p.source_ip_address,
        user_agent: p.user_agent,
        error_code: p.error_code,
        error_message: p.error_message,
        request_id: p.request_id,
        event_id: p.event_id,
        event_type: p.event_type,
        read_only: p.read_only,
        recipient_account_id: p.recipient_account_id,
        management_event: p.management_event,
        event_category: p.event_category,
        shared_event_id: p.shared_event_id,
        vpc_endpoint_id: p.vpc_endpoint_id,
        user_identity: p.user_identity,
        resources,
        request_parameters: p.request_parameters,
        response_elements: p.response_elements,
        additional_event_data: p.additional_event_data,
        service_event_details: p.service_event_details,
        tls_details: p.tls_details,
    })
}

fn notification(p: Probe<'_>) -> Result<S3NotificationRecord<'_>, ParseError> {
    let Some(s3) = p.s3 else {
        return Err(ParseError::Shape(
            "S3 notification without an s3 entity".into(),
        ));
    };
    let params: NotificationRequestParams<'_> = match p.request_parameters {
        Some(raw) if raw.get().trim_start().starts_with('{') => {
            from_str_at(raw.get(), "requestParameters")?
        }
        _ => NotificationRequestParams::default(),
    };
    let response: NotificationResponseElements<'_> = match p.response_elements {
        Some(raw) if raw.get().trim_start().starts_with('{') => {
            from_str_at(raw.get(), "responseElements")?
        }
        _ => NotificationResponseElements::default(),
    };
    let key =
        crate::url::decode_s3_key(s3.object.key.clone()).map_err(|message| ParseError::Field {
            path: "s3.object.key".into(),
            message,
        })?;
    Ok(S3NotificationRecord {
        event_version: p.event_version,
        event_source: p.event_source,
        aws_region: p.aws_region,
        event_time: p.event_time,
        event_name: p.event_name,
        principal_id: p.user_identity.and_then(|u| u.principal_id),
        source_ip_address: params.source_ip_address,
        request_id: response.request_id,
        configuration_id: s3.configuration_id,
        bucket_name: s3.bucket.name,
        bucket_arn: s3.bucket.arn,
        bucket_owner: s3.bucket.owner_identity.and_then(|o| o.principal_id),
        key,
        raw_key: s3.object.key,
        size: s3.object.size,
        e_tag: s3.object.e_tag,
        version_id: s3.object.version_id,
        sequencer: s3.object.sequencer,
    })
}
