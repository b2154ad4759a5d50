//! The model's answer to the log-analysis prompt, checked against the guide's schema: fences
//! and prose around the JSON are tolerated, wrong types and missing fields are not (the generic
//! checks are `trailguard_core::ask::answer`).

use trailguard_core::ask::answer::{
    extract_json_object, optional_bool, optional_string, required_string, ResponseLimits,
    ValidationError,
};
use trailguard_core::ask::sanitize::sanitize_text;
use trailguard_core::ThreatLevel;

/// The guide's fields as the model gave them, type-checked. Text is not yet sanitised (the merge
/// does that); the S3 fields are kept only to be compared with the event's.
#[derive(Debug, Clone, PartialEq)]
pub struct ModelAnalysis {
    pub event_title: String,
    pub summarize: String,
    pub threat_level: ThreatLevel,
    pub s3_bucket: Option<String>,
    pub s3_key: Option<String>,
    pub is_image_upload: Option<bool>,
    pub media_type: Option<String>,
    /// Keys outside the schema (ignored).
    pub extra_fields: Vec<String>,
}

const LOG_FIELDS: [&str; 7] = [
    "event_title",
    "summarize",
    "threat_level",
    "s3_bucket",
    "s3_key",
    "is_image_upload",
    "media_type",
];

/// Validates a log-analysis answer against the guide's schema.
pub fn validate_log_answer(
    text: &str,
    limits: &ResponseLimits,
) -> Result<ModelAnalysis, ValidationError> {
    let map = extract_json_object(text, limits)?;
    let level_text = required_string(&map, "threat_level")?;
    let threat_level: ThreatLevel =
        level_text
            .parse()
            .map_err(|_| ValidationError::InvalidValue {
                field: "threat_level".into(),
                message: format!(
                    "{:?} is not one of \"low\", \"medium\", \"high\"",
                    sanitize_text(level_text, 40)
                ),
            })?;
    let summarize = required_string(&map, "summarize")?;
    if summarize.trim().is_empty() {
        return Err(ValidationError::InvalidValue {
            field: "summarize".into(),
            message: "it is empty".into(),
        });
    }
    let event_title = required_string(&map, "event_title")?;
    Ok(ModelAnalysis {
        event_title: event_title.to_string(),
        summarize: summarize.to_string(),
        threat_level,
        s3_bucket: optional_string(&map, "s3_bucket")?,
        s3_key: optional_string(&map, "s3_key")?,
        is_image_upload: optional_bool(&map, "is_image_upload")?,
        media_type: optional_string(&map, "media_type")?,
        extra_fields: map
            .keys()
            .filter(|k| !LOG_FIELDS.contains(&k.as_str()))
            .map(|k| sanitize_text(k, 64))
            .collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"{"event_title":"[PutObject][123][alice]","summarize":"Alice uploaded a.png","threat_level":"Low","s3_bucket":"b","s3_key":"a.png","is_image_upload":true,"media_type":"image/png"}"#;

    fn limits() -> ResponseLimits {
        ResponseLimits::default()
    }

    #[test]
    fn plain_json_is_accepted_and_level_case_insensitive() {
        let analysis = validate_log_answer(GOOD, &limits()).unwrap();
        assert_eq!(analysis.threat_level, ThreatLevel::Low);
        assert_eq!(analysis.is_image_upload, Some(true));
        assert!(analysis.extra_fields.is_empty());
    }

    #[test]
    fn fenced_json_is_accepted() {
        let text = format!("```json\n{GOOD}\n```");
        assert!(validate_log_answer(&text, &limits()).is_ok());
        let text = format!("```\n{GOOD}\n```\n");
        assert!(validate_log_answer(&text, &limits()).is_ok());
    }

    #[test]
    fn prose_around_json_is_tolerated() {
        let text = format!("Sure! Here is the analysis {{as requested}}:\n{GOOD}\nLet me know if {{anything}} else.");
        let analysis = validate_log_answer(&text, &limits()).unwrap();
        assert_eq!(analysis.summarize, "Alice uploaded a.png");
    }

    #[test]
    fn braces_inside_strings_do_not_confuse_extraction() {
        let text = r#"{"event_title":"[X][1][y]","summarize":"a } tricky { \" string","threat_level":"high"}"#;
        assert_eq!(
            validate_log_answer(text, &limits()).unwrap().summarize,
            "a } tricky { \" string"
        );
    }

    #[test]
    fn prose_only_has_no_object() {
        assert_eq!(
            validate_log_answer("The event looks benign; threat level low.", &limits()),
            Err(ValidationError::NoJsonObject)
        );
    }

    #[test]
    fn wrong_types_are_rejected() {
        let text = GOOD.replace("\"is_image_upload\":true", "\"is_image_upload\":\"true\"");
        assert!(matches!(
            validate_log_answer(&text, &limits()),
            Err(ValidationError::WrongType { ref field, .. }) if field == "is_image_upload"
        ));
        let text = GOOD.replace("\"threat_level\":\"Low\"", "\"threat_level\":3");
        assert!(matches!(
            validate_log_answer(&text, &limits()),
            Err(ValidationError::WrongType { ref field, .. }) if field == "threat_level"
        ));
        let text = GOOD.replace("\"threat_level\":\"Low\"", "\"threat_level\":\"critical\"");
        assert!(matches!(
            validate_log_answer(&text, &limits()),
            Err(ValidationError::InvalidValue { ref field, .. }) if field == "threat_level"
        ));
        let text = GOOD.replace("\"s3_key\":\"a.png\"", "\"s3_key\":[\"a.png\"]");
        assert!(validate_log_answer(&text, &limits()).is_err());
    }

    #[test]
    fn missing_fields_are_rejected() {
        let text = r#"{"event_title":"[X][1][y]","summarize":"s"}"#;
        assert_eq!(
            validate_log_answer(text, &limits()),
            Err(ValidationError::MissingField("threat_level"))
        );
        let text = r#"{"event_title":"[X][1][y]","threat_level":"low","summarize":"  "}"#;
        assert!(validate_log_answer(text, &limits()).is_err());
    }

    #[test]
    fn extra_fields_are_listed_not_fatal() {
        let text = GOOD.replace("{\"event_title\"", "{\"confidence\":0.9,\"event_title\"");
        let analysis = validate_log_answer(&text, &limits()).unwrap();
        assert_eq!(analysis.extra_fields, vec!["confidence".to_string()]);
    }

    #[test]
    fn empty_and_huge_answers_are_rejected() {
        assert_eq!(
            validate_log_answer("", &limits()),
            Err(ValidationError::Empty)
        );
        assert_eq!(
            validate_log_answer(" \n ", &limits()),
            Err(ValidationError::Empty)
        );
        let huge = format!("{GOOD}{}", " ".repeat(100_000));
        assert!(matches!(
            validate_log_answer(&huge, &limits()),
            Err(ValidationError::TooLong { .. })
        ));
    }

    #[test]
    fn truncated_json_is_invalid() {
        let cut = &GOOD[..GOOD.len() - 10];
        assert!(matches!(
            validate_log_answer(cut, &limits()),
            Err(ValidationError::InvalidJson(_))
        ));
    }
}
