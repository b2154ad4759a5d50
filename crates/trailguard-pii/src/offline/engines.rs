//! The two swappable engines of the offline pipeline: the OCR engine (Tesseract today) and the
//! face detector (Haar cascades today). A later engine (PP-OCR text detection and recognition, a
//! CNN face detector) implements the same trait and plugs into
//! [`OfflinePiiDetector::with_engines`](super::OfflinePiiDetector::with_engines); the pipeline,
//! recognisers and policy stay as they are.

use image::{DynamicImage, GrayImage};

use crate::bbox::BoundingBox;
use crate::error::PiiDetectError;
use crate::page::OcrPage;

/// How an OCR engine should look for text; an engine without such modes may ignore it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Segmentation {
    /// Fully automatic page segmentation (documents).
    Auto,
    /// Sparse text: as much text as possible in no particular order (photos, receipts, cards).
    Sparse,
}

/// Reads words, with boxes in `gray`'s pixels and confidences 0..1.
pub trait OcrEngine: Send + Sync {
    /// Named in the detector's name, e.g. `tesseract/eng+kor`.
    fn name(&self) -> &str;
    fn recognise(&self, gray: &GrayImage, mode: Segmentation) -> Result<OcrPage, PiiDetectError>;
}

/// Finds faces, with boxes in `image`'s pixels and confidences 0..1.
pub trait FaceDetector: Send + Sync {
    /// Named in each face's evidence note, e.g. `haar_cascade` → `face:haar_cascade`.
    fn name(&self) -> &str;
    fn detect(&self, image: &DynamicImage) -> Result<Vec<(BoundingBox, f32)>, PiiDetectError>;
}
