//! The verdict policy: which entity types count, at what confidence, and faces on or off.

use crate::mask::mask;
use crate::model::{BoundingBox, Entity, EntityType, OcrPage};
use crate::recognisers::recognise;
use crate::text::TextIndex;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct PolicyConfig {
    /// Entity types that make an image PII. Others are reported but not counted.
    pub entity_types: BTreeSet<EntityType>,
    /// Minimum confidence (0..1) for an entity to count.
    pub min_confidence: f32,
    /// Whether a detected face alone makes an image PII.
    pub faces_are_pii: bool,
}

impl Default for PolicyConfig {
    fn default() -> Self {
        PolicyConfig {
            entity_types: EntityType::ALL
                .into_iter()
                .filter(|t| *t != EntityType::Face)
                .collect(),
            min_confidence: 0.5,
            faces_are_pii: false,
        }
    }
}

impl PolicyConfig {
    pub fn counts(&self, entity: &Entity) -> bool {
        let type_on = if entity.entity_type == EntityType::Face {
            self.faces_are_pii
        } else {
            self.entity_types.contains(&entity.entity_type)
        };
        type_on && entity.confidence >= self.min_confidence
    }
}

/// Runs the recognisers over one OCR page and returns entities with boxes and masked text.
pub fn entities_from_page(page: &OcrPage) -> Vec<Entity> {
    let index = TextIndex::from_page(page);
    recognise(index.text())
        .into_iter()
        .map(|m| {
            let (bbox, ocr_conf) = index.locate(m.start, m.end);
            // A validated checksum is strong evidence even when OCR was unsure; weigh OCR lightly.
            let confidence = match ocr_conf {
                Some(c) => m.confidence * (0.85 + 0.15 * c.clamp(0.0, 1.0)),
                None => m.confidence,
            };
            let value = index.text().get(m.start..m.end).unwrap_or("");
            Entity {
                entity_type: m.entity_type,
                confidence: round3(confidence),
                bbox,
                text_masked: mask(m.entity_type, value),
                recogniser: m.recogniser.to_string(),
                counted: false,
            }
        })
        .collect()
}

/// A face found by the face detector, as an entity.
pub fn face_entity(bbox: BoundingBox, confidence: f32) -> Entity {
    Entity {
        entity_type: EntityType::Face,
        confidence: round3(confidence),
        bbox: Some(bbox),
        text_masked: mask(EntityType::Face, ""),
        recogniser: "face:haar_cascade".to_string(),
        counted: false,
    }
}

/// Merges entities from several passes: same type and overlapping boxes (or same masked text
/// without boxes) keep the most confident.
pub fn merge_entities(mut all: Vec<Entity>) -> Vec<Entity> {
    all.sort_by(|a, b| b.confidence.total_cmp(&a.confidence));
    let mut kept: Vec<Entity> = Vec::new();
    for e in all {
        let duplicate = kept.iter().any(|k| {
            k.entity_type == e.entity_type
                && match (&k.bbox, &e.bbox) {
                    (Some(a), Some(b)) => a.iou(b) > 0.3,
                    _ => k.text_masked == e.text_masked,
                }
        });
        if !duplicate {
            kept.push(e);
        }
    }
    kept
}

/// Marks which entities count and explains the decision.
pub fn decide(config: &PolicyConfig, entities: &mut [Entity], words_seen: usize) -> (bool, String) {
    let mut counted: BTreeMap<EntityType, (usize, f32)> = BTreeMap::new();
    let mut below = 0usize;
    let mut off = 0usize;
    for e in entities.iter_mut() {
        e.counted = config.counts(e);
        if e.counted {
            let slot = counted.entry(e.entity_type).or_insert((0, 0.0));
            slot.0 += 1;
            slot.1 = slot.1.max(e.confidence);
        } else if e.confidence < config.min_confidence {
            below += 1;
        } else {
            off += 1;
        }
    }
    let mut ignored = Vec::new();
    if below > 0 {
        ignored.push(format!(
            "{below} below min confidence {:.2}",
            config.min_confidence
        ));
    }
    if off > 0 {
        ignored.push(format!("{off} of types not counted by policy"));
    }
    let ignored = if ignored.is_empty() {
        String::new()
    } else {
        format!("; ignored: {}", ignored.join(", "))
    };
    if counted.is_empty() {
        let base = if entities.is_empty() && words_seen == 0 {
            "no PII: no text recognised and no counted face".to_string()
        } else if entities.is_empty() {
            format!("no PII: {words_seen} OCR words, no recogniser matched")
        } else {
            format!("no PII: {} candidate(s) did not count", entities.len())
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
    use crate::model::{OcrLine, OcrWord};

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
        let ents = entities_from_page(&p);
        assert_eq!(ents.len(), 1);
        assert_eq!(ents[0].entity_type, EntityType::CreditCard);
        assert_eq!(ents[0].bbox, Some(BoundingBox::new(50, 0, 190, 20)));
        assert_eq!(ents[0].text_masked, "**** **** **** 1111");
    }

    #[test]
    fn policy_counts_types_and_thresholds() {
        let p = page(&[("ip", 0), ("10.1.2.3", 50), ("mail", 100), ("a@b.co", 150)]);
        let mut ents = entities_from_page(&p);
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
        assert!(reason.contains("below min confidence"), "{reason}");
    }

    #[test]
    fn faces_count_only_when_configured() {
        let mut ents = vec![face_entity(BoundingBox::new(1, 1, 50, 50), 0.9)];
        let (pii, _) = decide(&PolicyConfig::default(), &mut ents, 0);
        assert!(!pii);
        let config = PolicyConfig {
            faces_are_pii: true,
            ..PolicyConfig::default()
        };
        let (pii, reason) = decide(&config, &mut ents, 0);
        assert!(pii);
        assert!(reason.contains("FACE"));
    }

    #[test]
    fn empty_page_explains_itself() {
        let (pii, reason) = decide(&PolicyConfig::default(), &mut [], 0);
        assert!(!pii);
        assert!(reason.contains("no text recognised"));
    }

    #[test]
    fn merge_keeps_most_confident_duplicate() {
        let a = face_entity(BoundingBox::new(0, 0, 100, 100), 0.7);
        let b = face_entity(BoundingBox::new(5, 5, 100, 100), 0.9);
        let c = face_entity(BoundingBox::new(500, 500, 100, 100), 0.8);
        let merged = merge_entities(vec![a, b, c]);
        assert_eq!(merged.len(), 2);
        assert_eq!(merged[0].confidence, 0.9);
    }
}
