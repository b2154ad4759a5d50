//! Offline CPU vision for finding personal data in images: PP-OCRv4 text detection, 0/180 degree
//! line classification and recognition (Chinese + Latin script), and MediaPipe BlazeFace faces,
//! on ONNX Runtime loaded at run time (`ort` with `load-dynamic`). Generic: it reads pixels and
//! model files and returns boxes and strings; what they mean is the caller's business.
//!
//! Pre- and post-processing (DB boxes, minimum-area rectangles, homography crops, CTC decoding,
//! anchors, NMS) are plain Rust ports of RapidOCR 1.4.4 and MediaPipe's (both Apache-2.0): no
//! OpenCV. Every model is one ONNX Runtime session, loaded once and reused for every image.
//!
//! ```no_run
//! use trailguard_vision::{EngineConfig, FaceConfig, FaceDetector, TextConfig, TextModels, TextReader};
//! # fn main() -> Result<(), trailguard_vision::VisionError> {
//! let dir = std::path::Path::new("/opt/models");
//! let engine = EngineConfig::new(dir.join("libonnxruntime.so"));
//! let text = TextReader::load(&TextModels::in_dir(dir), &engine, TextConfig::default())?;
//! let faces = FaceDetector::load(&dir.join(trailguard_vision::models::FACE_BLAZE), &engine, FaceConfig::default())?;
//! let img = image::RgbImage::new(640, 480);
//! for line in text.read(&img)? {
//!     println!("{:.2} {}", line.confidence, line.text);
//! }
//! println!("{} faces", faces.detect(&img)?.len());
//! # Ok(())
//! # }
//! ```

mod engine;
mod error;
mod face;
pub mod geom;
pub mod models;
mod tensor;
mod text;

pub use engine::EngineConfig;
pub use error::{Result, VisionError};
pub use face::{Face, FaceConfig, FaceDetector};
pub use geom::{BBox, Point, Quad};
pub use models::TextModels;
pub use text::{
    ctc_greedy, AngleClassifier, CropSource, TextBox, TextConfig, TextDetector, TextLine,
    TextReader, TextRecognizer,
};
