//! Local adapters and in-process Lambda handlers shared by `trailguard run` and `trailguard sfn run`.
//!
//! The bindings TOML is trailguard-asl's [`BindingsConfig`] plus a few keys this module reads
//! itself (and strips before handing the rest over):
//!
//! ```toml
//! [lambda."trailguard-log-analysis"]     # function name, ARN or partial ARN
//! handler = "trailguard-analysis"        # rules (+ the model when one is configured)
//! policy = "when-not-benign"             # extension: never | always | when-not-benign
//! [lambda."trailguard-pii"]
//! handler = "trailguard-pii"             # fetch from storage, detect, rich result
//! detector = "offline"                   # extension: offline (default) | model (vision)
//! result = "rich"                        # extension: rich (default) | contract ("true"/"false")
//! model = { kind = "openai", base_url = "http://127.0.0.1:11434/v1", model = "llava" }
//! [model]                                # converse resource, and the analysis model
//! kind = "deterministic"                 # deterministic | fixed | scripted | openai
//! [notifier]
//! kind = "jsonl"                         # jsonl | stdout | webhook | smtp
//! path = "alerts.jsonl"
//! [storage]
//! kind = "dir"                           # dir | memory
//! root = "buckets"
//! [substitutions]
//! AnalysisFunctionArn = "trailguard-log-analysis"
//! ```

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use trailguard_asl::bindings::{function_name, AdapterConfig, AdapterFactory, LambdaBinding};
use trailguard_asl::testing::MemoryStore;
use trailguard_asl::{
    Bindings, BindingsConfig, CommandFunction, LambdaFunction, LoadError, StateMachine,
};
use trailguard_core::ports::{
    ChatModel, ChatRequest, ChatResponse, ContentBlock, Notifier, ObjectStore, PortError,
    PortErrorKind,
};
use trailguard_llm::{
    AnalysisConfig, AskPolicy, ImageLimits, LogAnalysisHandler, OfflinePiiAdapter, PiiDetect,
    PiiHandler, VisionPiiDetector, DEFAULT_IMAGE_MODEL_ID,
};
use trailguard_local::{
    DeterministicChat, DirStore, JsonlNotifier, ScriptedChat, SmtpConfig, SmtpNotifier,
    WebhookConfig, WebhookNotifier,
};
use trailguard_openai::{OpenAiChat, OpenAiConfig};

/// In-process handler names for `[lambda.X] handler = ...`.
pub const ANALYSIS_HANDLER: &str = "trailguard-analysis";
pub const PII_HANDLER: &str = "trailguard-pii";

/// Handler options a `[lambda.X]` table may carry besides `handler`.
const LAMBDA_HANDLER_OPTIONS: &[&str] = &["policy", "detector", "result", "model"];

/// What the PII handler returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PiiResultMode {
    /// The rich result object (`pii_detected`, `entities`, `reason`, ...).
    Rich,
    /// The guide's contract: the string `"true"` or `"false"` (an error when there is no verdict).
    Contract,
}

/// The handler options of one `[lambda.X]` table.
#[derive(Debug, Clone, Default)]
pub struct LambdaOptions {
    pub policy: Option<AskPolicy>,
    /// `offline` or `model`.
    pub detector: Option<String>,
    pub result: Option<PiiResultMode>,
    pub model: Option<AdapterConfig>,
}

/// A bindings file: trailguard-asl's config, with the handler options read.
#[derive(Debug, Clone)]
pub struct LocalConfig {
    pub base: BindingsConfig,
    pub lambda_options: BTreeMap<String, LambdaOptions>,
}

/// Sections a bindings file may leave out, so the caller's defaults apply.
#[derive(Debug, Clone, Copy, Default)]
pub struct Present {
    pub model: bool,
    pub notifier: bool,
    pub storage: bool,
}

fn bindings_error(message: impl Into<String>) -> LoadError {
    LoadError::Bindings(message.into())
}

fn adapter_from_toml(value: &toml::Value, what: &str) -> Result<AdapterConfig, LoadError> {
    value
        .clone()
        .try_into()
        .map_err(|e| bindings_error(format!("{what}: {e}")))
}

/// The handler options of one `[lambda.X]` table, checked.
fn lambda_options_of(name: &str, table: &toml::Table) -> Result<LambdaOptions, LoadError> {
    let mut options = LambdaOptions::default();
    for (key, value) in table {
        let text = || {
            value
                .as_str()
                .ok_or_else(|| bindings_error(format!("lambda '{name}': {key} must be a string")))
        };
        match key.as_str() {
            "policy" => {
                options.policy = Some(
                    text()?
                        .parse()
                        .map_err(|e| bindings_error(format!("lambda '{name}': {e}")))?,
                )
            }
            "detector" => {
                let detector = text()?;
                if !matches!(detector, "offline" | "model") {
                    return Err(bindings_error(format!(
                        "lambda '{name}': detector must be offline or model, got '{detector}'"
                    )));
                }
                options.detector = Some(detector.to_string());
            }
            "result" => {
                options.result = Some(match text()? {
                    "rich" => PiiResultMode::Rich,
                    "contract" => PiiResultMode::Contract,
                    other => {
                        return Err(bindings_error(format!(
                            "lambda '{name}': result must be rich or contract, got '{other}'"
                        )))
                    }
                })
            }
            "model" => {
                options.model = Some(adapter_from_toml(
                    value,
                    &format!("lambda '{name}': model"),
                )?)
            }
            other => {
                return Err(bindings_error(format!(
                    "lambda '{name}': unknown key '{other}' (handler options: {})",
                    LAMBDA_HANDLER_OPTIONS.join(", ")
                )))
            }
        }
    }
    Ok(options)
}

impl LocalConfig {
    pub fn from_toml(text: &str) -> Result<(LocalConfig, Present), LoadError> {
        let table: toml::Table = toml::from_str(text).map_err(|e| bindings_error(e.to_string()))?;
        let present = Present {
            model: table.contains_key("model"),
            notifier: table.contains_key("notifier"),
            storage: table.contains_key("storage"),
        };
        let base = BindingsConfig::from_table(table)?;
        let mut lambda_options = BTreeMap::new();
        for (name, lambda) in &base.lambda {
            lambda_options.insert(name.clone(), lambda_options_of(name, &lambda.options)?);
        }
        Ok((
            LocalConfig {
                base,
                lambda_options,
            },
            present,
        ))
    }

    /// Reads `path`, or the defaults when there is none.
    pub fn load(path: Option<&Path>) -> anyhow::Result<(LocalConfig, Present)> {
        use anyhow::Context as _;
        match path {
            Some(path) => {
                let text = std::fs::read_to_string(path)
                    .with_context(|| format!("cannot read bindings {}", path.display()))?;
                LocalConfig::from_toml(&text)
                    .with_context(|| format!("bindings file {}", path.display()))
            }
            None => Ok((
                LocalConfig {
                    base: BindingsConfig::default(),
                    lambda_options: BTreeMap::new(),
                },
                Present::default(),
            )),
        }
    }

    /// Binds `function` to an in-process `handler` unless the file already binds that name.
    pub fn bind_default_lambda(&mut self, function: &str, handler: &str) {
        let taken = self
            .base
            .lambda
            .keys()
            .any(|name| name == function || function_name(name) == function_name(function));
        if !taken && !function.is_empty() {
            self.base.lambda.insert(
                function.to_string(),
                trailguard_asl::LambdaConfig {
                    handler: Some(handler.to_string()),
                    command: None,
                    options: toml::Table::new(),
                },
            );
        }
    }
}

/// The bindings plus what the caller reports on.
pub struct LocalBindings {
    pub bindings: Bindings,
    pub info: BindingsInfo,
}

/// What a caller reports on besides the bindings themselves.
#[derive(Debug, Clone, Default)]
pub struct BindingsInfo {
    /// Function names bound to the in-process PII handler (to count images checked).
    pub pii_functions: Vec<String>,
    /// Where JSON Lines alerts go, when they go to a file.
    pub alerts_file: Option<PathBuf>,
    /// The storage root, when it is a directory.
    pub bucket_root: Option<PathBuf>,
}

impl BindingsInfo {
    pub fn is_pii_function(&self, reference: &str) -> bool {
        let name = function_name(reference);
        self.pii_functions
            .iter()
            .any(|f| f == reference || function_name(f) == name)
    }
}

/// Builds every adapter and handler `config` names. Fails (at load, not mid-run) on unknown
/// kinds, missing options, or an offline PII detector that cannot start.
pub fn build_bindings(config: &LocalConfig) -> Result<LocalBindings, LoadError> {
    let factory = LocalAdapters::default();
    let store = factory.storage(&config.base.storage)?;
    let model = factory.model(&config.base.model)?;
    let notifier = factory.notifier(&config.base.notifier)?;
    let mut lambda = LambdaBinding::new();
    let mut pii_functions = Vec::new();
    for (name, entry) in &config.base.lambda {
        let options = config.lambda_options.get(name).cloned().unwrap_or_default();
        let function: Arc<dyn LambdaFunction> = match (&entry.handler, &entry.command) {
            (Some(handler), _) if handler == ANALYSIS_HANDLER => {
                let model_config = options.model.as_ref().unwrap_or(&config.base.model);
                let model = if model_config.kind == "deterministic" {
                    None
                } else {
                    Some(factory.model(model_config)?)
                };
                let mut analysis = AnalysisConfig::default();
                if let Some(policy) = options.policy {
                    analysis.ask.policy = policy;
                }
                Arc::new(LogAnalysisHandler::new(
                    factory.detector()?,
                    model,
                    analysis,
                ))
            }
            (Some(handler), _) if handler == PII_HANDLER => {
                let detector: Arc<dyn PiiDetect> = match options.detector.as_deref() {
                    Some("model") => {
                        let model_config = options.model.as_ref().unwrap_or(&config.base.model);
                        let backend = match model_config.kind.as_str() {
                            "openai" => "openai",
                            "deterministic" => {
                                return Err(bindings_error(format!(
                                    "lambda '{name}': detector = \"model\" needs a vision model ([model] or model = {{ kind = \"openai\", ... }}), not the deterministic one"
                                )))
                            }
                            _ => "local",
                        };
                        let model_id = model_config
                            .option("model")
                            .filter(|m| !m.is_empty())
                            .unwrap_or(DEFAULT_IMAGE_MODEL_ID);
                        Arc::new(VisionPiiDetector::new(
                            factory.model(model_config)?,
                            backend,
                            model_id,
                        ))
                    }
                    _ => factory.offline_pii()?,
                };
                pii_functions.push(name.clone());
                Arc::new(PiiHandler::new(
                    store.clone(),
                    detector,
                    ImageLimits::default(),
                    options.result.unwrap_or(PiiResultMode::Rich) == PiiResultMode::Rich,
                ))
            }
            (Some(handler), _) => {
                return Err(bindings_error(format!(
                    "lambda '{name}': no in-process handler named '{handler}' (use {ANALYSIS_HANDLER} or {PII_HANDLER})"
                )))
            }
            (None, Some(argv)) => Arc::new(CommandFunction { argv: argv.clone() }),
            (None, None) => {
                return Err(bindings_error(format!(
                    "lambda '{name}': set handler or command"
                )))
            }
        };
        lambda.register(name, function);
    }
    let mut bindings = Bindings::new();
    bindings
        .lambda(lambda)
        .model(model)
        .notifier(notifier)
        .storage(store);
    let alerts_file = match config.base.notifier.kind.as_str() {
        "jsonl" => Some(PathBuf::from(
            config
                .base
                .notifier
                .option("path")
                .unwrap_or("alerts.jsonl"),
        )),
        _ => config.base.notifier.option("copy_to").map(PathBuf::from),
    };
    let bucket_root = (config.base.storage.kind == "dir")
        .then(|| PathBuf::from(config.base.storage.option("root").unwrap_or(".")));
    Ok(LocalBindings {
        bindings,
        info: BindingsInfo {
            pii_functions,
            alerts_file,
            bucket_root,
        },
    })
}

/// `model.kind = "deterministic"` for the converse resource: answers the guide's log prompt with
/// the rules' analysis of the event between `<log>` and `</log>` (or the first JSON object).
struct RulesChat(Arc<LogAnalysisHandler>);

fn event_in_prompt(text: &str) -> Option<&str> {
    // The guide's prompt names the tag in prose first: take the last <log> before </log>.
    if let Some(end) = text.rfind("</log>") {
        if let Some(start) = text[..end].rfind("<log>") {
            return Some(text[start + "<log>".len()..end].trim());
        }
    }
    let start = text.find('{')?;
    let end = text.rfind('}')?;
    (end > start).then(|| &text[start..=end])
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

/// Adapters from trailguard-local (and trailguard-openai), built on demand and shared.
#[derive(Default)]
pub struct LocalAdapters {
    rules: Mutex<Option<Arc<LogAnalysisHandler>>>,
    offline_pii: Mutex<Option<Arc<dyn PiiDetect>>>,
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn secret_from_env(config: &AdapterConfig, key: &str) -> Result<Option<String>, LoadError> {
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

fn need<'a>(config: &'a AdapterConfig, what: &str, key: &str) -> Result<&'a str, LoadError> {
    config
        .option(key)
        .ok_or_else(|| bindings_error(format!("{what} kind '{}' needs {key}", config.kind)))
}

impl LocalAdapters {
    fn detector(&self) -> Result<trailguard_detect::Detector, LoadError> {
        LogAnalysisHandler::load_detector(&[])
            .map_err(|e| bindings_error(format!("loading the embedded rules: {e}")))
    }

    fn rules_handler(&self) -> Result<Arc<LogAnalysisHandler>, LoadError> {
        let mut cell = lock(&self.rules);
        if let Some(handler) = cell.as_ref() {
            return Ok(handler.clone());
        }
        let handler = Arc::new(LogAnalysisHandler::new(
            self.detector()?,
            None,
            AnalysisConfig::default(),
        ));
        *cell = Some(handler.clone());
        Ok(handler)
    }

    /// The offline OCR detector (one per run: Tesseract takes a while to start).
    fn offline_pii(&self) -> Result<Arc<dyn PiiDetect>, LoadError> {
        let mut cell = lock(&self.offline_pii);
        if let Some(detector) = cell.as_ref() {
            return Ok(detector.clone());
        }
        let inner = trailguard_pii_offline::OfflinePiiDetector::new(
            trailguard_pii_offline::OfflineConfig::default(),
        )
        .map_err(|e| {
            bindings_error(format!(
                "the offline PII detector cannot start (Tesseract with eng+kor data: Debian packages tesseract-ocr-eng, tesseract-ocr-kor): {e}"
            ))
        })?;
        let detector: Arc<dyn PiiDetect> = Arc::new(OfflinePiiAdapter::new(Arc::new(inner)));
        *cell = Some(detector.clone());
        Ok(detector)
    }

    fn smtp(&self, config: &AdapterConfig) -> Result<SmtpNotifier, LoadError> {
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
}

impl AdapterFactory for LocalAdapters {
    fn model(&self, config: &AdapterConfig) -> Result<Arc<dyn ChatModel>, LoadError> {
        match config.kind.as_str() {
            "deterministic" => Ok(Arc::new(RulesChat(self.rules_handler()?))),
            "fixed" => {
                let text = need(config, "model", "text")?.to_string();
                Ok(Arc::new(DeterministicChat::new(move |_| Ok(text.clone()))))
            }
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
                    openai = openai.with_timeout(Duration::from_secs(seconds.max(1) as u64));
                }
                let chat = OpenAiChat::new(openai)
                    .map_err(|e| bindings_error(format!("model openai: {e}")))?;
                Ok(Arc::new(chat))
            }
            other => Err(bindings_error(format!(
                "model kind '{other}' is unknown (use deterministic, fixed, scripted or openai)"
            ))),
        }
    }

    fn notifier(&self, config: &AdapterConfig) -> Result<Arc<dyn Notifier>, LoadError> {
        let copy = config
            .option("copy_to")
            .map(|path| JsonlNotifier::new(PathBuf::from(path)));
        let remote: Arc<dyn Notifier> = match config.kind.as_str() {
            "stdout" => {
                return Ok(Arc::new(
                    JsonlNotifier::new(
                        config.option("path").map(PathBuf::from).unwrap_or_else(|| {
                            std::env::temp_dir().join("trailguard-alerts.jsonl")
                        }),
                    )
                    .with_stdout_echo(true),
                ))
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
            "smtp" => Arc::new(self.smtp(config)?),
            other => {
                return Err(bindings_error(format!(
                    "notifier kind '{other}' is unknown (use jsonl, stdout, webhook or smtp)"
                )))
            }
        };
        Ok(match copy {
            Some(copy) => Arc::new(CopyingNotifier { copy, remote }),
            None => remote,
        })
    }

    fn storage(&self, config: &AdapterConfig) -> Result<Arc<dyn ObjectStore>, LoadError> {
        match config.kind.as_str() {
            "memory" => Ok(Arc::new(MemoryStore::new())),
            "dir" => Ok(Arc::new(DirStore::new(
                config.option("root").unwrap_or("."),
            ))),
            other => Err(bindings_error(format!(
                "storage kind '{other}' is unknown (use dir or memory)"
            ))),
        }
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
    async fn publish(&self, subject: Option<&str>, message: &str) -> Result<String, PortError> {
        self.copy.publish(subject, message).await?;
        self.remote.publish(subject, message).await
    }
}

/// Applies `--sub NAME=VALUE` arguments over `substitutions`.
pub fn apply_sub_args(
    substitutions: &mut HashMap<String, String>,
    pairs: &[String],
) -> anyhow::Result<()> {
    for pair in pairs {
        match pair.split_once('=') {
            Some((name, value)) if !name.is_empty() => {
                substitutions.insert(name.to_string(), value.to_string());
            }
            _ => anyhow::bail!("--sub expects NAME=VALUE, got '{pair}'"),
        }
    }
    Ok(())
}

/// Loads a definition with its `${Name}` substitutions; an unset one is an error that names it.
pub fn load_state_machine(
    text: &str,
    label: &str,
    substitutions: &HashMap<String, String>,
) -> anyhow::Result<StateMachine> {
    let missing = trailguard_asl::unresolved_substitutions(text, substitutions);
    if !missing.is_empty() {
        anyhow::bail!(
            "definition {label}: no value for {}: pass --sub NAME=VALUE or set [substitutions] in the bindings",
            missing
                .iter()
                .map(|m| format!("${{{m}}}"))
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    StateMachine::from_json(text, substitutions)
        .map_err(|e| anyhow::anyhow!("definition {label}: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn handler_options_are_read_and_checked() {
        let (config, present) = LocalConfig::from_toml(
            "[lambda.pii]\nhandler = \"trailguard-pii\"\nresult = \"contract\"\ndetector = \"offline\"\n\
             [lambda.logs]\nhandler = \"trailguard-analysis\"\npolicy = \"never\"\n[notifier]\nkind = \"jsonl\"\n",
        )
        .unwrap();
        assert!(present.notifier && !present.model && !present.storage);
        let pii = &config.lambda_options["pii"];
        assert_eq!(pii.result, Some(PiiResultMode::Contract));
        assert_eq!(pii.detector.as_deref(), Some("offline"));
        assert_eq!(config.lambda_options["logs"].policy, Some(AskPolicy::Never));
        assert_eq!(
            config.base.lambda["pii"].handler.as_deref(),
            Some(PII_HANDLER)
        );
        assert!(
            LocalConfig::from_toml("[lambda.pii]\nhandler = \"x\"\nresult = \"maybe\"\n").is_err()
        );
        assert!(LocalConfig::from_toml("[lambda.pii]\nhandler = \"x\"\nunknown = 1\n").is_err());
    }

    #[test]
    fn unknown_handlers_and_kinds_fail_at_load() {
        let (config, _) = LocalConfig::from_toml(
            "[lambda.f]\nhandler = \"nope\"\n[storage]\nkind = \"memory\"\n",
        )
        .unwrap();
        assert!(build_bindings(&config).is_err());
        let (config, _) = LocalConfig::from_toml("[model]\nkind = \"bedrock\"\n").unwrap();
        assert!(build_bindings(&config).is_err());
    }

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
    fn placeholders_without_values_are_listed() {
        let subs = HashMap::from([("A".to_string(), "a".to_string())]);
        assert_eq!(
            trailguard_asl::unresolved_substitutions("${A} ${B} ${B} ${not a name}", &subs),
            ["B"]
        );
    }
}
