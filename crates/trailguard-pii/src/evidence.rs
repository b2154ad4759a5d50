//! One piece of evidence: what was found, where, how sure, by what, and whether it counted.
//! It travels unchanged from the detector through the handler's result into the workflow's audit
//! record, so an analyst sees the same kind, masked value and box the detector saw.

use serde::{Deserialize, Serialize, Serializer};

use crate::bbox::BoundingBox;
use crate::kind::{EntityType, EvidenceKind};

/// What found a piece of evidence.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EvidenceSource {
    /// A recogniser over OCR text.
    Ocr,
    /// The face detector.
    Face,
    /// A vision model's answer.
    Model,
}

/// One finding. `masked_value` never holds a full identifier.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Evidence {
    pub kind: EvidenceKind,
    /// The value with all but a harmless tail masked (`**** **** **** 1111`, `j***@example.com`,
    /// `[face]`), or the model's masked description.
    pub masked_value: String,
    /// 0..1: how sure the recogniser or face detector is (validation passed, context seen, OCR
    /// confidence). `None` for a model's finding: models give no calibrated confidence, and a
    /// made-up number would mislead the analyst and the evaluation alike.
    #[serde(serialize_with = "short_decimal")]
    pub confidence: Option<f32>,
    /// Pixels of the original image after EXIF rotation; `None` when the detector gives no place
    /// (vision models).
    pub bbox: Option<BoundingBox>,
    pub source: EvidenceSource,
    /// Whether it decided the verdict: the policy counted it (offline), or the model called the
    /// image PII (vision).
    pub counted: bool,
    /// How it was found, e.g. the recogniser and its validation (`credit_card:luhn+iin`) or the
    /// face detector (`face:haar_cascade`).
    #[serde(default)]
    pub note: Option<String>,
}

impl Evidence {
    /// The known type, when the kind is one.
    pub fn entity_type(&self) -> Option<EntityType> {
        self.kind.entity_type()
    }
}

/// f32 values as their shortest decimal (0.732, not 0.7319999933242798) once they pass through
/// `serde_json::Value`, which holds f64.
fn short_decimal<S: Serializer>(value: &Option<f32>, serializer: S) -> Result<S::Ok, S::Error> {
    match value {
        Some(v) => {
            let shortest = v.to_string().parse::<f64>().unwrap_or(f64::from(*v));
            serializer.serialize_some(&shortest)
        }
        None => serializer.serialize_none(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_is_snake_case_with_short_confidences_and_boxes() {
        let evidence = Evidence {
            kind: EntityType::CreditCard.into(),
            masked_value: "**** **** **** 1111".into(),
            confidence: Some(0.732),
            bbox: Some(BoundingBox::new(1, 2, 3, 4)),
            source: EvidenceSource::Ocr,
            counted: true,
            note: Some("credit_card:luhn+iin".into()),
        };
        let value = serde_json::to_value(&evidence).unwrap();
        assert_eq!(
            value.to_string(),
            r#"{"kind":"CREDIT_CARD","masked_value":"**** **** **** 1111","confidence":0.732,"bbox":{"left":1,"top":2,"width":3,"height":4},"source":"ocr","counted":true,"note":"credit_card:luhn+iin"}"#
        );
        let back: Evidence = serde_json::from_value(value).unwrap();
        assert_eq!(back, evidence);
    }
}
