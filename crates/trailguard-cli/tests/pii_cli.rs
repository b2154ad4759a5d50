//! `trailguard pii` and `trailguard bench pii` as a user runs them: verdicts, error lines, exit
//! codes, policy flags, redacted copies. Fixtures in tests/fixtures/pii (synthetic values only).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test helpers

use serde_json::Value;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

const BIN: &str = env!("CARGO_BIN_EXE_trailguard");

fn fixture(name: &str) -> String {
    let path = Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../tests/fixtures/pii"
    ))
    .join(name);
    assert!(path.is_file(), "fixture missing: {}", path.display());
    path.display().to_string()
}

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

fn json_lines(output: &Output) -> Vec<Value> {
    String::from_utf8(output.stdout.clone())
        .unwrap()
        .lines()
        .map(|line| serde_json::from_str(line).expect("each stdout line is JSON"))
        .collect()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

fn entity<'a>(line: &'a Value, entity_type: &str) -> &'a Value {
    line["evidence"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["kind"] == entity_type)
        .unwrap_or_else(|| panic!("no {entity_type} in {line}"))
}

#[test]
fn mixed_batch_reports_every_image_and_exits_two() {
    let dir = tempfile::tempdir().unwrap();
    let text_as_png = dir.path().join("notes.png");
    std::fs::write(&text_as_png, "Meeting notes: bring the badge.\n").unwrap();
    let text_as_png = text_as_png.display().to_string();
    let images = [
        fixture("synthetic_card_rrn.png"),
        fixture("truncated.png"),
        fixture("synthetic_no_pii_receipt.png"),
        fixture("empty.png"),
        text_as_png.clone(),
        fixture("not_an_image.pdf"),
        fixture("bomb_header_100000x100000.png"),
    ];
    let mut args = vec!["pii", "--jobs", "2"];
    args.extend(images.iter().map(String::as_str));
    let output = run(&args, None);
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    let lines = json_lines(&output);
    // One line per input, in input order although two workers ran.
    let paths: Vec<&str> = lines.iter().map(|l| l["path"].as_str().unwrap()).collect();
    assert_eq!(paths, images.iter().map(String::as_str).collect::<Vec<_>>());

    let card = &lines[0];
    assert_eq!(card["pii_detected"], true, "{card}");
    assert_eq!(card["media_type_detected"], "image/png");
    assert!(
        card["reason"].as_str().unwrap().contains("CREDIT_CARD"),
        "{card}"
    );
    for kind in ["CREDIT_CARD", "KR_RRN"] {
        let e = entity(card, kind);
        assert_eq!(e["counted"], true, "{e}");
        assert!(e["confidence"].as_f64().unwrap() >= 0.5, "{e}");
        assert!(e["bbox"]["width"].as_u64().unwrap() > 0, "{e}");
        // Masked: the full number never leaves the detector.
        assert!(!e["masked_value"].as_str().unwrap().contains("4111"), "{e}");
    }

    let receipt = &lines[2];
    assert_eq!(receipt["pii_detected"], false, "{receipt}");
    assert!(receipt["error"].is_null());

    let errors: Vec<(&str, &Value)> = [1, 3, 4, 5, 6]
        .iter()
        .map(|&i| (lines[i]["error"].as_str().unwrap_or("none"), &lines[i]))
        .collect();
    let codes: Vec<&str> = errors.iter().map(|(code, _)| *code).collect();
    assert_eq!(
        codes,
        [
            "corrupt",
            "empty",
            "unsupported_type",
            "unsupported_type",
            "too_many_pixels"
        ]
    );
    for (_, line) in &errors {
        assert!(line["pii_detected"].is_null(), "{line}");
        assert!(!line["detail"].as_str().unwrap().is_empty(), "{line}");
    }
    assert_eq!(lines[1]["media_type_detected"], "image/png");
    // A text file named .png: the extension's claim is kept, the magic bytes decide.
    assert_eq!(lines[4]["media_type_declared"], "image/png");
    assert!(lines[4]["media_type_detected"].is_null());
    assert!(
        lines[4]["detail"].as_str().unwrap().contains("text"),
        "{}",
        lines[4]
    );
    assert!(lines[5]["detail"].as_str().unwrap().contains("PDF"));
    assert!(lines[6]["detail"]
        .as_str()
        .unwrap()
        .contains("100000x100000"));

    let err = stderr(&output);
    assert!(
        err.contains(&format!("error: {text_as_png}: not a supported image")),
        "{err}"
    );
    assert!(
        err.contains("checked 7 images: 1 with PII, 1 without, 5 not checked"),
        "{err}"
    );
}

#[test]
fn clean_batch_exits_zero() {
    let output = run(
        &[
            "pii",
            "--engine",
            "tesseract",
            "--timings",
            &fixture("synthetic_no_pii_receipt.png"),
        ],
        None,
    );
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let lines = json_lines(&output);
    assert_eq!(lines.len(), 1);
    assert_eq!(lines[0]["pii_detected"], false);
    assert!(
        lines[0]["reason"].as_str().unwrap().starts_with("no PII"),
        "{}",
        lines[0]
    );
    // Tesseract engine: no counted entity after the first pass, so the sparse-text second pass ran.
    assert_eq!(lines[0]["ocr_passes"], 2, "{}", lines[0]);
    assert!(lines[0]["stage_ms"]["ocr"].as_u64().unwrap() > 0);
}

#[test]
fn redacted_copy_is_written_and_holds_no_pii() {
    let out = tempfile::tempdir().unwrap();
    let redact_dir = out.path().join("redacted");
    let output = run(
        &[
            "pii",
            "--redact",
            redact_dir.to_str().unwrap(),
            &fixture("synthetic_card_rrn.png"),
            &fixture("synthetic_no_pii_receipt.png"),
        ],
        None,
    );
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let lines = json_lines(&output);
    let copy = PathBuf::from(lines[0]["redacted"].as_str().expect("redacted path"));
    assert_eq!(copy, redact_dir.join("synthetic_card_rrn.redacted.png"));
    let bytes = std::fs::read(&copy).unwrap();
    assert!(bytes.starts_with(b"\x89PNG\r\n\x1a\n"));
    // Only images with PII get a copy.
    assert!(lines[1].get("redacted").is_none());
    assert_eq!(std::fs::read_dir(&redact_dir).unwrap().count(), 1);
    // The boxes really cover the numbers: the copy itself is clean.
    let again = run(&["pii", copy.to_str().unwrap()], None);
    assert_eq!(again.status.code(), Some(0), "{}", stderr(&again));
    let line = &json_lines(&again)[0];
    assert_eq!(line["pii_detected"], false, "{line}");
}

#[test]
fn policy_from_flags_and_config_file() {
    let card = fixture("synthetic_card_rrn.png");
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("policy.toml");
    std::fs::write(&config, "[policy]\nentity_types = [\"KR_RRN\"]\n").unwrap();
    // Config counts resident numbers only; the flag then narrows it to e-mail addresses.
    let output = run(
        &["pii", "--config", config.to_str().unwrap(), &card, &card],
        None,
    );
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let line = &json_lines(&output)[0];
    assert_eq!(line["pii_detected"], true, "{line}");
    assert_eq!(entity(line, "KR_RRN")["counted"], true);
    assert_eq!(entity(line, "CREDIT_CARD")["counted"], false);

    let output = run(
        &[
            "pii",
            "--config",
            config.to_str().unwrap(),
            "--types",
            "email_address",
            &card,
        ],
        None,
    );
    let line = &json_lines(&output)[0];
    assert_eq!(line["pii_detected"], false, "{line}");
    assert!(
        line["reason"]
            .as_str()
            .unwrap()
            .contains("not counted by policy"),
        "{line}"
    );

    let output = run(&["pii", "--min-confidence", "0.99", &card], None);
    let line = &json_lines(&output)[0];
    assert_eq!(line["pii_detected"], false, "{line}");
    assert!(
        line["reason"]
            .as_str()
            .unwrap()
            .contains("below their minimum confidence"),
        "{line}"
    );
}

#[test]
fn directories_and_stdin_lists_are_expanded() {
    let dir = tempfile::tempdir().unwrap();
    let nested = dir.path().join("uploads/2026");
    std::fs::create_dir_all(&nested).unwrap();
    std::fs::copy(fixture("synthetic_card_rrn.png"), nested.join("scan.png")).unwrap();
    std::fs::write(dir.path().join("uploads/readme.txt"), "not an image").unwrap();
    let list = format!("{}\n", dir.path().join("uploads").display());
    let output = run(&["pii", "-"], Some(list.as_bytes()));
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let lines = json_lines(&output);
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert!(lines[0]["path"]
        .as_str()
        .unwrap()
        .ends_with("uploads/2026/scan.png"));
    assert_eq!(lines[0]["pii_detected"], true);
}

#[test]
fn usage_errors_are_fatal_with_clear_messages() {
    let output = run(
        &["pii", "--types", "CREDIT_KARD", &fixture("empty.png")],
        None,
    );
    assert_eq!(output.status.code(), Some(1));
    let err = stderr(&output);
    assert!(err.contains("unknown entity type \"CREDIT_KARD\""), "{err}");
    assert!(err.contains("KR_RRN"), "{err}");
    assert!(output.stdout.is_empty());

    let output = run(
        &[
            "pii",
            "--engine",
            "tesseract",
            "--face-cascade",
            "/nonexistent/cascade.xml",
            &fixture("empty.png"),
        ],
        None,
    );
    assert_eq!(output.status.code(), Some(1));
    assert!(
        stderr(&output).contains("/nonexistent/cascade.xml"),
        "{}",
        stderr(&output)
    );
}

#[test]
fn bench_names_the_missing_data_directory() {
    let output = run(
        &[
            "bench",
            "pii",
            "--parts",
            "presidio",
            "--data",
            "/nonexistent/shared-data",
        ],
        None,
    );
    assert_eq!(output.status.code(), Some(1));
    let err = stderr(&output);
    assert!(
        err.contains("/nonexistent/shared-data/images/presidio/labels.json"),
        "{err}"
    );
    assert!(err.contains("TRAILGUARD_DATA"), "{err}");
}
