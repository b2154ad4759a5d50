//! `trailguard analyze`: rate every event in the given files (or stdin) and print one JSON
//! object per event: the rules over the parallel pipeline, or, with `--model local|openai`,
//! each event through `Triage::analyze` (rules, correlation, then the model, which may only
//! raise the level) in input order.

use anyhow::{bail, Context, Result};
use clap::{Args, ValueEnum};
use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::sync::Arc;
use trailguard_core::ports::ChatModel;
use trailguard_core::{AnalysisRecord, ThreatLevel};
use trailguard_events::ReadOptions;
use trailguard_local_model::ModelChoice;
use trailguard_runner::AdapterConfig;
use trailguard_triage::pipeline::{
    self, Formatter, InputError, InputRecord, Outcome, PipelineOptions,
};
use trailguard_triage::{Detector, DetectorOptions, Triage, TriageConfig};

/// Who rates the events.
#[derive(Copy, Clone, Debug, PartialEq, Eq, ValueEnum)]
pub enum AnalyzeModel {
    /// The deterministic rules only (parallel, fast).
    Rules,
    /// The rules, then a GGUF model in this process (--model-id NAME|FILE.gguf, else the best
    /// fetched one; none fetched: the rules, with a note).
    Local,
    /// The rules, then an OpenAI-compatible server (--model-url, --model-id).
    Openai,
}

#[derive(Copy, Clone, Debug, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// One JSON object per event.
    Jsonl,
    /// An aligned table for people.
    Table,
}

#[derive(Args, Debug)]
pub struct AnalyzeArgs {
    /// Files or directories to read (`-` for stdin): CloudTrail log files (.json, .json.gz,
    /// AWSLogs trees), JSON arrays, JSON Lines, EventBridge events, S3 notifications, GuardDuty findings.
    #[arg(required = true)]
    pub paths: Vec<PathBuf>,
    /// Extra Sigma rule directories (for example SigmaHQ's cloudtrail rules), added to the embedded rules.
    #[arg(long = "rules", value_name = "DIR")]
    pub rules: Vec<PathBuf>,
    #[arg(long, value_enum, default_value_t = Format::Jsonl)]
    pub format: Format,
    /// Largest single record accepted, in bytes; larger ones are reported and skipped.
    #[arg(long, default_value_t = 8 * 1024 * 1024)]
    pub max_record_bytes: usize,
    /// Worker threads (default: all cores).
    #[arg(long)]
    pub threads: Option<usize>,
    /// Print machine-readable statistics (events, errors, peak RSS) on stderr.
    #[arg(long)]
    pub stats: bool,
    /// Who rates the events: the rules, or the rules then a model (which may only raise the
    /// level). With a model each output object also has `model` (status, calls, reason).
    #[arg(long, value_enum, default_value_t = AnalyzeModel::Rules)]
    pub model: AnalyzeModel,
    /// --model local: a fetched model's name (smollm2-135m, qwen2.5-1.5b, ...) or a .gguf file;
    /// --model openai: the model name on the server.
    #[arg(long, value_name = "ID")]
    pub model_id: Option<String>,
    /// --model openai: the server's base URL, up to /v1.
    #[arg(long, value_name = "URL")]
    pub model_url: Option<String>,
    /// --model openai: environment variable holding the server's API key.
    #[arg(long, value_name = "VAR")]
    pub model_api_key_env: Option<String>,
    /// --model local: CPU threads (default: all cores).
    #[arg(long, value_name = "N")]
    pub model_threads: Option<u32>,
    /// When the model is asked: never, always or when-not-benign (default).
    #[arg(long, value_name = "POLICY")]
    pub model_policy: Option<String>,
}

/// Counts shown in the summary.
#[derive(Debug, Default)]
pub struct Tally {
    pub events: u64,
    pub by_level: [u64; 3],
    pub errors: u64,
}

impl Tally {
    fn add(&mut self, level: ThreatLevel) {
        self.events += 1;
        self.by_level[level as usize] += 1;
    }
}

fn table_header() -> String {
    format!(
        "{:<6}  {:<24}  {:<60}  {:<40}  rules",
        "level", "time", "event", "object"
    )
}

fn table_row(record: &AnalysisRecord, out: &mut Vec<u8>) {
    let target = match (&record.s3_bucket, &record.s3_key) {
        (Some(b), Some(k)) => format!("s3://{b}/{k}"),
        (Some(b), None) => format!("s3://{b}"),
        _ => String::new(),
    };
    let rules: Vec<&str> = record
        .reasons
        .iter()
        .map(|hit| hit.title.as_str())
        .collect();
    out.extend_from_slice(
        format!(
            "{:<6}  {:<24}  {:<60}  {:<40}  {}",
            record.threat_level.as_str(),
            truncate(record.event_time.as_deref().unwrap_or("-"), 24),
            truncate(&record.event_title, 60),
            truncate(&target, 40),
            rules.join("; ")
        )
        .as_bytes(),
    );
}

fn truncate(text: &str, width: usize) -> String {
    if text.chars().count() <= width {
        text.to_string()
    } else {
        let cut: String = text.chars().take(width.saturating_sub(1)).collect();
        format!("{cut}…")
    }
}

fn json_line(record: &AnalysisRecord, out: &mut Vec<u8>) {
    trailguard_triage::write_json(record, out);
}

/// Peak resident set size of this process, from /proc (Linux).
pub fn peak_rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status.lines().find_map(|line| {
        line.strip_prefix("VmHWM:")
            .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
    })
}

pub fn load_detector(rule_dirs: &[PathBuf]) -> Result<Detector> {
    let (detector, report) =
        Detector::load(rule_dirs, DetectorOptions::default()).context("loading detection rules")?;
    for unsupported in &report.sigma.unsupported {
        tracing::warn!("rule not loaded: {unsupported}");
    }
    Ok(detector)
}

/// The model `args` ask for, with the name analyses report; `None`: the rules only (asked for,
/// or no local model fetched, said once).
fn chosen_model(args: &AnalyzeArgs) -> Result<Option<(Arc<dyn ChatModel>, String)>> {
    let uses_model = args.model != AnalyzeModel::Rules;
    let local = args.model == AnalyzeModel::Local;
    let openai = args.model == AnalyzeModel::Openai;
    if !uses_model && (args.model_id.is_some() || args.model_policy.is_some()) {
        bail!("--model-id and --model-policy need --model local or --model openai");
    }
    if !openai && (args.model_url.is_some() || args.model_api_key_env.is_some()) {
        bail!("--model-url and --model-api-key-env are for --model openai");
    }
    if !local && args.model_threads.is_some() {
        bail!("--model-threads is for --model local");
    }
    match args.model {
        AnalyzeModel::Rules => Ok(None),
        AnalyzeModel::Local => {
            let choice = ModelChoice::from_setting(args.model_id.as_deref().unwrap_or(""));
            let Some(chosen) = crate::local::choose(&choice)? else {
                return Ok(None);
            };
            let mut config =
                AdapterConfig::new("local").with("path", &chosen.path.to_string_lossy());
            if let Some(threads) = args.model_threads {
                config
                    .options
                    .insert("threads".into(), toml::Value::Integer(i64::from(threads)));
            }
            let chat = trailguard_runner::adapters::local_model(&config)?;
            eprintln!(
                "analysing with the local model {} ({}, {} threads): seconds per event",
                chosen.name,
                chosen.path.display(),
                chat.info().threads
            );
            Ok(Some((Arc::new(chat), format!("local:{}", chosen.name))))
        }
        AnalyzeModel::Openai => {
            let Some(url) = &args.model_url else {
                bail!("--model openai needs --model-url (e.g. http://127.0.0.1:11434/v1)");
            };
            let name = args.model_id.clone().unwrap_or_default();
            let mut config = AdapterConfig::new("openai")
                .with("base_url", url)
                .with("model", &name);
            if let Some(var) = &args.model_api_key_env {
                config = config.with("api_key_env", var);
            }
            let chat: Arc<dyn ChatModel> = trailguard_runner::adapters::model(&config, || {
                Err(trailguard_runner::RunnerError::Bindings(
                    "the rules are not a model here".into(),
                ))
            })?;
            Ok(Some((chat, name)))
        }
    }
}

/// Analyses `paths`, writing formatted records to `out`. Returns the tally.
pub fn analyze_to(args: &AnalyzeArgs, out: &mut dyn Write) -> Result<Tally> {
    let model = chosen_model(args)?;
    let options = ReadOptions {
        max_record_bytes: args.max_record_bytes,
        ..ReadOptions::default()
    };
    let inputs = trailguard_events::read_inputs(&args.paths, &options).map(|item| {
        item.map(|raw| InputRecord {
            file: raw.origin.file.clone(),
            index: raw.origin.index,
            json: raw.json,
        })
        .map_err(|error| InputError {
            message: match error.offset {
                Some(offset) => format!("{} (byte {offset})", error.kind),
                None => error.kind.to_string(),
            },
            file: error.file,
            index: error.index,
        })
    });
    if let Some((model, model_id)) = model {
        return analyze_with_model(args, model, model_id, inputs, out);
    }
    let detector = load_detector(&args.rules)?;
    let format: &Formatter = match args.format {
        Format::Jsonl => &json_line,
        Format::Table => &table_row,
    };
    let mut pipeline_options = PipelineOptions::default();
    if let Some(threads) = args.threads {
        pipeline_options.threads = threads;
    }
    let mut tally = Tally::default();
    let mut write_error = None;
    if args.format == Format::Table {
        writeln!(out, "{}", table_header())?;
    }
    pipeline::run_rules(
        inputs,
        &detector,
        format,
        pipeline_options,
        |outcome| match outcome {
            Outcome::Analysed {
                record, formatted, ..
            } => {
                tally.add(record.threat_level);
                if write_error.is_none() {
                    if let Err(error) = out
                        .write_all(&formatted)
                        .and_then(|()| out.write_all(b"\n"))
                    {
                        write_error = Some(error);
                    }
                }
            }
            Outcome::Failed(error) => {
                tally.errors += 1;
                eprintln!("error: {error}");
            }
        },
    );
    if let Some(error) = write_error {
        return Err(error).context("writing output");
    }
    out.flush()?;
    Ok(tally)
}

/// One event at a time through [`Triage::analyze`], in input order (correlation sees that
/// order; model calls run one at a time anyway).
fn analyze_with_model(
    args: &AnalyzeArgs,
    model: Arc<dyn ChatModel>,
    model_id: String,
    inputs: impl Iterator<Item = Result<InputRecord, InputError>>,
    out: &mut dyn Write,
) -> Result<Tally> {
    let mut config = TriageConfig {
        model_id,
        ..TriageConfig::default()
    };
    if let Some(policy) = &args.model_policy {
        config.ask.policy = policy
            .parse()
            .with_context(|| format!("--model-policy {policy}"))?;
    }
    let (triage, report) =
        Triage::load(&args.rules, Some(model), config).context("loading detection rules")?;
    for unsupported in &report.sigma.unsupported {
        tracing::warn!("rule not loaded: {unsupported}");
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let mut tally = Tally::default();
    if args.format == Format::Table {
        writeln!(out, "{}", table_header())?;
    }
    for input in inputs {
        let input = match input {
            Ok(input) => input,
            Err(error) => {
                tally.errors += 1;
                eprintln!("error: {error}");
                continue;
            }
        };
        match runtime.block_on(triage.analyze(&input.json)) {
            Ok(analysis) => {
                tally.add(analysis.record.threat_level);
                let mut line = Vec::new();
                match args.format {
                    Format::Jsonl => serde_json::to_writer(&mut line, &analysis)?,
                    Format::Table => table_row(&analysis.record, &mut line),
                }
                line.push(b'\n');
                out.write_all(&line).context("writing output")?;
            }
            Err(error) => {
                tally.errors += 1;
                eprintln!("error: {} record {}: {error}", input.file, input.index);
            }
        }
    }
    out.flush()?;
    Ok(tally)
}

pub fn run(args: AnalyzeArgs) -> Result<i32> {
    if args.paths.iter().any(|p| p.as_os_str() == "-") && std::io::stdin().is_terminal() {
        eprintln!("note: reading events from the terminal; end with Ctrl-D");
    }
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::with_capacity(1 << 16, stdout.lock());
    let tally = analyze_to(&args, &mut out)?;
    drop(out);
    eprintln!(
        "analysed {} events: {} high, {} medium, {} low; {} bad records",
        tally.events, tally.by_level[2], tally.by_level[1], tally.by_level[0], tally.errors
    );
    if args.stats {
        eprintln!("stats: events={}", tally.events);
        eprintln!("stats: errors={}", tally.errors);
        if let Some(kib) = peak_rss_kib() {
            eprintln!("stats: peak_rss_kib={kib}");
        }
    }
    Ok(if tally.errors > 0 { 2 } else { 0 })
}

/// The embedded demo events: one of each shape TrailGuard reads, benign and hostile.
pub const DEMO_EVENTS: &str = include_str!("../../../tests/fixtures/demo/events.jsonl");

/// `trailguard demo`: rates the embedded events (a table), then runs the whole job on them
/// through the security-audit workflow, with the demo images in a fresh bucket directory.
#[derive(clap::Args, Debug)]
pub struct DemoArgs {
    /// Where to lay out the demo's bucket directory and alerts file (default: a fresh temp dir).
    #[arg(long)]
    pub dir: Option<std::path::PathBuf>,
}

pub fn demo(args: DemoArgs) -> Result<i32> {
    let events = crate::run::demo_events(DEMO_EVENTS);
    let detector = load_detector(&[])?;
    let file: std::sync::Arc<str> = std::sync::Arc::from("<embedded demo events>");
    let inputs = events
        .lines()
        .enumerate()
        .filter(|(_, line)| !line.trim().is_empty())
        .map(|(index, line)| {
            Ok(InputRecord {
                file: file.clone(),
                index: index as u64,
                json: line.into(),
            })
        });
    let mut records = Vec::new();
    let mut errors = 0u64;
    pipeline::run_rules(
        inputs,
        &detector,
        &json_line,
        PipelineOptions::default(),
        |outcome| match outcome {
            Outcome::Analysed { record, .. } => records.push(record),
            Outcome::Failed(error) => {
                errors += 1;
                eprintln!("error: {error}");
            }
        },
    );
    // Not locked: the workflow's tasks run on other threads while this writes.
    let mut out = std::io::stdout();
    writeln!(
        out,
        "TrailGuard demo: {} embedded events, deterministic rules, no network\n",
        records.len()
    )?;
    writeln!(out, "{}", table_header())?;
    for record in &records {
        let mut row = Vec::new();
        table_row(record, &mut row);
        out.write_all(&row)?;
        out.write_all(b"\n")?;
    }
    writeln!(out)?;
    let workflow = crate::run::demo_workflow(&events, args.dir.as_deref(), &mut out)?;
    Ok(if errors > 0 { 2 } else { workflow })
}
