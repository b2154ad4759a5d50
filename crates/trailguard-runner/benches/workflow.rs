//! Executions/s of `statemachine/security-audit.asl.json` on one core, with in-process
//! stand-ins (a fixed-rule analysis Lambda, a PII Lambda, an in-memory bucket and notifier),
//! and the share of time spent evaluating JSONata.
//!
//! `cargo bench -p trailguard-runner --bench workflow -- [EVENTS] [ROUNDS] [--analysis fixed|rules]`
//! (defaults 100000, 5, fixed). `fixed` isolates the engine; `rules` runs TrailGuard's real
//! deterministic log-analysis handler (embedded rules, no model) in-process, as `trailguard run` does.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // a benchmark binary

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use serde_json::{json, Value};
use trailguard_asl::{Bindings, Runner, StateMachine};
use trailguard_local::{DeterministicChat, MemoryStore, RecordingNotifier};
use trailguard_runner::handlers::AnalysisFunction;
use trailguard_runner::integrations::{FnLambda, LambdaBinding, Ports};
use trailguard_triage::{LogAnalysisHandler, Triage, TriageConfig};

const DEFINITION: &str = include_str!("../../../statemachine/security-audit.asl.json");

fn event(i: usize) -> Value {
    let image = i & 3 == 0;
    json!({
        "version": "0", "source": "aws.s3", "detail-type": "Object Created", "account": "123456789012",
        "time": "2024-11-04T10:00:00Z", "region": "us-east-1",
        "detail": {
            "bucket": { "name": "uploads" },
            "object": { "key": if image { format!("photos/{i}.png") } else { format!("logs/{i}.json") }, "size": 1024 },
            "requester": "123456789012", "source-ip-address": "203.0.113.7"
        }
    })
}

/// Fixed rules standing in for the analysis Lambda: level by index, image by extension.
fn analyse(event: Value) -> Value {
    let key = event
        .pointer("/detail/object/key")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    let level = ["low", "medium", "high"][key.len() % 3];
    json!({
        "event_title": "[PutObject][123456789012][alice]",
        "summarize": "An object was uploaded.",
        "threat_level": level,
        "s3_bucket": "uploads",
        "s3_key": key,
        "is_image_upload": key.ends_with(".png"),
        "media_type": if key.ends_with(".png") { Value::from("image/png") } else { Value::Null }
    })
}

/// Baseline: the same path shape written in JSONPath (no JSONata), run in the same process.
fn jsonpath_baseline() -> Value {
    let notify = |level: &str| {
        json!({
            "Type": "Task", "Resource": "arn:aws:states:::sns:publish",
            "Parameters": {
                "TopicArn": "arn:aws:sns:us-east-1:123456789012:alerts",
                "Subject": format!("TrailGuard alert: {level}"),
                "Message.$": "States.JsonToString($analysis)"
            },
            "ResultSelector": { "path": format!("threat-{level}"), "action": "notified", "level": level, "message_id.$": "$.MessageId" },
            "End": true
        })
    };
    json!({
        "StartAt": "Analyze Event",
        "States": {
            "Analyze Event": {
                "Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
                "Parameters": { "FunctionName": "trailguard-analysis", "Payload.$": "$" },
                "Assign": { "analysis.$": "$.Payload", "bucket.$": "$.Payload.s3_bucket", "key.$": "$.Payload.s3_key" },
                "OutputPath": "$.Payload",
                "Next": "Image Upload?"
            },
            "Image Upload?": {
                "Type": "Choice",
                "Choices": [ { "Variable": "$.is_image_upload", "BooleanEquals": true, "Next": "Detect PII" } ],
                "Default": "Threat Level?"
            },
            "Detect PII": {
                "Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
                "Parameters": { "FunctionName": "trailguard-pii", "Payload": { "s3_bucket.$": "$bucket", "s3_key.$": "$key" } },
                "ResultSelector": { "pii_detected.$": "$.Payload.pii_detected" },
                "Next": "PII Detected?"
            },
            "PII Detected?": {
                "Type": "Choice",
                "Choices": [ { "Variable": "$.pii_detected", "BooleanEquals": true, "Next": "Delete Image" } ],
                "Default": "Threat Low Message"
            },
            "Delete Image": {
                "Type": "Task", "Resource": "arn:aws:states:::aws-sdk:s3:deleteObject",
                "Parameters": { "Bucket.$": "$bucket", "Key.$": "$key" }, "End": true
            },
            "Threat Level?": {
                "Type": "Choice",
                "Choices": [
                    { "Variable": "$.threat_level", "StringEquals": "high", "Next": "Threat High Message" },
                    { "Variable": "$.threat_level", "StringEquals": "medium", "Next": "Threat Medium Message" }
                ],
                "Default": "Threat Low Message"
            },
            "Threat High Message": notify("high"),
            "Threat Medium Message": notify("medium"),
            "Threat Low Message": notify("low")
        }
    })
}

fn bindings(rules: bool) -> Bindings {
    let mut lambda = LambdaBinding::new();
    if rules {
        let (triage, _) = Triage::load(&[], None, TriageConfig::default()).unwrap();
        let handler = LogAnalysisHandler::new(Arc::new(triage));
        lambda.register(
            "trailguard-analysis",
            Arc::new(AnalysisFunction(Arc::new(handler))),
        );
    } else {
        lambda.register(
            "trailguard-analysis",
            Arc::new(FnLambda(|e: Value| Ok(analyse(e)))),
        );
    }
    lambda.register(
        "trailguard-pii",
        Arc::new(FnLambda(|p: Value| {
            let key = p["s3_key"].as_str().unwrap_or("");
            Ok(json!({ "pii_detected": key.len() & 1 == 0 }))
        })),
    );
    // The closing knowledge-base step: a stand-in (the documents of 100,000 executions would
    // fill memory); the step's JSONata and dispatch are measured all the same.
    lambda.register(
        "trailguard-kb-sync",
        Arc::new(FnLambda(|_: Value| Ok(json!({"documents": []})))),
    );
    let store = Arc::new(MemoryStore::new());
    Ports {
        functions: lambda,
        model: Arc::new(DeterministicChat::fixed("{}")),
        notifier: Arc::new(RecordingNotifier::new()),
        reader: store.clone(),
        writer: store,
    }
    .bindings()
}

/// Median executions/s and JSONata share over `rounds`, one core (current-thread runtime).
fn measure(runner: &Runner, inputs: &[Value], rounds: usize, label: &str) -> (f64, f64) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let mut rates = Vec::new();
    let mut shares = Vec::new();
    for round in 0..rounds {
        let jsonata_before = runner.jsonata_time();
        let started = Instant::now();
        let failed = rt.block_on(async {
            let mut failed = 0usize;
            for input in inputs {
                if runner.execute(input.clone()).await.status
                    != trailguard_asl::ExecutionStatus::Succeeded
                {
                    failed += 1;
                }
            }
            failed
        });
        let elapsed = started.elapsed();
        let jsonata = runner.jsonata_time() - jsonata_before;
        let rate = inputs.len() as f64 / elapsed.as_secs_f64();
        let share = jsonata.as_secs_f64() / elapsed.as_secs_f64();
        eprintln!("{label} round {round}: {rate:.0} executions/s, JSONata {:.1}% of time, {failed} failed", share * 100.0);
        assert_eq!(
            failed, 0,
            "{label}: executions failed; the figure would be meaningless"
        );
        rates.push(rate);
        shares.push(share);
    }
    rates.sort_by(f64::total_cmp);
    shares.sort_by(f64::total_cmp);
    (rates[rates.len() / 2], shares[shares.len() / 2])
}

fn main() {
    let all: Vec<String> = std::env::args().skip(1).collect();
    let rules = all
        .windows(2)
        .any(|w| w[0] == "--analysis" && w[1] == "rules");
    let args: Vec<String> = all
        .iter()
        .filter(|a| !a.starts_with("--") && *a != "rules" && *a != "fixed")
        .cloned()
        .collect();
    let events: usize = args.first().and_then(|a| a.parse().ok()).unwrap_or(100_000);
    let rounds: usize = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(5);
    let substitutions = HashMap::from([
        (
            "AnalysisFunctionArn".to_string(),
            "trailguard-analysis".to_string(),
        ),
        ("PiiFunctionArn".to_string(), "trailguard-pii".to_string()),
        (
            "KbSyncFunctionArn".to_string(),
            "trailguard-kb-sync".to_string(),
        ),
        (
            "AlertTopicArn".to_string(),
            "arn:aws:sns:us-east-1:123456789012:alerts".to_string(),
        ),
        ("PiiAction".to_string(), "delete".to_string()),
        ("QuarantineBucketName".to_string(), "quarantine".to_string()),
    ]);
    let machine = StateMachine::from_json(DEFINITION, &substitutions).unwrap();
    let runner = Runner::new(machine, bindings(rules))
        .unwrap()
        .with_history(false);
    let baseline = Runner::new(
        StateMachine::from_value(&jsonpath_baseline()).unwrap(),
        bindings(rules),
    )
    .unwrap()
    .with_history(false);
    let inputs: Vec<Value> = (0..events).map(event).collect();
    let (base_rate, _) = measure(&baseline, &inputs, rounds, "jsonpath-baseline");
    let (rate, share) = measure(&runner, &inputs, rounds, "security-audit");
    let analysis = if rules { "rules" } else { "fixed" };
    println!(
        "{{\"analysis\": \"{analysis}\", \"events\": {events}, \"rounds\": {rounds}, \"security_audit_executions_per_s\": {rate:.0}, \"jsonata_share\": {share:.3}, \"jsonpath_baseline_executions_per_s\": {base_rate:.0}, \"ratio_to_baseline\": {:.3}}}",
        rate / base_rate
    );
}
