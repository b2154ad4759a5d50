//! Log-analysis benchmark of the engine: one JSON line per prompt on stdout (tokens, prompt and
//! generation tok/s, stop reason, JSON validity, the answer).
//!
//! `bench MODEL.gguf RECORDS.jsonl free|schema|bounded N THREADS [en|ko]`
//!
//! RECORDS is either prepared prompts (`{"rule_id", "log": "<compact JSON text>"}` per line) or
//! Panther's labelled file (`log` is an object): then every 7th line whose rule is new and whose
//! compact record is under 1500 characters is taken, as the research run did.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // a benchmark tool
use std::collections::HashSet;
use std::ops::ControlFlow;
use std::time::Instant;

use serde_json::{json, Value};
use trailguard_gguf::{GenerateRequest, LoadOptions, LocalModel, Role};

fn records(path: &str, n: usize) -> Vec<(Value, String)> {
    let text = std::fs::read_to_string(path).unwrap();
    let mut seen = HashSet::new();
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let row: Value = serde_json::from_str(line).unwrap();
        match &row["log"] {
            Value::String(log) => out.push((row["rule_id"].clone(), log.clone())),
            log @ Value::Object(_) => {
                let compact = serde_json::to_string(log).unwrap();
                if i % 7 != 0 || compact.len() > 1500 || !seen.insert(row["rule_id"].to_string()) {
                    continue;
                }
                out.push((row["rule_id"].clone(), compact));
            }
            _ => continue,
        }
        if out.len() == n {
            break;
        }
    }
    out
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let a: Vec<String> = std::env::args().collect();
    if a.len() < 6 {
        return Err(
            "usage: bench MODEL.gguf RECORDS.jsonl free|schema|bounded N THREADS [en|ko]".into(),
        );
    }
    let (model_path, records_path, mode, n, threads) = (
        &a[1],
        &a[2],
        a[3].as_str(),
        a[4].parse::<usize>()?,
        a[5].parse::<u32>()?,
    );
    let lang = a.get(6).map_or("en", String::as_str);
    let t0 = Instant::now();
    let model = LocalModel::load(
        model_path.as_ref(),
        LoadOptions {
            threads,
            context_len: 2048,
            seed: 0,
        },
    )?;
    eprintln!(
        "load_s {:.3} {:?}",
        t0.elapsed().as_secs_f64(),
        model.info()
    );
    let schema = json!({"type":"object","properties":{"event_title":{"type":"string"},"summarize":{"type":"string"},"threat_level":{"type":"string","enum":["low","medium","high"]},"reason":{"type":"string"}},"required":["event_title","summarize","threat_level"]});
    let bounded = json!({"type":"object","properties":{"event_title":{"type":"string","maxLength":80},"summarize":{"type":"string","maxLength":300},"threat_level":{"type":"string","enum":["low","medium","high"]},"reason":{"type":"string","maxLength":300}},"required":["event_title","summarize","threat_level"]});
    let constraint = match mode {
        "free" => None,
        "schema" => Some(schema.clone()),
        "bounded" => Some(bounded),
        other => return Err(format!("mode {other}: use free, schema or bounded").into()),
    };
    let mut system = "You are a cloud security analyst. Read the AWS CloudTrail record and reply with ONLY a JSON object with the keys \"event_title\" (short title), \"summarize\" (one sentence), \"threat_level\" (one of \"low\", \"medium\", \"high\") and \"reason\" (one sentence). No markdown, no extra text.".to_string();
    if lang == "ko" {
        system.push_str(" Write the values of event_title, summarize and reason in Korean (한국어로 작성하세요).");
    }
    for (rule_id, log) in records(records_path, n) {
        let request = GenerateRequest {
            system: Some(system.clone()),
            messages: vec![(Role::User, format!("CloudTrail record:\n{log}"))],
            max_tokens: 256,
            json_schema: constraint.clone(),
            ..GenerateRequest::default()
        };
        let start = Instant::now();
        let mut first: Option<f64> = None;
        let out = model.generate(&request, &mut |_| {
            first.get_or_insert(start.elapsed().as_secs_f64());
            ControlFlow::Continue(())
        })?;
        let total = start.elapsed().as_secs_f64();
        let ttft = first.unwrap_or(total);
        let parsed: Option<Value> = serde_json::from_str(out.text.trim()).ok();
        let schema_ok = parsed
            .as_ref()
            .is_some_and(|v| trailguard_gguf::schema::validate(&schema, v).is_empty());
        let repaired_ok = trailguard_gguf::schema::extract_json_object(&out.text)
            .is_some_and(|v| trailguard_gguf::schema::validate(&schema, &v).is_empty());
        println!(
            "{}",
            json!({"engine":"trailguard-gguf/llama.cpp","rule_id":rule_id,"mode":mode,"threads":threads,"prompt_tokens":out.input_tokens,
            "pp_s":ttft,"pp_tps":out.input_tokens as f64/ttft,"gen_tokens":out.output_tokens,"tg_s":total-ttft,
            "tg_tps":(out.output_tokens.saturating_sub(1)) as f64/(total-ttft).max(1e-9),"valid_json":parsed.is_some(),"schema_ok":schema_ok,
            "repaired_schema_ok":repaired_ok,"stop_reason":format!("{:?}",out.stop_reason),"text":out.text})
        );
    }
    Ok(())
}
