//! Evaluation of the offline PII detector (BENCHMARKS.md figures).
//!
//! `OMP_THREAD_LIMIT=1 cargo run --release -p trailguard-pii-offline --example pii_eval -- \
//!    [--count 240] [--seed 7] [--generated DIR] [--clean-critical 40] [--skip-presidio] \
//!    [--latency] [--json OUT]`
//!
//! The generated set is rendered by scripts/gen-pii-images into DIR (default
//! /tmp/trailguard-pii-gen-COUNT-SEED, reused when present). Presidio's images are read from
//! $TRAILGUARD_DATA/images/presidio (default ../shared/data).

use anyhow::{bail, Context};
use std::path::PathBuf;
use std::time::Instant;
use trailguard_pii::PiiDetector;
use trailguard_pii_offline::eval::{
    evaluate, generate_set, generate_set_with_profile, load_generated, load_presidio, percentile,
    summary_markdown,
};
use trailguard_pii_offline::{OfflineConfig, OfflinePiiDetector};

fn arg(args: &[String], name: &str) -> Option<String> {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1).cloned())
}

fn peak_rss_kb() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1).and_then(|v| v.parse().ok()))
        })
        .unwrap_or(0)
}

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let count: usize = arg(&args, "--count").map_or(Ok(240), |v| v.parse())?;
    let seed: u64 = arg(&args, "--seed").map_or(Ok(7), |v| v.parse())?;
    let repo = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    let gen_dir = arg(&args, "--generated")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(format!("/tmp/trailguard-pii-gen-{count}-{seed}")));
    if !gen_dir.join("labels.json").is_file() {
        let script = repo.join("scripts/gen-pii-images/gen_pii_images.py");
        generate_set(&script, &gen_dir, count, seed).map_err(anyhow::Error::msg)?;
    }
    let detector = OfflinePiiDetector::new(OfflineConfig::default())?;
    let mut reports = Vec::new();

    let generated = load_generated(&gen_dir).map_err(anyhow::Error::msg)?;
    let report = evaluate(&detector, &format!("generated (seed {seed})"), &generated);
    println!("{}", summary_markdown(&report));
    reports.push(report);

    // Clean scans that all hold a card, resident number or MRZ: the no-miss goal.
    let clean_count: usize = arg(&args, "--clean-critical").map_or(Ok(40), |v| v.parse())?;
    if clean_count > 0 {
        let dir = PathBuf::from(format!(
            "/tmp/trailguard-pii-clean-critical-{clean_count}-3"
        ));
        if !dir.join("labels.json").is_file() {
            let script = repo.join("scripts/gen-pii-images/gen_pii_images.py");
            generate_set_with_profile(&script, &dir, clean_count, 3, "clean-critical")
                .map_err(anyhow::Error::msg)?;
        }
        let set = load_generated(&dir).map_err(anyhow::Error::msg)?;
        let report = evaluate(&detector, "clean scans with card/RRN/MRZ (seed 3)", &set);
        println!("{}", summary_markdown(&report));
        for miss in &report.clean_scan_misses {
            println!("clean-scan miss: {miss}");
        }
        reports.push(report);
    }

    if !args.iter().any(|a| a == "--skip-presidio") {
        let data = std::env::var_os("TRAILGUARD_DATA")
            .map(PathBuf::from)
            .unwrap_or_else(|| repo.join("../shared/data"));
        let presidio = load_presidio(&data.join("images/presidio")).map_err(anyhow::Error::msg)?;
        let report = evaluate(&detector, "presidio", &presidio);
        println!("{}", summary_markdown(&report));
        reports.push(report);
    }

    if args.iter().any(|a| a == "--latency") {
        let photo = generated
            .iter()
            .find(|i| i.category == "photo" && i.contains_pii)
            .context("no photo in the generated set")?;
        let img = image::open(&photo.path).with_context(|| photo.path.display().to_string())?;
        for (label, w, h, runs) in [("1 MP", 1155u32, 866u32, 7usize), ("12 MP", 4000, 3000, 3)] {
            let resized = img.resize_exact(w, h, image::imageops::FilterType::Triangle);
            let mut jpeg = Vec::new();
            resized.to_rgb8().write_to(
                &mut std::io::Cursor::new(&mut jpeg),
                image::ImageFormat::Jpeg,
            )?;
            let mut times = Vec::new();
            let mut pii = false;
            for _ in 0..runs {
                let started = Instant::now();
                pii = detector.detect(&jpeg, Some("image/jpeg"))?.pii_detected;
                times.push(started.elapsed().as_millis() as u64);
            }
            times.sort_unstable();
            println!(
                "latency {label} photo ({w}x{h}, {} KB jpeg, {runs} runs, pii={pii}): median {} ms, p95 {} ms",
                jpeg.len() / 1024,
                percentile(&times, 50),
                percentile(&times, 95)
            );
        }
    }
    println!("peak RSS: {} MB", peak_rss_kb() / 1024);
    if let Some(out) = arg(&args, "--json") {
        std::fs::write(&out, serde_json::to_vec_pretty(&reports)?)?;
    }
    if reports.iter().any(|r| r.images == 0) {
        bail!("an evaluation set was empty");
    }
    Ok(())
}
