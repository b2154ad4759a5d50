//! Runtime values: JSON plus functions, with JSONata's sequence flags on arrays.

use crate::ast::{LambdaDef, RegexLit};
use crate::functions::BuiltinDef;
use crate::Error;
use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;
use std::sync::Arc;

/// An object's entries. Dropping (like dropping an [`Array`]) grows the stack on demand, so
/// values nested thousands deep (built by recursive expressions) cannot overflow it.
#[derive(Clone, Debug, Default)]
pub(crate) struct Obj(indexmap::IndexMap<String, Value>);

impl Obj {
    pub fn new() -> Self {
        Obj(indexmap::IndexMap::new())
    }
}

impl std::ops::Deref for Obj {
    type Target = indexmap::IndexMap<String, Value>;
    fn deref(&self) -> &Self::Target {
        &self.0
    }
}

impl std::ops::DerefMut for Obj {
    fn deref_mut(&mut self) -> &mut Self::Target {
        &mut self.0
    }
}

impl FromIterator<(String, Value)> for Obj {
    fn from_iter<T: IntoIterator<Item = (String, Value)>>(iter: T) -> Self {
        Obj(iter.into_iter().collect())
    }
}

impl Drop for Obj {
    fn drop(&mut self) {
        if !self.0.is_empty() {
            let entries = std::mem::take(&mut self.0);
            stacker::maybe_grow(32 * 1024, 1024 * 1024, move || drop(entries));
        }
    }
}

/// An array's items; dropping grows the stack on demand (see [`Obj`]).
#[derive(Clone, Debug, Default)]
pub(crate) struct Items(pub Vec<Value>);

impl std::ops::Deref for Items {
    type Target = Vec<Value>;
    fn deref(&self) -> &Self::Target {
        &self.0
    }
}

impl std::ops::DerefMut for Items {
    fn deref_mut(&mut self) -> &mut Self::Target {
        &mut self.0
    }
}

impl IntoIterator for Items {
    type Item = Value;
    type IntoIter = std::vec::IntoIter<Value>;
    fn into_iter(mut self) -> Self::IntoIter {
        std::mem::take(&mut self.0).into_iter()
    }
}

impl<'a> IntoIterator for &'a Items {
    type Item = &'a Value;
    type IntoIter = std::slice::Iter<'a, Value>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.iter()
    }
}

impl Drop for Items {
    fn drop(&mut self) {
        if !self.0.is_empty() {
            let items = std::mem::take(&mut self.0);
            stacker::maybe_grow(32 * 1024, 1024 * 1024, move || drop(items));
        }
    }
}

#[derive(Clone, Debug, Default)]
pub(crate) struct Array {
    pub items: Items,
    /// A sequence produced by path evaluation (flattened, unwrapped when singleton).
    pub sequence: bool,
    pub keep_singleton: bool,
    /// Built by an array constructor `[...]` (not flattened by paths).
    pub cons: bool,
    pub tuple_stream: bool,
    pub outer_wrapper: bool,
}

#[derive(Clone, Debug)]
pub(crate) enum Value {
    Null,
    Bool(bool),
    Number(f64),
    String(Rc<str>),
    Array(Rc<Array>),
    Object(Rc<Obj>),
    Function(Rc<Func>),
}

pub(crate) type NativeFn =
    Rc<dyn Fn(&mut crate::eval::Ctx, Vec<Option<Value>>) -> Result<Option<Value>, Error>>;

pub(crate) enum Func {
    Lambda {
        def: Arc<LambdaDef>,
        env: Rc<Frame>,
        input: Option<Value>,
    },
    Builtin(Arc<BuiltinDef>),
    /// Partial application: `None` marks a `?` placeholder.
    Partial {
        func: Value,
        args: Vec<Option<Value>>,
    },
    Regex(Arc<RegexLit>),
    /// `$f ~> $g` composition.
    Chain(Value, Value),
    /// A native closure made by the library (e.g. regex match `next`).
    Native {
        arity: usize,
        imp: NativeFn,
    },
}

impl std::fmt::Debug for Func {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Func::Lambda { .. } => write!(f, "<lambda>"),
            Func::Builtin(b) => write!(f, "<builtin {}>", b.name),
            Func::Partial { .. } => write!(f, "<partial>"),
            Func::Regex(r) => write!(f, "/{}/", r.source),
            Func::Chain(..) => write!(f, "<chain>"),
            Func::Native { .. } => write!(f, "<native>"),
        }
    }
}

impl Func {
    pub fn arity(&self) -> usize {
        match self {
            Func::Lambda { def, .. } => def
                .signature
                .as_ref()
                .map(|s| s.arity())
                .unwrap_or(def.params.len()),
            Func::Builtin(b) => b.signature.as_ref().map(|s| s.arity()).unwrap_or(0),
            Func::Partial { args, .. } => args.iter().filter(|a| a.is_none()).count(),
            Func::Regex(_) => 1,
            Func::Chain(..) => 1,
            Func::Native { arity, .. } => *arity,
        }
    }
}

/// A variable scope.
#[derive(Default)]
pub(crate) struct Frame {
    vars: RefCell<HashMap<String, Option<Value>>>,
    parent: Option<Rc<Frame>>,
}

impl Frame {
    pub fn root() -> Rc<Frame> {
        Rc::new(Frame::default())
    }
    pub fn child(parent: &Rc<Frame>) -> Rc<Frame> {
        Rc::new(Frame {
            vars: RefCell::new(HashMap::new()),
            parent: Some(parent.clone()),
        })
    }
    /// Drops every binding (breaks closure reference cycles after an evaluation).
    pub fn clear(&self) {
        self.vars.borrow_mut().clear();
    }
    pub fn bind(&self, name: &str, value: Option<Value>) {
        self.vars.borrow_mut().insert(name.to_string(), value);
    }
    /// `None` = not bound anywhere; `Some(None)` = bound to undefined.
    pub fn lookup(&self, name: &str) -> Option<Option<Value>> {
        if let Some(v) = self.vars.borrow().get(name) {
            return Some(v.clone());
        }
        self.parent.as_ref().and_then(|p| p.lookup(name))
    }
}

impl Value {
    pub fn str(s: &str) -> Value {
        Value::String(Rc::from(s))
    }
    pub fn string(s: String) -> Value {
        Value::String(Rc::from(s))
    }
    pub fn array_from(items: Vec<Value>) -> Value {
        Value::Array(Rc::new(Array {
            items: Items(items),
            ..Default::default()
        }))
    }
    pub fn sequence(items: Vec<Value>) -> Value {
        Value::Array(Rc::new(Array {
            items: Items(items),
            sequence: true,
            ..Default::default()
        }))
    }
    pub fn object(o: Obj) -> Value {
        Value::Object(Rc::new(o))
    }
    pub fn is_function(&self) -> bool {
        matches!(self, Value::Function(_))
    }

    /// Converts from JSON (numbers become f64).
    pub fn from_json(v: &serde_json::Value) -> Value {
        stacker::maybe_grow(32 * 1024, 1024 * 1024, || Value::from_json_inner(v))
    }

    fn from_json_inner(v: &serde_json::Value) -> Value {
        match v {
            serde_json::Value::Null => Value::Null,
            serde_json::Value::Bool(b) => Value::Bool(*b),
            serde_json::Value::Number(n) => Value::Number(n.as_f64().unwrap_or(f64::NAN)),
            serde_json::Value::String(s) => Value::str(s),
            serde_json::Value::Array(a) => {
                Value::array_from(a.iter().map(Value::from_json).collect())
            }
            serde_json::Value::Object(o) => Value::object(
                o.iter()
                    .map(|(k, v)| (k.clone(), Value::from_json(v)))
                    .collect(),
            ),
        }
    }

    /// Converts to JSON; functions become `""`, non-finite numbers `null`.
    pub fn to_json_lossy(&self) -> serde_json::Value {
        self.to_json().unwrap_or(serde_json::Value::Null)
    }

    pub fn to_json(&self) -> Result<serde_json::Value, Error> {
        self.to_json_at(0)
    }

    fn to_json_at(&self, depth: usize) -> Result<serde_json::Value, Error> {
        if depth > MAX_JSON_DEPTH {
            return Err(Error::new(
                "U1001",
                format!("Result nested deeper than {MAX_JSON_DEPTH} levels"),
            ));
        }
        stacker::maybe_grow(32 * 1024, 1024 * 1024, || self.to_json_inner(depth))
    }

    fn to_json_inner(&self, depth: usize) -> Result<serde_json::Value, Error> {
        Ok(match self {
            Value::Null => serde_json::Value::Null,
            Value::Bool(b) => serde_json::Value::Bool(*b),
            Value::Number(n) => number_to_json(*n)?,
            Value::String(s) => serde_json::Value::String(s.to_string()),
            Value::Array(a) => serde_json::Value::Array(
                a.items
                    .iter()
                    .map(|v| v.to_json_at(depth + 1))
                    .collect::<Result<_, _>>()?,
            ),
            Value::Object(o) => {
                let mut m = serde_json::Map::new();
                for (k, v) in o.iter() {
                    if v.is_function() {
                        continue;
                    }
                    m.insert(k.clone(), v.to_json_at(depth + 1)?);
                }
                serde_json::Value::Object(m)
            }
            Value::Function(_) => serde_json::Value::String(String::new()),
        })
    }
}

/// Deepest JSON handed back: serde_json drops and serialises recursively on the caller's stack.
const MAX_JSON_DEPTH: usize = 2_000;

pub(crate) fn number_to_json(n: f64) -> Result<serde_json::Value, Error> {
    if !n.is_finite() {
        return Err(Error::new("D1001", "Number out of range"));
    }
    if n.fract() == 0.0 && n.abs() < 9.007_199_254_740_992e15 {
        return Ok(serde_json::Value::from(n as i64));
    }
    Ok(serde_json::Number::from_f64(n)
        .map(serde_json::Value::Number)
        .unwrap_or(serde_json::Value::Null))
}
