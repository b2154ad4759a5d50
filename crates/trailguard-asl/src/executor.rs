//! Runs a compiled state machine: state semantics, Retry/Catch, variables and history.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use serde_json::{json, Map, Value};
use trailguard_jsonata::Environment;

use crate::bindings::{base_resource, is_lambda_arn, Bindings, TaskContext};
use crate::clock::{format_timestamp, parse_timestamp, Clock, SystemClock};
use crate::definition::{
    Catcher, ChoiceRule, Condition, Dynamic, Graph, Kind, MapSpec, PathField, QueryLanguage,
    Retrier, State, StateMachine, WaitSpec,
};
use crate::error::{error_matches, names, LoadError, StatesError};
use crate::history::{details_key, text, HistoryEvent};
use crate::jsonpath::compact;
use crate::rules::evaluate_rule;
use crate::template::{ContextParts, EvalContext, Template, VarScope};

type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send + 'static>>;

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ExecutionStatus {
    Succeeded,
    Failed,
}

/// The outcome of one execution.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Execution {
    pub execution_arn: String,
    pub status: ExecutionStatus,
    pub output: Option<Value>,
    pub error: Option<String>,
    pub cause: Option<String>,
    pub history: Vec<HistoryEvent>,
    /// What happened, typed: the states taken and each Task's arguments and result, in order.
    /// Recorded with the history (see [`Runner::with_history`]).
    pub trace: Vec<TraceEvent>,
}

/// One step of an execution, with its values (not the JSON text the history holds).
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum TraceEvent {
    StateEntered {
        state: String,
    },
    StateExited {
        state: String,
        output: Value,
    },
    /// A Task call that returned (one per attempt that succeeded).
    TaskSucceeded {
        state: String,
        /// The resource without `.sync`/`.waitForTaskToken` suffixes.
        resource: String,
        arguments: Value,
        result: Value,
    },
    /// A Task attempt that failed (retried or caught afterwards).
    TaskFailed {
        state: String,
        resource: String,
        arguments: Value,
        error: String,
        cause: Option<String>,
    },
}

/// A loaded state machine with its bindings, ready to run executions.
pub struct Runner {
    machine: Arc<StateMachine>,
    bindings: Arc<Bindings>,
    clock: Arc<dyn Clock>,
    base_env: Arc<Environment>,
    name: String,
    region: String,
    account: String,
    seed: u64,
    record_history: bool,
    executions: AtomicU64,
    jsonata_nanos: Arc<AtomicU64>,
}

impl Runner {
    /// Checks every Task resource against `bindings`: an unbound resource is a load error.
    pub fn new(machine: StateMachine, bindings: Bindings) -> Result<Runner, LoadError> {
        bindings.check(&machine)?;
        Ok(Runner {
            machine: Arc::new(machine),
            bindings: Arc::new(bindings),
            clock: Arc::new(SystemClock),
            base_env: Arc::new(Environment::step_functions()),
            name: "StateMachine".into(),
            region: "us-east-1".into(),
            account: "123456789012".into(),
            seed: 0x5eed,
            record_history: true,
            executions: AtomicU64::new(0),
            jsonata_nanos: Arc::new(AtomicU64::new(0)),
        })
    }

    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// Seeds the random source used for retry jitter and intrinsic randomness.
    pub fn with_seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    pub fn with_name(mut self, name: &str) -> Self {
        self.name = name.to_string();
        self
    }

    /// Turning history off saves its cost (benchmarks); event ids are still counted.
    pub fn with_history(mut self, record: bool) -> Self {
        self.record_history = record;
        self
    }

    pub fn machine(&self) -> &StateMachine {
        &self.machine
    }

    /// Time spent evaluating JSONata so far, over all executions of this runner.
    pub fn jsonata_time(&self) -> std::time::Duration {
        std::time::Duration::from_nanos(self.jsonata_nanos.load(Ordering::Relaxed))
    }

    pub async fn execute(&self, input: Value) -> Execution {
        let n = self.executions.fetch_add(1, Ordering::Relaxed);
        let name = format!("execution-{n}");
        self.execute_named(&name, input).await
    }

    pub async fn execute_named(&self, execution_name: &str, input: Value) -> Execution {
        let state_machine_arn = format!(
            "arn:aws:states:{}:{}:stateMachine:{}",
            self.region, self.account, self.name
        );
        let execution_arn = format!(
            "arn:aws:states:{}:{}:execution:{}:{}",
            self.region, self.account, self.name, execution_name
        );
        let role_arn = format!("arn:aws:iam::{}:role/{}-role", self.account, self.name);
        let start = self.clock.now_millis();
        let context = json!({
            "Execution": {
                "Id": execution_arn,
                "Input": input,
                "Name": execution_name,
                "RoleArn": role_arn,
                "StartTime": format_timestamp(start),
                "RedriveCount": 0
            },
            "StateMachine": { "Id": state_machine_arn, "Name": self.name }
        });
        let exec = Arc::new(Exec {
            bindings: self.bindings.clone(),
            clock: self.clock.clone(),
            base_env: self.base_env.clone(),
            rng: Mutex::new(fastrand::Rng::with_seed(
                self.seed ^ self.executions.load(Ordering::Relaxed),
            )),
            history: Mutex::new(Vec::new()),
            trace: Mutex::new(Vec::new()),
            next_id: AtomicU64::new(1),
            record: self.record_history,
            context,
            execution_arn: execution_arn.clone(),
            region: self.region.clone(),
            jsonata_nanos: self.jsonata_nanos.clone(),
        });
        let started = exec.emit(
            0,
            "ExecutionStarted",
            || Some(json!({ "input": text(&input), "inputDetails": { "truncated": false }, "roleArn": role_arn })),
        );
        let root = VarScope::root();
        let outcome = run_graph(
            exec.clone(),
            self.machine.graph.clone(),
            input,
            root,
            started,
        )
        .await;
        let last = exec.last_id();
        let (status, output, error, cause) = match outcome {
            Ok(output) => {
                exec.emit(last, "ExecutionSucceeded", || {
                    Some(
                        json!({ "output": text(&output), "outputDetails": { "truncated": false } }),
                    )
                });
                (ExecutionStatus::Succeeded, Some(output), None, None)
            }
            Err(e) => {
                let mut details = Map::new();
                if !e.error.is_empty() {
                    details.insert("error".into(), Value::String(e.error.clone()));
                }
                if let Some(c) = &e.cause {
                    details.insert("cause".into(), Value::String(c.clone()));
                }
                exec.emit(last, "ExecutionFailed", || Some(Value::Object(details)));
                let error = (!e.error.is_empty()).then_some(e.error);
                (ExecutionStatus::Failed, None, error, e.cause)
            }
        };
        let history = exec
            .history
            .lock()
            .map(|mut h| std::mem::take(&mut *h))
            .unwrap_or_default();
        let trace = exec
            .trace
            .lock()
            .map(|mut t| std::mem::take(&mut *t))
            .unwrap_or_default();
        Execution {
            execution_arn,
            status,
            output,
            error,
            cause,
            history,
            trace,
        }
    }
}

struct Exec {
    bindings: Arc<Bindings>,
    clock: Arc<dyn Clock>,
    base_env: Arc<Environment>,
    rng: Mutex<fastrand::Rng>,
    history: Mutex<Vec<HistoryEvent>>,
    trace: Mutex<Vec<TraceEvent>>,
    next_id: AtomicU64,
    record: bool,
    context: Value,
    execution_arn: String,
    region: String,
    jsonata_nanos: Arc<AtomicU64>,
}

impl Exec {
    fn emit(
        &self,
        previous: u64,
        event_type: &str,
        details: impl FnOnce() -> Option<Value>,
    ) -> u64 {
        let id = self.next_id.fetch_add(1, Ordering::SeqCst);
        if self.record {
            let mut map = Map::new();
            if let Some(d) = details() {
                map.insert(details_key(event_type), d);
            }
            let event = HistoryEvent {
                timestamp: format_timestamp(self.clock.now_millis()),
                event_type: event_type.to_string(),
                id,
                previous_event_id: previous,
                details: map,
            };
            if let Ok(mut h) = self.history.lock() {
                h.push(event);
            }
        }
        id
    }

    fn trace(&self, event: impl FnOnce() -> TraceEvent) {
        if self.record {
            if let Ok(mut t) = self.trace.lock() {
                t.push(event());
            }
        }
    }

    fn last_id(&self) -> u64 {
        self.next_id.load(Ordering::SeqCst).saturating_sub(1)
    }

    fn random_f64(&self) -> f64 {
        self.rng.lock().map(|mut r| r.f64()).unwrap_or(0.5)
    }
}

/// One state's run: where control goes next.
struct Step {
    output: Value,
    /// `None`: the graph ends here with `output`.
    next: Option<String>,
}

fn run_graph(
    exec: Arc<Exec>,
    graph: Arc<Graph>,
    input: Value,
    scope: Arc<VarScope>,
    previous: u64,
) -> BoxFuture<Result<Value, StatesError>> {
    Box::pin(async move {
        let mut current = graph.start_at.clone();
        let mut data = input;
        let mut previous = previous;
        loop {
            let Some(state) = graph.states.get(&current).cloned() else {
                return Err(StatesError::new(
                    names::RUNTIME,
                    format!("the state '{current}' does not exist"),
                ));
            };
            let step = run_state(&exec, &state, data, &scope, previous).await?;
            previous = exec.last_id();
            match step.next {
                Some(next) => {
                    current = next;
                    data = step.output;
                }
                None => return Ok(step.output),
            }
        }
    })
}

/// Everything a state's run shares.
struct Run<'a> {
    exec: &'a Arc<Exec>,
    state: &'a State,
    entered_id: u64,
    input: Value,
    entered_millis: i64,
    retry_count: u32,
    scope: &'a Arc<VarScope>,
}

impl<'a> Run<'a> {
    fn eval(&self) -> EvalContext<'_> {
        EvalContext::new(
            &self.state.name,
            self.entered_id,
            &self.input,
            ContextParts {
                execution: &self.exec.context,
                state_name: &self.state.name,
                entered_millis: self.entered_millis,
                retry_count: self.retry_count,
                map_item: None,
            },
            self.scope,
            &self.exec.base_env,
            &self.exec.rng,
            &self.exec.jsonata_nanos,
        )
    }

    fn jsonata(&self) -> bool {
        self.state.language == QueryLanguage::Jsonata
    }

    fn emit(&self, event_type: &str, details: impl FnOnce() -> Option<Value>) -> u64 {
        self.exec.emit(self.exec.last_id(), event_type, details)
    }

    fn exited(&self, output: &Value) {
        self.exec.trace(|| TraceEvent::StateExited {
            state: self.state.name.clone(),
            output: output.clone(),
        });
        self.emit(
            exited_event(self.state.type_name),
            || Some(json!({ "name": self.state.name, "output": text(output), "outputDetails": { "truncated": false } })),
        );
    }

    /// JSONPath `InputPath`.
    fn effective_input(&self) -> Result<Value, StatesError> {
        match &self.state.input_path {
            PathField::Default => Ok(self.input.clone()),
            PathField::Null => Ok(Value::Object(Map::new())),
            PathField::Path(p) => self.eval().select(p, &self.input).ok_or_else(|| {
                self.eval().runtime_error(format!(
                    "Invalid path '{}' : No results for path: {}",
                    p.text, p.text
                ))
            }),
        }
    }

    /// JSONPath `ResultPath` then `OutputPath`.
    fn jsonpath_output(
        &self,
        result: Value,
        result_path: &PathField,
    ) -> Result<Value, StatesError> {
        let combined = match result_path {
            PathField::Default => result,
            PathField::Null => self.input.clone(),
            PathField::Path(p) => p.put(self.input.clone(), result).map_err(|m| {
                StatesError::new(
                    names::RESULT_PATH_MATCH_FAILURE,
                    format!("{} {m}", self.eval().header()),
                )
            })?,
        };
        self.output_path(combined)
    }

    fn output_path(&self, value: Value) -> Result<Value, StatesError> {
        match &self.state.output_path {
            PathField::Default => Ok(value),
            PathField::Null => Ok(Value::Object(Map::new())),
            PathField::Path(p) => self.eval().select(p, &value).ok_or_else(|| {
                self.eval().runtime_error(format!(
                    "Invalid path '{}' : No results for path: {}",
                    p.text, p.text
                ))
            }),
        }
    }

    /// Evaluates `Assign` and `Output` (both against the variables from before the state),
    /// then applies the assignment. `result`: `$states.result` (JSONata) or the JSONPath result.
    fn finish(
        &self,
        result: Option<&Value>,
        assign: Option<&Template>,
        extra_assign: Option<&Template>,
        output: Option<&Template>,
        default_output: Value,
    ) -> Result<Value, StatesError> {
        let mut ctx = self.eval();
        if let Some(r) = result {
            ctx = ctx.with_result(r);
        }
        let data = result.unwrap_or(&self.input);
        let mut assigned = Map::new();
        for template in [assign, extra_assign].into_iter().flatten() {
            match template.evaluate(&ctx, data, "Assign")? {
                Value::Object(map) => assigned.extend(map),
                other => {
                    return Err(ctx.query_error(format!(
                        "The field 'Assign' must evaluate to a JSON object, but was: {}",
                        compact(&other)
                    )))
                }
            }
        }
        let out = match output {
            Some(t) => t.evaluate(&ctx, data, "Output")?,
            None => default_output,
        };
        if !assigned.is_empty() {
            self.scope.assign(assigned);
        }
        Ok(out)
    }

    fn dynamic(&self, value: &Dynamic, data: &Value, field: &str) -> Result<Value, StatesError> {
        let ctx = self.eval();
        match value {
            Dynamic::Literal(v) => Ok(v.clone()),
            Dynamic::Jsonata(e) => ctx.jsonata(e, field),
            Dynamic::Path(p) => ctx.select(p, data).ok_or_else(|| {
                ctx.runtime_error(format!(
                    "The JSONPath '{}' specified for the field '{field}Path' could not be found in the input '{}'",
                    p.text,
                    compact(data)
                ))
            }),
        }
    }

    fn dynamic_u64(&self, value: &Dynamic, data: &Value, field: &str) -> Result<u64, StatesError> {
        let v = self.dynamic(value, data, field)?;
        v.as_u64()
            .or_else(|| {
                v.as_f64()
                    .filter(|f| *f >= 0.0 && f.fract() == 0.0)
                    .map(|f| f as u64)
            })
            .ok_or_else(|| {
                self.eval().query_error(format!(
                    "The field '{field}' must be a non-negative integer, but was: {}",
                    compact(&v)
                ))
            })
    }

    /// Catch: the first matching catcher decides where to go and what to output.
    fn catch(&self, error: StatesError) -> Result<Step, StatesError> {
        let Some(catcher) = self
            .state
            .catch
            .iter()
            .find(|c| error_matches(&c.error_equals, &error.error))
        else {
            return Err(error);
        };
        let error_output = error.to_output();
        let output = self.catch_output(catcher, &error_output)?;
        self.exited(&output);
        Ok(Step {
            output,
            next: Some(catcher.next.clone()),
        })
    }

    fn catch_output(&self, catcher: &Catcher, error_output: &Value) -> Result<Value, StatesError> {
        let ctx = self.eval().with_error_output(error_output);
        let mut assigned = Map::new();
        if let Some(t) = &catcher.assign {
            match t.evaluate(&ctx, error_output, "Assign")? {
                Value::Object(map) => assigned.extend(map),
                other => {
                    return Err(ctx.query_error(format!(
                        "The field 'Assign' must evaluate to a JSON object, but was: {}",
                        compact(&other)
                    )))
                }
            }
        }
        let output = if self.jsonata() {
            match &catcher.output {
                Some(t) => t.evaluate(&ctx, error_output, "Output")?,
                None => error_output.clone(),
            }
        } else {
            match &catcher.result_path {
                PathField::Default => error_output.clone(),
                PathField::Null => self.input.clone(),
                PathField::Path(p) => {
                    p.put(self.input.clone(), error_output.clone())
                        .map_err(|m| {
                            StatesError::new(
                                names::RESULT_PATH_MATCH_FAILURE,
                                format!("{} {m}", ctx.header()),
                            )
                        })?
                }
            }
        };
        if !assigned.is_empty() {
            self.scope.assign(assigned);
        }
        Ok(output)
    }

    /// The delay before the next attempt, if a retrier applies.
    fn retry_delay(&self, error: &StatesError, attempts: &mut [u32]) -> Option<u64> {
        let (index, retrier): (usize, &Retrier) = self
            .state
            .retry
            .iter()
            .enumerate()
            .find(|(_, r)| error_matches(&r.error_equals, &error.error))?;
        let done = attempts.get(index).copied().unwrap_or(u32::MAX);
        if done >= retrier.max_attempts {
            return None;
        }
        let mut seconds = retrier.interval_seconds
            * retrier
                .backoff_rate
                .powi(i32::try_from(done).unwrap_or(i32::MAX));
        if let Some(max) = retrier.max_delay_seconds {
            seconds = seconds.min(max);
        }
        if retrier.jitter_full {
            seconds *= self.exec.random_f64();
        }
        if let Some(a) = attempts.get_mut(index) {
            *a += 1;
        }
        Some((seconds * 1000.0).round() as u64)
    }
}

fn entered_event(type_name: &str) -> &'static str {
    match type_name {
        "Pass" => "PassStateEntered",
        "Task" => "TaskStateEntered",
        "Choice" => "ChoiceStateEntered",
        "Wait" => "WaitStateEntered",
        "Succeed" => "SucceedStateEntered",
        "Fail" => "FailStateEntered",
        "Parallel" => "ParallelStateEntered",
        _ => "MapStateEntered",
    }
}

fn exited_event(type_name: &str) -> &'static str {
    match type_name {
        "Pass" => "PassStateExited",
        "Task" => "TaskStateExited",
        "Choice" => "ChoiceStateExited",
        "Wait" => "WaitStateExited",
        "Succeed" => "SucceedStateExited",
        "Fail" => "FailStateExited",
        "Parallel" => "ParallelStateExited",
        _ => "MapStateExited",
    }
}

async fn run_state(
    exec: &Arc<Exec>,
    state: &Arc<State>,
    input: Value,
    scope: &Arc<VarScope>,
    previous: u64,
) -> Result<Step, StatesError> {
    tracing::trace!(state = %state.name, "entering state");
    let entered_at = exec.clock.now_millis();
    let entered_id = exec.emit(
        previous,
        entered_event(state.type_name),
        || Some(json!({ "name": state.name, "input": text(&input), "inputDetails": { "truncated": false } })),
    );
    exec.trace(|| TraceEvent::StateEntered {
        state: state.name.clone(),
    });
    let run = Run {
        exec,
        state,
        entered_id,
        entered_millis: entered_at,
        retry_count: 0,
        input,
        scope,
    };
    match &state.kind {
        Kind::Pass { result } => run_pass(&run, result.as_ref()),
        Kind::Task(_) => run_task(run).await,
        Kind::Choice { rules, default } => run_choice(&run, rules, default.as_deref()),
        Kind::Wait(spec) => run_wait(&run, spec).await,
        Kind::Succeed => {
            let output = if run.jsonata() {
                run.finish(None, None, None, state.output.as_ref(), run.input.clone())?
            } else {
                let effective = run.effective_input()?;
                run.output_path(effective)?
            };
            run.exited(&output);
            Ok(Step { output, next: None })
        }
        Kind::Fail { error, cause } => {
            let data = run.input.clone();
            let text_of =
                |d: &Option<Dynamic>, field: &str| -> Result<Option<String>, StatesError> {
                    match d {
                        None => Ok(None),
                        Some(d) => match run.dynamic(d, &data, field)? {
                            Value::String(s) => Ok(Some(s)),
                            other => Err(run.eval().query_error(format!(
                                "The field '{field}' must be a string, but was: {}",
                                compact(&other)
                            ))),
                        },
                    }
                };
            let error = text_of(error, "Error")?;
            let cause = text_of(cause, "Cause")?;
            Err(StatesError {
                error: error.unwrap_or_default(),
                cause,
            })
        }
        Kind::Parallel { branches } => run_parallel(run, branches).await,
        Kind::Map(spec) => run_map(run, spec).await,
    }
}

fn transition(state: &State) -> Option<String> {
    if state.end {
        None
    } else {
        state.next.clone()
    }
}

fn run_pass(run: &Run<'_>, result: Option<&Value>) -> Result<Step, StatesError> {
    let state = run.state;
    let output = if run.jsonata() {
        run.finish(
            None,
            state.assign.as_ref(),
            None,
            state.output.as_ref(),
            run.input.clone(),
        )?
    } else {
        let effective = run.effective_input()?;
        let value = match (result, &state.arguments) {
            (Some(r), _) => r.clone(),
            (None, Some(params)) => params.evaluate(&run.eval(), &effective, "Parameters")?,
            (None, None) => effective,
        };
        let output = run.jsonpath_output(value.clone(), &state.result_path)?;
        run.finish(Some(&value), state.assign.as_ref(), None, None, output)?
    };
    run.exited(&output);
    Ok(Step {
        output,
        next: transition(state),
    })
}

fn run_choice(
    run: &Run<'_>,
    rules: &[ChoiceRule],
    default: Option<&str>,
) -> Result<Step, StatesError> {
    let state = run.state;
    let effective = if run.jsonata() {
        run.input.clone()
    } else {
        run.effective_input()?
    };
    let mut matched: Option<&ChoiceRule> = None;
    for rule in rules {
        let hit = match &rule.condition {
            Condition::Constant(b) => *b,
            Condition::Jsonata(expr) => {
                let ctx = run.eval();
                match ctx.jsonata(expr, "Condition")? {
                    Value::Bool(b) => b,
                    other => {
                        return Err(ctx.query_error(format!(
                            "The JSONata expression '{}' specified for the field 'Condition' returned an unexpected result type. Expected 'boolean', but was '{}' for value: {}",
                            expr.source,
                            type_name(&other),
                            compact(&other)
                        )))
                    }
                }
            }
            Condition::Rule(r) => {
                let ctx = run.eval();
                evaluate_rule(r, &ctx, &effective)?
            }
        };
        if hit {
            matched = Some(rule);
            break;
        }
    }
    let (next, rule_assign, rule_output) = match matched {
        Some(rule) => (
            rule.next.clone(),
            rule.assign.as_ref(),
            rule.output.as_ref().or(state.output.as_ref()),
        ),
        None => match default {
            Some(d) => (d.to_string(), None, state.output.as_ref()),
            None => {
                return Err(StatesError::new(
                    names::NO_CHOICE_MATCHED,
                    format!(
                        "{} No Matches! No choice rule matched and no Default is set.",
                        run.eval().header()
                    ),
                ))
            }
        },
    };
    let output = if run.jsonata() {
        run.finish(
            None,
            state.assign.as_ref(),
            rule_assign,
            rule_output,
            run.input.clone(),
        )?
    } else {
        let out = run.output_path(effective.clone())?;
        let ctx_data = effective;
        run.finish(
            Some(&ctx_data),
            state.assign.as_ref(),
            rule_assign,
            None,
            out,
        )?
    };
    run.exited(&output);
    Ok(Step {
        output,
        next: Some(next),
    })
}

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

async fn run_wait(run: &Run<'_>, spec: &WaitSpec) -> Result<Step, StatesError> {
    let state = run.state;
    let effective = if run.jsonata() {
        run.input.clone()
    } else {
        run.effective_input()?
    };
    let millis: u64 = match spec {
        WaitSpec::Seconds(d) => {
            let v = run.dynamic(d, &effective, "Seconds")?;
            let secs = v
                .as_f64()
                .filter(|f| *f >= 0.0 && f.fract() == 0.0)
                .ok_or_else(|| {
                    run.eval().query_error(format!(
                        "The Seconds field must be a non-negative integer, but was: {}",
                        compact(&v)
                    ))
                })?;
            (secs * 1000.0) as u64
        }
        WaitSpec::Timestamp(d) => {
            let v = run.dynamic(d, &effective, "Timestamp")?;
            let at = v.as_str().and_then(parse_timestamp).ok_or_else(|| {
                let shown = match &v {
                    Value::String(s) => s.clone(),
                    other => compact(other),
                };
                run.eval().query_error(format!(
                    "The Timestamp field cannot be parsed as an ISO-8601 extended offset date-time format string: {shown}"
                ))
            })?;
            u64::try_from(at - run.exec.clock.now_millis()).unwrap_or(0)
        }
    };
    if millis > 0 {
        run.exec.clock.sleep_millis(millis).await;
    }
    let output = if run.jsonata() {
        run.finish(
            None,
            state.assign.as_ref(),
            None,
            state.output.as_ref(),
            run.input.clone(),
        )?
    } else {
        let out = run.output_path(effective.clone())?;
        run.finish(Some(&effective), state.assign.as_ref(), None, None, out)?
    };
    run.exited(&output);
    Ok(Step {
        output,
        next: transition(state),
    })
}

/// `(resourceType, resource)` as history events show them.
fn resource_parts(resource: &str) -> (String, String) {
    let rest = resource
        .strip_prefix("arn:aws:states:::")
        .unwrap_or(resource);
    match rest.rsplit_once(':') {
        Some((kind, name)) => (kind.to_string(), name.to_string()),
        None => (rest.to_string(), String::new()),
    }
}

/// Arguments (JSONata) or InputPath + Parameters (JSONPath).
fn task_input(run: &Run<'_>) -> Result<Value, StatesError> {
    if run.jsonata() {
        match &run.state.arguments {
            Some(t) => t.evaluate(&run.eval(), &run.input, "Arguments"),
            None => Ok(run.input.clone()),
        }
    } else {
        let effective = run.effective_input()?;
        match &run.state.arguments {
            Some(t) => t.evaluate(&run.eval(), &effective, "Parameters"),
            None => Ok(effective),
        }
    }
}

/// Applies ResultSelector/ResultPath/OutputPath or Output, and Assign, to a successful result.
fn task_success(run: &Run<'_>, result: Value) -> Result<Value, StatesError> {
    let state = run.state;
    if run.jsonata() {
        run.finish(
            Some(&result),
            state.assign.as_ref(),
            None,
            state.output.as_ref(),
            result.clone(),
        )
    } else {
        let selected = match &state.result_selector {
            Some(t) => t.evaluate(&run.eval(), &result, "ResultSelector")?,
            None => result,
        };
        let output = run.jsonpath_output(selected.clone(), &state.result_path)?;
        run.finish(Some(&selected), state.assign.as_ref(), None, None, output)
    }
}

async fn run_task(mut run: Run<'_>) -> Result<Step, StatesError> {
    let state = run.state;
    let Kind::Task(spec) = &state.kind else {
        return Err(StatesError::new(names::RUNTIME, "not a Task state"));
    };
    let arguments = match task_input(&run) {
        Ok(a) => a,
        Err(e) => return run.catch(e),
    };
    let mut timeout_ms: Option<u64> = None;
    for (field, value) in [
        ("TimeoutSeconds", &spec.timeout_seconds),
        ("HeartbeatSeconds", &spec.heartbeat_seconds),
    ] {
        if let Some(d) = value {
            match run.dynamic_u64(d, &run.input, field) {
                Ok(secs) if field == "TimeoutSeconds" => {
                    timeout_ms = Some(secs.saturating_mul(1000))
                }
                Ok(_) => {}
                Err(e) => return run.catch(e),
            }
        }
    }
    let resource = base_resource(&spec.resource).to_string();
    let legacy_lambda = is_lambda_arn(&resource);
    let (resource_type, resource_name) = resource_parts(&spec.resource);
    let Some(handler) = run.exec.bindings.resolve(&spec.resource) else {
        return run.catch(StatesError::new(
            names::RUNTIME,
            format!(
                "{} No binding for resource '{}'",
                run.eval().header(),
                spec.resource
            ),
        ));
    };
    let mut attempts = vec![0u32; state.retry.len()];
    let mut retry_count = 0u32;
    loop {
        if legacy_lambda {
            run.emit(
                "LambdaFunctionScheduled",
                || Some(json!({ "resource": spec.resource, "input": text(&arguments), "inputDetails": { "truncated": false } })),
            );
            run.emit("LambdaFunctionStarted", || None);
        } else {
            run.emit(
                "TaskScheduled",
                || Some(json!({
                    "resourceType": resource_type, "resource": resource_name, "region": run.exec.region,
                    "parameters": text(&arguments)
                })),
            );
            run.emit("TaskStarted", || {
                Some(json!({ "resourceType": resource_type, "resource": resource_name }))
            });
        }
        let ctx = TaskContext {
            state_name: state.name.clone(),
            execution_arn: run.exec.execution_arn.clone(),
            retry_count,
        };
        let call = handler.invoke(&resource, arguments.clone(), &ctx);
        let outcome = match timeout_ms {
            Some(ms) if !run.exec.clock.is_manual() && ms > 0 => {
                match tokio::time::timeout(std::time::Duration::from_millis(ms), call).await {
                    Ok(r) => r,
                    Err(_) => Err(crate::bindings::TaskError {
                        error: names::TIMEOUT.into(),
                        cause: None,
                    }),
                }
            }
            _ => call.await,
        };
        match outcome {
            Ok(result) => {
                run.exec.trace(|| TraceEvent::TaskSucceeded {
                    state: state.name.clone(),
                    resource: resource.clone(),
                    arguments: arguments.clone(),
                    result: result.clone(),
                });
                if legacy_lambda {
                    run.emit(
                        "LambdaFunctionSucceeded",
                        || Some(json!({ "output": text(&result), "outputDetails": { "truncated": false } })),
                    );
                } else {
                    run.emit("TaskSucceeded", || {
                        Some(json!({
                            "resourceType": resource_type, "resource": resource_name,
                            "output": text(&result), "outputDetails": { "truncated": false }
                        }))
                    });
                }
                return match task_success(&run, result) {
                    Ok(output) => {
                        run.exited(&output);
                        Ok(Step {
                            output,
                            next: transition(state),
                        })
                    }
                    Err(e) => run.catch(e),
                };
            }
            Err(task_error) => {
                run.exec.trace(|| TraceEvent::TaskFailed {
                    state: state.name.clone(),
                    resource: resource.clone(),
                    arguments: arguments.clone(),
                    error: task_error.error.clone(),
                    cause: task_error.cause.clone(),
                });
                let mut details = Map::new();
                if !legacy_lambda {
                    details.insert("resourceType".into(), Value::String(resource_type.clone()));
                    details.insert("resource".into(), Value::String(resource_name.clone()));
                }
                details.insert("error".into(), Value::String(task_error.error.clone()));
                if let Some(c) = &task_error.cause {
                    details.insert("cause".into(), Value::String(c.clone()));
                }
                run.emit(
                    if legacy_lambda {
                        "LambdaFunctionFailed"
                    } else {
                        "TaskFailed"
                    },
                    || Some(Value::Object(details)),
                );
                let error = StatesError {
                    error: task_error.error,
                    cause: task_error.cause,
                };
                match run.retry_delay(&error, &mut attempts) {
                    Some(delay) => {
                        run.exec.clock.sleep_millis(delay).await;
                        retry_count += 1;
                        run.entered_millis = run.exec.clock.now_millis();
                        run.retry_count = retry_count;
                    }
                    None => return run.catch(error),
                }
            }
        }
    }
}

/// Input for Parallel branches / Map: Arguments (JSONata) or InputPath + Parameters (JSONPath).
async fn run_parallel(mut run: Run<'_>, branches: &[Arc<Graph>]) -> Result<Step, StatesError> {
    let state = run.state;
    let branch_input = match task_input(&run) {
        Ok(v) => v,
        Err(e) => return run.catch(e),
    };
    let mut attempts = vec![0u32; state.retry.len()];
    loop {
        let started = run.emit("ParallelStateStarted", || None);
        let mut set = tokio::task::JoinSet::new();
        for (index, branch) in branches.iter().enumerate() {
            let exec = run.exec.clone();
            let graph = branch.clone();
            let input = branch_input.clone();
            let scope = VarScope::child(run.scope);
            set.spawn(async move { (index, run_graph(exec, graph, input, scope, started).await) });
        }
        let mut results: Vec<Value> = vec![Value::Null; branches.len()];
        let mut failure: Option<StatesError> = None;
        while let Some(joined) = set.join_next().await {
            match joined {
                Ok((index, Ok(v))) => {
                    if let Some(slot) = results.get_mut(index) {
                        *slot = v;
                    }
                }
                Ok((_, Err(e))) => {
                    failure = Some(e);
                    set.abort_all();
                    break;
                }
                Err(join_error) if join_error.is_cancelled() => {}
                Err(join_error) => {
                    failure = Some(StatesError::new(names::RUNTIME, join_error.to_string()));
                    set.abort_all();
                    break;
                }
            }
        }
        match failure {
            None => {
                run.emit("ParallelStateSucceeded", || None);
                let result = Value::Array(results);
                return match task_success(&run, result) {
                    Ok(output) => {
                        run.exited(&output);
                        Ok(Step {
                            output,
                            next: transition(state),
                        })
                    }
                    Err(e) => run.catch(e),
                };
            }
            Some(error) => {
                let mut details = Map::new();
                if !error.error.is_empty() {
                    details.insert("error".into(), Value::String(error.error.clone()));
                }
                if let Some(c) = &error.cause {
                    details.insert("cause".into(), Value::String(c.clone()));
                }
                run.emit("ParallelStateFailed", || Some(Value::Object(details)));
                match run.retry_delay(&error, &mut attempts) {
                    Some(delay) => {
                        run.exec.clock.sleep_millis(delay).await;
                        let retries = attempts.iter().sum::<u32>();
                        run.entered_millis = run.exec.clock.now_millis();
                        run.retry_count = retries;
                    }
                    None => return run.catch(error),
                }
            }
        }
    }
}

/// Items for a Map: ItemReader, JSONata `Items`, or the (JSONPath `ItemsPath` of the) input.
async fn map_items(
    run: &Run<'_>,
    spec: &MapSpec,
    effective: &Value,
) -> Result<Vec<Value>, StatesError> {
    if let Some(reader) = &spec.item_reader {
        let args = match &reader.arguments {
            Some(t) => t.evaluate(&run.eval(), effective, "ItemReader/Arguments")?,
            None => Value::Object(Map::new()),
        };
        let handler = run.exec.bindings.resolve(&reader.resource).ok_or_else(|| {
            StatesError::new(
                names::ITEM_READER_FAILED,
                format!("no binding for '{}'", reader.resource),
            )
        })?;
        let ctx = TaskContext {
            state_name: run.state.name.clone(),
            execution_arn: run.exec.execution_arn.clone(),
            retry_count: 0,
        };
        let result = handler
            .invoke(base_resource(&reader.resource), args, &ctx)
            .await
            .map_err(|e| StatesError {
                error: names::ITEM_READER_FAILED.into(),
                cause: Some(format!("{}: {}", e.error, e.cause.unwrap_or_default())),
            })?;
        let body = match result.get("Body") {
            Some(Value::String(s)) => serde_json::from_str::<Value>(s).map_err(|e| {
                StatesError::new(
                    names::ITEM_READER_FAILED,
                    format!("the object is not valid JSON: {e}"),
                )
            })?,
            Some(other) => other.clone(),
            None => result,
        };
        let Value::Array(mut items) = body else {
            return Err(StatesError::new(
                names::ITEM_READER_FAILED,
                "the object does not hold a JSON array",
            ));
        };
        if let Some(max) = &reader.max_items {
            let max = run.dynamic_u64(max, effective, "MaxItems")?;
            if max > 0 {
                items.truncate(usize::try_from(max).unwrap_or(usize::MAX));
            }
        }
        return Ok(items);
    }
    if let Some(template) = &spec.items {
        let value = template.evaluate(&run.eval(), &run.input, "Items")?;
        return match value {
            Value::Array(items) => Ok(items),
            other => {
                let source = match template {
                    Template::Jsonata(e) => e.source.clone(),
                    _ => compact(&other),
                };
                Err(run.eval().query_error(format!(
                    "The JSONata expression '{source}' specified for the field 'Items' returned an unexpected result type. Expected 'array', but was '{}' for value: {}",
                    type_name(&other),
                    compact(&other)
                )))
            }
        };
    }
    let value = match &spec.items_path {
        PathField::Path(p) => run.eval().select(p, effective).ok_or_else(|| {
            run.eval().runtime_error(format!(
                "Invalid path '{}' : No results for path: {}",
                p.text, p.text
            ))
        })?,
        _ => effective.clone(),
    };
    match value {
        Value::Array(items) => Ok(items),
        other => Err(run.eval().query_error(format!(
            "Map state input must be an array but was: {}",
            compact(&other)
        ))),
    }
}

fn batch_items(
    run: &Run<'_>,
    spec: &MapSpec,
    items: Vec<Value>,
    effective: &Value,
) -> Result<Vec<Value>, StatesError> {
    let Some(batcher) = &spec.item_batcher else {
        return Ok(items);
    };
    let per_batch = match &batcher.max_items_per_batch {
        Some(d) => run.dynamic_u64(d, effective, "MaxItemsPerBatch")?.max(1),
        None => u64::MAX,
    };
    let batch_input = match &batcher.batch_input {
        Some(t) => Some(t.evaluate(&run.eval(), effective, "ItemBatcher/BatchInput")?),
        None => None,
    };
    let size = usize::try_from(per_batch).unwrap_or(usize::MAX);
    Ok(items
        .chunks(size.max(1))
        .map(|chunk| {
            let mut batch = Map::new();
            if let Some(b) = &batch_input {
                batch.insert("BatchInput".into(), b.clone());
            }
            batch.insert("Items".into(), Value::Array(chunk.to_vec()));
            Value::Object(batch)
        })
        .collect())
}

async fn run_map(mut run: Run<'_>, spec: &MapSpec) -> Result<Step, StatesError> {
    let state = run.state;
    let effective = if run.jsonata() {
        run.input.clone()
    } else {
        match run.effective_input() {
            Ok(v) => v,
            Err(e) => return run.catch(e),
        }
    };
    let prepared = async {
        let items = map_items(&run, spec, &effective).await?;
        let items = batch_items(&run, spec, items, &effective)?;
        let concurrency = match &spec.max_concurrency {
            Some(d) => run.dynamic_u64(d, &effective, "MaxConcurrency")?,
            None => 0,
        };
        let tolerated_count = match &spec.tolerated_failure_count {
            Some(d) => Some(run.dynamic_u64(d, &effective, "ToleratedFailureCount")?),
            None => None,
        };
        let tolerated_pct = match &spec.tolerated_failure_percentage {
            Some(d) => {
                let v = run.dynamic(d, &effective, "ToleratedFailurePercentage")?;
                v.as_f64().filter(|p| (0.0..=100.0).contains(p)).map(Some).ok_or_else(|| {
                    run.eval().query_error(format!(
                        "The field 'ToleratedFailurePercentage' must be a number between 0 and 100, but was: {}",
                        compact(&v)
                    ))
                })?
            }
            None => None,
        };
        // ItemSelector sees each item through $states.context.Map.Item (or $$.Map.Item).
        let mut inputs = Vec::with_capacity(items.len());
        for (index, item) in items.into_iter().enumerate() {
            let input = match &spec.item_selector {
                Some(t) => {
                    let ctx = run.eval().with_map_item(index, &item);
                    t.evaluate(&ctx, &effective, "ItemSelector")?
                }
                None => item,
            };
            inputs.push(input);
        }
        Ok::<_, StatesError>((inputs, concurrency, tolerated_count, tolerated_pct))
    }
    .await;
    let (inputs, concurrency, tolerated_count, tolerated_pct) = match prepared {
        Ok(p) => p,
        Err(e) => return run.catch(e),
    };
    let mut attempts = vec![0u32; state.retry.len()];
    loop {
        run.emit("MapStateStarted", || {
            Some(json!({ "length": inputs.len() }))
        });
        let outcome = run_iterations(
            &run,
            spec,
            &inputs,
            concurrency,
            tolerated_count,
            tolerated_pct,
        )
        .await;
        match outcome {
            Ok(results) => {
                run.emit("MapStateSucceeded", || None);
                return match task_success(&run, Value::Array(results)) {
                    Ok(output) => {
                        run.exited(&output);
                        Ok(Step {
                            output,
                            next: transition(state),
                        })
                    }
                    Err(e) => run.catch(e),
                };
            }
            Err(error) => {
                let mut details = Map::new();
                if !error.error.is_empty() {
                    details.insert("error".into(), Value::String(error.error.clone()));
                }
                if let Some(c) = &error.cause {
                    details.insert("cause".into(), Value::String(c.clone()));
                }
                run.emit("MapStateFailed", || Some(Value::Object(details)));
                match run.retry_delay(&error, &mut attempts) {
                    Some(delay) => {
                        run.exec.clock.sleep_millis(delay).await;
                        let retries = attempts.iter().sum::<u32>();
                        run.entered_millis = run.exec.clock.now_millis();
                        run.retry_count = retries;
                    }
                    None => return run.catch(error),
                }
            }
        }
    }
}

async fn run_iterations(
    run: &Run<'_>,
    spec: &MapSpec,
    inputs: &[Value],
    concurrency: u64,
    tolerated_count: Option<u64>,
    tolerated_pct: Option<f64>,
) -> Result<Vec<Value>, StatesError> {
    let limit = if concurrency == 0 {
        tokio::sync::Semaphore::MAX_PERMITS
    } else {
        usize::try_from(concurrency)
            .unwrap_or(usize::MAX)
            .min(tokio::sync::Semaphore::MAX_PERMITS)
    };
    let semaphore = Arc::new(tokio::sync::Semaphore::new(limit));
    let mut set = tokio::task::JoinSet::new();
    for (index, input) in inputs.iter().enumerate() {
        let exec = run.exec.clone();
        let graph = spec.processor.clone();
        let input = input.clone();
        let scope = if spec.distributed {
            VarScope::root()
        } else {
            VarScope::child(run.scope)
        };
        let semaphore = semaphore.clone();
        let name = run.state.name.clone();
        set.spawn(async move {
            let _permit = semaphore.acquire_owned().await;
            let started = exec.emit(exec.last_id(), "MapIterationStarted", || {
                Some(json!({ "name": name, "index": index }))
            });
            let outcome = run_graph(exec.clone(), graph, input, scope, started).await;
            let event = if outcome.is_ok() {
                "MapIterationSucceeded"
            } else {
                "MapIterationFailed"
            };
            exec.emit(exec.last_id(), event, || {
                Some(json!({ "name": name, "index": index }))
            });
            (index, outcome)
        });
    }
    let total = inputs.len();
    let tolerance_set = tolerated_count.is_some() || tolerated_pct.is_some();
    let allowed_failures = |failures: usize| -> bool {
        let by_count = tolerated_count.is_some_and(|c| failures as u64 <= c);
        let by_pct = tolerated_pct
            .is_some_and(|p| total > 0 && (failures as f64) * 100.0 / (total as f64) <= p);
        by_count || by_pct
    };
    let mut results: Vec<Value> = vec![Value::Null; total];
    let mut failures = 0usize;
    while let Some(joined) = set.join_next().await {
        match joined {
            Ok((index, Ok(v))) => {
                if let Some(slot) = results.get_mut(index) {
                    *slot = v;
                }
            }
            Ok((index, Err(e))) => {
                failures += 1;
                if tolerance_set && allowed_failures(failures) {
                    if let Some(slot) = results.get_mut(index) {
                        *slot = e.to_output();
                    }
                    continue;
                }
                set.abort_all();
                if tolerance_set {
                    return Err(StatesError::new(
                        names::EXCEED_TOLERATED_FAILURE,
                        "The specified tolerated failure threshold was exceeded",
                    ));
                }
                return Err(e);
            }
            Err(join_error) if join_error.is_cancelled() => {}
            Err(join_error) => {
                set.abort_all();
                return Err(StatesError::new(names::RUNTIME, join_error.to_string()));
            }
        }
    }
    Ok(results)
}
