//! Builds what a bindings file names from TrailGuard's local adapters: a directory or memory
//! bucket, JSON Lines / stdout / webhook / SMTP notifiers, and models (the rules answering as the
//! model, a fixed or scripted answer, an OpenAI-compatible server, a GGUF model in this process).
//! Everything is built at load, so a bad file fails before the first event, not mid-run.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use trailguard_core::ports::{
    converse_as_one_piece, ChatModel, ChatRequest, ChatResponse, ContentBlock, Notification,
    Notifier, ObjectReader, ObjectWriter, OnText, PortError, PortErrorKind, StreamingChatModel,
};
use trailguard_core::ThreatLevel;
use trailguard_local::{
    DeterministicChat, DirStore, FilterPolicy, FilteredNotifier, JsonlNotifier, MemoryStore,
    OpenAiChat, OpenAiConfig, ScriptedChat, SmtpConfig, SmtpNotifier, WebhookConfig,
    WebhookNotifier,
};
use trailguard_local_model::{GgufChat, GgufChatOptions, ModelChoice};
use trailguard_triage::LogAnalysisHandler;

use crate::config::AdapterConfig;
use crate::RunnerError;

fn bindings_error(message: impl Into<String>) -> RunnerError {
    RunnerError::Bindings(message.into())
}

fn secret_from_env(config: &AdapterConfig, key: &str) -> Result<Option<String>, RunnerError> {
    match config.option(key) {
        None => Ok(None),
        Some(var) => std::env::var(var).map(Some).map_err(|_| {
            bindings_error(format!(
                "{} {key}: environment variable {var} is not set",
                config.kind
            ))
        }),
    }
}

fn need<'a>(config: &'a AdapterConfig, what: &str, key: &str) -> Result<&'a str, RunnerError> {
    config
        .option(key)
        .ok_or_else(|| bindings_error(format!("{what} kind '{}' needs {key}", config.kind)))
}

/// A bucket: both object ports of one store.
#[derive(Clone)]
pub struct Storage {
    pub reader: Arc<dyn ObjectReader>,
    pub writer: Arc<dyn ObjectWriter>,
    /// The root directory, when the bucket is a directory.
    pub root: Option<PathBuf>,
}

pub fn storage(config: &AdapterConfig) -> Result<Storage, RunnerError> {
    match config.kind.as_str() {
        "memory" => {
            let store = Arc::new(MemoryStore::new());
            Ok(Storage {
                reader: store.clone(),
                writer: store,
                root: None,
            })
        }
        "dir" => {
            let root = PathBuf::from(config.option("root").unwrap_or("."));
            let store = Arc::new(DirStore::new(&root));
            Ok(Storage {
                reader: store.clone(),
                writer: store,
                root: Some(root),
            })
        }
        other => Err(bindings_error(format!(
            "storage kind '{other}' is unknown (use dir or memory)"
        ))),
    }
}

/// A whole number option that fits `T`, or `default` when absent.
fn number<T: TryFrom<i64>>(
    config: &AdapterConfig,
    key: &str,
    default: T,
) -> Result<T, RunnerError> {
    match config.options.get(key) {
        None => Ok(default),
        Some(value) => value
            .as_integer()
            .and_then(|n| T::try_from(n).ok())
            .ok_or_else(|| {
                bindings_error(format!(
                    "model kind '{}': {key} must be a whole number in range, got {value}",
                    config.kind
                ))
            }),
    }
}

/// `kind = "local"`: a GGUF model in this process. `path` (a .gguf file), `name` (a catalog
/// model fetched with `trailguard model fetch`) or `model` (either), else the best fetched one (qwen2.5-1.5b,
/// qwen2.5-0.5b, smollm2-135m); `threads` (0, the default: every core), `context` (tokens,
/// default 4096), `max_tokens` (most tokens per answer, default 512). Loading takes a moment:
/// build it once and share it.
pub fn local_model(config: &AdapterConfig) -> Result<GgufChat, RunnerError> {
    // `model` is what the other kinds call it (`--model-id`): a name or a .gguf path.
    let choice = match (
        config.option("path"),
        config.option("name"),
        config.option("model"),
    ) {
        (Some(path), None, None) => ModelChoice::Path(PathBuf::from(path)),
        (None, Some(name), None) => ModelChoice::Name(name.to_string()),
        (None, None, Some(model)) => ModelChoice::from_setting(model),
        (None, None, None) => ModelChoice::Default,
        _ => {
            return Err(bindings_error(
                "model kind 'local': set one of path, name or model",
            ))
        }
    };
    let defaults = GgufChatOptions::default();
    let options = GgufChatOptions {
        threads: number(config, "threads", defaults.threads)?,
        context_len: number(config, "context", defaults.context_len)?,
        max_tokens: number(config, "max_tokens", defaults.max_tokens)?,
        ..defaults
    };
    let cache = trailguard_fetch::Cache::from_env(None)
        .map_err(|e| bindings_error(format!("model kind 'local': {e}")))?;
    let selected = trailguard_local_model::select(&cache, &choice)
        .map_err(|e| bindings_error(format!("model kind 'local': {e}")))?;
    let chat = GgufChat::load(&selected.path, selected.name, options)
        .map_err(|e| bindings_error(format!("model kind 'local': {e}")))?;
    tracing::info!(model = chat.name(), path = %chat.info().path.display(), threads = chat.info().threads, context = chat.info().context_len, "local model loaded");
    Ok(chat)
}

/// A model from `[model]` (or a handler's `model = {...}`); `rules` answers for `deterministic`.
/// Every kind streams.
pub fn model(
    config: &AdapterConfig,
    rules: impl FnOnce() -> Result<Arc<LogAnalysisHandler>, RunnerError>,
) -> Result<Arc<dyn StreamingChatModel>, RunnerError> {
    match config.kind.as_str() {
        "local" => Ok(Arc::new(local_model(config)?)),
        "deterministic" => Ok(Arc::new(RulesChat(rules()?))),
        "fixed" => Ok(Arc::new(DeterministicChat::fixed(need(
            config, "model", "text",
        )?))),
        "scripted" => {
            let answers: Vec<String> = config
                .options
                .get("answers")
                .and_then(toml::Value::as_array)
                .ok_or_else(|| bindings_error("model kind 'scripted' needs answers = [...]"))?
                .iter()
                .filter_map(|v| v.as_str().map(str::to_string))
                .collect();
            Ok(Arc::new(ScriptedChat::from_texts(answers)))
        }
        "openai" => {
            let base_url = need(config, "model", "base_url")?;
            let mut openai = OpenAiConfig::new(base_url, config.option("model").unwrap_or(""));
            if let Some(key) = secret_from_env(config, "api_key_env")? {
                openai = openai.with_api_key(key);
            }
            if let Some(seconds) = config
                .options
                .get("timeout_seconds")
                .and_then(toml::Value::as_integer)
            {
                openai = openai.with_timeout(Duration::from_secs(seconds.max(1).unsigned_abs()));
            }
            let chat = OpenAiChat::new(openai)
                .map_err(|e| bindings_error(format!("model openai: {e}")))?;
            Ok(Arc::new(chat))
        }
        other => Err(bindings_error(format!(
            "model kind '{other}' is unknown (use deterministic, fixed, scripted, openai or local)"
        ))),
    }
}

fn smtp(config: &AdapterConfig) -> Result<SmtpNotifier, RunnerError> {
    let host = need(config, "notifier", "host")?;
    let port = match config.options.get("port") {
        None => 25,
        Some(value) => value
            .as_integer()
            .and_then(|p| u16::try_from(p).ok())
            .ok_or_else(|| bindings_error("notifier smtp: port must be 1-65535"))?,
    };
    let from = config.option("from").unwrap_or("trailguard@localhost");
    let to: Vec<String> = match config.options.get("to") {
        Some(toml::Value::String(one)) => vec![one.clone()],
        Some(toml::Value::Array(many)) => many
            .iter()
            .filter_map(|v| v.as_str().map(str::to_string))
            .collect(),
        _ => Vec::new(),
    };
    let mut smtp = SmtpConfig::new(host, port, from, to);
    if let Some(prefix) = config.option("subject_prefix") {
        smtp.subject_prefix = prefix.to_string();
    }
    smtp.username = config.option("username").map(str::to_string);
    smtp.password = secret_from_env(config, "password_env")?;
    SmtpNotifier::new(smtp).map_err(|e| bindings_error(format!("notifier smtp: {e}")))
}

/// The subscription filter a notifier config asks for: `filter_policy` (an SNS filter policy,
/// JSON) or `min_level` (low | medium | high: that level and above, as `AlertEmailMinLevel`).
fn subscription_filter(config: &AdapterConfig) -> Result<Option<FilterPolicy>, RunnerError> {
    match (config.option("filter_policy"), config.option("min_level")) {
        (Some(_), Some(_)) => Err(bindings_error(
            "notifier: set filter_policy or min_level, not both",
        )),
        (Some(text), None) => text
            .parse()
            .map(Some)
            .map_err(|e| bindings_error(format!("notifier filter_policy: {e}"))),
        (None, Some(level)) => {
            let level: ThreatLevel = level
                .parse()
                .map_err(|e| bindings_error(format!("notifier min_level: {e}")))?;
            Ok(Some(FilterPolicy::threat_level_at_least(level)))
        }
        (None, None) => Ok(None),
    }
}

/// A notifier; with `copy_to`, remote delivery also keeps a JSON Lines copy of every message,
/// and a subscription filter (`filter_policy`, `min_level`) narrows what the remote end gets.
pub fn notifier(config: &AdapterConfig) -> Result<Arc<dyn Notifier>, RunnerError> {
    let filter = subscription_filter(config)?;
    let filtered = |notifier: Arc<dyn Notifier>| -> Arc<dyn Notifier> {
        match &filter {
            Some(policy) => Arc::new(FilteredNotifier::new(policy.clone(), notifier)),
            None => notifier,
        }
    };
    let copy = config
        .option("copy_to")
        .map(|path| JsonlNotifier::new(PathBuf::from(path)));
    let remote: Arc<dyn Notifier> = match config.kind.as_str() {
        "stdout" => {
            return Ok(filtered(Arc::new(
                JsonlNotifier::new(
                    config
                        .option("path")
                        .map(PathBuf::from)
                        .unwrap_or_else(|| std::env::temp_dir().join("trailguard-alerts.jsonl")),
                )
                .with_stdout_echo(true),
            )))
        }
        "jsonl" => {
            let echo = config
                .options
                .get("echo")
                .and_then(toml::Value::as_bool)
                .unwrap_or(false);
            return Ok(Arc::new(
                JsonlNotifier::new(PathBuf::from(
                    config.option("path").unwrap_or("alerts.jsonl"),
                ))
                .with_stdout_echo(echo),
            ));
        }
        "webhook" => {
            let mut webhook = WebhookConfig::new(need(config, "notifier", "url")?);
            webhook.bearer_token = secret_from_env(config, "bearer_token_env")?;
            Arc::new(
                WebhookNotifier::new(webhook)
                    .map_err(|e| bindings_error(format!("notifier webhook: {e}")))?,
            )
        }
        "smtp" => Arc::new(smtp(config)?),
        other => {
            return Err(bindings_error(format!(
                "notifier kind '{other}' is unknown (use jsonl, stdout, webhook or smtp)"
            )))
        }
    };
    let remote = filtered(remote);
    Ok(match copy {
        Some(copy) => Arc::new(CopyingNotifier { copy, remote }),
        None => remote,
    })
}

/// Where JSON Lines alerts go, when they go to a file.
pub fn alerts_file(config: &AdapterConfig) -> Option<PathBuf> {
    match config.kind.as_str() {
        "jsonl" => Some(PathBuf::from(
            config.option("path").unwrap_or("alerts.jsonl"),
        )),
        _ => config.option("copy_to").map(PathBuf::from),
    }
}

/// Delivers remotely (SMTP, webhook) and keeps a local JSON Lines copy: the audit record stays
/// even when mail is down.
struct CopyingNotifier {
    copy: JsonlNotifier,
    remote: Arc<dyn Notifier>,
}

#[async_trait]
impl Notifier for CopyingNotifier {
    async fn publish(&self, notification: &Notification) -> Result<String, PortError> {
        self.copy.publish(notification).await?;
        self.remote.publish(notification).await
    }
}

/// `model.kind = "deterministic"` for a converse Task: answers the guide's log prompt with the
/// rules' analysis of the event between `<log>` and `</log>` (or the first JSON object).
struct RulesChat(Arc<LogAnalysisHandler>);

fn event_in_prompt(text: &str) -> Option<&str> {
    // The guide's prompt names the tag in prose first: take the last <log> before </log>.
    if let Some(end) = text.rfind("</log>") {
        if let Some(start) = text.get(..end).and_then(|head| head.rfind("<log>")) {
            return text.get(start + "<log>".len()..end).map(str::trim);
        }
    }
    let start = text.find('{')?;
    let end = text.rfind('}')?;
    (end > start).then(|| text.get(start..=end)).flatten()
}

#[async_trait]
impl ChatModel for RulesChat {
    async fn converse(&self, request: &ChatRequest) -> Result<ChatResponse, PortError> {
        let text: String = request
            .messages
            .iter()
            .flat_map(|m| m.content.iter())
            .filter_map(|block| match block {
                ContentBlock::Text(text) => Some(text.as_str()),
                _ => None,
            })
            .collect::<Vec<_>>()
            .join("\n");
        let invalid = |message: String| {
            PortError::new(PortErrorKind::InvalidInput, message).with_code("ValidationException")
        };
        let event = event_in_prompt(&text).ok_or_else(|| {
            invalid(
                "the deterministic model found no <log>...</log> or JSON event in the prompt"
                    .into(),
            )
        })?;
        let analysis = self.0.handle_json(event).await.map_err(|e| {
            invalid(format!(
                "the deterministic model cannot analyse the event: {e}"
            ))
        })?;
        let text = serde_json::to_string(&analysis)
            .map_err(|e| PortError::new(PortErrorKind::Other, e.to_string()))?;
        Ok(ChatResponse {
            text,
            stop_reason: Some("end_turn".into()),
            input_tokens: None,
            output_tokens: None,
        })
    }
}

/// The rules' answer as one piece.
#[async_trait]
impl StreamingChatModel for RulesChat {
    async fn converse_stream(
        &self,
        request: &ChatRequest,
        on_text: &mut OnText<'_>,
    ) -> Result<ChatResponse, PortError> {
        converse_as_one_piece(self, request, on_text).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prompts_yield_their_event() {
        assert_eq!(
            event_in_prompt("the <log> tag: <log>{\"x\":1}</log> b"),
            Some("{\"x\":1}")
        );
        assert_eq!(event_in_prompt("see {\"x\": {}} now"), Some("{\"x\": {}}"));
        assert_eq!(event_in_prompt("nothing"), None);
    }

    #[test]
    fn unknown_kinds_fail_at_load() {
        assert!(storage(&AdapterConfig::new("s3")).is_err());
        assert!(notifier(&AdapterConfig::new("pager")).is_err());
        assert!(model(&AdapterConfig::new("bedrock"), || Err(bindings_error(
            "unused"
        )))
        .is_err());
        assert!(model(&AdapterConfig::new("fixed"), || Err(bindings_error(
            "unused"
        )))
        .is_err());
    }
}
