//! `trailguard sfn run` and `trailguard sfn conformance`: run any ASL definition locally,
//! and replay an ASL conformance corpus.

use std::path::PathBuf;

use anyhow::Context as _;
use clap::{Args, Subcommand};
use serde_json::Value;
use trailguard_asl::ExecutionStatus;
use trailguard_runner::{Defaults, DefinitionSource, Workflow};

use crate::bindings;

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
    /// Load definitions as Step Functions would (every `${Name}` filled with a placeholder) and
    /// check that each Retry/Catch error name is one its Task's integration can emit.
    Check(CheckArgs),
}

#[derive(Args, Debug)]
pub struct CheckArgs {
    /// ASL definitions (JSON).
    #[arg(required = true)]
    pub definitions: Vec<PathBuf>,
    /// Print one JSON object per definition: its tasks, their error names, the problems.
    #[arg(long)]
    pub json: bool,
}

#[derive(Args, Debug)]
pub struct RunArgs {
    /// The ASL definition (JSON).
    pub definition: PathBuf,
    /// Execution input: JSON text, or @FILE to read it from a file.
    #[arg(long, default_value = "{}")]
    pub input: String,
    /// Bindings TOML (lambda handlers/commands, model, notifier, storage, substitutions), as
    /// `trailguard run` reads it; in-process handlers: trailguard-analysis, trailguard-pii.
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
        SfnCommand::Check(c) => check(c),
    }
}

/// Exit code: 0 every definition loads and waits only for names that can occur, 2 otherwise.
fn check(args: CheckArgs) -> anyhow::Result<i32> {
    let mut failed = false;
    for path in &args.definitions {
        let label = path.display().to_string();
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read definition {label}"))?;
        // Placeholders stand for whatever the template substitutes.
        let substitutions = trailguard_asl::unresolved_substitutions(&text, &Default::default())
            .into_iter()
            .map(|name| (name.clone(), format!("placeholder-{name}")))
            .collect();
        let machine = match trailguard_runner::load_state_machine(&text, &label, &substitutions) {
            Ok(machine) => machine,
            Err(error) => {
                failed = true;
                if args.json {
                    println!(
                        "{}",
                        serde_json::json!({"definition": label, "error": error.to_string()})
                    );
                } else {
                    println!("FAIL {label}: {error}");
                }
                continue;
            }
        };
        let problems = trailguard_runner::errors::unknown_error_names(&machine);
        failed |= !problems.is_empty();
        if args.json {
            let tasks: Vec<Value> = machine
                .tasks
                .iter()
                .map(|t| serde_json::json!({"state": t.state, "resource": t.resource, "error_names": t.error_names}))
                .collect();
            println!(
                "{}",
                serde_json::json!({"definition": label, "tasks": tasks, "unknown_error_names": problems})
            );
        } else if problems.is_empty() {
            println!(
                "ok   {label}: {} Task states; every Retry/Catch name can be emitted by its integration",
                machine.tasks.len()
            );
        } else {
            for p in &problems {
                println!(
                    "FAIL {label}: state {:?} waits for {} which {} never emits",
                    p.state, p.error, p.resource
                );
            }
        }
    }
    Ok(if failed { 2 } else { 0 })
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
    let mut config = bindings::load(args.bindings.as_deref())?;
    crate::run::default_to_local(&mut config);
    crate::local::resolve_bindings(&mut config)?;
    let mut substitutions = config.substitutions.clone();
    bindings::apply_sub_args(&mut substitutions, &args.substitutions)?;
    let label = args.definition.display().to_string();
    let text = std::fs::read_to_string(&args.definition)
        .with_context(|| format!("cannot read definition {label}"))?;
    let name = args
        .definition
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "StateMachine".into());
    let workflow = Workflow::load(
        &DefinitionSource {
            text: &text,
            label: &label,
            name: &name,
        },
        &substitutions,
        &config,
        &Defaults::default(),
    )?;
    let input = read_input(&args.input)?;
    let execution = workflow.runner().execute(input).await;
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
