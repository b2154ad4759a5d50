//! The in-process model: a GGUF chat model run on this machine's CPU through llama.cpp
//! ([`trailguard_gguf`]), behind the same ports as Bedrock and OpenAI-compatible servers
//! ([`trailguard_core::ports::ChatModel`], [`trailguard_core::ports::StreamingChatModel`]).
//!
//! - [`GgufChat`]: loads a model once (share it: it is `Clone` over one loaded model), maps a
//!   [`trailguard_core::ports::ChatRequest`] to a generation (system prompt, turns, token limit,
//!   temperature, top_p, the request's JSON schema as a grammar with bounded strings), runs it on
//!   a blocking thread and streams whole UTF-8 characters.
//! - [`select`]: which fetched model to use (`trailguard model fetch`): a named one, a file, or
//!   the best one in the cache; the CLI, the runner and the chatbot share it.

mod chat;
pub mod select;

pub use chat::{bound_strings, to_generate_request, GgufChat, GgufChatOptions};
pub use select::{select, ModelChoice, SelectError, SelectedModel, CHAT_MODELS};
pub use trailguard_gguf::{LocalModelError, ModelInfo};
