//! Throughput of the guide's JSONata expressions, in evaluations per second, against a
//! hand-written serde_json baseline doing the same work in the same run.
//! Run: `cargo run --release -p trailguard-jsonata --example jsonata_bench [-- ITERATIONS]`.

#![allow(clippy::result_large_err)]

use serde_json::{json, Value};
use std::time::Instant;
use trailguard_jsonata::{Environment, Expression};

fn states() -> Value {
    json!({
        "input": {"pii_detected": "true", "threat_level": "high", "s3_bucket": "b", "s3_key": "k.png"},
        "result": {"Output": {"Message": {"Content": [{"Text":
            "```json\n{\"event_title\": \"PutObject\", \"summarize\": \"An image was uploaded\", \"threat_level\": \"high\", \"s3_bucket\": \"b\", \"s3_key\": \"k.png\", \"is_image_upload\": true, \"media_type\": \"image/png\"}\n```"
        }]}}}
    })
}

fn rate(iterations: u32, mut f: impl FnMut() -> Option<Value>) -> f64 {
    let started = Instant::now();
    let mut defined = 0u32;
    for _ in 0..iterations {
        if f().is_some() {
            defined += 1;
        }
    }
    assert_eq!(defined, iterations, "every evaluation must produce a value");
    f64::from(iterations) / started.elapsed().as_secs_f64()
}

fn baseline_parse(states: &Value) -> Option<Value> {
    let text = states
        .pointer("/result/Output/Message/Content/0/Text")?
        .as_str()?;
    let cleaned = text.replace("```json", "").replace("```", "");
    serde_json::from_str(&cleaned).ok()
}

fn baseline_condition(states: &Value) -> Option<Value> {
    let v = states.pointer("/input/pii_detected")?;
    Some(Value::Bool(v == "true"))
}

fn main() -> Result<(), String> {
    let iterations: u32 = std::env::args()
        .nth(1)
        .map(|s| s.parse().map_err(|e| format!("bad ITERATIONS: {e}")))
        .transpose()?
        .unwrap_or(200_000);
    let states = states();
    let mut env = Environment::step_functions();
    env.bind("states", states.clone());
    let cases = [
        (
            "parse-model-output",
            r#"$parse($replace($replace($states.result.Output.Message.Content[0].Text, "```json",""), "```",""))"#,
            baseline_parse as fn(&Value) -> Option<Value>,
        ),
        (
            "pii-condition",
            "$states.input.pii_detected = 'true'",
            baseline_condition,
        ),
    ];
    println!("expression\tjsonata evals/s\tbaseline evals/s\tratio (jsonata/baseline)");
    for (name, source, baseline) in cases {
        let expr = Expression::parse(source).map_err(|e| e.to_string())?;
        let ours = rate(iterations, || expr.evaluate(None, &env).ok().flatten());
        let base = rate(iterations, || baseline(&states));
        println!("{name}\t{ours:.0}\t{base:.0}\t{:.3}", ours / base);
    }
    // The runner binds a fresh $states per evaluation: include that cost too.
    let expr =
        Expression::parse("$states.input.pii_detected = 'true'").map_err(|e| e.to_string())?;
    let with_bind = rate(iterations, || {
        let mut env = Environment::step_functions();
        env.bind("states", states.clone());
        expr.evaluate(None, &env).ok().flatten()
    });
    println!("pii-condition incl. new Environment + bind\t{with_bind:.0}\t-\t-");
    Ok(())
}
