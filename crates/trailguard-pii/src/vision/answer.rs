//! A vision model's answer, checked: the JSON verdict (or the guide's bare `true` / `false`), the
//! types it must have, and every model-written string sanitised and masked before it becomes
//! evidence.

use serde_json::Value;
use trailguard_core::ask::answer::type_name;
use trailguard_core::ask::{extract_json_object, sanitize_text, ResponseLimits, ValidationError};

use crate::evidence::{Evidence, EvidenceSource};
use crate::kind::EvidenceKind;
use crate::mask::mask_free_text;

/// A vision model's PII verdict, validated. Its evidence has no boxes and no confidence (the
/// model gives neither) and counts whenever the model called the image PII.
#[derive(Debug, Clone, PartialEq)]
pub struct VisionAnswer {
    pub pii_detected: bool,
    pub evidence: Vec<Evidence>,
    pub reason: String,
}

fn kind_of(raw: &str) -> EvidenceKind {
    EvidenceKind::from_name(&sanitize_text(raw, 40))
}

/// Validates a PII answer: the JSON verdict, or the guide's bare `true` / `false`.
pub fn validate_pii_answer(
    text: &str,
    limits: &ResponseLimits,
) -> Result<VisionAnswer, ValidationError> {
    let bare = text
        .trim()
        .trim_matches(|c: char| c == '"' || c == '\'' || c == '.' || c == '`')
        .trim()
        .to_ascii_lowercase();
    if bare == "true" || bare == "false" {
        return Ok(VisionAnswer {
            pii_detected: bare == "true",
            evidence: Vec::new(),
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
    let mut evidence = Vec::new();
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
                let kind = match entity.get("type") {
                    Some(Value::String(s)) => kind_of(s),
                    None | Some(Value::Null) => EvidenceKind::Other("OTHER".into()),
                    Some(other) => {
                        return Err(ValidationError::WrongType {
                            field: format!("entities[{index}].type"),
                            expected: "a string",
                            found: type_name(other),
                        })
                    }
                };
                let masked_value = match entity.get("evidence") {
                    Some(Value::String(s)) => {
                        sanitize_text(&mask_free_text(s), limits.max_evidence_chars)
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
                evidence.push(Evidence {
                    kind,
                    masked_value,
                    confidence: None,
                    bbox: None,
                    source: EvidenceSource::Model,
                    counted: pii_detected,
                    note: None,
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
    if !pii_detected && !evidence.is_empty() {
        return Err(ValidationError::InvalidValue {
            field: "pii_detected".into(),
            message: "it is false but entities were listed; answer true, or list no entities"
                .into(),
        });
    }
    let reason = match map.get("reason") {
        Some(Value::String(s)) => sanitize_text(&mask_free_text(s), limits.max_summary_chars),
        None | Some(Value::Null) => String::new(),
        Some(other) => {
            return Err(ValidationError::WrongType {
                field: "reason".into(),
                expected: "a string",
                found: type_name(other),
            })
        }
    };
    Ok(VisionAnswer {
        pii_detected,
        evidence,
        reason,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits() -> ResponseLimits {
        ResponseLimits::default()
    }

    #[test]
    fn pii_answers_json_and_bare_boolean() {
        let verdict = validate_pii_answer(
            r#"{"pii_detected": true, "entities": [{"type": "credit card", "evidence": "4111 1111 1111 1111 on the card"}], "reason": "a card"}"#,
            &limits(),
        )
        .unwrap();
        assert!(verdict.pii_detected);
        assert_eq!(verdict.evidence[0].kind.as_str(), "CREDIT_CARD");
        assert_eq!(
            verdict.evidence[0].masked_value,
            "**** **** **** 1111 on the card"
        );
        assert_eq!(verdict.evidence[0].source, EvidenceSource::Model);
        assert!(verdict.evidence[0].counted);
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

    #[test]
    fn kinds_outside_the_recognisers_are_kept_by_name() {
        let verdict = validate_pii_answer(
            r#"{"pii_detected": true, "entities": [{"type": "date of birth", "evidence": "born 1990"}, {"type": "FACE", "evidence": "a face"}, {"evidence": "e-mail jane@example.org"}], "reason": "a form"}"#,
            &limits(),
        )
        .unwrap();
        assert_eq!(
            verdict.evidence[0].kind,
            EvidenceKind::Other("DATE_OF_BIRTH".into())
        );
        assert_eq!(verdict.evidence[1].kind.as_str(), "FACE");
        assert_eq!(verdict.evidence[2].kind.as_str(), "OTHER");
        assert_eq!(verdict.evidence[2].masked_value, "e-mail j***@example.org");
    }
}
