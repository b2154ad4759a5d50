//! What OCR reads from an image: words with boxes and confidences, in lines.

use serde::{Deserialize, Serialize};

use crate::bbox::BoundingBox;

/// One OCR word with its box and confidence (0..1).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OcrWord {
    pub text: String,
    pub bbox: BoundingBox,
    pub confidence: f32,
}

/// Words of one text line, left to right.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct OcrLine {
    pub words: Vec<OcrWord>,
}

/// The OCR result of one image (or one preprocessing pass).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct OcrPage {
    pub lines: Vec<OcrLine>,
}

impl OcrPage {
    pub fn word_count(&self) -> usize {
        self.lines.iter().map(|l| l.words.len()).sum()
    }

    pub fn mean_confidence(&self) -> f32 {
        let n = self.word_count();
        if n == 0 {
            return 0.0;
        }
        let sum: f32 = self
            .lines
            .iter()
            .flat_map(|l| l.words.iter())
            .map(|w| w.confidence)
            .sum();
        sum / n as f32
    }
}
