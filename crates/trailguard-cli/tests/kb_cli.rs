//! `trailguard kb add|stats|eval`, `ask` and `chat` over the shared OTRF and Panther records:
//! re-adding adds nothing twice, `ask --json` cites documents that exist and support the answer,
//! Korean questions get Korean answers, and the question set keeps its floors with no model.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test helpers

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_trailguard");
const OTRF: &str =
    "cloudtrail/otrf/ec2_proxy_s3_exfiltration/ec2_proxy_s3_exfiltration_2020-09-14011940.json";

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The shared data directory, or `None` after a loud note (a panic under CI).
fn shared_data() -> Option<PathBuf> {
    let dir =
        trailguard_core::data::data_dir(None, std::env::var_os(trailguard_core::data::DATA_ENV));
    let dir = if dir.is_relative() {
        workspace().join(dir)
    } else {
        dir
    };
    if dir.join(OTRF).exists() {
        return Some(dir);
    }
    let message =
        trailguard_core::data::missing_data_message(&dir.join(OTRF), "the shared OTRF records");
    if std::env::var_os("CI").is_some_and(|v| !v.is_empty() && v != "false") {
        panic!("{message}");
    }
    eprintln!("\n*** SKIPPED: {message} ***\n");
    None
}

fn trailguard(args: &[&str]) -> Output {
    let output = Command::new(BIN)
        .args(args)
        .env_remove("TRAILGUARD_KB")
        .env_remove("TRAILGUARD_NOW")
        .output()
        .expect("spawn trailguard");
    assert!(
        output.status.success(),
        "trailguard {args:?}: {}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

/// `trailguard kb stats --json` of a knowledge base directory.
fn kb_stats(kb: &Path) -> Value {
    json(&trailguard(&[
        "kb",
        "stats",
        "--kb",
        kb.to_str().unwrap(),
        "--json",
    ]))
}

fn json(output: &Output) -> Value {
    serde_json::from_slice(&output.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&output.stdout)))
}

/// The OTRF records by eventID: what a citation `eventID~hash` must point back to.
fn otrf_records(data: &Path) -> HashMap<String, Value> {
    std::fs::read_to_string(data.join(OTRF))
        .unwrap()
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .map(|v| (v["eventID"].as_str().unwrap().to_string(), v))
        .collect()
}

/// A knowledge base holding the OTRF attack story.
fn otrf_kb(data: &Path) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let kb = dir.path().to_str().unwrap();
    trailguard(&[
        "kb",
        "add",
        data.join(OTRF).to_str().unwrap(),
        "--kb",
        kb,
        "--vectors",
        "off",
    ]);
    dir
}

#[test]
fn re_adding_the_same_file_adds_nothing_twice() {
    let Some(data) = shared_data() else { return };
    let expected = otrf_records(&data).len() as u64;
    let dir = otrf_kb(&data);
    let kb = dir.path().to_str().unwrap();
    let stats = json(&trailguard(&["kb", "stats", "--kb", kb, "--json"]));
    assert_eq!(stats["documents"].as_u64(), Some(expected));
    let again = trailguard(&[
        "kb",
        "add",
        data.join(OTRF).to_str().unwrap(),
        "--kb",
        kb,
        "--vectors",
        "off",
    ]);
    let said = String::from_utf8_lossy(&again.stderr);
    assert!(
        said.contains(&format!(
            "0 documents added, 0 updated, {expected} unchanged"
        )),
        "{said}"
    );
    let stats = json(&trailguard(&["kb", "stats", "--kb", kb, "--json"]));
    assert_eq!(stats["documents"].as_u64(), Some(expected));
}

#[test]
fn ask_json_counts_exactly_and_cites_documents_that_support_the_answer() {
    let Some(data) = shared_data() else { return };
    let records = otrf_records(&data);
    let by_pedro = records
        .values()
        .filter(|r| r["userIdentity"]["userName"].as_str() == Some("pedro"))
        .count();
    assert!(by_pedro > 0);
    let dir = otrf_kb(&data);
    let kb = dir.path().to_str().unwrap();
    let answer = json(&trailguard(&[
        "ask",
        "--kb",
        kb,
        "--json",
        "How many events did pedro make?",
    ]));
    assert_eq!(
        answer["facts"]["count"].as_u64(),
        Some(by_pedro as u64),
        "{answer}"
    );
    assert!(
        answer["answer"]
            .as_str()
            .unwrap()
            .contains(&by_pedro.to_string()),
        "{answer}"
    );
    let citations = answer["citations"].as_array().unwrap();
    assert!(!citations.is_empty(), "{answer}");
    for id in citations {
        let id = id.as_str().unwrap();
        let event_id = id.split('~').next().unwrap();
        let record = records
            .get(event_id)
            .unwrap_or_else(|| panic!("cited {id}: no such record"));
        assert_eq!(
            record["userIdentity"]["userName"].as_str(),
            Some("pedro"),
            "cited {id}"
        );
    }
}

#[test]
fn a_korean_question_gets_a_korean_answer_with_the_same_numbers() {
    let Some(data) = shared_data() else { return };
    let dir = otrf_kb(&data);
    let kb = dir.path().to_str().unwrap();
    let english = json(&trailguard(&[
        "ask",
        "--kb",
        kb,
        "--json",
        "How many events came from 1.2.3.4?",
    ]));
    let korean = json(&trailguard(&[
        "ask",
        "--kb",
        kb,
        "--json",
        "1.2.3.4에서 온 이벤트는 몇 건인가요?",
    ]));
    let count = english["facts"]["count"].as_u64().unwrap();
    assert_eq!(korean["facts"]["count"].as_u64(), Some(count));
    let text = korean["answer"].as_str().unwrap();
    assert!(
        text.chars().any(|c| ('\u{AC00}'..='\u{D7A3}').contains(&c)),
        "{text}"
    );
    assert!(
        text.contains(&count.to_string()) && text.contains('건'),
        "{text}"
    );
    let english_text = english["answer"].as_str().unwrap();
    assert!(
        !english_text
            .chars()
            .any(|c| ('\u{AC00}'..='\u{D7A3}').contains(&c)),
        "{english_text}"
    );
}

#[test]
fn a_question_the_data_cannot_answer_is_answered_as_such() {
    let Some(data) = shared_data() else { return };
    let dir = otrf_kb(&data);
    let kb = dir.path().to_str().unwrap();
    let answer = json(&trailguard(&[
        "ask",
        "--kb",
        kb,
        "--json",
        "How many events came from 203.0.113.250?",
    ]));
    assert_eq!(answer["no_data"].as_bool(), Some(true), "{answer}");
    assert!(
        answer["citations"].as_array().unwrap().is_empty(),
        "{answer}"
    );
}

#[test]
fn chat_keeps_history_for_follow_ups_and_shows_sources() {
    let Some(data) = shared_data() else { return };
    let dir = otrf_kb(&data);
    let mut child = Command::new(BIN)
        .args(["chat", "--kb", dir.path().to_str().unwrap()])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all("How many events did pedro make?\n/sources\n/quit\n".as_bytes())
        .unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(output.status.success());
    let out = String::from_utf8_lossy(&output.stdout);
    assert!(out.contains("87"), "{out}");
    // /sources lists the cited documents with their raw-event links.
    assert!(out.contains("#record="), "{out}");
}

/// The question set (tests/fixtures/kb/questions.jsonl, expected values computed by
/// make_questions.py) with no model: floors a little under what was measured, so a regression
/// in the planner, the index or the answers fails here.
#[test]
fn the_question_set_keeps_its_floors_with_no_model() {
    let Some(data) = shared_data() else { return };
    let questions = workspace().join("tests/fixtures/kb/questions.jsonl");
    let report = json(&trailguard(&[
        "kb",
        "eval",
        questions.to_str().unwrap(),
        "--data",
        data.to_str().unwrap(),
        "--json",
    ]));
    let overall = &report["overall"];
    let n = overall["questions"].as_u64().unwrap();
    assert!(n >= 60, "{n} questions");
    let language = |name: &str| -> Value {
        report["by_language"]
            .as_array()
            .unwrap()
            .iter()
            .find(|pair| pair[0] == name)
            .map(|pair| pair[1].clone())
            .unwrap_or_else(|| panic!("no {name} scores"))
    };
    assert_eq!(language("en")["questions"], language("ko")["questions"]);
    let correct = overall["correct"].as_u64().unwrap();
    // Measured: 68/68, recall@5 0.991 (ties in time broken by document id, so stable), citation
    // validity 1.0, 8/8 unanswerable said so.
    assert!(correct >= 66, "correct {correct}/{n}: {}", overall);
    assert!(
        overall["recall_at_5"].as_f64().unwrap() >= 0.97,
        "{overall}"
    );
    assert!(
        overall["citation_validity"].as_f64().unwrap() >= 0.98,
        "{overall}"
    );
    assert!(
        overall["unanswerable_as_such"].as_f64().unwrap() >= 0.87,
        "{overall}"
    );
    for name in ["en", "ko"] {
        let scores = language(name);
        assert!(
            scores["correct"].as_u64().unwrap() >= 33,
            "{name}: {scores}"
        );
    }
}

#[test]
fn run_adds_each_event_and_its_outcome_to_the_knowledge_base_once() {
    let Some(data) = shared_data() else { return };
    let records = otrf_records(&data).len() as u64;
    let work = tempfile::tempdir().unwrap();
    let kb = work.path().join("kb");
    let run = |_: u32| {
        Command::new(BIN)
            .args([
                "run",
                data.join(OTRF).to_str().unwrap(),
                "--kb",
                kb.to_str().unwrap(),
            ])
            .args(["--model", "deterministic"])
            .arg("--bucket-root")
            .arg(work.path())
            .arg("--alerts")
            .arg(work.path().join("alerts.jsonl"))
            .output()
            .expect("spawn trailguard")
    };
    let first = run(1);
    assert!(
        first.status.code().is_some(),
        "{}",
        String::from_utf8_lossy(&first.stderr)
    );
    let stats = kb_stats(&kb);
    // One event document and one outcome document per execution.
    assert_eq!(stats["documents"].as_u64(), Some(2 * records), "{stats}");
    let kinds = stats["kinds"].to_string();
    assert!(
        kinds.contains("outcome") && kinds.contains("event"),
        "{kinds}"
    );
    run(2);
    let stats = kb_stats(&kb);
    assert_eq!(stats["documents"].as_u64(), Some(2 * records), "{stats}");
}

/// The workflow's "Store In Knowledge Base" step, run locally: a passport scan uploaded to the
/// bucket is deleted, and the analyst's "was anything deleted?" is answered from that outcome,
/// citing it. Needs no shared data: the demo's two image uploads (the first line of its events
/// file and `image-uploads.jsonl`) and their images.
#[test]
fn a_deleted_passport_scan_is_answered_from_the_workflow_outcome() {
    let fixtures = workspace().join("tests/fixtures/demo");
    let work = tempfile::tempdir().unwrap();
    let buckets = work.path().join("buckets");
    let uploads = buckets.join("trailguard-uploads/uploads");
    std::fs::create_dir_all(&uploads).unwrap();
    for name in ["passport-scan.png", "receipt.png"] {
        std::fs::copy(fixtures.join("images").join(name), uploads.join(name)).unwrap();
    }
    let passport_upload = std::fs::read_to_string(fixtures.join("events.jsonl")).unwrap();
    let passport_upload = passport_upload.lines().next().unwrap();
    assert!(passport_upload.contains("uploads/passport-scan.png"));
    let receipt_upload = std::fs::read_to_string(fixtures.join("image-uploads.jsonl")).unwrap();
    let events = work.path().join("uploads.jsonl");
    std::fs::write(&events, format!("{passport_upload}\n{receipt_upload}")).unwrap();
    let kb = work.path().join("kb");
    let path = |p: &Path| p.to_str().unwrap().to_string();
    trailguard(&[
        "run",
        &path(&events),
        "--kb",
        &path(&kb),
        "--model",
        "deterministic",
        "--bucket-root",
        &path(&buckets),
        "--alerts",
        &path(&work.path().join("alerts.jsonl")),
    ]);
    assert!(!uploads.join("passport-scan.png").exists(), "deleted");
    assert!(uploads.join("receipt.png").exists(), "kept");

    let answer = json(&trailguard(&[
        "ask",
        "--kb",
        kb.to_str().unwrap(),
        "--json",
        "Was anything deleted?",
    ]));
    let text = answer["answer"].as_str().unwrap();
    assert!(text.contains("passport-scan.png"), "{answer}");
    assert!(!text.contains("receipt.png"), "{answer}");
    let citations: Vec<&str> = answer["citations"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .collect();
    // The passport upload's outcome document (`out-<eventID>~<hash>`) backs the answer.
    assert!(
        citations
            .iter()
            .any(|id| id.starts_with("out-00000000-0000-4000-8000-000000000001~")),
        "{answer}"
    );
    let stats = kb_stats(&kb);
    assert!(stats["kinds"].to_string().contains("outcome"), "{stats}");
}
