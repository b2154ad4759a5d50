//! Every failure the crate reports; no API panics on bad input.

use std::path::PathBuf;

#[derive(Debug, Clone, thiserror::Error)]
pub enum VisionError {
    #[error("model file missing: {path}")]
    ModelMissing { path: PathBuf },
    #[error("model file {path} could not be loaded: {detail}")]
    ModelCorrupt { path: PathBuf, detail: String },
    #[error("reading {path}: {detail}")]
    Io { path: PathBuf, detail: String },
    /// ONNX Runtime itself: the shared library missing, the wrong version, no environment.
    #[error("ONNX Runtime unavailable: {0}")]
    Engine(String),
    #[error("inference failed in {model}: {detail}")]
    Inference { model: &'static str, detail: String },
    #[error("model {model} produced an unexpected output: {detail}")]
    BadOutput { model: &'static str, detail: String },
}

pub type Result<T> = std::result::Result<T, VisionError>;
