//! TrailGuard's local stand-ins behind `trailguard-core`'s ports, for running fully offline:
//!
//! - [`DirStore`]: a directory as the S3 bucket root (`<root>/<bucket>/<key>`).
//! - [`JsonlNotifier`], [`SmtpNotifier`], [`WebhookNotifier`]: alerts to a JSON Lines file, an SMTP
//!   server, or an HTTP endpoint.
//! - [`DeterministicChat`], [`ScriptedChat`]: chat models that need no model.

mod chat;
mod dir_store;
mod notifiers;

pub use chat::{DeterministicChat, ScriptedChat};
pub use dir_store::{DirStore, ObjectMetadata};
pub use notifiers::{
    alert_record, AlertRecord, JsonlNotifier, SmtpConfig, SmtpNotifier, WebhookConfig,
    WebhookNotifier,
};
