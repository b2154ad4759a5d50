//! `trailguard analyze` as a user runs it: exit codes, error reports, every input route.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test helpers

use std::io::Write;
use std::process::{Command, Output, Stdio};

const BIN: &str = env!("CARGO_BIN_EXE_trailguard");
const DEMO: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../tests/fixtures/demo/events.jsonl"
);
const DEMO_EVENTS: &str = include_str!("../../../tests/fixtures/demo/events.jsonl");

fn run(args: &[&str], stdin: Option<&[u8]>) -> Output {
    let mut child = Command::new(BIN)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn trailguard");
    if let Some(bytes) = stdin {
        child.stdin.take().unwrap().write_all(bytes).unwrap();
    } else {
        drop(child.stdin.take());
    }
    child.wait_with_output().unwrap()
}

fn records(output: &Output) -> Vec<serde_json::Value> {
    String::from_utf8(output.stdout.clone())
        .unwrap()
        .lines()
        .map(|line| serde_json::from_str(line).expect("each stdout line is JSON"))
        .collect()
}

#[test]
fn demo_events_are_rated_and_exit_zero() {
    let output = run(&["analyze", DEMO], None);
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let records = records(&output);
    assert_eq!(records.len(), 8);
    let levels: Vec<&str> = records
        .iter()
        .map(|r| r["threat_level"].as_str().unwrap())
        .collect();
    assert_eq!(
        levels,
        ["low", "low", "high", "high", "high", "low", "high", "low"]
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("analysed 8 events: 4 high, 0 medium, 4 low; 0 bad records"),
        "{stderr}"
    );
    // The guide's fields come first, in the guide's order.
    let first_line = String::from_utf8_lossy(&output.stdout)
        .lines()
        .next()
        .unwrap()
        .to_string();
    assert!(first_line
        .starts_with("{\"event_title\":\"[PutObject][111122223333][alice]\",\"summarize\":"));
}

#[test]
fn bad_records_are_reported_and_the_rest_analysed() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("mixed.jsonl");
    std::fs::write(
        &path,
        concat!(
            "{\"eventName\":\"StopLogging\",\"eventSource\":\"cloudtrail.amazonaws.com\",\"eventID\":\"a\"}\n",
            "{\"eventName\":\"GetObject\",\"userIdentity\":{\"type\":42}}\n",
            "this is not json\n",
            "{\"eventName\":\"DeleteTrail\",\"eventSource\":\"cloudtrail.amazonaws.com\",\"eventID\":\"b\"}\n",
        ),
    )
    .unwrap();
    let output = run(&["analyze", path.to_str().unwrap()], None);
    assert_eq!(output.status.code(), Some(2));
    let records = records(&output);
    let ids: Vec<&str> = records
        .iter()
        .map(|r| r["event_id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["a", "b"]);
    assert!(records.iter().all(|r| r["threat_level"] == "high"));
    let stderr = String::from_utf8_lossy(&output.stderr);
    let file = path.to_str().unwrap();
    assert!(
        stderr.contains(&format!("error: {file} record 1: ")),
        "{stderr}"
    );
    assert!(stderr.contains("userIdentity.type"), "{stderr}");
    assert!(
        stderr.contains(&format!("error: {file} record 2: ")),
        "{stderr}"
    );
    assert!(stderr.contains("2 bad records"), "{stderr}");
}

#[test]
fn reads_stdin_and_gzip_log_files() {
    let body = std::fs::read(DEMO).unwrap();
    let output = run(&["analyze", "-"], Some(&body));
    assert_eq!(output.status.code(), Some(0));
    assert_eq!(records(&output).len(), 8);

    let dir = tempfile::tempdir().unwrap();
    let logs = dir
        .path()
        .join("AWSLogs/111122223333/CloudTrail/us-east-1/2026/11/25");
    std::fs::create_dir_all(&logs).unwrap();
    let file = std::fs::File::create(
        logs.join("111122223333_CloudTrail_us-east-1_20261125T0905Z_x.json.gz"),
    )
    .unwrap();
    let mut gz = flate2::write::GzEncoder::new(file, flate2::Compression::fast());
    gz.write_all(br#"{"Records":[{"eventName":"StopLogging","eventSource":"cloudtrail.amazonaws.com","eventID":"gz-1"},{"eventName":"ListBuckets","eventSource":"s3.amazonaws.com","eventID":"gz-2"}]}"#).unwrap();
    gz.finish().unwrap();
    let output = run(&["analyze", dir.path().to_str().unwrap()], None);
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let records = records(&output);
    assert_eq!(records.len(), 2);
    assert_eq!(records[0]["threat_level"], "high");
    assert_eq!(records[1]["threat_level"], "low");
}

#[test]
fn usage_errors_exit_one() {
    assert_eq!(run(&["analyze"], None).status.code(), Some(1));
    assert_eq!(
        run(&["analyze", "--format", "xml", DEMO], None)
            .status
            .code(),
        Some(1)
    );
    assert_eq!(run(&["--help"], None).status.code(), Some(0));
}

#[test]
fn table_format_is_for_people() {
    let output = run(&["analyze", "--format", "table", DEMO], None);
    assert_eq!(output.status.code(), Some(0));
    let text = String::from_utf8(output.stdout).unwrap();
    let mut lines = text.lines();
    assert!(lines.next().unwrap().starts_with("level"));
    assert!(text.contains("[StopLogging][111122223333][ci-deploy/mallory]"));
    assert_eq!(text.lines().count(), 9);
}

#[test]
fn sigmahq_rules_can_be_added() {
    let data = std::env::var("TRAILGUARD_DATA").unwrap_or_else(|_| {
        concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/data").to_string()
    });
    let sigma = std::path::Path::new(&data).join("sigma/sigmahq/rules");
    assert!(
        sigma.is_dir(),
        "shared data missing: {} (set TRAILGUARD_DATA)",
        sigma.display()
    );
    let output = run(&["analyze", "--rules", sigma.to_str().unwrap(), DEMO], None);
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(records(&output).len(), 8);
}

#[test]
fn demo_runs_on_embedded_defaults() {
    // The demo keeps its bucket directory for the reader: put it in a directory that goes away.
    let tmp = tempfile::tempdir().unwrap();
    let output = Command::new(BIN)
        .arg("demo")
        .env("TMPDIR", tmp.path())
        .output()
        .unwrap();
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let text = String::from_utf8(output.stdout).unwrap();
    assert!(
        text.contains("CloudTrail Logging Stopped or Trail Deleted"),
        "{text}"
    );
}

fn under_ci() -> bool {
    std::env::var_os("CI").is_some_and(|v| !v.is_empty() && v != "false")
}

/// `--model local` with no model fetched: the rules' records, and one note naming the fetch
/// command (not one per event).
#[test]
fn model_local_without_a_fetched_model_uses_the_rules_and_says_so_once() {
    let empty = tempfile::tempdir().unwrap();
    let output = Command::new(BIN)
        .args(["analyze", "--model", "local", DEMO])
        .env("TRAILGUARD_CACHE", empty.path())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "{stderr}");
    assert_eq!(
        stderr.matches("no local model is fetched").count(),
        1,
        "{stderr}"
    );
    assert!(stderr.contains("trailguard model fetch"), "{stderr}");
    let levels: Vec<String> = records(&output)
        .iter()
        .map(|r| r["threat_level"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        levels,
        ["low", "low", "high", "high", "high", "low", "high", "low"]
    );
}

/// `--model local` with SmolLM2 (fetched by scripts/test.sh; under CI its absence fails): every
/// record keeps the guide's shape and the rules' level is a floor.
#[test]
fn model_local_analyses_with_the_in_process_model() {
    let cache = trailguard_fetch::Cache::from_env(None).unwrap();
    let choice = trailguard_local_model::ModelChoice::Name("smollm2-135m".into());
    if let Err(error) = trailguard_local_model::select(&cache, &choice) {
        assert!(!under_ci(), "the SmolLM2 test model is missing: {error}");
        eprintln!("\n*** SKIPPED: {error} ***\n");
        return;
    }
    let events: String = DEMO_EVENTS
        .lines()
        .skip(2)
        .take(2)
        .map(|l| format!("{l}\n"))
        .collect();
    let output = Command::new(BIN)
        .args([
            "analyze",
            "--model",
            "local",
            "--model-id",
            "smollm2-135m",
            "--model-threads",
            "1",
            "--model-policy",
            "always",
            "-",
        ])
        .env("OMP_WAIT_POLICY", "PASSIVE")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .and_then(|mut child| {
            child.stdin.take().unwrap().write_all(events.as_bytes())?;
            child.wait_with_output()
        })
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "{stderr}");
    assert!(
        stderr.contains("analysing with the local model smollm2-135m"),
        "{stderr}"
    );
    let records = records(&output);
    assert_eq!(records.len(), 2, "{stderr}");
    for record in &records {
        // StopLogging and a public bucket policy: the rules say high, the model cannot lower it.
        assert_eq!(record["threat_level"], "high", "{record}");
        for field in ["event_title", "summarize"] {
            assert!(
                !record[field].as_str().unwrap().trim().is_empty(),
                "{record}"
            );
        }
    }
}
