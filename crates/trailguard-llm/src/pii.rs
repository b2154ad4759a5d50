//! Image PII detection as a service: fetch the object, check it (size, real type by magic bytes),
//! hand it to a [`PiiDetect`] implementation, and report a [`PiiResult`] that is never a panic and
//! says clearly why when there is no verdict.
//!
//! Two detectors: [`VisionPiiDetector`] (a chat model with an image block: Bedrock or an
//! OpenAI-compatible server) and [`OfflinePiiAdapter`] (any `trailguard_pii::PiiDetector`, e.g. the
//! offline OCR detector of `trailguard-pii-offline`).

use std::io::Cursor;
use std::sync::Arc;

use async_trait::async_trait;
use image::{DynamicImage, ImageFormat, ImageReader};
use serde::{Deserialize, Serialize};
use trailguard_core::ports::{ChatModel, ObjectStore, PortError};

use crate::ask::{converse_validated, ModelFailure, RepairPolicy};
use crate::prompt::{build_pii_request, InferenceParams, PromptOptions, PII_OUTPUT_SCHEMA};
use crate::validate::{validate_pii_answer, PiiEntity, ResponseLimits};

/// The guide's image model (Claude 3.5 Sonnet v2).
pub const DEFAULT_IMAGE_MODEL_ID: &str = "anthropic.claude-3-5-sonnet-20241022-v2:0";

/// Limits on the object and on what is sent to a vision model.
///
/// Bedrock (Converse `Message.content`): up to 20 images, each at most 3.75 MB and 8000 px
/// wide and high; formats png, jpeg, gif, webp. 3.75 MB is read as 3,750,000 bytes, the smaller
/// reading.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ImageLimits {
    /// Objects larger than this are not downloaded / not processed.
    pub max_object_bytes: u64,
    /// Largest image sent to the model; larger ones are downscaled and re-encoded.
    pub max_model_bytes: usize,
    /// Largest width or height sent to the model.
    pub max_model_side: u32,
    /// Images whose header declares more pixels are refused before decoding (decompression bombs).
    pub max_decode_pixels: u64,
    /// Allocation cap of the decoder.
    pub max_decode_alloc: u64,
}

impl Default for ImageLimits {
    fn default() -> Self {
        ImageLimits {
            max_object_bytes: 25 * 1024 * 1024,
            max_model_bytes: 3_750_000,
            max_model_side: 8000,
            max_decode_pixels: 40_000_000,
            max_decode_alloc: 512 * 1024 * 1024,
        }
    }
}

/// The image types a vision model accepts, found from magic bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ImageKind {
    Png,
    Jpeg,
    Gif,
    Webp,
}

impl ImageKind {
    pub fn mime(self) -> &'static str {
        match self {
            ImageKind::Png => "image/png",
            ImageKind::Jpeg => "image/jpeg",
            ImageKind::Gif => "image/gif",
            ImageKind::Webp => "image/webp",
        }
    }

    fn format(self) -> ImageFormat {
        match self {
            ImageKind::Png => ImageFormat::Png,
            ImageKind::Jpeg => ImageFormat::Jpeg,
            ImageKind::Gif => ImageFormat::Gif,
            ImageKind::Webp => ImageFormat::WebP,
        }
    }
}

/// The real type of `bytes`, or a description of what they look like.
pub fn sniff_image(bytes: &[u8]) -> Result<ImageKind, String> {
    if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
        return Ok(ImageKind::Png);
    }
    if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
        return Ok(ImageKind::Jpeg);
    }
    if bytes.starts_with(b"GIF87a") || bytes.starts_with(b"GIF89a") {
        return Ok(ImageKind::Gif);
    }
    if bytes.len() >= 12 && bytes.starts_with(b"RIFF") && bytes.get(8..12) == Some(b"WEBP") {
        return Ok(ImageKind::Webp);
    }
    let what = if bytes.starts_with(b"%PDF") {
        "a PDF document"
    } else if bytes.starts_with(b"PK\x03\x04") {
        "a ZIP archive (or Office document)"
    } else if bytes.starts_with(b"BM") {
        "a BMP image (not accepted by vision models)"
    } else if bytes.starts_with(b"II*\0") || bytes.starts_with(b"MM\0*") {
        "a TIFF image (not accepted by vision models)"
    } else if bytes.len() >= 12 && bytes.get(4..8) == Some(b"ftyp") {
        "an ISO media file (HEIC/AVIF/MP4)"
    } else if bytes.starts_with(b"\x7fELF") || bytes.starts_with(b"MZ") {
        "an executable"
    } else if bytes
        .iter()
        .take(512)
        .all(|b| b.is_ascii_graphic() || b.is_ascii_whitespace())
    {
        "text (e.g. SVG, HTML or JSON)"
    } else {
        "unknown binary data"
    };
    Err(what.to_string())
}

/// Normalises a declared MIME type (`image/JPG; charset=x` → `image/jpeg`).
pub fn normalise_media_type(declared: &str) -> String {
    let base = declared
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    match base.as_str() {
        "image/jpg" | "image/pjpeg" => "image/jpeg".into(),
        _ => base,
    }
}

/// Why an object cannot be judged.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ImageInputError {
    #[error("empty object: zero bytes")]
    Empty,
    #[error("object too large: {size} bytes exceeds the limit of {limit} bytes")]
    TooLarge { size: u64, limit: u64 },
    #[error("not a supported image (png, jpeg, gif, webp): the content is {0}")]
    Unsupported(String),
    #[error("image {width}x{height} exceeds the decode limit of {limit} pixels")]
    TooManyPixels { width: u32, height: u32, limit: u64 },
    #[error("corrupt {media_type} image: {detail}")]
    Corrupt {
        media_type: &'static str,
        detail: String,
    },
    #[error("could not bring the image under {limit} bytes for the model")]
    CannotShrink { limit: usize },
}

impl ImageInputError {
    pub fn code(&self) -> &'static str {
        match self {
            ImageInputError::Empty => "empty",
            ImageInputError::TooLarge { .. } => "too_large",
            ImageInputError::Unsupported(_) => "unsupported_type",
            ImageInputError::TooManyPixels { .. } => "too_many_pixels",
            ImageInputError::Corrupt { .. } => "corrupt",
            ImageInputError::CannotShrink { .. } => "cannot_shrink",
        }
    }
}

/// What is sent to the vision model.
#[derive(Debug, Clone, PartialEq)]
pub struct PreparedImage {
    pub bytes: Vec<u8>,
    pub media_type: &'static str,
    pub width: u32,
    pub height: u32,
    pub original_width: u32,
    pub original_height: u32,
    /// True when the image was downscaled or re-encoded to fit the limits.
    pub reencoded: bool,
}

fn decode(
    bytes: &[u8],
    kind: ImageKind,
    limits: &ImageLimits,
) -> Result<DynamicImage, ImageInputError> {
    let corrupt = |error: image::ImageError| ImageInputError::Corrupt {
        media_type: kind.mime(),
        detail: error.to_string(),
    };
    let mut reader = ImageReader::with_format(Cursor::new(bytes), kind.format());
    let mut decoder_limits = image::Limits::default();
    decoder_limits.max_alloc = Some(limits.max_decode_alloc);
    reader.limits(decoder_limits);
    let decoder = reader.into_decoder().map_err(corrupt)?;
    let (width, height) = image::ImageDecoder::dimensions(&decoder);
    if width == 0 || height == 0 {
        return Err(ImageInputError::Corrupt {
            media_type: kind.mime(),
            detail: format!("zero dimension {width}x{height}"),
        });
    }
    // Header first: a bomb is refused before its pixels are allocated.
    if u64::from(width) * u64::from(height) > limits.max_decode_pixels {
        return Err(ImageInputError::TooManyPixels {
            width,
            height,
            limit: limits.max_decode_pixels,
        });
    }
    DynamicImage::from_decoder(decoder).map_err(corrupt)
}

fn encode(image: &DynamicImage, as_png: bool) -> Result<(Vec<u8>, &'static str), ImageInputError> {
    let mut out = Vec::new();
    let failed = |error: image::ImageError| ImageInputError::Corrupt {
        media_type: if as_png { "image/png" } else { "image/jpeg" },
        detail: format!("re-encoding failed: {error}"),
    };
    if as_png {
        image
            .write_to(&mut Cursor::new(&mut out), ImageFormat::Png)
            .map_err(failed)?;
        Ok((out, "image/png"))
    } else {
        let rgb = DynamicImage::ImageRgb8(image.to_rgb8());
        let encoder = image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 85);
        rgb.write_with_encoder(encoder).map_err(failed)?;
        Ok((out, "image/jpeg"))
    }
}

/// Checks the image decodes, then sends it as is when within the limits, else downscales it to
/// fit `max_model_side` and re-encodes (PNG for PNG sources when small enough, JPEG otherwise),
/// shrinking further until it fits `max_model_bytes`.
pub fn prepare_for_vision(
    bytes: &[u8],
    kind: ImageKind,
    limits: &ImageLimits,
) -> Result<PreparedImage, ImageInputError> {
    if bytes.is_empty() {
        return Err(ImageInputError::Empty);
    }
    let image = decode(bytes, kind, limits)?;
    let (original_width, original_height) = (image.width(), image.height());
    let side = limits.max_model_side.max(1);
    if bytes.len() <= limits.max_model_bytes && original_width <= side && original_height <= side {
        return Ok(PreparedImage {
            bytes: bytes.to_vec(),
            media_type: kind.mime(),
            width: original_width,
            height: original_height,
            original_width,
            original_height,
            reencoded: false,
        });
    }
    let mut target = side.min(original_width.max(original_height));
    for attempt in 0..8 {
        let resized = if original_width.max(original_height) > target {
            image.resize(target, target, image::imageops::FilterType::Triangle)
        } else {
            image.clone()
        };
        let as_png = kind == ImageKind::Png && attempt == 0;
        let (encoded, media_type) = encode(&resized, as_png)?;
        if encoded.len() <= limits.max_model_bytes {
            return Ok(PreparedImage {
                bytes: encoded,
                media_type,
                width: resized.width(),
                height: resized.height(),
                original_width,
                original_height,
                reencoded: true,
            });
        }
        if !as_png {
            target = ((f64::from(target) * 0.75) as u32).max(64);
        }
    }
    Err(ImageInputError::CannotShrink {
        limit: limits.max_model_bytes,
    })
}

/// An image handed to a detector; its type was checked from the bytes.
#[derive(Debug, Clone, Copy)]
pub struct ImageInput<'a> {
    pub bytes: &'a [u8],
    pub kind: ImageKind,
    pub declared_media_type: Option<&'a str>,
}

/// A detector's verdict.
#[derive(Debug, Clone, PartialEq)]
pub struct PiiFinding {
    pub pii_detected: bool,
    pub entities: Vec<PiiEntity>,
    pub reason: String,
    /// Model calls made (vision detectors).
    pub calls: u32,
    /// Size sent to the model when it had to be downscaled or re-encoded.
    pub sent_image: Option<(u32, u32)>,
}

/// Why a detector gave no verdict.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{code}: {message}")]
pub struct PiiDetectError {
    pub code: String,
    pub message: String,
    pub retryable: bool,
}

impl PiiDetectError {
    pub fn new(code: impl Into<String>, message: impl Into<String>) -> Self {
        PiiDetectError {
            code: code.into(),
            message: message.into(),
            retryable: false,
        }
    }

    fn from_port(error: &PortError, what: &str) -> Self {
        PiiDetectError {
            code: error
                .code
                .clone()
                .unwrap_or_else(|| format!("{:?}", error.kind)),
            message: format!("{what}: {error}"),
            retryable: error.is_retryable(),
        }
    }
}

impl From<ImageInputError> for PiiDetectError {
    fn from(error: ImageInputError) -> Self {
        PiiDetectError::new(error.code(), error.to_string())
    }
}

/// An image PII detector behind the service.
#[async_trait]
pub trait PiiDetect: Send + Sync {
    /// A label for results, e.g. `bedrock:anthropic.claude-3-5-sonnet-20241022-v2:0`.
    fn name(&self) -> String;
    async fn detect(&self, input: ImageInput<'_>) -> Result<PiiFinding, PiiDetectError>;
}

/// PII detection by a vision chat model.
pub struct VisionPiiDetector {
    model: Arc<dyn ChatModel>,
    label: String,
    pub model_id: String,
    pub inference: InferenceParams,
    pub limits: ImageLimits,
    pub response_limits: ResponseLimits,
    pub repair: RepairPolicy,
    pub prompt: PromptOptions,
}

impl VisionPiiDetector {
    /// `backend` names the backend in results (`bedrock`, `openai`).
    pub fn new(model: Arc<dyn ChatModel>, backend: &str, model_id: impl Into<String>) -> Self {
        let model_id = model_id.into();
        VisionPiiDetector {
            model,
            label: format!("{backend}:{model_id}"),
            model_id,
            inference: InferenceParams::guide_images(),
            limits: ImageLimits::default(),
            response_limits: ResponseLimits::default(),
            repair: RepairPolicy::default(),
            prompt: PromptOptions::default(),
        }
    }

    pub fn with_limits(mut self, limits: ImageLimits) -> Self {
        self.limits = limits;
        self
    }
}

#[async_trait]
impl PiiDetect for VisionPiiDetector {
    fn name(&self) -> String {
        self.label.clone()
    }

    async fn detect(&self, input: ImageInput<'_>) -> Result<PiiFinding, PiiDetectError> {
        let prepared = prepare_for_vision(input.bytes, input.kind, &self.limits)?;
        let sent_image = prepared
            .reencoded
            .then_some((prepared.width, prepared.height));
        let request = build_pii_request(
            prepared.bytes,
            prepared.media_type,
            &self.model_id,
            self.inference,
        );
        let limits = self.response_limits;
        let answer = converse_validated(
            self.model.as_ref(),
            &request,
            self.repair,
            &self.prompt,
            PII_OUTPUT_SCHEMA,
            |text| validate_pii_answer(text, &limits),
        )
        .await;
        match answer {
            Ok(validated) => Ok(PiiFinding {
                pii_detected: validated.value.pii_detected,
                entities: validated.value.entities,
                reason: validated.value.reason,
                calls: validated.calls,
                sent_image,
            }),
            Err(ModelFailure::Call { error, .. }) => Err(PiiDetectError::from_port(
                &error,
                "vision model call failed",
            )),
            Err(failure @ ModelFailure::Invalid { .. }) => Err(PiiDetectError::new(
                "model_answer_invalid",
                failure.reason(),
            )),
        }
    }
}

/// Adapts a synchronous `trailguard_pii::PiiDetector` (the offline OCR detector) to [`PiiDetect`],
/// running it on the blocking pool.
pub struct OfflinePiiAdapter {
    inner: Arc<dyn trailguard_pii::PiiDetector>,
}

impl OfflinePiiAdapter {
    pub fn new(inner: Arc<dyn trailguard_pii::PiiDetector>) -> Self {
        OfflinePiiAdapter { inner }
    }
}

/// Maps the offline verdict: entities the policy counted (all of them when none was marked).
pub fn finding_from_verdict(verdict: trailguard_pii::PiiVerdict) -> PiiFinding {
    let any_counted = verdict.entities.iter().any(|e| e.counted);
    let entities = verdict
        .entities
        .into_iter()
        .filter(|e| e.counted || !any_counted)
        .map(|e| PiiEntity {
            entity_type: e.entity_type.as_str().to_string(),
            evidence: e.text_masked,
            confidence: Some(e.confidence),
        })
        .collect();
    PiiFinding {
        pii_detected: verdict.pii_detected,
        entities,
        reason: verdict.reason,
        calls: 0,
        sent_image: None,
    }
}

#[async_trait]
impl PiiDetect for OfflinePiiAdapter {
    fn name(&self) -> String {
        self.inner.name().to_string()
    }

    async fn detect(&self, input: ImageInput<'_>) -> Result<PiiFinding, PiiDetectError> {
        let inner = Arc::clone(&self.inner);
        let bytes = input.bytes.to_vec();
        let declared = input.declared_media_type.map(str::to_string);
        let verdict =
            tokio::task::spawn_blocking(move || inner.detect(&bytes, declared.as_deref()))
                .await
                .map_err(|error| PiiDetectError::new("detector_failed", error.to_string()))?;
        verdict
            .map(finding_from_verdict)
            .map_err(|error| PiiDetectError::new(error.code(), error.to_string()))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PiiStatus {
    Ok,
    Error,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PiiErrorInfo {
    pub code: String,
    pub message: String,
    pub retryable: bool,
}

/// The rich PII result. `pii_detected` is null when there is no verdict (`status: error`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PiiResult {
    pub pii_detected: Option<bool>,
    pub entities: Vec<PiiEntity>,
    pub detector: String,
    pub reason: String,
    pub status: PiiStatus,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<PiiErrorInfo>,
    pub s3_bucket: String,
    pub s3_key: String,
    /// The object version checked (from the event), when one was named.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub s3_version_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub media_type_declared: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub media_type_detected: Option<String>,
    /// True when the uploader's declared type disagrees with the magic bytes.
    #[serde(default)]
    pub media_type_mismatch: bool,
    #[serde(default)]
    pub model_calls: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sent_image_size: Option<(u32, u32)>,
}

impl PiiResult {
    /// The guide's contract: `"true"` / `"false"`, or `None` when there is no verdict.
    pub fn contract_value(&self) -> Option<&'static str> {
        self.pii_detected.map(|p| if p { "true" } else { "false" })
    }

    fn error(mut self, error: PiiDetectError) -> Self {
        self.reason = error.message.clone();
        self.status = PiiStatus::Error;
        self.error = Some(PiiErrorInfo {
            code: error.code,
            message: error.message,
            retryable: error.retryable,
        });
        self
    }
}

/// Fetches `s3://bucket/key`, checks it, and asks `detector`. Every failure is a result with
/// `status: error`, a code and a message; nothing panics and nothing is guessed.
pub async fn detect_pii(
    store: &dyn ObjectStore,
    bucket: &str,
    key: &str,
    declared_media_type: Option<&str>,
    detector: &dyn PiiDetect,
    limits: &ImageLimits,
) -> PiiResult {
    detect_pii_version(
        store,
        bucket,
        key,
        None,
        declared_media_type,
        detector,
        limits,
    )
    .await
}

/// [`detect_pii`] for one version of the object: the version the event names, so that an
/// overwrite between upload and check cannot make us judge (and then delete) the wrong bytes.
pub async fn detect_pii_version(
    store: &dyn ObjectStore,
    bucket: &str,
    key: &str,
    version_id: Option<&str>,
    declared_media_type: Option<&str>,
    detector: &dyn PiiDetect,
    limits: &ImageLimits,
) -> PiiResult {
    let declared = declared_media_type
        .filter(|d| !d.trim().is_empty())
        .map(normalise_media_type);
    let result = PiiResult {
        pii_detected: None,
        entities: Vec::new(),
        detector: detector.name(),
        reason: String::new(),
        status: PiiStatus::Ok,
        error: None,
        s3_bucket: bucket.to_string(),
        s3_key: key.to_string(),
        s3_version_id: version_id.map(str::to_string),
        media_type_declared: declared.clone(),
        media_type_detected: None,
        media_type_mismatch: false,
        model_calls: 0,
        sent_image_size: None,
    };
    let object = match store.get_object_version(bucket, key, version_id).await {
        Ok(object) => object,
        Err(error) => {
            return result.error(PiiDetectError::from_port(
                &error,
                &format!("cannot read s3://{bucket}/{key}"),
            ))
        }
    };
    let size = object.bytes.len() as u64;
    if size > limits.max_object_bytes {
        return result.error(
            ImageInputError::TooLarge {
                size,
                limit: limits.max_object_bytes,
            }
            .into(),
        );
    }
    if object.bytes.is_empty() {
        return result.error(ImageInputError::Empty.into());
    }
    let kind = match sniff_image(&object.bytes) {
        Ok(kind) => kind,
        Err(what) => return result.error(ImageInputError::Unsupported(what).into()),
    };
    let mut result = PiiResult {
        media_type_detected: Some(kind.mime().to_string()),
        media_type_mismatch: declared.as_deref().is_some_and(|d| d != kind.mime()),
        ..result
    };
    let input = ImageInput {
        bytes: &object.bytes,
        kind,
        declared_media_type: declared.as_deref(),
    };
    match detector.detect(input).await {
        Ok(finding) => {
            result.pii_detected = Some(finding.pii_detected);
            result.entities = finding.entities;
            result.reason = finding.reason;
            result.model_calls = finding.calls;
            result.sent_image_size = finding.sent_image;
            if result.media_type_mismatch {
                result.reason = format!(
                    "{}; declared type {} but the content is {}",
                    result.reason,
                    declared.as_deref().unwrap_or_default(),
                    kind.mime()
                );
            }
            result
        }
        Err(error) => result.error(error),
    }
}
