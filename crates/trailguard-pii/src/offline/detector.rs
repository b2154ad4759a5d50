//! The offline detector: input safety, preprocessing, OCR passes, recognisers, faces, policy.
//! All of it is CPU work: the async [`PiiDetector::detect`] runs it on the blocking pool; the
//! CLI and the evaluation call the blocking methods from their own threads.

use image::DynamicImage;
use std::sync::Arc;
use std::time::Instant;

use async_trait::async_trait;

use super::config::OfflineConfig;
use super::engines::{FaceDetector, OcrEngine, Segmentation};
use super::haar::{HaarCascade, HaarFaces};
use super::preprocess::{binarise_adaptive, prepare, PreprocessConfig, Transform};
use super::tesseract::TesseractOcr;
use crate::blocking::run_blocking;
use crate::decode::{decode, DecodeLimits};
use crate::detector::PiiDetector;
use crate::error::{InputError, PiiDetectError};
use crate::evidence::Evidence;
use crate::input::ImageInput;
use crate::kind::EntityType;
use crate::page::OcrPage;
use crate::policy::{decide, evidence_from_page, face_evidence, merge_evidence};
use crate::text::TextIndex;
use crate::verdict::PiiVerdict;

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

struct Pipeline {
    config: OfflineConfig,
    ocr: Box<dyn OcrEngine>,
    faces: Option<Box<dyn FaceDetector>>,
    name: String,
}

/// The offline OCR + face detector. Cheap to clone: clones share the engines.
#[derive(Clone)]
pub struct OfflinePiiDetector {
    pipeline: Arc<Pipeline>,
}

fn elapsed_ms(since: Instant) -> u64 {
    since.elapsed().as_millis() as u64
}

impl OfflinePiiDetector {
    /// Tesseract for `config.languages`, and the Haar cascade when faces are detected or count.
    /// Fails when the OCR language data or the cascade file is missing.
    pub fn new(config: OfflineConfig) -> Result<Self, PiiDetectError> {
        let ocr = TesseractOcr::new(config.tessdata_dir.as_deref(), &config.languages)?;
        let faces: Option<Box<dyn FaceDetector>> =
            if config.detect_faces || config.policy.faces_are_pii {
                let path = config
                    .face_cascade
                    .clone()
                    .unwrap_or_else(HaarCascade::default_path);
                Some(Box::new(HaarFaces {
                    cascade: HaarCascade::load(&path)?,
                    max_side: config.face_max_side,
                    min_neighbors: config.face_min_neighbors,
                }))
            } else {
                None
            };
        Ok(Self::with_engines(config, Box::new(ocr), faces))
    }

    /// The same pipeline over other engines. `faces` runs whenever it is given; whether faces
    /// count stays the policy's decision.
    pub fn with_engines(
        config: OfflineConfig,
        ocr: Box<dyn OcrEngine>,
        faces: Option<Box<dyn FaceDetector>>,
    ) -> Self {
        let name = format!("offline:{}", ocr.name());
        OfflinePiiDetector {
            pipeline: Arc::new(Pipeline {
                config,
                ocr,
                faces,
                name,
            }),
        }
    }

    pub fn config(&self) -> &OfflineConfig {
        &self.pipeline.config
    }

    /// The detector's name without the trait in scope.
    pub fn label(&self) -> &str {
        &self.pipeline.name
    }

    /// Detects PII in `bytes` (type from the magic bytes) and also returns the decoded image
    /// (for redaction). Blocking: call it from a thread of your own, not from async code.
    pub fn analyse(
        &self,
        bytes: &[u8],
        declared_media_type: Option<&str>,
    ) -> Result<(Analysis, DynamicImage), PiiDetectError> {
        // Size first, as the handler does: a huge file is "too large" whatever it holds.
        let size = bytes.len() as u64;
        if size > self.pipeline.config.max_bytes {
            return Err(InputError::TooLarge {
                size,
                limit: self.pipeline.config.max_bytes,
            }
            .into());
        }
        let input = ImageInput::new(bytes, declared_media_type)?;
        self.pipeline.analyse(&input)
    }

    /// [`Self::analyse`] without the extras. Blocking.
    pub fn detect_blocking(
        &self,
        bytes: &[u8],
        declared_media_type: Option<&str>,
    ) -> Result<PiiVerdict, PiiDetectError> {
        self.analyse(bytes, declared_media_type)
            .map(|(analysis, _)| analysis.verdict)
    }

    /// Entity types this detector can report.
    pub fn supported_types() -> &'static [EntityType] {
        &EntityType::ALL
    }
}

impl Pipeline {
    fn analyse(&self, input: &ImageInput<'_>) -> Result<(Analysis, DynamicImage), PiiDetectError> {
        let started = Instant::now();
        let size = input.bytes.len() as u64;
        if size > self.config.max_bytes {
            return Err(InputError::TooLarge {
                size,
                limit: self.config.max_bytes,
            }
            .into());
        }
        let limits = DecodeLimits {
            max_pixels: self.config.max_pixels,
            max_alloc_bytes: self.config.max_alloc_bytes,
        };
        let image = decode(input.bytes, input.kind, &limits)?;
        let (width, height) = (image.width(), image.height());
        let pre_config = PreprocessConfig {
            ocr_max_pixels: self.config.ocr_max_pixels,
            upscale_below_side: self.config.upscale_below_side,
            deskew: self.config.deskew,
            ..PreprocessConfig::default()
        };
        let prepared = prepare(&image, &pre_config);
        let mut stage_ms = [elapsed_ms(started), 0, 0, 0];
        let mut stage_start = Instant::now();

        let first = self.ocr.recognise(&prepared.gray, Segmentation::Auto)?;
        let mut ocr_text = vec![TextIndex::from_page(&first).text().to_string()];
        let mut words_seen = first.word_count();
        let mut evidence = self.evidence(&first, &prepared.transform, width, height);
        let mut passes = 1;
        stage_ms[1] = elapsed_ms(stage_start);
        stage_start = Instant::now();

        let counted_any = evidence.iter().any(|e| self.config.policy.counts(e));
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
            evidence.extend(self.evidence(&second, &prepared.transform, width, height));
            passes += 1;
        }
        stage_ms[2] = elapsed_ms(stage_start);
        stage_start = Instant::now();

        if let Some(faces) = &self.faces {
            for (bbox, confidence) in faces.detect(&image)? {
                evidence.push(face_evidence(bbox, confidence, faces.name()));
            }
        }
        stage_ms[3] = elapsed_ms(stage_start);

        let mut evidence = merge_evidence(evidence);
        evidence.sort_by_key(|e| e.bbox.map(|b| (b.top, b.left)));
        let (pii_detected, reason) = decide(&self.config.policy, &mut evidence, words_seen);
        let verdict = PiiVerdict {
            pii_detected,
            evidence,
            reason,
            detector: self.name.clone(),
            width,
            height,
            words_seen: Some(words_seen),
            model_calls: 0,
            sent_image_size: None,
            elapsed_ms: elapsed_ms(started),
        };
        tracing::debug!(
            pii = verdict.pii_detected,
            evidence = verdict.evidence.len(),
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

    /// Evidence from one OCR page, its boxes mapped back to the original image.
    fn evidence(&self, page: &OcrPage, t: &Transform, w: u32, h: u32) -> Vec<Evidence> {
        evidence_from_page(page)
            .into_iter()
            .map(|mut e| {
                e.bbox = e.bbox.map(|b| t.to_original(&b, w, h));
                e
            })
            .collect()
    }
}

#[async_trait]
impl PiiDetector for OfflinePiiDetector {
    fn name(&self) -> &str {
        &self.pipeline.name
    }

    async fn detect(&self, image: &ImageInput<'_>) -> Result<PiiVerdict, PiiDetectError> {
        let pipeline = Arc::clone(&self.pipeline);
        let (bytes, kind) = (image.bytes.to_vec(), image.kind);
        run_blocking(move || {
            let input = ImageInput {
                bytes: &bytes,
                kind,
                declared_media_type: None,
            };
            pipeline
                .analyse(&input)
                .map(|(analysis, _)| analysis.verdict)
        })
        .await?
    }
}
