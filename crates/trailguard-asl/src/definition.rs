//! Loading and validating a state machine definition into a compiled, immutable form.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::Arc;

use serde_json::{Map, Value};

use crate::error::{names, LoadError};
use crate::jsonpath::Path;
use crate::template::{compile_expression, jsonata_body, JsonataExpr, Template};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QueryLanguage {
    JsonPath,
    Jsonata,
}

impl QueryLanguage {
    fn parse(
        value: Option<&Value>,
        inherited: QueryLanguage,
        state: &str,
    ) -> Result<Self, LoadError> {
        match value {
            None => Ok(inherited),
            Some(Value::String(s)) if s == "JSONata" => Ok(QueryLanguage::Jsonata),
            Some(Value::String(s)) if s == "JSONPath" => Ok(QueryLanguage::JsonPath),
            Some(other) => Err(LoadError::state(
                state,
                format!("QueryLanguage must be \"JSONata\" or \"JSONPath\", not {other}"),
            )),
        }
    }
}

/// A compiled state machine.
#[derive(Debug)]
pub struct StateMachine {
    pub graph: Arc<Graph>,
    pub query_language: QueryLanguage,
    pub comment: Option<String>,
    pub timeout_seconds: Option<u64>,
    /// Every Task resource, with its state, for checking bindings at load.
    pub tasks: Vec<TaskRef>,
}

#[derive(Debug, Clone)]
pub struct TaskRef {
    pub state: String,
    pub resource: String,
    /// `FunctionName` when it is a literal in Arguments/Parameters.
    pub function_name: Option<String>,
    /// The error names the state's Retry and Catch match, in order (`States.*` included).
    pub error_names: Vec<String>,
}

/// One set of states: the top level, a Parallel branch or a Map's ItemProcessor.
#[derive(Debug)]
pub struct Graph {
    pub start_at: String,
    pub states: HashMap<String, Arc<State>>,
}

#[derive(Debug)]
pub enum PathField {
    /// Absent: `$`.
    Default,
    /// JSON `null`.
    Null,
    Path(Path),
}

/// A value that may be a literal, a JSONata expression or (JSONPath) a `...Path` field.
#[derive(Debug)]
pub enum Dynamic {
    Literal(Value),
    Jsonata(Arc<JsonataExpr>),
    Path(Path),
}

#[derive(Debug)]
pub struct State {
    pub name: String,
    pub type_name: &'static str,
    pub language: QueryLanguage,
    pub kind: Kind,
    /// `None` with `end == true` for terminal states; Choice/Succeed/Fail carry neither.
    pub next: Option<String>,
    pub end: bool,
    pub assign: Option<Template>,
    /// JSONata `Output`.
    pub output: Option<Template>,
    /// JSONata `Arguments` or JSONPath `Parameters`.
    pub arguments: Option<Template>,
    pub input_path: PathField,
    pub output_path: PathField,
    pub result_path: PathField,
    pub result_selector: Option<Template>,
    pub retry: Vec<Retrier>,
    pub catch: Vec<Catcher>,
}

#[derive(Debug)]
pub enum Kind {
    Pass {
        result: Option<Value>,
    },
    Task(TaskSpec),
    Choice {
        rules: Vec<ChoiceRule>,
        default: Option<String>,
    },
    Wait(WaitSpec),
    Succeed,
    Fail {
        error: Option<Dynamic>,
        cause: Option<Dynamic>,
    },
    Parallel {
        branches: Vec<Arc<Graph>>,
    },
    Map(Box<MapSpec>),
}

#[derive(Debug)]
pub struct TaskSpec {
    pub resource: String,
    pub timeout_seconds: Option<Dynamic>,
    pub heartbeat_seconds: Option<Dynamic>,
}

#[derive(Debug)]
pub enum WaitSpec {
    Seconds(Dynamic),
    Timestamp(Dynamic),
}

#[derive(Debug)]
pub struct MapSpec {
    pub processor: Arc<Graph>,
    /// `ProcessorConfig.Mode = DISTRIBUTED`: iterations cannot read outer variables.
    pub distributed: bool,
    pub items: Option<Template>,
    pub items_path: PathField,
    pub item_selector: Option<Template>,
    pub max_concurrency: Option<Dynamic>,
    pub tolerated_failure_count: Option<Dynamic>,
    pub tolerated_failure_percentage: Option<Dynamic>,
    pub item_reader: Option<ItemReader>,
    pub item_batcher: Option<ItemBatcher>,
}

#[derive(Debug)]
pub struct ItemReader {
    pub resource: String,
    pub arguments: Option<Template>,
    pub max_items: Option<Dynamic>,
}

#[derive(Debug)]
pub struct ItemBatcher {
    pub max_items_per_batch: Option<Dynamic>,
    pub max_input_bytes_per_batch: Option<Dynamic>,
    pub batch_input: Option<Template>,
}

#[derive(Debug)]
pub struct ChoiceRule {
    pub condition: Condition,
    pub next: String,
    pub assign: Option<Template>,
    pub output: Option<Template>,
}

#[derive(Debug)]
pub enum Condition {
    Constant(bool),
    Jsonata(Arc<JsonataExpr>),
    Rule(Rule),
}

#[derive(Debug)]
pub enum Rule {
    And(Vec<Rule>),
    Or(Vec<Rule>),
    Not(Box<Rule>),
    Compare {
        variable: Path,
        operator: String,
        operand: Operand,
    },
}

#[derive(Debug)]
pub enum Operand {
    Value(Value),
    Path(Path),
}

#[derive(Debug)]
pub struct Retrier {
    pub error_equals: Vec<String>,
    pub interval_seconds: f64,
    pub max_attempts: u32,
    pub backoff_rate: f64,
    pub max_delay_seconds: Option<f64>,
    pub jitter_full: bool,
}

#[derive(Debug)]
pub struct Catcher {
    pub error_equals: Vec<String>,
    pub next: String,
    pub result_path: PathField,
    pub assign: Option<Template>,
    pub output: Option<Template>,
}

const COMMON: &[&str] = &["Type", "Comment", "QueryLanguage"];
const JSONPATH_ONLY: &[&str] = &[
    "InputPath",
    "OutputPath",
    "Parameters",
    "ResultSelector",
    "ResultPath",
    "Result",
    "ItemsPath",
    "SecondsPath",
    "TimestampPath",
    "ErrorPath",
    "CausePath",
    "TimeoutSecondsPath",
    "HeartbeatSecondsPath",
    "MaxConcurrencyPath",
    "ToleratedFailureCountPath",
    "ToleratedFailurePercentagePath",
];
const JSONATA_ONLY: &[&str] = &["Arguments", "Output", "Items"];

fn allowed_fields(type_name: &str) -> &'static [&'static str] {
    match type_name {
        "Pass" => &[
            "Next",
            "End",
            "Assign",
            "Result",
            "Parameters",
            "InputPath",
            "OutputPath",
            "ResultPath",
            "Output",
        ],
        "Task" => &[
            "Resource",
            "Next",
            "End",
            "Retry",
            "Catch",
            "TimeoutSeconds",
            "HeartbeatSeconds",
            "Credentials",
            "Assign",
            "InputPath",
            "OutputPath",
            "Parameters",
            "ResultSelector",
            "ResultPath",
            "TimeoutSecondsPath",
            "HeartbeatSecondsPath",
            "Arguments",
            "Output",
        ],
        "Choice" => &[
            "Choices",
            "Default",
            "Assign",
            "InputPath",
            "OutputPath",
            "Output",
        ],
        "Wait" => &[
            "Next",
            "End",
            "Seconds",
            "Timestamp",
            "SecondsPath",
            "TimestampPath",
            "Assign",
            "InputPath",
            "OutputPath",
            "Output",
        ],
        "Succeed" => &["InputPath", "OutputPath", "Output"],
        "Fail" => &["Error", "Cause", "ErrorPath", "CausePath"],
        "Parallel" => &[
            "Branches",
            "Next",
            "End",
            "Retry",
            "Catch",
            "Assign",
            "InputPath",
            "OutputPath",
            "Parameters",
            "ResultSelector",
            "ResultPath",
            "Arguments",
            "Output",
        ],
        "Map" => &[
            "ItemProcessor",
            "Iterator",
            "Next",
            "End",
            "Retry",
            "Catch",
            "MaxConcurrency",
            "ItemSelector",
            "ItemReader",
            "ItemBatcher",
            "ResultWriter",
            "ToleratedFailureCount",
            "ToleratedFailurePercentage",
            "Label",
            "Assign",
            "InputPath",
            "OutputPath",
            "ItemsPath",
            "Parameters",
            "ResultSelector",
            "ResultPath",
            "MaxConcurrencyPath",
            "ToleratedFailureCountPath",
            "ToleratedFailurePercentagePath",
            "Items",
            "Output",
        ],
        _ => &[],
    }
}

/// Replaces `${Name}` placeholders (SAM `DefinitionSubstitutions`) in every string.
pub fn substitute(value: &mut Value, substitutions: &HashMap<String, String>) {
    if substitutions.is_empty() {
        return;
    }
    match value {
        Value::String(s) if s.contains("${") => {
            let mut out = s.clone();
            for (k, v) in substitutions {
                out = out.replace(&format!("${{{k}}}"), v);
            }
            *s = out;
        }
        Value::Array(items) => items.iter_mut().for_each(|v| substitute(v, substitutions)),
        Value::Object(map) => {
            for v in map.values_mut() {
                substitute(v, substitutions);
            }
        }
        _ => {}
    }
}

/// `${Name}` placeholders of a definition's text that `substitutions` leaves unset (SAM would
/// leave them in the text, and the execution would fail later on a literal `${Name}`).
pub fn unresolved_substitutions(
    definition: &str,
    substitutions: &HashMap<String, String>,
) -> Vec<String> {
    let mut missing = Vec::new();
    let mut rest = definition;
    while let Some(start) = rest.find("${") {
        rest = &rest[start + 2..];
        let Some(end) = rest.find('}') else { break };
        let name = &rest[..end];
        if !name.is_empty()
            && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
            && !substitutions.contains_key(name)
            && !missing.iter().any(|m| m == name)
        {
            missing.push(name.to_string());
        }
    }
    missing
}

struct Loader {
    tasks: Vec<TaskRef>,
    names: HashSet<String>,
}

impl StateMachine {
    pub fn from_json(
        text: &str,
        substitutions: &HashMap<String, String>,
    ) -> Result<StateMachine, LoadError> {
        let mut value: Value =
            serde_json::from_str(text).map_err(|e| LoadError::InvalidJson(e.to_string()))?;
        substitute(&mut value, substitutions);
        StateMachine::from_value(&value)
    }

    pub fn from_value(value: &Value) -> Result<StateMachine, LoadError> {
        let Value::Object(root) = value else {
            return Err(LoadError::Definition(
                "the definition must be a JSON object".into(),
            ));
        };
        let language = match root.get("QueryLanguage") {
            None => QueryLanguage::JsonPath,
            Some(Value::String(s)) if s == "JSONata" => QueryLanguage::Jsonata,
            Some(Value::String(s)) if s == "JSONPath" => QueryLanguage::JsonPath,
            Some(other) => {
                return Err(LoadError::Definition(format!(
                    "QueryLanguage must be \"JSONata\" or \"JSONPath\", not {other}"
                )))
            }
        };
        for key in root.keys() {
            if ![
                "StartAt",
                "States",
                "Comment",
                "QueryLanguage",
                "TimeoutSeconds",
                "Version",
            ]
            .contains(&key.as_str())
            {
                return Err(LoadError::Definition(format!(
                    "unknown top-level field '{key}'"
                )));
            }
        }
        let mut loader = Loader {
            tasks: Vec::new(),
            names: HashSet::new(),
        };
        let graph = loader.graph(root, language, "the state machine")?;
        Ok(StateMachine {
            graph,
            query_language: language,
            comment: root
                .get("Comment")
                .and_then(Value::as_str)
                .map(str::to_string),
            timeout_seconds: root.get("TimeoutSeconds").and_then(Value::as_u64),
            tasks: loader.tasks,
        })
    }

    /// Number of JSONata expressions compiled at load (all states, all depths).
    pub fn expression_count(&self) -> usize {
        fn count_graph(g: &Graph) -> usize {
            g.states.values().map(|s| count_state(s)).sum()
        }
        fn t(x: &Option<Template>) -> usize {
            x.as_ref().map_or(0, |t| t.expressions().len())
        }
        fn count_state(s: &State) -> usize {
            let mut n = t(&s.assign) + t(&s.output) + t(&s.arguments) + t(&s.result_selector);
            n += s
                .catch
                .iter()
                .map(|c| t(&c.assign) + t(&c.output))
                .sum::<usize>();
            match &s.kind {
                Kind::Choice { rules, .. } => {
                    n += rules
                        .iter()
                        .map(|r| {
                            usize::from(matches!(r.condition, Condition::Jsonata(_)))
                                + t(&r.assign)
                                + t(&r.output)
                        })
                        .sum::<usize>()
                }
                Kind::Parallel { branches } => {
                    n += branches.iter().map(|b| count_graph(b)).sum::<usize>()
                }
                Kind::Map(m) => n += count_graph(&m.processor) + t(&m.items) + t(&m.item_selector),
                _ => {}
            }
            n
        }
        count_graph(&self.graph)
    }
}

fn get_str<'v>(
    obj: &'v Map<String, Value>,
    key: &str,
    state: &str,
) -> Result<Option<&'v str>, LoadError> {
    match obj.get(key) {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(other) => Err(LoadError::state(
            state,
            format!("field '{key}' must be a string, not {other}"),
        )),
    }
}

fn error_list(value: Option<&Value>, state: &str, what: &str) -> Result<Vec<String>, LoadError> {
    let Some(Value::Array(items)) = value else {
        return Err(LoadError::state(
            state,
            format!("{what}: ErrorEquals must be a non-empty array of strings"),
        ));
    };
    let out: Vec<String> = items
        .iter()
        .filter_map(|v| v.as_str().map(str::to_string))
        .collect();
    if out.is_empty() || out.len() != items.len() {
        return Err(LoadError::state(
            state,
            format!("{what}: ErrorEquals must be a non-empty array of strings"),
        ));
    }
    if out.iter().any(|e| e == names::ALL) && out.len() > 1 {
        return Err(LoadError::state(
            state,
            format!("{what}: States.ALL must appear alone in ErrorEquals"),
        ));
    }
    Ok(out)
}

impl Loader {
    fn graph(
        &mut self,
        obj: &Map<String, Value>,
        language: QueryLanguage,
        owner: &str,
    ) -> Result<Arc<Graph>, LoadError> {
        let start_at = match obj.get("StartAt") {
            Some(Value::String(s)) => s.clone(),
            _ => {
                return Err(LoadError::Definition(format!(
                    "{owner}: StartAt is missing or not a string"
                )))
            }
        };
        let Some(Value::Object(states_json)) = obj.get("States") else {
            return Err(LoadError::Definition(format!(
                "{owner}: States is missing or not an object"
            )));
        };
        if states_json.is_empty() {
            return Err(LoadError::Definition(format!("{owner}: States is empty")));
        }
        if !states_json.contains_key(&start_at) {
            return Err(LoadError::Definition(format!(
                "{owner}: StartAt '{start_at}' does not name a state"
            )));
        }
        let mut states = HashMap::new();
        for (name, value) in states_json {
            if !self.names.insert(name.clone()) {
                return Err(LoadError::state(
                    name,
                    "state names must be unique within the state machine",
                ));
            }
            if name.is_empty() || name.chars().count() > 80 {
                return Err(LoadError::state(
                    name,
                    "state names must be 1 to 80 characters long",
                ));
            }
            let Value::Object(state_obj) = value else {
                return Err(LoadError::state(name, "a state must be a JSON object"));
            };
            let state = self.state(name, state_obj, language)?;
            states.insert(name.clone(), Arc::new(state));
        }
        // Every transition target exists and every state is reachable from StartAt.
        let mut edges: HashMap<&str, Vec<&str>> = HashMap::new();
        for (name, state) in &states {
            let mut targets: Vec<&str> = Vec::new();
            if let Some(next) = &state.next {
                targets.push(next);
            }
            if let Kind::Choice { rules, default } = &state.kind {
                targets.extend(rules.iter().map(|r| r.next.as_str()));
                if let Some(d) = default {
                    targets.push(d);
                }
            }
            targets.extend(state.catch.iter().map(|c| c.next.as_str()));
            for target in &targets {
                if !states.contains_key(*target) {
                    return Err(LoadError::state(
                        name,
                        format!("transition to '{target}', which is not a state in {owner}"),
                    ));
                }
            }
            edges.insert(name.as_str(), targets);
        }
        let mut seen: HashSet<&str> = HashSet::new();
        let mut queue: VecDeque<&str> = VecDeque::from([start_at.as_str()]);
        while let Some(name) = queue.pop_front() {
            if seen.insert(name) {
                if let Some(targets) = edges.get(name) {
                    queue.extend(targets.iter().copied());
                }
            }
        }
        let mut unreachable: Vec<&String> = states
            .keys()
            .filter(|n| !seen.contains(n.as_str()))
            .collect();
        unreachable.sort();
        if let Some(name) = unreachable.first() {
            return Err(LoadError::state(
                name,
                format!("unreachable: no transition leads to it from '{start_at}'"),
            ));
        }
        Ok(Arc::new(Graph { start_at, states }))
    }

    fn state(
        &mut self,
        name: &str,
        obj: &Map<String, Value>,
        inherited: QueryLanguage,
    ) -> Result<State, LoadError> {
        let type_name: &'static str = match obj.get("Type").and_then(Value::as_str) {
            Some("Pass") => "Pass",
            Some("Task") => "Task",
            Some("Choice") => "Choice",
            Some("Wait") => "Wait",
            Some("Succeed") => "Succeed",
            Some("Fail") => "Fail",
            Some("Parallel") => "Parallel",
            Some("Map") => "Map",
            Some(other) => {
                return Err(LoadError::state(
                    name,
                    format!("unknown state type '{other}'"),
                ))
            }
            None => return Err(LoadError::state(name, "Type is missing")),
        };
        let language = QueryLanguage::parse(obj.get("QueryLanguage"), inherited, name)?;
        let allowed = allowed_fields(type_name);
        for key in obj.keys() {
            let key = key.as_str();
            if COMMON.contains(&key) {
                continue;
            }
            if !allowed.contains(&key) {
                return Err(LoadError::state(
                    name,
                    format!("field '{key}' is not allowed in a {type_name} state"),
                ));
            }
            if language == QueryLanguage::Jsonata && JSONPATH_ONLY.contains(&key) {
                return Err(LoadError::state(
                    name,
                    format!(
                        "field '{key}' is only allowed in JSONPath states; this state uses JSONata"
                    ),
                ));
            }
            if language == QueryLanguage::JsonPath && JSONATA_ONLY.contains(&key) {
                return Err(LoadError::state(
                    name,
                    format!(
                        "field '{key}' is only allowed in JSONata states; this state uses JSONPath"
                    ),
                ));
            }
        }

        let jsonata = language == QueryLanguage::Jsonata;
        let next = get_str(obj, "Next", name)?.map(str::to_string);
        let end = match obj.get("End") {
            None => false,
            Some(Value::Bool(b)) => *b,
            Some(other) => {
                return Err(LoadError::state(
                    name,
                    format!("End must be a boolean, not {other}"),
                ))
            }
        };
        let needs_transition = matches!(type_name, "Pass" | "Task" | "Wait" | "Parallel" | "Map");
        if needs_transition {
            match (&next, end) {
                (None, false) => return Err(LoadError::state(name, "missing Next or End")),
                (Some(_), true) => {
                    return Err(LoadError::state(name, "Next and End cannot both be set"))
                }
                _ => {}
            }
        } else if next.is_some() || obj.contains_key("End") {
            return Err(LoadError::state(
                name,
                format!("a {type_name} state cannot have Next or End"),
            ));
        }

        let assign = match obj.get("Assign") {
            None => None,
            Some(v @ Value::Object(_)) => Some(if jsonata {
                Template::jsonata(v, name, "Assign")?
            } else {
                Template::payload(v, name, "Assign")?
            }),
            Some(Value::String(s)) if jsonata && jsonata_body(s).is_some() => {
                Some(Template::jsonata(&obj["Assign"], name, "Assign")?)
            }
            Some(_) => return Err(LoadError::state(name, "Assign must be a JSON object")),
        };
        let output = match obj.get("Output") {
            Some(v) => Some(Template::jsonata(v, name, "Output")?),
            None => None,
        };
        let arguments = if jsonata {
            match obj.get("Arguments") {
                Some(v) => Some(Template::jsonata(v, name, "Arguments")?),
                None => None,
            }
        } else {
            match obj.get("Parameters") {
                Some(v) if type_name != "Map" => Some(Template::payload(v, name, "Parameters")?),
                _ => None,
            }
        };
        let result_selector = match obj.get("ResultSelector") {
            Some(v) => Some(Template::payload(v, name, "ResultSelector")?),
            None => None,
        };
        let input_path = path_field(obj, "InputPath", name, false)?;
        let output_path = path_field(obj, "OutputPath", name, false)?;
        let result_path = path_field(obj, "ResultPath", name, true)?;
        let retry = self.retriers(obj.get("Retry"), name)?;
        let catch = self.catchers(obj.get("Catch"), name, jsonata)?;

        let kind = match type_name {
            "Pass" => Kind::Pass {
                result: obj.get("Result").cloned(),
            },
            "Task" => {
                let resource = get_str(obj, "Resource", name)?
                    .ok_or_else(|| LoadError::state(name, "Resource is missing"))?
                    .to_string();
                let args_json = if jsonata {
                    obj.get("Arguments")
                } else {
                    obj.get("Parameters")
                };
                let function_name = args_json
                    .and_then(|a| a.get("FunctionName"))
                    .and_then(Value::as_str)
                    .filter(|f| jsonata_body(f).is_none())
                    .map(str::to_string);
                let error_names = retry
                    .iter()
                    .flat_map(|r| r.error_equals.iter())
                    .chain(catch.iter().flat_map(|c| c.error_equals.iter()))
                    .cloned()
                    .collect();
                self.tasks.push(TaskRef {
                    state: name.to_string(),
                    resource: resource.clone(),
                    function_name,
                    error_names,
                });
                Kind::Task(TaskSpec {
                    resource,
                    timeout_seconds: dynamic(
                        obj,
                        "TimeoutSeconds",
                        "TimeoutSecondsPath",
                        name,
                        jsonata,
                    )?,
                    heartbeat_seconds: dynamic(
                        obj,
                        "HeartbeatSeconds",
                        "HeartbeatSecondsPath",
                        name,
                        jsonata,
                    )?,
                })
            }
            "Choice" => {
                let Some(Value::Array(choices)) = obj.get("Choices") else {
                    return Err(LoadError::state(
                        name,
                        "a Choice state needs a non-empty Choices array",
                    ));
                };
                if choices.is_empty() {
                    return Err(LoadError::state(
                        name,
                        "a Choice state needs a non-empty Choices array",
                    ));
                }
                let mut rules = Vec::with_capacity(choices.len());
                for (i, choice) in choices.iter().enumerate() {
                    rules.push(choice_rule(choice, name, i, jsonata)?);
                }
                Kind::Choice {
                    rules,
                    default: get_str(obj, "Default", name)?.map(str::to_string),
                }
            }
            "Wait" => {
                let seconds = dynamic(obj, "Seconds", "SecondsPath", name, jsonata)?;
                let timestamp = dynamic(obj, "Timestamp", "TimestampPath", name, jsonata)?;
                match (seconds, timestamp) {
                    (Some(s), None) => Kind::Wait(WaitSpec::Seconds(s)),
                    (None, Some(t)) => Kind::Wait(WaitSpec::Timestamp(t)),
                    _ => {
                        return Err(LoadError::state(
                            name,
                            "a Wait state needs exactly one of Seconds, Timestamp, SecondsPath, TimestampPath",
                        ))
                    }
                }
            }
            "Succeed" => Kind::Succeed,
            "Fail" => Kind::Fail {
                error: dynamic(obj, "Error", "ErrorPath", name, jsonata)?,
                cause: dynamic(obj, "Cause", "CausePath", name, jsonata)?,
            },
            "Parallel" => {
                let Some(Value::Array(branches)) = obj.get("Branches") else {
                    return Err(LoadError::state(
                        name,
                        "a Parallel state needs a non-empty Branches array",
                    ));
                };
                if branches.is_empty() {
                    return Err(LoadError::state(
                        name,
                        "a Parallel state needs a non-empty Branches array",
                    ));
                }
                let mut graphs = Vec::new();
                for (i, branch) in branches.iter().enumerate() {
                    let Value::Object(b) = branch else {
                        return Err(LoadError::state(
                            name,
                            format!("branch {i} must be an object"),
                        ));
                    };
                    graphs.push(self.graph(b, language, &format!("branch {i} of '{name}'"))?);
                }
                Kind::Parallel { branches: graphs }
            }
            "Map" => Kind::Map(Box::new(self.map_spec(name, obj, language)?)),
            _ => {
                return Err(LoadError::state(
                    name,
                    format!("unknown state type '{type_name}'"),
                ))
            }
        };

        Ok(State {
            name: name.to_string(),
            type_name,
            language,
            kind,
            next,
            end,
            assign,
            output,
            arguments,
            input_path,
            output_path,
            result_path,
            result_selector,
            retry,
            catch,
        })
    }

    fn map_spec(
        &mut self,
        name: &str,
        obj: &Map<String, Value>,
        language: QueryLanguage,
    ) -> Result<MapSpec, LoadError> {
        let jsonata = language == QueryLanguage::Jsonata;
        let processor_json = obj.get("ItemProcessor").or_else(|| obj.get("Iterator"));
        let Some(Value::Object(processor_obj)) = processor_json else {
            return Err(LoadError::state(
                name,
                "a Map state needs an ItemProcessor (or Iterator) object",
            ));
        };
        let inner_language =
            QueryLanguage::parse(processor_obj.get("QueryLanguage"), language, name)?;
        let processor = self.graph(
            processor_obj,
            inner_language,
            &format!("the ItemProcessor of '{name}'"),
        )?;
        let items = match obj.get("Items") {
            Some(v) => Some(Template::jsonata(v, name, "Items")?),
            None => None,
        };
        let selector_json = obj.get("ItemSelector").or_else(|| obj.get("Parameters"));
        let item_selector = match selector_json {
            Some(v) if jsonata => Some(Template::jsonata(v, name, "ItemSelector")?),
            Some(v) => Some(Template::payload(v, name, "ItemSelector")?),
            None => None,
        };
        let item_reader = match obj.get("ItemReader") {
            Some(Value::Object(reader)) => {
                let resource = get_str(reader, "Resource", name)?
                    .ok_or_else(|| LoadError::state(name, "ItemReader needs a Resource"))?
                    .to_string();
                let arguments = match (reader.get("Arguments"), reader.get("Parameters")) {
                    (Some(v), _) => Some(Template::jsonata(v, name, "ItemReader/Arguments")?),
                    (None, Some(v)) => Some(Template::payload(v, name, "ItemReader/Parameters")?),
                    _ => None,
                };
                let max_items = match reader.get("ReaderConfig") {
                    Some(Value::Object(cfg)) => {
                        dynamic(cfg, "MaxItems", "MaxItemsPath", name, jsonata)?
                    }
                    _ => None,
                };
                self.tasks.push(TaskRef {
                    state: name.to_string(),
                    resource: resource.clone(),
                    function_name: None,
                    error_names: Vec::new(),
                });
                Some(ItemReader {
                    resource,
                    arguments,
                    max_items,
                })
            }
            Some(_) => return Err(LoadError::state(name, "ItemReader must be an object")),
            None => None,
        };
        let item_batcher = match obj.get("ItemBatcher") {
            Some(Value::Object(b)) => Some(ItemBatcher {
                max_items_per_batch: dynamic(
                    b,
                    "MaxItemsPerBatch",
                    "MaxItemsPerBatchPath",
                    name,
                    jsonata,
                )?,
                max_input_bytes_per_batch: dynamic(
                    b,
                    "MaxInputBytesPerBatch",
                    "MaxInputBytesPerBatchPath",
                    name,
                    jsonata,
                )?,
                batch_input: match b.get("BatchInput") {
                    Some(v) if jsonata => {
                        Some(Template::jsonata(v, name, "ItemBatcher/BatchInput")?)
                    }
                    Some(v) => Some(Template::payload(v, name, "ItemBatcher/BatchInput")?),
                    None => None,
                },
            }),
            Some(_) => return Err(LoadError::state(name, "ItemBatcher must be an object")),
            None => None,
        };
        let distributed = processor_obj
            .get("ProcessorConfig")
            .and_then(|c| c.get("Mode"))
            .and_then(Value::as_str)
            == Some("DISTRIBUTED");
        Ok(MapSpec {
            processor,
            distributed,
            items,
            items_path: path_field(obj, "ItemsPath", name, false)?,
            item_selector,
            max_concurrency: dynamic(obj, "MaxConcurrency", "MaxConcurrencyPath", name, jsonata)?,
            tolerated_failure_count: dynamic(
                obj,
                "ToleratedFailureCount",
                "ToleratedFailureCountPath",
                name,
                jsonata,
            )?,
            tolerated_failure_percentage: dynamic(
                obj,
                "ToleratedFailurePercentage",
                "ToleratedFailurePercentagePath",
                name,
                jsonata,
            )?,
            item_reader,
            item_batcher,
        })
    }

    fn retriers(&self, value: Option<&Value>, state: &str) -> Result<Vec<Retrier>, LoadError> {
        let Some(value) = value else {
            return Ok(Vec::new());
        };
        let Value::Array(items) = value else {
            return Err(LoadError::state(state, "Retry must be an array"));
        };
        let mut out = Vec::with_capacity(items.len());
        for (i, item) in items.iter().enumerate() {
            let what = format!("Retry[{i}]");
            let Value::Object(r) = item else {
                return Err(LoadError::state(state, format!("{what} must be an object")));
            };
            let error_equals = error_list(r.get("ErrorEquals"), state, &what)?;
            if error_equals.iter().any(|e| e == names::ALL) && i + 1 != items.len() {
                return Err(LoadError::state(
                    state,
                    format!("{what}: a retrier with States.ALL must be the last one"),
                ));
            }
            let number = |key: &str| -> Result<Option<f64>, LoadError> {
                match r.get(key) {
                    None => Ok(None),
                    Some(v) => v.as_f64().filter(|f| *f >= 0.0).map(Some).ok_or_else(|| {
                        LoadError::state(
                            state,
                            format!("{what}: {key} must be a non-negative number"),
                        )
                    }),
                }
            };
            let backoff_rate = number("BackoffRate")?.unwrap_or(2.0);
            if backoff_rate < 1.0 {
                return Err(LoadError::state(
                    state,
                    format!("{what}: BackoffRate must be at least 1.0"),
                ));
            }
            let jitter_full = match r.get("JitterStrategy").and_then(Value::as_str) {
                None | Some("NONE") => false,
                Some("FULL") => true,
                Some(other) => {
                    return Err(LoadError::state(
                        state,
                        format!("{what}: JitterStrategy must be FULL or NONE, not {other}"),
                    ))
                }
            };
            out.push(Retrier {
                error_equals,
                interval_seconds: number("IntervalSeconds")?.unwrap_or(1.0),
                max_attempts: number("MaxAttempts")?.map_or(3, |n| n as u32),
                backoff_rate,
                max_delay_seconds: number("MaxDelaySeconds")?,
                jitter_full,
            });
        }
        Ok(out)
    }

    fn catchers(
        &self,
        value: Option<&Value>,
        state: &str,
        jsonata: bool,
    ) -> Result<Vec<Catcher>, LoadError> {
        let Some(value) = value else {
            return Ok(Vec::new());
        };
        let Value::Array(items) = value else {
            return Err(LoadError::state(state, "Catch must be an array"));
        };
        let mut out = Vec::with_capacity(items.len());
        for (i, item) in items.iter().enumerate() {
            let what = format!("Catch[{i}]");
            let Value::Object(c) = item else {
                return Err(LoadError::state(state, format!("{what} must be an object")));
            };
            let error_equals = error_list(c.get("ErrorEquals"), state, &what)?;
            if error_equals.iter().any(|e| e == names::ALL) && i + 1 != items.len() {
                return Err(LoadError::state(
                    state,
                    format!("{what}: a catcher with States.ALL must be the last one"),
                ));
            }
            let next = get_str(c, "Next", state)?
                .ok_or_else(|| LoadError::state(state, format!("{what}: Next is missing")))?
                .to_string();
            for key in c.keys() {
                let ok = match key.as_str() {
                    "ErrorEquals" | "Next" | "Comment" | "Assign" => true,
                    "ResultPath" => !jsonata,
                    "Output" => jsonata,
                    _ => false,
                };
                if !ok {
                    return Err(LoadError::state(
                        state,
                        format!("{what}: field '{key}' is not allowed here"),
                    ));
                }
            }
            let assign = match c.get("Assign") {
                Some(v) if jsonata => Some(Template::jsonata(v, state, "Catch/Assign")?),
                Some(v) => Some(Template::payload(v, state, "Catch/Assign")?),
                None => None,
            };
            let output = match c.get("Output") {
                Some(v) => Some(Template::jsonata(v, state, "Catch/Output")?),
                None => None,
            };
            out.push(Catcher {
                error_equals,
                next,
                result_path: path_field(c, "ResultPath", state, true)?,
                assign,
                output,
            });
        }
        Ok(out)
    }
}

fn path_field(
    obj: &Map<String, Value>,
    key: &str,
    state: &str,
    reference: bool,
) -> Result<PathField, LoadError> {
    match obj.get(key) {
        None => Ok(PathField::Default),
        Some(Value::Null) => Ok(PathField::Null),
        Some(Value::String(s)) => {
            let path = Path::parse(s)
                .map_err(|e| LoadError::state(state, format!("field '{key}': {e}")))?;
            if reference && !path.is_reference() {
                return Err(LoadError::state(
                    state,
                    format!("field '{key}': '{s}' is not a reference path"),
                ));
            }
            Ok(PathField::Path(path))
        }
        Some(other) => Err(LoadError::state(
            state,
            format!("field '{key}' must be a string or null, not {other}"),
        )),
    }
}

fn dynamic(
    obj: &Map<String, Value>,
    key: &str,
    path_key: &str,
    state: &str,
    jsonata: bool,
) -> Result<Option<Dynamic>, LoadError> {
    if let Some(v) = obj.get(key) {
        if let Value::String(s) = v {
            if let Some(body) = jsonata_body(s) {
                if !jsonata {
                    return Ok(Some(Dynamic::Literal(v.clone())));
                }
                return Ok(Some(Dynamic::Jsonata(compile_expression(
                    body, state, key,
                )?)));
            }
        }
        return Ok(Some(Dynamic::Literal(v.clone())));
    }
    if let Some(v) = obj.get(path_key) {
        let Value::String(s) = v else {
            return Err(LoadError::state(
                state,
                format!("field '{path_key}' must be a string"),
            ));
        };
        let path = Path::parse(s)
            .map_err(|e| LoadError::state(state, format!("field '{path_key}': {e}")))?;
        return Ok(Some(Dynamic::Path(path)));
    }
    Ok(None)
}

const COMPARISONS: &[&str] = &[
    "StringEquals",
    "StringLessThan",
    "StringGreaterThan",
    "StringLessThanEquals",
    "StringGreaterThanEquals",
    "StringMatches",
    "NumericEquals",
    "NumericLessThan",
    "NumericGreaterThan",
    "NumericLessThanEquals",
    "NumericGreaterThanEquals",
    "BooleanEquals",
    "TimestampEquals",
    "TimestampLessThan",
    "TimestampGreaterThan",
    "TimestampLessThanEquals",
    "TimestampGreaterThanEquals",
    "IsNull",
    "IsPresent",
    "IsNumeric",
    "IsString",
    "IsBoolean",
    "IsTimestamp",
];

fn choice_rule(
    value: &Value,
    state: &str,
    index: usize,
    jsonata: bool,
) -> Result<ChoiceRule, LoadError> {
    let what = format!("Choices[{index}]");
    let Value::Object(obj) = value else {
        return Err(LoadError::state(state, format!("{what} must be an object")));
    };
    let next = get_str(obj, "Next", state)?
        .ok_or_else(|| LoadError::state(state, format!("{what}: Next is missing")))?
        .to_string();
    let assign = match obj.get("Assign") {
        Some(v) if jsonata => Some(Template::jsonata(v, state, "Assign")?),
        Some(v) => Some(Template::payload(v, state, "Assign")?),
        None => None,
    };
    let output = match obj.get("Output") {
        Some(v) if jsonata => Some(Template::jsonata(v, state, "Output")?),
        Some(_) => {
            return Err(LoadError::state(
                state,
                format!("{what}: Output is only allowed in JSONata states"),
            ))
        }
        None => None,
    };
    let condition = if jsonata {
        match obj.get("Condition") {
            Some(Value::Bool(b)) => Condition::Constant(*b),
            Some(Value::String(s)) => match jsonata_body(s) {
                Some(body) => Condition::Jsonata(compile_expression(body, state, "Condition")?),
                None => {
                    return Err(LoadError::state(
                        state,
                        format!("{what}: Condition must be a JSONata expression '{{% ... %}}'"),
                    ))
                }
            },
            Some(_) => {
                return Err(LoadError::state(
                    state,
                    format!("{what}: Condition must be a boolean or JSONata expression"),
                ))
            }
            None => {
                return Err(LoadError::state(
                    state,
                    format!("{what}: Condition is missing"),
                ))
            }
        }
    } else {
        if obj.contains_key("Condition") {
            return Err(LoadError::state(
                state,
                format!("{what}: Condition is only allowed in JSONata states"),
            ));
        }
        Condition::Rule(jsonpath_rule(obj, state, &what)?)
    };
    Ok(ChoiceRule {
        condition,
        next,
        assign,
        output,
    })
}

fn jsonpath_rule(obj: &Map<String, Value>, state: &str, what: &str) -> Result<Rule, LoadError> {
    let nested = |key: &str| -> Result<Option<Vec<Rule>>, LoadError> {
        match obj.get(key) {
            None => Ok(None),
            Some(Value::Array(items)) if !items.is_empty() => items
                .iter()
                .map(|i| match i {
                    Value::Object(o) => jsonpath_rule(o, state, what),
                    _ => Err(LoadError::state(
                        state,
                        format!("{what}: {key} must hold objects"),
                    )),
                })
                .collect::<Result<Vec<_>, _>>()
                .map(Some),
            Some(_) => Err(LoadError::state(
                state,
                format!("{what}: {key} must be a non-empty array"),
            )),
        }
    };
    if let Some(rules) = nested("And")? {
        return Ok(Rule::And(rules));
    }
    if let Some(rules) = nested("Or")? {
        return Ok(Rule::Or(rules));
    }
    if let Some(v) = obj.get("Not") {
        let Value::Object(o) = v else {
            return Err(LoadError::state(
                state,
                format!("{what}: Not must be an object"),
            ));
        };
        return Ok(Rule::Not(Box::new(jsonpath_rule(o, state, what)?)));
    }
    let variable = match obj.get("Variable") {
        Some(Value::String(s)) => {
            Path::parse(s).map_err(|e| LoadError::state(state, format!("{what}: Variable: {e}")))?
        }
        _ => {
            return Err(LoadError::state(
                state,
                format!("{what}: a choice rule needs Variable (or And/Or/Not)"),
            ))
        }
    };
    for (key, value) in obj {
        if matches!(key.as_str(), "Variable" | "Next" | "Assign" | "Comment") {
            continue;
        }
        if let Some(base) = key.strip_suffix("Path") {
            if COMPARISONS.contains(&base) && !base.starts_with("Is") {
                let Value::String(s) = value else {
                    return Err(LoadError::state(
                        state,
                        format!("{what}: {key} must be a path string"),
                    ));
                };
                let path = Path::parse(s)
                    .map_err(|e| LoadError::state(state, format!("{what}: {key}: {e}")))?;
                return Ok(Rule::Compare {
                    variable,
                    operator: base.to_string(),
                    operand: Operand::Path(path),
                });
            }
        }
        if COMPARISONS.contains(&key.as_str()) {
            let valid = match key.as_str() {
                k if k.starts_with("Is") || k == "BooleanEquals" => value.is_boolean(),
                k if k.starts_with("Numeric") => value.is_number(),
                _ => value.is_string(),
            };
            if !valid {
                return Err(LoadError::state(
                    state,
                    format!("{what}: {key} has a value of the wrong type: {value}"),
                ));
            }
            return Ok(Rule::Compare {
                variable,
                operator: key.clone(),
                operand: Operand::Value(value.clone()),
            });
        }
        return Err(LoadError::state(
            state,
            format!("{what}: unknown field '{key}' in a choice rule"),
        ));
    }
    Err(LoadError::state(
        state,
        format!("{what}: no comparison operator"),
    ))
}
