//! TrailGuard's Lambda handlers as in-process functions: the same code the Lambda bootstraps run,
//! with errors named as Step Functions sees them, so Retry and Catch behave as on AWS.

use std::sync::Arc;

use async_trait::async_trait;
use serde_json::Value;
use trailguard_core::TaskFailure;
use trailguard_pii::PiiHandler;
use trailguard_triage::LogAnalysisHandler;

use crate::integrations::{FunctionError, LambdaFunction};

fn function_error(error: &dyn TaskFailure) -> FunctionError {
    FunctionError {
        error_type: error.error_name().to_string(),
        error_message: error.to_string(),
    }
}

/// The log-analysis handler, in-process.
pub struct AnalysisFunction(pub Arc<LogAnalysisHandler>);

#[async_trait]
impl LambdaFunction for AnalysisFunction {
    async fn call(&self, payload: Value) -> Result<Value, FunctionError> {
        self.0
            .handle_value(&payload)
            .await
            .map_err(|e| function_error(&e))
    }
}

/// The PII handler, in-process.
pub struct PiiFunction(pub Arc<PiiHandler>);

#[async_trait]
impl LambdaFunction for PiiFunction {
    async fn call(&self, payload: Value) -> Result<Value, FunctionError> {
        self.0.handle(payload).await.map_err(|e| function_error(&e))
    }
}
