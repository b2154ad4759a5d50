//! `trailguard bench pii`: the figures of BENCHMARKS.md's PII section. Verdict quality on the
//! generated labelled sets and on Presidio's images, latency for a 1 MP and a 12 MP photo
//! against baselines timed in the same rounds, and peak memory.

use anyhow::{bail, Context, Result};
use clap::{Args, ValueEnum};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde_json::json;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use trailguard_pii::offline::eval::{
    cached_generated_set, evaluate_with_progress, load_generated, load_presidio, summary_markdown,
    EvalReport, LabelledImage,
};
use trailguard_pii::offline::latency::{measure, photo_jpeg_from_file};
use trailguard_pii::offline::{OcrEngine, TesseractOcr};
use trailguard_pii::{load_config, OfflineConfig, OfflinePiiDetector};

use crate::analyze::peak_rss_kib;

#[derive(Copy, Clone, Debug, PartialEq, Eq, ValueEnum)]
pub enum Part {
    /// The generated labelled set (documents, receipts, ID cards, photos; English and Korean).
    Generated,
    /// Clean scans that all hold a card, resident number or MRZ (the no-miss goal).
    CleanCritical,
    /// Presidio's labelled images from the shared data.
    Presidio,
    /// Latency per image for a 1 MP and a 12 MP photo.
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
          default_values_t = [Part::Generated, Part::CleanCritical, Part::Presidio, Part::Latency])]
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
    /// Timed rounds per photo size.
    #[arg(long, default_value_t = 7)]
    pub runs: usize,
    /// Skip the plain full-resolution Tesseract baseline.
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

fn spinner(message: &str) -> ProgressBar {
    if !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let spinner = ProgressBar::new_spinner();
    spinner.set_message(message.to_string());
    spinner.enable_steady_tick(std::time::Duration::from_millis(200));
    spinner
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
    let config = match &args.config {
        Some(path) => load_config(path)?,
        None => OfflineConfig::default(),
    };
    let detector = OfflinePiiDetector::new(config.clone())?;
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
        "{} cores, load average {} at start, OMP_THREAD_LIMIT={}, detector {}\n",
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        load_average(),
        std::env::var("OMP_THREAD_LIMIT").unwrap_or_else(|_| "unset".into()),
        detector.label(),
    );
    let mut reports = Vec::new();
    let mut generated: Option<Vec<LabelledImage>> = None;
    if wants(Part::Generated) || wants(Part::Latency) {
        let dir = generated_dir()?;
        eprintln!("generated set: {}", dir.display());
        generated = Some(load_generated(&dir).map_err(anyhow::Error::msg)?);
    }
    if wants(Part::Generated) {
        let set = generated.as_deref().unwrap_or_default();
        let report = evaluate_set(&detector, &format!("generated (seed {})", args.seed), set);
        println!("{}", summary_markdown(&report));
        reports.push(report);
    }
    if wants(Part::CleanCritical) && args.clean_count > 0 {
        let dir = cached_generated_set(&script, &cache, args.clean_count, 3, "clean-critical")
            .map_err(anyhow::Error::msg)?;
        let set = load_generated(&dir).map_err(anyhow::Error::msg)?;
        let report = evaluate_set(&detector, "clean scans with card/RRN/MRZ (seed 3)", &set);
        println!("{}", summary_markdown(&report));
        for miss in &report.clean_scan_misses {
            println!("clean-scan miss: {miss}");
        }
        reports.push(report);
    }
    if wants(Part::Presidio) {
        let set = load_presidio(&presidio_dir).map_err(anyhow::Error::msg)?;
        let report = evaluate_set(&detector, "presidio", &set);
        println!("{}", summary_markdown(&report));
        reports.push(report);
    }

    let mut latencies = Vec::new();
    if wants(Part::Latency) {
        let photo = generated
            .as_deref()
            .unwrap_or_default()
            .iter()
            .find(|i| i.category == "photo" && i.contains_pii)
            .context("the generated set has no photo holding PII to time")?;
        let plain_ocr = if args.no_baseline {
            None
        } else {
            Some(TesseractOcr::new(
                config.tessdata_dir.as_deref(),
                &config.languages,
            )?)
        };
        println!(
            "### Latency per image ({} rounds, one photo with text resized)\n",
            args.runs
        );
        println!(
            "Baselines timed in the same rounds: decoding alone, and one plain Tesseract pass \
             ({}) over the full-resolution image, as Presidio's image analyser runs; its pii= is \
             the same recognisers and policy over that pass's text.\n",
            config.languages
        );
        println!("| photo | detector median / p95 | decode only | plain Tesseract median / p95 | detector ÷ plain |");
        println!("|---|---|---|---|---|");
        for (label, width, height) in [("1 MP", 1155u32, 866u32), ("12 MP", 4000, 3000)] {
            let jpeg = photo_jpeg_from_file(&photo.path, width, height)?;
            let spinner = spinner(&format!("timing the {label} photo ({} rounds)", args.runs));
            let report = measure(
                label,
                &detector,
                &jpeg,
                args.runs,
                plain_ocr.as_ref().map(|o| o as &dyn OcrEngine),
            )?;
            spinner.finish_and_clear();
            let plain_pii = match report.plain_ocr_pii {
                Some(pii) => format!(", pii={pii}"),
                None => String::new(),
            };
            let (plain, ratio) = match (&report.plain_ocr, report.ratio_to_plain_ocr()) {
                (Some(t), Some(r)) => (
                    format!("{} / {} ms{plain_pii}", t.median_ms, t.p95_ms),
                    format!("{r:.2}×"),
                ),
                _ => ("-".into(), "-".into()),
            };
            println!(
                "| {label} ({width}x{height}, {} KB JPEG, pii={}) | {} / {} ms | {} ms | {plain} | {ratio} |",
                report.jpeg_bytes / 1024,
                report.pii_detected,
                report.detector.median_ms,
                report.detector.p95_ms,
                report.decode_only.median_ms,
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
