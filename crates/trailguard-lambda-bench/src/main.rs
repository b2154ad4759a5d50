//! `trailguard-lambda-bench --bootstrap PATH --events FILE [--runs N]`

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{bail, Context, Result};
use clap::Parser;
use trailguard_lambda_bench::{load_events, run_all, BenchConfig, Summary};

/// Cold start, per-invocation time and peak RSS of a Lambda bootstrap binary, against a local
/// Lambda Runtime API on 127.0.0.1. Configure the function with a local or deterministic model
/// (via --env) so model latency is not measured.
#[derive(Parser, Debug)]
#[command(version)]
struct Args {
    /// The bootstrap executable (e.g. target/lambda/<name>/bootstrap).
    #[arg(long)]
    bootstrap: PathBuf,
    /// Events: a JSON array, or one JSON event per line; all are fed on every run.
    #[arg(long)]
    events: PathBuf,
    /// Process starts (cold starts) to measure.
    #[arg(long, default_value_t = 5)]
    runs: usize,
    /// AWS_LAMBDA_FUNCTION_MEMORY_SIZE given to the function.
    #[arg(long, default_value_t = 128)]
    memory_mb: u32,
    /// Extra environment for the function, KEY=VALUE (repeatable).
    #[arg(long = "env", value_name = "KEY=VALUE")]
    env: Vec<String>,
    /// Seconds to wait for any one step before giving up.
    #[arg(long, default_value_t = 30)]
    timeout_secs: u64,
    /// Let the function's stdout/stderr through.
    #[arg(long)]
    show_output: bool,
    /// A baseline bootstrap (e.g. the `hello_lambda` example) measured in the same run with the
    /// same events; figures are then also given as ratios to it.
    #[arg(long)]
    baseline: Option<PathBuf>,
    /// Print the summary as JSON.
    #[arg(long)]
    json: bool,
}

fn main() -> Result<()> {
    let args = Args::parse();
    let events = load_events(&args.events)?;
    let mut env = Vec::new();
    for pair in &args.env {
        let Some((key, value)) = pair.split_once('=') else {
            bail!("--env {pair:?}: expected KEY=VALUE");
        };
        env.push((key.to_owned(), value.to_owned()));
    }
    let config = BenchConfig {
        bootstrap: args.bootstrap.clone(),
        events,
        runs: args.runs,
        memory_mb: args.memory_mb,
        env,
        timeout: Duration::from_secs(args.timeout_secs),
        show_output: args.show_output,
    };
    let baseline = match &args.baseline {
        Some(path) => {
            let baseline_config = BenchConfig {
                bootstrap: path.clone(),
                ..config.clone()
            };
            let summary = run_all(&baseline_config)
                .with_context(|| format!("benchmarking baseline {}", path.display()))?;
            Some((path.clone(), summary))
        }
        None => None,
    };
    let summary =
        run_all(&config).with_context(|| format!("benchmarking {}", args.bootstrap.display()))?;
    if args.json {
        let mut out = summary_json(&args.bootstrap, &summary);
        if let Some((path, base)) = &baseline {
            out["baseline"] = summary_json(path, base);
            out["ratio_to_baseline"] = ratios_json(&summary, base);
        }
        println!("{}", serde_json::to_string_pretty(&out)?);
    } else {
        if let Some((path, base)) = &baseline {
            println!("== baseline");
            print_table(path, base);
            println!();
            println!("== measured");
        }
        print_table(&args.bootstrap, &summary);
        if let Some((_, base)) = &baseline {
            println!();
            println!("ratio to baseline: {}", ratios_json(&summary, base));
        }
    }
    Ok(())
}

fn ratio(measured: f64, baseline: f64) -> Option<f64> {
    (baseline > 0.0).then(|| (measured / baseline * 100.0).round() / 100.0)
}

fn ratios_json(summary: &Summary, base: &Summary) -> serde_json::Value {
    let warm = summary
        .median_warm_invocation
        .zip(base.median_warm_invocation)
        .and_then(|(m, b)| ratio(ms(m), ms(b)));
    let rss = summary
        .median_peak_rss_kib
        .zip(base.median_peak_rss_kib)
        .and_then(|(m, b)| ratio(m as f64, b as f64));
    serde_json::json!({
        "cold_start": ratio(ms(summary.median_cold_start), ms(base.median_cold_start)),
        "first_invocation": ratio(
            ms(summary.median_first_invocation),
            ms(base.median_first_invocation)
        ),
        "warm_invocation": warm,
        "peak_rss": rss,
    })
}

fn ms(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1000.0
}

fn summary_json(bootstrap: &Path, summary: &Summary) -> serde_json::Value {
    serde_json::json!({
        "bootstrap": bootstrap.display().to_string(),
        "runs": summary.runs.len(),
        "events_per_run": summary.runs.first().map_or(0, |run| run.invocations.len()),
        "median_cold_start_ms": ms(summary.median_cold_start),
        "median_first_invocation_ms": ms(summary.median_first_invocation),
        "median_warm_invocation_ms": summary.median_warm_invocation.map(ms),
        "median_peak_rss_kib": summary.median_peak_rss_kib,
        "invocation_errors": summary.errors,
        "per_run": summary.runs.iter().map(|run| serde_json::json!({
            "cold_start_ms": ms(run.cold_start),
            "invocation_ms": run.invocations.iter().map(|i| ms(i.duration)).collect::<Vec<_>>(),
            "peak_rss_kib": run.peak_rss_kib,
        })).collect::<Vec<_>>(),
    })
}

fn print_table(bootstrap: &Path, summary: &Summary) {
    println!("bootstrap: {}", bootstrap.display());
    println!(
        "runs: {}, events per run: {}",
        summary.runs.len(),
        summary.runs.first().map_or(0, |run| run.invocations.len())
    );
    println!("run  cold start (spawn -> first /next)  first invocation  peak RSS");
    for (index, run) in summary.runs.iter().enumerate() {
        println!(
            "{:>3}  {:>30.3} ms  {:>13.3} ms  {:>7} KiB",
            index + 1,
            ms(run.cold_start),
            run.invocations.first().map_or(0.0, |i| ms(i.duration)),
            run.peak_rss_kib
                .map_or_else(|| "n/a".to_owned(), |kib| kib.to_string()),
        );
    }
    println!(
        "median cold start:       {:.3} ms",
        ms(summary.median_cold_start)
    );
    println!(
        "median first invocation: {:.3} ms",
        ms(summary.median_first_invocation)
    );
    match summary.median_warm_invocation {
        Some(warm) => println!("median warm invocation:  {:.3} ms", ms(warm)),
        None => println!("median warm invocation:  n/a (one event per run)"),
    }
    match summary.median_peak_rss_kib {
        Some(kib) => println!("median peak RSS:         {kib} KiB"),
        None => println!("median peak RSS:         n/a"),
    }
    println!("invocation errors:       {}", summary.errors);
}
