//! `trailguard run`: the security-audit workflow once per event, locally: a directory as the S3
//! bucket, alerts to a JSON Lines file (SMTP or a webhook as options), deterministic analysis by
//! default. One line per event in input order, a summary, a progress bar on long runs.

use std::collections::VecDeque;
use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context as _};
use clap::{Args, ValueEnum};
use serde_json::{json, Map, Value};
use trailguard_asl::ExecutionStatus;
use trailguard_events::{RawEvent, ReadError, ReadOptions};
use trailguard_runner::{
    default_substitutions, Action, AdapterConfig, Defaults, DefinitionSource, ExecutionReport,
    KnowledgeSink, PiiDetectorKind as BoundDetector, PiiResultMode, Workflow, WorkflowRun,
    ANALYSIS_HANDLER, KB_SYNC_HANDLER, PII_HANDLER, SECURITY_AUDIT_DEFINITION,
};

use crate::bindings;

/// Where alerts go unless told otherwise.
pub const DEFAULT_ALERTS_FILE: &str = "trailguard-alerts.jsonl";

#[derive(Copy, Clone, Debug, PartialEq, Eq, ValueEnum)]
pub enum ModelKind {
    /// No model: the rules' analysis (and, for a converse Task, the rules answering as the model).
    Deterministic,
    /// An OpenAI-compatible server (Ollama, vLLM, llama.cpp server): --model-url, --model-id.
    Openai,
    /// A GGUF model in this process: --model-id NAME|FILE.gguf, else the best one fetched
    /// (`trailguard model fetch`); none fetched: the rules, with a note.
    Local,
}

#[derive(Copy, Clone, Debug, PartialEq, Eq, ValueEnum)]
pub enum PiiDetectorKind {
    /// OCR + validating recognisers, on this machine.
    Offline,
    /// The configured vision model (--model openai).
    Model,
}

#[derive(Args, Debug, Default)]
pub struct RunArgs {
    /// Event files or directories (any format `analyze` reads, .gz too), or - for stdin.
    #[arg(required = true)]
    pub events: Vec<PathBuf>,
    /// The ASL definition (default: the embedded statemachine/security-audit.asl.json).
    #[arg(long, value_name = "FILE")]
    pub definition: Option<PathBuf>,
    /// Bindings TOML (lambda handlers/commands, model, notifier, storage, substitutions);
    /// overrides the defaults, and these flags override it.
    #[arg(long, value_name = "FILE")]
    pub bindings: Option<PathBuf>,
    /// The S3 stand-in: one subdirectory per bucket (default: the current directory).
    #[arg(long, value_name = "DIR")]
    pub bucket_root: Option<PathBuf>,
    /// JSON Lines file the alerts are appended to (default: trailguard-alerts.jsonl, unless the
    /// bindings name another notifier).
    #[arg(long, value_name = "FILE")]
    pub alerts: Option<PathBuf>,
    /// `${Name}` substitution, repeatable: --sub PiiFunctionArn=my-pii.
    #[arg(long = "sub", value_name = "NAME=VALUE")]
    pub substitutions: Vec<String>,
    /// Also mail each alert: smtp://[user@]host[:port]?from=ADDR&to=ADDR[&to=ADDR]
    /// (password from TRAILGUARD_SMTP_PASSWORD). A JSONL copy is still written.
    #[arg(long, value_name = "URL", conflicts_with = "webhook", group = "remote")]
    pub smtp: Option<String>,
    /// Also POST each alert as JSON to this URL. A JSONL copy is still written.
    #[arg(long, value_name = "URL", group = "remote")]
    pub webhook: Option<String>,
    /// Mail (or post) only alerts of this threat level or higher, as the deployed e-mail
    /// subscription's filter does (`AlertEmailMinLevel`); the JSONL copy keeps every alert.
    #[arg(long, value_name = "LEVEL", requires = "remote")]
    pub min_level: Option<String>,
    /// Model behind the log analysis (and any converse Task).
    #[arg(long, value_enum)]
    pub model: Option<ModelKind>,
    /// Base URL of the OpenAI-compatible server, up to /v1 (implies --model openai).
    #[arg(long, value_name = "URL")]
    pub model_url: Option<String>,
    /// Model name on that server; with --model local a fetched model's name (smollm2-135m,
    /// qwen2.5-1.5b, ...) or a .gguf file.
    #[arg(long, value_name = "ID")]
    pub model_id: Option<String>,
    /// CPU threads of --model local (default: all cores; 1 on a busy machine, see README).
    #[arg(long, value_name = "N")]
    pub model_threads: Option<u32>,
    /// Environment variable holding the server's API key.
    #[arg(long, value_name = "VAR")]
    pub model_api_key_env: Option<String>,
    /// When the analysis asks the model: never, always or when-not-benign.
    #[arg(long, value_name = "POLICY")]
    pub model_policy: Option<String>,
    /// Detector of the in-process PII handler.
    #[arg(long, value_enum)]
    pub pii_detector: Option<PiiDetectorKind>,
    /// One JSON object per execution on stdout instead of text lines.
    #[arg(long)]
    pub json: bool,
    /// Executions in flight at once (output stays in input order).
    #[arg(long, default_value_t = 4)]
    pub concurrency: usize,
    /// Largest single record accepted, in bytes; larger ones are reported and skipped.
    #[arg(long, default_value_t = 8 * 1024 * 1024)]
    pub max_record_bytes: usize,
    /// Add each analysed event and its workflow outcome to this knowledge base (the workflow's
    /// knowledge-base step writes there instead of Bedrock-format files in the bucket root).
    #[arg(long = "kb", value_name = "DIR")]
    pub kb: Option<PathBuf>,
}

/// A loaded workflow.
pub struct Job {
    workflow: Arc<Workflow>,
}

/// `smtp://[user@]host[:port]?from=...&to=...` as a notifier config.
fn smtp_config(text: &str) -> anyhow::Result<AdapterConfig> {
    let usage =
        || format!("--smtp expects smtp://[user@]host[:port]?from=ADDR&to=ADDR, got '{text}'");
    let url = url::Url::parse(text).with_context(usage)?;
    if url.scheme() != "smtp" {
        bail!(usage());
    }
    let Some(host) = url.host_str().filter(|h| !h.is_empty()) else {
        bail!("--smtp: no host in '{text}'");
    };
    let user = (!url.username().is_empty()).then(|| {
        percent_encoding::percent_decode_str(url.username())
            .decode_utf8_lossy()
            .into_owned()
    });
    let mut options = toml::Table::new();
    options.insert("host".into(), host.into());
    options.insert(
        "port".into(),
        toml::Value::Integer(i64::from(url.port().unwrap_or(25))),
    );
    let mut to = Vec::new();
    for (key, value) in url.query_pairs() {
        match &*key {
            "to" => to.push(toml::Value::String(value.into_owned())),
            "from" | "subject_prefix" => {
                options.insert(key.into_owned(), toml::Value::String(value.into_owned()));
            }
            other => bail!("--smtp: unknown parameter '{other}' (use from, to, subject_prefix)"),
        }
    }
    if to.is_empty() {
        bail!("--smtp: give at least one recipient: ?to=secops@example.com");
    }
    options.insert("to".into(), toml::Value::Array(to));
    if let Some(user) = user {
        options.insert("username".into(), user.into());
        options.insert("password_env".into(), "TRAILGUARD_SMTP_PASSWORD".into());
    }
    Ok(AdapterConfig {
        kind: "smtp".into(),
        options,
    })
}

/// `kind = "local"` for `--model local [--model-id NAME|FILE] [--model-threads N]`.
pub fn local_config(model_id: Option<&str>, threads: Option<u32>) -> AdapterConfig {
    let mut config = AdapterConfig::new("local");
    match trailguard_local_model::ModelChoice::from_setting(model_id.unwrap_or("")) {
        trailguard_local_model::ModelChoice::Default => {}
        trailguard_local_model::ModelChoice::Name(name) => config = config.with("name", &name),
        trailguard_local_model::ModelChoice::Path(path) => {
            config = config.with("path", &path.to_string_lossy())
        }
    }
    if let Some(threads) = threads {
        config
            .options
            .insert("threads".into(), toml::Value::Integer(i64::from(threads)));
    }
    config
}

/// No model named by flags or bindings: the best fetched local model, which
/// [`crate::local::resolve_bindings`] turns into the rules (said once) when none is fetched.
pub fn default_to_local(config: &mut trailguard_runner::BindingsConfig) {
    if config.model.is_none() {
        config.model = Some(AdapterConfig::new("local"));
    }
}

fn with_option(kind: &str, pairs: &[(&str, &str)]) -> AdapterConfig {
    pairs
        .iter()
        .fold(AdapterConfig::new(kind), |config, (k, v)| config.with(k, v))
}

impl Job {
    /// Loads the definition and bindings: defaults < bindings file < flags. `knowledge`: where
    /// the in-process kb-sync puts documents (`--kb`), else Bedrock-format objects in the
    /// knowledge-base bucket of the bucket root.
    pub fn load(args: &RunArgs, knowledge: Option<Arc<dyn KnowledgeSink>>) -> anyhow::Result<Job> {
        let mut config = bindings::load(args.bindings.as_deref())?;
        let mut substitutions = default_substitutions();
        substitutions.extend(config.substitutions.clone());
        bindings::apply_sub_args(&mut substitutions, &args.substitutions)?;

        let alerts = args
            .alerts
            .clone()
            .unwrap_or_else(|| PathBuf::from(DEFAULT_ALERTS_FILE));
        let alerts_text = alerts.to_string_lossy().into_owned();
        if config.notifier.is_none() || args.alerts.is_some() {
            config.notifier = Some(with_option("jsonl", &[("path", &alerts_text)]));
        }
        if let Some(url) = &args.smtp {
            config.notifier = Some(smtp_config(url)?);
        }
        if let Some(url) = &args.webhook {
            config.notifier = Some(with_option("webhook", &[("url", url)]));
        }
        if args.smtp.is_some() || args.webhook.is_some() {
            if let Some(notifier) = config.notifier.as_mut() {
                notifier
                    .options
                    .insert("copy_to".into(), toml::Value::String(alerts_text));
                if let Some(level) = &args.min_level {
                    level
                        .parse::<trailguard_core::ThreatLevel>()
                        .with_context(|| format!("--min-level {level}"))?;
                    notifier
                        .options
                        .insert("min_level".into(), toml::Value::String(level.clone()));
                }
            }
        }
        if let Some(root) = &args.bucket_root {
            config.storage = Some(with_option("dir", &[("root", &root.to_string_lossy())]));
        }
        if args.model_threads.is_some() && args.model != Some(ModelKind::Local) {
            bail!("--model-threads is for --model local");
        }
        let model = match (args.model, &args.model_url) {
            (Some(ModelKind::Deterministic), _) => Some(AdapterConfig::new("deterministic")),
            (Some(ModelKind::Local), Some(_)) => {
                bail!("--model-url is for --model openai; --model local runs in this process")
            }
            (Some(ModelKind::Local), None) => {
                Some(local_config(args.model_id.as_deref(), args.model_threads))
            }
            (Some(ModelKind::Openai), None) => {
                bail!("--model openai needs --model-url (e.g. http://127.0.0.1:11434/v1)")
            }
            (_, Some(url)) => {
                let mut openai = with_option(
                    "openai",
                    &[
                        ("base_url", url),
                        ("model", args.model_id.as_deref().unwrap_or("")),
                    ],
                );
                if let Some(var) = &args.model_api_key_env {
                    openai = openai.with("api_key_env", var);
                }
                Some(openai)
            }
            (None, None) if args.model_id.is_some() => {
                bail!("--model-id needs --model-url (the OpenAI-compatible server)")
            }
            (None, None) => None,
        };
        if model.is_some() {
            config.model = model;
        }
        default_to_local(&mut config);
        crate::local::resolve_bindings(&mut config)?;

        for (key, handler) in [
            ("AnalysisFunctionArn", ANALYSIS_HANDLER),
            ("LogAnalysisFunctionArn", ANALYSIS_HANDLER),
            ("PiiFunctionArn", PII_HANDLER),
            ("KbSyncFunctionArn", KB_SYNC_HANDLER),
        ] {
            if let Some(function) = substitutions.get(key) {
                config.bind_default_lambda(function, handler);
            }
        }
        if let Some(policy) = &args.model_policy {
            policy
                .parse::<trailguard_triage::AskPolicy>()
                .with_context(|| format!("--model-policy {policy}"))?;
        }
        for entry in config.lambda.values_mut() {
            match entry.handler.as_deref() {
                Some(ANALYSIS_HANDLER) if args.model_policy.is_some() => {
                    entry.policy = args.model_policy.clone()
                }
                Some(PII_HANDLER) => {
                    if let Some(kind) = args.pii_detector {
                        entry.detector = Some(match kind {
                            PiiDetectorKind::Offline => BoundDetector::Offline,
                            PiiDetectorKind::Model => BoundDetector::Model,
                        });
                    }
                    entry.result.get_or_insert(PiiResultMode::Rich);
                }
                _ => {}
            }
        }

        let text = match &args.definition {
            Some(path) => std::fs::read_to_string(path)
                .with_context(|| format!("cannot read definition {}", path.display()))?,
            None => SECURITY_AUDIT_DEFINITION.to_string(),
        };
        let name = args
            .definition
            .as_deref()
            .and_then(Path::file_stem)
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_else(|| "security-audit".into());
        let label = args
            .definition
            .as_deref()
            .map(|p| p.display().to_string())
            .unwrap_or_else(|| "<embedded security-audit.asl.json>".into());
        let workflow = Workflow::load(
            &DefinitionSource {
                text: &text,
                label: &label,
                name: &name,
            },
            &substitutions,
            &config,
            &Defaults {
                knowledge,
                ..Defaults::default()
            },
        )?;
        Ok(Job {
            workflow: Arc::new(workflow),
        })
    }
}

/// Counts for the summary.
#[derive(Debug, Default, Clone)]
pub struct Tally {
    pub events: u64,
    pub high: u64,
    pub medium: u64,
    pub low: u64,
    /// Executions with no level or another level.
    pub other_level: u64,
    pub images_checked: u64,
    pub pii_found: u64,
    pub deleted: u64,
    pub quarantined: u64,
    pub alerts: u64,
    pub failures: u64,
    pub bad_records: u64,
}

impl Tally {
    fn add(&mut self, report: &ExecutionReport) {
        self.events += 1;
        match report.threat_level.as_deref() {
            Some("high") => self.high += 1,
            Some("medium") => self.medium += 1,
            Some("low") => self.low += 1,
            _ => self.other_level += 1,
        }
        self.images_checked += u64::from(report.pii_checked);
        self.pii_found += u64::from(report.pii_detected == Some(true));
        self.deleted += u64::from(report.action == Action::Deleted);
        self.quarantined += u64::from(report.action == Action::Quarantined);
        self.alerts += report.alerts.len() as u64;
        self.failures += u64::from(report.status == ExecutionStatus::Failed);
    }

    /// The exit code `run` and `demo` return: 2 when anything was bad or failed.
    pub fn exit_code(&self) -> i32 {
        if self.failures > 0 || self.bad_records > 0 {
            2
        } else {
            0
        }
    }

    pub fn summary(&self, elapsed: Duration) -> String {
        let mut levels = format!(
            "{} high, {} medium, {} low",
            self.high, self.medium, self.low
        );
        if self.other_level > 0 {
            levels.push_str(&format!(", {} without a level", self.other_level));
        }
        format!(
            "{} events in {:.2} s: {levels}; {} images checked, {} with PII, {} deleted, {} quarantined; {} alerts; {} failed executions; {} bad records",
            self.events,
            elapsed.as_secs_f64(),
            self.images_checked,
            self.pii_found,
            self.deleted,
            self.quarantined,
            self.alerts,
            self.failures,
            self.bad_records
        )
    }
}

fn origin_text(file: &str, index: u64) -> String {
    format!("{file}:{index}")
}

/// One execution as a text block: the event line, then one indented line per alert.
pub fn text_lines(origin: &str, report: &ExecutionReport) -> String {
    let action = match (&report.deleted, report.action) {
        (Some(target), Action::Deleted | Action::Quarantined) => {
            format!("{} {target}", report.action.as_str())
        }
        (_, Action::Failed) => format!(
            "failed: {}: {}",
            report.error.as_deref().unwrap_or("unknown error"),
            report.cause.as_deref().unwrap_or("no cause given")
        ),
        (_, action) => action.as_str().to_string(),
    };
    let mut text = format!(
        "{origin}  {:<6}  {action}  [{}]\n",
        report.threat_level.as_deref().unwrap_or("-"),
        report.path.join(" → ")
    );
    for alert in &report.alerts {
        text.push_str(&format!(
            "    alert: {}\n",
            alert.subject.as_deref().unwrap_or("(no subject)")
        ));
    }
    text
}

/// One execution as a JSON object.
pub fn json_object(file: &str, index: u64, report: &ExecutionReport) -> Value {
    let mut object = Map::new();
    object.insert("origin".into(), json!(origin_text(file, index)));
    object.insert("file".into(), json!(file));
    object.insert("record".into(), json!(index));
    object.insert("status".into(), json!(report.status));
    object.insert("threat_level".into(), json!(report.threat_level));
    if let Some(analysis) = &report.analysis {
        let rule_ids: Vec<&Value> = analysis
            .get("reasons")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|hit| hit.get("rule_id"))
            .collect();
        object.insert("rule_ids".into(), json!(rule_ids));
        if let Some(model) = analysis.get("model") {
            object.insert("model".into(), model.clone());
        }
    }
    object.insert("action".into(), json!(report.action));
    if let Some(target) = &report.deleted {
        object.insert("target".into(), json!(target.to_string()));
        object.insert("deleted".into(), json!(target));
    }
    if let Some(copy) = &report.quarantined_to {
        object.insert("quarantined_to".into(), json!(copy));
    }
    object.insert("path".into(), json!(report.path));
    object.insert("pii_checked".into(), json!(report.pii_checked));
    if report.pii_checked {
        object.insert("pii_detected".into(), json!(report.pii_detected));
    }
    object.insert(
        "alerts".into(),
        Value::Array(
            report
                .alerts
                .iter()
                .map(|a| json!({ "subject": a.subject, "message_id": a.message_id }))
                .collect(),
        ),
    );
    if report.status == ExecutionStatus::Failed {
        object.insert("error".into(), json!(report.error));
        object.insert("cause".into(), json!(report.cause));
    } else {
        object.insert(
            "output".into(),
            report.output.clone().unwrap_or(Value::Null),
        );
    }
    Value::Object(object)
}

/// How results are printed.
pub struct Output<'a> {
    pub out: &'a mut dyn Write,
    pub json: bool,
    pub progress: bool,
    /// The knowledge base the executions are recorded in (`--kb`).
    pub kb: Option<&'a crate::kb::RunRecorder>,
}

/// One input record on its way to the output, in input order.
enum Slot {
    Bad(String),
    Running {
        file: Arc<str>,
        index: u64,
        name: String,
    },
    Done {
        file: Arc<str>,
        index: u64,
        name: String,
        result: Result<Box<WorkflowRun>, tokio::task::JoinError>,
    },
}

type Finished = (u64, Result<Box<WorkflowRun>, tokio::task::JoinError>);

fn failed_to_run(join_error: &tokio::task::JoinError) -> ExecutionReport {
    ExecutionReport {
        status: ExecutionStatus::Failed,
        path: Vec::new(),
        action: Action::Failed,
        deleted: None,
        quarantined_to: None,
        threat_level: None,
        analysis: None,
        alerts: Vec::new(),
        pii_checked: false,
        pii_detected: None,
        error: Some("TrailGuard.Internal".into()),
        cause: Some(format!("the execution stopped: {join_error}")),
        output: None,
    }
}

/// Runs the workflow once per input record, `concurrency` at a time, printing in input order.
/// Records are read on a blocking thread, so a slow stdin (`tail -f ... | trailguard run -`)
/// never holds back the lines of executions already finished.
pub async fn run_inputs<I>(
    job: &Job,
    inputs: I,
    concurrency: usize,
    output: &mut Output<'_>,
) -> anyhow::Result<Tally>
where
    I: Iterator<Item = Result<RawEvent, ReadError>> + Send + 'static,
{
    let concurrency = concurrency.max(1);
    let started = Instant::now();
    let bar = indicatif::ProgressBar::hidden();
    let show_bar = output.progress && std::io::stderr().is_terminal();
    let mut bar_visible = false;
    let mut ticker = tokio::time::interval(Duration::from_millis(250));
    let mut tally = Tally::default();

    let (input_tx, mut input_rx) = tokio::sync::mpsc::channel(concurrency * 2);
    let reader = tokio::task::spawn_blocking(move || {
        for item in inputs {
            if input_tx.blocking_send(item).is_err() {
                break;
            }
        }
    });
    let (done_tx, mut done_rx) = tokio::sync::mpsc::unbounded_channel::<Finished>();
    // Slots in input order; the front slot's sequence number is `first_seq`.
    let mut queue: VecDeque<Slot> = VecDeque::new();
    let mut first_seq = 0u64;
    let mut next_seq = 0u64;
    let mut in_flight = 0usize;
    let mut inputs_done = false;
    loop {
        while matches!(queue.front(), Some(Slot::Bad(_) | Slot::Done { .. })) {
            let Some(slot) = queue.pop_front() else { break };
            first_seq += 1;
            let text = match slot {
                Slot::Bad(message) => {
                    tally.bad_records += 1;
                    bar.suspend(|| eprintln!("error: {message}"));
                    continue;
                }
                Slot::Running { .. } => continue,
                Slot::Done {
                    file,
                    index,
                    name,
                    result,
                } => {
                    let report = match result {
                        Ok(run) => {
                            if let Some(kb) = output.kb {
                                kb.record(&name, &run)?;
                            }
                            run.report
                        }
                        Err(join_error) => failed_to_run(&join_error),
                    };
                    tally.add(&report);
                    if output.json {
                        let mut line = serde_json::to_string(&json_object(&file, index, &report))?;
                        line.push('\n');
                        line
                    } else {
                        text_lines(&origin_text(&file, index), &report)
                    }
                }
            };
            bar.suspend(|| output.out.write_all(text.as_bytes()))
                .context("writing output")?;
            bar.set_position(tally.events);
            if bar_visible {
                let seconds = started.elapsed().as_secs_f64().max(0.001);
                bar.set_message(format!("{:.0}/s", tally.events as f64 / seconds));
            }
        }
        if inputs_done && queue.is_empty() {
            break;
        }
        tokio::select! {
            item = input_rx.recv(), if !inputs_done && in_flight < concurrency => {
                let seq = next_seq;
                next_seq += 1;
                let slot = match item {
                    None => {
                        inputs_done = true;
                        next_seq -= 1;
                        continue;
                    }
                    Some(Err(error)) => Slot::Bad(error.to_string()),
                    Some(Ok(raw)) => match serde_json::from_str::<Value>(&raw.json) {
                        Err(error) => Slot::Bad(format!(
                            "{}: record {}: invalid JSON: {error}",
                            raw.origin.file, raw.origin.index
                        )),
                        Ok(input) => {
                            // Correlation sees the events in input order, whatever the
                            // concurrency of the executions that follow.
                            job.workflow.correlate_in_order(&raw.json);
                            let name = format!("event-{seq}");
                            if let Some(kb) = output.kb {
                                kb.remember(&name, &raw.origin.file, raw.origin.index, &input);
                            }
                            let workflow = job.workflow.clone();
                            let done = done_tx.clone();
                            let slot_name = name.clone();
                            // The inner task's JoinError (a panic) is reported, never lost.
                            tokio::spawn(async move {
                                let result = tokio::spawn(async move {
                                    Box::new(workflow.run(&name, input).await)
                                })
                                .await;
                                let _ = done.send((seq, result));
                            });
                            in_flight += 1;
                            Slot::Running {
                                file: raw.origin.file.clone(),
                                index: raw.origin.index,
                                name: slot_name,
                            }
                        }
                    },
                };
                queue.push_back(slot);
            }
            Some((seq, result)) = done_rx.recv(), if in_flight > 0 => {
                in_flight -= 1;
                let position = usize::try_from(seq.saturating_sub(first_seq)).unwrap_or(usize::MAX);
                if let Some(slot) = queue.get_mut(position) {
                    if let Slot::Running { file, index, name } = slot {
                        *slot = Slot::Done {
                            file: file.clone(),
                            index: *index,
                            name: std::mem::take(name),
                            result,
                        };
                    }
                }
            }
            _ = ticker.tick(), if show_bar && !bar_visible => {
                if started.elapsed() > Duration::from_secs(1) {
                    bar.set_style(
                        indicatif::ProgressStyle::with_template("{spinner} {pos} events, {msg}, {elapsed}")
                            .unwrap_or_else(|_| indicatif::ProgressStyle::default_spinner()),
                    );
                    let seconds = started.elapsed().as_secs_f64().max(0.001);
                    bar.set_message(format!("{:.0}/s", tally.events as f64 / seconds));
                    bar.set_draw_target(indicatif::ProgressDrawTarget::stderr());
                    bar.enable_steady_tick(Duration::from_millis(200));
                    bar_visible = true;
                }
            }
            else => bail!("internal error: the run loop had nothing left to wait for"),
        }
    }
    bar.finish_and_clear();
    reader.await.context("the event reader stopped")?;
    output.out.flush().context("writing output")?;
    Ok(tally)
}

fn describe_destinations(job: &Job) -> Vec<String> {
    let mut lines = Vec::new();
    let info = job.workflow.info();
    if let Some(path) = &info.alerts_file {
        lines.push(format!("alerts: {}", path.display()));
    }
    if let Some(root) = &info.bucket_root {
        lines.push(format!("bucket root: {}", root.display()));
    }
    for place in &info.knowledge {
        lines.push(format!(
            "knowledge-base documents: {}",
            local_place(place, job)
        ));
    }
    lines
}

/// `s3://bucket/prefix` as the directory it is under a directory bucket root.
fn local_place(place: &str, job: &Job) -> String {
    match (
        place.strip_prefix("s3://"),
        &job.workflow.info().bucket_root,
    ) {
        (Some(rest), Some(root)) => root.join(rest).display().to_string(),
        _ => place.to_string(),
    }
}

/// Exit codes: 0 every event ran to success, 2 some record was bad or some execution failed.
pub fn run(args: RunArgs) -> anyhow::Result<i32> {
    if args.events.iter().any(|p| p.as_os_str() == "-") && std::io::stdin().is_terminal() {
        eprintln!("note: reading events from the terminal; end with Ctrl-D");
    }
    let recorder = match &args.kb {
        Some(dir) => Some(crate::kb::RunRecorder::open(dir)?),
        None => None,
    };
    let job = Job::load(&args, recorder.as_ref().map(crate::kb::RunRecorder::sink))?;
    if let Some(root) = job
        .workflow
        .info()
        .bucket_root
        .as_ref()
        .filter(|root| !root.is_dir())
    {
        eprintln!(
            "warning: bucket root {} does not exist: every object the workflow reads will be missing",
            root.display()
        );
    }
    let options = ReadOptions {
        max_record_bytes: args.max_record_bytes,
        ..ReadOptions::default()
    };
    let inputs = trailguard_events::read_inputs(&args.events, &options);
    let runtime = crate::rt::runtime()?;
    let started = Instant::now();
    let mut stdout = std::io::stdout();
    let mut output = Output {
        out: &mut stdout,
        json: args.json,
        progress: true,
        kb: recorder.as_ref(),
    };
    let tally = runtime.block_on(run_inputs(&job, inputs, args.concurrency, &mut output))?;
    if let Some(recorder) = recorder {
        recorder.finish()?;
    }
    eprintln!("{}", tally.summary(started.elapsed()));
    for line in describe_destinations(&job) {
        eprintln!("{line}");
    }
    Ok(tally.exit_code())
}

/// The `.md` documents under `dir`, at any depth.
fn count_documents(dir: &Path) -> usize {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    entries
        .flatten()
        .map(|entry| {
            let path = entry.path();
            if path.is_dir() {
                count_documents(&path)
            } else {
                usize::from(path.extension().is_some_and(|e| e == "md"))
            }
        })
        .sum()
}

/// The embedded demo: images the demo events upload, copied into a fresh bucket.
const DEMO_UPLOADS: &str = include_str!("../../../tests/fixtures/demo/image-uploads.jsonl");
const DEMO_IMAGES: &[(&str, &str, &[u8])] = &[
    (
        "trailguard-uploads",
        "uploads/passport-scan.png",
        include_bytes!("../../../tests/fixtures/demo/images/passport-scan.png"),
    ),
    (
        "trailguard-uploads",
        "uploads/receipt.png",
        include_bytes!("../../../tests/fixtures/demo/images/receipt.png"),
    ),
];

/// The demo's events: the analysis demo events, then the extra image upload.
pub fn demo_events(base: &str) -> String {
    let mut events = base.trim_end().to_string();
    events.push('\n');
    events.push_str(DEMO_UPLOADS);
    events
}

/// `trailguard demo`'s second half: the whole workflow over `events`, with the demo images in a
/// fresh bucket directory (`work_dir`, or a new directory under the system temp dir, kept so
/// the reader can look at it). Prints per-event lines, the bucket's contents and the alerts file.
pub fn demo_workflow(
    events: &str,
    work_dir: Option<&Path>,
    out: &mut dyn Write,
) -> anyhow::Result<i32> {
    let work_dir = match work_dir {
        Some(dir) => {
            std::fs::create_dir_all(dir)
                .with_context(|| format!("cannot create {}", dir.display()))?;
            dir.to_path_buf()
        }
        None => tempfile::Builder::new()
            .prefix("trailguard-demo-")
            .tempdir()
            .context("cannot create a temporary directory for the demo bucket")?
            .keep(),
    };
    let bucket_root = work_dir.join("buckets");
    let alerts = work_dir.join("alerts.jsonl");
    // A fresh run: earlier alerts would confuse the counts the reader sees.
    if alerts.exists() {
        std::fs::remove_file(&alerts)
            .with_context(|| format!("cannot remove the old {}", alerts.display()))?;
    }
    for (bucket, key, bytes) in DEMO_IMAGES {
        let path = bucket_root.join(bucket).join(key);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)
                .with_context(|| format!("cannot create {}", parent.display()))?;
        }
        std::fs::write(&path, bytes).with_context(|| format!("cannot write {}", path.display()))?;
    }
    let args = RunArgs {
        events: Vec::new(),
        bucket_root: Some(bucket_root.clone()),
        alerts: Some(alerts.clone()),
        concurrency: 4,
        max_record_bytes: ReadOptions::DEFAULT_MAX_RECORD_BYTES,
        // The demo is the rules' job (its header says so): a fetched model would make it minutes.
        model: Some(ModelKind::Deterministic),
        ..RunArgs::default()
    };
    let job = Job::load(&args, None)?;
    let inputs = trailguard_events::read_reader(
        "demo",
        std::io::Cursor::new(events.as_bytes().to_vec()),
        &ReadOptions::default(),
    );
    writeln!(
        out,
        "Workflow (statemachine/security-audit.asl.json, run locally): one line per event, then its alerts\n"
    )?;
    let started = Instant::now();
    let tally = {
        let mut output = Output {
            out: &mut *out,
            json: false,
            progress: false,
            kb: None,
        };
        crate::rt::runtime()?.block_on(run_inputs(&job, inputs, 4, &mut output))?
    };
    writeln!(out, "\n{}", tally.summary(started.elapsed()))?;
    writeln!(out, "\nBucket directory {}:", bucket_root.display())?;
    for (bucket, key, _) in DEMO_IMAGES {
        let state = if bucket_root.join(bucket).join(key).exists() {
            "kept"
        } else {
            "deleted (PII)"
        };
        writeln!(out, "  s3://{bucket}/{key}: {state}")?;
    }
    // What the workflow's last step wrote, as the deployed kb-sync writes the knowledge-base bucket.
    for place in &job.workflow.info().knowledge {
        let dir = PathBuf::from(local_place(place, &job));
        let documents = count_documents(&dir);
        writeln!(
            out,
            "\nKnowledge-base documents (Bedrock format, .md + .metadata.json): {documents} in {}",
            dir.display()
        )?;
    }
    writeln!(
        out,
        "\nAlerts (JSON Lines, one per SNS message): {}",
        alerts.display()
    )?;
    writeln!(
        out,
        "Next: `trailguard run --bucket-root DIR EVENTS...` on your own CloudTrail files; `trailguard analyze FILE` for the JSON records."
    )?;
    out.flush()?;
    Ok(tally.exit_code())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn smtp_urls_become_notifier_configs() {
        let config =
            smtp_config("smtp://ops%40x@mail.local:2525?from=tg%40x.org&to=a%40b.c&to=d%40e.f")
                .unwrap();
        assert_eq!(config.kind, "smtp");
        assert_eq!(config.option("host"), Some("mail.local"));
        assert_eq!(config.options["port"].as_integer(), Some(2525));
        assert_eq!(config.option("from"), Some("tg@x.org"));
        assert_eq!(config.option("username"), Some("ops@x"));
        assert_eq!(config.options["to"].as_array().map(Vec::len), Some(2));
        assert!(smtp_config("smtp://host").is_err());
        assert!(smtp_config("http://host?to=a@b").is_err());
    }
}
