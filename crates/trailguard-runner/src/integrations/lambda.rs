//! `lambda:invoke` (and Lambda ARNs used directly as a Task resource): functions run in-process
//! or as local commands, with Lambda's result envelope and error shapes.

use std::collections::HashMap;
use std::sync::Arc;

use async_trait::async_trait;
use serde_json::{json, Map, Value};
use trailguard_asl::{is_lambda_arn, TaskContext, TaskError, TaskHandler};

use super::metadata::{http_metadata, request_id};

/// A Lambda function run in-process or as a local command.
#[async_trait]
pub trait LambdaFunction: Send + Sync {
    async fn call(&self, payload: Value) -> Result<Value, FunctionError>;
}

/// A function error as Lambda reports it (`errorType`, `errorMessage`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FunctionError {
    pub error_type: String,
    pub error_message: String,
}

/// A local command: the payload on stdin, the result (JSON) on stdout.
pub struct CommandFunction {
    pub argv: Vec<String>,
}

#[async_trait]
impl LambdaFunction for CommandFunction {
    async fn call(&self, payload: Value) -> Result<Value, FunctionError> {
        use tokio::io::AsyncWriteExt;
        let Some((program, args)) = self.argv.split_first() else {
            return Err(FunctionError {
                error_type: "Runtime.InvalidEntrypoint".into(),
                error_message: "empty command".into(),
            });
        };
        let spawn_error = |e: std::io::Error| FunctionError {
            error_type: "Runtime.InvalidEntrypoint".into(),
            error_message: format!("cannot run {program}: {e}"),
        };
        let mut child = tokio::process::Command::new(program)
            .args(args)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .map_err(spawn_error)?;
        if let Some(mut stdin) = child.stdin.take() {
            let body = serde_json::to_vec(&payload).unwrap_or_default();
            // A command that exits without reading its input is not an error here.
            match stdin.write_all(&body).await {
                Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => return Err(spawn_error(e)),
                _ => {}
            }
        }
        let output = child.wait_with_output().await.map_err(spawn_error)?;
        let stdout = String::from_utf8_lossy(&output.stdout);
        if !output.status.success() {
            // A function that prints `{"errorType", "errorMessage"}` reports its own error.
            if let Ok(Value::Object(err)) = serde_json::from_str::<Value>(stdout.trim()) {
                if let Some(error_type) = err.get("errorType").and_then(Value::as_str) {
                    return Err(FunctionError {
                        error_type: error_type.to_string(),
                        error_message: err
                            .get("errorMessage")
                            .and_then(Value::as_str)
                            .unwrap_or("")
                            .to_string(),
                    });
                }
            }
            return Err(FunctionError {
                error_type: "Runtime.ExitError".into(),
                error_message: format!(
                    "{program} exited with {}: {}",
                    output.status,
                    String::from_utf8_lossy(&output.stderr).trim()
                ),
            });
        }
        if stdout.trim().is_empty() {
            return Ok(Value::Null);
        }
        serde_json::from_str(stdout.trim()).map_err(|e| FunctionError {
            error_type: "Runtime.InvalidResponse".into(),
            error_message: format!("{program} printed invalid JSON: {e}"),
        })
    }
}

/// A closure as a Lambda function (tests, in-process handlers).
pub struct FnLambda<F>(pub F);

#[async_trait]
impl<F> LambdaFunction for FnLambda<F>
where
    F: Fn(Value) -> Result<Value, FunctionError> + Send + Sync,
{
    async fn call(&self, payload: Value) -> Result<Value, FunctionError> {
        (self.0)(payload)
    }
}

/// The function name inside a Lambda ARN or partial ARN (`...:function:NAME[:qualifier]`).
pub fn function_name(reference: &str) -> &str {
    match reference.find(":function:") {
        Some(at) => {
            let rest = &reference[at + ":function:".len()..];
            rest.split(':').next().unwrap_or(rest)
        }
        None => reference.split(':').next().unwrap_or(reference),
    }
}

/// `lambda:invoke` and direct Lambda ARNs, by function name.
#[derive(Default, Clone)]
pub struct LambdaBinding {
    functions: HashMap<String, Arc<dyn LambdaFunction>>,
}

impl LambdaBinding {
    pub fn new() -> Self {
        Self::default()
    }

    /// Registers a function under a name, ARN or partial ARN (looked up by function name too).
    pub fn register(&mut self, name_or_arn: &str, function: Arc<dyn LambdaFunction>) {
        self.functions
            .insert(name_or_arn.to_string(), function.clone());
        self.functions
            .entry(function_name(name_or_arn).to_string())
            .or_insert(function);
    }

    pub fn lookup(&self, reference: &str) -> Option<Arc<dyn LambdaFunction>> {
        self.functions
            .get(reference)
            .or_else(|| self.functions.get(function_name(reference)))
            .cloned()
    }

    fn function_error(&self, err: FunctionError, ctx: &TaskContext) -> TaskError {
        let mut cause = Map::new();
        cause.insert("errorMessage".into(), Value::String(err.error_message));
        cause.insert("errorType".into(), Value::String(err.error_type.clone()));
        cause.insert("requestId".into(), Value::String(request_id(ctx)));
        cause.insert("stackTrace".into(), Value::Array(Vec::new()));
        TaskError::new(err.error_type, Value::Object(cause).to_string())
    }
}

#[async_trait]
impl TaskHandler for LambdaBinding {
    async fn invoke(
        &self,
        resource: &str,
        arguments: Value,
        ctx: &TaskContext,
    ) -> Result<Value, TaskError> {
        if is_lambda_arn(resource) {
            let function = self.lookup(resource).ok_or_else(|| {
                TaskError::new(
                    "Lambda.ResourceNotFoundException",
                    format!("Function not found: {resource}"),
                )
            })?;
            return function
                .call(arguments)
                .await
                .map_err(|e| self.function_error(e, ctx));
        }
        let name = arguments
            .get("FunctionName")
            .and_then(Value::as_str)
            .ok_or_else(|| {
                TaskError::new(
                    "States.Runtime",
                    "lambda:invoke needs a string FunctionName",
                )
            })?;
        let function = self.lookup(name).ok_or_else(|| {
            TaskError::new(
                "Lambda.ResourceNotFoundException",
                format!("Function not found: {name} (Service: Lambda, Status Code: 404)"),
            )
        })?;
        let payload = arguments
            .get("Payload")
            .cloned()
            .unwrap_or(Value::Object(Map::new()));
        let result = function
            .call(payload)
            .await
            .map_err(|e| self.function_error(e, ctx))?;
        let id = request_id(ctx);
        let (http, response) = http_metadata(
            &id,
            serde_json::to_string(&result).map(|s| s.len()).unwrap_or(0),
        );
        let mut out = Map::new();
        out.insert("ExecutedVersion".into(), json!("$LATEST"));
        out.insert("Payload".into(), result);
        out.insert("SdkHttpMetadata".into(), http);
        out.insert("SdkResponseMetadata".into(), response);
        out.insert("StatusCode".into(), json!(200));
        Ok(Value::Object(out))
    }

    fn supports(&self, resource: &str, function_name: Option<&str>) -> bool {
        if is_lambda_arn(resource) {
            return self.lookup(resource).is_some();
        }
        function_name.is_none_or(|f| self.lookup(f).is_some())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn function_names_come_out_of_arns() {
        assert_eq!(
            function_name("arn:aws:lambda:us-west-2:123456789012:function:YOUR-LAMBDA:$LATEST"),
            "YOUR-LAMBDA"
        );
        assert_eq!(function_name("my-fn"), "my-fn");
        assert_eq!(function_name("123456789012:function:my-fn"), "my-fn");
    }
}
