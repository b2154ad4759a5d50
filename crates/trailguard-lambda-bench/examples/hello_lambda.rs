//! A minimal real Runtime API client (lambda_runtime + tokio), the benchmark's baseline and the
//! integration test's subject. Echoes the event; `{"fail": true}` returns a handler error.

use lambda_runtime::{service_fn, Error, LambdaEvent};
use serde_json::{json, Value};

async fn handle(event: LambdaEvent<Value>) -> Result<Value, Error> {
    if event.payload.get("fail").and_then(Value::as_bool) == Some(true) {
        return Err("asked to fail".into());
    }
    Ok(json!({ "echo": event.payload, "request_id": event.context.request_id }))
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    lambda_runtime::run(service_fn(handle)).await
}
