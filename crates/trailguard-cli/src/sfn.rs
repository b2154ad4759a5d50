//! `trailguard sfn run` and `trailguard sfn conformance`: run any ASL definition locally,
//! and replay an ASL conformance corpus.

use std::collections::HashMap;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{bail, Context as _};
use async_trait::async_trait;
use clap::{Args, Subcommand};
use serde_json::Value;
use trailguard_asl::bindings::{AdapterConfig, AdapterFactory};
use trailguard_asl::testing::MemoryStore;
use trailguard_asl::{Bindings, BindingsConfig, ExecutionStatus, LoadError, Runner, StateMachine};
use trailguard_core::ports::{
    ChatModel, ChatRequest, ChatResponse, Notifier, ObjectStore, PortError, PortErrorKind,
    StoredObject,
};

#[derive(Args, Debug)]
pub struct SfnArgs {
    #[command(subcommand)]
    pub command: SfnCommand,
}

#[derive(Subcommand, Debug)]
pub enum SfnCommand {
    /// Run a state machine definition once, locally; prints the execution's output.
    Run(RunArgs),
    /// Replay every case of an ASL conformance corpus (definition, input, recorded task results).
    Conformance(ConformanceArgs),
}

#[derive(Args, Debug)]
pub struct RunArgs {
    /// The ASL definition (JSON).
    pub definition: PathBuf,
    /// Execution input: JSON text, or @FILE to read it from a file.
    #[arg(long, default_value = "{}")]
    pub input: String,
    /// Bindings TOML (lambda handlers/commands, model, notifier, storage, substitutions).
    #[arg(long)]
    pub bindings: Option<PathBuf>,
    /// `${Name}` substitution (SAM DefinitionSubstitutions), repeatable: --sub Name=value.
    #[arg(long = "sub", value_name = "NAME=VALUE")]
    pub substitutions: Vec<String>,
    /// Print the execution history (AWS event shapes) as JSON on stderr.
    #[arg(long)]
    pub history: bool,
}

#[derive(Args, Debug)]
pub struct ConformanceArgs {
    /// The corpus directory (holding `cases/` or the case files).
    pub dir: PathBuf,
    /// Print a machine-readable summary: {"passed", "total", "failures": [{"case", "reason"}]}.
    #[arg(long)]
    pub json: bool,
}

/// Exit code: 0 success (execution succeeded / every case passed), 2 otherwise.
pub fn run(args: SfnArgs) -> anyhow::Result<i32> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    match args.command {
        SfnCommand::Run(run_args) => runtime.block_on(run_definition(run_args)),
        SfnCommand::Conformance(c) => runtime.block_on(conformance(c)),
    }
}

async fn conformance(args: ConformanceArgs) -> anyhow::Result<i32> {
    let report = trailguard_asl::run_conformance(&args.dir).await?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        for failure in &report.failures {
            println!("FAIL {}: {}", failure.case, failure.reason);
        }
        println!(
            "passed {}/{} ({:.1}%)",
            report.passed,
            report.total,
            report.pass_rate() * 100.0
        );
    }
    Ok(if report.failures.is_empty() { 0 } else { 2 })
}

fn read_input(input: &str) -> anyhow::Result<Value> {
    let text = match input.strip_prefix('@') {
        Some(path) => std::fs::read_to_string(path)
            .with_context(|| format!("cannot read input file {path}"))?,
        None => input.to_string(),
    };
    serde_json::from_str(&text).context("--input is not valid JSON")
}

async fn run_definition(args: RunArgs) -> anyhow::Result<i32> {
    let config = match &args.bindings {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("cannot read bindings {}", path.display()))?;
            BindingsConfig::from_toml(&text)
                .with_context(|| format!("bindings file {}", path.display()))?
        }
        None => BindingsConfig::default(),
    };
    let mut substitutions = config.substitutions.clone();
    for pair in &args.substitutions {
        let Some((name, value)) = pair.split_once('=') else {
            bail!("--sub expects NAME=VALUE, got '{pair}'");
        };
        substitutions.insert(name.to_string(), value.to_string());
    }
    let text = std::fs::read_to_string(&args.definition)
        .with_context(|| format!("cannot read definition {}", args.definition.display()))?;
    let machine = StateMachine::from_json(&text, &substitutions)
        .with_context(|| format!("definition {}", args.definition.display()))?;
    let bindings = Bindings::from_config(&config, &LocalAdapters, &HashMap::new())?;
    let input = read_input(&args.input)?;
    let runner = Runner::new(machine, bindings)
        .with_context(|| format!("definition {}", args.definition.display()))?
        .with_name(
            args.definition
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .as_deref()
                .unwrap_or("StateMachine"),
        );
    let execution = runner.execute(input).await;
    if args.history {
        eprintln!("{}", serde_json::to_string_pretty(&execution.history)?);
    }
    match execution.status {
        ExecutionStatus::Succeeded => {
            println!("{}", execution.output.unwrap_or(Value::Null));
            Ok(0)
        }
        ExecutionStatus::Failed => {
            println!(
                "{}",
                serde_json::json!({ "status": "FAILED", "error": execution.error, "cause": execution.cause })
            );
            Ok(2)
        }
    }
}

/// Adapters for `sfn run`. `storage.kind = "dir"` (a directory per bucket under `root`) or
/// `"memory"`; `notifier.kind = "jsonl"` (`path`) or `"stdout"`; `model.kind = "fixed"` (`text`).
/// Any other model kind fails when a Task calls it.
// The shared adapters of trailguard-local can replace these once they land.
struct LocalAdapters;

impl AdapterFactory for LocalAdapters {
    fn model(&self, config: &AdapterConfig) -> Result<Arc<dyn ChatModel>, LoadError> {
        Ok(Arc::new(ConfiguredModel {
            kind: config.kind.clone(),
            text: config.option("text").map(str::to_string),
        }))
    }

    fn notifier(&self, config: &AdapterConfig) -> Result<Arc<dyn Notifier>, LoadError> {
        match config.kind.as_str() {
            "stdout" => Ok(Arc::new(JsonlNotifier { path: None })),
            "jsonl" => Ok(Arc::new(JsonlNotifier {
                path: Some(PathBuf::from(
                    config.option("path").unwrap_or("alerts.jsonl"),
                )),
            })),
            other => Err(LoadError::Bindings(format!(
                "notifier kind '{other}' is not available in `sfn run` (use jsonl or stdout)"
            ))),
        }
    }

    fn storage(&self, config: &AdapterConfig) -> Result<Arc<dyn ObjectStore>, LoadError> {
        match config.kind.as_str() {
            "memory" => Ok(Arc::new(MemoryStore::new())),
            "dir" => Ok(Arc::new(DirStore {
                root: PathBuf::from(config.option("root").unwrap_or(".")),
            })),
            other => Err(LoadError::Bindings(format!(
                "storage kind '{other}' is not available in `sfn run` (use dir or memory)"
            ))),
        }
    }
}

struct ConfiguredModel {
    kind: String,
    text: Option<String>,
}

#[async_trait]
impl ChatModel for ConfiguredModel {
    async fn converse(&self, _request: &ChatRequest) -> Result<ChatResponse, PortError> {
        match (&self.kind[..], &self.text) {
            ("fixed", Some(text)) => Ok(ChatResponse {
                text: text.clone(),
                stop_reason: Some("end_turn".into()),
                input_tokens: None,
                output_tokens: None,
            }),
            (kind, _) => Err(PortError::new(
                PortErrorKind::Unavailable,
                format!("model kind '{kind}' is not available in `sfn run` (use kind = \"fixed\" with text = ...)"),
            )),
        }
    }
}

struct JsonlNotifier {
    path: Option<PathBuf>,
}

#[async_trait]
impl Notifier for JsonlNotifier {
    async fn publish(&self, subject: Option<&str>, message: &str) -> Result<String, PortError> {
        let id = format!("local-{}", chrono_free_id());
        let line = serde_json::json!({ "MessageId": id, "Subject": subject, "Message": message })
            .to_string();
        match &self.path {
            None => println!("{line}"),
            Some(path) => {
                let mut file = std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(path)
                    .map_err(|e| {
                        PortError::new(
                            PortErrorKind::Unavailable,
                            format!("{}: {e}", path.display()),
                        )
                    })?;
                writeln!(file, "{line}").map_err(|e| {
                    PortError::new(
                        PortErrorKind::Unavailable,
                        format!("{}: {e}", path.display()),
                    )
                })?;
            }
        }
        Ok(id)
    }
}

fn chrono_free_id() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0)
}

/// `root/bucket/key` files.
struct DirStore {
    root: PathBuf,
}

impl DirStore {
    fn path(&self, bucket: &str, key: &str) -> Result<PathBuf, PortError> {
        let unsafe_part =
            |s: &str| s.split('/').any(|p| p == ".." || p.is_empty()) || s.starts_with('/');
        if bucket.is_empty() || bucket.contains('/') || bucket == ".." || unsafe_part(key) {
            return Err(PortError::new(
                PortErrorKind::InvalidInput,
                format!("unsafe bucket/key {bucket}/{key}"),
            ));
        }
        Ok(self.root.join(bucket).join(Path::new(key)))
    }
}

fn io_error(path: &Path, e: std::io::Error) -> PortError {
    let kind = if e.kind() == std::io::ErrorKind::NotFound {
        PortErrorKind::NotFound
    } else {
        PortErrorKind::Other
    };
    PortError::new(kind, format!("{}: {e}", path.display()))
}

#[async_trait]
impl ObjectStore for DirStore {
    async fn get_object(&self, bucket: &str, key: &str) -> Result<StoredObject, PortError> {
        let path = self.path(bucket, key)?;
        let bytes = tokio::fs::read(&path)
            .await
            .map_err(|e| io_error(&path, e))?;
        Ok(StoredObject {
            bytes,
            ..StoredObject::default()
        })
    }

    async fn put_object(
        &self,
        bucket: &str,
        key: &str,
        bytes: Vec<u8>,
        _content_type: Option<&str>,
    ) -> Result<(), PortError> {
        let path = self.path(bucket, key)?;
        if let Some(parent) = path.parent() {
            tokio::fs::create_dir_all(parent)
                .await
                .map_err(|e| io_error(parent, e))?;
        }
        tokio::fs::write(&path, bytes)
            .await
            .map_err(|e| io_error(&path, e))
    }

    async fn delete_object(&self, bucket: &str, key: &str) -> Result<(), PortError> {
        let path = self.path(bucket, key)?;
        match tokio::fs::remove_file(&path).await {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(io_error(&path, e)),
        }
    }

    async fn copy_object(
        &self,
        source_bucket: &str,
        source_key: &str,
        target_bucket: &str,
        target_key: &str,
    ) -> Result<(), PortError> {
        let object = self.get_object(source_bucket, source_key).await?;
        self.put_object(target_bucket, target_key, object.bytes, None)
            .await
    }

    async fn put_object_tagging(
        &self,
        bucket: &str,
        key: &str,
        tags: &[(String, String)],
    ) -> Result<(), PortError> {
        let path = self.path(bucket, key)?;
        if !path.exists() {
            return Err(PortError::new(
                PortErrorKind::NotFound,
                "The specified key does not exist.",
            )
            .with_code("NoSuchKey"));
        }
        let sidecar = path.with_extension("tags.json");
        let map: serde_json::Map<String, Value> = tags
            .iter()
            .map(|(k, v)| (k.clone(), Value::String(v.clone())))
            .collect();
        tokio::fs::write(&sidecar, Value::Object(map).to_string())
            .await
            .map_err(|e| io_error(&sidecar, e))
    }
}
