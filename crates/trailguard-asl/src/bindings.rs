//! Resource bindings: what a Task's `Resource` runs locally, with AWS's result and error shapes.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use async_trait::async_trait;
use base64::Engine as _;
use serde_json::{json, Map, Value};
use trailguard_core::ports::{
    ChatMessage, ChatModel, ChatRequest, ChatRole, ContentBlock, Notifier, ObjectStore, PortError,
    PortErrorKind,
};

use crate::definition::StateMachine;
use crate::error::LoadError;

/// What a handler knows about the Task it runs.
#[derive(Debug, Clone)]
pub struct TaskContext {
    pub state_name: String,
    pub execution_arn: String,
    pub retry_count: u32,
}

/// A task failure, named as AWS names it (`Lambda.ServiceException`, `S3.NoSuchKeyException`, ...).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskError {
    pub error: String,
    pub cause: Option<String>,
}

impl TaskError {
    pub fn new(error: impl Into<String>, cause: impl Into<String>) -> Self {
        TaskError {
            error: error.into(),
            cause: Some(cause.into()),
        }
    }
}

/// Runs one Task resource.
#[async_trait]
pub trait TaskHandler: Send + Sync {
    async fn invoke(
        &self,
        resource: &str,
        arguments: Value,
        ctx: &TaskContext,
    ) -> Result<Value, TaskError>;

    /// Whether this handler can run `resource` (used to check bindings at load).
    fn supports(&self, resource: &str, function_name: Option<&str>) -> bool {
        let _ = (resource, function_name);
        true
    }
}

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

const LAMBDA_INVOKE: &str = "arn:aws:states:::lambda:invoke";
const CONVERSE: &str = "arn:aws:states:::aws-sdk:bedrockruntime:converse";
const SNS_PUBLISH: &str = "arn:aws:states:::sns:publish";
const S3_SDK: &str = "arn:aws:states:::aws-sdk:s3:";
const S3_ITEM_READER: &str = "arn:aws:states:::s3:getObject";

/// Strips `.sync`, `.sync:2` and `.waitForTaskToken` integration suffixes.
pub fn base_resource(resource: &str) -> &str {
    for suffix in [".sync:2", ".sync", ".waitForTaskToken"] {
        if let Some(stripped) = resource.strip_suffix(suffix) {
            return stripped;
        }
    }
    resource
}

/// `arn:aws:lambda:...:function:NAME` used directly as a Task resource.
pub fn is_lambda_arn(resource: &str) -> bool {
    resource.starts_with("arn:") && resource.contains(":lambda:") && resource.contains(":function:")
}

fn metadata(request_id: &str, content_length: usize) -> (Value, Value) {
    let length = content_length.to_string();
    (
        json!({
            "AllHttpHeaders": {
                "X-Amz-Executed-Version": ["$LATEST"],
                "x-amzn-Remapped-Content-Length": ["0"],
                "Connection": ["keep-alive"],
                "x-amzn-RequestId": [request_id],
                "Content-Length": [length],
                "Date": ["Thu, 01 Jan 1970 00:00:00 GMT"],
                "Content-Type": ["application/json"]
            },
            "HttpHeaders": {
                "Connection": "keep-alive",
                "Content-Length": length,
                "Content-Type": "application/json",
                "Date": "Thu, 01 Jan 1970 00:00:00 GMT",
                "X-Amz-Executed-Version": "$LATEST",
                "x-amzn-Remapped-Content-Length": "0",
                "x-amzn-RequestId": request_id
            },
            "HttpStatusCode": 200
        }),
        json!({ "RequestId": request_id }),
    )
}

fn request_id(ctx: &TaskContext) -> String {
    // Deterministic per execution/state/attempt, shaped like a UUID.
    use sha2::Digest;
    let digest = sha2::Sha256::digest(format!(
        "{}/{}/{}",
        ctx.execution_arn, ctx.state_name, ctx.retry_count
    ));
    let hex: String = digest.iter().take(16).map(|b| format!("{b:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
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
        let (http, response) = metadata(
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

fn sdk_error(service: &str, error: &PortError) -> TaskError {
    let code = error.code.clone().unwrap_or_else(|| {
        match error.kind {
            PortErrorKind::NotFound if service == "S3" => "NoSuchKey",
            PortErrorKind::NotFound => "ResourceNotFound",
            PortErrorKind::AccessDenied => "AccessDenied",
            PortErrorKind::Throttled => "Throttling",
            PortErrorKind::Unavailable => "ServiceUnavailable",
            PortErrorKind::InvalidInput => "Validation",
            PortErrorKind::Other => "",
        }
        .to_string()
    });
    let name = if code.is_empty() {
        format!("{service}.{service}Exception")
    } else if code.ends_with("Exception") {
        format!("{service}.{code}")
    } else {
        format!("{service}.{code}Exception")
    };
    let status = match error.kind {
        PortErrorKind::NotFound => 404,
        PortErrorKind::AccessDenied => 403,
        PortErrorKind::Throttled => 429,
        PortErrorKind::Unavailable => 503,
        PortErrorKind::InvalidInput => 400,
        PortErrorKind::Other => 500,
    };
    TaskError::new(
        name,
        format!(
            "{} (Service: {service}, Status Code: {status}, Request ID: local)",
            error.message
        ),
    )
}

/// `aws-sdk:bedrockruntime:converse` on a [`ChatModel`].
pub struct ConverseBinding {
    pub model: Arc<dyn ChatModel>,
}

fn parse_converse(arguments: &Value) -> Result<ChatRequest, TaskError> {
    let invalid = |m: &str| TaskError::new("BedrockRuntime.ValidationException", m.to_string());
    let model_id = arguments
        .get("ModelId")
        .and_then(Value::as_str)
        .ok_or_else(|| invalid("ModelId is required"))?
        .to_string();
    let mut messages = Vec::new();
    for message in arguments
        .get("Messages")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let role = match message.get("Role").and_then(Value::as_str) {
            Some("user") => ChatRole::User,
            Some("assistant") => ChatRole::Assistant,
            _ => return Err(invalid("Messages[].Role must be user or assistant")),
        };
        let mut content = Vec::new();
        for block in message
            .get("Content")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            if let Some(text) = block.get("Text") {
                content.push(ContentBlock::Text(match text {
                    Value::String(s) => s.clone(),
                    other => other.to_string(),
                }));
            } else if let Some(image) = block.get("Image") {
                let format = image.get("Format").and_then(Value::as_str).unwrap_or("png");
                let bytes = image
                    .pointer("/Source/Bytes")
                    .and_then(Value::as_str)
                    .and_then(|b| base64::engine::general_purpose::STANDARD.decode(b).ok())
                    .ok_or_else(|| invalid("Image.Source.Bytes must be base64"))?;
                content.push(ContentBlock::Image {
                    media_type: format!("image/{format}"),
                    bytes,
                });
            }
        }
        messages.push(ChatMessage { role, content });
    }
    if messages.is_empty() {
        return Err(invalid("Messages must not be empty"));
    }
    let system = arguments
        .get("System")
        .and_then(Value::as_array)
        .map(|blocks| {
            blocks
                .iter()
                .filter_map(|b| b.get("Text").and_then(Value::as_str))
                .collect::<Vec<_>>()
                .join("\n")
        });
    let config = arguments.get("InferenceConfig");
    let get = |k: &str| config.and_then(|c| c.get(k));
    Ok(ChatRequest {
        model_id,
        system,
        messages,
        max_tokens: get("MaxTokens").and_then(Value::as_u64).map(|n| n as u32),
        temperature: get("Temperature").and_then(Value::as_f64).map(|f| f as f32),
        top_p: get("TopP").and_then(Value::as_f64).map(|f| f as f32),
        top_k: None,
    })
}

#[async_trait]
impl TaskHandler for ConverseBinding {
    async fn invoke(
        &self,
        _resource: &str,
        arguments: Value,
        _ctx: &TaskContext,
    ) -> Result<Value, TaskError> {
        let request = parse_converse(&arguments)?;
        let started = std::time::Instant::now();
        let response = self
            .model
            .converse(&request)
            .await
            .map_err(|e| sdk_error("BedrockRuntime", &e))?;
        let input = response.input_tokens.unwrap_or(0);
        let output = response.output_tokens.unwrap_or(0);
        Ok(json!({
            "Metrics": { "LatencyMs": started.elapsed().as_millis() as u64 },
            "Output": { "Message": { "Content": [ { "Text": response.text } ], "Role": "assistant" } },
            "StopReason": response.stop_reason.unwrap_or_else(|| "end_turn".into()),
            "Usage": { "InputTokens": input, "OutputTokens": output, "TotalTokens": input + output }
        }))
    }
}

/// `sns:publish` on a [`Notifier`].
pub struct SnsBinding {
    pub notifier: Arc<dyn Notifier>,
}

#[async_trait]
impl TaskHandler for SnsBinding {
    async fn invoke(
        &self,
        _resource: &str,
        arguments: Value,
        ctx: &TaskContext,
    ) -> Result<Value, TaskError> {
        let message = match arguments.get("Message") {
            Some(Value::String(s)) => s.clone(),
            Some(other) => other.to_string(),
            None => {
                return Err(TaskError::new(
                    "SNS.InvalidParameterException",
                    "Message is required",
                ))
            }
        };
        let subject = arguments.get("Subject").and_then(Value::as_str);
        let message_id = self
            .notifier
            .publish(subject, &message)
            .await
            .map_err(|e| sdk_error("SNS", &e))?;
        let id = request_id(ctx);
        let (mut http, response) = metadata(&id, 0);
        // SNS answers without Lambda's version headers, in XML.
        for (headers, content_type) in [
            ("AllHttpHeaders", json!(["text/xml"])),
            ("HttpHeaders", json!("text/xml")),
        ] {
            if let Some(Value::Object(h)) = http.get_mut(headers) {
                h.remove("X-Amz-Executed-Version");
                h.remove("x-amzn-Remapped-Content-Length");
                h.insert("Content-Type".into(), content_type);
            }
        }
        Ok(
            json!({ "MessageId": message_id, "SdkHttpMetadata": http, "SdkResponseMetadata": response }),
        )
    }
}

/// `aws-sdk:s3:*` (and the Map ItemReader's `s3:getObject`) on an [`ObjectStore`]:
/// getObject, headObject, deleteObject, copyObject and putObjectTagging, each with `VersionId`
/// (copyObject: `?versionId=` in `CopySource`) as S3 takes it.
pub struct S3Binding {
    pub store: Arc<dyn ObjectStore>,
}

fn required<'a>(arguments: &'a Value, key: &str) -> Result<&'a str, TaskError> {
    arguments.get(key).and_then(Value::as_str).ok_or_else(|| {
        TaskError::new(
            "S3.S3Exception",
            format!("{key} is required (Service: S3, Status Code: 400)"),
        )
    })
}

fn optional<'a>(arguments: &'a Value, key: &str) -> Result<Option<&'a str>, TaskError> {
    match arguments.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(TaskError::new(
            "S3.S3Exception",
            format!("{key} must be a string (Service: S3, Status Code: 400)"),
        )),
    }
}

/// Decodes `%XX` escapes (and `+` as a space when `plus_is_space`, as in a query string).
fn percent_decode(text: &str, plus_is_space: bool) -> Result<String, TaskError> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' => {
                let hex = bytes
                    .get(i + 1..i + 3)
                    .and_then(|h| std::str::from_utf8(h).ok())
                    .and_then(|h| u8::from_str_radix(h, 16).ok())
                    .ok_or_else(|| {
                        TaskError::new(
                            "S3.S3Exception",
                            format!(
                                "invalid URL encoding in {text:?} (Service: S3, Status Code: 400)"
                            ),
                        )
                    })?;
                out.push(hex);
                i += 3;
            }
            b'+' if plus_is_space => {
                out.push(b' ');
                i += 1;
            }
            other => {
                out.push(other);
                i += 1;
            }
        }
    }
    String::from_utf8(out).map_err(|_| {
        TaskError::new(
            "S3.S3Exception",
            format!("{text:?} does not decode to UTF-8 (Service: S3, Status Code: 400)"),
        )
    })
}

/// `CopySource`: `[/]bucket/url-encoded-key[?versionId=ID]` → (bucket, key, version).
fn parse_copy_source(source: &str) -> Result<(String, String, Option<String>), TaskError> {
    let source = source.trim_start_matches('/');
    let (path, version) = match source.split_once("?versionId=") {
        Some((path, version)) => (path, Some(percent_decode(version, false)?)),
        None => (source, None),
    };
    let decoded = percent_decode(path, false)?;
    let (bucket, key) = decoded
        .split_once('/')
        .filter(|(bucket, key)| !bucket.is_empty() && !key.is_empty())
        .ok_or_else(|| {
            TaskError::new(
                "S3.S3Exception",
                "CopySource must be bucket/key[?versionId=ID] (Service: S3, Status Code: 400)",
            )
        })?;
    Ok((bucket.to_string(), key.to_string(), version))
}

/// The `Tagging` argument: URL query parameters `k1=v1&k2=v2`.
fn parse_tagging(text: &str) -> Result<Vec<(String, String)>, TaskError> {
    text.split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            Ok((percent_decode(key, true)?, percent_decode(value, true)?))
        })
        .collect()
}

fn s3_not_found(error: &PortError) -> TaskError {
    // HeadObject and GetObject name a missing key or version NoSuchKey in the SDK Step Functions uses.
    TaskError::new(
        "S3.NoSuchKeyException",
        format!(
            "{} (Service: S3, Status Code: 404, Request ID: local)",
            error.message
        ),
    )
}

fn s3_error(error: PortError) -> TaskError {
    if error.kind == PortErrorKind::NotFound && error.code.as_deref() != Some("NoSuchBucket") {
        s3_not_found(&error)
    } else {
        sdk_error("S3", &error)
    }
}

#[async_trait]
impl TaskHandler for S3Binding {
    async fn invoke(
        &self,
        resource: &str,
        arguments: Value,
        _ctx: &TaskContext,
    ) -> Result<Value, TaskError> {
        let action = resource.rsplit(':').next().unwrap_or("");
        let bucket = required(&arguments, "Bucket")?;
        match action {
            "getObject" => {
                let key = required(&arguments, "Key")?;
                let version = optional(&arguments, "VersionId")?;
                let object = self
                    .store
                    .get_object_version(bucket, key, version)
                    .await
                    .map_err(s3_error)?;
                let mut out = Map::new();
                out.insert(
                    "Body".into(),
                    Value::String(String::from_utf8_lossy(&object.bytes).into_owned()),
                );
                out.insert("ContentLength".into(), json!(object.bytes.len()));
                if let Some(t) = object.content_type {
                    out.insert("ContentType".into(), Value::String(t));
                }
                if let Some(e) = object.etag {
                    out.insert("ETag".into(), Value::String(e));
                }
                if let Some(v) = object.version_id {
                    out.insert("VersionId".into(), Value::String(v));
                }
                Ok(Value::Object(out))
            }
            "headObject" => {
                let key = required(&arguments, "Key")?;
                let version = optional(&arguments, "VersionId")?;
                let head = self
                    .store
                    .head_object(bucket, key, version)
                    .await
                    .map_err(s3_error)?;
                let mut out = Map::new();
                out.insert("ContentLength".into(), json!(head.content_length));
                if let Some(t) = head.content_type {
                    out.insert("ContentType".into(), Value::String(t));
                }
                if let Some(e) = head.etag {
                    out.insert("ETag".into(), Value::String(e));
                }
                if let Some(v) = head.version_id {
                    out.insert("VersionId".into(), Value::String(v));
                }
                Ok(Value::Object(out))
            }
            "deleteObject" => {
                let key = required(&arguments, "Key")?;
                let version = optional(&arguments, "VersionId")?;
                self.store
                    .delete_object_version(bucket, key, version)
                    .await
                    .map_err(|e| sdk_error("S3", &e))?;
                Ok(match version {
                    Some(v) => json!({ "VersionId": v }),
                    None => json!({}),
                })
            }
            "copyObject" => {
                let key = required(&arguments, "Key")?;
                let (source_bucket, source_key, source_version) =
                    parse_copy_source(required(&arguments, "CopySource")?)?;
                let replace_tags = match optional(&arguments, "TaggingDirective")? {
                    None | Some("COPY") => false,
                    Some("REPLACE") => true,
                    Some(other) => {
                        return Err(TaskError::new(
                            "S3.S3Exception",
                            format!("TaggingDirective {other:?} must be COPY or REPLACE (Service: S3, Status Code: 400)"),
                        ))
                    }
                };
                let tags = match optional(&arguments, "Tagging")? {
                    Some(text) => parse_tagging(text)?,
                    None => Vec::new(),
                };
                self.store
                    .copy_object_version(
                        &source_bucket,
                        &source_key,
                        source_version.as_deref(),
                        bucket,
                        key,
                    )
                    .await
                    .map_err(s3_error)?;
                if replace_tags {
                    self.store
                        .put_object_tagging(bucket, key, &tags)
                        .await
                        .map_err(|e| sdk_error("S3", &e))?;
                }
                let mut out = Map::new();
                out.insert("CopyObjectResult".into(), json!({}));
                if let Some(v) = source_version {
                    out.insert("CopySourceVersionId".into(), Value::String(v));
                }
                Ok(Value::Object(out))
            }
            "putObjectTagging" => {
                let key = required(&arguments, "Key")?;
                let tags: Vec<(String, String)> = arguments
                    .pointer("/Tagging/TagSet")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                    .filter_map(|t| {
                        Some((
                            t.get("Key")?.as_str()?.to_string(),
                            t.get("Value")?.as_str()?.to_string(),
                        ))
                    })
                    .collect();
                self.store
                    .put_object_tagging(bucket, key, &tags)
                    .await
                    .map_err(|e| sdk_error("S3", &e))?;
                Ok(json!({}))
            }
            other => Err(TaskError::new(
                "States.Runtime",
                format!("the S3 action '{other}' has no local binding"),
            )),
        }
    }

    fn supports(&self, resource: &str, _function_name: Option<&str>) -> bool {
        matches!(
            resource.rsplit(':').next(),
            Some("getObject" | "headObject" | "deleteObject" | "copyObject" | "putObjectTagging")
        )
    }
}

/// The resource → handler table an execution uses.
#[derive(Clone, Default)]
pub struct Bindings {
    exact: HashMap<String, Arc<dyn TaskHandler>>,
    prefixes: Vec<(String, Arc<dyn TaskHandler>)>,
    lambda: Option<Arc<LambdaBinding>>,
    fallback: Option<Arc<dyn TaskHandler>>,
}

impl Bindings {
    pub fn new() -> Self {
        Self::default()
    }

    /// Binds one exact resource ARN.
    pub fn bind(&mut self, resource: &str, handler: Arc<dyn TaskHandler>) -> &mut Self {
        self.exact.insert(resource.to_string(), handler);
        self
    }

    /// Binds every resource starting with `prefix`.
    pub fn bind_prefix(&mut self, prefix: &str, handler: Arc<dyn TaskHandler>) -> &mut Self {
        self.prefixes.push((prefix.to_string(), handler));
        self
    }

    pub fn lambda(&mut self, functions: LambdaBinding) -> &mut Self {
        let binding = Arc::new(functions);
        self.exact.insert(LAMBDA_INVOKE.into(), binding.clone());
        self.lambda = Some(binding);
        self
    }

    pub fn model(&mut self, model: Arc<dyn ChatModel>) -> &mut Self {
        self.bind(CONVERSE, Arc::new(ConverseBinding { model }))
    }

    pub fn notifier(&mut self, notifier: Arc<dyn Notifier>) -> &mut Self {
        self.bind(SNS_PUBLISH, Arc::new(SnsBinding { notifier }))
    }

    pub fn storage(&mut self, store: Arc<dyn ObjectStore>) -> &mut Self {
        let binding: Arc<dyn TaskHandler> = Arc::new(S3Binding { store });
        self.bind(S3_ITEM_READER, binding.clone());
        self.bind_prefix(S3_SDK, binding)
    }

    /// A handler for every resource nothing else binds (e.g. replaying recorded results).
    pub fn fallback(&mut self, handler: Arc<dyn TaskHandler>) -> &mut Self {
        self.fallback = Some(handler);
        self
    }

    pub fn resolve(&self, resource: &str) -> Option<Arc<dyn TaskHandler>> {
        let base = base_resource(resource);
        if let Some(h) = self.exact.get(base) {
            return Some(h.clone());
        }
        if let Some((_, h)) = self
            .prefixes
            .iter()
            .find(|(p, _)| base.starts_with(p.as_str()))
        {
            return Some(h.clone());
        }
        if is_lambda_arn(base) {
            if let Some(l) = &self.lambda {
                if l.lookup(base).is_some() {
                    return Some(l.clone());
                }
            }
        }
        self.fallback.clone()
    }

    /// Every Task resource (and literal Lambda FunctionName) of `machine` is bound.
    pub fn check(&self, machine: &StateMachine) -> Result<(), LoadError> {
        for task in &machine.tasks {
            let supported = self.resolve(&task.resource).is_some_and(|h| {
                h.supports(base_resource(&task.resource), task.function_name.as_deref())
            });
            if !supported {
                let resource = match &task.function_name {
                    Some(f) if base_resource(&task.resource) == LAMBDA_INVOKE => {
                        format!("{} (FunctionName {f})", task.resource)
                    }
                    _ => task.resource.clone(),
                };
                return Err(LoadError::UnboundResource {
                    state: task.state.clone(),
                    resource,
                });
            }
        }
        Ok(())
    }
}

/// The `--bindings` TOML file.
///
/// ```toml
/// [lambda."trailguard-analysis"]          # function name or ARN
/// handler = "analysis"                    # an in-process handler the caller registered
/// [lambda."arn:aws:lambda:us-west-2:123456789012:function:pii"]
/// command = ["python3", "pii.py"]         # payload on stdin, result on stdout
/// [model]
/// kind = "deterministic"                  # other keys go to the adapter
/// [notifier]
/// kind = "jsonl"
/// path = "alerts.jsonl"
/// [storage]
/// kind = "dir"
/// root = "bucket"
/// [substitutions]                         # SAM DefinitionSubstitutions
/// AnalysisFunctionArn = "trailguard-analysis"
/// ```
#[derive(Debug, Clone, serde::Deserialize, serde::Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct BindingsConfig {
    #[serde(default)]
    pub lambda: BTreeMap<String, LambdaConfig>,
    #[serde(default = "AdapterConfig::deterministic")]
    pub model: AdapterConfig,
    #[serde(default = "AdapterConfig::jsonl")]
    pub notifier: AdapterConfig,
    #[serde(default = "AdapterConfig::dir")]
    pub storage: AdapterConfig,
    #[serde(default)]
    pub substitutions: HashMap<String, String>,
}

#[derive(Debug, Clone, serde::Deserialize, serde::Serialize, PartialEq)]
pub struct LambdaConfig {
    pub handler: Option<String>,
    pub command: Option<Vec<String>>,
    /// Options of an in-process `handler`, read by the application that provides the handler
    /// (e.g. `result = "contract"`); not allowed with `command`.
    #[serde(flatten, default)]
    pub options: toml::Table,
}

#[derive(Debug, Clone, serde::Deserialize, serde::Serialize, PartialEq)]
pub struct AdapterConfig {
    pub kind: String,
    /// Adapter-specific keys (`path`, `root`, `url`, ...).
    #[serde(flatten)]
    pub options: toml::Table,
}

impl AdapterConfig {
    fn with(kind: &str, key: &str, value: &str) -> Self {
        let mut options = toml::Table::new();
        if !key.is_empty() {
            options.insert(key.into(), toml::Value::String(value.into()));
        }
        AdapterConfig {
            kind: kind.into(),
            options,
        }
    }
    pub fn deterministic() -> Self {
        Self::with("deterministic", "", "")
    }
    pub fn jsonl() -> Self {
        Self::with("jsonl", "path", "alerts.jsonl")
    }
    pub fn dir() -> Self {
        Self::with("dir", "root", ".")
    }
    pub fn option(&self, key: &str) -> Option<&str> {
        self.options.get(key).and_then(toml::Value::as_str)
    }
}

impl Default for BindingsConfig {
    fn default() -> Self {
        BindingsConfig {
            lambda: BTreeMap::new(),
            model: AdapterConfig::deterministic(),
            notifier: AdapterConfig::jsonl(),
            storage: AdapterConfig::dir(),
            substitutions: HashMap::new(),
        }
    }
}

impl BindingsConfig {
    pub fn from_toml(text: &str) -> Result<Self, LoadError> {
        let table: toml::Table =
            toml::from_str(text).map_err(|e| LoadError::Bindings(e.to_string()))?;
        Self::from_table(table)
    }

    /// The config from an already-parsed TOML table.
    pub fn from_table(table: toml::Table) -> Result<Self, LoadError> {
        let config: BindingsConfig = table
            .try_into()
            .map_err(|e: toml::de::Error| LoadError::Bindings(e.to_string()))?;
        for (name, lambda) in &config.lambda {
            if lambda.handler.is_some() == lambda.command.is_some() {
                return Err(LoadError::Bindings(format!(
                    "lambda '{name}': set exactly one of handler or command"
                )));
            }
            if lambda.command.is_some() {
                if let Some(key) = lambda.options.keys().next() {
                    return Err(LoadError::Bindings(format!(
                        "lambda '{name}': unknown key '{key}' (a command takes only `command`)"
                    )));
                }
            }
        }
        Ok(config)
    }
}

/// Builds the concrete adapters a [`BindingsConfig`] names.
pub trait AdapterFactory {
    fn model(&self, config: &AdapterConfig) -> Result<Arc<dyn ChatModel>, LoadError>;
    fn notifier(&self, config: &AdapterConfig) -> Result<Arc<dyn Notifier>, LoadError>;
    fn storage(&self, config: &AdapterConfig) -> Result<Arc<dyn ObjectStore>, LoadError>;
}

impl Bindings {
    /// Bindings from a config file: adapters from `factory`, `handler = "..."` Lambdas from `handlers`.
    pub fn from_config(
        config: &BindingsConfig,
        factory: &dyn AdapterFactory,
        handlers: &HashMap<String, Arc<dyn LambdaFunction>>,
    ) -> Result<Bindings, LoadError> {
        let mut lambda = LambdaBinding::new();
        for (name, function) in &config.lambda {
            let f: Arc<dyn LambdaFunction> = match (&function.handler, &function.command) {
                (Some(handler), _) => handlers.get(handler).cloned().ok_or_else(|| {
                    LoadError::Bindings(format!(
                        "lambda '{name}': no in-process handler named '{handler}'"
                    ))
                })?,
                (None, Some(argv)) => Arc::new(CommandFunction { argv: argv.clone() }),
                (None, None) => {
                    return Err(LoadError::Bindings(format!(
                        "lambda '{name}': no handler or command"
                    )))
                }
            };
            lambda.register(name, f);
        }
        let mut bindings = Bindings::new();
        bindings
            .lambda(lambda)
            .model(factory.model(&config.model)?)
            .notifier(factory.notifier(&config.notifier)?)
            .storage(factory.storage(&config.storage)?);
        Ok(bindings)
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

    #[test]
    fn copy_source_and_tagging_decode_like_s3() {
        assert_eq!(
            parse_copy_source("/uploads/photos%2Fa%20b%2Bc.jpg?versionId=v%2B1").unwrap(),
            (
                "uploads".into(),
                "photos/a b+c.jpg".into(),
                Some("v+1".into())
            )
        );
        assert_eq!(
            parse_copy_source("uploads/k").unwrap(),
            ("uploads".into(), "k".into(), None)
        );
        assert!(parse_copy_source("uploads").is_err());
        assert!(parse_copy_source("uploads/%zz").is_err());
        assert_eq!(
            parse_tagging("a=1&reason=pii+found&e=EMAIL%2BPHONE").unwrap(),
            vec![
                ("a".into(), "1".into()),
                ("reason".into(), "pii found".into()),
                ("e".into(), "EMAIL+PHONE".into())
            ]
        );
    }

    #[test]
    fn config_parses_with_defaults() {
        let config = BindingsConfig::from_toml(
            "[lambda.pii]\ncommand = [\"cat\"]\n[notifier]\nkind = \"jsonl\"\npath = \"x.jsonl\"\n",
        )
        .unwrap();
        assert_eq!(config.model.kind, "deterministic");
        assert_eq!(config.storage.option("root"), Some("."));
        assert_eq!(config.notifier.option("path"), Some("x.jsonl"));
        assert!(BindingsConfig::from_toml("[lambda.pii]\n").is_err());
        assert!(BindingsConfig::from_toml("[unknown]\n").is_err());
    }
}
