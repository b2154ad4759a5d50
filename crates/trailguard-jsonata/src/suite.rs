//! Runner for the official JSONata test suite (`jsonata-suite/<version>/groups/*/*.json`),
//! engine-agnostic so the same harness measures this engine and others.

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::time::Instant;

/// What a case expects.
#[derive(Debug, Clone)]
pub enum Expected {
    Result(Value),
    Undefined,
    Code(String),
}

/// One suite case.
#[derive(Debug, Clone)]
pub struct Case {
    /// `group/file[#index]`
    pub name: String,
    pub expr: String,
    /// `None` = undefined input.
    pub data: Option<Value>,
    pub bindings: serde_json::Map<String, Value>,
    pub expected: Expected,
    pub timelimit_ms: Option<u64>,
    pub depth: Option<usize>,
}

/// What an engine produced: a value, undefined (`Ok(None)`), or an error code.
pub type Outcome = Result<Option<Value>, String>;

/// Totals of a suite run.
#[derive(Debug, Default, Clone)]
pub struct Report {
    pub total: usize,
    pub passed: usize,
    pub failures: Vec<String>,
}

impl Report {
    pub fn rate(&self) -> f64 {
        if self.total == 0 {
            0.0
        } else {
            self.passed as f64 / self.total as f64
        }
    }
}

/// The suite directory: `$TRAILGUARD_DATA/jsonata-suite/v2.0.6` (default `<repo>/../shared/data`).
pub fn default_dir() -> PathBuf {
    let data = std::env::var("TRAILGUARD_DATA")
        .map(PathBuf::from)
        .unwrap_or_else(|_| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data"));
    data.join("jsonata-suite/v2.0.6")
}

fn read_json(path: &Path) -> Result<Value, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    serde_json::from_str(&text)
        .or_else(|_| {
            // A few cases hold lone UTF-16 surrogates, which Rust strings cannot: keep them as
            // JSONata escapes inside the expression text instead.
            serde_json::from_str(&text.replace("\\uD8", "\\\\uD8").replace("\\uDC", "\\\\uDC"))
        })
        .map_err(|e| format!("invalid JSON in {}: {e}", path.display()))
}

/// Loads every case, sorted by name.
pub fn load(dir: &Path) -> Result<Vec<Case>, String> {
    let groups = dir.join("groups");
    let datasets = dir.join("datasets");
    let mut files = Vec::new();
    let entries = std::fs::read_dir(&groups)
        .map_err(|e| format!("JSONata suite missing at {}: {e}", groups.display()))?;
    for group in entries.flatten() {
        let group_path = group.path();
        let Ok(inner) = std::fs::read_dir(&group_path) else {
            continue;
        };
        for file in inner.flatten() {
            let p = file.path();
            if p.extension().is_some_and(|e| e == "json") {
                files.push(p);
            }
        }
    }
    files.sort();
    let mut cases = Vec::new();
    for path in files {
        let group = path
            .parent()
            .and_then(|p| p.file_name())
            .map(|s| s.to_string_lossy().to_string())
            .unwrap_or_default();
        let stem = path
            .file_stem()
            .map(|s| s.to_string_lossy().to_string())
            .unwrap_or_default();
        let json = read_json(&path)?;
        let items: Vec<Value> = match json {
            Value::Array(a) => a,
            other => vec![other],
        };
        let multi = items.len() > 1;
        for (i, item) in items.into_iter().enumerate() {
            let name = if multi {
                format!("{group}/{stem}#{i}")
            } else {
                format!("{group}/{stem}")
            };
            let expr = if let Some(e) = item.get("expr").and_then(Value::as_str) {
                e.to_string()
            } else if let Some(f) = item.get("expr-file").and_then(Value::as_str) {
                let p = path.parent().map(|d| d.join(f)).unwrap_or_default();
                std::fs::read_to_string(&p)
                    .map_err(|e| format!("cannot read {}: {e}", p.display()))?
            } else {
                return Err(format!("{name}: no expr"));
            };
            let data = if let Some(d) = item.get("data") {
                Some(d.clone())
            } else {
                match item.get("dataset") {
                    Some(Value::String(ds)) => {
                        Some(read_json(&datasets.join(format!("{ds}.json")))?)
                    }
                    _ => None,
                }
            };
            let bindings = item
                .get("bindings")
                .and_then(Value::as_object)
                .cloned()
                .unwrap_or_default();
            let code = item
                .get("code")
                .or_else(|| item.get("error").and_then(|e| e.get("code")))
                .and_then(Value::as_str);
            let expected = if let Some(code) = code {
                Expected::Code(code.to_string())
            } else if let Some(r) = item.get("result") {
                Expected::Result(r.clone())
            } else if item.get("undefinedResult").is_some() {
                Expected::Undefined
            } else {
                // Cases with neither field expect undefined.
                Expected::Undefined
            };
            cases.push(Case {
                name,
                expr,
                data,
                bindings,
                expected,
                timelimit_ms: item.get("timelimit").and_then(Value::as_u64),
                depth: item
                    .get("depth")
                    .and_then(Value::as_u64)
                    .map(|d| d as usize),
            });
        }
    }
    Ok(cases)
}

/// Numbers compare by value (1 == 1.0); everything else structurally.
pub fn json_equal(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => match (x.as_f64(), y.as_f64()) {
            (Some(x), Some(y)) => x == y || ((x - y) / y.abs().max(1e-300)).abs() < 1e-14,
            _ => x == y,
        },
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(a, b)| json_equal(a, b))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len()
                && x.iter()
                    .all(|(k, v)| y.get(k).is_some_and(|w| json_equal(v, w)))
        }
        _ => a == b,
    }
}

/// Whether `outcome` satisfies the case.
pub fn passes(case: &Case, outcome: &Outcome) -> bool {
    match (&case.expected, outcome) {
        (Expected::Result(want), Ok(Some(got))) => json_equal(want, got),
        (Expected::Undefined, Ok(None)) => true,
        (Expected::Code(want), Err(got)) => want == got,
        _ => false,
    }
}

/// Runs every case through `engine`, recording failures as `name: expected vs got`.
pub fn run(cases: &[Case], mut engine: impl FnMut(&Case) -> Outcome) -> Report {
    let mut report = Report::default();
    for case in cases {
        let started = Instant::now();
        let outcome = engine(case);
        report.total += 1;
        if passes(case, &outcome) {
            report.passed += 1;
        } else {
            let got = match &outcome {
                Ok(Some(v)) => v.to_string(),
                Ok(None) => "undefined".to_string(),
                Err(code) => format!("error {code}"),
            };
            let want = match &case.expected {
                Expected::Result(v) => v.to_string(),
                Expected::Undefined => "undefined".to_string(),
                Expected::Code(c) => format!("error {c}"),
            };
            let mut got_short: String = got.chars().take(200).collect();
            if got_short.len() < got.len() {
                got_short.push('…');
            }
            let mut want_short: String = want.chars().take(200).collect();
            if want_short.len() < want.len() {
                want_short.push('…');
            }
            report.failures.push(format!(
                "{} [{}] want {} got {} ({} ms)",
                case.name,
                case.expr.replace('\n', " "),
                want_short,
                got_short,
                started.elapsed().as_millis()
            ));
        }
    }
    report
}
