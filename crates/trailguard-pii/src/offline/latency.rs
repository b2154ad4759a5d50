//! Latency per image for BENCHMARKS.md: detectors on a photo resized to a given size, against
//! baselines timed in the same rounds (interleaved, so all see the same load): decoding alone,
//! and one plain full-resolution Tesseract pass with no preprocessing and no recognisers (what
//! Presidio's image analyser runs); and over a whole labelled set resized to a pixel count
//! ([`measure_set`]), each image timed with every detector in turn.

use image::{DynamicImage, ImageFormat};
use serde::Serialize;
use std::io::Cursor;
use std::path::Path;
use std::time::Instant;

use super::detector::OfflinePiiDetector;
use super::engines::Segmentation;
use super::eval::percentile;
use super::eval::LabelledImage;
use super::tesseract::TesseractOcr;
use crate::error::{InputError, PiiDetectError};
use crate::policy::evidence_from_page;

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Timing {
    pub median_ms: u64,
    pub p95_ms: u64,
}

impl Timing {
    pub fn from_ms(mut times: Vec<u64>) -> Timing {
        times.sort_unstable();
        Timing {
            median_ms: percentile(&times, 50),
            p95_ms: percentile(&times, 95),
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct LatencyReport {
    pub label: String,
    pub width: u32,
    pub height: u32,
    pub jpeg_bytes: usize,
    pub runs: usize,
    pub pii_detected: bool,
    pub detector: Timing,
    pub decode_only: Timing,
    /// One Tesseract pass over the full-resolution grayscale image (None when not measured).
    pub plain_ocr: Option<Timing>,
    /// Whether the recognisers and policy, run over that plain pass's text, would call the
    /// photo PII (what the preprocessing and second pass add).
    pub plain_ocr_pii: Option<bool>,
}

impl LatencyReport {
    /// Detector median over the plain-OCR median (below 1: faster than the naive pipeline).
    pub fn ratio_to_plain_ocr(&self) -> Option<f64> {
        self.plain_ocr
            .as_ref()
            .filter(|t| t.median_ms > 0)
            .map(|t| self.detector.median_ms as f64 / t.median_ms as f64)
    }
}

/// `source` resized to `width`x`height` and encoded as a JPEG (default quality), like a phone photo.
pub fn photo_jpeg(source: &DynamicImage, width: u32, height: u32) -> Result<Vec<u8>, InputError> {
    let resized = source.resize_exact(width, height, image::imageops::FilterType::Triangle);
    let mut jpeg = Vec::new();
    resized
        .to_rgb8()
        .write_to(&mut Cursor::new(&mut jpeg), ImageFormat::Jpeg)
        .map_err(|e| InputError::Corrupt {
            media_type: "image/jpeg".into(),
            detail: format!("encoding the test photo: {e}"),
        })?;
    Ok(jpeg)
}

/// The image at `path` as a `width`x`height` JPEG (see [`photo_jpeg`]).
pub fn photo_jpeg_from_file(path: &Path, width: u32, height: u32) -> Result<Vec<u8>, InputError> {
    let source = image::open(path).map_err(|e| InputError::Corrupt {
        media_type: "image".into(),
        detail: format!("{}: {e}", path.display()),
    })?;
    photo_jpeg(&source, width, height)
}

fn elapsed_ms(started: Instant) -> u64 {
    started.elapsed().as_millis() as u64
}

/// Times `runs` rounds of detector, decode-only and (when `plain_ocr` is given) plain OCR.
pub fn measure(
    label: &str,
    detector: &OfflinePiiDetector,
    jpeg: &[u8],
    runs: usize,
    plain_ocr: Option<&TesseractOcr>,
) -> Result<LatencyReport, PiiDetectError> {
    let corrupt = |e: image::ImageError| InputError::Corrupt {
        media_type: "image/jpeg".into(),
        detail: e.to_string(),
    };
    let runs = runs.max(1);
    let (mut det, mut dec, mut ocr) = (Vec::new(), Vec::new(), Vec::new());
    let (mut width, mut height, mut pii_detected) = (0, 0, false);
    let mut plain_pii = None;
    for _ in 0..runs {
        let started = Instant::now();
        let verdict = detector.detect_blocking(jpeg, Some("image/jpeg"))?;
        det.push(elapsed_ms(started));
        (width, height, pii_detected) = (verdict.width, verdict.height, verdict.pii_detected);

        let started = Instant::now();
        let decoded =
            image::load_from_memory_with_format(jpeg, ImageFormat::Jpeg).map_err(corrupt)?;
        std::hint::black_box(decoded.to_luma8());
        dec.push(elapsed_ms(started));

        if let Some(engine) = plain_ocr {
            let started = Instant::now();
            let decoded =
                image::load_from_memory_with_format(jpeg, ImageFormat::Jpeg).map_err(corrupt)?;
            let page = engine.recognise(&decoded.to_luma8(), Segmentation::Auto)?;
            ocr.push(elapsed_ms(started));
            let policy = &detector.config().policy;
            plain_pii = Some(evidence_from_page(&page).iter().any(|e| policy.counts(e)));
        }
    }
    Ok(LatencyReport {
        label: label.to_string(),
        width,
        height,
        jpeg_bytes: jpeg.len(),
        runs,
        pii_detected,
        detector: Timing::from_ms(det),
        decode_only: Timing::from_ms(dec),
        plain_ocr: plain_ocr.map(|_| Timing::from_ms(ocr)),
        plain_ocr_pii: plain_pii,
    })
}

/// `source` scaled to about `megapixels` million pixels (aspect kept) and encoded as a JPEG.
pub fn jpeg_at_megapixels(source: &DynamicImage, megapixels: f64) -> Result<Vec<u8>, InputError> {
    let pixels = f64::from(source.width()) * f64::from(source.height());
    let f = (megapixels * 1e6 / pixels.max(1.0)).sqrt();
    let w = ((f64::from(source.width()) * f).round() as u32).max(1);
    let h = ((f64::from(source.height()) * f).round() as u32).max(1);
    photo_jpeg(source, w, h)
}

/// One detector's times over a set.
#[derive(Debug, Clone, Serialize)]
pub struct SetTiming {
    pub detector: String,
    pub timing: Timing,
    /// Images it called PII (a check that the resized set still holds what it held).
    pub pii_images: usize,
    pub errors: usize,
}

/// Latency over a set resized to `megapixels`: for each image (at most `limit`), the JPEG is
/// made once and every detector checks it in turn, so they share the machine's load. Decoding
/// the JPEG is timed as a baseline in the same round.
#[derive(Debug, Clone, Serialize)]
pub struct SetLatency {
    pub megapixels: f64,
    pub images: usize,
    pub detectors: Vec<SetTiming>,
    pub decode_only: Timing,
}

pub fn measure_set(
    set: &[LabelledImage],
    megapixels: f64,
    limit: usize,
    detectors: &[&OfflinePiiDetector],
    progress: &mut dyn FnMut(&LabelledImage),
) -> SetLatency {
    let mut times: Vec<Vec<u64>> = vec![Vec::new(); detectors.len()];
    let mut pii = vec![0usize; detectors.len()];
    let mut errors = vec![0usize; detectors.len()];
    let mut decode = Vec::new();
    let mut images = 0usize;
    for item in set.iter().take(limit) {
        progress(item);
        let Ok(source) = image::open(&item.path) else {
            continue;
        };
        let Ok(jpeg) = jpeg_at_megapixels(&source, megapixels) else {
            continue;
        };
        drop(source);
        images += 1;
        let started = Instant::now();
        if let Ok(decoded) = image::load_from_memory_with_format(&jpeg, ImageFormat::Jpeg) {
            std::hint::black_box(decoded.to_rgb8());
        }
        decode.push(elapsed_ms(started));
        for (k, detector) in detectors.iter().enumerate() {
            let started = Instant::now();
            match detector.detect_blocking(&jpeg, Some("image/jpeg")) {
                Ok(v) => pii[k] += usize::from(v.pii_detected),
                Err(_) => errors[k] += 1,
            }
            times[k].push(elapsed_ms(started));
        }
    }
    SetLatency {
        megapixels,
        images,
        detectors: detectors
            .iter()
            .zip(times)
            .enumerate()
            .map(|(k, (d, t))| SetTiming {
                detector: d.label().to_string(),
                timing: Timing::from_ms(t),
                pii_images: pii[k],
                errors: errors[k],
            })
            .collect(),
        decode_only: Timing::from_ms(decode),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timing_takes_nearest_rank_percentiles() {
        let t = Timing::from_ms(vec![30, 10, 20]);
        assert_eq!(
            t,
            Timing {
                median_ms: 20,
                p95_ms: 30
            }
        );
    }

    #[test]
    fn photo_is_resized_and_encoded() {
        let source =
            DynamicImage::ImageLuma8(image::GrayImage::from_pixel(40, 30, image::Luma([9])));
        let jpeg = photo_jpeg(&source, 80, 60).unwrap();
        let back = image::load_from_memory(&jpeg).unwrap();
        assert_eq!((back.width(), back.height()), (80, 60));
    }
}
