//! PII domain for TrailGuard: validating recognisers over OCR text, the verdict policy, masking,
//! and the delete/quarantine actions over the [`trailguard_core::ports::ObjectStore`] port.
//!
//! No OCR, image decoding or direct I/O here: the offline detector (`trailguard-pii-offline`)
//! turns pixels into [`model::OcrPage`]s and calls [`policy::entities_from_page`].

pub mod actions;
pub mod checks;
pub mod mask;
pub mod model;
pub mod policy;
pub mod recognisers;
pub mod text;

pub use model::{
    BoundingBox, Entity, EntityType, OcrLine, OcrPage, OcrWord, PiiDetector, PiiError, PiiVerdict,
};
pub use policy::PolicyConfig;
