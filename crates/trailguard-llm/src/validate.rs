//! Turning a model's text into a checked value: code fences and prose around the JSON are
//! tolerated, types are not.

use serde::Serialize;
use serde_json::{Map, Value};
use trailguard_core::ThreatLevel;

use crate::sanitize::{mask_digits, sanitize_text};

/// Caps applied to answers and to the text taken from them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ResponseLimits {
    /// Longer answers are rejected unread (a runaway or padded answer).
    pub max_answer_bytes: usize,
    pub max_title_chars: usize,
    pub max_summary_chars: usize,
    pub max_entities: usize,
    pub max_evidence_chars: usize,
}

impl Default for ResponseLimits {
    fn default() -> Self {
        ResponseLimits {
            max_answer_bytes: 64 * 1024,
            max_title_chars: 300,
            max_summary_chars: 2_000,
            max_entities: 32,
            max_evidence_chars: 160,
        }
    }
}

/// Why an answer was not accepted; the text goes back to the model in the repair request.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ValidationError {
    #[error("the answer was empty")]
    Empty,
    #[error("the answer was {len} bytes, over the {limit}-byte limit")]
    TooLong { len: usize, limit: usize },
    #[error("the answer held no JSON object")]
    NoJsonObject,
    #[error("the answer's JSON did not parse: {0}")]
    InvalidJson(String),
    #[error("field \"{0}\" is missing")]
    MissingField(&'static str),
    #[error("field \"{field}\" must be {expected}, found {found}")]
    WrongType {
        field: String,
        expected: &'static str,
        found: &'static str,
    },
    #[error("field \"{field}\" has an invalid value: {message}")]
    InvalidValue { field: String, message: String },
}

fn type_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// Removes Markdown code fence lines (```` ``` ```` or ```` ```json ````), keeping what is between.
pub fn strip_code_fences(text: &str) -> String {
    text.lines()
        .filter(|line| !line.trim_start().starts_with("```"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// End (exclusive) of the balanced `{...}` starting at `start`, aware of JSON strings.
fn balanced_end(bytes: &[u8], start: usize) -> Option<usize> {
    let mut depth = 0usize;
    let mut in_string = false;
    let mut escaped = false;
    for (offset, &byte) in bytes.get(start..)?.iter().enumerate() {
        if in_string {
            match byte {
                _ if escaped => escaped = false,
                b'\\' => escaped = true,
                b'"' => in_string = false,
                _ => {}
            }
            continue;
        }
        match byte {
            b'"' => in_string = true,
            b'{' => depth += 1,
            b'}' => {
                depth = depth.checked_sub(1)?;
                if depth == 0 {
                    return Some(start + offset + 1);
                }
            }
            _ => {}
        }
    }
    None
}

/// The first balanced JSON object in `text` (after fences are removed), as a map.
pub fn extract_json_object(
    text: &str,
    limits: &ResponseLimits,
) -> Result<Map<String, Value>, ValidationError> {
    if text.trim().is_empty() {
        return Err(ValidationError::Empty);
    }
    if text.len() > limits.max_answer_bytes {
        return Err(ValidationError::TooLong {
            len: text.len(),
            limit: limits.max_answer_bytes,
        });
    }
    let text = strip_code_fences(text);
    let bytes = text.as_bytes();
    let mut first_error = None;
    // Bounded: a prose answer full of braces costs at most this many scans.
    for start in bytes
        .iter()
        .enumerate()
        .filter(|(_, b)| **b == b'{')
        .map(|(i, _)| i)
        .take(64)
    {
        let Some(end) = balanced_end(bytes, start) else {
            first_error.get_or_insert_with(|| "unbalanced braces".to_string());
            continue;
        };
        match serde_json::from_str::<Value>(&text[start..end]) {
            Ok(Value::Object(map)) => return Ok(map),
            Ok(_) => {}
            Err(error) => {
                first_error.get_or_insert_with(|| error.to_string());
            }
        }
    }
    match first_error {
        Some(message) => Err(ValidationError::InvalidJson(message)),
        None => Err(ValidationError::NoJsonObject),
    }
}

fn required_string<'m>(
    map: &'m Map<String, Value>,
    field: &'static str,
) -> Result<&'m str, ValidationError> {
    match map.get(field) {
        None | Some(Value::Null) => Err(ValidationError::MissingField(field)),
        Some(Value::String(s)) => Ok(s),
        Some(other) => Err(ValidationError::WrongType {
            field: field.into(),
            expected: "a string",
            found: type_name(other),
        }),
    }
}

fn optional_string(
    map: &Map<String, Value>,
    field: &'static str,
) -> Result<Option<String>, ValidationError> {
    match map.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(other) => Err(ValidationError::WrongType {
            field: field.into(),
            expected: "a string or null",
            found: type_name(other),
        }),
    }
}

fn optional_bool(
    map: &Map<String, Value>,
    field: &'static str,
) -> Result<Option<bool>, ValidationError> {
    match map.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Bool(b)) => Ok(Some(*b)),
        Some(other) => Err(ValidationError::WrongType {
            field: field.into(),
            expected: "a boolean (true or false, not a string)",
            found: type_name(other),
        }),
    }
}

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

/// One PII item a detector reported. `evidence` never holds a full value.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub struct PiiEntity {
    #[serde(rename = "type")]
    pub entity_type: String,
    pub evidence: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub confidence: Option<f32>,
}

/// A vision model's PII verdict, validated.
#[derive(Debug, Clone, PartialEq)]
pub struct VisionVerdict {
    pub pii_detected: bool,
    pub entities: Vec<PiiEntity>,
    pub reason: String,
}

fn normalise_entity_type(raw: &str) -> String {
    let cleaned: String = sanitize_text(raw, 40)
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_uppercase()
            } else {
                '_'
            }
        })
        .collect();
    if cleaned.is_empty() {
        "OTHER".into()
    } else {
        cleaned
    }
}

/// Validates a PII answer: the JSON verdict, or the guide's bare `true` / `false`.
pub fn validate_pii_answer(
    text: &str,
    limits: &ResponseLimits,
) -> Result<VisionVerdict, ValidationError> {
    let bare = text
        .trim()
        .trim_matches(|c: char| c == '"' || c == '\'' || c == '.' || c == '`')
        .trim()
        .to_ascii_lowercase();
    if bare == "true" || bare == "false" {
        return Ok(VisionVerdict {
            pii_detected: bare == "true",
            entities: Vec::new(),
            reason: "the model answered a bare boolean".into(),
        });
    }
    let map = extract_json_object(text, limits)?;
    let pii_detected = match map.get("pii_detected") {
        None | Some(Value::Null) => return Err(ValidationError::MissingField("pii_detected")),
        Some(Value::Bool(b)) => *b,
        Some(other) => {
            return Err(ValidationError::WrongType {
                field: "pii_detected".into(),
                expected: "a boolean (true or false, not a string)",
                found: type_name(other),
            })
        }
    };
    let mut entities = Vec::new();
    match map.get("entities") {
        None | Some(Value::Null) => {}
        Some(Value::Array(items)) => {
            for (index, item) in items.iter().take(limits.max_entities).enumerate() {
                let Value::Object(entity) = item else {
                    return Err(ValidationError::WrongType {
                        field: format!("entities[{index}]"),
                        expected: "an object",
                        found: type_name(item),
                    });
                };
                let entity_type = match entity.get("type") {
                    Some(Value::String(s)) => normalise_entity_type(s),
                    None | Some(Value::Null) => "OTHER".into(),
                    Some(other) => {
                        return Err(ValidationError::WrongType {
                            field: format!("entities[{index}].type"),
                            expected: "a string",
                            found: type_name(other),
                        })
                    }
                };
                let evidence = match entity.get("evidence") {
                    Some(Value::String(s)) => {
                        sanitize_text(&mask_digits(s), limits.max_evidence_chars)
                    }
                    None | Some(Value::Null) => String::new(),
                    Some(other) => {
                        return Err(ValidationError::WrongType {
                            field: format!("entities[{index}].evidence"),
                            expected: "a string",
                            found: type_name(other),
                        })
                    }
                };
                entities.push(PiiEntity {
                    entity_type,
                    evidence,
                    confidence: None,
                });
            }
        }
        Some(other) => {
            return Err(ValidationError::WrongType {
                field: "entities".into(),
                expected: "an array",
                found: type_name(other),
            })
        }
    }
    if !pii_detected && !entities.is_empty() {
        return Err(ValidationError::InvalidValue {
            field: "pii_detected".into(),
            message: "it is false but entities were listed; answer true, or list no entities"
                .into(),
        });
    }
    let reason = match map.get("reason") {
        Some(Value::String(s)) => sanitize_text(&mask_digits(s), limits.max_summary_chars),
        None | Some(Value::Null) => String::new(),
        Some(other) => {
            return Err(ValidationError::WrongType {
                field: "reason".into(),
                expected: "a string",
                found: type_name(other),
            })
        }
    };
    Ok(VisionVerdict {
        pii_detected,
        entities,
        reason,
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

    #[test]
    fn pii_answers_json_and_bare_boolean() {
        let verdict = validate_pii_answer(
            r#"{"pii_detected": true, "entities": [{"type": "credit card", "evidence": "4111 1111 1111 1111 on the card"}], "reason": "a card"}"#,
            &limits(),
        )
        .unwrap();
        assert!(verdict.pii_detected);
        assert_eq!(verdict.entities[0].entity_type, "CREDIT_CARD");
        assert_eq!(
            verdict.entities[0].evidence,
            "**** **** **** 1111 on the card"
        );
        assert!(
            !validate_pii_answer("false", &limits())
                .unwrap()
                .pii_detected
        );
        assert!(
            validate_pii_answer(" \"true\". ", &limits())
                .unwrap()
                .pii_detected
        );
    }

    #[test]
    fn pii_answers_with_wrong_types_or_contradictions_are_rejected() {
        assert!(matches!(
            validate_pii_answer(r#"{"pii_detected": "true"}"#, &limits()),
            Err(ValidationError::WrongType { .. })
        ));
        assert!(matches!(
            validate_pii_answer(
                r#"{"pii_detected": false, "entities": [{"type": "FACE", "evidence": "a face"}]}"#,
                &limits()
            ),
            Err(ValidationError::InvalidValue { .. })
        ));
        assert_eq!(
            validate_pii_answer(r#"{"entities": []}"#, &limits()),
            Err(ValidationError::MissingField("pii_detected"))
        );
        assert!(validate_pii_answer("I cannot tell.", &limits()).is_err());
    }
}
