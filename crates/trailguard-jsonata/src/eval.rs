//! The evaluator, following jsonata-js 2.0.6 (`jsonata.js`): sequences, paths, tuple streams
//! (`@`, `#`, `%`), predicates, grouping, sorting, functions and tail calls.

use crate::ast::{Kind, LambdaDef, Node, SortTerm, Stage, TransformDef};
use crate::functions::{self, Registry};
use crate::parser::Lit;
use crate::value::{Array, Frame, Func, Items, Obj, Value};
use crate::Error;
use std::rc::Rc;
use std::sync::Arc;
use std::time::Instant;

pub(crate) type R = Result<Option<Value>, Error>;

pub(crate) fn err(code: &str) -> Error {
    Error::new(code, crate::errors::message(code, None))
}

pub(crate) fn err_val(code: &str, v: Option<&Value>) -> Error {
    let mut e = err(code);
    e.value = v.map(|v| v.to_json_lossy());
    e
}

fn at(mut e: Error, pos: usize) -> Error {
    if e.position.is_none() {
        e.position = Some(pos);
    }
    e
}

pub(crate) struct Ctx<'r> {
    pub registry: &'r Registry,
    depth: usize,
    max_depth: usize,
    deadline: Option<Instant>,
    ticks: u32,
    pub now: chrono_like::Timestamp,
    /// Frames captured by closures; cleared after evaluation so `$f := function(){ $f() }`
    /// cycles (frame -> closure -> frame) do not leak.
    captured: Vec<std::rc::Weak<Frame>>,
    /// Environment bindings, converted on first use and cached in the root frame.
    globals: Option<(&'r indexmap::IndexMap<String, serde_json::Value>, Rc<Frame>)>,
}

/// Evaluation start time, shared by `$now()` and `$millis()` within one evaluation.
pub(crate) mod chrono_like {
    #[derive(Clone, Copy)]
    pub struct Timestamp {
        pub millis: i64,
    }
}

impl<'r> Ctx<'r> {
    pub fn new(registry: &'r Registry, max_depth: usize, deadline: Option<Instant>) -> Self {
        let millis = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis() as i64)
            .unwrap_or(0);
        Ctx {
            registry,
            depth: 0,
            max_depth,
            deadline,
            ticks: 0,
            now: chrono_like::Timestamp { millis },
            captured: Vec::new(),
            globals: None,
        }
    }

    /// Makes `bindings` visible as variables (converted lazily into `root`).
    pub fn set_globals(
        &mut self,
        bindings: &'r indexmap::IndexMap<String, serde_json::Value>,
        root: Rc<Frame>,
    ) {
        self.globals = Some((bindings, root));
    }

    /// Breaks closure reference cycles; call once the evaluation's result is converted.
    pub fn release(&mut self) {
        for weak in self.captured.drain(..) {
            if let Some(frame) = weak.upgrade() {
                frame.clear();
            }
        }
    }

    fn enter(&mut self) -> Result<(), Error> {
        self.depth += 1;
        if self.depth > self.max_depth {
            return Err(Error::new(
                "U1001",
                "Stack overflow error: Check for non-terminating recursive function.  Consider rewriting as tail-recursive.",
            ));
        }
        self.tick()
    }

    /// Checks the time budget every few hundred steps.
    pub fn tick(&mut self) -> Result<(), Error> {
        self.ticks = self.ticks.wrapping_add(1);
        if self.ticks.is_multiple_of(256) {
            if let Some(d) = self.deadline {
                if Instant::now() > d {
                    return Err(Error::new(
                        "U1001",
                        "Expression evaluation timeout: Check for infinite loop",
                    ));
                }
            }
        }
        Ok(())
    }

    pub fn evaluate(&mut self, node: &Node, input: Option<&Value>, env: &Rc<Frame>) -> R {
        self.enter()?;
        let r = stacker::maybe_grow(128 * 1024, 4 * 1024 * 1024, || {
            self.evaluate_inner(node, input, env)
        });
        self.depth -= 1;
        r
    }

    fn evaluate_inner(&mut self, node: &Node, input: Option<&Value>, env: &Rc<Frame>) -> R {
        let mut result = match &node.kind {
            Kind::Path(steps) => self.evaluate_path(node, steps, input, env)?,
            Kind::Binary(op, lhs, rhs) => self
                .evaluate_binary(op, lhs, rhs, input, env)
                .map_err(|e| at(e, node.pos))?,
            Kind::Negate(e) => match self.evaluate(e, input, env)? {
                None => None,
                Some(Value::Number(n)) => Some(Value::Number(-n)),
                Some(v) => return Err(at(err_val("D1002", Some(&v)), node.pos)),
            },
            Kind::ArrayCons(items) => {
                let mut out: Vec<Value> = Vec::new();
                for item in items {
                    if let Some(v) = self.evaluate(item, input, env)? {
                        if matches!(item.kind, Kind::ArrayCons(_)) {
                            out.push(v);
                        } else {
                            append_into(&mut out, v);
                        }
                    }
                }
                Some(Value::Array(Rc::new(Array {
                    items: Items(out),
                    cons: node.consarray,
                    ..Default::default()
                })))
            }
            Kind::ObjectCons(pairs) => Some(self.evaluate_group(pairs, node.pos, input, env)?),
            Kind::Name(name) => lookup(input, name),
            Kind::String(s) => Some(Value::str(s)),
            Kind::Number(n) => Some(Value::Number(*n)),
            Kind::Value(l) => Some(match l {
                Lit::Null => Value::Null,
                Lit::True => Value::Bool(true),
                Lit::False => Value::Bool(false),
            }),
            Kind::Wildcard => Some(wildcard(input)),
            Kind::Descendant => descendants(input),
            Kind::Parent(label) => env.lookup(&format!("!{label}")).flatten(),
            Kind::Condition(c, t, e) => {
                let cond = self.evaluate(c, input, env)?;
                if functions::boolean(cond.as_ref()) == Some(true) {
                    self.evaluate(t, input, env)?
                } else if let Some(e) = e {
                    self.evaluate(e, input, env)?
                } else {
                    None
                }
            }
            Kind::Block(items) => {
                let frame = Frame::child(env);
                let mut r = None;
                for item in items {
                    r = self.evaluate(item, input, &frame)?;
                }
                r
            }
            Kind::Bind(name, rhs) => {
                let v = self.evaluate(rhs, input, env)?;
                env.bind(name, v.clone());
                v
            }
            Kind::Regex(r) => Some(Value::Function(Rc::new(Func::Regex(r.clone())))),
            Kind::Call {
                procedure,
                args,
                partial: false,
            } => self.evaluate_call(procedure, args, node.pos, input, env, None)?,
            Kind::Call {
                procedure,
                args,
                partial: true,
            } => self.evaluate_partial(procedure, args, node.pos, input, env)?,
            Kind::Variable(name) => {
                if name.is_empty() {
                    match input {
                        Some(Value::Array(a)) if a.outer_wrapper => a.items.first().cloned(),
                        other => other.cloned(),
                    }
                } else {
                    self.lookup_var(name, env)
                }
            }
            Kind::Lambda(def) => Some(Value::Function(Rc::new(Func::Lambda {
                env: {
                    if !def.thunk {
                        self.captured.push(Rc::downgrade(env));
                    }
                    env.clone()
                },
                def: def.clone(),
                input: input.cloned(),
            }))),
            Kind::Apply(lhs, rhs) => self.evaluate_apply(lhs, rhs, node.pos, input, env)?,
            Kind::Transform(def) => Some(Value::Function(Rc::new(Func::Native {
                arity: 1,
                imp: {
                    self.captured.push(Rc::downgrade(env));
                    transformer(def.clone(), env.clone(), node.pos)
                },
            }))),
            Kind::Sort(_) | Kind::Placeholder => None,
        };

        for stage in &node.predicate {
            if let Stage::Filter(pred) = stage {
                result = self.evaluate_filter(pred, result, env)?;
            }
        }
        if !matches!(node.kind, Kind::Path(_)) {
            if let Some(g) = &node.group {
                result = Some(self.evaluate_group(&g.pairs, g.pos, result.as_ref(), env)?);
            }
        }
        Ok(finish_sequence(result, node.keep_array))
    }

    pub fn lookup_var(&self, name: &str, env: &Rc<Frame>) -> Option<Value> {
        match env.lookup(name) {
            Some(v) => v,
            None if self
                .globals
                .as_ref()
                .is_some_and(|(b, _)| b.contains_key(name)) =>
            {
                let (bindings, root) = self.globals.as_ref()?;
                let value = bindings.get(name).map(Value::from_json);
                root.bind(name, value.clone());
                value
            }
            None => self
                .registry
                .get(name)
                .map(|b| Value::Function(Rc::new(Func::Builtin(b.clone())))),
        }
    }

    fn evaluate_path(
        &mut self,
        node: &Node,
        steps: &[Node],
        input: Option<&Value>,
        env: &Rc<Frame>,
    ) -> R {
        let first_is_var = steps
            .first()
            .is_some_and(|s| matches!(s.kind, Kind::Variable(_)));
        let mut input_seq: Value = match input {
            Some(Value::Array(a)) if !first_is_var => Value::Array(a.clone()),
            Some(v) => Value::sequence(vec![v.clone()]),
            None => Value::sequence(vec![]),
        };
        // jsonata's createSequence(undefined) holds one undefined item.
        let mut undefined_input = input.is_none();
        let mut result_seq: Option<Value> = None;
        let mut is_tuple = false;
        let mut tuples: Option<Vec<Obj>> = None;
        let last = steps.len().saturating_sub(1);
        for (i, step) in steps.iter().enumerate() {
            if step.tuple {
                is_tuple = true;
            }
            if i == 0 && step.consarray {
                result_seq = self.evaluate(step, Some(&input_seq), env)?;
            } else if is_tuple {
                tuples = Some(self.evaluate_tuple_step(
                    step,
                    &input_seq,
                    undefined_input,
                    tuples,
                    env,
                )?);
            } else {
                result_seq =
                    Some(self.evaluate_step(step, &input_seq, undefined_input, env, i == last)?);
            }
            if !is_tuple {
                match &result_seq {
                    None => break,
                    Some(Value::Array(a)) if a.items.is_empty() => break,
                    _ => {}
                }
            }
            if step.focus.is_none() {
                if let Some(r) = &result_seq {
                    input_seq = r.clone();
                    undefined_input = false;
                }
            }
        }
        let mut tuples_for_group = None;
        if is_tuple {
            let tuples = tuples.unwrap_or_default();
            if node.group.is_some() {
                tuples_for_group = Some(tuples.clone());
            }
            if node.tuple {
                result_seq = Some(tuple_stream(tuples));
            } else {
                let items = tuples
                    .into_iter()
                    .filter_map(|t| t.get("@").cloned())
                    .collect();
                result_seq = Some(Value::sequence(items));
            }
        }
        if node.keep_singleton_array {
            let mut arr = match result_seq {
                Some(Value::Array(a)) => {
                    if a.cons && !a.sequence {
                        Array {
                            items: Items(vec![Value::Array(a)]),
                            sequence: true,
                            ..Default::default()
                        }
                    } else {
                        Rc::unwrap_or_clone(a)
                    }
                }
                Some(v) => Array {
                    items: Items(vec![v]),
                    sequence: true,
                    ..Default::default()
                },
                None => Array {
                    sequence: true,
                    ..Default::default()
                },
            };
            arr.keep_singleton = true;
            result_seq = Some(Value::Array(Rc::new(arr)));
        }
        if let Some(g) = &node.group {
            let group_input = if is_tuple {
                Some(tuple_stream(tuples_for_group.unwrap_or_default()))
            } else {
                result_seq
            };
            result_seq = Some(self.evaluate_group(&g.pairs, g.pos, group_input.as_ref(), env)?);
        }
        Ok(result_seq)
    }

    fn evaluate_step(
        &mut self,
        step: &Node,
        input: &Value,
        undefined_input: bool,
        env: &Rc<Frame>,
        last_step: bool,
    ) -> Result<Value, Error> {
        let items = seq_items(input);
        if let Kind::Sort(terms) = &step.kind {
            let mut r = self.evaluate_sort(terms, step.pos, input, env)?;
            if !step.stages.is_empty() {
                r = self.evaluate_stages(&step.stages, r, env)?;
            }
            return Ok(r);
        }
        let mut results: Vec<Value> = Vec::new();
        let inputs: Vec<Option<&Value>> = if undefined_input {
            vec![None]
        } else {
            items.iter().map(Some).collect()
        };
        for item in inputs {
            let mut res = self.evaluate(step, item, env)?;
            for stage in &step.stages {
                if let Stage::Filter(pred) = stage {
                    res = self.evaluate_filter(pred, res, env)?;
                }
            }
            if let Some(r) = res {
                results.push(r);
            }
        }
        if last_step && results.len() == 1 {
            if let Value::Array(a) = &results[0] {
                if !a.sequence {
                    return Ok(results.swap_remove(0));
                }
            }
        }
        let mut out = Vec::new();
        for r in results {
            match r {
                Value::Array(a) if !a.cons => match Rc::try_unwrap(a) {
                    Ok(arr) => out.extend(arr.items),
                    Err(a) => out.extend(a.items.iter().cloned()),
                },
                other => out.push(other),
            }
        }
        Ok(Value::sequence(out))
    }

    fn evaluate_stages(
        &mut self,
        stages: &[Stage],
        input: Value,
        env: &Rc<Frame>,
    ) -> Result<Value, Error> {
        let mut result = Some(input);
        for stage in stages {
            match stage {
                Stage::Filter(pred) => result = self.evaluate_filter(pred, result, env)?,
                Stage::Index(var) => {
                    if let Some(Value::Array(a)) = &mut result {
                        let arr = Rc::make_mut(a);
                        for (i, t) in arr.items.iter_mut().enumerate() {
                            if let Value::Object(o) = t {
                                Rc::make_mut(o).insert(var.clone(), Value::Number(i as f64));
                            }
                        }
                    }
                }
            }
        }
        Ok(result.unwrap_or_else(|| Value::sequence(vec![])))
    }

    fn evaluate_tuple_step(
        &mut self,
        step: &Node,
        input: &Value,
        undefined_input: bool,
        tuples: Option<Vec<Obj>>,
        env: &Rc<Frame>,
    ) -> Result<Vec<Obj>, Error> {
        if let Kind::Sort(terms) = &step.kind {
            let mut result = if let Some(t) = tuples {
                self.evaluate_sort(terms, step.pos, &tuple_stream(t), env)?
            } else {
                let sorted = self.evaluate_sort(terms, step.pos, input, env)?;
                let items = seq_items(&sorted);
                let mut ts = Vec::new();
                for (i, v) in items.iter().enumerate() {
                    let mut t = Obj::new();
                    t.insert("@".into(), v.clone());
                    if let Some(ix) = &step.index {
                        t.insert(ix.clone(), Value::Number(i as f64));
                    }
                    ts.push(t);
                }
                tuple_stream(ts)
            };
            if !step.stages.is_empty() {
                result = self.evaluate_stages(&step.stages, result, env)?;
            }
            return Ok(tuples_of(result));
        }
        let tuples = match tuples {
            Some(t) => t,
            None if undefined_input => vec![Obj::new()],
            None => seq_items(input)
                .iter()
                .map(|v| {
                    let mut t = Obj::new();
                    t.insert("@".into(), v.clone());
                    t
                })
                .collect(),
        };
        let mut result = Vec::new();
        for tuple in &tuples {
            let step_env = frame_from_tuple(env, tuple);
            let context = tuple.get("@").cloned();
            let res = self.evaluate(step, context.as_ref(), &step_env)?;
            let Some(res) = res else { continue };
            let (items, is_stream) = match &res {
                Value::Array(a) => (a.items.to_vec(), a.tuple_stream),
                other => (vec![other.clone()], false),
            };
            for (bb, item) in items.into_iter().enumerate() {
                let mut t = tuple.clone();
                if is_stream {
                    if let Value::Object(o) = item {
                        for (k, v) in o.iter() {
                            t.insert(k.clone(), v.clone());
                        }
                    }
                } else {
                    if let Some(f) = &step.focus {
                        t.insert(f.clone(), item);
                        if let Some(at) = tuple.get("@") {
                            t.insert("@".into(), at.clone());
                        }
                    } else {
                        t.insert("@".into(), item);
                    }
                    if let Some(ix) = &step.index {
                        t.insert(ix.clone(), Value::Number(bb as f64));
                    }
                    if let Some(anc) = step.ancestor {
                        if let Some(at) = tuple.get("@") {
                            t.insert(format!("!{anc}"), at.clone());
                        }
                    }
                }
                result.push(t);
            }
        }
        if !step.stages.is_empty() {
            let r = self.evaluate_stages(&step.stages, tuple_stream(result), env)?;
            return Ok(tuples_of(r));
        }
        Ok(result)
    }

    pub fn evaluate_filter(&mut self, pred: &Node, input: Option<Value>, env: &Rc<Frame>) -> R {
        let (items, is_stream): (Vec<Value>, bool) = match input {
            Some(Value::Array(a)) => {
                let s = a.tuple_stream;
                (
                    Rc::try_unwrap(a)
                        .map(|mut a| std::mem::take(&mut a.items.0))
                        .unwrap_or_else(|a| a.items.to_vec()),
                    s,
                )
            }
            Some(v) => (vec![v], false),
            None => (vec![], false),
        };
        let mut results = Vec::new();
        if let Kind::Number(n) = pred.kind {
            let mut index = n.floor();
            if index < 0.0 {
                index += items.len() as f64;
            }
            if index >= 0.0 {
                if let Some(item) = items.get(index as usize) {
                    match item {
                        Value::Array(a) => {
                            return Ok(Some(Value::Array(a.clone())));
                        }
                        other => results.push(other.clone()),
                    }
                }
            }
        } else {
            let len = items.len() as f64;
            for (index, item) in items.iter().enumerate() {
                let (context, fenv) = if is_stream {
                    match item {
                        Value::Object(o) => (o.get("@").cloned(), frame_from_tuple(env, o)),
                        other => (Some(other.clone()), env.clone()),
                    }
                } else {
                    (Some(item.clone()), env.clone())
                };
                let res = self.evaluate(pred, context.as_ref(), &fenv)?;
                let nums: Option<Vec<f64>> = match &res {
                    Some(Value::Number(n)) => Some(vec![*n]),
                    Some(Value::Array(a))
                        if !a.items.is_empty()
                            && a.items.iter().all(|v| matches!(v, Value::Number(_))) =>
                    {
                        Some(
                            a.items
                                .iter()
                                .filter_map(|v| match v {
                                    Value::Number(n) => Some(*n),
                                    _ => None,
                                })
                                .collect(),
                        )
                    }
                    _ => None,
                };
                if let Some(nums) = nums {
                    for n in nums {
                        let mut ii = n.floor();
                        if ii < 0.0 {
                            ii += len;
                        }
                        if ii == index as f64 {
                            results.push(item.clone());
                        }
                    }
                } else if functions::boolean(res.as_ref()) == Some(true) {
                    results.push(item.clone());
                }
            }
        }
        Ok(Some(Value::Array(Rc::new(Array {
            items: Items(results),
            sequence: true,
            tuple_stream: is_stream,
            ..Default::default()
        }))))
    }

    fn evaluate_binary(
        &mut self,
        op: &str,
        lhs: &Node,
        rhs: &Node,
        input: Option<&Value>,
        env: &Rc<Frame>,
    ) -> R {
        let l = self.evaluate(lhs, input, env)?;
        if op == "and" || op == "or" {
            let lb = functions::boolean(l.as_ref()) == Some(true);
            if op == "and" && !lb {
                return Ok(Some(Value::Bool(false)));
            }
            if op == "or" && lb {
                return Ok(Some(Value::Bool(true)));
            }
            let r = self.evaluate(rhs, input, env)?;
            return Ok(Some(Value::Bool(
                functions::boolean(r.as_ref()) == Some(true),
            )));
        }
        let r = self.evaluate(rhs, input, env)?;
        let (l, r) = (l.as_ref(), r.as_ref());
        match op {
            "+" | "-" | "*" | "/" | "%" => {
                for v in [l, r].into_iter().flatten() {
                    if let Value::Number(n) = v {
                        if !n.is_finite() {
                            return Err(err_val("D1001", Some(v)));
                        }
                    }
                }
                let ln = match l {
                    None => None,
                    Some(Value::Number(n)) => Some(*n),
                    Some(v) => return Err(err_val("T2001", Some(v))),
                };
                let rn = match r {
                    None => None,
                    Some(Value::Number(n)) => Some(*n),
                    Some(v) => return Err(err_val("T2002", Some(v))),
                };
                let (Some(a), Some(b)) = (ln, rn) else {
                    return Ok(None);
                };
                let v = match op {
                    "+" => a + b,
                    "-" => a - b,
                    "*" => a * b,
                    "/" => a / b,
                    _ => a % b,
                };
                Ok(Some(Value::Number(v)))
            }
            "=" | "!=" => {
                let (Some(a), Some(b)) = (l, r) else {
                    return Ok(Some(Value::Bool(false)));
                };
                let eq = functions::deep_equal(a, b);
                Ok(Some(Value::Bool(if op == "=" { eq } else { !eq })))
            }
            "<" | "<=" | ">" | ">=" => {
                let comparable = |v: Option<&Value>| {
                    matches!(v, None | Some(Value::String(_)) | Some(Value::Number(_)))
                };
                if !comparable(l) || !comparable(r) {
                    let bad = if comparable(l) { r } else { l };
                    return Err(err_val("T2010", bad));
                }
                let (Some(a), Some(b)) = (l, r) else {
                    return Ok(None);
                };
                let ord = match (a, b) {
                    (Value::Number(x), Value::Number(y)) => x.partial_cmp(y),
                    (Value::String(x), Value::String(y)) => Some(functions::js_str_cmp(x, y)),
                    _ => return Err(err_val("T2009", Some(a))),
                };
                let Some(ord) = ord else {
                    return Ok(Some(Value::Bool(false)));
                };
                use std::cmp::Ordering::*;
                let v = match op {
                    "<" => ord == Less,
                    "<=" => ord != Greater,
                    ">" => ord == Greater,
                    _ => ord != Less,
                };
                Ok(Some(Value::Bool(v)))
            }
            "&" => {
                let mut s = String::new();
                if let Some(a) = l {
                    s.push_str(&functions::string_of(a, false)?);
                }
                if let Some(b) = r {
                    s.push_str(&functions::string_of(b, false)?);
                }
                Ok(Some(Value::string(s)))
            }
            ".." => {
                let int = |v: Option<&Value>, code: &str| -> Result<Option<f64>, Error> {
                    match v {
                        None => Ok(None),
                        Some(Value::Number(n)) if n.fract() == 0.0 => Ok(Some(*n)),
                        Some(v) => Err(err_val(code, Some(v))),
                    }
                };
                let a = int(l, "T2003")?;
                let b = int(r, "T2004")?;
                let (Some(a), Some(b)) = (a, b) else {
                    return Ok(None);
                };
                if a > b {
                    return Ok(None);
                }
                let size = b - a + 1.0;
                if size > 1e7 {
                    return Err(err_val("D2014", Some(&Value::Number(size))));
                }
                let items = (0..size as i64)
                    .map(|i| Value::Number(a + i as f64))
                    .collect();
                Ok(Some(Value::sequence(items)))
            }
            "in" => {
                let (Some(a), Some(b)) = (l, r) else {
                    return Ok(Some(Value::Bool(false)));
                };
                let found = match b {
                    Value::Array(arr) => arr.items.iter().any(|x| functions::strict_equal(x, a)),
                    other => functions::strict_equal(other, a),
                };
                Ok(Some(Value::Bool(found)))
            }
            _ => Err(err("S0201")),
        }
    }

    fn evaluate_group(
        &mut self,
        pairs: &[(Node, Node)],
        pos: usize,
        input: Option<&Value>,
        env: &Rc<Frame>,
    ) -> Result<Value, Error> {
        let reduce = matches!(input, Some(Value::Array(a)) if a.tuple_stream);
        let items: Vec<Option<Value>> = match input {
            Some(Value::Array(a)) => {
                if a.items.is_empty() {
                    vec![None]
                } else {
                    a.items.iter().cloned().map(Some).collect()
                }
            }
            Some(v) => vec![Some(v.clone())],
            None => vec![None],
        };
        // key -> (data, pair index)
        let mut groups: indexmap::IndexMap<String, (Option<Value>, usize)> =
            indexmap::IndexMap::new();
        for item in &items {
            let (ctx, ienv) = match (reduce, item) {
                (true, Some(Value::Object(t))) => (t.get("@").cloned(), frame_from_tuple(env, t)),
                _ => (item.clone(), env.clone()),
            };
            for (pi, (kexpr, _)) in pairs.iter().enumerate() {
                let key = self.evaluate(kexpr, ctx.as_ref(), &ienv)?;
                let key = match key {
                    None => continue,
                    Some(Value::String(s)) => s.to_string(),
                    Some(other) => return Err(at(err_val("T1003", Some(&other)), pos)),
                };
                if let Some(entry) = groups.get_mut(&key) {
                    if entry.1 != pi {
                        let mut e = err("D1009");
                        e.value = Some(serde_json::Value::String(key));
                        return Err(at(e, pos));
                    }
                    let data = entry.0.take();
                    entry.0 = append(data, item.clone());
                } else {
                    groups.insert(key, (item.clone(), pi));
                }
            }
        }
        let mut result = Obj::new();
        for (key, (data, pi)) in groups {
            let (ctx, genv) = if reduce {
                let mut tuple = reduce_tuple_stream(data.as_ref());
                let ctx = tuple.shift_remove("@");
                (ctx, frame_from_tuple(env, &tuple))
            } else {
                (data, env.clone())
            };
            if let Some(v) = self.evaluate(&pairs[pi].1, ctx.as_ref(), &genv)? {
                result.insert(key, v);
            }
        }
        Ok(Value::object(result))
    }

    fn evaluate_sort(
        &mut self,
        terms: &[SortTerm],
        pos: usize,
        input: &Value,
        env: &Rc<Frame>,
    ) -> Result<Value, Error> {
        let (items, is_tuple) = match input {
            Value::Array(a) => (a.items.to_vec(), a.tuple_stream),
            other => (vec![other.clone()], false),
        };
        if items.len() <= 1 {
            return Ok(input.clone());
        }
        let mut keys: Vec<Vec<Option<Value>>> = Vec::with_capacity(items.len());
        for item in &items {
            let mut k = Vec::with_capacity(terms.len());
            for term in terms {
                let v = match (is_tuple, item) {
                    (true, Value::Object(t)) => {
                        let fenv = frame_from_tuple(env, t);
                        self.evaluate(&term.expr, t.get("@"), &fenv)?
                    }
                    _ => self.evaluate(&term.expr, Some(item), env)?,
                };
                k.push(v);
            }
            keys.push(k);
        }
        let cmp = |a: usize, b: usize| -> Result<bool, Error> {
            for (ti, term) in terms.iter().enumerate() {
                let (aa, bb) = (&keys[a][ti], &keys[b][ti]);
                let comp: i32 = match (aa, bb) {
                    (None, None) => 0,
                    (None, _) => 1,
                    (_, None) => -1,
                    (Some(x), Some(y)) => {
                        let ok = |v: &Value| matches!(v, Value::String(_) | Value::Number(_));
                        if !ok(x) || !ok(y) {
                            let bad = if ok(x) { y } else { x };
                            return Err(at(err_val("T2008", Some(bad)), pos));
                        }
                        let c = match (x, y) {
                            (Value::Number(p), Value::Number(q)) => {
                                if p == q {
                                    0
                                } else if p < q {
                                    -1
                                } else {
                                    1
                                }
                            }
                            (Value::String(p), Value::String(q)) => {
                                match functions::js_str_cmp(p, q) {
                                    std::cmp::Ordering::Less => -1,
                                    std::cmp::Ordering::Equal => 0,
                                    std::cmp::Ordering::Greater => 1,
                                }
                            }
                            _ => return Err(at(err_val("T2007", Some(x)), pos)),
                        };
                        if term.descending {
                            -c
                        } else {
                            c
                        }
                    }
                };
                if comp != 0 {
                    return Ok(comp == 1);
                }
            }
            Ok(false)
        };
        let order = merge_sort((0..items.len()).collect(), &cmp)?;
        let sorted: Vec<Value> = order.into_iter().map(|i| items[i].clone()).collect();
        Ok(Value::Array(Rc::new(Array {
            items: Items(sorted),
            tuple_stream: is_tuple,
            sequence: true,
            ..Default::default()
        })))
    }

    fn evaluate_call(
        &mut self,
        procedure: &Node,
        args: &[Node],
        pos: usize,
        input: Option<&Value>,
        env: &Rc<Frame>,
        applyto: Option<Option<Value>>,
    ) -> R {
        let proc = self.evaluate(procedure, input, env)?;
        let proc_name = proc_name(procedure);
        if proc.is_none() {
            if let Kind::Path(steps) = &procedure.kind {
                if let Some(Kind::Name(n)) = steps.first().map(|s| &s.kind) {
                    if self.lookup_var(n, env).is_some() {
                        let mut e = err("T1005");
                        e.token = Some(n.clone());
                        e.message =
                            format!("Attempted to invoke a non-function. Did you mean ${n}?");
                        return Err(at(e, pos));
                    }
                }
            }
        }
        let mut evaluated = Vec::with_capacity(args.len() + 1);
        if let Some(ctx) = applyto {
            evaluated.push(ctx);
        }
        for a in args {
            evaluated.push(self.evaluate(a, input, env)?);
        }
        self.apply(proc.as_ref(), evaluated, input, env)
            .map_err(|mut e| {
                if e.position.is_none() {
                    e.position = Some(pos);
                }
                if e.token.is_none() {
                    e.token = proc_name.clone();
                }
                e
            })
    }

    fn evaluate_partial(
        &mut self,
        procedure: &Node,
        args: &[Node],
        pos: usize,
        input: Option<&Value>,
        env: &Rc<Frame>,
    ) -> R {
        let mut evaluated = Vec::with_capacity(args.len());
        for a in args {
            if matches!(a.kind, Kind::Placeholder) {
                evaluated.push(None);
            } else {
                // Partially applied undefined args stay undefined (Some(None) would be ambiguous).
                evaluated.push(Some(self.evaluate(a, input, env)?));
            }
        }
        let proc = self.evaluate(procedure, input, env)?;
        match proc {
            Some(f @ Value::Function(_)) => Ok(Some(Value::Function(Rc::new(Func::Partial {
                func: f,
                args: evaluated
                    .into_iter()
                    .map(|a| a.map(|v| v.unwrap_or(Value::Null)))
                    .collect(),
            })))),
            _ => {
                let name = proc_name(procedure);
                let code = if let Kind::Path(steps) = &procedure.kind {
                    match steps.first().map(|s| &s.kind) {
                        Some(Kind::Name(n)) if self.lookup_var(n, env).is_some() => "T1007",
                        _ => "T1008",
                    }
                } else {
                    "T1008"
                };
                let mut e = err(code);
                e.token = name;
                Err(at(e, pos))
            }
        }
    }

    fn evaluate_apply(
        &mut self,
        lhs: &Node,
        rhs: &Node,
        pos: usize,
        input: Option<&Value>,
        env: &Rc<Frame>,
    ) -> R {
        let l = self.evaluate(lhs, input, env)?;
        if let Kind::Call {
            procedure,
            args,
            partial: false,
        } = &rhs.kind
        {
            return self.evaluate_call(procedure, args, rhs.pos, input, env, Some(l));
        }
        let func = self.evaluate(rhs, input, env)?;
        let Some(func @ Value::Function(_)) = func else {
            return Err(at(err_val("T2006", func.as_ref()), pos));
        };
        if let Some(lf @ Value::Function(_)) = l {
            return Ok(Some(Value::Function(Rc::new(Func::Chain(lf, func)))));
        }
        self.apply(Some(&func), vec![l], None, env)
    }

    /// Applies a function value, running tail-call thunks in a loop.
    pub fn apply(
        &mut self,
        proc: Option<&Value>,
        args: Vec<Option<Value>>,
        input: Option<&Value>,
        env: &Rc<Frame>,
    ) -> R {
        let mut result = self.apply_inner(proc, args, input, env)?;
        loop {
            let thunk = match &result {
                Some(Value::Function(f)) => match f.as_ref() {
                    Func::Lambda { def, env, input } if def.thunk => {
                        Some((def.clone(), env.clone(), input.clone()))
                    }
                    _ => None,
                },
                _ => None,
            };
            let Some((def, tenv, tinput)) = thunk else {
                return Ok(result);
            };
            self.tick()?;
            let Kind::Call {
                procedure, args, ..
            } = &def.body.kind
            else {
                return Ok(result);
            };
            let next = self.evaluate(procedure, tinput.as_ref(), &tenv)?;
            let mut evaluated = Vec::with_capacity(args.len());
            for a in args {
                evaluated.push(self.evaluate(a, tinput.as_ref(), &tenv)?);
            }
            let name = proc_name(procedure);
            result = self
                .apply_inner(next.as_ref(), evaluated, input, env)
                .map_err(|mut e| {
                    if e.token.is_none() {
                        e.token = name.clone();
                    }
                    if e.position.is_none() {
                        e.position = Some(def.body.pos);
                    }
                    e
                })?;
        }
    }

    fn apply_inner(
        &mut self,
        proc: Option<&Value>,
        args: Vec<Option<Value>>,
        input: Option<&Value>,
        env: &Rc<Frame>,
    ) -> R {
        let Some(Value::Function(f)) = proc else {
            let mut e = err("T1006");
            e.value = proc.map(|v| v.to_json_lossy());
            return Err(e);
        };
        match f.as_ref() {
            Func::Lambda {
                def,
                env: lenv,
                input: linput,
            } => {
                let args = match &def.signature {
                    Some(sig) => sig.validate(args, input)?,
                    None => args,
                };
                self.apply_lambda(def, lenv, linput.as_ref(), args)
            }
            Func::Builtin(b) => {
                let args = match &b.signature {
                    Some(sig) => sig.validate(args, input)?,
                    None => args,
                };
                (b.imp)(self, args, input, env)
            }
            Func::Partial { func, args: fixed } => {
                let mut supplied = args.into_iter();
                let full: Vec<Option<Value>> = fixed
                    .iter()
                    .map(|a| match a {
                        Some(v) => Some(v.clone()),
                        None => supplied.next().flatten(),
                    })
                    .collect();
                self.apply_inner(Some(func), full, input, env)
            }
            Func::Regex(r) => {
                let s = match args.into_iter().next().flatten() {
                    Some(Value::String(s)) => s,
                    None => return Ok(None),
                    Some(other) => return Err(err_val("T0410", Some(&other))),
                };
                Ok(functions::regex_match_object(r, &s, 0))
            }
            Func::Chain(a, b) => {
                let first = self.apply(Some(a), args, input, env)?;
                self.apply(Some(b), vec![first], input, env)
            }
            Func::Native { imp, .. } => imp(self, args),
        }
    }

    pub fn apply_lambda(
        &mut self,
        def: &Arc<LambdaDef>,
        lenv: &Rc<Frame>,
        linput: Option<&Value>,
        args: Vec<Option<Value>>,
    ) -> R {
        let frame = Frame::child(lenv);
        let mut args = args.into_iter();
        for p in &def.params {
            frame.bind(p, args.next().flatten());
        }
        if def.thunk {
            // A thunk's value is itself: the trampoline in `apply` runs it.
            return Ok(Some(Value::Function(Rc::new(Func::Lambda {
                def: def.clone(),
                env: frame,
                input: linput.cloned(),
            }))));
        }
        self.evaluate(&def.body, linput, &frame)
    }
}

fn proc_name(procedure: &Node) -> Option<String> {
    match &procedure.kind {
        Kind::Path(steps) => match steps.first().map(|s| &s.kind) {
            Some(Kind::Name(n)) => Some(n.clone()),
            _ => None,
        },
        Kind::Variable(v) => Some(v.clone()),
        _ => None,
    }
}

fn merge_sort(
    v: Vec<usize>,
    swap: &dyn Fn(usize, usize) -> Result<bool, Error>,
) -> Result<Vec<usize>, Error> {
    if v.len() <= 1 {
        return Ok(v);
    }
    let mid = v.len() / 2;
    let right = v[mid..].to_vec();
    let mut left = v;
    left.truncate(mid);
    let left = merge_sort(left, swap)?;
    let right = merge_sort(right, swap)?;
    let mut out = Vec::with_capacity(left.len() + right.len());
    let (mut i, mut j) = (0, 0);
    while i < left.len() && j < right.len() {
        if swap(left[i], right[j])? {
            out.push(right[j]);
            j += 1;
        } else {
            out.push(left[i]);
            i += 1;
        }
    }
    out.extend_from_slice(&left[i..]);
    out.extend_from_slice(&right[j..]);
    Ok(out)
}

/// Sequence post-processing at the end of `evaluate`: unwrap singletons, drop empties.
fn finish_sequence(result: Option<Value>, keep_array: bool) -> Option<Value> {
    match result {
        Some(Value::Array(a)) if a.sequence && !a.tuple_stream => {
            let keep_singleton = a.keep_singleton || keep_array;
            if a.items.is_empty() {
                None
            } else if a.items.len() == 1 && !keep_singleton {
                a.items.first().cloned()
            } else if keep_array && !a.keep_singleton {
                let mut arr = Rc::unwrap_or_clone(a);
                arr.keep_singleton = true;
                Some(Value::Array(Rc::new(arr)))
            } else {
                Some(Value::Array(a))
            }
        }
        other => other,
    }
}

pub(crate) fn seq_items(v: &Value) -> std::borrow::Cow<'_, [Value]> {
    match v {
        Value::Array(a) => std::borrow::Cow::Borrowed(&a.items),
        other => std::borrow::Cow::Owned(vec![other.clone()]),
    }
}

fn tuple_stream(tuples: Vec<Obj>) -> Value {
    Value::Array(Rc::new(Array {
        items: Items(tuples.into_iter().map(Value::object).collect()),
        sequence: true,
        tuple_stream: true,
        ..Default::default()
    }))
}

fn tuples_of(v: Value) -> Vec<Obj> {
    seq_items(&v)
        .iter()
        .filter_map(|t| match t {
            Value::Object(o) => Some(o.as_ref().clone()),
            _ => None,
        })
        .collect()
}

fn frame_from_tuple(env: &Rc<Frame>, tuple: &Obj) -> Rc<Frame> {
    let frame = Frame::child(env);
    for (k, v) in tuple.iter() {
        frame.bind(k, Some(v.clone()));
    }
    frame
}

fn reduce_tuple_stream(data: Option<&Value>) -> Obj {
    match data {
        Some(Value::Array(a)) => {
            let mut result = Obj::new();
            let mut iter = a.items.iter();
            if let Some(Value::Object(first)) = iter.next() {
                result = first.as_ref().clone();
            }
            for t in iter {
                if let Value::Object(t) = t {
                    for (k, v) in t.iter() {
                        let prev = result.shift_remove(k);
                        if let Some(n) = append(prev, Some(v.clone())) {
                            result.insert(k.clone(), n);
                        }
                    }
                }
            }
            result
        }
        Some(Value::Object(o)) => o.as_ref().clone(),
        _ => Obj::new(),
    }
}

/// jsonata's `fn.append`: concatenates, wrapping non-arrays.
pub(crate) fn append(a: Option<Value>, b: Option<Value>) -> Option<Value> {
    match (a, b) {
        (None, b) => b,
        (a, None) => a,
        (Some(a), Some(b)) => {
            let mut items: Vec<Value> = match a {
                Value::Array(arr) => std::mem::take(&mut Rc::unwrap_or_clone(arr).items.0),
                other => vec![other],
            };
            append_into(&mut items, b);
            Some(Value::sequence_plain(items))
        }
    }
}

fn append_into(items: &mut Vec<Value>, v: Value) {
    match v {
        Value::Array(arr) => match Rc::try_unwrap(arr) {
            Ok(a) => items.extend(a.items),
            Err(a) => items.extend(a.items.iter().cloned()),
        },
        other => items.push(other),
    }
}

impl Value {
    /// A plain array as produced by JS `concat` (sequence flag lost), except when concatenating
    /// onto a sequence: jsonata keeps those as sequences via `createSequence`.
    pub fn sequence_plain(items: Vec<Value>) -> Value {
        Value::sequence(items)
    }
}

pub(crate) fn lookup(input: Option<&Value>, key: &str) -> Option<Value> {
    match input {
        Some(Value::Array(a)) => {
            let mut out = Vec::new();
            for item in &a.items {
                if let Some(r) = lookup(Some(item), key) {
                    match r {
                        Value::Array(ra) => out.extend(ra.items.iter().cloned()),
                        other => out.push(other),
                    }
                }
            }
            Some(Value::sequence(out))
        }
        Some(Value::Object(o)) => o.get(key).cloned(),
        _ => None,
    }
}

fn flatten_into(v: &Value, out: &mut Vec<Value>) {
    match v {
        Value::Array(a) => a.items.iter().for_each(|x| flatten_into(x, out)),
        other => out.push(other.clone()),
    }
}

fn wildcard(input: Option<&Value>) -> Value {
    let mut input = input;
    if let Some(Value::Array(a)) = input {
        if a.outer_wrapper && !a.items.is_empty() {
            input = a.items.first();
        }
    }
    let mut out = Vec::new();
    if let Some(Value::Array(a)) = input {
        a.items.iter().for_each(|v| flatten_into(v, &mut out));
    }
    if let Some(Value::Object(o)) = input {
        for v in o.values() {
            match v {
                Value::Array(_) => flatten_into(v, &mut out),
                other => out.push(other.clone()),
            }
        }
    }
    Value::sequence(out)
}

fn descendants(input: Option<&Value>) -> Option<Value> {
    let input = input?;
    let mut out = Vec::new();
    fn rec(v: &Value, out: &mut Vec<Value>) {
        match v {
            Value::Array(a) => a.items.iter().for_each(|m| rec(m, out)),
            Value::Object(o) => {
                out.push(v.clone());
                o.values().for_each(|m| rec(m, out));
            }
            other => out.push(other.clone()),
        }
    }
    rec(input, &mut out);
    if out.len() == 1 {
        out.pop()
    } else {
        Some(Value::sequence(out))
    }
}

type NativeImp = Rc<dyn Fn(&mut Ctx, Vec<Option<Value>>) -> R>;

/// Builds the function a transform expression `| pattern | update, delete |` evaluates to.
fn transformer(def: Arc<TransformDef>, env: Rc<Frame>, pos: usize) -> NativeImp {
    Rc::new(move |ctx: &mut Ctx, args: Vec<Option<Value>>| {
        let obj = match args.into_iter().next().flatten() {
            None => return Ok(None),
            Some(v @ (Value::Object(_) | Value::Array(_))) => v,
            Some(other) => {
                let mut e = err_val("T0410", Some(&other));
                e.message =
                    "Argument 1 of function \"transform\" does not match function signature".into();
                return Err(e);
            }
        };
        let cloned = deep_clone(&obj);
        let matches = ctx.evaluate(&def.pattern, Some(&cloned), &env)?;
        let Some(matches) = matches else {
            return Ok(Some(cloned));
        };
        let mut edits: Vec<(*const Obj, Option<Obj>, Vec<String>)> = Vec::new();
        for m in seq_items(&matches).iter() {
            let Value::Object(mo) = m else {
                // Updates of non-objects are evaluated for their errors, then ignored.
                let update = ctx.evaluate(&def.update, Some(m), &env)?;
                check_update(update.as_ref(), def.update.pos)?;
                continue;
            };
            let update = ctx.evaluate(&def.update, Some(m), &env)?;
            let update = check_update(update.as_ref(), def.update.pos)?;
            let mut deletions = Vec::new();
            if let Some(d) = &def.delete {
                if let Some(dv) = ctx.evaluate(d, Some(m), &env)? {
                    let items = seq_items(&dv);
                    for it in items.iter() {
                        match it {
                            Value::String(s) => deletions.push(s.to_string()),
                            _ => return Err(at(err_val("T2012", Some(&dv)), d.pos)),
                        }
                    }
                }
            }
            edits.push((Rc::as_ptr(mo), update, deletions));
        }
        let _ = pos;
        Ok(Some(rebuild(&cloned, &edits)))
    })
}

fn check_update(update: Option<&Value>, pos: usize) -> Result<Option<Obj>, Error> {
    match update {
        None => Ok(None),
        Some(Value::Object(o)) => Ok(Some(o.as_ref().clone())),
        Some(other) => Err(at(err_val("T2011", Some(other)), pos)),
    }
}

/// The flags of `a`, without its items.
fn flags_of(a: &Array) -> Array {
    Array {
        items: Items(Vec::new()),
        sequence: a.sequence,
        keep_singleton: a.keep_singleton,
        cons: a.cons,
        tuple_stream: a.tuple_stream,
        outer_wrapper: a.outer_wrapper,
    }
}

fn deep_clone(v: &Value) -> Value {
    stacker::maybe_grow(32 * 1024, 1024 * 1024, || deep_clone_inner(v))
}

fn deep_clone_inner(v: &Value) -> Value {
    match v {
        Value::Array(a) => Value::Array(Rc::new(Array {
            items: Items(a.items.iter().map(deep_clone).collect()),
            ..flags_of(a)
        })),
        Value::Object(o) => {
            Value::object(o.iter().map(|(k, v)| (k.clone(), deep_clone(v))).collect())
        }
        other => other.clone(),
    }
}

fn rebuild(v: &Value, edits: &[(*const Obj, Option<Obj>, Vec<String>)]) -> Value {
    stacker::maybe_grow(32 * 1024, 1024 * 1024, || rebuild_inner(v, edits))
}

fn rebuild_inner(v: &Value, edits: &[(*const Obj, Option<Obj>, Vec<String>)]) -> Value {
    match v {
        Value::Array(a) => Value::Array(Rc::new(Array {
            items: Items(a.items.iter().map(|x| rebuild(x, edits)).collect()),
            ..flags_of(a)
        })),
        Value::Object(o) => {
            let ptr = Rc::as_ptr(o);
            let mut new: Obj = o
                .iter()
                .map(|(k, v)| (k.clone(), rebuild(v, edits)))
                .collect();
            for (p, update, deletions) in edits {
                if *p == ptr {
                    if let Some(u) = update {
                        for (k, v) in u.iter() {
                            new.insert(k.clone(), v.clone());
                        }
                    }
                    for d in deletions {
                        new.shift_remove(d);
                    }
                }
            }
            Value::object(new)
        }
        other => other.clone(),
    }
}
