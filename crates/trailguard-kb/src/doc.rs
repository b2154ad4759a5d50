//! The knowledge document: one analysed event, one workflow outcome or one GuardDuty finding,
//! with the facts a security analyst filters on kept as typed fields, and the Markdown body that
//! retrieval reads ([`markdown`]). Builders are pure functions of what TrailGuard already has:
//! the analysis record and the raw event ([`event_doc`]), a finding ([`event_doc`] again: the
//! readers classify it), and an execution's outcome ([`outcome_doc`]).

use serde::{Deserialize, Serialize};
use serde_json::Value;
use trailguard_core::{AnalysisRecord, ThreatLevel};
use trailguard_events::{parse_event, Event};

use crate::time::{format_time, parse_time};

/// What a document is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum DocKind {
    /// An analysed event (CloudTrail, S3 notification or EventBridge).
    #[default]
    Event,
    /// What the workflow did about an event: alert sent, image deleted or quarantined, failure.
    Outcome,
    /// A GuardDuty finding.
    Finding,
}

impl DocKind {
    pub const ALL: [DocKind; 3] = [DocKind::Event, DocKind::Outcome, DocKind::Finding];

    pub fn as_str(self) -> &'static str {
        match self {
            DocKind::Event => "event",
            DocKind::Outcome => "outcome",
            DocKind::Finding => "finding",
        }
    }

    pub fn parse(text: &str) -> Option<DocKind> {
        DocKind::ALL.into_iter().find(|kind| kind.as_str() == text)
    }
}

/// One document of the knowledge base. `id` is unique and stable: re-adding the same event gives
/// the same id, so adding twice stores it once.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct KnowledgeDoc {
    pub id: String,
    pub kind: DocKind,
    /// Unix seconds, UTC; 0 when the event carries no time.
    pub time: i64,
    /// The event's own id (CloudTrail `eventID`, the finding `Id`); for outcomes, the event's.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub event_id: String,
    /// API call or event name (`ConsoleLogin`); for findings the API the finding saw, if any;
    /// for outcomes the analysed event's.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub event_name: String,
    /// Service (`signin.amazonaws.com`).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub event_source: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub account: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub region: String,
    /// Who acted, as the analysis names them (user name, role session, `root`).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub principal: String,
    /// `IAMUser`, `AssumedRole`, `Root`, ...
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub principal_type: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub source_ip: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub user_agent: String,
    /// low | medium | high.
    #[serde(default)]
    pub threat_level: ThreatLevel,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rule_ids: Vec<String>,
    /// Titles of the rules that fired, same order as `rule_ids`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rule_titles: Vec<String>,
    /// MITRE ATT&CK technique ids.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub attack_ids: Vec<String>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub finding_type: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub resource_arns: Vec<String>,
    /// The object the event names, `s3://bucket/key`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub s3_object: String,
    /// Whether MFA was used: a console sign-in's `MFAUsed`, else the session's
    /// `mfaAuthenticated`; `None` when the event does not say.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mfa: Option<bool>,
    /// The API error (`AccessDenied`); empty for calls that succeeded.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub error_code: String,
    /// Outcomes: deleted | quarantined | alerted | none | failed.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub action: String,
    /// Outcomes: the kinds of personal data found in the image (`CREDIT_CARD`, `KR_RRN`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub pii_types: Vec<String>,
    /// `[EventName][AccountId][Identity]`, or the finding's title.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub title: String,
    /// What happened, in a sentence or two: the analysis, the finding's description, or what
    /// the workflow did and why.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub summary: String,
    /// Outcomes: the id of the event document they follow from.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub related: String,
    /// Where the raw record is: `file#record=N`, or `s3://bucket/key#record=N`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub raw_link: String,
}

impl KnowledgeDoc {
    /// A stable 64-bit hash of the document's content (FNV-1a over its JSON, which keeps field
    /// order): a store skips a re-added document whose hash it already holds.
    pub fn content_hash(&self) -> u64 {
        fnv1a(serde_json::to_string(self).unwrap_or_default().as_bytes())
    }

    /// `failed` when the call returned an error, else `succeeded` (outcomes: the action).
    pub fn status(&self) -> &'static str {
        if self.error_code.is_empty() {
            "succeeded"
        } else {
            "failed"
        }
    }
}

/// Why an event could not become a document.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DocError {
    #[error("not valid JSON: {0}")]
    Json(String),
    #[error("not an event TrailGuard reads: {0}")]
    Event(String),
}

/// FNV-1a 64: stable across Rust versions (unlike `DefaultHasher`), used for ids and hashes.
pub fn fnv1a(bytes: &[u8]) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in bytes {
        hash ^= u64::from(*byte);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    hash
}

/// JSON with object keys sorted, so the same record hashes the same whatever the key order it
/// came in (a trail file, an EventBridge `detail`).
fn canonical_json(value: &Value, out: &mut String) {
    match value {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            out.push('{');
            for (index, key) in keys.into_iter().enumerate() {
                if index > 0 {
                    out.push(',');
                }
                out.push_str(&Value::String(key.clone()).to_string());
                out.push(':');
                if let Some(inner) = map.get(key) {
                    canonical_json(inner, out);
                }
            }
            out.push('}');
        }
        Value::Array(items) => {
            out.push('[');
            for (index, item) in items.iter().enumerate() {
                if index > 0 {
                    out.push(',');
                }
                canonical_json(item, out);
            }
            out.push(']');
        }
        other => out.push_str(&other.to_string()),
    }
}

/// Characters kept in ids (they become S3 keys and citations): ASCII letters, digits, `.-_`.
fn id_safe(text: &str) -> String {
    text.chars()
        .take(96)
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_') {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// The record itself, without an EventBridge envelope: what identifies an event.
fn inner_record(value: &Value) -> &Value {
    match (value.get("detail"), value.get("detail-type")) {
        (Some(detail), Some(_)) if detail.is_object() => detail,
        _ => value,
    }
}

/// The id of an event document: the event's own id and 8 hex digits of the record's canonical
/// hash (`fd4f1042-...~1a2b3c4d`). CloudTrail ids are unique in real trails, but test sets reuse
/// ids like `1`; the hash keeps distinct records apart while the same record, however
/// delivered, keeps one id.
pub fn event_doc_id(event_id: Option<&str>, record: &Value) -> String {
    let mut canonical = String::new();
    canonical_json(inner_record(record), &mut canonical);
    let hash = fnv1a(canonical.as_bytes()) >> 32;
    match event_id.map(id_safe).filter(|id| !id.is_empty()) {
        Some(id) => format!("{id}~{hash:08x}"),
        None => format!("evt~{hash:08x}"),
    }
}

/// The id of an outcome document: one per analysed event and execution path.
pub fn outcome_doc_id(event_doc_id: &str) -> String {
    format!("out-{event_doc_id}")
}

/// `file#record=N`: where a raw record came from.
pub fn raw_link(file: &str, index: u64) -> String {
    format!("{file}#record={index}")
}

fn text_at<'v>(value: &'v Value, pointer: &str) -> Option<&'v str> {
    value
        .pointer(pointer)
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
}

/// Whether MFA was used, from what the event says.
fn mfa_of(record: &Value) -> Option<bool> {
    if let Some(used) = text_at(record, "/additionalEventData/MFAUsed") {
        return Some(used.eq_ignore_ascii_case("yes"));
    }
    match record.pointer("/userIdentity/sessionContext/attributes/mfaAuthenticated") {
        Some(Value::String(text)) => Some(text.eq_ignore_ascii_case("true")),
        Some(Value::Bool(flag)) => Some(*flag),
        _ => None,
    }
}

/// GuardDuty: the remote IP the finding's action names, and the API it saw.
fn finding_network(finding: &Value) -> (Option<&str>, Option<&str>) {
    let action = finding
        .pointer("/service/action")
        .or_else(|| finding.pointer("/Service/Action"));
    let Some(action) = action else {
        return (None, None);
    };
    let ip = [
        "/awsApiCallAction/remoteIpDetails/ipAddressV4",
        "/networkConnectionAction/remoteIpDetails/ipAddressV4",
        "/kubernetesApiCallAction/remoteIpDetails/ipAddressV4",
        "/portProbeAction/portProbeDetails/0/remoteIpDetails/ipAddressV4",
        "/rdsLoginAttemptAction/remoteIpDetails/ipAddressV4",
    ]
    .iter()
    .find_map(|pointer| text_at(action, pointer));
    let api = text_at(action, "/awsApiCallAction/api");
    (ip, api)
}

/// Every ARN the record names: `resources[].ARN`, the identity's ARN, a finding's ARN.
fn arns_of(record: &Value) -> Vec<String> {
    let mut arns: Vec<String> = Vec::new();
    let mut push = |arn: &str| {
        if arn.starts_with("arn:") && !arns.iter().any(|a| a == arn) {
            arns.push(arn.to_string());
        }
    };
    if let Some(resources) = record.get("resources").and_then(Value::as_array) {
        for resource in resources {
            if let Some(arn) = resource
                .get("ARN")
                .or_else(|| resource.get("arn"))
                .and_then(Value::as_str)
            {
                push(arn);
            }
        }
    }
    for pointer in ["/userIdentity/arn", "/arn", "/Arn"] {
        if let Some(arn) = text_at(record, pointer) {
            push(arn);
        }
    }
    arns
}

/// The event document (or, for a GuardDuty finding, the finding document) of one analysed
/// event: `record` is TrailGuard's analysis of `event_json`, `link` where the raw record is
/// ([`raw_link`]).
pub fn event_doc(
    record: &AnalysisRecord,
    event_json: &str,
    link: &str,
) -> Result<KnowledgeDoc, DocError> {
    let value: Value =
        serde_json::from_str(event_json).map_err(|e| DocError::Json(e.to_string()))?;
    let event = parse_event(event_json).map_err(|e| DocError::Event(e.to_string()))?;
    let inner = inner_record(&value);
    let event_id = event
        .event_id()
        .map(str::to_string)
        .or_else(|| record.event_id.clone());
    let time = event
        .event_time()
        .or(record.event_time.as_deref())
        .or_else(|| text_at(inner, "/@timestamp"))
        .and_then(parse_time)
        .unwrap_or(0);
    let mut doc = KnowledgeDoc {
        kind: DocKind::Event,
        time,
        event_name: event.event_name().unwrap_or_default().to_string(),
        account: event.account_id().unwrap_or_default().to_string(),
        region: event.region().unwrap_or_default().to_string(),
        principal: event
            .identity_display()
            .map(|name| name.into_owned())
            .unwrap_or_default(),
        source_ip: event.source_ip_address().unwrap_or_default().to_string(),
        threat_level: record.threat_level,
        rule_ids: record
            .reasons
            .iter()
            .map(|hit| hit.rule_id.clone())
            .collect(),
        rule_titles: record.reasons.iter().map(|hit| hit.title.clone()).collect(),
        attack_ids: record.mitre_techniques.clone(),
        resource_arns: arns_of(inner),
        title: record.event_title.clone(),
        summary: record.summarize.clone(),
        raw_link: link.to_string(),
        ..KnowledgeDoc::default()
    };
    if let (Some(bucket), Some(key)) = (&record.s3_bucket, &record.s3_key) {
        doc.s3_object = format!("s3://{bucket}/{key}");
    }
    match &event {
        Event::CloudTrail(cloudtrail) => {
            let r = &cloudtrail.record;
            doc.event_source = r.event_source.as_deref().unwrap_or_default().to_string();
            doc.user_agent = r.user_agent.as_deref().unwrap_or_default().to_string();
            doc.error_code = r.error_code.as_deref().unwrap_or_default().to_string();
            // A failed console sign-in has no errorCode: CloudTrail says so in the response.
            if doc.error_code.is_empty()
                && text_at(inner, "/responseElements/ConsoleLogin") == Some("Failure")
            {
                doc.error_code = text_at(inner, "/errorMessage")
                    .unwrap_or("ConsoleLoginFailure")
                    .to_string();
            }
            doc.principal_type = r
                .user_identity
                .as_ref()
                .and_then(|u| u.identity_type.as_deref())
                .unwrap_or_default()
                .to_string();
            doc.mfa = mfa_of(inner);
        }
        Event::GuardDuty(guardduty) => {
            let finding = &guardduty.finding;
            doc.kind = DocKind::Finding;
            doc.finding_type = finding
                .finding_type
                .as_deref()
                .unwrap_or_default()
                .to_string();
            doc.event_source = "guardduty".into();
            let (ip, api) = finding_network(inner);
            doc.source_ip = ip.unwrap_or_default().to_string();
            doc.event_name = api.unwrap_or_default().to_string();
            doc.title = finding
                .title
                .as_deref()
                .map(str::to_string)
                .unwrap_or_else(|| doc.finding_type.clone());
            let description = finding.description.as_deref().unwrap_or_default();
            let severity = finding
                .severity
                .map(|s| format!(" Severity {s} ({}).", doc.threat_level))
                .unwrap_or_default();
            doc.summary = format!("{description}{severity}").trim().to_string();
            if doc.summary.is_empty() {
                doc.summary = record.summarize.clone();
            }
        }
        Event::S3Notification(_) => doc.event_source = "s3.amazonaws.com".into(),
        Event::S3EventBridge(_) => doc.event_source = "aws.s3".into(),
    }
    doc.event_id = event_id.clone().unwrap_or_default();
    doc.id = match (doc.kind, event_id.as_deref().map(id_safe)) {
        // One document per finding id: GuardDuty updates a finding in place.
        (DocKind::Finding, Some(id)) if !id.is_empty() => id,
        _ => event_doc_id(event_id.as_deref(), &value),
    };
    Ok(doc)
}

/// One kind of personal data found in an image, as the workflow's audit record names it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct PiiFinding {
    pub kind: String,
    /// Masked as the detector reports it (`**** **** **** 1111`): never the value itself.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub masked_value: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub confidence: Option<f64>,
}

/// What one workflow execution did about an event: the facts an outcome document is built
/// from, whatever ran the workflow (`trailguard run` locally, Step Functions on AWS).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct WorkflowOutcome {
    /// deleted | quarantined | alerted | none | failed.
    pub action: String,
    /// The execution's status (`SUCCEEDED`, `FAILED`).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub status: String,
    /// The states taken, in order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub path: Vec<String>,
    /// The object version removed: `s3://bucket/key` (`?versionId=...` when versioned).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deleted: Option<String>,
    /// Where a quarantined copy went.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quarantined_to: Option<String>,
    #[serde(default)]
    pub pii_checked: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pii_detected: Option<bool>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub pii_evidence: Vec<PiiFinding>,
    /// The detector's reason (`PII found: CREDIT_CARD x1 ...`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pii_reason: Option<String>,
    /// Subjects of the alerts published.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub alerts: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cause: Option<String>,
}

/// The outcome document of an execution over the event documented by `event`: the event's facts
/// (who, where, when) with what the workflow did and why.
pub fn outcome_doc(outcome: &WorkflowOutcome, event: &KnowledgeDoc) -> KnowledgeDoc {
    let mut pii_types: Vec<String> = Vec::new();
    for finding in &outcome.pii_evidence {
        if !pii_types.contains(&finding.kind) {
            pii_types.push(finding.kind.clone());
        }
    }
    let object = outcome
        .deleted
        .clone()
        .unwrap_or_else(|| event.s3_object.clone());
    let found: Vec<String> = outcome
        .pii_evidence
        .iter()
        .map(|f| {
            if f.masked_value.is_empty() {
                f.kind.clone()
            } else {
                format!("{} ({})", f.kind, f.masked_value)
            }
        })
        .collect();
    let what = match outcome.action.as_str() {
        "deleted" => format!("The image {object} was deleted"),
        "quarantined" => format!(
            "The image {object} was moved to quarantine{} and deleted",
            outcome
                .quarantined_to
                .as_deref()
                .map(|to| format!(" ({to})"))
                .unwrap_or_default()
        ),
        "alerted" => format!(
            "An alert was sent ({})",
            if outcome.alerts.is_empty() {
                "no subject".to_string()
            } else {
                outcome.alerts.join("; ")
            }
        ),
        "failed" => "The workflow failed and the event needs manual review".to_string(),
        _ => "The workflow took no action".to_string(),
    };
    let mut why = Vec::new();
    if !found.is_empty() {
        why.push(format!("personal data found: {}", found.join(", ")));
    } else if outcome.pii_checked && outcome.pii_detected == Some(false) {
        why.push("the image was checked and holds no personal data".to_string());
    }
    if let Some(reason) = &outcome.pii_reason {
        if found.is_empty() {
            why.push(reason.clone());
        }
    }
    if let Some(error) = &outcome.error {
        why.push(format!(
            "error {error}{}",
            outcome
                .cause
                .as_deref()
                .map(|c| format!(": {c}"))
                .unwrap_or_default()
        ));
    }
    let summary = if why.is_empty() {
        format!("{what}. The event: {}", event.summary)
    } else {
        format!(
            "{what} because {}. The event: {}",
            why.join("; "),
            event.summary
        )
    };
    KnowledgeDoc {
        id: outcome_doc_id(&event.id),
        kind: DocKind::Outcome,
        action: outcome.action.clone(),
        pii_types,
        title: format!("[{}] {}", outcome.action, event.title),
        summary,
        related: event.id.clone(),
        s3_object: object,
        resource_arns: Vec::new(),
        ..event.clone()
    }
}

/// An outcome as a JSON line: what the workflow did, the analysis, and the raw event, so the
/// outcome and its event can be added to a knowledge base later (`trailguard kb add` reads these
/// lines beside events: the `trailguard_outcome` key tells them apart).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OutcomeRecord {
    pub trailguard_outcome: WorkflowOutcome,
    pub analysis: AnalysisRecord,
    /// The raw event the workflow ran on.
    pub event: Value,
    /// Where the raw event came from (`file#record=N`).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub origin: String,
}

impl OutcomeRecord {
    /// The event document and the outcome document.
    pub fn documents(&self, link: &str) -> Result<(KnowledgeDoc, KnowledgeDoc), DocError> {
        let link = if self.origin.is_empty() {
            link
        } else {
            &self.origin
        };
        let event = event_doc(&self.analysis, &self.event.to_string(), link)?;
        let outcome = outcome_doc(&self.trailguard_outcome, &event);
        Ok((event, outcome))
    }
}

/// The Markdown body retrieval reads: a title, the facts as a list (everything a filter holds is
/// also in the text, so free text finds it), then the summary.
pub fn markdown(doc: &KnowledgeDoc) -> String {
    let mut text = String::with_capacity(512 + doc.summary.len());
    let title = if doc.title.is_empty() {
        &doc.event_name
    } else {
        &doc.title
    };
    text.push_str("### ");
    text.push_str(title);
    text.push('\n');
    let mut line = |label: &str, value: &str| {
        if !value.is_empty() {
            text.push_str("- ");
            text.push_str(label);
            text.push_str(": ");
            text.push_str(value);
            text.push('\n');
        }
    };
    line("Document", &doc.id);
    line("Kind", doc.kind.as_str());
    if doc.time != 0 {
        line("Time", &format_time(doc.time));
    }
    line("Threat level", doc.threat_level.as_str());
    line("Event", &doc.event_name);
    line("Service", &doc.event_source);
    line("Finding type", &doc.finding_type);
    line("Principal", &doc.principal);
    line("Identity type", &doc.principal_type);
    line("Account", &doc.account);
    line("Region", &doc.region);
    line("Source IP", &doc.source_ip);
    line("User agent", &doc.user_agent);
    line("Object", &doc.s3_object);
    match doc.mfa {
        Some(true) => line("MFA", "used"),
        Some(false) => line("MFA", "not used (no MFA)"),
        None => {}
    }
    line("Error", &doc.error_code);
    line("Action taken", &doc.action);
    line("Personal data", &doc.pii_types.join(", "));
    let rules: Vec<String> = doc
        .rule_ids
        .iter()
        .zip(
            doc.rule_titles
                .iter()
                .map(Some)
                .chain(std::iter::repeat(None)),
        )
        .map(|(id, title)| match title {
            Some(title) => format!("{title} ({id})"),
            None => id.clone(),
        })
        .collect();
    line("Rules", &rules.join("; "));
    line("ATT&CK", &doc.attack_ids.join(", "));
    line("Resources", &doc.resource_arns.join(", "));
    line("Event id", &doc.event_id);
    line("About event", &doc.related);
    line("Raw record", &doc.raw_link);
    text.push('\n');
    text.push_str(doc.summary.trim());
    text.push('\n');
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use trailguard_core::{EventSource, RuleHit};

    fn record(level: ThreatLevel) -> AnalysisRecord {
        AnalysisRecord {
            event_title: "[ConsoleLogin][111122223333][root]".into(),
            summarize: "root signed in to the console without MFA.".into(),
            threat_level: level,
            s3_bucket: None,
            s3_key: None,
            is_image_upload: false,
            media_type: None,
            s3_version_id: None,
            event_id: None,
            event_time: None,
            source: EventSource::Cloudtrail,
            reasons: vec![RuleHit {
                rule_id: "trailguard.root_login".into(),
                title: "Root console login".into(),
                level,
                reason: "root".into(),
                mitre: vec!["T1078.004".into()],
            }],
            mitre_techniques: vec!["T1078.004".into()],
        }
    }

    const LOGIN: &str = r#"{"eventVersion":"1.08","eventTime":"2026-11-25T09:00:00Z","eventSource":"signin.amazonaws.com","eventName":"ConsoleLogin","awsRegion":"us-east-1","sourceIPAddress":"203.0.113.9","userAgent":"Mozilla/5.0","userIdentity":{"type":"Root","arn":"arn:aws:iam::111122223333:root","accountId":"111122223333"},"additionalEventData":{"MFAUsed":"No"},"eventID":"e-1","recipientAccountId":"111122223333"}"#;

    #[test]
    fn event_documents_carry_the_facts() {
        let doc = event_doc(&record(ThreatLevel::High), LOGIN, "trail.json#record=0").unwrap();
        assert_eq!(doc.kind, DocKind::Event);
        assert!(doc.id.starts_with("e-1~"), "{}", doc.id);
        assert_eq!(doc.principal, "root");
        assert_eq!(doc.principal_type, "Root");
        assert_eq!(doc.source_ip, "203.0.113.9");
        assert_eq!(doc.mfa, Some(false));
        assert_eq!(doc.time, 1_795_597_200);
        assert_eq!(doc.rule_ids, ["trailguard.root_login"]);
        let text = markdown(&doc);
        assert!(text.contains("- MFA: not used"), "{text}");
        assert!(text.contains("Root console login (trailguard.root_login)"));
    }

    #[test]
    fn ids_are_stable_and_tell_records_apart() {
        let a = event_doc(&record(ThreatLevel::High), LOGIN, "a#record=0").unwrap();
        // The same record in another key order and another file: the same id.
        let value: Value = serde_json::from_str(LOGIN).unwrap();
        let mut reordered: Vec<(String, Value)> =
            value.as_object().unwrap().clone().into_iter().collect();
        reordered.reverse();
        let reordered: serde_json::Map<String, Value> = reordered.into_iter().collect();
        let b = event_doc(
            &record(ThreatLevel::Low),
            &Value::Object(reordered).to_string(),
            "b#record=9",
        )
        .unwrap();
        assert_eq!(a.id, b.id);
        // Another record reusing the event id gets another id.
        let other = LOGIN.replace("203.0.113.9", "198.51.100.1");
        let c = event_doc(&record(ThreatLevel::High), &other, "a#record=1").unwrap();
        assert_ne!(a.id, c.id);
        assert!(c.id.starts_with("e-1~"));
    }

    #[test]
    fn bad_input_is_an_error_not_a_panic() {
        let r = record(ThreatLevel::Low);
        assert!(matches!(event_doc(&r, "{", "x"), Err(DocError::Json(_))));
        assert!(matches!(event_doc(&r, "[1]", "x"), Err(DocError::Event(_))));
        assert!(matches!(
            event_doc(&r, "{\"a\":1}", "x"),
            Err(DocError::Event(_))
        ));
    }

    #[test]
    fn outcomes_say_what_was_done_and_why() {
        let mut event = event_doc(&record(ThreatLevel::Low), LOGIN, "x#record=0").unwrap();
        event.s3_object = "s3://uploads/passport.png".into();
        let outcome = WorkflowOutcome {
            action: "deleted".into(),
            deleted: Some("s3://uploads/passport.png".into()),
            pii_checked: true,
            pii_detected: Some(true),
            pii_evidence: vec![PiiFinding {
                kind: "MRZ".into(),
                masked_value: "P<KOR****".into(),
                confidence: Some(0.9),
            }],
            ..WorkflowOutcome::default()
        };
        let doc = outcome_doc(&outcome, &event);
        assert_eq!(doc.kind, DocKind::Outcome);
        assert_eq!(doc.id, format!("out-{}", event.id));
        assert_eq!(doc.related, event.id);
        assert_eq!(doc.pii_types, ["MRZ"]);
        assert!(doc
            .summary
            .contains("was deleted because personal data found: MRZ"));
        assert_eq!(doc.principal, "root");
    }
}
