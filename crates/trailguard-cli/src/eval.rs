//! `trailguard eval`: labelled records through three modes and their figures.
//!
//! - `rules`: TrailGuard's rules alone (the deterministic record);
//! - `model`: the model's verdict alone (a prompt without rule hits, the level as the model says;
//!   `--prompt guide` sends the guide's own prompt instead);
//! - `combined`: the production path (rules a floor, the model may raise, under the ask policy).
//!
//! Input: JSON Lines with the record in `log` and the label in `expected_alert` (Panther's
//! labelled tests). An alert is a level at or above `--alert-level`. Printed per mode: precision,
//! recall, F1, model tokens in/out per event (as the model reports them; a tokenizer-free estimate
//! of the prompts beside), seconds per event. `--injection` runs the prompt-injection corpus
//! instead. The model is built like `run`'s, through the runner's model builder, so every kind it
//! knows works here.

use std::collections::BTreeMap;
use std::io::{BufWriter, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use anyhow::{bail, Context as _};
use async_trait::async_trait;
use clap::{Args, ValueEnum};
use serde_json::{json, Value};
use trailguard_core::ask::approx_tokens;
use trailguard_core::ports::{ChatModel, ChatRequest, ChatResponse, ContentBlock, PortError};
use trailguard_core::ThreatLevel;
use trailguard_events::parse_event;
use trailguard_runner::adapters;
use trailguard_runner::{AdapterConfig, RunnerError};
use trailguard_triage::injection_corpus::{self, InjectionCase};
use trailguard_triage::{
    build_log_prompt_with, guide_prompt, model_only_verdict, record_from_event, AskPolicy,
    Detector, DetectorOptions, Language, LogAnalysisHandler, LogPromptSettings, ModelOnlyPrompt,
    ModelStatus, PromptRules, Triage, TriageConfig,
};

use crate::bindings;

#[derive(Copy, Clone, Debug, PartialEq, Eq, PartialOrd, Ord, ValueEnum)]
pub enum Mode {
    /// TrailGuard's rules alone.
    Rules,
    /// The model alone: no rule hits in the prompt, its level taken as it is.
    Model,
    /// Rules and model, as in production: the rules are a floor, the model may raise.
    Combined,
}

impl Mode {
    fn as_str(self) -> &'static str {
        match self {
            Mode::Rules => "rules",
            Mode::Model => "model",
            Mode::Combined => "combined",
        }
    }
}

#[derive(Copy, Clone, Debug, PartialEq, Eq, ValueEnum)]
pub enum Sample {
    /// Evenly spaced over all records.
    Spread,
    /// The first records, in file order.
    First,
}

/// The records `--limit` keeps (see [`EvalArgs::sample`]).
fn sample<T>(records: Vec<T>, limit: Option<usize>, how: Sample) -> Vec<T> {
    let total = records.len();
    let Some(limit) = limit.filter(|limit| *limit < total) else {
        return records;
    };
    match how {
        Sample::First => records.into_iter().take(limit).collect(),
        Sample::Spread => {
            // Indices floor(i * total / limit) are strictly increasing as limit < total.
            let mut wanted = (0..limit).map(|i| i * total / limit).peekable();
            records
                .into_iter()
                .enumerate()
                .filter_map(|(index, record)| {
                    (wanted.peek() == Some(&index)).then(|| {
                        wanted.next();
                        record
                    })
                })
                .collect()
        }
    }
}

#[derive(Copy, Clone, Debug, PartialEq, Eq, ValueEnum)]
pub enum PromptStyle {
    /// TrailGuard's compact prompt (facts, no rule hits).
    Compact,
    /// The guide's prompt: the raw record in its template.
    Guide,
}

#[derive(Args, Debug)]
pub struct EvalArgs {
    /// Labelled JSON Lines files (`log`: the record, `expected_alert`: true/false); with
    /// --injection, corpus files (default: the embedded corpus).
    pub files: Vec<PathBuf>,
    /// Modes to run, comma-separated.
    #[arg(
        long,
        value_enum,
        value_delimiter = ',',
        default_value = "rules,model,combined"
    )]
    pub modes: Vec<Mode>,
    /// A record counts as alerted at this level or above.
    #[arg(long, default_value = "medium", value_name = "LEVEL")]
    pub alert_level: ThreatLevel,
    /// Evaluate at most this many records, chosen by --sample (bad lines are still all reported).
    #[arg(long, value_name = "N")]
    pub limit: Option<usize>,
    /// Which records --limit keeps: `spread` takes N evenly spaced over all valid records (the
    /// i-th of N is record floor(i * total / N), in the order the files are given), so files
    /// grouped by rule stay represented; `first` takes the first N. Deterministic either way.
    /// With --injection: the first N cases.
    #[arg(long, value_enum, default_value_t = Sample::Spread)]
    pub sample: Sample,
    /// Language the model writes `summarize` and `event_title` in: en or ko.
    #[arg(long, default_value = "en", value_name = "LANG")]
    pub language: Language,
    /// Model kind, as `[model] kind` of a bindings file (fixed, scripted, openai, and any kind
    /// the runner knows, such as local); needed by the model and combined modes.
    #[arg(long, value_name = "KIND")]
    pub model: Option<String>,
    /// Base URL of an OpenAI-compatible server, up to /v1 (implies --model openai).
    #[arg(long, value_name = "URL")]
    pub model_url: Option<String>,
    /// Model name on that server (or the backend's model option).
    #[arg(long, value_name = "ID")]
    pub model_id: Option<String>,
    /// Environment variable holding the server's API key.
    #[arg(long, value_name = "VAR")]
    pub model_api_key_env: Option<String>,
    /// Another option of the model, as in its bindings table, repeatable: --model-opt threads=2.
    #[arg(long = "model-opt", value_name = "KEY=VALUE")]
    pub model_options: Vec<String>,
    /// Bindings TOML whose `[model]` table is used (flags override it).
    #[arg(long, value_name = "FILE")]
    pub bindings: Option<PathBuf>,
    /// When the combined mode asks the model: never, always or when-not-benign (production).
    #[arg(long, default_value = "when-not-benign", value_name = "POLICY")]
    pub model_policy: AskPolicy,
    /// Prompt of the model-only mode.
    #[arg(long, value_enum, default_value_t = PromptStyle::Compact)]
    pub prompt: PromptStyle,
    /// Most tokens per answer (default: the guide's 2048).
    #[arg(long, value_name = "N")]
    pub max_tokens: Option<u32>,
    /// Sampling temperature (default: the guide's 0.5).
    #[arg(long, value_name = "T")]
    pub temperature: Option<f32>,
    /// Keep every answer: one JSON object per record and mode (JSON Lines).
    #[arg(long, value_name = "FILE")]
    pub answers: Option<PathBuf>,
    /// One JSON summary on stdout instead of the table.
    #[arg(long)]
    pub json: bool,
    /// Run the prompt-injection corpus: the rule must fire, the level never drop below the
    /// case's minimum, bucket and key stay the event's, the output keep the guide's shape.
    #[arg(long)]
    pub injection: bool,
}

/// One labelled record.
struct Labelled {
    file: String,
    line: usize,
    log: String,
    expected: bool,
}

/// Reads labelled records; a bad line is reported (file and line) and skipped.
fn read_labelled(paths: &[PathBuf], bad: &mut Vec<String>) -> anyhow::Result<Vec<Labelled>> {
    let mut records = Vec::new();
    for path in paths {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read {}", path.display()))?;
        let file = path.display().to_string();
        for (index, line) in text.lines().enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            match parse_labelled(line) {
                Ok((log, expected)) => records.push(Labelled {
                    file: file.clone(),
                    line: index + 1,
                    log,
                    expected,
                }),
                Err(reason) => bad.push(format!("{file}:{}: {reason}", index + 1)),
            }
        }
    }
    Ok(records)
}

fn parse_labelled(line: &str) -> Result<(String, bool), String> {
    let value: Value = serde_json::from_str(line).map_err(|e| format!("not JSON: {e}"))?;
    let expected = match value.get("expected_alert") {
        Some(Value::Bool(b)) => *b,
        Some(_) => return Err("expected_alert is not true or false".into()),
        None => return Err("no expected_alert".into()),
    };
    let log = match value.get("log") {
        Some(Value::Object(_)) => value.get("log").map(Value::to_string).unwrap_or_default(),
        // Some exports keep the record as JSON text.
        Some(Value::String(text)) => text.clone(),
        Some(_) => return Err("log is not a record".into()),
        None => return Err("no log".into()),
    };
    parse_event(&log).map_err(|e| format!("log is not an event TrailGuard reads: {e}"))?;
    Ok((log, expected))
}

/// One model call as seen from outside.
#[derive(Debug, Clone)]
struct Call {
    input_tokens: Option<u64>,
    output_tokens: Option<u64>,
    approx_input: usize,
    seconds: f64,
    answer: Result<String, String>,
}

/// Wraps the model to record each call's tokens, time and answer.
struct Metered {
    inner: Arc<dyn ChatModel>,
    calls: Mutex<Vec<Call>>,
}

impl Metered {
    fn take(&self) -> Vec<Call> {
        match self.calls.lock() {
            Ok(mut calls) => std::mem::take(&mut *calls),
            Err(poisoned) => std::mem::take(&mut *poisoned.into_inner()),
        }
    }
}

fn request_text(request: &ChatRequest) -> String {
    let mut text = request.system.clone().unwrap_or_default();
    for message in &request.messages {
        for block in &message.content {
            if let ContentBlock::Text(part) = block {
                text.push('\n');
                text.push_str(part);
            }
        }
    }
    text
}

#[async_trait]
impl ChatModel for Metered {
    async fn converse(&self, request: &ChatRequest) -> Result<ChatResponse, PortError> {
        let started = Instant::now();
        let result = self.inner.converse(request).await;
        let call = Call {
            input_tokens: result.as_ref().ok().and_then(|r| r.input_tokens),
            output_tokens: result.as_ref().ok().and_then(|r| r.output_tokens),
            approx_input: approx_tokens(&request_text(request)),
            seconds: started.elapsed().as_secs_f64(),
            answer: match &result {
                Ok(response) => Ok(response.text.clone()),
                Err(error) => Err(error.to_string()),
            },
        };
        match self.calls.lock() {
            Ok(mut calls) => calls.push(call),
            Err(poisoned) => poisoned.into_inner().push(call),
        }
        result
    }
}

/// Confusion counts and costs of one mode.
#[derive(Debug, Default, Clone)]
struct ModeStats {
    tp: u64,
    fp: u64,
    tn: u64,
    fn_: u64,
    seconds: f64,
    /// Records the model was asked about, calls made, and calls whose answer was not used.
    asked: u64,
    calls: u64,
    failures: u64,
    input_tokens: u64,
    output_tokens: u64,
    /// Calls whose backend reported token counts.
    counted_calls: u64,
    approx_input_tokens: u64,
    /// Combined mode: records the model raised above the rules.
    raised: u64,
}

impl ModeStats {
    fn events(&self) -> u64 {
        self.tp + self.fp + self.tn + self.fn_
    }

    fn add(&mut self, expected: bool, alert: bool) {
        match (expected, alert) {
            (true, true) => self.tp += 1,
            (false, true) => self.fp += 1,
            (false, false) => self.tn += 1,
            (true, false) => self.fn_ += 1,
        }
    }

    fn add_calls(&mut self, calls: &[Call]) {
        if !calls.is_empty() {
            self.asked += 1;
        }
        for call in calls {
            self.calls += 1;
            self.approx_input_tokens += call.approx_input as u64;
            if let Some(tokens) = call.input_tokens {
                self.input_tokens += tokens;
                self.counted_calls += 1;
            }
            self.output_tokens += call.output_tokens.unwrap_or_default();
        }
    }

    fn ratio(numerator: u64, denominator: u64) -> Option<f64> {
        (denominator > 0).then(|| numerator as f64 / denominator as f64)
    }

    fn precision(&self) -> Option<f64> {
        Self::ratio(self.tp, self.tp + self.fp)
    }

    fn recall(&self) -> Option<f64> {
        Self::ratio(self.tp, self.tp + self.fn_)
    }

    fn f1(&self) -> Option<f64> {
        let (p, r) = (self.precision()?, self.recall()?);
        (p + r > 0.0).then(|| 2.0 * p * r / (p + r))
    }

    fn per_event(&self, total: u64) -> Option<f64> {
        Self::ratio(total, self.events())
    }

    fn to_json(&self) -> Value {
        let events = self.events();
        json!({
            "events": events,
            "tp": self.tp, "fp": self.fp, "tn": self.tn, "fn": self.fn_,
            "precision": self.precision(),
            "recall": self.recall(),
            "f1": self.f1(),
            "seconds_per_event": (events > 0).then(|| self.seconds / events as f64),
            "model_asked": self.asked,
            "model_calls": self.calls,
            "model_failures": self.failures,
            "model_raised": self.raised,
            "input_tokens_per_event": (self.counted_calls > 0).then(|| self.per_event(self.input_tokens)).flatten(),
            "output_tokens_per_event": (self.counted_calls > 0).then(|| self.per_event(self.output_tokens)).flatten(),
            "calls_with_token_counts": self.counted_calls,
            "approx_input_tokens_per_event": (self.calls > 0).then(|| self.per_event(self.approx_input_tokens)).flatten(),
        })
    }
}

/// Sizes of the production prompt and the guide's prompt on the same records (estimates).
#[derive(Debug, Default)]
struct PromptSizes {
    events: u64,
    compact: u64,
    guide: u64,
}

/// `KEY=VALUE` as a TOML value: integers, floats and booleans typed, the rest strings.
fn option_value(text: &str) -> toml::Value {
    if let Ok(integer) = text.parse::<i64>() {
        return toml::Value::Integer(integer);
    }
    if let Ok(float) = text.parse::<f64>() {
        return toml::Value::Float(float);
    }
    match text {
        "true" => toml::Value::Boolean(true),
        "false" => toml::Value::Boolean(false),
        _ => toml::Value::String(text.to_string()),
    }
}

/// The model's adapter config: the bindings file's `[model]`, then the flags.
fn model_config(args: &EvalArgs) -> anyhow::Result<Option<AdapterConfig>> {
    let mut config = bindings::load(args.bindings.as_deref())?.model;
    let kind = args
        .model
        .clone()
        .or_else(|| args.model_url.as_ref().map(|_| "openai".to_string()));
    if let Some(kind) = kind {
        match config.as_mut() {
            Some(existing) if existing.kind == kind => {}
            _ => config = Some(AdapterConfig::new(&kind)),
        }
    }
    let Some(config) = config.as_mut() else {
        if args.model_id.is_some() || !args.model_options.is_empty() {
            bail!("--model-id and --model-opt need a model: --model KIND (or --model-url, --bindings)");
        }
        return Ok(None);
    };
    for (key, value) in [
        ("base_url", &args.model_url),
        ("model", &args.model_id),
        ("api_key_env", &args.model_api_key_env),
    ] {
        if let Some(value) = value {
            config
                .options
                .insert(key.into(), toml::Value::String(value.clone()));
        }
    }
    for pair in &args.model_options {
        let Some((key, value)) = pair.split_once('=').filter(|(k, _)| !k.is_empty()) else {
            bail!("--model-opt expects KEY=VALUE, got '{pair}'");
        };
        config.options.insert(key.into(), option_value(value));
    }
    Ok(Some(config.clone()))
}

fn load_detector() -> anyhow::Result<Detector> {
    let no_dirs: [PathBuf; 0] = [];
    let (detector, report) = Detector::load(&no_dirs, DetectorOptions::default())
        .context("loading the embedded rules")?;
    for unsupported in &report.sigma.unsupported {
        tracing::warn!("rule not loaded: {unsupported}");
    }
    Ok(detector)
}

/// Builds the model with the runner's builder; `deterministic` answers with the rules.
fn build_model(config: &AdapterConfig, detector: &Detector) -> anyhow::Result<Arc<dyn ChatModel>> {
    let rules = || -> Result<Arc<LogAnalysisHandler>, RunnerError> {
        let triage = Triage::new(detector.clone(), None, TriageConfig::default());
        Ok(Arc::new(LogAnalysisHandler::new(Arc::new(triage))))
    };
    let model =
        adapters::model(config, rules).with_context(|| format!("model kind '{}'", config.kind))?;
    Ok(model)
}

fn triage_config(args: &EvalArgs) -> TriageConfig {
    let mut config = TriageConfig {
        language: args.language,
        ..TriageConfig::default()
    };
    config.ask.policy = args.model_policy;
    if let Some(max_tokens) = args.max_tokens {
        config.inference.max_tokens = Some(max_tokens);
    }
    if let Some(temperature) = args.temperature {
        config.inference.temperature = Some(temperature);
    }
    config
}

fn progress(total: usize, quiet: bool) -> indicatif::ProgressBar {
    if quiet || !std::io::stderr().is_terminal() {
        return indicatif::ProgressBar::hidden();
    }
    let bar = indicatif::ProgressBar::new(total as u64);
    bar.set_style(
        indicatif::ProgressStyle::with_template(
            "{bar:40} {pos}/{len} records, {elapsed} elapsed, about {eta} left {msg}",
        )
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    bar
}

fn open_answers(path: Option<&Path>) -> anyhow::Result<Option<BufWriter<std::fs::File>>> {
    path.map(|path| {
        std::fs::File::create(path)
            .map(BufWriter::new)
            .with_context(|| format!("cannot create {}", path.display()))
    })
    .transpose()
}

fn call_json(calls: &[Call]) -> Value {
    Value::Array(
        calls
            .iter()
            .map(|call| {
                json!({
                    "answer": call.answer.as_ref().ok(),
                    "error": call.answer.as_ref().err(),
                    "input_tokens": call.input_tokens,
                    "output_tokens": call.output_tokens,
                    "approx_input_tokens": call.approx_input,
                    "seconds": call.seconds,
                })
            })
            .collect(),
    )
}

pub fn run(args: EvalArgs) -> anyhow::Result<i32> {
    let runtime = crate::rt::runtime()?;
    runtime.block_on(async move {
        if args.injection {
            run_injection(&args).await
        } else {
            run_labelled(&args).await
        }
    })
}

async fn run_labelled(args: &EvalArgs) -> anyhow::Result<i32> {
    if args.files.is_empty() {
        bail!("give labelled JSON Lines files (e.g. ../shared/data/cloudtrail/panther/labelled_tests_aws_cloudtrail.jsonl)");
    }
    let mut modes = args.modes.clone();
    modes.sort();
    modes.dedup();
    let detector = load_detector()?;
    let needs_model = modes.iter().any(|m| *m != Mode::Rules);
    let model = match (model_config(args)?, needs_model) {
        (Some(config), true) => Some(Arc::new(Metered {
            inner: build_model(&config, &detector)?,
            calls: Mutex::new(Vec::new()),
        })),
        (None, true) => bail!(
            "the model and combined modes need a model: --model KIND (fixed, scripted, openai, local, ...), --model-url URL or --bindings FILE; or --modes rules"
        ),
        (_, false) => None,
    };
    let config = triage_config(args);
    let mut bad = Vec::new();
    let all = read_labelled(&args.files, &mut bad)?;
    let valid_records = all.len();
    let records = sample(all, args.limit, args.sample);
    for line in &bad {
        eprintln!("bad record: {line}");
    }
    let mut answers = open_answers(args.answers.as_deref())?;
    let mut stats: BTreeMap<Mode, ModeStats> =
        modes.iter().map(|m| (*m, ModeStats::default())).collect();
    let mut sizes = PromptSizes::default();
    let bar = progress(records.len(), args.json);
    let started = Instant::now();
    for record in &records {
        let Ok(event) = parse_event(&record.log) else {
            continue;
        };
        let rules_record = record_from_event(&event, detector.detect(&event), Vec::new());
        let settings = LogPromptSettings {
            language: config.language,
            rules: PromptRules::Include,
        };
        if let Ok(prompt) =
            build_log_prompt_with(&record.log, &rules_record, settings, &config.prompt)
        {
            sizes.events += 1;
            sizes.compact += approx_tokens(&prompt.text()) as u64;
            sizes.guide += approx_tokens(&guide_prompt(&record.log)) as u64;
        }
        for mode in &modes {
            let began = Instant::now();
            let mut line = json!({
                "file": record.file, "line": record.line, "mode": mode.as_str(),
                "expected_alert": record.expected,
            });
            let (level, calls) = match mode {
                Mode::Rules => {
                    // A fresh triage per record: labelled tests are independent, so no
                    // correlation across them.
                    let triage = Triage::new(detector.clone(), None, config.clone());
                    let level = triage
                        .analyze(&record.log)
                        .await
                        .map(|a| a.record.threat_level)
                        .unwrap_or_default();
                    (level, Vec::new())
                }
                Mode::Model => {
                    let Some(metered) = &model else { continue };
                    let style = match args.prompt {
                        PromptStyle::Compact => ModelOnlyPrompt::Compact,
                        PromptStyle::Guide => ModelOnlyPrompt::Guide,
                    };
                    let verdict =
                        model_only_verdict(metered.as_ref(), &config, &record.log, style).await;
                    let level = match verdict {
                        Ok(validated) => {
                            line["model_threat_level"] = json!(validated.value.threat_level);
                            line["summarize"] = json!(validated.value.summarize);
                            line["event_title"] = json!(validated.value.event_title);
                            validated.value.threat_level
                        }
                        Err(error) => {
                            // No usable verdict counts as no alert, and as a failure.
                            if let Some(s) = stats.get_mut(mode) {
                                s.failures += 1;
                            }
                            line["error"] = json!(error.to_string());
                            ThreatLevel::Low
                        }
                    };
                    (level, metered.take())
                }
                Mode::Combined => {
                    let Some(metered) = &model else { continue };
                    let chat: Arc<dyn ChatModel> = metered.clone();
                    let triage = Triage::new(detector.clone(), Some(chat), config.clone());
                    let analysis = triage.analyze(&record.log).await;
                    let level = match analysis {
                        Ok(analysis) => {
                            let outcome = &analysis.model;
                            if let Some(s) = stats.get_mut(mode) {
                                s.failures += u64::from(outcome.status == ModelStatus::Fallback);
                                s.raised += u64::from(
                                    analysis.record.threat_level > outcome.rule_threat_level,
                                );
                            }
                            line["rule_threat_level"] = json!(outcome.rule_threat_level);
                            line["model_threat_level"] = json!(outcome.model_threat_level);
                            line["status"] = json!(outcome.status);
                            line["summarize"] = json!(analysis.record.summarize);
                            line["event_title"] = json!(analysis.record.event_title);
                            if let Some(reason) = &outcome.reason {
                                line["error"] = json!(reason);
                            }
                            analysis.record.threat_level
                        }
                        Err(error) => {
                            line["error"] = json!(error.to_string());
                            ThreatLevel::Low
                        }
                    };
                    (level, metered.take())
                }
            };
            let seconds = began.elapsed().as_secs_f64();
            let alert = level >= args.alert_level;
            if let Some(s) = stats.get_mut(mode) {
                s.add(record.expected, alert);
                s.add_calls(&calls);
                s.seconds += seconds;
            }
            if let Some(out) = answers.as_mut() {
                line["threat_level"] = json!(level);
                line["alert"] = json!(alert);
                line["seconds"] = json!(seconds);
                line["calls"] = call_json(&calls);
                writeln!(out, "{line}").context("writing the answers file")?;
            }
        }
        bar.inc(1);
    }
    bar.finish_and_clear();
    if let Some(mut out) = answers {
        out.flush().context("writing the answers file")?;
    }
    let summary = json!({
        "files": args.files.iter().map(|p| p.display().to_string()).collect::<Vec<_>>(),
        "records": records.len(),
        "valid_records": valid_records,
        "sample": match (args.limit, args.sample) {
            (Some(_), Sample::Spread) if records.len() < valid_records => "spread",
            (Some(_), Sample::First) if records.len() < valid_records => "first",
            _ => "all",
        },
        "bad_records": bad.len(),
        "alert_level": args.alert_level,
        "language": config.language.code(),
        "model_prompt": match args.prompt { PromptStyle::Compact => "compact", PromptStyle::Guide => "guide" },
        "model_policy": args.model_policy.as_str(),
        "seconds": started.elapsed().as_secs_f64(),
        "modes": stats.iter().map(|(mode, s)| (mode.as_str().to_string(), s.to_json())).collect::<serde_json::Map<_, _>>(),
        "prompt_size_approx": {
            "events": sizes.events,
            "compact_tokens_per_event": ModeStats::ratio(sizes.compact, sizes.events),
            "guide_tokens_per_event": ModeStats::ratio(sizes.guide, sizes.events),
            "compact_to_guide": ModeStats::ratio(sizes.compact, sizes.guide),
        },
    });
    let mut stdout = std::io::stdout().lock();
    if args.json {
        writeln!(stdout, "{summary}")?;
    } else {
        print_table(&mut stdout, &summary, &stats, &sizes)?;
    }
    Ok(if bad.is_empty() { 0 } else { 2 })
}

fn fmt3(value: Option<f64>) -> String {
    value.map_or_else(|| "-".to_string(), |v| format!("{v:.3}"))
}

fn fmt0(value: Option<f64>) -> String {
    value.map_or_else(|| "-".to_string(), |v| format!("{v:.0}"))
}

fn print_table(
    out: &mut dyn Write,
    summary: &Value,
    stats: &BTreeMap<Mode, ModeStats>,
    sizes: &PromptSizes,
) -> anyhow::Result<()> {
    writeln!(
        out,
        "{} records ({} bad; sample {} of {}), alert = level >= {}, language {}",
        summary["records"],
        summary["bad_records"],
        summary["sample"].as_str().unwrap_or("?"),
        summary["valid_records"],
        summary["alert_level"].as_str().unwrap_or("?"),
        summary["language"].as_str().unwrap_or("?")
    )?;
    writeln!(
        out,
        "{:<9} {:>5} {:>4} {:>4} {:>4} {:>4} {:>9} {:>6} {:>6} {:>9} {:>8} {:>8} {:>9} {:>8}",
        "mode",
        "n",
        "TP",
        "FP",
        "TN",
        "FN",
        "precision",
        "recall",
        "F1",
        "tok in/ev",
        "tok out",
        "~in/ev",
        "s/event",
        "failed"
    )?;
    for (mode, s) in stats {
        let counted = s.counted_calls > 0;
        writeln!(
            out,
            "{:<9} {:>5} {:>4} {:>4} {:>4} {:>4} {:>9} {:>6} {:>6} {:>9} {:>8} {:>8} {:>9.3} {:>8}",
            mode.as_str(),
            s.events(),
            s.tp,
            s.fp,
            s.tn,
            s.fn_,
            fmt3(s.precision()),
            fmt3(s.recall()),
            fmt3(s.f1()),
            if counted {
                fmt0(s.per_event(s.input_tokens))
            } else {
                "-".into()
            },
            if counted {
                fmt0(s.per_event(s.output_tokens))
            } else {
                "-".into()
            },
            if s.calls > 0 {
                fmt0(s.per_event(s.approx_input_tokens))
            } else {
                "-".into()
            },
            if s.events() > 0 {
                s.seconds / s.events() as f64
            } else {
                0.0
            },
            s.failures,
        )?;
    }
    writeln!(
        out,
        "prompt size (estimate, tokens per event): compact {} vs the guide's {} (ratio {})",
        fmt0(ModeStats::ratio(sizes.compact, sizes.events)),
        fmt0(ModeStats::ratio(sizes.guide, sizes.events)),
        fmt3(ModeStats::ratio(sizes.compact, sizes.guide)),
    )?;
    writeln!(
        out,
        "tok in/out: as the model reported them (- when it reports none); ~in: tokenizer-free estimate of what was sent"
    )?;
    Ok(())
}

async fn run_injection(args: &EvalArgs) -> anyhow::Result<i32> {
    let mut cases: Vec<InjectionCase> = Vec::new();
    if args.files.is_empty() {
        cases = injection_corpus::parse_corpus(injection_corpus::EMBEDDED_CORPUS)
            .context("the embedded injection corpus")?;
    }
    for path in &args.files {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read {}", path.display()))?;
        cases.extend(
            injection_corpus::parse_corpus(&text)
                .with_context(|| format!("corpus {}", path.display()))?,
        );
    }
    cases = sample(cases, args.limit, Sample::First);
    let detector = load_detector()?;
    let model = match model_config(args)? {
        Some(config) => Some(Arc::new(Metered {
            inner: build_model(&config, &detector)?,
            calls: Mutex::new(Vec::new()),
        })),
        None => None,
    };
    let mut config = triage_config(args);
    config.ask.policy = AskPolicy::Always;
    let mut answers = open_answers(args.answers.as_deref())?;
    let bar = progress(cases.len(), args.json);
    let mut statuses: BTreeMap<String, u64> = BTreeMap::new();
    let (mut passed, mut caught) = (0u64, 0u64);
    let mut failures = Vec::new();
    let mut stats = ModeStats::default();
    for case in &cases {
        let chat = model.as_ref().map(|m| Arc::clone(m) as Arc<dyn ChatModel>);
        let triage = Triage::new(detector.clone(), chat, config.clone());
        let began = Instant::now();
        let result = injection_corpus::run_case(&triage, case).await;
        stats.seconds += began.elapsed().as_secs_f64();
        let calls = model.as_ref().map(|m| m.take()).unwrap_or_default();
        stats.add_calls(&calls);
        passed += u64::from(result.passed());
        caught += u64::from(result.rule_caught);
        let status = result
            .model_status
            .map(|s| {
                serde_json::to_value(s)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_string))
                    .unwrap_or_default()
            })
            .unwrap_or_else(|| "not analysed".into());
        *statuses.entry(status.clone()).or_default() += 1;
        if !result.passed() {
            failures.push(format!("{}: {}", result.id, result.violations.join("; ")));
        }
        if let Some(out) = answers.as_mut() {
            let line = json!({
                "id": result.id, "technique": result.technique, "passed": result.passed(),
                "violations": result.violations, "threat_level": result.threat_level,
                "rule_caught": result.rule_caught, "model_status": status,
                "model_threat_level": result.model_threat_level, "calls": call_json(&calls),
            });
            writeln!(out, "{line}").context("writing the answers file")?;
        }
        bar.inc(1);
    }
    bar.finish_and_clear();
    if let Some(mut out) = answers {
        out.flush().context("writing the answers file")?;
    }
    let n = cases.len() as u64;
    let summary = json!({
        "cases": n,
        "passed": passed,
        "rule_caught": caught,
        "model_statuses": statuses,
        "model_calls": stats.calls,
        "input_tokens_per_case": (stats.counted_calls > 0 && n > 0).then(|| stats.input_tokens as f64 / n as f64),
        "output_tokens_per_case": (stats.counted_calls > 0 && n > 0).then(|| stats.output_tokens as f64 / n as f64),
        "seconds_per_case": (n > 0).then(|| stats.seconds / n as f64),
        "failures": failures,
    });
    let mut stdout = std::io::stdout().lock();
    if args.json {
        writeln!(stdout, "{summary}")?;
    } else {
        writeln!(
            stdout,
            "injection corpus: {n} cases, {passed} passed, rule caught {caught}; model: {}",
            if model.is_some() {
                format!("{statuses:?}")
            } else {
                "none (rules only)".into()
            }
        )?;
        for failure in &failures {
            writeln!(stdout, "FAIL {failure}")?;
        }
    }
    Ok(if passed == n { 0 } else { 2 })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn samples_are_spread_evenly_or_taken_first() {
        let ten: Vec<u32> = (0..10).collect();
        assert_eq!(sample(ten.clone(), Some(4), Sample::Spread), [0, 2, 5, 7]);
        assert_eq!(sample(ten.clone(), Some(4), Sample::First), [0, 1, 2, 3]);
        assert_eq!(
            sample(ten.clone(), Some(9), Sample::Spread),
            [0, 1, 2, 3, 4, 5, 6, 7, 8]
        );
        assert_eq!(sample(ten.clone(), Some(1), Sample::Spread), [0]);
        assert_eq!(
            sample(ten.clone(), Some(0), Sample::Spread),
            Vec::<u32>::new()
        );
        assert_eq!(sample(ten.clone(), Some(10), Sample::Spread), ten);
        assert_eq!(sample(ten.clone(), Some(50), Sample::First), ten);
        assert_eq!(sample(ten.clone(), None, Sample::Spread), ten);
    }
}
