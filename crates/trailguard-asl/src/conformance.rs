//! Runs the ASL conformance corpus (`asl-conformance/cases/*.json`): each case's definition
//! and input, replaying its recorded Task results, compared with AWS's recorded outcome.

use std::collections::{HashMap, VecDeque};
use std::path::Path;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use serde_json::{json, Map, Value};

use crate::bindings::{Bindings, TaskContext, TaskError, TaskHandler};
use crate::clock::ManualClock;
use crate::definition::StateMachine;
use crate::executor::{ExecutionStatus, Runner};

#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Failure {
    pub case: String,
    pub reason: String,
}

#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Report {
    pub passed: usize,
    pub total: usize,
    pub failures: Vec<Failure>,
}

impl Report {
    pub fn pass_rate(&self) -> f64 {
        if self.total == 0 {
            0.0
        } else {
            self.passed as f64 / self.total as f64
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ConformanceError {
    #[error("cannot read the conformance corpus at {path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
}

const LAMBDA_PLACEHOLDER: &str = "%LAMBDA_FUNCTION_ARN_LITERAL_PLACEHOLDER%";
const LAMBDA_ARN: &str = "arn:aws:lambda:us-east-1:111111111111:function:conformance-function";

/// Runs every `*.json` case in `dir` (or in `dir/cases`).
pub async fn run_conformance(dir: &Path) -> Result<Report, ConformanceError> {
    let cases_dir = if dir.join("cases").is_dir() {
        dir.join("cases")
    } else {
        dir.to_path_buf()
    };
    let io = |source| ConformanceError::Io {
        path: cases_dir.display().to_string(),
        source,
    };
    let mut files: Vec<_> = std::fs::read_dir(&cases_dir)
        .map_err(io)?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    files.sort();
    let mut report = Report {
        passed: 0,
        total: 0,
        failures: Vec::new(),
    };
    for file in files {
        let case = file
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        report.total += 1;
        let outcome = match std::fs::read_to_string(&file) {
            Ok(text) => match serde_json::from_str::<Value>(&text) {
                Ok(value) => {
                    let run = run_case(&value);
                    match tokio::time::timeout(std::time::Duration::from_secs(20), run).await {
                        Ok(r) => r,
                        Err(_) => Err("timed out after 20 s".to_string()),
                    }
                }
                Err(e) => Err(format!("case file is not JSON: {e}")),
            },
            Err(e) => Err(format!("cannot read case file: {e}")),
        };
        match outcome {
            Ok(()) => report.passed += 1,
            Err(reason) => report.failures.push(Failure { case, reason }),
        }
    }
    Ok(report)
}

fn replace_placeholder(value: &mut Value) {
    match value {
        Value::String(s) if s.contains(LAMBDA_PLACEHOLDER) => {
            *s = s.replace(LAMBDA_PLACEHOLDER, LAMBDA_ARN)
        }
        Value::Array(items) => items.iter_mut().for_each(replace_placeholder),
        Value::Object(map) => map.values_mut().for_each(replace_placeholder),
        _ => {}
    }
}

/// Runs one case; `Err` says how it differs from AWS's recorded outcome.
pub async fn run_case(case: &Value) -> Result<(), String> {
    let mut definition = case
        .get("definition")
        .cloned()
        .ok_or("case has no definition")?;
    replace_placeholder(&mut definition);
    let machine = StateMachine::from_value(&definition).map_err(|e| format!("load failed: {e}"))?;
    let behaviour = case
        .pointer("/placeholders")
        .and_then(Value::as_object)
        .and_then(|p| {
            p.values()
                .find_map(|v| v.get("lambda_behaviour").and_then(Value::as_str))
        })
        .unwrap_or("identity function")
        .to_string();
    let replay = Arc::new(Replay::new(case.get("tasks"), behaviour));
    let mut objects = HashMap::new();
    for object in case
        .pointer("/fixtures/s3_objects")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        if let (Some(b), Some(k), Some(body)) = (
            object.get("bucket").and_then(Value::as_str),
            object.get("key").and_then(Value::as_str),
            object.get("body").and_then(Value::as_str),
        ) {
            objects.insert((b.to_string(), k.to_string()), body.to_string());
        }
    }
    let mut bindings = Bindings::new();
    bindings.bind(
        "arn:aws:states:::s3:getObject",
        Arc::new(FixtureObjects { objects }),
    );
    bindings.fallback(replay);
    // 2024-11-04T00:00:00Z: after every timestamp the Wait cases use.
    let clock = ManualClock::new(1_730_678_400_000);
    let runner = Runner::new(machine, bindings)
        .map_err(|e| format!("bindings: {e}"))?
        .with_clock(clock);
    let input = match case.pointer("/input_raw").and_then(Value::as_str) {
        Some(raw) => {
            serde_json::from_str(raw).map_err(|e| format!("input_raw is not JSON: {e}"))?
        }
        None => case
            .get("input")
            .cloned()
            .unwrap_or(Value::Object(Map::new())),
    };
    let execution = runner.execute(input).await;
    let expected = case.get("expected").ok_or("case has no expected outcome")?;
    let status = match execution.status {
        ExecutionStatus::Succeeded => "SUCCEEDED",
        ExecutionStatus::Failed => "FAILED",
    };
    let expected_status = expected.get("status").and_then(Value::as_str).unwrap_or("");
    if status != expected_status {
        return Err(format!(
            "status {status}, expected {expected_status} (error {:?}, cause {:?}, output {})",
            execution.error,
            execution.cause,
            execution
                .output
                .as_ref()
                .map(|o| o.to_string())
                .unwrap_or_default()
        ));
    }
    if status == "SUCCEEDED" {
        let actual = execution.output.unwrap_or(Value::Null);
        let wanted = expected.get("output").cloned().unwrap_or(Value::Null);
        if !loose_eq(&actual, &wanted) {
            return Err(format!("output {actual}, expected {wanted}"));
        }
    } else {
        let wanted_error = expected.get("error").and_then(Value::as_str);
        if execution.error.as_deref() != wanted_error {
            return Err(format!(
                "error {:?}, expected {:?}",
                execution.error, wanted_error
            ));
        }
        let wanted_cause = expected.get("cause").cloned().unwrap_or(Value::Null);
        let actual_cause = match (&execution.cause, &wanted_cause) {
            (Some(c), Value::Object(_)) => {
                serde_json::from_str(c).unwrap_or(Value::String(c.clone()))
            }
            (Some(c), _) => Value::String(c.clone()),
            (None, _) => Value::Null,
        };
        if !loose_eq(&actual_cause, &wanted_cause) {
            return Err(format!("cause {actual_cause}, expected {wanted_cause}"));
        }
    }
    Ok(())
}

/// Tokens the snapshot put in place of run-specific values.
fn is_normalised(expected: &str) -> bool {
    matches!(
        expected,
        "date"
            | "timestamp"
            | "RequestId"
            | "x-amzn-RequestId"
            | "X-Amzn-Trace-Id"
            | "lambda_function_name"
            | "bucket-name"
            | "snf_role_arn"
    )
}

/// `<uuid:1>`-style placeholders in `expected` match any text.
fn pattern_match(expected: &str, actual: &str) -> bool {
    let mut parts = Vec::new();
    let mut rest = expected;
    while let Some(start) = rest.find('<') {
        match rest[start..].find('>') {
            Some(end) => {
                parts.push(&rest[..start]);
                rest = &rest[start + end + 1..];
            }
            None => break,
        }
    }
    parts.push(rest);
    if parts.len() == 1 {
        return expected == actual;
    }
    let mut position = 0usize;
    for (i, part) in parts.iter().enumerate() {
        if i == 0 {
            if !actual.starts_with(part) {
                return false;
            }
            position = part.len();
        } else if i == parts.len() - 1 {
            return actual.len() >= position + part.len() && actual.ends_with(part);
        } else {
            match actual[position..].find(part) {
                Some(at) => position += at + part.len(),
                None => return false,
            }
        }
    }
    true
}

/// Value equality that tolerates the snapshot's normalised tokens.
pub fn loose_eq(actual: &Value, expected: &Value) -> bool {
    match (actual, expected) {
        (_, Value::String(e)) if is_normalised(e) => true,
        (Value::String(a), Value::String(e)) => pattern_match(e, a),
        (Value::Number(a), Value::Number(e)) => a.as_f64() == e.as_f64(),
        (Value::Array(a), Value::Array(e)) => {
            a.len() == e.len() && a.iter().zip(e).all(|(x, y)| loose_eq(x, y))
        }
        (Value::Object(a), Value::Object(e)) => {
            a.len() == e.len()
                && e.iter()
                    .all(|(k, v)| a.get(k).is_some_and(|x| loose_eq(x, v)))
        }
        _ => actual == expected,
    }
}

/// The cases' S3 fixtures for a Map's ItemReader (`s3:getObject`): bodies by bucket and key.
struct FixtureObjects {
    objects: HashMap<(String, String), String>,
}

#[async_trait]
impl TaskHandler for FixtureObjects {
    async fn invoke(
        &self,
        _resource: &str,
        arguments: Value,
        _ctx: &TaskContext,
    ) -> Result<Value, TaskError> {
        let field = |k: &str| arguments.get(k).and_then(Value::as_str).unwrap_or("");
        let key = (field("Bucket").to_string(), field("Key").to_string());
        match self.objects.get(&key) {
            Some(body) => Ok(json!({ "Body": body, "ContentType": "application/json" })),
            None => Err(TaskError::new(
                "S3.NoSuchKeyException",
                "The specified key does not exist. (Service: S3, Status Code: 404)",
            )),
        }
    }

    fn supports(&self, _resource: &str, _function_name: Option<&str>) -> bool {
        true
    }
}

/// Returns the recorded Task results in order, per state.
struct Replay {
    queues: Mutex<HashMap<String, VecDeque<Value>>>,
    last: Mutex<HashMap<String, Value>>,
    behaviour: String,
}

impl Replay {
    fn new(tasks: Option<&Value>, behaviour: String) -> Self {
        let mut queues: HashMap<String, VecDeque<Value>> = HashMap::new();
        for task in tasks.and_then(Value::as_array).into_iter().flatten() {
            let state = task
                .get("state")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string();
            queues
                .entry(state)
                .or_default()
                .push_back(task.get("result").cloned().unwrap_or(Value::Null));
        }
        Replay {
            queues: Mutex::new(queues),
            last: Mutex::new(HashMap::new()),
            behaviour,
        }
    }

    fn synthesize(&self, resource: &str, arguments: &Value) -> Result<Value, TaskError> {
        if self.behaviour.contains("raises") {
            let cause = json!({
                "errorMessage": "Some exception was raised.",
                "errorType": "Exception",
                "requestId": "00000000-0000-4000-8000-000000000000",
                "stackTrace": ["  File \"/var/task/handler.py\", line 2, in handler\n    raise Exception(\"Some exception was raised.\")\n"]
            });
            return Err(TaskError::new("Exception", cause.to_string()));
        }
        if resource.ends_with("lambda:invoke") {
            let payload = arguments.get("Payload").cloned().unwrap_or(json!({}));
            return Ok(json!({
                "ExecutedVersion": "$LATEST",
                "Payload": payload,
                "SdkHttpMetadata": {},
                "SdkResponseMetadata": {},
                "StatusCode": 200
            }));
        }
        Ok(arguments.clone())
    }
}

fn cause_text(cause: &Value) -> Option<String> {
    match cause {
        Value::Null => None,
        Value::String(s) => Some(s.clone()),
        other => Some(other.to_string()),
    }
}

#[async_trait]
impl TaskHandler for Replay {
    async fn invoke(
        &self,
        resource: &str,
        arguments: Value,
        ctx: &TaskContext,
    ) -> Result<Value, TaskError> {
        let recorded = self
            .queues
            .lock()
            .ok()
            .and_then(|mut q| q.get_mut(&ctx.state_name).and_then(VecDeque::pop_front));
        let recorded = match recorded {
            Some(Value::Null) | None => self
                .last
                .lock()
                .ok()
                .and_then(|l| l.get(&ctx.state_name).cloned()),
            Some(r) => {
                if let Ok(mut last) = self.last.lock() {
                    last.insert(ctx.state_name.clone(), r.clone());
                }
                Some(r)
            }
        };
        let Some(result) = recorded else {
            return self.synthesize(resource, &arguments);
        };
        let kind = result.get("type").and_then(Value::as_str).unwrap_or("");
        if kind.ends_with("Failed") || kind.ends_with("TimedOut") {
            return Err(TaskError {
                error: result
                    .get("error")
                    .and_then(Value::as_str)
                    .unwrap_or("States.TaskFailed")
                    .to_string(),
                cause: result.get("cause").and_then(cause_text),
            });
        }
        Ok(result.get("output").cloned().unwrap_or(Value::Null))
    }

    fn supports(&self, _resource: &str, _function_name: Option<&str>) -> bool {
        true
    }
}
