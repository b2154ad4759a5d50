//! Merging a validated model answer into the deterministic record.
//!
//! - threat level: max(rule level, model level): the model may raise, never lower;
//! - `s3_bucket`, `s3_key`, `is_image_upload`, `media_type`: always the event's (a note records
//!   any disagreement, since a model that changes them may be following injected text);
//!   `s3_version_id` is never asked of the model and never touched here;
//! - `summarize`, `event_title`: the model's, sanitised and capped; a title that does not keep
//!   the guide's `[..][..][..]` shape is not taken.

use trailguard_core::ask::answer::ResponseLimits;
use trailguard_core::ask::sanitize::sanitize_text;
use trailguard_core::AnalysisRecord;

use crate::answer::ModelAnalysis;

/// Whether `title` has the guide's `[EventName][AccountId][Identity]` shape.
pub fn has_title_shape(title: &str) -> bool {
    let mut rest = title.trim();
    let mut parts = 0;
    while let Some(after_open) = rest.strip_prefix('[') {
        let Some(close) = after_open.find(']') else {
            return false;
        };
        parts += 1;
        rest = &after_open[close + 1..];
    }
    parts >= 3 && rest.trim().is_empty()
}

fn show(value: Option<&str>) -> String {
    match value {
        Some(v) => format!("{:?}", sanitize_text(v, 120)),
        None => "null".into(),
    }
}

/// Merges `model` into `record`; returns the notes about what was not taken.
pub fn merge_model_answer(
    record: &mut AnalysisRecord,
    model: &ModelAnalysis,
    limits: &ResponseLimits,
) -> Vec<String> {
    let mut notes = Vec::new();
    let floor = record.threat_level;
    if model.threat_level < floor {
        notes.push(format!(
            "model rated {} but the rules rate {}; kept {} (the model may raise, never lower)",
            model.threat_level, floor, floor
        ));
    } else if model.threat_level > floor {
        notes.push(format!(
            "model raised the threat level from {} to {}",
            floor, model.threat_level
        ));
    }
    record.raise_to(model.threat_level);

    let summary = sanitize_text(&model.summarize, limits.max_summary_chars);
    if summary.is_empty() {
        notes.push("model summary was empty after sanitising; kept the deterministic one".into());
    } else {
        record.summarize = summary;
    }
    let title = sanitize_text(&model.event_title, limits.max_title_chars);
    if has_title_shape(&title) {
        record.event_title = title;
    } else {
        notes.push(format!(
            "model title {} lacks the [EventName][AccountId][Identity] shape; kept the deterministic one",
            show(Some(&title))
        ));
    }

    let pairs = [
        ("s3_bucket", &model.s3_bucket, &record.s3_bucket),
        ("s3_key", &model.s3_key, &record.s3_key),
        ("media_type", &model.media_type, &record.media_type),
    ];
    for (field, said, event) in pairs {
        // Absent and null both mean "no value": only a different value is a disagreement.
        if said.is_some() && said != event {
            notes.push(format!(
                "model's {field} {} ignored: the event says {}",
                show(said.as_deref()),
                show(event.as_deref())
            ));
        }
    }
    if let Some(said) = model.is_image_upload {
        if said != record.is_image_upload {
            notes.push(format!(
                "model's is_image_upload {said} ignored: the event says {}",
                record.is_image_upload
            ));
        }
    }
    if !model.extra_fields.is_empty() {
        notes.push(format!(
            "ignored fields outside the schema: {}",
            model.extra_fields.join(", ")
        ));
    }
    notes
}

#[cfg(test)]
mod tests {
    use super::*;
    use trailguard_core::{EventSource, ThreatLevel};

    fn record(level: ThreatLevel) -> AnalysisRecord {
        AnalysisRecord {
            event_title: "[PutObject][123][alice]".into(),
            summarize: "deterministic".into(),
            threat_level: level,
            s3_bucket: Some("uploads".into()),
            s3_key: Some("cat.png".into()),
            s3_version_id: Some("v1".into()),
            is_image_upload: true,
            media_type: Some("image/png".into()),
            event_id: None,
            event_time: None,
            source: EventSource::Cloudtrail,
            reasons: vec![],
            mitre_techniques: vec![],
        }
    }

    fn answer(level: ThreatLevel) -> ModelAnalysis {
        ModelAnalysis {
            event_title: "[PutObject][123][alice]".into(),
            summarize: "Alice uploaded\u{0000} cat.png".into(),
            threat_level: level,
            s3_bucket: Some("uploads".into()),
            s3_key: Some("cat.png".into()),
            is_image_upload: Some(true),
            media_type: Some("image/png".into()),
            extra_fields: vec![],
        }
    }

    #[test]
    fn model_may_raise_never_lower() {
        let limits = ResponseLimits::default();
        let mut r = record(ThreatLevel::Medium);
        let notes = merge_model_answer(&mut r, &answer(ThreatLevel::Low), &limits);
        assert_eq!(r.threat_level, ThreatLevel::Medium);
        assert!(notes[0].contains("never lower"));
        let mut r = record(ThreatLevel::Low);
        merge_model_answer(&mut r, &answer(ThreatLevel::High), &limits);
        assert_eq!(r.threat_level, ThreatLevel::High);
        assert_eq!(r.summarize, "Alice uploaded cat.png");
    }

    #[test]
    fn s3_fields_always_from_the_event() {
        let mut model = answer(ThreatLevel::Low);
        model.s3_key = Some("other.png".into());
        model.s3_bucket = Some("victim".into());
        model.is_image_upload = Some(false);
        model.media_type = None;
        let mut r = record(ThreatLevel::Low);
        let notes = merge_model_answer(&mut r, &model, &ResponseLimits::default());
        assert_eq!(r.s3_key.as_deref(), Some("cat.png"));
        assert_eq!(r.s3_bucket.as_deref(), Some("uploads"));
        assert!(r.is_image_upload);
        assert_eq!(r.media_type.as_deref(), Some("image/png"));
        assert_eq!(r.s3_version_id.as_deref(), Some("v1"));
        assert_eq!(notes.len(), 3, "{notes:?}");
        assert!(notes.iter().any(|n| n.contains("\"other.png\" ignored")));
    }

    #[test]
    fn title_needs_the_guide_shape() {
        assert!(has_title_shape("[PutObject][123][alice]"));
        assert!(!has_title_shape("Benign upload"));
        assert!(!has_title_shape("[a][b]"));
        let mut model = answer(ThreatLevel::Low);
        model.event_title = "Nothing to see here".into();
        let mut r = record(ThreatLevel::Low);
        merge_model_answer(&mut r, &model, &ResponseLimits::default());
        assert_eq!(r.event_title, "[PutObject][123][alice]");
    }
}
