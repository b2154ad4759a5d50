//! Resource bindings: which [`TaskHandler`] runs a Task's `Resource`.
//!
//! The engine knows no service: the caller binds resources (exactly, or by prefix) to handlers
//! that give AWS's result and error shapes, and every Task resource of a definition must be bound
//! before a [`crate::Runner`] is built.

use std::collections::HashMap;
use std::sync::Arc;

use async_trait::async_trait;
use serde_json::Value;

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

    /// Whether this handler can run `resource` (checked when the runner is built);
    /// `function_name` is a Lambda Task's literal `FunctionName`, when it has one.
    fn supports(&self, resource: &str, function_name: Option<&str>) -> bool;
}

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

/// The `lambda:invoke` integration's resource, whose `FunctionName` argument names the function.
pub const LAMBDA_INVOKE: &str = "arn:aws:states:::lambda:invoke";

/// The resource → handler table an execution uses.
#[derive(Clone, Default)]
pub struct Bindings {
    exact: HashMap<String, Arc<dyn TaskHandler>>,
    prefixes: Vec<(String, Arc<dyn TaskHandler>)>,
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
        // The longest matching prefix wins, so a specific binding can refine a general one.
        if let Some((_, h)) = self
            .prefixes
            .iter()
            .filter(|(p, _)| base.starts_with(p.as_str()))
            .max_by_key(|(p, _)| p.len())
        {
            return Some(h.clone());
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
