//! In-process CPU inference of GGUF chat models through llama.cpp (`llama-cpp-2`).
//!
//! ```no_run
//! use std::ops::ControlFlow;
//! use trailguard_gguf::{GenerateRequest, LoadOptions, LocalModel, Role};
//! # fn main() -> Result<(), trailguard_gguf::LocalModelError> {
//! let model = LocalModel::load("model.gguf".as_ref(), LoadOptions { threads: 2, ..LoadOptions::default() })?;
//! let request = GenerateRequest {
//!     system: Some("Answer in JSON.".into()),
//!     messages: vec![(Role::User, "Summarise: ConsoleLogin failed".into())],
//!     json_schema: Some(serde_json::json!({"type":"object","properties":{"summary":{"type":"string"}},"required":["summary"]})),
//!     ..GenerateRequest::default()
//! };
//! let out = model.generate(&request, &mut |piece| { print!("{piece}"); ControlFlow::Continue(()) })?;
//! println!("\n{} prompt tokens, {} generated, {:?}", out.input_tokens, out.output_tokens, out.stop_reason);
//! # Ok(()) }
//! ```

mod error;
pub mod gguf;
mod model;
pub mod schema;
mod stream;

pub use error::LocalModelError;
pub use gguf::{Architecture, GgufInfo};
pub use model::{
    GenerateRequest, Generation, LoadOptions, LocalModel, ModelInfo, Role, StopReason,
    TemplateSource,
};
