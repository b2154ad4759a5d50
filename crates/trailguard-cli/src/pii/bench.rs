//! `trailguard bench pii`: the figures of BENCHMARKS.md's PII section. Verdict quality on the
//! real photos and scans of real-dev, the generated labelled sets and Presidio's images, for the
//! detector and the older Tesseract + Haar detector in the same run; latency per image over
//! real-dev resized to 1 MP and 12 MP, both detectors timed on each image in turn; peak memory.

use anyhow::{bail, Context, Result};
use clap::{Args, ValueEnum};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde_json::json;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use trailguard_pii::offline::eval::{
    cached_generated_set, evaluate_with_progress, load_generated, load_presidio, load_real_dev,
    summary_markdown, EvalReport, LabelledImage,
};
use trailguard_pii::offline::latency::{measure_set, SetLatency};
use trailguard_pii::{load_config, Engine, OfflineConfig, OfflinePiiDetector};

use crate::analyze::peak_rss_kib;

#[derive(Copy, Clone, Debug, PartialEq, Eq, ValueEnum)]
pub enum Part {
    /// The generated labelled set (documents, receipts, ID cards, photos; English and Korean).
    Generated,
    /// Clean scans that all hold a card, resident number or MRZ (the no-miss goal).
    CleanCritical,
    /// Presidio's labelled images from the shared data.
    Presidio,
    /// Real photos and scans (images/real-dev in the shared data): ID documents, cards, faces,
    /// résumés, hard negatives.
    RealDev,
    /// Latency per image over real-dev resized to 1 MP and to 12 MP.
    Latency,
}

#[derive(Args, Debug)]
pub struct BenchPiiArgs {
    /// Shared test data directory (holds images/presidio).
    #[arg(
        long,
        env = "TRAILGUARD_DATA",
        default_value = "../shared/data",
        value_name = "DIR"
    )]
    pub data: PathBuf,
    /// What to measure, comma-separated.
    #[arg(long, value_enum, value_delimiter = ',', value_name = "PART,...",
          default_values_t = [Part::RealDev, Part::Generated, Part::CleanCritical, Part::Presidio, Part::Latency])]
    pub parts: Vec<Part>,
    /// Images in the generated set.
    #[arg(long, default_value_t = 240)]
    pub count: usize,
    /// Generator seed of the generated set.
    #[arg(long, default_value_t = 7)]
    pub seed: u64,
    /// Images in the clean-critical set (generator profile `clean-critical`, seed 3).
    #[arg(long, default_value_t = 40)]
    pub clean_count: usize,
    /// An already rendered generated set (a directory with labels.json) instead of rendering one.
    #[arg(long, value_name = "DIR")]
    pub generated: Option<PathBuf>,
    /// The generator script (default: scripts/gen-pii-images/gen_pii_images.py in the
    /// current directory, else in the source tree this binary was built from).
    #[arg(long, value_name = "FILE")]
    pub generator: Option<PathBuf>,
    /// Where rendered sets are kept and reused (default: the system temporary directory).
    #[arg(long, value_name = "DIR")]
    pub cache_dir: Option<PathBuf>,
    /// Images of real-dev timed at each size (default: all).
    #[arg(long, default_value_t = usize::MAX, hide_default_value = true)]
    pub latency_images: usize,
    /// Skip the baseline: the older Tesseract + Haar-cascade detector run on the same images.
    #[arg(long)]
    pub no_baseline: bool,
    /// Detector configuration file (as `trailguard pii --config`), to evaluate another policy.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Also write every figure and per-image result as JSON to FILE.
    #[arg(long, value_name = "FILE")]
    pub json: Option<PathBuf>,
    /// Let Tesseract use every core. By default the bench re-runs itself with
    /// OMP_THREAD_LIMIT=1 (one core per OCR call), the setting BENCHMARKS.md reports.
    #[arg(long)]
    pub all_threads: bool,
}

const GENERATOR: &str = "scripts/gen-pii-images/gen_pii_images.py";

fn generator_path(args: &BenchPiiArgs) -> PathBuf {
    if let Some(path) = &args.generator {
        return path.clone();
    }
    let here = PathBuf::from(GENERATOR);
    let built_from = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .join(GENERATOR);
    if !here.is_file() && built_from.is_file() {
        built_from
    } else {
        here
    }
}

fn absolute(path: &Path) -> PathBuf {
    std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf())
}

fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|| "unknown".into())
}

fn bar(len: usize, label: &str) -> ProgressBar {
    if !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::with_draw_target(Some(len as u64), ProgressDrawTarget::stderr());
    if let Ok(style) = ProgressStyle::with_template(&format!(
        "{label} {{bar:30}} {{pos}}/{{len}}, eta {{eta}} {{wide_msg}}"
    )) {
        bar.set_style(style);
    }
    bar
}

fn comparison_row(name: &str, after: &EvalReport, before: Option<&EvalReport>) -> String {
    let prf = |r: &EvalReport| format!("{:.3} / {:.3} / {:.3}", r.precision, r.recall, r.f1);
    let ids = |r: &EvalReport| {
        if r.id_documents > 0 {
            format!("{}/{}", r.id_documents_caught, r.id_documents)
        } else {
            "-".into()
        }
    };
    format!(
        "| {name} | {} | {} | {} | {} | {} |",
        after.images,
        prf(after),
        before.map_or("-".into(), prf),
        ids(after),
        before.map_or("-".into(), ids)
    )
}

fn evaluate_set(detector: &OfflinePiiDetector, name: &str, set: &[LabelledImage]) -> EvalReport {
    let progress = bar(set.len(), name);
    let report = evaluate_with_progress(detector, name, set, &mut |item| {
        progress.inc(1);
        if let Some(file) = item.path.file_name() {
            progress.set_message(file.to_string_lossy().into_owned());
        }
    });
    progress.finish_and_clear();
    report
}

/// Re-runs this command with OMP_THREAD_LIMIT=1 and returns its exit code.
fn rerun_on_one_core() -> Result<i32> {
    eprintln!(
        "note: re-running with OMP_THREAD_LIMIT=1 (one core per OCR call); --all-threads to skip"
    );
    let exe = std::env::current_exe().context("locating the trailguard binary")?;
    let status = std::process::Command::new(exe)
        .args(std::env::args_os().skip(1))
        .env("OMP_THREAD_LIMIT", "1")
        .status()
        .context("re-running trailguard bench pii")?;
    Ok(status.code().unwrap_or(1))
}

pub fn bench(args: BenchPiiArgs) -> Result<i32> {
    if !args.all_threads && std::env::var_os("OMP_THREAD_LIMIT").is_none() {
        return rerun_on_one_core();
    }
    let wants = |part: Part| args.parts.contains(&part);
    let presidio_dir = args.data.join("images/presidio");
    if wants(Part::Presidio) && !presidio_dir.join("labels.json").is_file() {
        bail!(trailguard_core::data::missing_data_message(
            &absolute(&presidio_dir.join("labels.json")),
            "Presidio's labelled images"
        ));
    }
    let real_dev_dir = args.data.join("images/real-dev");
    if (wants(Part::RealDev) || wants(Part::Latency))
        && !real_dev_dir.join("labels.jsonl").is_file()
    {
        bail!(trailguard_core::data::missing_data_message(
            &absolute(&real_dev_dir.join("labels.jsonl")),
            "the real-dev images"
        ));
    }
    let mut config = match &args.config {
        Some(path) => load_config(path)?,
        None => OfflineConfig::default(),
    };
    if config.engine == Engine::Auto {
        config.engine = Engine::Onnx;
    }
    // Latency: as deployed (stop at the first counted evidence).
    let detector = OfflinePiiDetector::new(config.clone())?;
    // Quality: every line read, so per-kind figures see all the evidence (same verdicts).
    let exhaustive = OfflinePiiDetector::new(OfflineConfig {
        early_stop: false,
        ..config.clone()
    })?;
    // The detector before the ONNX engines, with today's policy (faces count).
    let baseline = if args.no_baseline {
        None
    } else {
        Some(OfflinePiiDetector::new(OfflineConfig {
            engine: Engine::Tesseract,
            ..config.clone()
        })?)
    };
    let cache = args.cache_dir.clone().unwrap_or_else(std::env::temp_dir);
    let script = generator_path(&args);
    let generated_dir = || -> Result<PathBuf> {
        match &args.generated {
            Some(dir) => Ok(dir.clone()),
            None => cached_generated_set(&script, &cache, args.count, args.seed, "mixed")
                .map_err(anyhow::Error::msg),
        }
    };

    println!("## Offline image PII detection: `trailguard bench pii`\n");
    println!(
        "{} cores, load average {} at start, OMP_THREAD_LIMIT={}, ONNX threads {}, detector {}, baseline {}\n",
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        load_average(),
        std::env::var("OMP_THREAD_LIMIT").unwrap_or_else(|_| "unset".into()),
        config.threads,
        detector.label(),
        baseline.as_ref().map_or("none", |b| b.label()),
    );
    let mut reports = Vec::new();
    let mut rows: Vec<String> = Vec::new();
    let mut run_set = |name: &str, set: &[LabelledImage], reports: &mut Vec<EvalReport>| {
        let after = evaluate_set(&exhaustive, name, set);
        println!("{}", summary_markdown(&after));
        let before = baseline
            .as_ref()
            .map(|b| evaluate_set(b, &format!("{name}, baseline"), set));
        if let Some(before) = &before {
            println!("{}", summary_markdown(before));
        }
        rows.push(comparison_row(name, &after, before.as_ref()));
        reports.push(after);
        reports.extend(before);
    };
    if wants(Part::RealDev) {
        let set = load_real_dev(&real_dev_dir).map_err(anyhow::Error::msg)?;
        run_set("real-dev", &set, &mut reports);
    }
    let mut generated: Option<Vec<LabelledImage>> = None;
    if wants(Part::Generated) {
        let dir = generated_dir()?;
        eprintln!("generated set: {}", dir.display());
        generated = Some(load_generated(&dir).map_err(anyhow::Error::msg)?);
    }
    if wants(Part::Generated) {
        let set = generated.as_deref().unwrap_or_default();
        run_set(
            &format!("generated (seed {})", args.seed),
            set,
            &mut reports,
        );
    }
    if wants(Part::CleanCritical) && args.clean_count > 0 {
        let dir = cached_generated_set(&script, &cache, args.clean_count, 3, "clean-critical")
            .map_err(anyhow::Error::msg)?;
        let set = load_generated(&dir).map_err(anyhow::Error::msg)?;
        run_set("clean scans with card/RRN/MRZ (seed 3)", &set, &mut reports);
    }
    if wants(Part::Presidio) {
        let set = load_presidio(&presidio_dir).map_err(anyhow::Error::msg)?;
        run_set("presidio", &set, &mut reports);
    }
    if !rows.is_empty() {
        println!("### Before (Tesseract + Haar) and after, same run\n");
        println!("| set | images | after P / R / F1 | baseline P / R / F1 | after ID documents | baseline ID documents |");
        println!("|---|---:|---|---|---|---|");
        for row in &rows {
            println!("{row}");
        }
        println!();
    }

    let mut latencies: Vec<SetLatency> = Vec::new();
    if wants(Part::Latency) {
        let set = load_real_dev(&real_dev_dir).map_err(anyhow::Error::msg)?;
        let mut timed: Vec<&OfflinePiiDetector> = vec![&detector];
        timed.extend(baseline.as_ref());
        println!("### Latency per image, one core (real-dev resized, each image timed with every detector in turn)\n");
        println!("| size | images | detector median / p95 | baseline median / p95 | detector ÷ baseline (medians) | decode only median |");
        println!("|---|---:|---|---|---:|---|");
        for mp in [1.0, 12.0] {
            let limit = args.latency_images.min(set.len());
            let progress = bar(limit, &format!("latency {mp} MP"));
            let report = measure_set(&set, mp, limit, &timed, &mut |item| {
                progress.inc(1);
                if let Some(file) = item.path.file_name() {
                    progress.set_message(file.to_string_lossy().into_owned());
                }
            });
            progress.finish_and_clear();
            let cell = |k: usize| {
                report.detectors.get(k).map_or("-".to_string(), |d| {
                    format!(
                        "{} / {} ms ({} PII, {} errors)",
                        d.timing.median_ms, d.timing.p95_ms, d.pii_images, d.errors
                    )
                })
            };
            let ratio = match (report.detectors.first(), report.detectors.get(1)) {
                (Some(a), Some(b)) if b.timing.median_ms > 0 => {
                    format!(
                        "{:.2}×",
                        a.timing.median_ms as f64 / b.timing.median_ms as f64
                    )
                }
                _ => "-".into(),
            };
            println!(
                "| {mp} MP | {} | {} | {} | {ratio} | {} ms |",
                report.images,
                cell(0),
                cell(1),
                report.decode_only.median_ms
            );
            latencies.push(report);
        }
        println!();
    }
    let peak = peak_rss_kib();
    println!(
        "peak RSS over the run: {} MiB; load average {} at the end",
        peak.map_or("unknown".into(), |k| (k / 1024).to_string()),
        load_average()
    );
    if let Some(path) = &args.json {
        let all = json!({
            "load_average_end": load_average(),
            "omp_thread_limit": std::env::var("OMP_THREAD_LIMIT").ok(),
            "sets": reports,
            "latency": latencies,
            "peak_rss_kib": peak,
        });
        std::fs::write(path, serde_json::to_vec_pretty(&all)?)
            .with_context(|| format!("writing {}", path.display()))?;
    }
    let errors: usize = reports.iter().map(|r| r.errors).sum();
    if errors > 0 {
        eprintln!("{errors} labelled images could not be checked (see the per-image results)");
        return Ok(2);
    }
    Ok(0)
}
