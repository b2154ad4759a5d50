//! JSONata-state semantics: Arguments/Output/Assign, variable scoping, Catch with
//! `$states.errorOutput`, `$states.context`, Wait and Map fields.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test helpers panic on purpose

use std::sync::Arc;

use async_trait::async_trait;
use serde_json::{json, Value};
use trailguard_asl::{
    Bindings, Execution, ExecutionStatus, ManualClock, Runner, StateMachine, TaskContext,
    TaskError, TaskHandler,
};

struct Scripted;

#[async_trait]
impl TaskHandler for Scripted {
    async fn invoke(
        &self,
        _resource: &str,
        arguments: Value,
        _ctx: &TaskContext,
    ) -> Result<Value, TaskError> {
        match arguments.get("fail").and_then(Value::as_str) {
            Some(error) => Err(TaskError::new(error, "scripted failure")),
            None => Ok(json!({ "echo": arguments })),
        }
    }

    fn supports(&self, _resource: &str, _function_name: Option<&str>) -> bool {
        true
    }
}

async fn run(definition: Value, input: Value, clock: Arc<ManualClock>) -> Execution {
    let mut bindings = Bindings::new();
    bindings.bind("arn:aws:states:::custom:task", Arc::new(Scripted));
    Runner::new(StateMachine::from_value(&definition).unwrap(), bindings)
        .unwrap()
        .with_clock(clock)
        .with_name("Machine")
        .execute_named("exec-1", input)
        .await
}

#[tokio::test]
async fn assign_and_output_both_see_values_from_before_the_state() {
    let definition = json!({
        "QueryLanguage": "JSONata",
        "StartAt": "Init",
        "States": {
            "Init": { "Type": "Pass", "Assign": { "x": 1 }, "Next": "Swap" },
            "Swap": {
                "Type": "Pass",
                "Assign": { "x": "{% $x + 1 %}", "old": "{% $x %}" },
                "Output": { "seen_x": "{% $x %}" },
                "Next": "Read"
            },
            "Read": { "Type": "Pass", "Output": { "x": "{% $x %}", "old": "{% $old %}", "input": "{% $states.input %}" }, "End": true }
        }
    });
    let execution = run(definition, json!({}), ManualClock::new(0)).await;
    assert_eq!(
        execution.output,
        Some(json!({ "x": 2, "old": 1, "input": { "seen_x": 1 } }))
    );
}

#[tokio::test]
async fn task_arguments_result_and_catch_error_output() {
    let definition = json!({
        "QueryLanguage": "JSONata",
        "StartAt": "Call",
        "States": {
            "Call": {
                "Type": "Task", "Resource": "arn:aws:states:::custom:task",
                "Arguments": { "value": "{% $states.input.value * 2 %}" },
                "Assign": { "result": "{% $states.result.echo.value %}" },
                "Output": "{% $states.result.echo %}",
                "Next": "Failing"
            },
            "Failing": {
                "Type": "Task", "Resource": "arn:aws:states:::custom:task",
                "Arguments": { "fail": "Custom.Boom" },
                "Assign": { "never": true },
                "Catch": [
                    { "ErrorEquals": ["Other"], "Next": "Done" },
                    {
                        "ErrorEquals": ["States.TaskFailed"],
                        "Assign": { "caught": "{% $states.errorOutput.Error %}", "before": "{% $states.input %}" },
                        "Output": { "error": "{% $states.errorOutput %}", "result": "{% $result %}" },
                        "Next": "Done"
                    }
                ],
                "End": true
            },
            "Done": {
                "Type": "Pass",
                "Output": { "in": "{% $states.input %}", "caught": "{% $caught %}", "before": "{% $before %}", "never": "{% $exists($never) %}" },
                "End": true
            }
        }
    });
    let execution = run(definition, json!({ "value": 21 }), ManualClock::new(0)).await;
    assert_eq!(
        execution.status,
        ExecutionStatus::Succeeded,
        "{:?}",
        execution.cause
    );
    assert_eq!(
        execution.output,
        Some(json!({
            "in": { "error": { "Error": "Custom.Boom", "Cause": "scripted failure" }, "result": 42 },
            "caught": "Custom.Boom",
            "before": { "value": 42 },
            "never": false
        }))
    );
}

#[tokio::test]
async fn inner_scopes_read_outer_variables_and_keep_their_own() {
    let definition = json!({
        "QueryLanguage": "JSONata",
        "StartAt": "Init",
        "States": {
            "Init": { "Type": "Pass", "Assign": { "outer": "o", "counter": 0 }, "Next": "Each" },
            "Each": {
                "Type": "Map",
                "Items": "{% $states.input.items %}",
                "ItemSelector": { "item": "{% $states.context.Map.Item.Value %}", "index": "{% $states.context.Map.Item.Index %}" },
                "ItemProcessor": {
                    "StartAt": "Inner",
                    "States": {
                        "Inner": {
                            "Type": "Pass",
                            "Assign": { "counter": "{% $counter + 1 %}", "local": "{% $states.input.item %}" },
                            "Next": "InnerRead"
                        },
                        "InnerRead": { "Type": "Pass", "Output": "{% $outer & $local & $string($counter) %}", "End": true }
                    }
                },
                "Assign": { "mapped": "{% $states.result %}" },
                "Next": "After"
            },
            "After": {
                "Type": "Pass",
                "Output": { "mapped": "{% $mapped %}", "counter": "{% $counter %}", "local": "{% $exists($local) %}" },
                "End": true
            }
        }
    });
    let execution = run(
        definition,
        json!({ "items": ["a", "b"] }),
        ManualClock::new(0),
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
        Some(json!({ "mapped": ["oa1", "ob1"], "counter": 0, "local": false }))
    );
}

#[tokio::test]
async fn context_object_carries_execution_and_state_fields() {
    let definition = json!({
        "QueryLanguage": "JSONata",
        "StartAt": "Look",
        "States": {
            "Look": {
                "Type": "Pass",
                "Output": {
                    "id": "{% $states.context.Execution.Id %}",
                    "name": "{% $states.context.Execution.Name %}",
                    "input": "{% $states.context.Execution.Input %}",
                    "start": "{% $states.context.Execution.StartTime %}",
                    "state": "{% $states.context.State.Name %}",
                    "entered": "{% $states.context.State.EnteredTime %}",
                    "retries": "{% $states.context.State.RetryCount %}",
                    "machine": "{% $states.context.StateMachine.Name %}"
                },
                "End": true
            }
        }
    });
    let execution = run(
        definition,
        json!({ "k": "v" }),
        ManualClock::new(1_700_000_000_000),
    )
    .await;
    assert_eq!(
        execution.output,
        Some(json!({
            "id": "arn:aws:states:us-east-1:123456789012:execution:Machine:exec-1",
            "name": "exec-1",
            "input": { "k": "v" },
            "start": "2023-11-14T22:13:20.000Z",
            "state": "Look",
            "entered": "2023-11-14T22:13:20.000Z",
            "retries": 0,
            "machine": "Machine"
        }))
    );
}

#[tokio::test]
async fn wait_uses_the_injected_clock() {
    let definition = json!({
        "QueryLanguage": "JSONata",
        "StartAt": "Pause",
        "States": {
            "Pause": { "Type": "Wait", "Seconds": "{% $states.input.delay %}", "Next": "Until" },
            "Until": { "Type": "Wait", "Timestamp": "{% $states.input.until %}", "End": true }
        }
    });
    let clock = ManualClock::new(0);
    let execution = run(
        definition,
        json!({ "delay": 5, "until": "1970-01-01T00:01:00Z" }),
        clock.clone(),
    )
    .await;
    assert_eq!(
        execution.status,
        ExecutionStatus::Succeeded,
        "{:?}",
        execution.cause
    );
    assert_eq!(clock.sleeps(), vec![5_000, 55_000]);
}

#[tokio::test]
async fn query_errors_name_the_state_event_and_field() {
    let definition = json!({
        "QueryLanguage": "JSONata",
        "StartAt": "Start",
        "States": {
            "Start": { "Type": "Pass", "Next": "Bad" },
            "Bad": { "Type": "Pass", "Output": { "x": "{% $states.input.missing %}" }, "End": true }
        }
    });
    let execution = run(definition, json!({}), ManualClock::new(0)).await;
    assert_eq!(
        execution.error.as_deref(),
        Some("States.QueryEvaluationError")
    );
    assert_eq!(
        execution.cause.as_deref(),
        Some("An error occurred while executing the state 'Bad' (entered at the event id #4). The JSONata expression '$states.input.missing' specified for the field 'Output/x' returned nothing (undefined).")
    );
}

#[tokio::test]
async fn choice_condition_must_be_boolean_and_fail_evaluates_jsonata() {
    let definition = json!({
        "QueryLanguage": "JSONata",
        "StartAt": "Pick",
        "States": {
            "Pick": {
                "Type": "Choice",
                "Choices": [ { "Condition": "{% $states.input.level = 'high' %}", "Next": "Stop", "Assign": { "why": "high" } } ],
                "Default": "Stop"
            },
            "Stop": { "Type": "Fail", "Error": "{% 'Level.' & $states.input.level %}", "Cause": "{% 'because ' & ($why ? $why : 'default') %}" }
        }
    });
    let high = run(
        definition.clone(),
        json!({ "level": "high" }),
        ManualClock::new(0),
    )
    .await;
    assert_eq!(high.error.as_deref(), Some("Level.high"));
    assert_eq!(high.cause.as_deref(), Some("because high"));
    let mut not_boolean = definition;
    not_boolean["States"]["Pick"]["Choices"][0]["Condition"] = json!("{% $states.input.level %}");
    let execution = run(not_boolean, json!({ "level": "high" }), ManualClock::new(0)).await;
    assert_eq!(
        execution.error.as_deref(),
        Some("States.QueryEvaluationError")
    );
}
