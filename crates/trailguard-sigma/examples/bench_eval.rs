//! Evaluation throughput of the SigmaHQ AWS CloudTrail rules on the Panther labelled CloudTrail
//! records, against a serde_json parse-only baseline measured in the same run (one thread).
//!
//! `cargo run --release -p trailguard-sigma --example bench_eval [seconds-per-phase]`

use std::path::PathBuf;
use std::time::{Duration, Instant};
use trailguard_sigma::{LogSourceFilter, RuleSet};

fn data_dir() -> PathBuf {
    std::env::var("TRAILGUARD_DATA")
        .map(PathBuf::from)
        .unwrap_or_else(|_| {
            PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/data"))
        })
}

/// Runs `step` over the records repeatedly for about `budget`; returns records per second.
fn rate(records: usize, budget: Duration, mut step: impl FnMut() -> usize) -> (f64, usize) {
    let start = Instant::now();
    let (mut done, mut check) = (0usize, 0usize);
    while start.elapsed() < budget {
        check = check.wrapping_add(step());
        done += records;
    }
    (done as f64 / start.elapsed().as_secs_f64(), check)
}

fn main() -> anyhow::Result<()> {
    let seconds: f64 = std::env::args()
        .nth(1)
        .map(|s| s.parse())
        .transpose()?
        .unwrap_or(3.0);
    let budget = Duration::from_secs_f64(seconds);
    let data = data_dir();
    let rules_dir = data.join("sigma/sigmahq");
    let corpus = data.join("cloudtrail/panther/labelled_tests_aws_cloudtrail.jsonl");
    anyhow::ensure!(
        rules_dir.is_dir(),
        "SigmaHQ rules missing at {} (set TRAILGUARD_DATA)",
        rules_dir.display()
    );
    let text = std::fs::read_to_string(&corpus).map_err(|e| {
        anyhow::anyhow!(
            "cannot read {} (set TRAILGUARD_DATA): {e}",
            corpus.display()
        )
    })?;

    let (set, report) = RuleSet::load_paths(&[&rules_dir], LogSourceFilter::aws_cloudtrail())?;
    let mut logs = Vec::new();
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let mut value: serde_json::Value = serde_json::from_str(line)?;
        if let Some(log) = value.get_mut("log").map(serde_json::Value::take) {
            logs.push(log.to_string());
        }
    }
    let values: Vec<serde_json::Value> = logs
        .iter()
        .map(|l| serde_json::from_str(l))
        .collect::<Result<_, _>>()?;
    let bytes: usize = logs.iter().map(String::len).sum();
    println!(
        "{report}; {} rules, {} indexed by {}; {} records, {:.0} bytes/record",
        set.len(),
        set.indexed_rule_count(),
        set.index_field(),
        logs.len(),
        bytes as f64 / logs.len() as f64
    );

    let (parse, _) = rate(logs.len(), budget, || {
        logs.iter()
            .map(|l| {
                serde_json::from_str::<serde_json::Value>(l)
                    .map_or(0, |v| usize::from(v.is_object()))
            })
            .sum()
    });
    let mut out = Vec::new();
    let (indexed, hits) = rate(values.len(), budget, || {
        let mut n = 0;
        for v in &values {
            out.clear();
            set.evaluate(v, &mut out);
            n += out.len();
        }
        n
    });
    let (every, _) = rate(values.len(), budget, || {
        let mut n = 0;
        for v in &values {
            out.clear();
            set.evaluate_all(v, &mut out);
            n += out.len();
        }
        n
    });
    let (parse_eval, _) = rate(logs.len(), budget, || {
        let mut n = 0;
        for l in &logs {
            if let Ok(v) = serde_json::from_str::<serde_json::Value>(l) {
                out.clear();
                set.evaluate(&v, &mut out);
                n += out.len();
            }
        }
        n
    });
    let mut matched = Vec::new();
    let mut with_hits = 0;
    for v in &values {
        matched.clear();
        set.evaluate(v, &mut matched);
        with_hits += usize::from(!matched.is_empty());
    }
    println!(
        "records with at least one SigmaHQ match: {with_hits} of {} (checksum {hits})",
        values.len()
    );
    println!("one thread, {seconds}s per phase:");
    println!("  parse only (serde_json::Value)        {parse:>12.0} records/s  1.00x");
    println!(
        "  evaluate, pre-filtered (on Value)     {indexed:>12.0} records/s  {:.2}x",
        indexed / parse
    );
    println!(
        "  evaluate, every rule (on Value)       {every:>12.0} records/s  {:.2}x",
        every / parse
    );
    println!(
        "  parse + evaluate pre-filtered         {parse_eval:>12.0} records/s  {:.2}x",
        parse_eval / parse
    );
    println!(
        "  rule evaluations/s (every rule)       {:>12.0}",
        every * set.len() as f64
    );
    Ok(())
}
