//! [`VisionPiiDetector`]: a chat model with an image block as a [`PiiDetector`].

use std::sync::Arc;
use std::time::Instant;

use async_trait::async_trait;
use trailguard_core::ask::{
    converse_validated, InferenceParams, ModelFailure, PromptOptions, RepairPolicy, ResponseLimits,
};
use trailguard_core::ports::{ChatModel, PortError};

use super::answer::validate_pii_answer;
use super::prepare::prepare_for_vision;
use super::prompt::{build_pii_request, PII_OUTPUT_SCHEMA};
use crate::blocking::run_blocking;
use crate::detector::PiiDetector;
use crate::error::PiiDetectError;
use crate::input::ImageInput;
use crate::limits::ImageLimits;
use crate::verdict::PiiVerdict;

pub use trailguard_core::ask::DEFAULT_IMAGE_MODEL_ID;

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

fn call_failed(error: &PortError) -> PiiDetectError {
    PiiDetectError::Model {
        code: error
            .code
            .clone()
            .unwrap_or_else(|| format!("{:?}", error.kind)),
        message: format!("vision model call failed: {error}"),
        retryable: error.is_retryable(),
    }
}

#[async_trait]
impl PiiDetector for VisionPiiDetector {
    fn name(&self) -> &str {
        &self.label
    }

    async fn detect(&self, image: &ImageInput<'_>) -> Result<PiiVerdict, PiiDetectError> {
        let started = Instant::now();
        // Decoding and re-encoding a large image is CPU work: off the runtime's threads.
        let (bytes, kind, limits) = (image.bytes.to_vec(), image.kind, self.limits);
        let prepared = run_blocking(move || prepare_for_vision(&bytes, kind, &limits)).await??;
        let sent_image_size = prepared
            .reencoded
            .then_some((prepared.width, prepared.height));
        let (width, height) = (prepared.original_width, prepared.original_height);
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
            Ok(validated) => Ok(PiiVerdict {
                pii_detected: validated.value.pii_detected,
                evidence: validated.value.evidence,
                reason: validated.value.reason,
                detector: self.label.clone(),
                width,
                height,
                words_seen: None,
                model_calls: validated.calls,
                sent_image_size,
                elapsed_ms: started.elapsed().as_millis() as u64,
            }),
            Err(ModelFailure::Call { error, .. }) => Err(call_failed(&error)),
            Err(failure @ ModelFailure::Invalid { .. }) => Err(PiiDetectError::Model {
                code: "model_answer_invalid".into(),
                message: failure.reason(),
                retryable: false,
            }),
        }
    }
}
