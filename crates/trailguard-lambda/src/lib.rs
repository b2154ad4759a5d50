//! TrailGuard's Lambda functions: the log analysis ([`log_analysis`]), the image PII check
//! ([`pii`]), the knowledge-base sync ([`kb_sync`]) and the knowledge-base chat ([`chat`]). Each
//! binary's `main` sets up JSON logs and calls `serve`, which builds the clients once per
//! container and hands every event to its handler (the first two: the same handlers the local
//! runner uses).

pub mod chat;
pub mod clients;
pub mod kb_sync;
pub mod log_analysis;
pub mod pii;

use trailguard_core::TaskFailure;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("configuration: {0}")]
pub struct ConfigError(pub String);

fn non_empty(value: Option<String>) -> Option<String> {
    value
        .map(|v| v.trim().to_string())
        .filter(|v| !v.is_empty())
}

/// The Lambda error for a failed invocation: Step Functions sees `error_type` as the error name
/// (`TrailGuard.PiiRetryable`, ...), which the workflow's Retry and Catch match on.
pub fn diagnostic(error: &dyn TaskFailure) -> lambda_runtime::Diagnostic {
    lambda_runtime::Diagnostic {
        error_type: error.error_name().into(),
        error_message: error.to_string(),
    }
}

/// JSON logs for CloudWatch, without ANSI colours; the level follows the function's
/// `LoggingConfig.ApplicationLogLevel` (`AWS_LAMBDA_LOG_LEVEL`), else `RUST_LOG`, else info.
pub fn init_json_logs() {
    use lambda_runtime::tracing::subscriber::{filter::EnvFilter, fmt};
    let level = std::env::var("AWS_LAMBDA_LOG_LEVEL")
        .or_else(|_| std::env::var("RUST_LOG"))
        .unwrap_or_else(|_| "info".into())
        .to_ascii_lowercase();
    let _ = fmt()
        .json()
        .with_ansi(false)
        .with_target(false)
        .without_time()
        .with_env_filter(EnvFilter::new(level))
        .with_current_span(false)
        .try_init();
}
