//! Merging a validated model answer into the deterministic record.
//!
//! - threat level: max(rule level, model level): the model may raise, never lower;
//! - `s3_bucket`, `s3_key`, `is_image_upload`, `media_type`: always the event's (a note records
//!   any disagreement, since a model that changes them may be following injected text);
//!   `s3_version_id` is never asked of the model and never touched here;
//! - `summarize`, `event_title`: the model's, sanitised and capped; an English title that does
//!   not keep the guide's `[..][..][..]` shape is not taken. A Korean title is the model's Korean
//!   words (up to its first `[`) followed by the event's own `[EventName][AccountId][Identity]`:
//!   the identifiers stay searchable and exact (they are the event's, never the model's or an
//!   attacker's), the words are what a Korean reader reads; one that does not start with a
//!   Hangul syllable is not taken.

use trailguard_core::ask::answer::ResponseLimits;
use trailguard_core::ask::sanitize::sanitize_text;
use trailguard_core::AnalysisRecord;

use crate::answer::ModelAnalysis;
use crate::prompt::Language;

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

/// The Korean title: the model's words before its first `[`, which must start with a Hangul
/// syllable, then `identifiers` (the event's `[..][..][..]`) when they have the guide's shape.
/// `None` when the words are not Korean or leave no room within `max_chars`.
fn korean_title(model_title: &str, identifiers: &str, max_chars: usize) -> Option<String> {
    let words = model_title
        .split('[')
        .next()
        .unwrap_or_default()
        .trim()
        .trim_end_matches([':', '-', '–', '|', ','])
        .trim_end();
    if !words
        .chars()
        .next()
        .is_some_and(|c| ('가'..='힣').contains(&c))
    {
        return None;
    }
    if !has_title_shape(identifiers) {
        return Some(sanitize_text(words, max_chars));
    }
    let room = max_chars.checked_sub(identifiers.chars().count() + 1)?;
    let words = sanitize_text(words, room);
    (!words.is_empty()).then(|| format!("{words} {identifiers}"))
}

/// Merges `model` into `record` (an English answer); returns the notes about what was not taken.
pub fn merge_model_answer(
    record: &mut AnalysisRecord,
    model: &ModelAnalysis,
    limits: &ResponseLimits,
) -> Vec<String> {
    merge_model_answer_in(record, model, limits, Language::English)
}

/// [`merge_model_answer`] for an answer asked in `language` (it decides what title is taken).
pub fn merge_model_answer_in(
    record: &mut AnalysisRecord,
    model: &ModelAnalysis,
    limits: &ResponseLimits,
    language: Language,
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
    match language {
        Language::English if has_title_shape(&title) => record.event_title = title,
        Language::English => notes.push(format!(
            "model title {} lacks the [EventName][AccountId][Identity] shape; kept the deterministic one",
            show(Some(&title))
        )),
        Language::Korean => {
            match korean_title(&title, &record.event_title, limits.max_title_chars) {
                Some(korean) => record.event_title = korean,
                None => notes.push(format!(
                    "model title {} does not start in Korean; kept the deterministic one",
                    show(Some(&title))
                )),
            }
        }
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

    #[test]
    fn korean_title_is_korean_words_then_the_events_identifiers() {
        let limits = ResponseLimits::default();
        let merged = |title: &str| {
            let mut model = answer(ThreatLevel::Low);
            model.event_title = title.into();
            let mut r = record(ThreatLevel::Low);
            let notes = merge_model_answer_in(&mut r, &model, &limits, Language::Korean);
            (r.event_title, notes)
        };
        assert_eq!(
            merged("이미지 업로드").0,
            "이미지 업로드 [PutObject][123][alice]"
        );
        // The model's identifiers are replaced by the event's (an injected account cannot stay).
        assert_eq!(
            merged("콘솔 로그인: [ConsoleLogin][999][mallory]").0,
            "콘솔 로그인 [PutObject][123][alice]"
        );
        for not_korean in [
            "[PutObject][123][alice]",
            "Benign upload",
            "  ",
            "ㄱㄴ 업로드",
        ] {
            let (title, notes) = merged(not_korean);
            assert_eq!(title, "[PutObject][123][alice]", "{not_korean}");
            assert!(notes.iter().any(|n| n.contains("does not start in Korean")));
        }
        // Capped with the identifiers kept whole.
        assert_eq!(
            korean_title("아주 긴 한국어 제목입니다", "[PutObject][123][alice]", 29),
            Some("아주 긴 [PutObject][123][alice]".into())
        );
        assert_eq!(korean_title("제목", "[PutObject][123][alice]", 23), None);
        assert_eq!(korean_title("제목", "no shape", 23), Some("제목".into()));
    }
}
