//! The offline detector: input safety, faces, OCR rounds, recognisers and context cues, policy.
//! Faces run first (one cheap inference); text is read in rounds, the likeliest lines first, and
//! reading stops at the first evidence that counts (evidence only adds up, so the verdict is
//! the one a full reading would give; `early_stop = false` reads everything, for redaction).
//! All of it is CPU work: the async [`PiiDetector::detect`] runs it on the blocking pool; the
//! CLI and the evaluation call the blocking methods from their own threads.

use image::DynamicImage;
use std::sync::Arc;
use std::time::Instant;

use async_trait::async_trait;

use super::config::{Engine, OfflineConfig};
use super::engines::{FaceDetector, OcrEngine};
#[cfg(feature = "offline")]
use super::haar::{HaarCascade, HaarFaces};
use super::onnx::{BlazeFaces, OnnxModels, PpOcr, PpOcrOptions};
#[cfg(feature = "offline")]
use super::preprocess::PreprocessConfig;
#[cfg(feature = "offline")]
use super::tesseract::{TesseractOcr, TesseractPages};
use crate::bbox::BoundingBox;
use crate::blocking::run_blocking;
use crate::cues::portrait_cue;
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

/// Milliseconds per stage of one image.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct StageMs {
    pub decode: u64,
    pub faces: u64,
    pub ocr: u64,
}

/// What the detector saw, for evaluation and debugging (the verdict carries no raw text).
pub struct Analysis {
    pub verdict: PiiVerdict,
    /// OCR pages read (Tesseract passes; PP-OCR: 1), 0 when faces decided.
    pub passes: usize,
    pub stage_ms: StageMs,
    /// Raw OCR text of each page, for local debugging only: it holds the PII itself, so it is
    /// never serialised or logged.
    pub ocr_text: Vec<String>,
}

struct Pipeline {
    config: OfflineConfig,
    ocr: Box<dyn OcrEngine>,
    faces: Option<Box<dyn FaceDetector>>,
    name: String,
}

/// The offline OCR + face detector. Cheap to clone: clones share the engines (and their
/// model sessions, which run one image at a time).
#[derive(Clone)]
pub struct OfflinePiiDetector {
    pipeline: Arc<Pipeline>,
}

fn elapsed_ms(since: Instant) -> u64 {
    since.elapsed().as_millis() as u64
}

#[cfg(feature = "offline")]
fn tesseract(config: &OfflineConfig) -> Result<TesseractOcr, PiiDetectError> {
    TesseractOcr::new(config.tessdata_dir.as_deref(), &config.languages)
}

/// Tesseract re-reading Hangul lines when `kor` is among the languages.
#[cfg(feature = "offline")]
fn hangul_reader(
    config: &OfflineConfig,
) -> Result<Option<super::onnx::HangulReader>, PiiDetectError> {
    let korean = config.languages.split('+').any(|l| l == "kor");
    korean.then(|| tesseract(config)).transpose()
}

/// Built without Tesseract: PP-OCR alone (its dictionary spells Latin and Chinese, not Hangul).
#[cfg(not(feature = "offline"))]
fn hangul_reader(
    config: &OfflineConfig,
) -> Result<Option<super::onnx::HangulReader>, PiiDetectError> {
    if config.languages.split('+').any(|l| l == "kor") {
        static WARNED: std::sync::Once = std::sync::Once::new();
        WARNED.call_once(|| {
            tracing::warn!("built without Tesseract (feature `onnx` only): Korean lines are not re-read, so Hangul names and addresses go unseen; Korean resident numbers, cards, MRZ and faces are still found")
        });
    }
    Ok(None)
}

/// The Tesseract + Haar engines.
#[cfg(feature = "offline")]
fn tesseract_engines(config: &OfflineConfig) -> Result<OptionalFaceEngines, PiiDetectError> {
    let ocr = TesseractPages {
        ocr: tesseract(config)?,
        preprocess: PreprocessConfig {
            ocr_max_pixels: config.ocr_max_pixels,
            upscale_below_side: config.upscale_below_side,
            deskew: config.deskew,
            ..PreprocessConfig::default()
        },
        second_pass: config.second_pass,
        second_pass_binarise: config.second_pass_binarise,
    };
    let faces = if config.detect_faces || config.policy.faces_are_pii {
        Some(haar(config)?)
    } else {
        None
    };
    Ok((Box::new(ocr), faces))
}

#[cfg(not(feature = "offline"))]
fn tesseract_engines(_: &OfflineConfig) -> Result<OptionalFaceEngines, PiiDetectError> {
    Err(PiiDetectError::Config(format!(
        "this build has no Tesseract engine (feature `onnx` only): it needs the ONNX models (`{}`) and engine = \"onnx\" or \"auto\"",
        super::onnx::FETCH_COMMAND
    )))
}

#[cfg(feature = "offline")]
fn haar(config: &OfflineConfig) -> Result<Box<dyn FaceDetector>, PiiDetectError> {
    let path = config
        .face_cascade
        .clone()
        .unwrap_or_else(HaarCascade::default_path);
    Ok(Box::new(HaarFaces {
        cascade: HaarCascade::load(&path)?,
        max_side: config.face_max_side,
        min_neighbors: config.face_min_neighbors,
    }))
}

/// An OCR engine and a face detector.
type Engines = (Box<dyn OcrEngine>, Box<dyn FaceDetector>);
/// An OCR engine and, when faces are looked for, a face detector.
type OptionalFaceEngines = (Box<dyn OcrEngine>, Option<Box<dyn FaceDetector>>);

/// PP-OCR + BlazeFace over the located models.
fn onnx_engines(config: &OfflineConfig, models: &OnnxModels) -> Result<Engines, PiiDetectError> {
    let engine = trailguard_vision::EngineConfig {
        intra_threads: config.threads.max(1),
        ..trailguard_vision::EngineConfig::new(&models.onnxruntime)
    };
    let hangul = hangul_reader(config)?;
    let options = PpOcrOptions {
        max_lines: config.max_text_lines,
        ..PpOcrOptions::default()
    };
    let ocr = PpOcr::load(models, &engine, options, hangul)?;
    let faces = BlazeFaces::load(models, &engine, config.face_min_score)?;
    Ok((Box::new(ocr), Box::new(faces)))
}

impl OfflinePiiDetector {
    /// The engines `config.engine` names: PP-OCR + BlazeFace on ONNX Runtime (`onnx`; `auto`
    /// when the models are found), else Tesseract + Haar cascades. Fails when what the engines
    /// need is missing (models, OCR language data, the cascade file), saying what to fetch.
    pub fn new(config: OfflineConfig) -> Result<Self, PiiDetectError> {
        config
            .policy
            .validate()
            .map_err(|e| PiiDetectError::Config(e.to_string()))?;
        let located = match config.engine {
            Engine::Tesseract => None,
            Engine::Onnx => Some(
                OnnxModels::locate(config.models_dir.as_deref(), config.onnxruntime.as_deref())
                    .map_err(PiiDetectError::Config)?,
            ),
            Engine::Auto => {
                match OnnxModels::locate(
                    config.models_dir.as_deref(),
                    config.onnxruntime.as_deref(),
                ) {
                    Ok(models) => Some(models),
                    // Without Tesseract there is nothing to fall back to.
                    #[cfg(not(feature = "offline"))]
                    Err(why) => return Err(PiiDetectError::Config(why)),
                    #[cfg(feature = "offline")]
                    Err(why) => {
                        static WARNED: std::sync::Once = std::sync::Once::new();
                        WARNED.call_once(|| {
                            tracing::warn!(
                                "{why}; using the Tesseract + Haar-cascade detector, which misses most faces and many identity documents on real photos (engine = \"tesseract\" to choose it, \"onnx\" to require the models)"
                            )
                        });
                        None
                    }
                }
            }
        };
        let (ocr, faces): (Box<dyn OcrEngine>, Option<Box<dyn FaceDetector>>) = match located {
            Some(models) => {
                let (ocr, faces) = onnx_engines(&config, &models)?;
                // BlazeFace is cheap and feeds the portrait cue: it always runs.
                (ocr, Some(faces))
            }
            None => tesseract_engines(&config)?,
        };
        Ok(Self::with_engines(config, ocr, faces))
    }

    /// The same pipeline over other engines. `faces` runs whenever it is given; whether faces
    /// count stays the policy's decision.
    pub fn with_engines(
        config: OfflineConfig,
        ocr: Box<dyn OcrEngine>,
        faces: Option<Box<dyn FaceDetector>>,
    ) -> Self {
        let name = match &faces {
            Some(f) => format!("offline:{}+{}", ocr.name(), f.name()),
            None => format!("offline:{}", ocr.name()),
        };
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

/// Evidence of every page read so far, plus the portrait cue over the richest page.
fn text_evidence(
    pages: &[OcrPage],
    faces: &[(BoundingBox, f32)],
    width: u32,
    height: u32,
    face_floor: f32,
) -> Vec<Evidence> {
    let mut evidence: Vec<Evidence> = pages.iter().flat_map(evidence_from_page).collect();
    let richest = pages.iter().max_by_key(|p| p.word_count());
    if let Some(cue) = richest.and_then(|p| portrait_cue(p, faces, width, height, face_floor)) {
        evidence.push(cue);
    }
    evidence
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
        // Animated GIF and WebP: the first frame (the image crate's still-image decode).
        let image = decode(input.bytes, input.kind, &limits)?;
        let (width, height) = (image.width(), image.height());
        let mut stage_ms = StageMs {
            decode: elapsed_ms(started),
            ..StageMs::default()
        };
        let policy = &self.config.policy;
        let early = self.config.early_stop;

        let stage = Instant::now();
        let mut evidence = Vec::new();
        let mut face_boxes = Vec::new();
        if let Some(faces) = &self.faces {
            for (bbox, confidence) in faces.detect(&image)? {
                face_boxes.push((bbox, confidence));
                evidence.push(face_evidence(bbox, confidence, faces.name()));
            }
        }
        stage_ms.faces = elapsed_ms(stage);

        let stage = Instant::now();
        let decided = early && evidence.iter().any(|e| policy.counts(e));
        let floor = self.config.face_min_score;
        let pages = if decided {
            Vec::new()
        } else {
            self.ocr.read(&image, &mut |pages| {
                early
                    && text_evidence(pages, &face_boxes, width, height, floor)
                        .iter()
                        .any(|e| policy.counts(e))
            })?
        };
        evidence.extend(text_evidence(&pages, &face_boxes, width, height, floor));
        stage_ms.ocr = elapsed_ms(stage);
        let words_seen = pages.iter().map(OcrPage::word_count).max().unwrap_or(0);
        let ocr_text = pages
            .iter()
            .map(|p| TextIndex::from_page(p).text().to_string())
            .collect();

        let mut evidence = merge_evidence(evidence);
        evidence.sort_by_key(|e| e.bbox.map(|b| (b.top, b.left)));
        let (pii_detected, reason) = decide(policy, &mut evidence, words_seen);
        let verdict = PiiVerdict {
            pii_detected,
            evidence,
            reason,
            detector: self.name.clone(),
            width,
            height,
            words_seen: (!pages.is_empty()).then_some(words_seen),
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
                passes: pages.len(),
                stage_ms,
                ocr_text,
            },
            image,
        ))
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
