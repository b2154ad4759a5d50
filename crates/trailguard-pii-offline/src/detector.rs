//! The offline detector: input safety, preprocessing, OCR passes, recognisers, faces, policy.

use crate::face::HaarCascade;
use crate::input::{declared_matches, decode, InputLimits};
use crate::ocr::{Ocr, Segmentation};
use crate::preprocess::{binarise_adaptive, prepare, PreprocessConfig, Transform};
use image::DynamicImage;
use serde::{Deserialize, Serialize};
use std::path::PathBuf;
use std::time::Instant;
use trailguard_pii::policy::{decide, entities_from_page, face_entity, merge_entities};
use trailguard_pii::text::TextIndex;
use trailguard_pii::{
    Entity, EntityType, OcrPage, PiiDetector, PiiError, PiiVerdict, PolicyConfig,
};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct OfflineConfig {
    pub policy: PolicyConfig,
    pub max_bytes: u64,
    /// Refuse images whose header declares more pixels than this (decompression bombs).
    pub max_pixels: u64,
    pub max_alloc_bytes: u64,
    /// Tesseract languages, e.g. `eng+kor`.
    pub languages: String,
    pub tessdata_dir: Option<PathBuf>,
    pub ocr_max_pixels: u64,
    pub upscale_below_side: u32,
    pub deskew: bool,
    /// Second OCR pass (sparse-text segmentation, which finds fields on cards and photos that
    /// automatic page segmentation drops) when the first finds no counted entity; skipped past
    /// `second_pass_budget_ms`.
    pub second_pass: bool,
    /// Wall-clock budget after which the second pass is skipped (None: always run it). Under
    /// CPU contention a budget makes verdicts depend on load, so it is off by default; the
    /// OCR pixel budget already bounds the time.
    /// Binarise (adaptive threshold) for the second pass; helps uneven light, hurts JPEG noise.
    pub second_pass_binarise: bool,
    pub second_pass_budget_ms: Option<u64>,
    /// Run the face detector even when faces do not count (they are then reported only).
    pub detect_faces: bool,
    pub face_cascade: Option<PathBuf>,
    pub face_max_side: u32,
    pub face_min_neighbors: usize,
}

impl Default for OfflineConfig {
    fn default() -> Self {
        OfflineConfig {
            policy: PolicyConfig::default(),
            max_bytes: 50 * 1024 * 1024,
            max_pixels: 50_000_000,
            max_alloc_bytes: 512 * 1024 * 1024,
            languages: "eng+kor".into(),
            tessdata_dir: None,
            ocr_max_pixels: 4_000_000,
            upscale_below_side: 1000,
            deskew: true,
            second_pass: true,
            second_pass_binarise: false,
            second_pass_budget_ms: None,
            detect_faces: false,
            face_cascade: None,
            face_max_side: 640,
            face_min_neighbors: 3,
        }
    }
}

pub struct OfflinePiiDetector {
    config: OfflineConfig,
    ocr: Ocr,
    faces: Option<HaarCascade>,
    name: String,
}

/// What the detector saw, for evaluation and debugging (the verdict carries no raw text).
pub struct Analysis {
    pub verdict: PiiVerdict,
    pub passes: usize,
    /// Milliseconds spent in decode+preprocess, first OCR pass, second pass, faces.
    pub stage_ms: [u64; 4],
    /// Raw OCR text of each pass, for local debugging only: it holds the PII itself, so it is
    /// never serialised or logged.
    pub ocr_text: Vec<String>,
}

impl OfflinePiiDetector {
    pub fn new(config: OfflineConfig) -> Result<Self, PiiError> {
        let ocr = Ocr::new(config.tessdata_dir.as_deref(), &config.languages)?;
        let faces = if config.detect_faces || config.policy.faces_are_pii {
            let path = config
                .face_cascade
                .clone()
                .unwrap_or_else(HaarCascade::default_path);
            Some(HaarCascade::load(&path)?)
        } else {
            None
        };
        let name = format!("offline:tesseract/{}", config.languages);
        Ok(OfflinePiiDetector {
            config,
            ocr,
            faces,
            name,
        })
    }

    pub fn config(&self) -> &OfflineConfig {
        &self.config
    }

    fn limits(&self) -> InputLimits {
        InputLimits {
            max_bytes: self.config.max_bytes,
            max_pixels: self.config.max_pixels,
            max_alloc_bytes: self.config.max_alloc_bytes,
        }
    }

    /// Detects PII and also returns the decoded image (for redaction).
    pub fn analyse(
        &self,
        bytes: &[u8],
        declared_media_type: Option<&str>,
    ) -> Result<(Analysis, DynamicImage), PiiError> {
        let started = Instant::now();
        let decoded = decode(bytes, &self.limits())?;
        let image = decoded.image;
        let (width, height) = (image.width(), image.height());
        let pre_config = PreprocessConfig {
            ocr_max_pixels: self.config.ocr_max_pixels,
            upscale_below_side: self.config.upscale_below_side,
            deskew: self.config.deskew,
            ..PreprocessConfig::default()
        };
        let prepared = prepare(&image, &pre_config);
        let mut stage_ms = [started.elapsed().as_millis() as u64, 0, 0, 0];
        let mut stage_start = Instant::now();

        let first = self.ocr.recognise(&prepared.gray, Segmentation::Auto)?;
        let mut ocr_text = vec![TextIndex::from_page(&first).text().to_string()];
        let mut words_seen = first.word_count();
        let mut entities = self.entities(&first, &prepared.transform, width, height);
        let mut passes = 1;
        stage_ms[1] = stage_start.elapsed().as_millis() as u64;
        stage_start = Instant::now();

        let counted_any = entities.iter().any(|e| self.config.policy.counts(e));
        let in_budget = self
            .config
            .second_pass_budget_ms
            .is_none_or(|budget| started.elapsed().as_millis() < u128::from(budget));
        if self.config.second_pass && !counted_any && in_budget {
            let second = if self.config.second_pass_binarise {
                let binary = binarise_adaptive(&prepared.gray);
                self.ocr.recognise(&binary, Segmentation::Sparse)?
            } else {
                self.ocr.recognise(&prepared.gray, Segmentation::Sparse)?
            };
            words_seen = words_seen.max(second.word_count());
            ocr_text.push(TextIndex::from_page(&second).text().to_string());
            entities.extend(self.entities(&second, &prepared.transform, width, height));
            passes += 1;
        }
        stage_ms[2] = stage_start.elapsed().as_millis() as u64;
        stage_start = Instant::now();

        if let Some(cascade) = &self.faces {
            let gray = image.to_luma8();
            for (bbox, confidence) in cascade.detect(
                &gray,
                self.config.face_max_side,
                self.config.face_min_neighbors,
            ) {
                entities.push(face_entity(bbox, confidence));
            }
        }
        stage_ms[3] = stage_start.elapsed().as_millis() as u64;

        let mut entities = merge_entities(entities);
        entities.sort_by_key(|e| e.bbox.map(|b| (b.top, b.left)));
        let (pii_detected, reason) = decide(&self.config.policy, &mut entities, words_seen);
        let mime = decoded.media_type.mime().to_string();
        let mismatch = declared_media_type
            .filter(|d| !declared_matches(d, decoded.media_type))
            .map(str::to_string);
        let reason = match &mismatch {
            Some(d) => format!("{reason}; declared type {d:?} but content is {mime}"),
            None => reason,
        };
        let verdict = PiiVerdict {
            pii_detected,
            entities,
            detector: self.name.clone(),
            reason,
            media_type_detected: Some(mime),
            media_type_declared_mismatch: mismatch,
            width,
            height,
            elapsed_ms: started.elapsed().as_millis() as u64,
        };
        tracing::debug!(
            pii = verdict.pii_detected,
            entities = verdict.entities.len(),
            ms = verdict.elapsed_ms,
            "offline pii verdict"
        );
        Ok((
            Analysis {
                verdict,
                passes,
                stage_ms,
                ocr_text,
            },
            image,
        ))
    }

    fn entities(&self, page: &OcrPage, t: &Transform, w: u32, h: u32) -> Vec<Entity> {
        entities_from_page(page)
            .into_iter()
            .map(|mut e| {
                e.bbox = e.bbox.map(|b| t.to_original(&b, w, h));
                e
            })
            .collect()
    }

    /// Entity types this detector can report.
    pub fn supported_types() -> &'static [EntityType] {
        &EntityType::ALL
    }
}

impl PiiDetector for OfflinePiiDetector {
    fn name(&self) -> &str {
        &self.name
    }

    fn detect(
        &self,
        bytes: &[u8],
        declared_media_type: Option<&str>,
    ) -> Result<PiiVerdict, PiiError> {
        self.analyse(bytes, declared_media_type)
            .map(|(analysis, _)| analysis.verdict)
    }
}
