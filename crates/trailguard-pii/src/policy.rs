//! The verdict policy of the offline detector: which entity types count, at what confidence, and
//! faces on or off; and the evidence the recognisers and the face detector produce.

use crate::bbox::BoundingBox;
use crate::cues::page_cues;
use crate::evidence::{Evidence, EvidenceSource};
use crate::kind::{EntityType, EvidenceKind};
use crate::mask::mask;
use crate::page::OcrPage;
use crate::recognisers::recognise;
use crate::text::TextIndex;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

/// How readily a cue makes an image PII.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Sensitivity {
    /// Any PII cue deletes, whatever its confidence: a document title alone, a 16-digit number
    /// failing Luhn with no card context, a weak face.
    Strict,
    /// Cues count at or above their confidence thresholds.
    #[default]
    Balanced,
}

impl Sensitivity {
    pub fn parse(name: &str) -> Option<Sensitivity> {
        match name.trim().to_ascii_lowercase().as_str() {
            "strict" => Some(Sensitivity::Strict),
            "balanced" => Some(Sensitivity::Balanced),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct PolicyConfig {
    /// `strict`: any cue counts; `balanced` (default): cues count from their thresholds.
    pub sensitivity: Sensitivity,
    /// Entity types that make an image PII. Others are reported but not counted.
    pub entity_types: BTreeSet<EntityType>,
    /// Minimum confidence (0..1) for an entity to count.
    pub min_confidence: f32,
    /// Whether a detected face alone makes an image PII (default true: a face is personal data).
    pub faces_are_pii: bool,
    /// Minimum confidence for a face to count (`balanced`).
    pub face_min_confidence: f32,
    /// Kinds that never make an image PII on their own, e.g. `PHONE_NUMBER` to keep images
    /// whose only personal data is a (company) phone number. They are still reported, with
    /// `counted: false`. `ID_DOCUMENT` and `MRZ` cannot be allowed: an identity document is
    /// PII whatever else is read.
    pub allow: BTreeSet<EntityType>,
}

impl Default for PolicyConfig {
    fn default() -> Self {
        PolicyConfig {
            sensitivity: Sensitivity::Balanced,
            entity_types: EntityType::ALL
                .into_iter()
                .filter(|t| *t != EntityType::Face)
                .collect(),
            min_confidence: 0.5,
            faces_are_pii: true,
            face_min_confidence: 0.75,
            allow: BTreeSet::new(),
        }
    }
}

/// Kinds an allow-list may not name.
pub const NEVER_ALLOWED: [EntityType; 2] = [EntityType::IdDocument, EntityType::Mrz];

impl PolicyConfig {
    /// Refuses settings that cannot mean what they say.
    pub fn validate(&self) -> Result<(), String> {
        for (name, v) in [
            ("min_confidence", self.min_confidence),
            ("face_min_confidence", self.face_min_confidence),
        ] {
            if !(0.0..=1.0).contains(&v) {
                return Err(format!("{name} must be between 0 and 1, got {v}"));
            }
        }
        if let Some(t) = self.allow.iter().find(|t| NEVER_ALLOWED.contains(t)) {
            return Err(format!(
                "allow: {t} cannot be allowed (an identity document is PII whatever else is read)"
            ));
        }
        Ok(())
    }

    /// Whether the kind may count at all (type on, not allowed).
    fn type_counts(&self, entity: EntityType) -> bool {
        let on = match entity {
            EntityType::Face => self.faces_are_pii,
            entity => self.entity_types.contains(&entity),
        };
        on && !self.allow.contains(&entity)
    }

    /// Whether `evidence` counts: a type the policy names (faces only when they are PII), not
    /// allowed, and (`balanced`) at or above its minimum confidence. Kinds outside
    /// [`EntityType`] never count.
    pub fn counts(&self, evidence: &Evidence) -> bool {
        let Some(entity) = evidence.entity_type() else {
            return false;
        };
        if !self.type_counts(entity) {
            return false;
        }
        match self.sensitivity {
            Sensitivity::Strict => true,
            Sensitivity::Balanced => confidence(evidence) >= self.threshold(entity),
        }
    }

    fn threshold(&self, entity: EntityType) -> f32 {
        if entity == EntityType::Face {
            self.face_min_confidence
        } else {
            self.min_confidence
        }
    }

    /// Whether `evidence` was kept from counting by the allow-list alone.
    pub fn allowed(&self, evidence: &Evidence) -> bool {
        evidence
            .entity_type()
            .is_some_and(|t| self.allow.contains(&t))
    }
}

fn confidence(evidence: &Evidence) -> f32 {
    evidence.confidence.unwrap_or(0.0)
}

/// Runs the recognisers over one OCR page and returns evidence with boxes (in the page's
/// coordinates) and masked values.
pub fn evidence_from_page(page: &OcrPage) -> Vec<Evidence> {
    let index = TextIndex::from_page(page);
    let mut found: Vec<Evidence> = recognise(index.text())
        .into_iter()
        .map(|m| {
            let (bbox, ocr_conf) = index.locate(m.start, m.end);
            // A validated checksum is strong evidence even when OCR was unsure; weigh OCR lightly.
            let confidence = match ocr_conf {
                Some(c) => m.confidence * (0.85 + 0.15 * c.clamp(0.0, 1.0)),
                None => m.confidence,
            };
            let value = index.text().get(m.start..m.end).unwrap_or("");
            Evidence {
                kind: m.entity_type.into(),
                masked_value: mask(m.entity_type, value),
                confidence: Some(round3(confidence)),
                bbox,
                source: EvidenceSource::Ocr,
                counted: false,
                note: Some(m.recogniser.to_string()),
            }
        })
        .collect();
    found.extend(page_cues(page));
    found
}

/// A face found by the face detector named `detector` (e.g. `haar_cascade`), as evidence.
pub fn face_evidence(bbox: BoundingBox, confidence: f32, detector: &str) -> Evidence {
    Evidence {
        kind: EntityType::Face.into(),
        masked_value: mask(EntityType::Face, ""),
        confidence: Some(round3(confidence)),
        bbox: Some(bbox),
        source: EvidenceSource::Face,
        counted: false,
        note: Some(format!("face:{detector}")),
    }
}

/// Merges evidence from several passes: same kind and overlapping boxes (or same masked value
/// without boxes) keep the most confident.
pub fn merge_evidence(mut all: Vec<Evidence>) -> Vec<Evidence> {
    all.sort_by(|a, b| confidence(b).total_cmp(&confidence(a)));
    let mut kept: Vec<Evidence> = Vec::new();
    for e in all {
        let duplicate = kept.iter().any(|k| {
            k.kind == e.kind
                && match (&k.bbox, &e.bbox) {
                    (Some(a), Some(b)) => a.iou(b) > 0.3,
                    _ => k.masked_value == e.masked_value,
                }
        });
        if !duplicate {
            kept.push(e);
        }
    }
    kept
}

/// Marks which evidence counts and explains the decision.
pub fn decide(
    config: &PolicyConfig,
    evidence: &mut [Evidence],
    words_seen: usize,
) -> (bool, String) {
    let mut counted: BTreeMap<EvidenceKind, (usize, f32)> = BTreeMap::new();
    let mut below = 0usize;
    let mut off = 0usize;
    let mut allowed = 0usize;
    for e in evidence.iter_mut() {
        e.counted = config.counts(e);
        if e.counted {
            let slot = counted.entry(e.kind.clone()).or_insert((0, 0.0));
            slot.0 += 1;
            slot.1 = slot.1.max(confidence(e));
        } else if config.allowed(e) {
            allowed += 1;
        } else if e
            .entity_type()
            .is_some_and(|t| config.type_counts(t) && confidence(e) < config.threshold(t))
        {
            below += 1;
        } else {
            off += 1;
        }
    }
    let mut ignored = Vec::new();
    if below > 0 {
        ignored.push(format!("{below} below their minimum confidence"));
    }
    if off > 0 {
        ignored.push(format!("{off} of types not counted by policy"));
    }
    if allowed > 0 {
        ignored.push(format!("{allowed} allowed by policy"));
    }
    let ignored = if ignored.is_empty() {
        String::new()
    } else {
        format!("; ignored: {}", ignored.join(", "))
    };
    if counted.is_empty() {
        let base = if evidence.is_empty() && words_seen == 0 {
            "no PII: no text recognised and no counted face".to_string()
        } else if evidence.is_empty() {
            format!("no PII: {words_seen} OCR words, no recogniser matched")
        } else {
            format!("no PII: {} candidate(s) did not count", evidence.len())
        };
        (false, format!("{base}{ignored}"))
    } else {
        let parts: Vec<String> = counted
            .iter()
            .map(|(t, (n, c))| format!("{t} x{n} (max confidence {c:.2})"))
            .collect();
        (true, format!("PII found: {}{ignored}", parts.join(", ")))
    }
}

fn round3(v: f32) -> f32 {
    (v * 1000.0).round() / 1000.0
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::page::{OcrLine, OcrWord};

    fn page(words: &[(&str, u32)]) -> OcrPage {
        OcrPage {
            lines: vec![OcrLine {
                words: words
                    .iter()
                    .map(|(t, x)| OcrWord {
                        text: t.to_string(),
                        bbox: BoundingBox::new(*x, 0, 40, 20),
                        confidence: 0.95,
                    })
                    .collect(),
            }],
        }
    }

    #[test]
    fn entities_get_boxes_and_masks() {
        let p = page(&[
            ("Card", 0),
            ("4111", 50),
            ("1111", 100),
            ("1111", 150),
            ("1111", 200),
        ]);
        let ents = evidence_from_page(&p);
        assert_eq!(ents.len(), 1);
        assert_eq!(ents[0].entity_type(), Some(EntityType::CreditCard));
        assert_eq!(ents[0].bbox, Some(BoundingBox::new(50, 0, 190, 20)));
        assert_eq!(ents[0].masked_value, "**** **** **** 1111");
        assert_eq!(ents[0].source, EvidenceSource::Ocr);
        assert_eq!(ents[0].note.as_deref(), Some("credit_card:luhn+iin"));
    }

    #[test]
    fn policy_counts_types_and_thresholds() {
        let p = page(&[("ip", 0), ("10.1.2.3", 50), ("mail", 100), ("a@b.co", 150)]);
        let mut ents = evidence_from_page(&p);
        let mut config = PolicyConfig::default();
        let (pii, reason) = decide(&config, &mut ents, 4);
        assert!(pii, "{reason}");
        assert!(reason.contains("EMAIL_ADDRESS x1"), "{reason}");

        config.entity_types = [EntityType::CreditCard].into_iter().collect();
        let (pii, reason) = decide(&config, &mut ents, 4);
        assert!(!pii);
        assert!(reason.contains("2 of types not counted"), "{reason}");

        config = PolicyConfig {
            min_confidence: 0.99,
            ..PolicyConfig::default()
        };
        let (pii, reason) = decide(&config, &mut ents, 4);
        assert!(!pii);
        assert!(
            reason.contains("below their minimum confidence"),
            "{reason}"
        );

        // Strict: any cue counts, whatever its confidence.
        config.sensitivity = Sensitivity::Strict;
        let (pii, _) = decide(&config, &mut ents, 4);
        assert!(pii);
    }

    #[test]
    fn faces_count_by_default_and_can_be_allowed() {
        let weak = face_evidence(BoundingBox::new(100, 1, 50, 50), 0.6, "blazeface");
        let mut ents = vec![weak.clone()];
        let (pii, reason) = decide(&PolicyConfig::default(), &mut ents, 0);
        assert!(!pii, "a weak face counts only when strict: {reason}");
        let mut ents = vec![
            face_evidence(BoundingBox::new(1, 1, 50, 50), 0.9, "blazeface"),
            weak,
        ];
        let (pii, reason) = decide(&PolicyConfig::default(), &mut ents, 0);
        assert!(pii);
        assert!(reason.contains("FACE x1"), "{reason}");
        let config = PolicyConfig {
            allow: [EntityType::Face].into_iter().collect(),
            ..PolicyConfig::default()
        };
        let (pii, reason) = decide(&config, &mut ents, 0);
        assert!(!pii);
        assert!(reason.contains("2 allowed by policy"), "{reason}");
        let config = PolicyConfig {
            faces_are_pii: false,
            ..PolicyConfig::default()
        };
        assert!(!decide(&config, &mut ents, 0).0);
    }

    #[test]
    fn identity_documents_cannot_be_allowed() {
        let mut config = PolicyConfig {
            allow: [EntityType::PhoneNumber].into_iter().collect(),
            ..PolicyConfig::default()
        };
        assert_eq!(config.validate(), Ok(()));
        config.allow.insert(EntityType::IdDocument);
        assert!(config.validate().unwrap_err().contains("ID_DOCUMENT"));
        config.allow = [EntityType::Mrz].into_iter().collect();
        assert!(config.validate().is_err());
        config.allow.clear();
        config.min_confidence = 2.0;
        assert!(config.validate().is_err());
    }

    #[test]
    fn empty_page_explains_itself() {
        let (pii, reason) = decide(&PolicyConfig::default(), &mut [], 0);
        assert!(!pii);
        assert!(reason.contains("no text recognised"));
    }

    #[test]
    fn merge_keeps_most_confident_duplicate() {
        let a = face_evidence(BoundingBox::new(0, 0, 100, 100), 0.7, "haar_cascade");
        let b = face_evidence(BoundingBox::new(5, 5, 100, 100), 0.9, "haar_cascade");
        let c = face_evidence(BoundingBox::new(500, 500, 100, 100), 0.8, "haar_cascade");
        let merged = merge_evidence(vec![a, b, c]);
        assert_eq!(merged.len(), 2);
        assert_eq!(merged[0].confidence, Some(0.9));
    }
}
