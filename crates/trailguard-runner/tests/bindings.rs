//! Resource bindings: AWS result shapes and error names for Lambda, Converse, SNS and S3.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test helpers panic on purpose

use std::sync::Arc;

use serde_json::{json, Value};
use trailguard_asl::{
    ExecutionStatus, ManualClock, Runner, StateMachine, TaskContext, TaskHandler,
};
use trailguard_core::ports::{ChatRole, ContentBlock};
use trailguard_local::{DeterministicChat, MemoryStore, RecordingNotifier};
use trailguard_runner::integrations::{
    CommandFunction, FnLambda, FunctionError, LambdaBinding, LambdaFunction, Ports, S3Binding,
};
use trailguard_runner::{
    BindingsConfig, Defaults, DefinitionSource, RunnerError, Workflow, ANALYSIS_HANDLER,
};

fn ctx() -> TaskContext {
    TaskContext {
        state_name: "S".into(),
        execution_arn: "arn:aws:states:us-east-1:123456789012:execution:m:e".into(),
        retry_count: 0,
    }
}

#[tokio::test]
async fn lambda_invoke_returns_the_aws_response_shape() {
    let mut lambda = LambdaBinding::new();
    lambda.register(
        "echo",
        Arc::new(CommandFunction {
            argv: vec!["cat".into()],
        }),
    );
    let result = lambda
        .invoke(
            "arn:aws:states:::lambda:invoke",
            json!({"FunctionName": "arn:aws:lambda:us-west-2:123456789012:function:echo:$LATEST", "Payload": {"a": [1, 2]}}),
            &ctx(),
        )
        .await
        .unwrap();
    assert_eq!(result["Payload"], json!({"a": [1, 2]}));
    assert_eq!(result["StatusCode"], json!(200));
    assert_eq!(result["ExecutedVersion"], json!("$LATEST"));
    assert_eq!(result["SdkHttpMetadata"]["HttpStatusCode"], json!(200));
    assert!(result["SdkResponseMetadata"]["RequestId"].is_string());
    let keys: Vec<&String> = result.as_object().unwrap().keys().collect();
    assert_eq!(
        keys,
        [
            "ExecutedVersion",
            "Payload",
            "SdkHttpMetadata",
            "SdkResponseMetadata",
            "StatusCode"
        ]
    );
}

#[tokio::test]
async fn lambda_function_errors_use_the_error_type_and_a_json_cause() {
    let mut lambda = LambdaBinding::new();
    lambda.register(
        "boom",
        Arc::new(FnLambda(|_| {
            Err(FunctionError {
                error_type: "ValueError".into(),
                error_message: "bad input".into(),
            })
        })),
    );
    let error = lambda
        .invoke(
            "arn:aws:states:::lambda:invoke",
            json!({"FunctionName": "boom"}),
            &ctx(),
        )
        .await
        .unwrap_err();
    assert_eq!(error.error, "ValueError");
    let cause: Value = serde_json::from_str(error.cause.as_deref().unwrap()).unwrap();
    let keys: Vec<&String> = cause.as_object().unwrap().keys().collect();
    assert_eq!(
        keys,
        ["errorMessage", "errorType", "requestId", "stackTrace"]
    );
    assert_eq!(cause["errorMessage"], json!("bad input"));
    let missing = lambda
        .invoke(
            "arn:aws:states:::lambda:invoke",
            json!({"FunctionName": "nope"}),
            &ctx(),
        )
        .await
        .unwrap_err();
    assert_eq!(missing.error, "Lambda.ResourceNotFoundException");
}

#[tokio::test]
async fn a_failing_command_reports_its_error() {
    let function = CommandFunction {
        argv: vec![
            "sh".into(),
            "-c".into(),
            "echo '{\"errorType\":\"Custom\",\"errorMessage\":\"no\"}'; exit 1".into(),
        ],
    };
    let error = function.call(json!({})).await.unwrap_err();
    assert_eq!(error.error_type, "Custom");
    assert_eq!(error.error_message, "no");
}

#[tokio::test]
async fn s3_actions_have_sdk_shapes_and_error_names() {
    let store = Arc::new(MemoryStore::new());
    store.insert("b", "k", b"hello", Some("text/plain"));
    let s3 = S3Binding {
        reader: store.clone(),
        writer: store.clone(),
    };
    let got = s3
        .invoke(
            "arn:aws:states:::aws-sdk:s3:getObject",
            json!({"Bucket": "b", "Key": "k"}),
            &ctx(),
        )
        .await
        .unwrap();
    assert_eq!(got["Body"], json!("hello"));
    assert_eq!(got["ContentType"], json!("text/plain"));
    let missing = s3
        .invoke(
            "arn:aws:states:::aws-sdk:s3:getObject",
            json!({"Bucket": "b", "Key": "nope"}),
            &ctx(),
        )
        .await
        .unwrap_err();
    assert_eq!(missing.error, "S3.NoSuchKeyException");
    assert!(missing
        .cause
        .unwrap()
        .starts_with("The specified key does not exist."));
    s3.invoke(
        "arn:aws:states:::aws-sdk:s3:copyObject",
        json!({"Bucket": "c", "Key": "k2", "CopySource": "b/k"}),
        &ctx(),
    )
    .await
    .unwrap();
    assert!(store.contains("c", "k2"));
    // An action the local stores do not offer is refused when the workflow loads.
    assert!(!s3.supports("arn:aws:states:::aws-sdk:s3:putObjectTagging", None));
    let deleted = s3
        .invoke(
            "arn:aws:states:::aws-sdk:s3:deleteObject",
            json!({"Bucket": "b", "Key": "k"}),
            &ctx(),
        )
        .await
        .unwrap();
    assert_eq!(deleted, json!({}));
    assert!(!store.contains("b", "k"));
}

#[tokio::test]
async fn converse_and_sns_map_to_the_ports() {
    let model = Arc::new(DeterministicChat::fixed("{\"threat_level\": \"low\"}"));
    let notifier = Arc::new(RecordingNotifier::new());
    let store = Arc::new(MemoryStore::new());
    let definition = json!({
        "QueryLanguage": "JSONata",
        "StartAt": "Ask",
        "States": {
            "Ask": {
                "Type": "Task", "Resource": "arn:aws:states:::aws-sdk:bedrockruntime:converse",
                "Arguments": {
                    "ModelId": "m", "System": [{"Text": "be brief"}],
                    "Messages": [{"Role": "user", "Content": [{"Text": "hi"}]}],
                    "InferenceConfig": {"MaxTokens": 10, "Temperature": 0.5}
                },
                "Next": "Tell"
            },
            "Tell": {
                "Type": "Task", "Resource": "arn:aws:states:::sns:publish",
                "Arguments": {"TopicArn": "arn:aws:sns:us-east-1:1:t", "Subject": "s", "Message": {"k": 1}},
                "End": true
            }
        }
    });
    let bindings = Ports {
        functions: LambdaBinding::new(),
        model: model.clone(),
        notifier: notifier.clone(),
        reader: store.clone(),
        writer: store,
    }
    .bindings();
    let runner = Runner::new(StateMachine::from_value(&definition).unwrap(), bindings)
        .unwrap()
        .with_clock(ManualClock::new(0));
    let execution = runner.execute(json!({})).await;
    assert_eq!(
        execution.status,
        ExecutionStatus::Succeeded,
        "{:?}",
        execution.cause
    );
    let request = &model.requests()[0];
    assert_eq!(request.model_id, "m");
    assert_eq!(request.system.as_deref(), Some("be brief"));
    assert_eq!(request.max_tokens, Some(10));
    assert_eq!(request.messages[0].role, ChatRole::User);
    assert_eq!(
        request.messages[0].content,
        vec![ContentBlock::Text("hi".into())]
    );
    assert_eq!(
        notifier.messages(),
        vec![(Some("s".to_string()), "{\"k\":1}".to_string())]
    );
    let history = serde_json::to_value(&execution.history).unwrap();
    let converse_output: Value = history
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["type"] == "TaskSucceeded")
        .map(|e| {
            serde_json::from_str(e["taskSucceededEventDetails"]["output"].as_str().unwrap())
                .unwrap()
        })
        .unwrap();
    assert_eq!(
        converse_output["Output"]["Message"]["Content"][0]["Text"],
        json!("{\"threat_level\": \"low\"}")
    );
    assert_eq!(
        converse_output["Output"]["Message"]["Role"],
        json!("assistant")
    );
    assert_eq!(converse_output["StopReason"], json!("end_turn"));
    assert_eq!(converse_output["Usage"]["TotalTokens"], json!(30));
    assert!(execution.output.unwrap()["MessageId"].is_string());
}

#[test]
fn bindings_come_from_toml() {
    let config: BindingsConfig = r#"
        [lambda."arn:aws:lambda:us-east-1:123456789012:function:trailguard-analysis"]
        handler = "trailguard-analysis"
        [lambda.pii]
        command = ["cat"]
        [storage]
        kind = "memory"
        [substitutions]
        AnalysisFunctionArn = "trailguard-analysis"
        "#
    .parse()
    .unwrap();
    let definition = r#"{"StartAt": "A", "States": {"A": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
        "Parameters": {"FunctionName": "${AnalysisFunctionArn}"}, "Next": "B"},
        "B": {"Type": "Task", "Resource": "arn:aws:states:::aws-sdk:s3:deleteObject", "End": true}}}"#;
    let source = DefinitionSource {
        text: definition,
        label: "test",
        name: "test",
    };
    let workflow = Workflow::load(
        &source,
        &config.substitutions,
        &config,
        &Defaults::default(),
    );
    assert!(workflow.is_ok(), "{:?}", workflow.err());
    assert_eq!(
        workflow.unwrap().info().roles.analysis,
        [format!(
            "arn:aws:lambda:us-east-1:123456789012:function:{ANALYSIS_HANDLER}"
        )]
    );
    // A function the definition calls but nothing binds is an error at load, naming it.
    let unbound = Workflow::load(
        &source,
        &config.substitutions,
        &BindingsConfig::default(),
        &Defaults::default(),
    );
    match unbound {
        Err(RunnerError::Definition { message, .. }) => {
            assert!(message.contains("trailguard-analysis"), "{message}")
        }
        Err(other) => panic!("unexpected error {other}"),
        Ok(_) => panic!("an unbound function must be refused"),
    }
    let unknown_handler = "[lambda.f]\nhandler = \"analysis\"\n".parse::<BindingsConfig>();
    assert!(matches!(unknown_handler, Err(RunnerError::Bindings(_))));
}
