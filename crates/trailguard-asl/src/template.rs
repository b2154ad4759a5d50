//! Pre-compiled field values: JSONata `{% %}` templates and JSONPath payload templates
//! (`"key.$": "$.path"` / intrinsic calls), evaluated against one state's data.

use std::cell::{OnceCell, RefCell};
use std::sync::{Arc, Mutex, RwLock};

use serde_json::{Map, Value};
use trailguard_jsonata::{Environment, Expression};

use crate::error::{names, LoadError, StatesError};
use crate::intrinsics::{looks_like_call, Call};
use crate::jsonpath::{compact, Path, Scope};

/// A JSONata expression compiled once at load.
pub struct JsonataExpr {
    pub source: String,
    pub compiled: Expression,
    /// What the expression may read, so evaluation binds only that.
    pub needs: Needs,
}

/// How much of `$states.input` / `$states.result` an expression can read.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Part {
    #[default]
    Unused,
    /// Only through these top-level fields (`$states.input.detail...`).
    Fields(Vec<String>),
    Whole,
}

impl Part {
    fn used(&self) -> bool {
        !matches!(self, Part::Unused)
    }

    fn add_field(&mut self, field: &str) {
        match self {
            Part::Unused => *self = Part::Fields(vec![field.to_string()]),
            Part::Fields(fields) if !fields.iter().any(|f| f == field) => {
                fields.push(field.to_string())
            }
            _ => {}
        }
    }

    fn covered_by(&self, built: &Part) -> bool {
        match (self, built) {
            (Part::Unused, _) | (_, Part::Whole) => true,
            (Part::Fields(a), Part::Fields(b)) => a.iter().all(|f| b.contains(f)),
            _ => false,
        }
    }

    fn merge(&mut self, other: &Part) {
        match other {
            Part::Unused => {}
            Part::Whole => *self = Part::Whole,
            Part::Fields(fields) => fields.iter().for_each(|f| self.add_field(f)),
        }
    }

    /// The value as far as the expression can see it: an object narrowed to the read fields.
    fn project(&self, value: &Value) -> Value {
        match (self, value) {
            (Part::Fields(fields), Value::Object(map)) => {
                let mut out = Map::with_capacity(fields.len());
                for f in fields {
                    if let Some(v) = map.get(f) {
                        out.insert(f.clone(), v.clone());
                    }
                }
                Value::Object(out)
            }
            _ => value.clone(),
        }
    }
}

/// The `$states` parts and variables an expression mentions.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Needs {
    pub input: Part,
    pub result: Part,
    pub error_output: bool,
    pub context: bool,
    pub variables: Vec<String>,
}

/// After `$states.input`/`$states.result` at `chars[at..]`: the field read, if it is a plain `.name`.
fn plain_field(chars: &[char], at: usize) -> Option<String> {
    if chars.get(at) != Some(&'.') {
        return None;
    }
    let first = *chars.get(at + 1)?;
    if !(first.is_alphabetic() || first == '_') {
        return None;
    }
    let mut end = at + 1;
    while end < chars.len() && (chars[end].is_alphanumeric() || chars[end] == '_') {
        end += 1;
    }
    Some(chars[at + 1..end].iter().collect())
}

impl Needs {
    /// Scans `$name` references; over-approximates (function names count too), never misses.
    pub fn of(source: &str) -> Needs {
        let mut needs = Needs::default();
        let chars: Vec<char> = source.chars().collect();
        let matches_at = |at: usize, word: &str| -> bool {
            let w: Vec<char> = word.chars().collect();
            chars.get(at..at + w.len()) == Some(&w[..])
                && !chars
                    .get(at + w.len())
                    .is_some_and(|c| c.is_alphanumeric() || *c == '_')
        };
        let mut i = 0;
        while i < chars.len() {
            if chars[i] == '$' {
                let start = i + 1;
                let mut end = start;
                while end < chars.len() && (chars[end].is_alphanumeric() || chars[end] == '_') {
                    end += 1;
                }
                let name: String = chars[start..end].iter().collect();
                if name == "states" {
                    if matches_at(end, ".input") {
                        match plain_field(&chars, end + 6) {
                            Some(f) => needs.input.add_field(&f),
                            None => needs.input = Part::Whole,
                        }
                    } else if matches_at(end, ".result") {
                        match plain_field(&chars, end + 7) {
                            Some(f) => needs.result.add_field(&f),
                            None => needs.result = Part::Whole,
                        }
                    } else if matches_at(end, ".errorOutput") {
                        needs.error_output = true;
                    } else if matches_at(end, ".context") {
                        needs.context = true;
                    } else {
                        // `$states` used whole: bind every part.
                        needs.input = Part::Whole;
                        needs.result = Part::Whole;
                        needs.error_output = true;
                        needs.context = true;
                    }
                } else if !name.is_empty() && !needs.variables.contains(&name) {
                    needs.variables.push(name);
                }
                i = end.max(i + 1);
            } else {
                i += 1;
            }
        }
        needs
    }

    fn states(&self) -> bool {
        self.input.used() || self.result.used() || self.error_output || self.context
    }

    fn covered_by(&self, built: &Needs) -> bool {
        self.input.covered_by(&built.input)
            && self.result.covered_by(&built.result)
            && (!self.error_output || built.error_output)
            && (!self.context || built.context)
            && self.variables.iter().all(|v| built.variables.contains(v))
    }

    fn merge(&mut self, other: &Needs) {
        self.input.merge(&other.input);
        self.result.merge(&other.result);
        self.error_output |= other.error_output;
        self.context |= other.context;
        for v in &other.variables {
            if !self.variables.contains(v) {
                self.variables.push(v.clone());
            }
        }
    }
}

impl std::fmt::Debug for JsonataExpr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{{% {} %}}", self.source)
    }
}

#[derive(Debug)]
pub enum Template {
    /// No dynamic part: cloned as is.
    Literal(Value),
    Jsonata(Arc<JsonataExpr>),
    Path(Path),
    Intrinsic(Call),
    Object(Vec<(String, Template)>),
    Array(Vec<Template>),
}

/// The body of a `{% ... %}` string, if `text` is one.
pub fn jsonata_body(text: &str) -> Option<&str> {
    text.strip_prefix("{%")?.strip_suffix("%}")
}

pub fn compile_expression(
    source: &str,
    state: &str,
    field: &str,
) -> Result<Arc<JsonataExpr>, LoadError> {
    let source = source.trim();
    let compiled = Expression::parse(source).map_err(|e| {
        LoadError::state(
            state,
            format!(
                "the JSONata expression '{source}' in field '{field}' does not parse: {}: {}",
                e.code, e.message
            ),
        )
    })?;
    Ok(Arc::new(JsonataExpr {
        needs: Needs::of(source),
        source: source.to_string(),
        compiled,
    }))
}

impl Template {
    /// A JSONata-state field: every `{% %}` string, however deep, is compiled.
    pub fn jsonata(value: &Value, state: &str, field: &str) -> Result<Template, LoadError> {
        let template = match value {
            Value::String(s) => match jsonata_body(s) {
                Some(body) => Template::Jsonata(compile_expression(body, state, field)?),
                None => Template::Literal(value.clone()),
            },
            Value::Object(map) => {
                let mut entries = Vec::with_capacity(map.len());
                for (k, v) in map {
                    entries.push((
                        k.clone(),
                        Template::jsonata(v, state, &format!("{field}/{k}"))?,
                    ));
                }
                Template::Object(entries)
            }
            Value::Array(items) => {
                let mut out = Vec::with_capacity(items.len());
                for (i, v) in items.iter().enumerate() {
                    out.push(Template::jsonata(v, state, &format!("{field}/{i}"))?);
                }
                Template::Array(out)
            }
            other => Template::Literal(other.clone()),
        };
        Ok(template.collapse())
    }

    /// A JSONPath payload template (`Parameters`, `ResultSelector`, `ItemSelector`, `Assign`).
    pub fn payload(value: &Value, state: &str, field: &str) -> Result<Template, LoadError> {
        let template = match value {
            Value::Object(map) => {
                let mut entries = Vec::with_capacity(map.len());
                for (k, v) in map {
                    if let Some(key) = k.strip_suffix(".$") {
                        let Value::String(text) = v else {
                            return Err(LoadError::state(
                                state,
                                format!("field '{field}/{k}' must be a string holding a JSONPath or an intrinsic function"),
                            ));
                        };
                        let dynamic = if looks_like_call(text) {
                            Template::Intrinsic(Call::parse(text).map_err(|e| {
                                LoadError::state(state, format!("field '{field}/{k}': {e}"))
                            })?)
                        } else {
                            Template::Path(Path::parse(text).map_err(|e| {
                                LoadError::state(state, format!("field '{field}/{k}': {e}"))
                            })?)
                        };
                        entries.push((key.to_string(), dynamic));
                    } else {
                        entries.push((
                            k.clone(),
                            Template::payload(v, state, &format!("{field}/{k}"))?,
                        ));
                    }
                }
                Template::Object(entries)
            }
            Value::Array(items) => {
                let mut out = Vec::with_capacity(items.len());
                for (i, v) in items.iter().enumerate() {
                    out.push(Template::payload(v, state, &format!("{field}/{i}"))?);
                }
                Template::Array(out)
            }
            other => Template::Literal(other.clone()),
        };
        Ok(template.collapse())
    }

    fn is_literal(&self) -> bool {
        matches!(self, Template::Literal(_))
    }

    /// Folds fully static subtrees into one literal.
    fn collapse(self) -> Template {
        match self {
            Template::Object(entries) if entries.iter().all(|(_, t)| t.is_literal()) => {
                let mut map = Map::new();
                for (k, t) in entries {
                    if let Template::Literal(v) = t {
                        map.insert(k, v);
                    }
                }
                Template::Literal(Value::Object(map))
            }
            Template::Array(items) if items.iter().all(Template::is_literal) => {
                Template::Literal(Value::Array(
                    items
                        .into_iter()
                        .filter_map(|t| match t {
                            Template::Literal(v) => Some(v),
                            _ => None,
                        })
                        .collect(),
                ))
            }
            other => other,
        }
    }

    /// Every JSONata expression in this template, with its field path (for counting/inspection).
    pub fn expressions(&self) -> Vec<&JsonataExpr> {
        let mut out = Vec::new();
        self.collect(&mut out);
        out
    }

    fn collect<'a>(&'a self, out: &mut Vec<&'a JsonataExpr>) {
        match self {
            Template::Jsonata(e) => out.push(e),
            Template::Object(entries) => entries.iter().for_each(|(_, t)| t.collect(out)),
            Template::Array(items) => items.iter().for_each(|t| t.collect(out)),
            _ => {}
        }
    }

    /// Evaluates against `ctx`; `data` is what `$` means for JSONPath parts.
    pub fn evaluate(
        &self,
        ctx: &EvalContext<'_>,
        data: &Value,
        field: &str,
    ) -> Result<Value, StatesError> {
        self.evaluate_at(ctx, data, &FieldPath::Root(field))
    }

    fn evaluate_at(
        &self,
        ctx: &EvalContext<'_>,
        data: &Value,
        field: &FieldPath<'_>,
    ) -> Result<Value, StatesError> {
        match self {
            Template::Literal(v) => Ok(v.clone()),
            Template::Jsonata(expr) => ctx.jsonata_lazy(expr, || field.to_string()),
            Template::Path(path) => ctx.path(path, data, &field.to_string()),
            Template::Intrinsic(call) => ctx.intrinsic(call, data, &field.to_string()),
            Template::Object(entries) => {
                let mut map = Map::with_capacity(entries.len());
                for (k, t) in entries {
                    let value = t.evaluate_at(ctx, data, &FieldPath::Key(field, k))?;
                    map.insert(k.clone(), value);
                }
                Ok(Value::Object(map))
            }
            Template::Array(items) => {
                let mut out = Vec::with_capacity(items.len());
                for (i, t) in items.iter().enumerate() {
                    out.push(t.evaluate_at(ctx, data, &FieldPath::Index(field, i))?);
                }
                Ok(Value::Array(out))
            }
        }
    }
}

/// A field's path (`Arguments/Payload/s3_key`), rendered only when an error needs it.
enum FieldPath<'a> {
    Root(&'a str),
    Key(&'a FieldPath<'a>, &'a str),
    Index(&'a FieldPath<'a>, usize),
}

impl std::fmt::Display for FieldPath<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            FieldPath::Root(name) => f.write_str(name),
            FieldPath::Key(parent, key) => write!(f, "{parent}/{key}"),
            FieldPath::Index(parent, index) => write!(f, "{parent}/{index}"),
        }
    }
}

/// Workflow variables: one scope per execution, a child scope per Parallel branch / Map iteration.
#[derive(Debug, Default)]
pub struct VarScope {
    parent: Option<Arc<VarScope>>,
    values: RwLock<Map<String, Value>>,
}

impl VarScope {
    pub fn root() -> Arc<VarScope> {
        Arc::new(VarScope::default())
    }

    pub fn child(parent: &Arc<VarScope>) -> Arc<VarScope> {
        Arc::new(VarScope {
            parent: Some(parent.clone()),
            values: RwLock::new(Map::new()),
        })
    }

    pub fn get(&self, name: &str) -> Option<Value> {
        let own = self.values.read().ok().and_then(|m| m.get(name).cloned());
        own.or_else(|| self.parent.as_ref().and_then(|p| p.get(name)))
    }

    /// All visible variables, inner scopes overriding outer ones.
    pub fn visible(&self) -> Map<String, Value> {
        let mut out = match &self.parent {
            Some(p) => p.visible(),
            None => Map::new(),
        };
        if let Ok(values) = self.values.read() {
            for (k, v) in values.iter() {
                out.insert(k.clone(), v.clone());
            }
        }
        out
    }

    pub fn is_empty_chain(&self) -> bool {
        self.values.read().map(|m| m.is_empty()).unwrap_or(true)
            && self.parent.as_ref().is_none_or(|p| p.is_empty_chain())
    }

    pub fn assign(&self, values: Map<String, Value>) {
        if let Ok(mut own) = self.values.write() {
            for (k, v) in values {
                own.insert(k, v);
            }
        }
    }
}

/// The parts of the context object; the object itself is built only when read.
#[derive(Clone, Copy)]
pub struct ContextParts<'a> {
    /// `{"Execution": ..., "StateMachine": ...}` of the execution.
    pub execution: &'a Value,
    pub state_name: &'a str,
    pub entered_millis: i64,
    pub retry_count: u32,
    pub map_item: Option<(usize, &'a Value)>,
}

impl ContextParts<'_> {
    pub fn build(&self) -> Value {
        let mut ctx = self.execution.clone();
        if let Value::Object(map) = &mut ctx {
            let mut state = Map::new();
            state.insert(
                "EnteredTime".into(),
                Value::String(crate::clock::format_timestamp(self.entered_millis)),
            );
            state.insert("Name".into(), Value::String(self.state_name.to_string()));
            state.insert("RetryCount".into(), Value::from(self.retry_count));
            map.insert("State".into(), Value::Object(state));
            if let Some((index, value)) = self.map_item {
                let mut item = Map::new();
                item.insert("Index".into(), Value::from(index));
                item.insert("Value".into(), value.clone());
                let mut map_obj = Map::new();
                map_obj.insert("Item".into(), Value::Object(item));
                map.insert("Map".into(), Value::Object(map_obj));
            }
        }
        ctx
    }
}

struct BuiltEnv {
    env: Environment,
    needs: Needs,
}

/// Everything an expression in one state may see.
pub struct EvalContext<'a> {
    pub state_name: &'a str,
    pub entered_event_id: u64,
    pub input: &'a Value,
    pub result: Option<&'a Value>,
    pub error_output: Option<&'a Value>,
    pub context_parts: ContextParts<'a>,
    pub vars: &'a VarScope,
    pub base_env: &'a Environment,
    pub rng: &'a Mutex<fastrand::Rng>,
    pub jsonata_nanos: &'a std::sync::atomic::AtomicU64,
    context: OnceCell<Value>,
    env: RefCell<Option<BuiltEnv>>,
}

impl<'a> EvalContext<'a> {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        state_name: &'a str,
        entered_event_id: u64,
        input: &'a Value,
        context_parts: ContextParts<'a>,
        vars: &'a VarScope,
        base_env: &'a Environment,
        rng: &'a Mutex<fastrand::Rng>,
        jsonata_nanos: &'a std::sync::atomic::AtomicU64,
    ) -> Self {
        EvalContext {
            state_name,
            entered_event_id,
            input,
            result: None,
            error_output: None,
            context_parts,
            vars,
            base_env,
            rng,
            jsonata_nanos,
            context: OnceCell::new(),
            env: RefCell::new(None),
        }
    }

    pub fn with_result(mut self, result: &'a Value) -> Self {
        self.result = Some(result);
        self
    }

    pub fn with_error_output(mut self, error_output: &'a Value) -> Self {
        self.error_output = Some(error_output);
        self
    }

    /// Adds `Map.Item.Index`/`Map.Item.Value` to the context object (for ItemSelector).
    pub fn with_map_item(mut self, index: usize, value: &'a Value) -> Self {
        self.context_parts.map_item = Some((index, value));
        self
    }

    /// The context object (`$states.context`, `$$`).
    pub fn context(&self) -> &Value {
        self.context.get_or_init(|| self.context_parts.build())
    }

    /// `An error occurred while executing the state 'X' (entered at the event id #N). `
    pub fn header(&self) -> String {
        format!(
            "An error occurred while executing the state '{}' (entered at the event id #{}).",
            self.state_name, self.entered_event_id
        )
    }

    pub fn query_error(&self, message: impl std::fmt::Display) -> StatesError {
        StatesError::new(
            names::QUERY_EVALUATION,
            format!("{} {message}", self.header()),
        )
    }

    pub fn runtime_error(&self, message: impl std::fmt::Display) -> StatesError {
        StatesError::new(names::RUNTIME, format!("{} {message}", self.header()))
    }

    fn build_env(&self, needs: &Needs) -> Environment {
        let mut env = self.base_env.clone();
        if needs.states() {
            let mut states = Map::new();
            if needs.input.used() {
                states.insert("input".into(), needs.input.project(self.input));
            }
            if let Some(result) = self.result.filter(|_| needs.result.used()) {
                states.insert("result".into(), needs.result.project(result));
            }
            if let Some(error_output) = self.error_output.filter(|_| needs.error_output) {
                states.insert("errorOutput".into(), error_output.clone());
            }
            if needs.context {
                states.insert("context".into(), self.context().clone());
            }
            env.bind("states", Value::Object(states));
        }
        for name in &needs.variables {
            if let Some(value) = self.vars.get(name) {
                env.bind(name, value);
            }
        }
        env
    }

    /// Runs `f` with an environment binding at least what `needs` asks for.
    fn with_env<R>(&self, needs: &Needs, f: impl FnOnce(&Environment) -> R) -> R {
        let mut slot = self.env.borrow_mut();
        let covered = slot.as_ref().is_some_and(|b| needs.covered_by(&b.needs));
        if !covered {
            let mut merged = slot.take().map(|b| b.needs).unwrap_or_default();
            merged.merge(needs);
            let env = self.build_env(&merged);
            *slot = Some(BuiltEnv { env, needs: merged });
        }
        match slot.as_ref() {
            Some(built) => f(&built.env),
            None => f(self.base_env),
        }
    }

    /// Evaluates `expr`, returning a JSONata value or AWS's QueryEvaluationError.
    pub fn jsonata_optional(
        &self,
        expr: &JsonataExpr,
        field: &str,
    ) -> Result<Option<Value>, StatesError> {
        self.jsonata_optional_lazy(expr, || field.to_string())
    }

    fn jsonata_optional_lazy(
        &self,
        expr: &JsonataExpr,
        field: impl Fn() -> String,
    ) -> Result<Option<Value>, StatesError> {
        let (outcome, spent) = self.with_env(&expr.needs, |env| {
            let started = std::time::Instant::now();
            let outcome = expr.compiled.evaluate_json_only(None, env);
            (outcome, started.elapsed())
        });
        let spent = u64::try_from(spent.as_nanos()).unwrap_or(u64::MAX);
        self.jsonata_nanos
            .fetch_add(spent, std::sync::atomic::Ordering::Relaxed);
        outcome.map_err(|e| {
            if e.code == trailguard_jsonata::FUNCTION_RESULT {
                return self.query_error(format!(
                    "The JSONata expression '{}' specified for the field '{}' returned an unsupported result type.",
                    expr.source,
                    field()
                ));
            }
            self.query_error(format!(
                "The JSONata expression '{}' specified for the field '{}' threw an error during evaluation. {}: {}",
                expr.source,
                field(),
                e.code,
                e.message
            ))
        })
    }

    pub fn jsonata(&self, expr: &JsonataExpr, field: &str) -> Result<Value, StatesError> {
        self.jsonata_lazy(expr, || field.to_string())
    }

    fn jsonata_lazy(
        &self,
        expr: &JsonataExpr,
        field: impl Fn() -> String,
    ) -> Result<Value, StatesError> {
        self.jsonata_optional_lazy(expr, &field)?.ok_or_else(|| {
            self.query_error(format!(
                "The JSONata expression '{}' specified for the field '{}' returned nothing (undefined).",
                expr.source,
                field()
            ))
        })
    }

    fn scope<'s>(
        &'s self,
        data: &'s Value,
        variable: &'s dyn Fn(&str) -> Option<Value>,
    ) -> Scope<'s> {
        Scope {
            data,
            context: self.context(),
            variable,
        }
    }

    pub fn path(&self, path: &Path, data: &Value, field: &str) -> Result<Value, StatesError> {
        let lookup = |name: &str| self.vars.get(name);
        path.select(&self.scope(data, &lookup)).ok_or_else(|| {
            self.runtime_error(format!(
                "The JSONPath '{}' specified for the field '{field}.$' could not be found in the input '{}'",
                path.text,
                compact(data)
            ))
        })
    }

    pub fn intrinsic(&self, call: &Call, data: &Value, field: &str) -> Result<Value, StatesError> {
        let lookup = |name: &str| self.vars.get(name);
        let scope = self.scope(data, &lookup);
        let mut random = || match self.rng.lock() {
            Ok(mut rng) => rng.u64(..),
            Err(_) => 0,
        };
        call.evaluate(&scope, &mut random).map_err(|message| {
            StatesError::new(
                names::INTRINSIC_FAILURE,
                format!(
                    "{} The value for the field '{field}.$' must be a valid intrinsic function call: {message}",
                    self.header()
                ),
            )
        })
    }

    /// Selects a JSONPath field such as `InputPath`; `None` for a path that finds nothing.
    pub fn select(&self, path: &Path, data: &Value) -> Option<Value> {
        let lookup = |name: &str| self.vars.get(name);
        path.select(&self.scope(data, &lookup))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn needs_lists_states_context_and_variables() {
        let needs = Needs::of("$states.input.x & $name & $string($other)");
        assert_eq!(needs.input, Part::Fields(vec!["x".into()]));
        assert_eq!(needs.result, Part::Unused);
        assert!(!needs.context);
        assert_eq!(needs.variables, vec!["name", "string", "other"]);
        assert!(Needs::of("$states.context.Execution.Id").context);
        assert_eq!(
            Needs::of("$states.result.Payload.x").result,
            Part::Fields(vec!["Payload".into()])
        );
        assert_eq!(Needs::of("$string($states.input)").input, Part::Whole);
        assert_eq!(Needs::of("$states.input[0]").input, Part::Whole);
        assert_eq!(Needs::of("$states.input.`odd key`").input, Part::Whole);
        assert_eq!(Needs::of("$states.inputs").input, Part::Whole);
        let whole = Needs::of("$keys($states)");
        assert!(
            whole.input == Part::Whole
                && whole.result == Part::Whole
                && whole.error_output
                && whole.context
        );
        let narrowed = Part::Fields(vec!["a".into()]).project(&serde_json::json!({"a": 1, "b": 2}));
        assert_eq!(narrowed, serde_json::json!({"a": 1}));
        let array = Part::Fields(vec!["a".into()]).project(&serde_json::json!([{"a": 1}]));
        assert_eq!(array, serde_json::json!([{"a": 1}]));
        assert_eq!(jsonata_body("{% 1 + 1 %}"), Some(" 1 + 1 "));
        assert_eq!(jsonata_body(" {% 1 %}"), None);
    }
}
