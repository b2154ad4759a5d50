//! A [`Document`] view of a borrowed CloudTrail record.
//!
//! Typed fields are answered directly from the record. The free-form parts (`requestParameters`,
//! `responseElements`, `additionalEventData`, `serviceEventDetails`) stay raw JSON until a rule
//! asks for a path inside one of them; each is then parsed once and cached for the rest of the
//! event's evaluation. A rule asking for the whole part gets its raw JSON text without parsing.

use std::cell::OnceCell;

use serde_json::value::RawValue;
use serde_json::Value;
use trailguard_events::{CloudTrailRecord, RawScalar, UserIdentity};
use trailguard_sigma::{Document, FieldValue};

/// The free-form JSON parts of a record, in a fixed order (index into the cache).
const RAW_PARTS: [&str; 4] = [
    "requestParameters",
    "responseElements",
    "additionalEventData",
    "serviceEventDetails",
];

/// A per-event, single-threaded view of a record. Create one per event; it is cheap.
pub struct RecordDoc<'r, 'a> {
    record: &'r CloudTrailRecord<'a>,
    parsed: [OnceCell<Option<Value>>; 4],
    /// Answer paths inside raw parts from their text first (see [`RecordDoc::quick`]).
    quick: bool,
}

impl<'r, 'a> RecordDoc<'r, 'a> {
    pub fn new(record: &'r CloudTrailRecord<'a>) -> Self {
        RecordDoc {
            record,
            parsed: Default::default(),
            quick: false,
        }
    }

    /// Like [`RecordDoc::new`], but a path inside a raw part is first looked up by reading the
    /// part's JSON text; the part is parsed into a tree (and cached) only for what that reading
    /// cannot answer exactly. Same answers, fewer allocations.
    pub fn quick(record: &'r CloudTrailRecord<'a>) -> Self {
        RecordDoc {
            quick: true,
            ..Self::new(record)
        }
    }

    pub fn record(&self) -> &'r CloudTrailRecord<'a> {
        self.record
    }

    /// The parsed free-form part `index` (in the order of `RAW_PARTS`), parsed on first use.
    /// Unparseable JSON (cannot happen for a record that deserialized) reads as missing.
    pub fn part(&self, index: usize) -> Option<&Value> {
        let raw = self.raw_part(index)?;
        self.parsed
            .get(index)?
            .get_or_init(|| serde_json::from_str(raw.get()).ok())
            .as_ref()
    }

    pub fn request_parameters(&self) -> Option<&Value> {
        self.part(0)
    }

    fn raw_part(&self, index: usize) -> Option<&'r RawValue> {
        match index {
            0 => self.record.request_parameters,
            1 => self.record.response_elements,
            2 => self.record.additional_event_data,
            3 => self.record.service_event_details,
            _ => None,
        }
    }

    /// Visits the values at `path` inside raw part `index` by reading its text, without building
    /// a tree; `None` when the part is already parsed or only the tree can answer exactly.
    fn quick_path(
        &self,
        index: usize,
        path: &str,
        visit: &mut dyn FnMut(FieldValue<'_>) -> bool,
    ) -> Option<bool> {
        if !self.quick || self.parsed.get(index)?.get().is_some() {
            return None;
        }
        let raw = self.raw_part(index)?;
        let mut values = Vec::new();
        trailguard_events::path_values(raw, path, &mut values)?;
        Some(values.into_iter().any(|value| {
            visit(match value {
                RawScalar::Null => FieldValue::Null,
                RawScalar::Bool(b) => FieldValue::Bool(b),
                RawScalar::Number(n) => FieldValue::Number(n),
                RawScalar::Str(s) => FieldValue::Str(s),
            })
        }))
    }

    /// The error code, treating an empty string as no error (some producers write `""`).
    pub fn error_code(&self) -> Option<&'r str> {
        non_empty(self.record.error_code.as_deref())
    }
}

fn non_empty(value: Option<&str>) -> Option<&str> {
    value.filter(|v| !v.is_empty())
}

fn visit_str(value: Option<&str>, visit: &mut dyn FnMut(FieldValue<'_>) -> bool) -> bool {
    value.is_some_and(|v| visit(FieldValue::Str(v)))
}

fn visit_bool(value: Option<bool>, visit: &mut dyn FnMut(FieldValue<'_>) -> bool) -> bool {
    value.is_some_and(|v| visit(FieldValue::Bool(v)))
}

/// CloudTrail writes `mfaAuthenticated` as the strings "true"/"false"; rules compare strings.
fn visit_bool_text(value: Option<bool>, visit: &mut dyn FnMut(FieldValue<'_>) -> bool) -> bool {
    value.is_some_and(|v| visit(FieldValue::Str(if v { "true" } else { "false" })))
}

fn visit_identity(
    identity: &UserIdentity<'_>,
    path: &str,
    visit: &mut dyn FnMut(FieldValue<'_>) -> bool,
) -> bool {
    let context = identity.session_context.as_ref();
    let attributes = context.and_then(|c| c.attributes.as_ref());
    let issuer = context.and_then(|c| c.session_issuer.as_ref());
    match path {
        "type" => visit_str(identity.identity_type.as_deref(), visit),
        "principalId" => visit_str(identity.principal_id.as_deref(), visit),
        "arn" => visit_str(identity.arn.as_deref(), visit),
        "accountId" => visit_str(identity.account_id.as_deref(), visit),
        "accessKeyId" => visit_str(identity.access_key_id.as_deref(), visit),
        "userName" => visit_str(identity.user_name.as_deref(), visit),
        "invokedBy" => visit_str(identity.invoked_by.as_deref(), visit),
        "sessionContext.attributes.mfaAuthenticated" => {
            visit_bool_text(attributes.and_then(|a| a.mfa_authenticated), visit)
        }
        "sessionContext.attributes.creationDate" => {
            visit_str(attributes.and_then(|a| a.creation_date.as_deref()), visit)
        }
        "sessionContext.sessionIssuer.type" => {
            visit_str(issuer.and_then(|i| i.issuer_type.as_deref()), visit)
        }
        "sessionContext.sessionIssuer.principalId" => {
            visit_str(issuer.and_then(|i| i.principal_id.as_deref()), visit)
        }
        "sessionContext.sessionIssuer.arn" => {
            visit_str(issuer.and_then(|i| i.arn.as_deref()), visit)
        }
        "sessionContext.sessionIssuer.accountId" => {
            visit_str(issuer.and_then(|i| i.account_id.as_deref()), visit)
        }
        "sessionContext.sessionIssuer.userName" => {
            visit_str(issuer.and_then(|i| i.user_name.as_deref()), visit)
        }
        _ => false,
    }
}

impl Document for RecordDoc<'_, '_> {
    fn visit_field(&self, path: &str, visit: &mut dyn FnMut(FieldValue<'_>) -> bool) -> bool {
        let record = self.record;
        // Most paths rules ask for are top-level names: answer those before splitting the path.
        let top = match path {
            "eventName" => Some(record.event_name.as_deref()),
            "eventSource" => Some(record.event_source.as_deref()),
            "errorCode" => Some(self.error_code()),
            "errorMessage" => Some(record.error_message.as_deref()),
            "userAgent" => Some(record.user_agent.as_deref()),
            "sourceIPAddress" => Some(record.source_ip_address.as_deref()),
            "awsRegion" => Some(record.aws_region.as_deref()),
            "eventType" => Some(record.event_type.as_deref()),
            "eventTime" => Some(record.event_time.as_deref()),
            "eventVersion" => Some(record.event_version.as_deref()),
            "eventID" => Some(record.event_id.as_deref()),
            "requestID" => Some(record.request_id.as_deref()),
            "eventCategory" => Some(record.event_category.as_deref()),
            "sharedEventID" => Some(record.shared_event_id.as_deref()),
            "vpcEndpointId" => Some(record.vpc_endpoint_id.as_deref()),
            "recipientAccountId" => Some(record.recipient_account_id.as_deref()),
            "readOnly" => return visit_bool(record.read_only, visit),
            "managementEvent" => return visit_bool(record.management_event, visit),
            _ => None,
        };
        if let Some(value) = top {
            return visit_str(value, visit);
        }
        let (head, rest) = match path.split_once('.') {
            Some((head, rest)) => (head, Some(rest)),
            None => (path, None),
        };
        match (head, rest) {
            ("userIdentity", Some(rest)) => record
                .user_identity
                .as_ref()
                .is_some_and(|identity| visit_identity(identity, rest, visit)),
            ("resources", Some(rest)) => record.resources.iter().any(|resource| {
                let value = match rest {
                    "ARN" | "arn" => resource.arn.as_deref(),
                    "accountId" => resource.account_id.as_deref(),
                    "type" => resource.resource_type.as_deref(),
                    _ => None,
                };
                visit_str(value, visit)
            }),
            ("tlsDetails", Some(rest)) => record.tls_details.as_ref().is_some_and(|tls| {
                let value = match rest {
                    "tlsVersion" => tls.tls_version.as_deref(),
                    "cipherSuite" => tls.cipher_suite.as_deref(),
                    "clientProvidedHostHeader" => tls.client_provided_host_header.as_deref(),
                    _ => None,
                };
                visit_str(value, visit)
            }),
            (head, rest) => match RAW_PARTS.iter().position(|part| *part == head) {
                Some(index) => match rest {
                    // The whole part: its raw text, no parsing (string modifiers match it).
                    None => self.raw_part(index).is_some_and(|raw| {
                        let text = raw.get();
                        if text == "null" {
                            visit(FieldValue::Null)
                        } else {
                            visit(FieldValue::Json(text))
                        }
                    }),
                    Some(rest) => {
                        if let Some(found) = self.quick_path(index, rest, visit) {
                            return found;
                        }
                        self.part(index)
                            .is_some_and(|value| value.visit_field(rest, visit))
                    }
                },
                None => false,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use trailguard_events::{parse_event, Event};

    fn values(doc: &RecordDoc<'_, '_>, path: &str) -> Vec<String> {
        let mut out = Vec::new();
        doc.visit_field(path, &mut |v| {
            out.push(format!("{v:?}"));
            false
        });
        out
    }

    #[test]
    fn typed_fields_raw_parts_and_lazy_paths() {
        let text = r#"{"eventVersion":"1.08","eventSource":"iam.amazonaws.com","eventName":"CreateAccessKey",
            "eventTime":"2026-01-01T00:00:00Z","awsRegion":"us-east-1","errorCode":"",
            "userIdentity":{"type":"AssumedRole","arn":"arn:aws:sts::1:assumed-role/R/s",
              "sessionContext":{"attributes":{"mfaAuthenticated":"true"},"sessionIssuer":{"userName":"R"}}},
            "requestParameters":{"userName":"bob","tags":[{"key":"a"},{"key":"b"}]},
            "responseElements":null,"readOnly":false,
            "resources":[{"ARN":"arn:aws:iam::1:user/bob","accountId":"1","type":"AWS::IAM::User"}]}"#;
        let event = parse_event(text).expect("parses");
        let Event::CloudTrail(ct) = event else {
            panic!("not CloudTrail")
        };
        let doc = RecordDoc::new(&ct.record);
        assert_eq!(values(&doc, "eventName"), ["Str(\"CreateAccessKey\")"]);
        assert!(
            values(&doc, "errorCode").is_empty(),
            "empty errorCode reads as no error"
        );
        assert_eq!(values(&doc, "readOnly"), ["Bool(false)"]);
        assert_eq!(
            values(
                &doc,
                "userIdentity.sessionContext.attributes.mfaAuthenticated"
            ),
            ["Str(\"true\")"]
        );
        assert_eq!(
            values(&doc, "userIdentity.sessionContext.sessionIssuer.userName"),
            ["Str(\"R\")"]
        );
        assert_eq!(values(&doc, "resources.accountId"), ["Str(\"1\")"]);
        // The whole part is its raw JSON text; nothing is parsed for it.
        assert!(values(&doc, "requestParameters")[0].starts_with("Json("));
        assert!(doc.parsed[0].get().is_none());
        // JSON null reads as missing, which Sigma's `null` and `|exists` treat alike.
        assert!(values(&doc, "responseElements").is_empty());
        // A path inside parses once and is cached.
        assert_eq!(values(&doc, "requestParameters.userName"), ["Str(\"bob\")"]);
        assert!(doc.parsed[0].get().is_some());
        assert_eq!(
            values(&doc, "requestParameters.tags.key"),
            ["Str(\"a\")", "Str(\"b\")"]
        );
        assert!(values(&doc, "responseElements.x").is_empty());
        assert!(values(&doc, "noSuchField").is_empty());
        assert!(values(&doc, "userIdentity.noSuchField").is_empty());
    }
}
