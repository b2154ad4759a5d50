//! The event as the model sees it: fields that carry no signal dropped, long values trimmed.
//!
//! Kept: when, which service and call, region, source IP, user agent, the identity (type, ARN,
//! account, user name, session issuer, MFA), request parameters, response elements (trimmed),
//! additional event data without transport noise, error code and message, resources not already
//! named by the request. Dropped (chosen from the shared OTRF and Panther records): ids
//! (`eventID`, `requestID`, `sharedEventID`, principal and access key ids), `eventVersion`,
//! `managementEvent`, `tlsDetails`, `sessionCredentialFromConsole`, `eventCategory` when
//! "Management", `eventType` when "AwsApiCall", `readOnly` when the call's verb says it, the
//! account when it is the caller's own, S3's `Host` header, resources repeating the request's
//! bucket and key, and ingestion fields (`@timestamp`, Panther's `p_*`). EventBridge envelopes of
//! CloudTrail records reduce to the record; S3 object events to bucket, key, size, version,
//! requester, source IP and reason.

use serde_json::{Map, Value};

/// Longest string kept from the request (policy documents fit) and from everything else.
const MAX_REQUEST_CHARS: usize = 1_024;
const MAX_OTHER_CHARS: usize = 256;
/// Most array items kept (the rest counted in a marker), and deepest nesting kept.
const MAX_ITEMS: usize = 12;
const MAX_DEPTH: usize = 8;
/// Budgets of whole parts, in serialised chars: the request (the call's own arguments) keeps
/// more than the response (mostly AWS echoing details back).
const MAX_REQUEST_TOTAL: usize = 2_000;
const MAX_RESPONSE_CHARS: usize = 240;

const DROPPED: [&str; 11] = [
    // The record keeps the time; a verdict without the account's habits cannot use it.
    "eventTime",
    "eventVersion",
    "requestID",
    "eventID",
    "sharedEventID",
    "managementEvent",
    "tlsDetails",
    "sessionCredentialFromConsole",
    "vpcEndpointAccountId",
    "apiVersion",
    "recipientAccountId",
];

/// Transport details in `additionalEventData` that never matter to a verdict.
const NOISE_EVENT_DATA: [&str; 6] = [
    "x-amz-id-2",
    "SignatureVersion",
    "CipherSuite",
    "AuthenticationMethod",
    "LoginTo",
    "MobileVersion",
];

/// The compact form of any event the readers accept.
pub fn compact_event(event: &Value) -> Value {
    let Some(object) = event.as_object() else {
        return trim(event, MAX_OTHER_CHARS, 0);
    };
    if let Some(detail) = object.get("detail").and_then(Value::as_object) {
        if detail.contains_key("eventName") || detail.contains_key("eventSource") {
            return compact_cloudtrail(detail);
        }
        let detail_type = object.get("detail-type").and_then(Value::as_str);
        if matches!(detail_type, Some("Object Created" | "Object Deleted")) {
            return compact_s3_eventbridge(object, detail);
        }
        return compact_envelope(object);
    }
    if object.get("eventSource").and_then(Value::as_str) == Some("aws:s3") {
        return compact_s3_notification(object);
    }
    if object.contains_key("eventName") || object.contains_key("eventSource") {
        return compact_cloudtrail(object);
    }
    compact_generic(object, MAX_OTHER_CHARS)
}

fn is_ingestion_field(key: &str) -> bool {
    key.starts_with('@') || key.starts_with("p_")
}

/// Verbs whose read-only status is obvious from the event name.
fn read_only_is_obvious(name: &str, read_only: bool) -> bool {
    const READS: [&str; 7] = [
        "Get", "List", "Describe", "Head", "Lookup", "Search", "BatchGet",
    ];
    const WRITES: [&str; 16] = [
        "Put",
        "Create",
        "Delete",
        "Update",
        "Attach",
        "Detach",
        "Modify",
        "Run",
        "Start",
        "Stop",
        "Terminate",
        "Set",
        "Add",
        "Remove",
        "Copy",
        "Upload",
    ];
    let starts = |verbs: &[&str]| verbs.iter().any(|v| name.starts_with(v));
    if read_only {
        starts(&READS)
    } else {
        starts(&WRITES)
    }
}

fn compact_cloudtrail(record: &Map<String, Value>) -> Value {
    let mut out = Map::new();
    let name = record
        .get("eventName")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let own_account = record
        .get("userIdentity")
        .and_then(|u| u.get("accountId"))
        .and_then(Value::as_str);
    let params = record.get("requestParameters");
    for (key, value) in record {
        if DROPPED.contains(&key.as_str()) || is_ingestion_field(key) || value.is_null() {
            if key == "recipientAccountId" && value.as_str() != own_account && !value.is_null() {
                out.insert(key.clone(), value.clone());
            }
            continue;
        }
        let kept = match key.as_str() {
            "userIdentity" => compact_identity(value),
            "eventType" if value.as_str() == Some("AwsApiCall") => continue,
            "eventCategory" if value.as_str() == Some("Management") => continue,
            "readOnly"
                if value
                    .as_bool()
                    .is_some_and(|r| read_only_is_obvious(name, r)) =>
            {
                continue
            }
            "requestParameters" => compact_request(value, name),
            "responseElements" => compact_response(value),
            "additionalEventData" => match value.as_object() {
                Some(data) => {
                    let mut data = data.clone();
                    data.retain(|k, _| !NOISE_EVENT_DATA.contains(&k.as_str()));
                    if data.is_empty() {
                        continue;
                    }
                    trim(&Value::Object(data), MAX_OTHER_CHARS, 0)
                }
                None => trim(value, MAX_OTHER_CHARS, 0),
            },
            "resources" => match compact_resources(value, params, own_account) {
                Some(resources) => resources,
                None => continue,
            },
            // AWS services write their name in both.
            "userAgent"
                if value.is_string()
                    && value == record.get("sourceIPAddress").unwrap_or(&Value::Null) =>
            {
                continue
            }
            "userAgent" | "errorMessage" => trim(value, 320, 0),
            // "ec2.amazonaws.com" says no more than "ec2".
            "eventSource" => match value
                .as_str()
                .and_then(|s| s.strip_suffix(".amazonaws.com"))
            {
                Some(service) => Value::String(service.to_string()),
                None => trim(value, MAX_OTHER_CHARS, 0),
            },
            _ => trim(value, MAX_OTHER_CHARS, 0),
        };
        out.insert(key.clone(), kept);
    }
    Value::Object(out)
}

fn compact_identity(identity: &Value) -> Value {
    let Some(identity) = identity.as_object() else {
        return trim(identity, MAX_OTHER_CHARS, 0);
    };
    let mut out = Map::new();
    let arn = identity
        .get("arn")
        .and_then(Value::as_str)
        .unwrap_or_default();
    // The ARN already says the account, the user's name and an assumed role's name.
    let in_arn = |value: &Value| {
        value.as_str().is_some_and(|v| {
            !v.is_empty() && (arn.contains(&format!(":{v}:")) || arn.ends_with(&format!("/{v}")))
        })
    };
    for (key, value) in identity {
        match key.as_str() {
            "principalId" | "accessKeyId" | "accesKeyId" | "principalid" | "accesskeyid" => {}
            "accountId" | "userName" if in_arn(value) => {}
            "type" if value.as_str().is_some_and(|t| type_in_arn(t, arn)) => {}
            "sessionContext" | "sessioncontext" => {
                let issuer = value.get("sessionIssuer");
                let issuer_role = issuer
                    .and_then(|i| i.get("userName"))
                    .and_then(Value::as_str)
                    .filter(|name| !name.is_empty());
                let issuer_name = issuer
                    .and_then(|i| i.get("arn").or_else(|| i.get("userName")))
                    .and_then(Value::as_str)
                    .filter(|name| !name.is_empty());
                let derivable =
                    issuer_role.is_some_and(|role| arn.contains(&format!(":assumed-role/{role}/")));
                if let Some(issuer) = issuer_name.filter(|_| !derivable) {
                    out.insert("sessionIssuer".into(), Value::String(issuer.into()));
                }
                // An AWS service acting for the account has no MFA to speak of.
                let service = identity.get("invokedBy").is_some_and(|v| !v.is_null());
                if let Some(mfa) = value
                    .get("attributes")
                    .and_then(|a| a.get("mfaAuthenticated"))
                    .filter(|_| !service)
                {
                    out.insert("mfaAuthenticated".into(), mfa.clone());
                }
                let web = value
                    .get("webIdFederationData")
                    .filter(|w| w.as_object().is_some_and(|w| !w.is_empty()));
                if let Some(web) = web {
                    out.insert("webIdFederationData".into(), trim(web, MAX_OTHER_CHARS, 0));
                }
                if let Some(source) = value.get("sourceIdentity") {
                    out.insert("sourceIdentity".into(), trim(source, MAX_OTHER_CHARS, 0));
                }
            }
            _ if value.is_null() => {}
            _ => {
                out.insert(key.clone(), trim(value, MAX_OTHER_CHARS, 0));
            }
        }
    }
    Value::Object(out)
}

/// Identity types an ARN spells out (`:user/`, `:assumed-role/`, `:root`).
fn type_in_arn(identity_type: &str, arn: &str) -> bool {
    match identity_type {
        "IAMUser" => arn.contains(":user/"),
        "AssumedRole" => arn.contains(":assumed-role/"),
        "Root" => arn.ends_with(":root"),
        "FederatedUser" => arn.contains(":federated-user/"),
        _ => false,
    }
}

fn compact_request(params: &Value, name: &str) -> Value {
    let Some(map) = params.as_object() else {
        return trim(params, MAX_REQUEST_CHARS, 0);
    };
    let mut map = map.clone();
    // S3's Host header repeats the bucket and endpoint; `x-id` repeats the call's name.
    if map
        .get("Host")
        .and_then(Value::as_str)
        .is_some_and(|h| h.ends_with(".amazonaws.com"))
    {
        map.remove("Host");
    }
    if map.get("x-id").and_then(Value::as_str) == Some(name) {
        map.remove("x-id");
    }
    within_budget(
        trim(&Value::Object(map), MAX_REQUEST_CHARS, 0),
        MAX_REQUEST_TOTAL,
    )
}

fn compact_response(response: &Value) -> Value {
    let Some(map) = response.as_object() else {
        return trim(response, MAX_OTHER_CHARS, 0);
    };
    let mut map = map.clone();
    // Temporary credentials: long, secret-looking and never a signal.
    if let Some(Value::Object(credentials)) = map.get_mut("credentials") {
        credentials.remove("sessionToken");
    }
    // What was created or changed is in the first levels; the rest is AWS's echo of details.
    let trimmed = trim_with(&Value::Object(map), 96, 3, 3, 0);
    within_budget(trimmed, MAX_RESPONSE_CHARS)
}

/// Replaces the largest values (anywhere) by size markers until `value` fits `budget` chars.
fn within_budget(mut value: Value, budget: usize) -> Value {
    for _ in 0..32 {
        let size = value.to_string().len();
        if size <= budget {
            break;
        }
        if !replace_largest(&mut value, 48) {
            break;
        }
    }
    value
}

/// Replaces the largest child value bigger than `floor` chars, searching from the top; false
/// when nothing is that big.
fn replace_largest(value: &mut Value, floor: usize) -> bool {
    let children: Vec<(usize, usize)> = match value {
        Value::Object(map) => map
            .values()
            .enumerate()
            .map(|(i, v)| (i, v.to_string().len()))
            .collect(),
        Value::Array(items) => items
            .iter()
            .enumerate()
            .map(|(i, v)| (i, v.to_string().len()))
            .collect(),
        _ => return false,
    };
    let Some(&(index, size)) = children.iter().max_by_key(|(_, size)| *size) else {
        return false;
    };
    if size <= floor {
        return false;
    }
    let child = match value {
        Value::Object(map) => map.values_mut().nth(index),
        Value::Array(items) => items.get_mut(index),
        _ => None,
    };
    let Some(child) = child else {
        return false;
    };
    // Go one level deeper first, so the marker replaces as little as possible.
    if size > floor * 4 && replace_largest(child, floor) {
        return true;
    }
    *child = Value::String(format!("[{size} chars]"));
    true
}

/// Resource ARNs the request does not already name; another account's id kept (a signal).
fn compact_resources(
    resources: &Value,
    params: Option<&Value>,
    own_account: Option<&str>,
) -> Option<Value> {
    let items = resources.as_array()?;
    let bucket = params
        .and_then(|p| p.get("bucketName"))
        .and_then(Value::as_str);
    let key = params.and_then(|p| p.get("key")).and_then(Value::as_str);
    let named = |arn: &str| -> bool {
        let Some(rest) = arn.strip_prefix("arn:aws:s3:::") else {
            return false;
        };
        match (bucket, rest.split_once('/')) {
            (Some(b), None) => rest == b,
            (Some(b), Some((rb, rk))) => rb == b && Some(rk) == key,
            (None, _) => false,
        }
    };
    let mut out: Vec<Value> = Vec::new();
    for item in items.iter().take(MAX_ITEMS) {
        let arn = item
            .get("ARN")
            .or_else(|| item.get("arn"))
            .and_then(Value::as_str);
        let account = item
            .get("accountId")
            .and_then(Value::as_str)
            .filter(|a| !a.is_empty() && Some(*a) != own_account);
        let Some(arn) = arn else {
            continue;
        };
        if named(arn) && account.is_none() {
            continue;
        }
        let entry = match account {
            Some(account) => {
                serde_json::json!({"ARN": cut(arn, MAX_OTHER_CHARS), "accountId": account})
            }
            None => Value::String(cut(arn, MAX_OTHER_CHARS)),
        };
        if !out.contains(&entry) {
            out.push(entry);
        }
    }
    (!out.is_empty()).then_some(Value::Array(out))
}

fn compact_s3_eventbridge(envelope: &Map<String, Value>, detail: &Map<String, Value>) -> Value {
    let mut out = Map::new();
    for key in ["detail-type", "time", "account", "region"] {
        if let Some(value) = envelope.get(key) {
            out.insert(key.into(), trim(value, MAX_OTHER_CHARS, 0));
        }
    }
    if let Some(bucket) = detail.get("bucket").and_then(|b| b.get("name")) {
        out.insert("bucket".into(), trim(bucket, MAX_OTHER_CHARS, 0));
    }
    if let Some(object) = detail.get("object").and_then(Value::as_object) {
        let mut kept = object.clone();
        kept.retain(|k, _| matches!(k.as_str(), "key" | "size" | "version-id"));
        out.insert("object".into(), trim(&Value::Object(kept), 1_024, 0));
    }
    for key in ["requester", "source-ip-address", "reason", "deletion-type"] {
        if let Some(value) = detail.get(key) {
            out.insert(key.into(), trim(value, MAX_OTHER_CHARS, 0));
        }
    }
    Value::Object(out)
}

fn compact_s3_notification(record: &Map<String, Value>) -> Value {
    let mut out = Map::new();
    for key in ["eventName", "eventTime", "awsRegion"] {
        if let Some(value) = record.get(key) {
            out.insert(key.into(), trim(value, MAX_OTHER_CHARS, 0));
        }
    }
    if let Some(principal) = record
        .get("userIdentity")
        .and_then(|u| u.get("principalId"))
    {
        out.insert("principalId".into(), trim(principal, MAX_OTHER_CHARS, 0));
    }
    if let Some(ip) = record
        .get("requestParameters")
        .and_then(|p| p.get("sourceIPAddress"))
    {
        out.insert("sourceIPAddress".into(), trim(ip, MAX_OTHER_CHARS, 0));
    }
    if let Some(s3) = record.get("s3") {
        if let Some(bucket) = s3.get("bucket").and_then(|b| b.get("name")) {
            out.insert("bucket".into(), trim(bucket, MAX_OTHER_CHARS, 0));
        }
        if let Some(object) = s3.get("object").and_then(Value::as_object) {
            let mut kept = object.clone();
            kept.retain(|k, _| matches!(k.as_str(), "key" | "size" | "versionId"));
            out.insert("object".into(), trim(&Value::Object(kept), 1_024, 0));
        }
    }
    Value::Object(out)
}

/// Other EventBridge events (GuardDuty findings, ...): the envelope's ids and resources go, the
/// detail stays, trimmed.
fn compact_envelope(envelope: &Map<String, Value>) -> Value {
    let mut out = Map::new();
    for (key, value) in envelope {
        if matches!(key.as_str(), "version" | "id" | "resources") {
            continue;
        }
        let kept = match value.as_object() {
            Some(detail) if key == "detail" => compact_generic(detail, MAX_OTHER_CHARS),
            _ => trim(value, MAX_OTHER_CHARS, 0),
        };
        out.insert(key.clone(), kept);
    }
    Value::Object(out)
}

/// Findings and unknown shapes: schema noise dropped, the rest trimmed.
fn compact_generic(object: &Map<String, Value>, max_chars: usize) -> Value {
    let mut out = Map::new();
    for (key, value) in object {
        if is_ingestion_field(key)
            || value.is_null()
            || matches!(
                key.to_ascii_lowercase().as_str(),
                "schemaversion" | "partition" | "arn" | "archived"
            )
        {
            continue;
        }
        out.insert(key.clone(), trim(value, max_chars, 1));
    }
    Value::Object(out)
}

fn cut(text: &str, max_chars: usize) -> String {
    match text.char_indices().nth(max_chars) {
        None => text.to_string(),
        Some((at, _)) => {
            let rest = text.get(at..).map_or(0, |r| r.chars().count());
            format!("{}…[+{rest} chars]", text.get(..at).unwrap_or_default())
        }
    }
}

/// Strings cut to `max_chars`, arrays to `MAX_ITEMS` (with a marker), nesting below
/// `MAX_DEPTH` summarised.
fn trim(value: &Value, max_chars: usize, depth: usize) -> Value {
    trim_with(value, max_chars, MAX_ITEMS, MAX_DEPTH, depth)
}

/// [`trim`] with explicit limits; empty objects and arrays are dropped from objects.
fn trim_with(
    value: &Value,
    max_chars: usize,
    max_items: usize,
    max_depth: usize,
    depth: usize,
) -> Value {
    match value {
        Value::String(text) => Value::String(cut(text, max_chars)),
        Value::Array(items) => {
            if depth >= max_depth {
                return Value::String(format!("[{} items]", items.len()));
            }
            let mut kept: Vec<Value> = items
                .iter()
                .take(max_items)
                .map(|v| trim_with(v, max_chars, max_items, max_depth, depth + 1))
                .collect();
            if items.len() > max_items {
                kept.push(Value::String(format!(
                    "…[+{} more]",
                    items.len() - max_items
                )));
            }
            Value::Array(kept)
        }
        Value::Object(map) => {
            if depth >= max_depth {
                return Value::String(format!("[{} keys]", map.len()));
            }
            Value::Object(
                map.iter()
                    .filter(|(_, v)| !is_empty_container(v))
                    .map(|(k, v)| {
                        (
                            cut(k, 128),
                            trim_with(v, max_chars, max_items, max_depth, depth + 1),
                        )
                    })
                    .collect(),
            )
        }
        other => other.clone(),
    }
}

fn is_empty_container(value: &Value) -> bool {
    match value {
        Value::Object(map) => map.is_empty(),
        Value::Array(items) => items.is_empty(),
        Value::Null => true,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn cloudtrail_keeps_signal_and_drops_noise() {
        let record = json!({
            "eventVersion": "1.09",
            "userIdentity": {"type": "AssumedRole", "principalId": "AROA:x", "arn": "arn:aws:sts::1:assumed-role/R/s",
                "accountId": "1", "accessKeyId": "ASIA1",
                "sessionContext": {"sessionIssuer": {"type": "Role", "principalId": "AROA", "arn": "arn:aws:iam::1:role/R", "accountId": "1", "userName": "R"},
                    "webIdFederationData": {}, "attributes": {"creationDate": "t", "mfaAuthenticated": "false"}}},
            "eventTime": "t", "eventSource": "s3.amazonaws.com", "eventName": "PutObject", "awsRegion": "us-east-1",
            "sourceIPAddress": "203.0.113.1", "userAgent": "ua",
            "requestParameters": {"bucketName": "b", "Host": "b.s3.us-east-1.amazonaws.com", "key": "k.png", "x-id": "PutObject"},
            "responseElements": null, "additionalEventData": {"SignatureVersion": "SigV4", "bytesTransferredIn": 10, "x-amz-id-2": "z"},
            "requestID": "r", "eventID": "e", "readOnly": false, "eventType": "AwsApiCall", "managementEvent": false,
            "recipientAccountId": "1", "eventCategory": "Data", "tlsDetails": {"tlsVersion": "TLSv1.3"},
            "resources": [{"type": "AWS::S3::Object", "ARN": "arn:aws:s3:::b/k.png"}, {"accountId": "1", "type": "AWS::S3::Bucket", "ARN": "arn:aws:s3:::b"}],
            "@timestamp": "x", "p_log_type": "AWS.CloudTrail"
        });
        let compact = compact_event(&record);
        assert_eq!(
            compact,
            json!({
                "userIdentity": {"arn": "arn:aws:sts::1:assumed-role/R/s", "mfaAuthenticated": "false"},
                "eventSource": "s3", "eventName": "PutObject", "awsRegion": "us-east-1",
                "sourceIPAddress": "203.0.113.1", "userAgent": "ua",
                "requestParameters": {"bucketName": "b", "key": "k.png"},
                "additionalEventData": {"bytesTransferredIn": 10},
                "eventCategory": "Data"
            })
        );
    }

    #[test]
    fn errors_foreign_accounts_and_unclear_reads_stay() {
        let record = json!({"eventName": "AssumeRole", "eventSource": "sts.amazonaws.com", "readOnly": true,
            "userIdentity": {"type": "IAMUser", "accountId": "1", "userName": "u"},
            "errorCode": "AccessDenied", "errorMessage": "denied", "recipientAccountId": "2",
            "resources": [{"ARN": "arn:aws:iam::2:role/X", "accountId": "2"}, {"ARN": "arn:aws:iam::2:role/X", "accountId": "2"}]});
        let compact = compact_event(&record);
        assert_eq!(compact["readOnly"], true);
        assert_eq!(compact["errorCode"], "AccessDenied");
        assert_eq!(compact["recipientAccountId"], "2");
        assert_eq!(
            compact["resources"],
            json!([{"ARN": "arn:aws:iam::2:role/X", "accountId": "2"}])
        );
    }

    #[test]
    fn envelopes_reduce_and_long_values_are_cut() {
        let envelope = json!({"version": "0", "id": "i", "detail-type": "AWS API Call via CloudTrail",
            "detail": {"eventName": "X", "eventSource": "s", "requestParameters": {"p": "y".repeat(3000), "list": (0..20).collect::<Vec<_>>()}}});
        let compact = compact_event(&envelope);
        assert_eq!(compact["eventName"], "X");
        let p = compact["requestParameters"]["p"].as_str().unwrap();
        assert!(p.starts_with(&"y".repeat(1024)) && p.ends_with("…[+1976 chars]"));
        assert_eq!(
            compact["requestParameters"]["list"]
                .as_array()
                .unwrap()
                .len(),
            13
        );

        let object = json!({"version": "0", "id": "i", "detail-type": "Object Created", "source": "aws.s3",
            "account": "1", "time": "t", "region": "r", "resources": ["arn:aws:s3:::b"],
            "detail": {"version": "0", "bucket": {"name": "b"}, "object": {"key": "k", "size": 1, "etag": "e", "sequencer": "s"},
                "request-id": "q", "requester": "1", "source-ip-address": "203.0.113.1", "reason": "PutObject"}});
        assert_eq!(
            compact_event(&object),
            json!({"detail-type": "Object Created", "time": "t", "account": "1", "region": "r",
            "bucket": "b", "object": {"key": "k", "size": 1}, "requester": "1", "source-ip-address": "203.0.113.1", "reason": "PutObject"})
        );
    }
}
