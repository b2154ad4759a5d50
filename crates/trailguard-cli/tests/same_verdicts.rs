//! `trailguard analyze`, `trailguard run` and the log-analysis Lambda rate every record of the
//! shared OTRF and Panther sets alike: same threat level, same rule ids, and the same records
//! refused. All three go through the same triage (with correlation), so they must agree.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test helpers

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_trailguard");

/// The shared data directory (`TRAILGUARD_DATA`, else `../shared/data` from the workspace), or
/// `None` with a loud note; under CI a missing directory fails the test.
fn shared_data() -> Option<PathBuf> {
    let dir = trailguard_core::data::data_dir(None, std::env::var_os("TRAILGUARD_DATA"));
    let dir = if dir.is_relative() {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../..")
            .join(dir)
    } else {
        dir
    };
    if dir.is_dir() {
        return Some(dir);
    }
    let message = trailguard_core::data::missing_data_message(&dir, "the shared test data");
    if std::env::var_os("CI").is_some() {
        panic!("{message}");
    }
    eprintln!("*** SKIPPED: {message} ***");
    None
}

/// What each path says about one record: `Ok((level, sorted rule ids))` or `Err(())` when the
/// record was refused.
type Verdict = Result<(String, Vec<String>), ()>;

fn rule_ids(hits: &Value) -> Vec<String> {
    let mut ids: Vec<String> = hits
        .as_array()
        .into_iter()
        .flatten()
        .map(|hit| match hit {
            Value::String(id) => id.clone(),
            other => other["rule_id"].as_str().unwrap_or_default().to_string(),
        })
        .collect();
    ids.sort();
    ids
}

/// One event per line: the OTRF file's records, then the Panther records (their `log`).
fn corpus(data: &Path, dir: &Path) -> (PathBuf, Vec<String>) {
    let mut lines = Vec::new();
    let otrf = data.join(
        "cloudtrail/otrf/ec2_proxy_s3_exfiltration/ec2_proxy_s3_exfiltration_2020-09-14011940.json",
    );
    for line in std::fs::read_to_string(&otrf).unwrap().lines() {
        if !line.trim().is_empty() {
            lines.push(line.to_string());
        }
    }
    let panther = data.join("cloudtrail/panther/labelled_tests_aws_cloudtrail.jsonl");
    for line in std::fs::read_to_string(&panther).unwrap().lines() {
        let case: Value = serde_json::from_str(line).unwrap();
        lines.push(case["log"].to_string());
    }
    let path = dir.join("corpus.jsonl");
    std::fs::write(&path, lines.join("\n") + "\n").unwrap();
    (path, lines)
}

fn analyze(corpus: &Path, count: usize) -> Vec<Verdict> {
    let output = Command::new(BIN)
        .args(["analyze", "--format", "jsonl"])
        .arg(corpus)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    let mut verdicts: Vec<Verdict> = vec![Err(()); count];
    let mut records = String::from_utf8(output.stdout)
        .unwrap()
        .lines()
        .map(|line| serde_json::from_str::<Value>(line).unwrap())
        .collect::<Vec<_>>()
        .into_iter();
    // Refused records are named on stderr as `corpus.jsonl:record N`; the others come in order.
    let refused: Vec<usize> = stderr
        .lines()
        .filter_map(|line| line.split("record ").nth(1))
        .filter_map(|rest| rest.split(|c: char| !c.is_ascii_digit()).next())
        .filter_map(|n| n.parse().ok())
        .collect();
    for (index, verdict) in verdicts.iter_mut().enumerate() {
        if refused.contains(&index) {
            continue;
        }
        let record = records
            .next()
            .unwrap_or_else(|| panic!("analyze ran short at {index}: {stderr}"));
        *verdict = Ok((
            record["threat_level"].as_str().unwrap().to_string(),
            rule_ids(&record["reasons"]),
        ));
    }
    assert!(
        records.next().is_none(),
        "analyze printed more records than it read"
    );
    verdicts
}

fn run(corpus: &Path, dir: &Path, count: usize) -> Vec<Verdict> {
    let output = Command::new(BIN)
        // The rules' verdicts: `run` would otherwise use a fetched local model.
        .args([
            "run",
            "--json",
            "--model",
            "deterministic",
            "--concurrency",
            "4",
        ])
        .arg("--bucket-root")
        .arg(dir.join("buckets"))
        .arg("--alerts")
        .arg(dir.join("alerts.jsonl"))
        .arg(corpus)
        .output()
        .unwrap();
    let stdout = String::from_utf8(output.stdout).unwrap();
    let lines: Vec<Value> = stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(
        lines.len(),
        count,
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    lines
        .iter()
        .map(|line| match line.get("rule_ids") {
            Some(ids) => Ok((
                line["threat_level"].as_str().unwrap().to_string(),
                rule_ids(ids),
            )),
            None => Err(()),
        })
        .collect()
}

fn lambda(lines: &[String]) -> Vec<Verdict> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        // The function as AWS starts it, without a model (MODEL_BACKEND=none).
        let settings = trailguard_lambda::log_analysis::Settings::from_lookup(|name| {
            (name == "MODEL_BACKEND").then(|| "none".to_string())
        })
        .unwrap();
        let handler = trailguard_lambda::log_analysis::handler(settings)
            .await
            .unwrap();
        let mut verdicts = Vec::new();
        for line in lines {
            verdicts.push(match handler.handle_json(line).await {
                Ok(analysis) => Ok((
                    analysis["threat_level"].as_str().unwrap().to_string(),
                    rule_ids(&analysis["reasons"]),
                )),
                Err(_) => Err(()),
            });
        }
        verdicts
    })
}

#[test]
fn analyze_run_and_the_lambda_agree_on_every_shared_record() {
    let Some(data) = shared_data() else { return };
    let dir = tempfile::tempdir().unwrap();
    let (corpus, lines) = corpus(&data, dir.path());
    assert!(lines.len() > 500, "{}", lines.len());
    let by_analyze = analyze(&corpus, lines.len());
    let by_run = run(&corpus, dir.path(), lines.len());
    let by_lambda = lambda(&lines);
    let mut differences = Vec::new();
    for (index, ((a, r), l)) in by_analyze.iter().zip(&by_run).zip(&by_lambda).enumerate() {
        if a != r || a != l {
            differences.push(format!(
                "record {index}: analyze {a:?}, run {r:?}, lambda {l:?}"
            ));
        }
    }
    assert!(differences.is_empty(), "{}", differences.join("\n"));
    let rated = by_analyze.iter().filter(|v| v.is_ok()).count();
    let with_rules = by_analyze
        .iter()
        .filter(|v| v.as_ref().is_ok_and(|(_, ids)| !ids.is_empty()))
        .count();
    eprintln!(
        "{} records: {rated} rated alike by analyze, run and the Lambda ({with_rules} with rule hits), {} refused by all three",
        lines.len(),
        lines.len() - rated
    );
    assert!(with_rules > 150, "{with_rules}");
}
