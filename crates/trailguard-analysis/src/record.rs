//! The analysis record: title, readable summary and S3 fields, built from facts taken from the
//! event itself plus the rule hits.

use crate::media;
use trailguard_core::{AnalysisRecord, EventSource, RuleHit, ThreatLevel};

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
    pub declared_content_type: Option<String>,
    /// True for object uploads: PutObject, CompleteMultipartUpload, CopyObject, "Object Created".
    pub is_object_upload: bool,
    /// GuardDuty finding title, used instead of an API-call sentence.
    pub finding_title: Option<String>,
    pub finding_severity: Option<f64>,
}

/// Longest value quoted inside a summary; longer values are cut so one hostile field cannot
/// flood an alert e-mail.
const MAX_QUOTED_CHARS: usize = 200;

/// Appends `value` with control characters turned into spaces and cut at `MAX_QUOTED_CHARS`.
/// Appends in place: this runs for every field of every event.
fn push_quoted(out: &mut String, value: &str) {
    // Values rarely need trimming; a printable ASCII byte at both ends proves it.
    let printable = |b: Option<&u8>| b.is_some_and(|&b| b > b' ' && b < 0x80);
    let bytes = value.as_bytes();
    let value = if printable(bytes.first()) && printable(bytes.last()) {
        value
    } else {
        value.trim()
    };
    // Control characters are ASCII below 0x20, DEL, or C1 (UTF-8 lead byte 0xC2); a word scan
    // clears the common case without decoding chars.
    let clean = value.len() <= MAX_QUOTED_CHARS
        && (!any_byte(value.as_bytes(), maybe_control) || !value.chars().any(char::is_control));
    if clean {
        out.push_str(value);
        return;
    }
    let mut chars = value.chars();
    for c in chars.by_ref().take(MAX_QUOTED_CHARS) {
        out.push(if c.is_control() { ' ' } else { c });
    }
    if chars.next().is_some() {
        out.push('…');
    }
}

fn push_or_unknown(out: &mut String, value: Option<&str>) {
    match value.filter(|v| !v.trim().is_empty()) {
        Some(value) => push_quoted(out, value),
        None => out.push_str("unknown"),
    }
}

/// `[EventName][AccountId][Identity]`, the guide's title format.
pub fn event_title(facts: &EventFacts) -> String {
    let mut title = String::with_capacity(64);
    for part in [&facts.action, &facts.account_id, &facts.identity] {
        title.push('[');
        push_or_unknown(&mut title, part.as_deref());
        title.push(']');
    }
    title
}

fn push_identity(out: &mut String, facts: &EventFacts) {
    let label = match facts.identity_type.as_deref() {
        Some("Root") => {
            out.push_str("the root user");
            None
        }
        Some("IAMUser") => Some("IAM user "),
        Some("AssumedRole") => Some("assumed role "),
        Some("FederatedUser") => Some("federated user "),
        Some("AWSService") => Some("AWS service "),
        Some("AWSAccount") => Some("AWS account "),
        Some("IdentityCenterUser") => Some("Identity Center user "),
        Some(other) if !other.is_empty() => {
            push_quoted(out, other);
            Some(" ")
        }
        _ => Some(""),
    };
    if let Some(label) = label {
        out.push_str(label);
        push_or_unknown(out, facts.identity.as_deref());
    }
    if let Some(account) = facts.account_id.as_deref().filter(|a| !a.is_empty()) {
        out.push_str(" (account ");
        push_quoted(out, account);
        out.push(')');
    }
}

/// Appends the object or resource acted on; false when the event names none.
fn push_target(out: &mut String, prefix: &str, facts: &EventFacts) {
    match (facts.s3_bucket.as_deref(), facts.s3_key.as_deref()) {
        (Some(bucket), Some(key)) => {
            out.push_str(prefix);
            out.push_str("s3://");
            push_quoted(out, bucket);
            out.push('/');
            push_quoted(out, key);
        }
        (Some(bucket), None) => {
            out.push_str(prefix);
            out.push_str("bucket ");
            push_quoted(out, bucket);
        }
        _ => {
            if let Some(resource) = facts.resource.as_deref() {
                out.push_str(prefix);
                push_quoted(out, resource);
            }
        }
    }
}

fn push_labelled(out: &mut String, label: &str, value: Option<&str>) {
    if let Some(value) = value {
        out.push_str(label);
        push_quoted(out, value);
    }
}

/// A readable English sentence: who, what, which resource, from where, with what result.
pub fn summarize(facts: &EventFacts, hits: &[RuleHit], level: ThreatLevel) -> String {
    let mut text = String::with_capacity(512);
    if let Some(title) = facts.finding_title.as_deref() {
        text.push_str("GuardDuty finding ");
        push_or_unknown(&mut text, facts.action.as_deref());
        text.push_str(": ");
        push_quoted(&mut text, title);
        if let Some(severity) = facts.finding_severity {
            text.push_str(&format!(" (severity {severity:.1})"));
        }
        push_labelled(&mut text, " in account ", facts.account_id.as_deref());
        push_target(&mut text, ", affecting ", facts);
    } else {
        push_identity(&mut text, facts);
        text.push_str(" called ");
        push_or_unknown(&mut text, facts.action.as_deref());
        if let Some(service) = facts.service.as_deref() {
            text.push_str(" (");
            push_quoted(&mut text, service);
            text.push(')');
        }
        push_target(&mut text, " on ", facts);
        push_labelled(&mut text, " from ", facts.source_ip.as_deref());
        push_labelled(&mut text, " in ", facts.region.as_deref());
        push_labelled(&mut text, " using ", facts.user_agent.as_deref());
        match facts.error_code.as_deref() {
            Some(code) => {
                text.push_str("; it failed with ");
                push_quoted(&mut text, code);
                push_labelled(&mut text, ": ", facts.error_message.as_deref());
            }
            None => text.push_str("; it succeeded"),
        }
    }
    push_labelled(&mut text, " at ", facts.event_time.as_deref());
    text.push('.');
    if hits.is_empty() {
        text.push_str(" No detection rule fired; rated low.");
    } else {
        text.push_str(" Rated ");
        text.push_str(level.as_str());
        text.push_str(": ");
        for (i, hit) in hits.iter().enumerate() {
            if i > 0 {
                text.push_str("; ");
            }
            push_quoted(&mut text, hit.title.trim_end_matches('.'));
        }
        text.push('.');
    }
    text
}

/// Builds the analysis record. Hits are sorted highest level first; the threat level is the
/// highest among them (low when none fired).
pub fn build_record(facts: &EventFacts, hits: Vec<RuleHit>) -> AnalysisRecord {
    let mut record = build_record_with(facts, hits);
    record.s3_bucket = facts.s3_bucket.clone();
    record.s3_key = facts.s3_key.clone();
    record.event_id = facts.event_id.clone();
    record.event_time = facts.event_time.clone();
    record
}

/// [`build_record`] that takes the facts by value, moving their strings into the record.
pub fn build_record_owned(mut facts: EventFacts, hits: Vec<RuleHit>) -> AnalysisRecord {
    let mut record = build_record_with(&facts, hits);
    record.s3_bucket = facts.s3_bucket.take();
    record.s3_key = facts.s3_key.take();
    record.event_id = facts.event_id.take();
    record.event_time = facts.event_time.take();
    record
}

/// The record without the four fields copied from the facts as they are.
fn build_record_with(facts: &EventFacts, mut hits: Vec<RuleHit>) -> AnalysisRecord {
    hits.sort_by(|a, b| {
        b.level
            .cmp(&a.level)
            .then_with(|| a.rule_id.cmp(&b.rule_id))
    });
    let level = hits
        .iter()
        .map(|hit| hit.level)
        .max()
        .unwrap_or(ThreatLevel::Low);
    let mut mitre: Vec<String> = hits
        .iter()
        .flat_map(|hit| hit.mitre.iter().cloned())
        .collect();
    mitre.sort();
    mitre.dedup();

    let media_type = facts
        .s3_key
        .as_deref()
        .and_then(|key| media::media_type(facts.declared_content_type.as_deref(), key));
    let is_image_upload = facts.is_object_upload
        && facts.s3_bucket.is_some()
        && media_type
            .as_deref()
            .is_some_and(media::is_image_media_type);

    AnalysisRecord {
        event_title: event_title(facts),
        summarize: summarize(facts, &hits, level),
        threat_level: level,
        s3_bucket: None,
        s3_key: None,
        is_image_upload,
        media_type,
        event_id: None,
        event_time: None,
        source: facts.source.unwrap_or(EventSource::Cloudtrail),
        reasons: hits,
        mitre_techniques: mitre,
    }
}

/// Appends `record` as one JSON object, byte for byte what `serde_json::to_writer` writes for
/// it, without serde's per-byte escaping loop (this runs for every output line).
pub fn write_json(record: &AnalysisRecord, out: &mut Vec<u8>) {
    out.extend_from_slice(b"{\"event_title\":");
    push_json_str(out, &record.event_title);
    out.extend_from_slice(b",\"summarize\":");
    push_json_str(out, &record.summarize);
    out.extend_from_slice(b",\"threat_level\":\"");
    out.extend_from_slice(record.threat_level.as_str().as_bytes());
    out.extend_from_slice(b"\",\"s3_bucket\":");
    push_json_opt(out, record.s3_bucket.as_deref());
    out.extend_from_slice(b",\"s3_key\":");
    push_json_opt(out, record.s3_key.as_deref());
    out.extend_from_slice(b",\"is_image_upload\":");
    out.extend_from_slice(if record.is_image_upload {
        b"true"
    } else {
        b"false"
    });
    out.extend_from_slice(b",\"media_type\":");
    push_json_opt(out, record.media_type.as_deref());
    out.extend_from_slice(b",\"event_id\":");
    push_json_opt(out, record.event_id.as_deref());
    out.extend_from_slice(b",\"event_time\":");
    push_json_opt(out, record.event_time.as_deref());
    out.extend_from_slice(b",\"source\":\"");
    out.extend_from_slice(record.source.as_str().as_bytes());
    out.extend_from_slice(b"\",\"reasons\":[");
    for (i, hit) in record.reasons.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        out.extend_from_slice(b"{\"rule_id\":");
        push_json_str(out, &hit.rule_id);
        out.extend_from_slice(b",\"title\":");
        push_json_str(out, &hit.title);
        out.extend_from_slice(b",\"level\":\"");
        out.extend_from_slice(hit.level.as_str().as_bytes());
        out.extend_from_slice(b"\",\"reason\":");
        push_json_str(out, &hit.reason);
        if !hit.mitre.is_empty() {
            out.extend_from_slice(b",\"mitre\":");
            push_json_strs(out, &hit.mitre);
        }
        out.push(b'}');
    }
    out.extend_from_slice(b"],\"mitre_techniques\":");
    push_json_strs(out, &record.mitre_techniques);
    out.push(b'}');
}

fn push_json_opt(out: &mut Vec<u8>, value: Option<&str>) {
    match value {
        Some(value) => push_json_str(out, value),
        None => out.extend_from_slice(b"null"),
    }
}

fn push_json_strs(out: &mut Vec<u8>, values: &[String]) {
    out.push(b'[');
    for (i, value) in values.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        push_json_str(out, value);
    }
    out.push(b']');
}

const ONES: u64 = 0x0101_0101_0101_0101;
const HIGHS: u64 = 0x8080_8080_8080_8080;

/// Nonzero when some byte of `word` is below 0x20 (exact as a yes/no test).
fn below_space(word: u64) -> u64 {
    word.wrapping_sub(ONES * 0x20) & !word & HIGHS
}

/// Nonzero when some byte of `word` equals `byte`.
fn has_byte(word: u64, byte: u8) -> u64 {
    let x = word ^ (ONES * u64::from(byte));
    x.wrapping_sub(ONES) & !x & HIGHS
}

/// True when one of the 8 bytes in `word` may start a control character (see `push_quoted`).
fn maybe_control(word: u64) -> bool {
    below_space(word) | has_byte(word, 0x7f) | has_byte(word, 0xc2) != 0
}

/// Whether `test` holds for some 8-byte word of `bytes` (the tail is padded with spaces).
fn any_byte(bytes: &[u8], test: fn(u64) -> bool) -> bool {
    let mut chunks = bytes.chunks_exact(8);
    let mut word = [b' '; 8];
    for chunk in chunks.by_ref() {
        word.copy_from_slice(chunk);
        if test(u64::from_le_bytes(word)) {
            return true;
        }
    }
    let tail = chunks.remainder();
    let mut word = [b' '; 8];
    word[..tail.len()].copy_from_slice(tail);
    test(u64::from_le_bytes(word))
}

/// Index of the first byte at or after `from` that JSON must escape (control, `"`, `\\`).
fn next_escape(bytes: &[u8], mut from: usize) -> Option<usize> {
    while let Some(chunk) = bytes.get(from..from + 8) {
        let mut word = [0u8; 8];
        word.copy_from_slice(chunk);
        let word = u64::from_le_bytes(word);
        // The lowest flagged byte of these tests is exact (false flags only follow a true one).
        let hits = below_space(word) | has_byte(word, b'"') | has_byte(word, b'\\');
        if hits != 0 {
            return Some(from + (hits.trailing_zeros() / 8) as usize);
        }
        from += 8;
    }
    bytes
        .get(from..)?
        .iter()
        .position(|&b| b < 0x20 || b == b'"' || b == b'\\')
        .map(|k| from + k)
}

/// A JSON string literal with serde_json's escapes (`\n`-style short forms, else `\u00XX`).
fn push_json_str(out: &mut Vec<u8>, value: &str) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let bytes = value.as_bytes();
    out.reserve(bytes.len() + 2);
    out.push(b'"');
    // Copy clean runs whole, found a word at a time; escape only the bytes that need it.
    let mut start = 0;
    while let Some(at) = next_escape(bytes, start) {
        let byte = bytes[at];
        let short = match byte {
            b'"' => b'"',
            b'\\' => b'\\',
            b'\n' => b'n',
            b'\r' => b'r',
            b'\t' => b't',
            0x08 => b'b',
            0x0c => b'f',
            _ => b'u',
        };
        out.extend_from_slice(&bytes[start..at]);
        out.push(b'\\');
        out.push(short);
        if short == b'u' {
            out.extend_from_slice(b"00");
            out.push(HEX[usize::from(byte >> 4)]);
            out.push(HEX[usize::from(byte & 0xf)]);
        }
        start = at + 1;
    }
    out.extend_from_slice(&bytes[start..]);
    out.push(b'"');
}

#[cfg(test)]
mod tests {
    use super::*;

    fn put_object() -> EventFacts {
        EventFacts {
            source: Some(EventSource::Cloudtrail),
            action: Some("PutObject".into()),
            service: Some("s3.amazonaws.com".into()),
            account_id: Some("123456789012".into()),
            identity: Some("alice".into()),
            identity_type: Some("IAMUser".into()),
            source_ip: Some("203.0.113.5".into()),
            region: Some("us-east-1".into()),
            event_time: Some("2026-11-25T10:00:00Z".into()),
            s3_bucket: Some("uploads".into()),
            s3_key: Some("cards/front.JPG".into()),
            is_object_upload: true,
            ..EventFacts::default()
        }
    }

    fn hit(level: ThreatLevel, id: &str, mitre: &[&str]) -> RuleHit {
        RuleHit {
            rule_id: id.into(),
            title: format!("rule {id}"),
            level,
            reason: "matched".into(),
            mitre: mitre.iter().map(|m| m.to_string()).collect(),
        }
    }

    #[test]
    fn image_upload_is_recognised_from_the_key() {
        let record = build_record(&put_object(), vec![]);
        assert_eq!(record.event_title, "[PutObject][123456789012][alice]");
        assert!(record.is_image_upload);
        assert_eq!(record.media_type.as_deref(), Some("image/jpeg"));
        assert_eq!(record.threat_level, ThreatLevel::Low);
        assert_eq!(
            record.summarize,
            "IAM user alice (account 123456789012) called PutObject (s3.amazonaws.com) on \
             s3://uploads/cards/front.JPG from 203.0.113.5 in us-east-1; it succeeded at \
             2026-11-25T10:00:00Z. No detection rule fired; rated low."
        );
    }

    #[test]
    fn non_upload_or_non_image_is_not_an_image_upload() {
        let mut facts = put_object();
        facts.is_object_upload = false;
        assert!(!build_record(&facts, vec![]).is_image_upload);
        let mut facts = put_object();
        facts.s3_key = Some("notes.txt".into());
        let record = build_record(&facts, vec![]);
        assert!(!record.is_image_upload);
        assert_eq!(record.media_type.as_deref(), Some("text/plain"));
    }

    #[test]
    fn level_is_the_highest_hit_and_mitre_is_merged() {
        let hits = vec![
            hit(ThreatLevel::Medium, "b", &["T1530"]),
            hit(ThreatLevel::High, "a", &["T1562.008", "T1530"]),
        ];
        let record = build_record(&put_object(), hits);
        assert_eq!(record.threat_level, ThreatLevel::High);
        assert_eq!(record.reasons[0].rule_id, "a");
        assert_eq!(record.mitre_techniques, vec!["T1530", "T1562.008"]);
        assert!(record.summarize.ends_with("Rated high: rule a; rule b."));
    }

    #[test]
    fn failures_and_hostile_values_are_rendered_safely() {
        let mut facts = put_object();
        facts.error_code = Some("AccessDenied".into());
        facts.error_message = Some("Access\nDenied".into());
        facts.identity = Some("x".repeat(1000));
        let summary = summarize(&facts, &[], ThreatLevel::Low);
        assert!(summary.contains("it failed with AccessDenied: Access Denied"));
        assert!(!summary.contains('\n'));
        assert!(summary.len() < 1000);
    }

    #[test]
    fn write_json_matches_serde_json() {
        let mut hostile = build_record(
            &put_object(),
            vec![
                hit(ThreatLevel::High, "a", &["T1562.008"]),
                hit(ThreatLevel::Low, "b", &[]),
            ],
        );
        hostile.summarize =
            "quote \" back \\ nl \n cr \r tab \t \u{8}\u{c}\u{1}\u{1f}\u{7f} é ☃ end".into();
        hostile.event_title = "12345678\"12345678\\".into();
        hostile.reasons[1].reason = "\u{0}".repeat(9);
        let mut records = vec![
            build_record(&put_object(), vec![]),
            build_record(&EventFacts::default(), vec![]),
            hostile,
        ];
        for n in 0..20 {
            let mut record = build_record(&EventFacts::default(), vec![]);
            record.summarize = format!("{}\"{}", "x".repeat(n), "y".repeat(n % 9));
            record.event_title = format!(
                "{}\\{}\u{1}\"{}",
                "a".repeat(n % 11),
                "b".repeat(n),
                "c".repeat(17 - n % 17)
            );
            records.push(record);
        }
        for record in &records {
            let mut fast = Vec::new();
            write_json(record, &mut fast);
            let expected = serde_json::to_vec(record).expect("serialises");
            assert_eq!(
                String::from_utf8_lossy(&fast),
                String::from_utf8_lossy(&expected)
            );
        }
    }

    #[test]
    fn quoting_cleans_controls_in_every_position() {
        for n in 0..20 {
            for bad in ["\n", "\u{7f}", "\u{85}"] {
                let value = format!("{}{bad}{}", "a".repeat(n), "b".repeat(n % 7));
                let mut out = String::new();
                push_quoted(&mut out, &value);
                assert!(!out.chars().any(char::is_control), "{value:?} -> {out:?}");
            }
        }
        let mut out = String::new();
        push_quoted(&mut out, "\u{a0} é x é\u{3000}");
        assert_eq!(out, "é x é");
    }

    #[test]
    fn missing_facts_say_unknown() {
        let facts = EventFacts::default();
        assert_eq!(event_title(&facts), "[unknown][unknown][unknown]");
        let record = build_record(&facts, vec![]);
        assert!(!record.is_image_upload);
        assert_eq!(record.media_type, None);
    }
}
