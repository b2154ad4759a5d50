//! Prompt size: TrailGuard's compact log prompt (system + user, rule hits included) against the
//! guide's prompt (the raw record in its template) on the same shared records (Panther's labelled
//! tests and the OTRF attack). Goal: at most half the guide's tokens.
//!
//! Counted with the tokenizer-free estimate (`trailguard_core::ask::approx_tokens`) that
//! `trailguard eval` prints beside a model's own counts.
//!
//! `cargo test -p trailguard-triage --test prompt_size -- --nocapture` prints the figures; with
//! `TRAILGUARD_PROMPT_DUMP=FILE` it also writes every prompt pair as JSON Lines.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test helpers panic on purpose

#[path = "support/shared_data.rs"]
mod shared_data;

use std::io::Write;

use serde_json::Value;
use trailguard_core::ask::{approx_tokens, PromptOptions};
use trailguard_events::parse_event;
use trailguard_triage::{
    build_log_prompt_with, guide_prompt, record_from_event, Detector, DetectorOptions, Language,
    LogPromptSettings, PromptRules,
};

fn records() -> Vec<(String, String)> {
    let mut records = Vec::new();
    if let Some(path) = shared_data::require(
        "cloudtrail/panther/labelled_tests_aws_cloudtrail.jsonl",
        "Panther's labelled CloudTrail tests",
    ) {
        for (index, line) in std::fs::read_to_string(path).unwrap().lines().enumerate() {
            let case: Value = serde_json::from_str(line).unwrap();
            records.push((format!("panther:{}", index + 1), case["log"].to_string()));
        }
    }
    if let Some(path) = shared_data::require(
        "cloudtrail/otrf/ec2_proxy_s3_exfiltration/ec2_proxy_s3_exfiltration_2020-09-14011940.json",
        "the OTRF CloudTrail records",
    ) {
        for (index, line) in std::fs::read_to_string(path).unwrap().lines().enumerate() {
            records.push((format!("otrf:{}", index + 1), line.to_string()));
        }
    }
    records
}

#[test]
fn compact_prompts_are_at_most_half_the_guides() {
    let no_dirs: [&str; 0] = [];
    let detector = Detector::load(&no_dirs, DetectorOptions::default())
        .unwrap()
        .0;
    let options = PromptOptions::default();
    let records = records();
    if records.is_empty() {
        return;
    }
    let mut dump = std::env::var_os("TRAILGUARD_PROMPT_DUMP")
        .map(|path| std::io::BufWriter::new(std::fs::File::create(path).unwrap()));
    for language in [Language::English, Language::Korean] {
        let (mut compact, mut guide, mut events) = (0usize, 0usize, 0usize);
        let mut worst = (0.0f64, String::new());
        for (origin, json) in &records {
            let Ok(event) = parse_event(json) else {
                continue;
            };
            let record = record_from_event(&event, detector.detect(&event), Vec::new());
            let settings = LogPromptSettings {
                language,
                rules: PromptRules::Include,
            };
            let prompt = build_log_prompt_with(json, &record, settings, &options).unwrap();
            let guide_text = guide_prompt(json);
            let ours = approx_tokens(&prompt.text());
            let theirs = approx_tokens(&guide_text);
            if let Some(dump) = dump.as_mut() {
                let line = serde_json::json!({"id": origin, "language": language.code(),
                    "compact": prompt.text(), "guide": guide_text,
                    "approx_compact": ours, "approx_guide": theirs});
                writeln!(dump, "{line}").unwrap();
            }
            compact += ours;
            guide += theirs;
            events += 1;
            let ratio = ours as f64 / theirs as f64;
            if ratio > worst.0 {
                worst = (ratio, origin.clone());
            }
        }
        let ratio = compact as f64 / guide as f64;
        println!(
            "{language:?}: {events} events; approx tokens per event: compact {:.0}, guide {:.0}; ratio {ratio:.3} (worst single event {:.2} at {})",
            compact as f64 / events as f64,
            guide as f64 / events as f64,
            worst.0,
            worst.1
        );
        assert!(ratio <= 0.5, "{language:?}: compact/guide = {ratio:.3}");
    }
}
