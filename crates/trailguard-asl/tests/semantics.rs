//! State semantics, Retry/Catch with the injected clock, history and bad definitions.
//! These machines use JSONPath (or constant JSONata) so they test the interpreter itself.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test helpers panic on purpose

use std::collections::HashMap;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;

use async_trait::async_trait;
use serde_json::{json, Value};
use trailguard_asl::{
    Bindings, ExecutionStatus, LoadError, ManualClock, Runner, StateMachine, TaskContext,
    TaskError, TaskHandler, LAMBDA_INVOKE,
};

fn load(definition: &Value) -> StateMachine {
    StateMachine::from_value(definition).unwrap()
}

/// A task that fails with `error` for its first `fail_times` calls, then answers like
/// `lambda:invoke` (a `Payload`).
struct Flaky {
    error: &'static str,
    fail_times: u32,
    calls: Arc<AtomicU32>,
}

#[async_trait]
impl TaskHandler for Flaky {
    async fn invoke(
        &self,
        _resource: &str,
        arguments: Value,
        _ctx: &TaskContext,
    ) -> Result<Value, TaskError> {
        let n = self.calls.fetch_add(1, Ordering::SeqCst);
        if n < self.fail_times {
            Err(TaskError::new(self.error, format!("attempt {n} failed")))
        } else {
            Ok(json!({ "Payload": { "ok": true, "payload": arguments["Payload"] } }))
        }
    }

    fn supports(&self, _resource: &str, function_name: Option<&str>) -> bool {
        function_name.is_none_or(|f| f == "flaky")
    }
}

fn failing_lambda(error: &'static str, fail_times: u32) -> (Arc<Flaky>, Arc<AtomicU32>) {
    let calls = Arc::new(AtomicU32::new(0));
    let flaky = Arc::new(Flaky {
        error,
        fail_times,
        calls: calls.clone(),
    });
    (flaky, calls)
}

fn retry_machine(retrier: Value) -> Value {
    json!({
        "StartAt": "Call",
        "States": {
            "Call": {
                "Type": "Task",
                "Resource": "arn:aws:states:::lambda:invoke",
                "Parameters": { "FunctionName": "flaky", "Payload.$": "$" },
                "ResultSelector": { "ok.$": "$.Payload.ok" },
                "Retry": [retrier],
                "Catch": [{ "ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "Recovered" }],
                "End": true
            },
            "Recovered": { "Type": "Pass", "End": true }
        }
    })
}

async fn run_with(
    definition: Value,
    bindings: Bindings,
    clock: Arc<ManualClock>,
    input: Value,
) -> trailguard_asl::Execution {
    Runner::new(load(&definition), bindings)
        .unwrap()
        .with_clock(clock)
        .with_seed(7)
        .execute(input)
        .await
}

#[tokio::test]
async fn retry_backs_off_exponentially_then_catch_takes_over() {
    let (lambda, calls) = failing_lambda("Lambda.TooManyRequestsException", 100);
    let mut bindings = Bindings::new();
    bindings.bind(LAMBDA_INVOKE, lambda);
    let clock = ManualClock::new(0);
    let definition = retry_machine(json!({
        "ErrorEquals": ["Lambda.TooManyRequestsException"], "IntervalSeconds": 2, "MaxAttempts": 3, "BackoffRate": 3
    }));
    let execution = run_with(definition, bindings, clock.clone(), json!({"k": 1})).await;
    assert_eq!(execution.status, ExecutionStatus::Succeeded);
    assert_eq!(clock.sleeps(), vec![2000, 6000, 18000]);
    assert_eq!(calls.load(Ordering::SeqCst), 4);
    let output = execution.output.unwrap();
    assert_eq!(output["k"], json!(1));
    assert_eq!(
        output["error"]["Error"],
        json!("Lambda.TooManyRequestsException")
    );
    assert_eq!(output["error"]["Cause"], json!("attempt 3 failed"));
    // The execution's clock advanced by the waits: 26 s between the first and last TaskScheduled.
    let scheduled: Vec<&str> = execution
        .history
        .iter()
        .filter(|e| e.event_type == "TaskScheduled")
        .map(|e| e.timestamp.as_str())
        .collect();
    assert_eq!(scheduled.len(), 4);
    assert_eq!(scheduled[0], "1970-01-01T00:00:00.000Z");
    assert_eq!(scheduled[3], "1970-01-01T00:00:26.000Z");
}

#[tokio::test]
async fn max_delay_seconds_caps_the_backoff() {
    let (lambda, _) = failing_lambda("Boom", 100);
    let mut bindings = Bindings::new();
    bindings.bind(LAMBDA_INVOKE, lambda);
    let clock = ManualClock::new(0);
    let definition = retry_machine(json!({
        "ErrorEquals": ["States.ALL"], "IntervalSeconds": 1, "MaxAttempts": 4, "BackoffRate": 10, "MaxDelaySeconds": 5
    }));
    let execution = run_with(definition, bindings, clock.clone(), json!({})).await;
    assert_eq!(execution.status, ExecutionStatus::Succeeded);
    assert_eq!(clock.sleeps(), vec![1000, 5000, 5000, 5000]);
}

#[tokio::test]
async fn full_jitter_stays_within_the_backoff_and_is_seeded() {
    let mut all = Vec::new();
    for _ in 0..2 {
        let (lambda, _) = failing_lambda("Boom", 100);
        let mut bindings = Bindings::new();
        bindings.bind(LAMBDA_INVOKE, lambda);
        let clock = ManualClock::new(0);
        let definition = retry_machine(json!({
            "ErrorEquals": ["Boom"], "IntervalSeconds": 10, "MaxAttempts": 3, "BackoffRate": 2, "JitterStrategy": "FULL"
        }));
        run_with(definition, bindings, clock.clone(), json!({})).await;
        let sleeps = clock.sleeps();
        assert_eq!(sleeps.len(), 3);
        for (sleep, ceiling) in sleeps.iter().zip([10_000u64, 20_000, 40_000]) {
            assert!(*sleep <= ceiling, "{sleep} > {ceiling}");
        }
        assert_ne!(
            sleeps,
            vec![10_000, 20_000, 40_000],
            "jitter must change the delays"
        );
        all.push(sleeps);
    }
    assert_eq!(all[0], all[1], "the same seed gives the same jitter");
}

#[tokio::test]
async fn retry_succeeds_and_retry_count_reaches_the_context() {
    let (lambda, calls) = failing_lambda("Lambda.ServiceException", 2);
    let mut bindings = Bindings::new();
    bindings.bind(LAMBDA_INVOKE, lambda);
    let clock = ManualClock::new(0);
    let mut definition =
        retry_machine(json!({ "ErrorEquals": ["Lambda.ServiceException"], "IntervalSeconds": 1 }));
    definition["States"]["Call"]["ResultSelector"] =
        json!({ "ok.$": "$.Payload.ok", "retries.$": "$$.State.RetryCount" });
    let execution = run_with(definition, bindings, clock.clone(), json!({})).await;
    assert_eq!(calls.load(Ordering::SeqCst), 3);
    assert_eq!(execution.output, Some(json!({ "ok": true, "retries": 2 })));
    assert_eq!(clock.sleeps(), vec![1000, 2000]);
}

#[tokio::test]
async fn max_attempts_zero_never_retries() {
    let (lambda, calls) = failing_lambda("Boom", 100);
    let mut bindings = Bindings::new();
    bindings.bind(LAMBDA_INVOKE, lambda);
    let clock = ManualClock::new(0);
    let definition = retry_machine(json!({ "ErrorEquals": ["Boom"], "MaxAttempts": 0 }));
    run_with(definition, bindings, clock.clone(), json!({})).await;
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    assert!(clock.sleeps().is_empty());
}

struct Fails(&'static str);

#[async_trait]
impl TaskHandler for Fails {
    async fn invoke(
        &self,
        _resource: &str,
        _arguments: Value,
        _ctx: &TaskContext,
    ) -> Result<Value, TaskError> {
        Err(TaskError::new(self.0, "it failed"))
    }

    fn supports(&self, _resource: &str, _function_name: Option<&str>) -> bool {
        true
    }
}

fn catch_machine(error_equals: Value) -> Value {
    json!({
        "StartAt": "Work",
        "States": {
            "Work": {
                "Type": "Task", "Resource": "arn:aws:states:::custom:work", "End": true,
                "Catch": [{ "ErrorEquals": error_equals, "Next": "Caught" }]
            },
            "Caught": { "Type": "Pass", "Result": "caught", "End": true }
        }
    })
}

async fn catch_outcome(error: &'static str, error_equals: Value) -> trailguard_asl::Execution {
    let mut bindings = Bindings::new();
    bindings.bind("arn:aws:states:::custom:work", Arc::new(Fails(error)));
    run_with(
        catch_machine(error_equals),
        bindings,
        ManualClock::new(0),
        json!({}),
    )
    .await
}

#[tokio::test]
async fn task_failed_matches_everything_but_timeout() {
    let caught = catch_outcome("Custom.Error", json!(["States.TaskFailed"])).await;
    assert_eq!(caught.output, Some(json!("caught")));
    let timeout = catch_outcome("States.Timeout", json!(["States.TaskFailed"])).await;
    assert_eq!(timeout.status, ExecutionStatus::Failed);
    assert_eq!(timeout.error.as_deref(), Some("States.Timeout"));
    let timeout_caught = catch_outcome("States.Timeout", json!(["States.Timeout"])).await;
    assert_eq!(timeout_caught.output, Some(json!("caught")));
    let all = catch_outcome("States.Timeout", json!(["States.ALL"])).await;
    assert_eq!(all.output, Some(json!("caught")));
    let unmatched = catch_outcome("Other", json!(["Custom.Error"])).await;
    assert_eq!(unmatched.error.as_deref(), Some("Other"));
    assert_eq!(unmatched.cause.as_deref(), Some("it failed"));
}

#[tokio::test]
async fn states_all_does_not_catch_states_runtime() {
    let definition = json!({
        "StartAt": "Work",
        "States": {
            "Work": {
                "Type": "Pass", "Parameters": { "x.$": "$.missing" }, "Next": "Done"
            },
            "Done": { "Type": "Succeed" }
        }
    });
    let execution = run_with(definition, Bindings::new(), ManualClock::new(0), json!({})).await;
    assert_eq!(execution.error.as_deref(), Some("States.Runtime"));
    let runtime = catch_outcome("States.Runtime", json!(["States.ALL"])).await;
    assert_eq!(runtime.status, ExecutionStatus::Failed);
    assert_eq!(runtime.error.as_deref(), Some("States.Runtime"));
}

#[tokio::test]
async fn history_has_aws_event_types_ids_and_order() {
    let definition = json!({
        "StartAt": "Prepare",
        "States": {
            "Prepare": { "Type": "Pass", "Result": { "n": 1 }, "ResultPath": "$.prepared", "Next": "Work" },
            "Work": { "Type": "Task", "Resource": "arn:aws:states:::custom:echo", "End": true }
        }
    });
    struct Echo;
    #[async_trait]
    impl TaskHandler for Echo {
        async fn invoke(
            &self,
            _r: &str,
            arguments: Value,
            _c: &TaskContext,
        ) -> Result<Value, TaskError> {
            Ok(arguments)
        }

        fn supports(&self, _r: &str, _f: Option<&str>) -> bool {
            true
        }
    }
    let mut bindings = Bindings::new();
    bindings.bind("arn:aws:states:::custom:echo", Arc::new(Echo));
    let execution = run_with(definition, bindings, ManualClock::new(0), json!({"a": 1})).await;
    assert_eq!(
        execution.output,
        Some(json!({"a": 1, "prepared": {"n": 1}}))
    );
    let types: Vec<&str> = execution
        .history
        .iter()
        .map(|e| e.event_type.as_str())
        .collect();
    assert_eq!(
        types,
        vec![
            "ExecutionStarted",
            "PassStateEntered",
            "PassStateExited",
            "TaskStateEntered",
            "TaskScheduled",
            "TaskStarted",
            "TaskSucceeded",
            "TaskStateExited",
            "ExecutionSucceeded"
        ]
    );
    for (i, event) in execution.history.iter().enumerate() {
        assert_eq!(event.id, i as u64 + 1);
        assert_eq!(event.previous_event_id, i as u64);
    }
    let json = serde_json::to_value(&execution.history).unwrap();
    assert_eq!(
        json[4]["taskScheduledEventDetails"]["resourceType"],
        json!("custom")
    );
    assert_eq!(
        json[4]["taskScheduledEventDetails"]["resource"],
        json!("echo")
    );
    assert_eq!(
        json[1]["stateEnteredEventDetails"]["name"],
        json!("Prepare")
    );
}

#[tokio::test]
async fn map_parallel_and_variables_follow_aws_scoping() {
    let definition = json!({
        "StartAt": "Init",
        "States": {
            "Init": { "Type": "Pass", "Assign": { "factor": 10, "seen": "outer" }, "Next": "Fan" },
            "Fan": {
                "Type": "Map", "ItemsPath": "$.items", "MaxConcurrency": 2,
                "ItemSelector": { "value.$": "$$.Map.Item.Value", "index.$": "$$.Map.Item.Index", "factor.$": "$factor" },
                "ItemProcessor": {
                    "StartAt": "Inner",
                    "States": { "Inner": { "Type": "Pass", "Assign": { "seen": "inner" }, "End": true } }
                },
                "ResultPath": "$.mapped",
                "Next": "Both"
            },
            "Both": {
                "Type": "Parallel",
                "Branches": [
                    { "StartAt": "A", "States": { "A": { "Type": "Pass", "Result": "a", "End": true } } },
                    { "StartAt": "B", "States": { "B": { "Type": "Pass", "Parameters": { "seen.$": "$seen" }, "End": true } } }
                ],
                "ResultPath": "$.parallel",
                "Next": "Wait"
            },
            "Wait": { "Type": "Wait", "Seconds": 30, "Next": "Done" },
            "Done": { "Type": "Pass", "Parameters": { "mapped.$": "$.mapped", "parallel.$": "$.parallel", "seen.$": "$seen" }, "End": true }
        }
    });
    let clock = ManualClock::new(0);
    let execution = run_with(
        definition,
        Bindings::new(),
        clock.clone(),
        json!({"items": ["x", "y", "z"]}),
    )
    .await;
    assert_eq!(
        execution.status,
        ExecutionStatus::Succeeded,
        "{:?}",
        execution.cause
    );
    assert_eq!(
        execution.output,
        Some(json!({
            "mapped": [
                {"value": "x", "index": 0, "factor": 10},
                {"value": "y", "index": 1, "factor": 10},
                {"value": "z", "index": 2, "factor": 10}
            ],
            "parallel": ["a", {"seen": "outer"}],
            "seen": "outer"
        }))
    );
    assert_eq!(clock.sleeps(), vec![30_000]);
    let iterations = execution
        .history
        .iter()
        .filter(|e| e.event_type == "MapIterationStarted")
        .count();
    assert_eq!(iterations, 3);
}

#[tokio::test]
async fn choice_rules_and_no_choice_matched() {
    let definition = json!({
        "StartAt": "Pick",
        "States": {
            "Pick": {
                "Type": "Choice",
                "Choices": [
                    { "And": [ { "Variable": "$.n", "NumericGreaterThanEquals": 20 }, { "Variable": "$.n", "NumericLessThan": 30 } ], "Next": "Twenties" },
                    { "Not": { "Variable": "$.kind", "StringEquals": "private" }, "Next": "Public" },
                    { "Variable": "$.other", "IsPresent": true, "Next": "Public" }
                ]
            },
            "Twenties": { "Type": "Pass", "Result": "twenties", "End": true },
            "Public": { "Type": "Pass", "Result": "public", "End": true }
        }
    });
    let twenties = run_with(
        definition.clone(),
        Bindings::new(),
        ManualClock::new(0),
        json!({"n": 25, "kind": "private"}),
    )
    .await;
    assert_eq!(twenties.output, Some(json!("twenties")));
    let public = run_with(
        definition.clone(),
        Bindings::new(),
        ManualClock::new(0),
        json!({"n": 5, "kind": "public"}),
    )
    .await;
    assert_eq!(public.output, Some(json!("public")));
    let none = run_with(
        definition,
        Bindings::new(),
        ManualClock::new(0),
        json!({"n": 5, "kind": "private"}),
    )
    .await;
    assert_eq!(none.status, ExecutionStatus::Failed);
    assert_eq!(none.error.as_deref(), Some("States.NoChoiceMatched"));
}

#[tokio::test]
async fn intrinsics_and_fail_state() {
    let definition = json!({
        "StartAt": "Shape",
        "States": {
            "Shape": {
                "Type": "Pass",
                "Parameters": {
                    "greeting.$": "States.Format('Hello, {}!', $.name)",
                    "parts.$": "States.ArrayPartition(States.Array(1, 2, 3), 2)",
                    "json.$": "States.JsonToString($.obj)"
                },
                "Next": "Stop"
            },
            "Stop": { "Type": "Fail", "Error": "Custom.Stop", "CausePath": "$.greeting" }
        }
    });
    let execution = run_with(
        definition,
        Bindings::new(),
        ManualClock::new(0),
        json!({"name": "Ada", "obj": {"a": 1}}),
    )
    .await;
    assert_eq!(execution.error.as_deref(), Some("Custom.Stop"));
    assert_eq!(execution.cause.as_deref(), Some("Hello, Ada!"));
}

fn load_error(definition: &str) -> LoadError {
    StateMachine::from_json(definition, &HashMap::new()).unwrap_err()
}

fn expect_state_error(definition: Value, state: &str, reason_part: &str) {
    match StateMachine::from_value(&definition).unwrap_err() {
        LoadError::State { state: s, reason } => {
            assert_eq!(s, state);
            assert!(
                reason.contains(reason_part),
                "reason {reason:?} lacks {reason_part:?}"
            );
        }
        other => panic!("unexpected error {other:?}"),
    }
}

#[test]
fn bad_definitions_are_rejected_with_state_and_reason() {
    assert!(matches!(
        load_error("{ not json"),
        LoadError::InvalidJson(_)
    ));
    expect_state_error(
        json!({"StartAt": "A", "States": {"A": {"Type": "Teleport", "End": true}}}),
        "A",
        "unknown state type",
    );
    expect_state_error(
        json!({"StartAt": "A", "States": {"A": {"Type": "Pass"}}}),
        "A",
        "missing Next or End",
    );
    expect_state_error(
        json!({"StartAt": "A", "States": {"A": {"Type": "Pass", "Next": "Nowhere"}}}),
        "A",
        "Nowhere",
    );
    expect_state_error(
        json!({"StartAt": "A", "States": {"A": {"Type": "Pass", "End": true}, "B": {"Type": "Pass", "End": true}}}),
        "B",
        "unreachable",
    );
    expect_state_error(
        json!({"StartAt": "A", "States": {"A": {"Type": "Choice", "Default": "A"}}}),
        "A",
        "Choices",
    );
    expect_state_error(
        json!({"StartAt": "A", "QueryLanguage": "JSONata", "States": {"A": {"Type": "Pass", "Parameters": {}, "End": true}}}),
        "A",
        "only allowed in JSONPath",
    );
    expect_state_error(
        json!({"StartAt": "A", "States": {"A": {"Type": "Pass", "Output": {}, "End": true}}}),
        "A",
        "only allowed in JSONata",
    );
    expect_state_error(
        json!({"StartAt": "A", "States": {"A": {"Type": "Task", "Resource": "x", "End": true,
            "Retry": [{"ErrorEquals": ["States.ALL"]}, {"ErrorEquals": ["Other"]}]}}}),
        "A",
        "States.ALL",
    );
    expect_state_error(
        json!({"StartAt": "A", "States": {"A": {"Type": "Task", "Resource": "x", "End": true,
            "Catch": [{"ErrorEquals": ["States.ALL", "Other"], "Next": "A"}]}}}),
        "A",
        "alone",
    );
    expect_state_error(
        json!({"StartAt": "A", "States": {"A": {"Type": "Map", "End": true, "ItemProcessor": {"StartAt": "I", "States": {"I": {"Type": "Pass"}}}}}}),
        "I",
        "missing Next or End",
    );
}

#[test]
fn jsonata_that_does_not_parse_is_rejected_at_load() {
    expect_state_error(
        json!({"StartAt": "A", "QueryLanguage": "JSONata", "States": {"A": {"Type": "Pass", "Output": {"x": "{% $states.input.( %}"}, "End": true}}}),
        "A",
        "does not parse",
    );
}

#[test]
fn unbound_resources_are_rejected_when_the_runner_is_built() {
    let machine = load(
        &json!({"StartAt": "A", "States": {"A": {"Type": "Task", "Resource": "arn:aws:states:::sns:publish", "End": true}}}),
    );
    match Runner::new(machine, Bindings::new()) {
        Err(LoadError::UnboundResource { state, resource }) => {
            assert_eq!(state, "A");
            assert_eq!(resource, "arn:aws:states:::sns:publish");
        }
        Err(other) => panic!("unexpected error {other:?}"),
        Ok(_) => panic!("an unbound resource must be rejected"),
    }
    let lambda_machine = load(&json!({"StartAt": "A", "States": {"A": {"Type": "Task",
        "Resource": "arn:aws:states:::lambda:invoke", "Parameters": {"FunctionName": "missing"}, "End": true}}}));
    let (flaky, _) = failing_lambda("Boom", 0);
    let mut bindings = Bindings::new();
    bindings.bind(LAMBDA_INVOKE, flaky);
    assert!(matches!(
        Runner::new(lambda_machine, bindings),
        Err(LoadError::UnboundResource { .. })
    ));
}

#[test]
fn substitutions_replace_placeholders_at_load() {
    let text = r#"{"StartAt": "A", "States": {"A": {"Type": "Task", "Resource": "${TopicArn}", "End": true}}}"#;
    let substitutions = HashMap::from([(
        "TopicArn".to_string(),
        "arn:aws:states:::sns:publish".to_string(),
    )]);
    let machine = StateMachine::from_json(text, &substitutions).unwrap();
    assert_eq!(machine.tasks[0].resource, "arn:aws:states:::sns:publish");
}
