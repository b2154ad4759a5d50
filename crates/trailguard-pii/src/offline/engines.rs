//! The two swappable engines of the offline pipeline: the OCR engine (PP-OCR on ONNX Runtime,
//! with Tesseract re-reading Hangul lines; or Tesseract alone) and the face detector (BlazeFace;
//! or Haar cascades). Both take the decoded image and answer in its pixels; the pipeline,
//! recognisers and policy stay the same whichever engines run.

use image::DynamicImage;

use crate::bbox::BoundingBox;
use crate::error::PiiDetectError;
use crate::page::OcrPage;

/// How Tesseract should look for text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Segmentation {
    /// Fully automatic page segmentation (documents).
    Auto,
    /// Sparse text: as much text as possible in no particular order (photos, receipts, cards).
    Sparse,
    /// One uniform block of text (lines cut out by another detector, stacked).
    Block,
}

/// Reads text, with boxes in the image's pixels and confidences 0..1.
pub trait OcrEngine: Send + Sync {
    /// Named in the detector's name, e.g. `pp-ocr-v4+tesseract/kor`, `tesseract/eng+kor`.
    fn name(&self) -> &str;
    /// Reads `image` in one or more rounds. After each round, `enough` is shown every page read
    /// so far (a page is one complete reading: each Tesseract pass is a page; PP-OCR's rounds
    /// grow one page, the likeliest lines first) and reading stops when it answers `true`.
    /// Returns the pages.
    fn read(
        &self,
        image: &DynamicImage,
        enough: &mut dyn FnMut(&[OcrPage]) -> bool,
    ) -> Result<Vec<OcrPage>, PiiDetectError>;
}

/// Finds faces, with boxes in `image`'s pixels and confidences 0..1.
pub trait FaceDetector: Send + Sync {
    /// Named in each face's evidence note, e.g. `blazeface` → `face:blazeface`.
    fn name(&self) -> &str;
    fn detect(&self, image: &DynamicImage) -> Result<Vec<(BoundingBox, f32)>, PiiDetectError>;
}
