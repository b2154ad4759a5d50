//! The one detector trait: the offline OCR + face pipeline and vision models answer the same way.

use async_trait::async_trait;

use crate::error::PiiDetectError;
use crate::input::ImageInput;
use crate::verdict::PiiVerdict;

/// An image PII detector. CPU-heavy implementations run their work off the async runtime's
/// threads (the offline one uses the blocking pool).
#[async_trait]
pub trait PiiDetector: Send + Sync {
    /// A label for results and audit records: `offline:tesseract/eng+kor`, `bedrock:<model id>`,
    /// `openai:<model id>`.
    fn name(&self) -> &str;
    async fn detect(&self, image: &ImageInput<'_>) -> Result<PiiVerdict, PiiDetectError>;
}
