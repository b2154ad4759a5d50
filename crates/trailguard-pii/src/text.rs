//! OCR words joined into searchable text, with byte spans mapped back to word boxes.

use crate::bbox::BoundingBox;
use crate::page::OcrPage;

/// A word's place in the joined text.
#[derive(Debug, Clone, PartialEq)]
struct WordSpan {
    start: usize,
    end: usize,
    bbox: BoundingBox,
    confidence: f32,
}

/// Lines joined by '\n', words within a line by ' '.
#[derive(Debug, Clone, Default)]
pub struct TextIndex {
    text: String,
    words: Vec<WordSpan>,
}

impl TextIndex {
    pub fn from_page(page: &OcrPage) -> Self {
        let mut text = String::new();
        let mut words = Vec::new();
        for line in &page.lines {
            if line.words.is_empty() {
                continue;
            }
            if !text.is_empty() {
                text.push('\n');
            }
            for (i, w) in line.words.iter().enumerate() {
                if i > 0 {
                    text.push(' ');
                }
                let start = text.len();
                text.push_str(&w.text);
                words.push(WordSpan {
                    start,
                    end: text.len(),
                    bbox: w.bbox,
                    confidence: w.confidence,
                });
            }
        }
        TextIndex { text, words }
    }

    /// For text without boxes (tests, plain-text scanning).
    pub fn from_text(text: &str) -> Self {
        TextIndex {
            text: text.to_string(),
            words: Vec::new(),
        }
    }

    pub fn text(&self) -> &str {
        &self.text
    }

    /// The union box and the mean OCR confidence of the words overlapping `start..end`.
    pub fn locate(&self, start: usize, end: usize) -> (Option<BoundingBox>, Option<f32>) {
        let mut bbox: Option<BoundingBox> = None;
        let mut conf_sum = 0.0f32;
        let mut n = 0usize;
        for w in self.words.iter().filter(|w| w.start < end && w.end > start) {
            bbox = Some(match bbox {
                Some(b) => b.union(&w.bbox),
                None => w.bbox,
            });
            conf_sum += w.confidence;
            n += 1;
        }
        let conf = if n == 0 {
            None
        } else {
            Some(conf_sum / n as f32)
        };
        (bbox, conf)
    }
}

/// Replaces letters OCR confuses with digits, inside tokens that are mostly digits.
/// Byte length is preserved (ASCII for ASCII), so spans stay valid on the original text.
pub fn normalise_digits(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for token in split_keep_whitespace(text) {
        let digits = token.bytes().filter(u8::is_ascii_digit).count();
        let alnum = token.chars().filter(|c| c.is_alphanumeric()).count();
        if digits >= 2 && alnum > 0 && digits * 2 >= alnum {
            out.extend(token.chars().map(|c| match c {
                'O' | 'o' | 'Q' | 'D' => '0',
                'I' | 'l' | '|' | '!' => '1',
                'S' | 's' => '5',
                'B' => '8',
                'Z' | 'z' => '2',
                other => other,
            }));
        } else {
            out.push_str(token);
        }
    }
    out
}

/// Splits into alternating runs of whitespace and non-whitespace, keeping both.
fn split_keep_whitespace(text: &str) -> Vec<&str> {
    let mut parts = Vec::new();
    let mut start = 0;
    let mut in_ws: Option<bool> = None;
    for (i, c) in text.char_indices() {
        let ws = c.is_whitespace();
        match in_ws {
            Some(prev) if prev != ws => {
                parts.push(&text[start..i]);
                start = i;
            }
            _ => {}
        }
        in_ws = Some(ws);
    }
    if start < text.len() {
        parts.push(&text[start..]);
    }
    parts
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::page::{OcrLine, OcrWord};

    fn word(text: &str, left: u32) -> OcrWord {
        OcrWord {
            text: text.into(),
            bbox: BoundingBox::new(left, 10, 50, 20),
            confidence: 0.9,
        }
    }

    #[test]
    fn spans_map_back_to_word_boxes() {
        let page = OcrPage {
            lines: vec![
                OcrLine {
                    words: vec![word("Card:", 0), word("4111", 60), word("1111", 120)],
                },
                OcrLine {
                    words: vec![word("next", 0)],
                },
            ],
        };
        let idx = TextIndex::from_page(&page);
        assert_eq!(idx.text(), "Card: 4111 1111\nnext");
        let (bbox, conf) = idx.locate(6, 15);
        assert_eq!(bbox, Some(BoundingBox::new(60, 10, 110, 20)));
        assert_eq!(conf, Some(0.9));
    }

    #[test]
    fn digit_normalisation_keeps_length_and_words() {
        let s = "Card 41l1 1111 IIII Hello 9OO1O1-1234568 이름";
        let n = normalise_digits(s);
        assert_eq!(n.len(), s.len());
        assert_eq!(n, "Card 4111 1111 IIII Hello 900101-1234568 이름");
    }
}
