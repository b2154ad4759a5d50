//! A JSONata 2.0.6 engine: tokenizer and Pratt parser, AST post-processing, evaluator with
//! JSONata's sequence semantics, and the standard library. `Environment::step_functions()`
//! gives the AWS Step Functions flavour ($partition, $range, $hash, $random, $uuid, $parse; no $eval).
//!
//! Values cross the API as `serde_json::Value`; `None` stands for JSONata's `undefined`.
//!
//! ```
//! use trailguard_jsonata::{Environment, Expression};
//! let expr = Expression::parse("$sum(items.price)").unwrap();
//! let input = serde_json::json!({"items": [{"price": 2}, {"price": 3}]});
//! let out = expr.evaluate(Some(&input), &Environment::new()).unwrap();
//! assert_eq!(out, Some(serde_json::json!(5)));
//! ```

// The error shape (code, message, position, token, value) is the public contract the runner
// reads; boxing it would only move the allocation.
#![allow(clippy::result_large_err)]

mod ast;
mod aws;
mod datetime;
mod error;
mod errors;
mod eval;
mod functions;
mod numfmt;
mod parser;
mod signature;
#[doc(hidden)]
pub mod suite;
mod value;

pub use error::Error;

use std::sync::Arc;
use std::time::{Duration, Instant};
use value::{Array, Frame, Items, Value};

/// A parsed JSONata expression; parse once, evaluate many times (from any thread).
#[derive(Debug, Clone)]
pub struct Expression {
    root: Arc<ast::Node>,
    source: Arc<str>,
}

impl Expression {
    /// Parses `source`; syntax errors carry JSONata's S0xxx codes.
    pub fn parse(source: &str) -> Result<Expression, Error> {
        let (root, _) = parser::parse(source)?;
        Ok(Expression {
            root: Arc::new(root),
            source: Arc::from(source),
        })
    }

    /// The source text.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// Evaluates against `input` (`None` = undefined input). `Ok(None)` is an undefined result.
    pub fn evaluate(
        &self,
        input: Option<&serde_json::Value>,
        env: &Environment,
    ) -> Result<Option<serde_json::Value>, Error> {
        self.evaluate_with(input, env, false)
    }

    /// [`Self::evaluate`], but a function as the whole result is an error with code
    /// [`FUNCTION_RESULT`] instead of the empty string JSON gives it (Step Functions refuses it).
    pub fn evaluate_json_only(
        &self,
        input: Option<&serde_json::Value>,
        env: &Environment,
    ) -> Result<Option<serde_json::Value>, Error> {
        self.evaluate_with(input, env, true)
    }

    fn evaluate_with(
        &self,
        input: Option<&serde_json::Value>,
        env: &Environment,
        reject_function: bool,
    ) -> Result<Option<serde_json::Value>, Error> {
        let deadline = env.time_limit.map(|d| Instant::now() + d);
        let mut ctx = eval::Ctx::new(&env.registry, env.max_depth, deadline);
        let root = Frame::root();
        // Bindings are converted only if the expression reads them.
        ctx.set_globals(&env.bindings, root.clone());
        let input = input.map(Value::from_json);
        root.bind("$", input.clone());
        let input = match input {
            Some(Value::Array(a)) => Some(Value::Array(std::rc::Rc::new(Array {
                items: Items(vec![Value::Array(a)]),
                sequence: true,
                outer_wrapper: true,
                ..Default::default()
            }))),
            other => other,
        };
        let frame = Frame::child(&root);
        let mut result = ctx.evaluate(&self.root, input.as_ref(), &frame);
        if reject_function && matches!(result, Ok(Some(ref v)) if v.is_function()) {
            result = Err(Error::new(
                FUNCTION_RESULT,
                "the expression evaluated to a function".to_string(),
            ));
        }
        let json = result.and_then(|r| r.map(|v| v.to_json()).transpose());
        ctx.release();
        json
    }
}

/// Error code of [`Expression::evaluate_json_only`] when the result is a function.
pub const FUNCTION_RESULT: &str = "TG0001";

/// Variable bindings and the function library an expression is evaluated with.
#[derive(Clone)]
pub struct Environment {
    bindings: indexmap::IndexMap<String, serde_json::Value>,
    registry: Arc<functions::Registry>,
    max_depth: usize,
    time_limit: Option<Duration>,
}

impl std::fmt::Debug for Environment {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Environment")
            .field("bindings", &self.bindings.keys().collect::<Vec<_>>())
            .field("functions", &self.registry.len())
            .field("max_depth", &self.max_depth)
            .field("time_limit", &self.time_limit)
            .finish()
    }
}

impl Default for Environment {
    fn default() -> Self {
        Self::new()
    }
}

/// Default evaluation nesting limit (JSONata's recursion guard; exceeding it is U1001).
pub const DEFAULT_MAX_DEPTH: usize = 5_000;
/// Default evaluation time limit (exceeding it is U1001).
pub const DEFAULT_TIME_LIMIT: Duration = Duration::from_secs(10);

impl Environment {
    /// The standard JSONata library.
    pub fn new() -> Self {
        static STANDARD: std::sync::OnceLock<Arc<functions::Registry>> = std::sync::OnceLock::new();
        Self::with_registry(
            STANDARD
                .get_or_init(|| Arc::new(functions::standard()))
                .clone(),
        )
    }

    /// AWS Step Functions flavour: adds $partition, $range, $hash, $random, $uuid, $parse; removes $eval.
    pub fn step_functions() -> Self {
        static AWS: std::sync::OnceLock<Arc<functions::Registry>> = std::sync::OnceLock::new();
        Self::with_registry(
            AWS.get_or_init(|| Arc::new(functions::step_functions()))
                .clone(),
        )
    }

    fn with_registry(registry: Arc<functions::Registry>) -> Self {
        Environment {
            bindings: indexmap::IndexMap::new(),
            registry,
            max_depth: DEFAULT_MAX_DEPTH,
            time_limit: Some(DEFAULT_TIME_LIMIT),
        }
    }

    /// Binds `$name` (without the `$`) to `value`.
    pub fn bind(&mut self, name: &str, value: serde_json::Value) {
        self.bindings.insert(name.to_string(), value);
    }

    /// Removes a binding.
    pub fn unbind(&mut self, name: &str) {
        self.bindings.shift_remove(name);
    }

    /// Limits evaluation nesting depth (recursion); exceeding it fails with U1001.
    pub fn set_max_depth(&mut self, depth: usize) {
        self.max_depth = depth;
    }

    /// Limits evaluation wall time (`None` = unlimited); exceeding it fails with U1001.
    pub fn set_time_limit(&mut self, limit: Option<Duration>) {
        self.time_limit = limit;
    }

    /// Whether a function `$name` is available.
    pub fn has_function(&self, name: &str) -> bool {
        self.registry.contains_key(name)
    }
}
