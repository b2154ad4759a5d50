//! TrailGuard's local adapters behind `trailguard-core`'s ports, for running fully offline:
//!
//! - [`DirStore`]: a directory as the S3 bucket root (`<root>/<bucket>/<key>`);
//!   [`MemoryStore`]: a bucket in memory that can keep versions as S3 does.
//! - [`JsonlNotifier`], [`SmtpNotifier`], [`WebhookNotifier`]: alerts to a JSON Lines file, an SMTP
//!   server, or an HTTP endpoint; [`RecordingNotifier`] keeps them in memory; [`FilterPolicy`]
//!   decides, as an SNS subscription's filter policy would, which of them a subscriber gets.
//! - [`OpenAiChat`]: an OpenAI-compatible chat-completions server (Ollama, vLLM, llama.cpp server);
//!   [`DeterministicChat`], [`ScriptedChat`]: chat models that need no model.

mod chat;
mod dir_store;
mod filter_policy;
mod memory;
mod notifiers;
mod openai;

pub use chat::{DeterministicChat, ScriptedChat};
pub use dir_store::{DirStore, ObjectMetadata};
pub use filter_policy::{FilterPolicy, FilterPolicyError, FilteredNotifier};
pub use memory::{MemoryStore, RecordingNotifier};
pub use notifiers::{
    alert_record, AlertRecord, JsonlNotifier, SmtpConfig, SmtpNotifier, WebhookConfig,
    WebhookNotifier,
};
pub use openai::{OpenAiChat, OpenAiConfig};
