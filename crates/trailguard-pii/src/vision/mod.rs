//! PII detection by a vision chat model (Bedrock, an OpenAI-compatible server): the image is
//! brought within the model's limits, asked about with the image first and the instruction
//! after, and the answer is checked, repaired once, and masked before it becomes evidence.

mod answer;
mod detector;
mod prepare;
mod prompt;

pub use answer::{validate_pii_answer, VisionAnswer};
pub use detector::{VisionPiiDetector, DEFAULT_IMAGE_MODEL_ID};
pub use prepare::{prepare_for_vision, PreparedImage};
pub use prompt::{build_pii_request, PII_INSTRUCTION, PII_OUTPUT_SCHEMA, PII_SYSTEM_PROMPT};
