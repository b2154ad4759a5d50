//! The analysis record from an event's facts and its rule hits: the guide's title, a readable
//! summary, the threat level (the highest hit), the media type and the S3 fields. One function,
//! [`record_from_event`], builds it for every caller, so the pipeline and the service agree.

use trailguard_core::ask::sanitize::hidden_char;
use trailguard_core::media;
use trailguard_core::{AnalysisRecord, EventSource, RuleHit, ThreatLevel};
use trailguard_events::Event;

use crate::facts::{facts_from_event, EventFacts};
use crate::swar::{any_word, below_space, has_byte};

/// Longest value quoted inside a summary; longer values are cut so one hostile field cannot
/// flood an alert e-mail.
const MAX_QUOTED_CHARS: usize = 200;

/// Appends `value` with control characters turned into spaces, hidden characters (zero-width,
/// bidi overrides, Unicode tags: a key that displays as something else) into U+FFFD, and cut at
/// `MAX_QUOTED_CHARS`. Appends in place: this runs for every field of every event.
fn push_quoted(out: &mut String, value: &str) {
    // Values rarely need trimming; a printable ASCII byte at both ends proves it.
    let printable = |b: Option<&u8>| b.is_some_and(|&b| b > b' ' && b < 0x80);
    let bytes = value.as_bytes();
    let value = if printable(bytes.first()) && printable(bytes.last()) {
        value
    } else {
        value.trim()
    };
    // Control characters are ASCII below 0x20, DEL, or non-ASCII (C1, hidden characters); a
    // word scan clears the common case, plain ASCII, without decoding chars.
    let clean = value.len() <= MAX_QUOTED_CHARS
        && (!any_word(value.as_bytes(), maybe_control)
            || !value
                .chars()
                .any(|c| c.is_control() || hidden_char(c).is_some()));
    if clean {
        out.push_str(value);
        return;
    }
    let mut chars = value.chars();
    for c in chars.by_ref().take(MAX_QUOTED_CHARS) {
        out.push(if c.is_control() {
            ' '
        } else if hidden_char(c).is_some() {
            '\u{FFFD}'
        } else {
            c
        });
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

/// The record of one event: its facts, the detector's `hits` and the `correlated` hits the
/// correlation step added (empty when it added none). Every path that rates an event (the
/// analyze pipeline, [`crate::Triage::analyze`]) builds its record here.
pub fn record_from_event(
    event: &Event<'_>,
    mut hits: Vec<RuleHit>,
    correlated: Vec<RuleHit>,
) -> AnalysisRecord {
    hits.extend(correlated);
    build_record_owned(facts_from_event(event), hits)
}

/// Builds the analysis record. Hits are sorted highest level first; the threat level is the
/// highest among them (low when none fired).
pub fn build_record(facts: &EventFacts, hits: Vec<RuleHit>) -> AnalysisRecord {
    let mut record = build_record_with(facts, hits);
    record.s3_bucket = facts.s3_bucket.clone();
    record.s3_key = facts.s3_key.clone();
    record.s3_version_id = facts.s3_version_id.clone();
    record.event_id = facts.event_id.clone();
    record.event_time = facts.event_time.clone();
    record
}

/// [`build_record`] that takes the facts by value, moving their strings into the record.
pub fn build_record_owned(mut facts: EventFacts, hits: Vec<RuleHit>) -> AnalysisRecord {
    let mut record = build_record_with(&facts, hits);
    record.s3_bucket = facts.s3_bucket.take();
    record.s3_key = facts.s3_key.take();
    record.s3_version_id = facts.s3_version_id.take();
    record.event_id = facts.event_id.take();
    record.event_time = facts.event_time.take();
    record
}

/// The record without the five fields copied from the facts as they are.
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
        s3_version_id: None,
        is_image_upload,
        media_type,
        event_id: None,
        event_time: None,
        source: facts.source.unwrap_or(EventSource::Cloudtrail),
        reasons: hits,
        mitre_techniques: mitre,
    }
}

/// True when one of the 8 bytes in `word` may start a control or hidden character (see
/// `push_quoted`): below 0x20, DEL, or any non-ASCII byte.
fn maybe_control(word: u64) -> bool {
    below_space(word) | has_byte(word, 0x7f) | (word & 0x8080_8080_8080_8080) != 0
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
        let mut out = String::new();
        push_quoted(&mut out, "invoice\u{202E}gnp.exe\u{200B}\u{E0041}");
        assert_eq!(out, "invoice\u{FFFD}gnp.exe\u{FFFD}\u{FFFD}");
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
