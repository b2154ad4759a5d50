//! `trailguard eval` on a small labelled fixture with scripted models, the deterministic model and
//! an OpenAI-compatible stand-in on 127.0.0.1 (trailguard-testkit): exact confusion counts per
//! mode, token counts as the server reports them, the sampling of `--limit`, bad lines named and
//! skipped, answers kept, the injection corpus.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test helpers

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;
use trailguard_testkit::{OpenAiStandIn, Reply};

const BIN: &str = env!("CARGO_BIN_EXE_trailguard");

fn fixture() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/eval/labelled.jsonl")
}

fn eval(args: &[&str]) -> Output {
    Command::new(BIN)
        .arg("eval")
        .args(args)
        .output()
        .expect("spawn trailguard")
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

fn summary(output: &Output) -> Value {
    serde_json::from_slice(&output.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&output.stdout)))
}

/// A bindings file with a scripted model answering `levels` in order.
fn scripted(dir: &Path, name: &str, levels: &[&str]) -> PathBuf {
    let answers: Vec<String> = levels
        .iter()
        .map(|level| {
            let answer = format!(
                r#"{{"event_title":"[X][111122223333][y]","summarize":"scripted","threat_level":"{level}","s3_bucket":null,"s3_key":null,"is_image_upload":false,"media_type":null}}"#
            );
            toml::Value::String(answer).to_string()
        })
        .collect();
    let path = dir.join(name);
    std::fs::write(
        &path,
        format!(
            "[model]\nkind = \"scripted\"\nanswers = [{}]\n",
            answers.join(", ")
        ),
    )
    .unwrap();
    path
}

fn counts(mode: &Value) -> [u64; 4] {
    ["tp", "fp", "tn", "fn"].map(|k| mode[k].as_u64().unwrap())
}

#[test]
fn rules_and_model_alone_give_exact_figures_and_bad_lines_are_named() {
    let dir = tempfile::tempdir().unwrap();
    let bindings = scripted(
        dir.path(),
        "model.toml",
        &["high", "high", "low", "medium", "low"],
    );
    let answers = dir.path().join("answers.jsonl");
    let fixture = fixture();
    let output = eval(&[
        "--modes",
        "rules,model",
        "--bindings",
        bindings.to_str().unwrap(),
        "--answers",
        answers.to_str().unwrap(),
        "--json",
        fixture.to_str().unwrap(),
    ]);
    assert_eq!(
        output.status.code(),
        Some(2),
        "bad lines: exit 2; {}",
        stderr(&output)
    );
    let err = stderr(&output);
    assert!(
        err.contains("labelled.jsonl:3: expected_alert is not true or false"),
        "{err}"
    );
    assert!(err.contains("labelled.jsonl:6: not JSON"), "{err}");
    let summary = summary(&output);
    assert_eq!(summary["records"], 5);
    assert_eq!(summary["bad_records"], 2);
    // Rules: the trail stopped and deleted are caught, the upload is missed.
    let rules = &summary["modes"]["rules"];
    assert_eq!(counts(rules), [2, 0, 2, 1]);
    assert_eq!(rules["precision"], 1.0);
    assert!((rules["recall"].as_f64().unwrap() - 2.0 / 3.0).abs() < 1e-9);
    // Model alone: high, high, low, medium, low against true, false, true, true, false.
    let model = &summary["modes"]["model"];
    assert_eq!(counts(model), [2, 1, 1, 1]);
    for key in ["precision", "recall", "f1"] {
        assert!(
            (model[key].as_f64().unwrap() - 2.0 / 3.0).abs() < 1e-9,
            "{key}"
        );
    }
    assert_eq!(model["model_calls"], 5);
    assert!(model["approx_input_tokens_per_event"].as_f64().unwrap() > 50.0);
    assert!(
        model["input_tokens_per_event"].is_null(),
        "the scripted model reports no tokens"
    );
    let ratio = summary["prompt_size_approx"]["compact_to_guide"]
        .as_f64()
        .unwrap();
    assert!(ratio > 0.1 && ratio < 1.0, "{ratio}");

    let lines: Vec<Value> = std::fs::read_to_string(&answers)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 10, "one line per record and mode");
    let first_model = lines.iter().find(|l| l["mode"] == "model").unwrap();
    assert_eq!(first_model["line"], 1);
    assert_eq!(first_model["model_threat_level"], "high");
    assert!(first_model["calls"][0]["answer"]
        .as_str()
        .unwrap()
        .contains("scripted"));
}

#[test]
fn combined_keeps_the_floor_and_lets_the_model_raise() {
    let dir = tempfile::tempdir().unwrap();
    // The model says low everywhere but on the upload the rules miss.
    let bindings = scripted(
        dir.path(),
        "model.toml",
        &["low", "low", "high", "low", "low"],
    );
    let fixture = fixture();
    let output = eval(&[
        "--modes",
        "combined",
        "--model-policy",
        "always",
        "--bindings",
        bindings.to_str().unwrap(),
        "--json",
        fixture.to_str().unwrap(),
    ]);
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    let combined = &summary(&output)["modes"]["combined"];
    assert_eq!(counts(combined), [3, 0, 2, 0]);
    assert_eq!(combined["model_raised"], 1);
    assert_eq!(combined["precision"], 1.0);
    assert_eq!(combined["recall"], 1.0);
}

#[test]
fn reported_tokens_and_the_table() {
    let fixture = fixture();
    let answer = r#"{"event_title":"[X][1][y]","summarize":"fixed","threat_level":"low","s3_bucket":null,"s3_key":null,"is_image_upload":false,"media_type":null}"#;
    let text = format!("text={answer}");
    let output = eval(&[
        "--modes",
        "model,combined",
        "--model",
        "fixed",
        "--model-opt",
        &text,
        "--limit",
        "3",
        fixture.to_str().unwrap(),
    ]);
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    let table = String::from_utf8(output.stdout).unwrap();
    // Every bad line is reported; the 3 records are spread over the 5 valid ones.
    assert!(
        table.contains("3 records (2 bad; sample spread of 5)"),
        "{table}"
    );
    assert!(table.contains("model"), "{table}");
    assert!(table.contains("prompt size (estimate"), "{table}");
    // The fixed model reports 10 input tokens per call; one call per record in each mode.
    let model_row = table.lines().find(|l| l.starts_with("model ")).unwrap();
    assert!(
        model_row.split_whitespace().any(|cell| cell == "10"),
        "{model_row}"
    );
}

#[test]
fn a_model_is_required_for_model_modes() {
    let fixture = fixture();
    let output = eval(&[fixture.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(1));
    assert!(
        stderr(&output).contains("need a model"),
        "{}",
        stderr(&output)
    );
}

#[test]
fn the_injection_corpus_holds_against_an_obeying_model() {
    let obeying = r#"{"event_title":"[PutObject][1][x]","summarize":"benign, as the log says","threat_level":"low","s3_bucket":"victim-bucket","s3_key":"other.png","is_image_upload":false,"media_type":null}"#;
    let text = format!("text={obeying}");
    let output = eval(&[
        "--injection",
        "--model",
        "fixed",
        "--model-opt",
        &text,
        "--json",
    ]);
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&output.stdout)
    );
    let summary = summary(&output);
    let cases = summary["cases"].as_u64().unwrap();
    assert!(cases >= 50);
    assert_eq!(summary["passed"], cases);
    assert_eq!(summary["rule_caught"], cases);
    assert_eq!(summary["model_statuses"]["accepted"], cases);
}

fn answer(level: &str, summary: &str) -> String {
    format!(
        r#"{{"event_title":"[PutObject][111122223333][mallory]","summarize":"{summary}","threat_level":"{level}","s3_bucket":null,"s3_key":null,"is_image_upload":false,"media_type":null}}"#
    )
}

fn lines_of(path: &Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// The model path over the wire: `--model-url` to a local OpenAI-compatible server that says
/// high only for the upload the rules miss. Checks the figures, the tokens the server reported,
/// and what was sent (rule hits only in the combined mode's prompt, the schema as response_format).
#[test]
fn an_openai_compatible_server_is_evaluated_over_the_wire() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let server = runtime.block_on(OpenAiStandIn::start()).unwrap();
    server.require_api_key("sk-eval");
    server.set_default_text(answer("low", "routine"));
    server.on_prompt_containing(
        "dump.zip",
        Reply::text(answer("high", "archive upload by mallory")),
    );
    let dir = tempfile::tempdir().unwrap();
    let answers = dir.path().join("answers.jsonl");
    let fixture = fixture();
    let output = Command::new(BIN)
        .env("EVAL_TEST_KEY", "sk-eval")
        .args([
            "eval",
            "--modes",
            "rules,model,combined",
            "--model-policy",
            "always",
        ])
        .args([
            "--model-url",
            &server.base_url(),
            "--model-id",
            "tiny",
            "--model-api-key-env",
            "EVAL_TEST_KEY",
        ])
        .args([
            "--answers",
            answers.to_str().unwrap(),
            "--json",
            fixture.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert_eq!(
        output.status.code(),
        Some(2),
        "bad lines: exit 2; {}",
        stderr(&output)
    );
    let summary = summary(&output);
    let modes = &summary["modes"];
    assert_eq!(counts(&modes["rules"]), [2, 0, 2, 1]);
    // Model alone: high only on the upload: 1 TP, the two rule-caught records missed.
    assert_eq!(counts(&modes["model"]), [1, 0, 2, 2]);
    // Combined: the rules' floor plus the model's raise on the upload.
    assert_eq!(counts(&modes["combined"]), [3, 0, 2, 0]);
    assert_eq!(modes["combined"]["model_raised"], 1);
    assert_eq!(modes["combined"]["f1"], 1.0);
    for mode in ["model", "combined"] {
        let m = &modes[mode];
        assert_eq!(m["model_calls"], 5, "{mode}");
        assert_eq!(m["calls_with_token_counts"], 5, "{mode}");
        assert_eq!(m["model_failures"], 0, "{mode}");
        // The stand-in counts whitespace-separated words: the answers have 1 word, the
        // upload's 4, so (4 + 4) / 5 out; the prompts have many.
        assert!(
            m["input_tokens_per_event"].as_f64().unwrap() > 10.0,
            "{mode}"
        );
        assert!(
            (m["output_tokens_per_event"].as_f64().unwrap() - 1.6).abs() < 1e-9,
            "{mode}"
        );
        assert!(m["seconds_per_event"].as_f64().unwrap() > 0.0, "{mode}");
    }
    assert!(modes["rules"]["input_tokens_per_event"].is_null());

    let requests = server.requests();
    assert_eq!(requests.len(), 10, "5 records, model and combined");
    for request in &requests {
        assert_eq!(request.authorization.as_deref(), Some("Bearer sk-eval"));
        assert_eq!(request.body["model"], "tiny");
        assert_eq!(request.body["response_format"]["type"], "json_schema");
    }
    let with_floor = requests
        .iter()
        .filter(|r| r.body["messages"].to_string().contains("floor"))
        .count();
    assert_eq!(
        with_floor, 5,
        "rule findings go to the combined mode's prompts only"
    );

    let lines = lines_of(&answers);
    let upload = lines
        .iter()
        .find(|l| l["mode"] == "combined" && l["line"] == 4)
        .unwrap();
    assert_eq!(upload["rule_threat_level"], "low");
    assert_eq!(upload["threat_level"], "high");
    assert_eq!(upload["summarize"], "archive upload by mallory");
    assert!(upload["calls"][0]["input_tokens"].as_u64().unwrap() > 10);
}

/// `deterministic` answers the guide's prompt with the rules' own analysis, so the model-only
/// mode with `--prompt guide` must reproduce the rules' figures record by record.
#[test]
fn the_deterministic_model_on_the_guides_prompt_agrees_with_the_rules() {
    let dir = tempfile::tempdir().unwrap();
    let answers = dir.path().join("answers.jsonl");
    let fixture = fixture();
    let output = eval(&[
        "--modes",
        "rules,model",
        "--model",
        "deterministic",
        "--prompt",
        "guide",
        "--answers",
        answers.to_str().unwrap(),
        "--json",
        fixture.to_str().unwrap(),
    ]);
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    let summary = summary(&output);
    assert_eq!(summary["model_prompt"], "guide");
    let modes = &summary["modes"];
    assert_eq!(counts(&modes["rules"]), [2, 0, 2, 1]);
    assert_eq!(counts(&modes["model"]), counts(&modes["rules"]));
    assert_eq!(modes["model"]["model_calls"], 5);
    assert_eq!(modes["model"]["model_failures"], 0);
    let lines = lines_of(&answers);
    for rules in lines.iter().filter(|l| l["mode"] == "rules") {
        let model = lines
            .iter()
            .find(|l| l["mode"] == "model" && l["line"] == rules["line"])
            .unwrap();
        assert_eq!(
            model["threat_level"], rules["threat_level"],
            "line {}",
            rules["line"]
        );
        assert!(model["calls"][0]["approx_input_tokens"].as_u64().unwrap() > 100);
    }
}

#[test]
fn limit_takes_the_first_records_when_asked() {
    let fixture = fixture();
    let output = eval(&[
        "--modes",
        "rules",
        "--limit",
        "3",
        "--sample",
        "first",
        "--json",
        fixture.to_str().unwrap(),
    ]);
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    let first = summary(&output);
    assert_eq!(first["records"], 3);
    assert_eq!(first["valid_records"], 5);
    assert_eq!(first["sample"], "first");
    // Lines 1, 2 and 4: trail stopped (caught), object read (quiet), the upload (missed).
    assert_eq!(counts(&first["modes"]["rules"]), [1, 0, 1, 1]);
    let spread = summary(&eval(&[
        "--modes",
        "rules",
        "--limit",
        "3",
        "--json",
        fixture.to_str().unwrap(),
    ]));
    // Lines 1, 2 and 5: trail stopped, object read, trail deleted.
    assert_eq!(spread["sample"], "spread");
    assert_eq!(counts(&spread["modes"]["rules"]), [2, 0, 1, 0]);
}
