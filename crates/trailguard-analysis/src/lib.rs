//! Builds TrailGuard's analysis record from a parsed event and its rule hits.

pub mod facts;
pub mod media;
pub mod pipeline;
pub mod record;

pub use facts::facts_from_event;
pub use record::{build_record, build_record_owned, EventFacts};
