//! JSON Schema (the subset below) to a llama.cpp GBNF grammar, and a validator for the same subset.
//!
//! Supported: `type` = `object` (with `properties`, `required`; properties are generated in the
//! schema's order, no other keys), `string` (`minLength`, `maxLength`, and `pattern` of the one
//! form `^[CLASS]`, below), `number`, `integer`, `boolean`, `null`, `array` (`items`, `minItems`,
//! `maxItems`), a list of types, `enum`, `const`.
//! Ignored annotations: `title`, `description`, `$schema`, `$id`, `default`, `examples`,
//! `additionalProperties: false`; `anyOf`/`oneOf` on their own (a nullable string). Anything else
//! (`$ref`, `allOf`, other `pattern`s, `format`, ...) is an
//! [`LocalModelError::UnsupportedSchema`] rather than being silently dropped.
//!
//! `pattern: "^[CLASS]"` (ECMA-262 meaning: the string starts with a character of CLASS) is the
//! one regular expression understood, enough to fix the script an answer starts in (`^[가-힣]`:
//! a Hangul syllable, so a small model writes Korean rather than drifting to English). CLASS is
//! one or more characters or `a-z` ranges, not negated, without `\`, `[`, `]`, `"` or control
//! characters. A JSON string escape is not a character of any class, so the first character is
//! always written as itself.
//!
//! Output is compact JSON with at most one space after `:` and `,` (small models otherwise tend to
//! fill the context with whitespace).

use serde_json::{Map, Value};

use crate::error::LocalModelError;

const IGNORED: &[&str] = &[
    "title",
    "description",
    "$schema",
    "$id",
    "$comment",
    "default",
    "examples",
];

/// Converts `schema` to a GBNF grammar whose start rule is `root`.
///
/// # Errors
/// [`LocalModelError::UnsupportedSchema`] for anything outside the subset.
pub fn schema_to_gbnf(schema: &Value) -> Result<String, LocalModelError> {
    let mut g = Gbnf {
        rules: Vec::new(),
        next: 0,
    };
    let root = g.schema(schema, "", "root")?;
    let mut out = format!("root ::= {root}\n");
    for (name, body) in &g.rules {
        out.push_str(&format!("{name} ::= {body}\n"));
    }
    out.push_str(concat!(
        "ws ::= \" \"?\n",
        "string ::= \"\\\"\" char* \"\\\"\"\n",
        "char ::= [^\"\\\\\\x00-\\x1F\\x7F] | \"\\\\\" ([\"\\\\/bfnrt] | \"u\" [0-9a-fA-F]{4})\n",
        "integer ::= \"-\"? ([0-9] | [1-9] [0-9]{1,15})\n",
        "number ::= integer (\".\" [0-9]{1,16})? ([eE] [-+]? [0-9]{1,3})?\n",
        "boolean ::= \"true\" | \"false\"\n",
        "null ::= \"null\"\n",
    ));
    Ok(out)
}

struct Gbnf {
    rules: Vec<(String, String)>,
    next: usize,
}

fn unsupported(pointer: &str, reason: impl Into<String>) -> LocalModelError {
    LocalModelError::UnsupportedSchema {
        pointer: if pointer.is_empty() {
            "/".into()
        } else {
            pointer.into()
        },
        reason: reason.into(),
    }
}

/// A GBNF string literal for `text`.
fn literal(text: &str) -> String {
    let mut out = String::from("\"");
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\x{:02X}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// GBNF for one exact JSON value (used by `enum` and `const`).
fn json_literal(value: &Value) -> String {
    literal(&value.to_string())
}

fn as_count(v: Option<&Value>, pointer: &str, key: &str) -> Result<Option<u64>, LocalModelError> {
    match v {
        None => Ok(None),
        Some(v) => v
            .as_u64()
            .map(Some)
            .ok_or_else(|| unsupported(pointer, format!("{key} must be a non-negative integer"))),
    }
}

fn repeat(item: &str, min: u64, max: Option<u64>) -> String {
    match max {
        Some(max) => format!("{item}{{{min},{max}}}"),
        None if min == 0 => format!("{item}*"),
        None => format!("{item}{{{min},}}"),
    }
}

/// The character class of a `^[CLASS]` pattern: inclusive ranges (a single character is a
/// range of one).
#[derive(Debug, Clone, PartialEq, Eq)]
struct StartClass(Vec<(char, char)>);

impl StartClass {
    /// Parses `^[CLASS]`; `None` for any other pattern (see the module docs).
    fn parse(pattern: &str) -> Option<Self> {
        let inner = pattern.strip_prefix("^[")?.strip_suffix(']')?;
        let chars: Vec<char> = inner.chars().collect();
        if chars.first() == Some(&'^') {
            return None; // negated
        }
        let allowed = |c: char| !matches!(c, '\\' | '[' | ']' | '"' | '-') && !c.is_control();
        let mut ranges = Vec::new();
        let mut i = 0;
        while i < chars.len() {
            let lo = *chars.get(i).filter(|c| allowed(**c))?;
            if chars.get(i + 1) == Some(&'-') {
                let hi = *chars.get(i + 2).filter(|c| allowed(**c))?;
                if hi < lo {
                    return None;
                }
                ranges.push((lo, hi));
                i += 3;
            } else {
                ranges.push((lo, lo));
                i += 1;
            }
        }
        (!ranges.is_empty()).then_some(Self(ranges))
    }

    fn contains(&self, c: char) -> bool {
        self.0.iter().any(|(lo, hi)| (*lo..=*hi).contains(&c))
    }

    /// The class in GBNF, every character as a code-point escape (no quoting questions).
    fn gbnf(&self) -> String {
        let mut out = String::from("[");
        for (lo, hi) in &self.0 {
            out.push_str(&escape_code_point(*lo));
            if lo != hi {
                out.push('-');
                out.push_str(&escape_code_point(*hi));
            }
        }
        out.push(']');
        out
    }
}

fn escape_code_point(c: char) -> String {
    match c as u32 {
        n if n <= 0xFF => format!("\\x{n:02X}"),
        n if n <= 0xFFFF => format!("\\u{n:04X}"),
        n => format!("\\U{n:08X}"),
    }
}

impl Gbnf {
    fn rule(&mut self, hint: &str, body: String) -> String {
        self.next += 1;
        let clean: String = hint
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() {
                    c.to_ascii_lowercase()
                } else {
                    '-'
                }
            })
            .take(24)
            .collect();
        let name = format!(
            "{}-{}",
            if clean.is_empty() {
                "r"
            } else {
                clean.as_str()
            },
            self.next
        );
        self.rules.push((name.clone(), body));
        name
    }

    /// Returns a GBNF expression (usually a rule name) matching `schema`.
    fn schema(
        &mut self,
        schema: &Value,
        pointer: &str,
        hint: &str,
    ) -> Result<String, LocalModelError> {
        let obj = match schema {
            Value::Bool(true) => return Err(unsupported(pointer, "`true` schema (any value)")),
            Value::Object(obj) => obj,
            _ => return Err(unsupported(pointer, "a schema must be an object")),
        };
        // A union (`anyOf`/`oneOf`, e.g. a nullable string): the alternatives' grammars joined.
        // Alone only: sibling constraints would have to apply to every branch.
        if let Some((keyword, branches)) = union(obj) {
            if obj
                .keys()
                .any(|k| k != keyword && !IGNORED.contains(&k.as_str()))
            {
                return Err(unsupported(
                    pointer,
                    format!("`{keyword}` beside other keywords"),
                ));
            }
            let branches = branches
                .as_array()
                .filter(|b| !b.is_empty())
                .ok_or_else(|| {
                    unsupported(pointer, format!("`{keyword}` must be a non-empty array"))
                })?;
            let mut alts = Vec::with_capacity(branches.len());
            for (index, branch) in branches.iter().enumerate() {
                alts.push(self.schema(branch, &format!("{pointer}/{keyword}/{index}"), hint)?);
            }
            return Ok(self.rule(hint, alts.join(" | ")));
        }
        for key in obj.keys() {
            let known = matches!(
                key.as_str(),
                "type"
                    | "properties"
                    | "required"
                    | "items"
                    | "enum"
                    | "const"
                    | "minLength"
                    | "maxLength"
                    | "minItems"
                    | "maxItems"
                    | "additionalProperties"
                    | "pattern"
            );
            if !known && !IGNORED.contains(&key.as_str()) {
                return Err(unsupported(pointer, format!("keyword `{key}`")));
            }
        }
        if let Some(extra) = obj.get("additionalProperties") {
            if extra != &Value::Bool(false) {
                return Err(unsupported(
                    pointer,
                    "additionalProperties other than false",
                ));
            }
        }
        if obj.contains_key("pattern") && (obj.contains_key("enum") || obj.contains_key("const")) {
            return Err(unsupported(pointer, "`pattern` beside `enum` or `const`"));
        }
        if let Some(values) = obj.get("enum") {
            let values = values
                .as_array()
                .filter(|v| !v.is_empty())
                .ok_or_else(|| unsupported(pointer, "enum must be a non-empty array"))?;
            let body = values
                .iter()
                .map(json_literal)
                .collect::<Vec<_>>()
                .join(" | ");
            return Ok(self.rule(hint, body));
        }
        if let Some(value) = obj.get("const") {
            return Ok(json_literal(value));
        }
        let types: Vec<&str> = match obj.get("type") {
            Some(Value::String(t)) => vec![t.as_str()],
            Some(Value::Array(ts)) => ts
                .iter()
                .map(|t| {
                    t.as_str()
                        .ok_or_else(|| unsupported(pointer, "type list entries must be strings"))
                })
                .collect::<Result<_, _>>()?,
            Some(_) => {
                return Err(unsupported(
                    pointer,
                    "type must be a string or a list of strings",
                ))
            }
            None => {
                return Err(unsupported(
                    pointer,
                    "schema without `type`, `enum` or `const`",
                ))
            }
        };
        if types.is_empty() {
            return Err(unsupported(pointer, "empty type list"));
        }
        let mut alts = Vec::new();
        for t in types {
            alts.push(match t {
                "object" => self.object(obj, pointer, hint)?,
                "array" => self.array(obj, pointer, hint)?,
                "string" => self.string(obj, pointer, hint)?,
                "number" => "number".to_string(),
                "integer" => "integer".to_string(),
                "boolean" => "boolean".to_string(),
                "null" => "null".to_string(),
                other => return Err(unsupported(pointer, format!("type `{other}`"))),
            });
        }
        Ok(if alts.len() == 1 {
            alts.remove(0)
        } else {
            self.rule(hint, alts.join(" | "))
        })
    }

    fn string(
        &mut self,
        obj: &Map<String, Value>,
        pointer: &str,
        hint: &str,
    ) -> Result<String, LocalModelError> {
        let min = as_count(obj.get("minLength"), pointer, "minLength")?;
        let max = as_count(obj.get("maxLength"), pointer, "maxLength")?;
        let start = match obj.get("pattern") {
            None => None,
            Some(pattern) => Some(
                pattern
                    .as_str()
                    .and_then(StartClass::parse)
                    .ok_or_else(|| {
                        unsupported(
                            pointer,
                            format!("pattern {pattern}: only `^[CLASS]` (starts with a character of CLASS) is supported"),
                        )
                    })?,
            ),
        };
        if let (Some(min), Some(max)) = (min, max) {
            if min > max {
                return Err(unsupported(pointer, "minLength > maxLength"));
            }
        }
        let quote = "\"\\\"\"";
        let body = match start {
            None if min.is_none() && max.is_none() => return Ok("string".into()),
            None => format!("{quote} {} {quote}", repeat("char", min.unwrap_or(0), max)),
            Some(_) if max == Some(0) => {
                return Err(unsupported(pointer, "a pattern needs maxLength ≥ 1"))
            }
            // The class character counts towards the length.
            Some(class) => format!(
                "{quote} {} {} {quote}",
                class.gbnf(),
                repeat(
                    "char",
                    min.unwrap_or(0).saturating_sub(1),
                    max.map(|m| m - 1)
                )
            ),
        };
        Ok(self.rule(hint, body))
    }

    fn array(
        &mut self,
        obj: &Map<String, Value>,
        pointer: &str,
        hint: &str,
    ) -> Result<String, LocalModelError> {
        let items = obj
            .get("items")
            .ok_or_else(|| unsupported(pointer, "array without `items`"))?;
        let item = self.schema(items, &format!("{pointer}/items"), &format!("{hint}-item"))?;
        let min = as_count(obj.get("minItems"), pointer, "minItems")?.unwrap_or(0);
        let max = as_count(obj.get("maxItems"), pointer, "maxItems")?;
        if let Some(max) = max {
            if min > max {
                return Err(unsupported(pointer, "minItems > maxItems"));
            }
        }
        let more = format!("(\",\" ws {item})");
        let body = match max {
            Some(0) => "\"[\" ws \"]\"".to_string(),
            _ if min == 0 => format!(
                "\"[\" ws ({item} {})? ws \"]\"",
                repeat(&more, 0, max.map(|m| m - 1))
            ),
            _ => format!(
                "\"[\" ws {item} {} ws \"]\"",
                repeat(&more, min - 1, max.map(|m| m - 1))
            ),
        };
        Ok(self.rule(hint, body))
    }

    fn object(
        &mut self,
        obj: &Map<String, Value>,
        pointer: &str,
        hint: &str,
    ) -> Result<String, LocalModelError> {
        let props = match obj.get("properties") {
            Some(Value::Object(p)) if !p.is_empty() => p,
            _ => {
                return Err(unsupported(
                    pointer,
                    "object without `properties` (free-form objects are not supported)",
                ))
            }
        };
        let required: Vec<&str> = match obj.get("required") {
            None => Vec::new(),
            Some(Value::Array(r)) => r
                .iter()
                .map(|v| {
                    v.as_str()
                        .ok_or_else(|| unsupported(pointer, "required entries must be strings"))
                })
                .collect::<Result<_, _>>()?,
            Some(_) => return Err(unsupported(pointer, "required must be a list")),
        };
        for r in &required {
            if !props.contains_key(*r) {
                return Err(unsupported(
                    pointer,
                    format!("required property `{r}` is not in properties"),
                ));
            }
        }
        // One `"key": value` rule per property, in schema order.
        let mut kvs = Vec::new();
        for (key, sub) in props {
            let value = self.schema(sub, &format!("{pointer}/properties/{key}"), key)?;
            let kv = self.rule(
                &format!("{key}-kv"),
                format!(
                    "{} \":\" ws {value}",
                    literal(&Value::String(key.clone()).to_string())
                ),
            );
            kvs.push((kv, required.contains(&key.as_str())));
        }
        // after(i): properties i.. when one was already written (each needs a leading comma);
        // first(i): properties i.. when none was written yet.
        let n = kvs.len();
        let mut after = vec![String::new(); n + 1];
        for i in (0..n).rev() {
            let (kv, req) = &kvs[i];
            let tail = &after[i + 1];
            after[i] = if *req {
                format!("\",\" ws {kv} {tail}")
            } else {
                format!("(\",\" ws {kv})? {tail}")
            };
        }
        let mut first = vec![String::new(); n + 1];
        for i in (0..n).rev() {
            let (kv, req) = &kvs[i];
            let rest = if after[i + 1].trim().is_empty() {
                String::new()
            } else {
                self.rule(&format!("{hint}-after"), after[i + 1].clone())
            };
            first[i] = if *req {
                format!("{kv} {rest}")
            } else if first[i + 1].trim().is_empty() {
                format!("({kv} {rest})?")
            } else {
                let next = self.rule(&format!("{hint}-first"), first[i + 1].clone());
                format!("({kv} {rest} | {next})")
            };
        }
        let body = format!("\"{{\" ws {} ws \"}}\"", first[0]);
        Ok(self.rule(hint, body))
    }
}

/// Checks `value` against `schema` (same subset as [`schema_to_gbnf`]); returns every problem found.
/// Use it on unconstrained output, or as a second check after constrained decoding (which can still
/// be cut off by `max_tokens`).
pub fn validate(schema: &Value, value: &Value) -> Vec<String> {
    let mut errors = Vec::new();
    check(schema, value, "", &mut errors);
    errors
}

fn type_matches(t: &str, value: &Value) -> bool {
    match t {
        "object" => value.is_object(),
        "array" => value.is_array(),
        "string" => value.is_string(),
        "number" => value.is_number(),
        "integer" => value.as_i64().is_some() || value.as_u64().is_some(),
        "boolean" => value.is_boolean(),
        "null" => value.is_null(),
        _ => false,
    }
}

/// The `anyOf` or `oneOf` of a schema, with its keyword.
fn union(obj: &Map<String, Value>) -> Option<(&'static str, &Value)> {
    ["anyOf", "oneOf"]
        .into_iter()
        .find_map(|keyword| obj.get(keyword).map(|branches| (keyword, branches)))
}

fn check(schema: &Value, value: &Value, at: &str, errors: &mut Vec<String>) {
    let Some(obj) = schema.as_object() else {
        return;
    };
    let here = if at.is_empty() { "/" } else { at };
    if let Some((keyword, branches)) = union(obj) {
        let branches = branches.as_array().map(Vec::as_slice).unwrap_or_default();
        let mut first_errors = None;
        let mut matched = 0;
        for branch in branches {
            let mut branch_errors = Vec::new();
            check(branch, value, at, &mut branch_errors);
            if branch_errors.is_empty() {
                matched += 1;
            } else if first_errors.is_none() {
                first_errors = Some(branch_errors);
            }
        }
        match (keyword, matched) {
            (_, 0) => errors.push(format!(
                "{here}: matches no alternative of {keyword} ({})",
                first_errors.unwrap_or_default().join("; ")
            )),
            ("oneOf", n) if n > 1 => {
                errors.push(format!("{here}: matches {n} alternatives of oneOf"))
            }
            _ => {}
        }
        return;
    }
    if let Some(values) = obj.get("enum").and_then(Value::as_array) {
        if !values.contains(value) {
            errors.push(format!(
                "{here}: {value} is not one of {}",
                Value::Array(values.clone())
            ));
        }
        return;
    }
    if let Some(c) = obj.get("const") {
        if c != value {
            errors.push(format!("{here}: expected {c}"));
        }
        return;
    }
    let types: Vec<&str> = match obj.get("type") {
        Some(Value::String(t)) => vec![t.as_str()],
        Some(Value::Array(ts)) => ts.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    };
    if !types.is_empty() && !types.iter().any(|t| type_matches(t, value)) {
        errors.push(format!(
            "{here}: expected {}, found {}",
            types.join(" or "),
            kind(value)
        ));
        return;
    }
    match value {
        Value::Object(map) => {
            if let Some(Value::Array(req)) = obj.get("required") {
                for r in req.iter().filter_map(Value::as_str) {
                    if !map.contains_key(r) {
                        errors.push(format!("{here}: missing required property `{r}`"));
                    }
                }
            }
            let props = obj.get("properties").and_then(Value::as_object);
            for (k, v) in map {
                match props.and_then(|p| p.get(k)) {
                    Some(sub) => check(sub, v, &format!("{at}/{k}"), errors),
                    None if obj.get("additionalProperties") == Some(&Value::Bool(false)) => {
                        errors.push(format!("{here}: unexpected property `{k}`"));
                    }
                    None => {}
                }
            }
        }
        Value::Array(items) => {
            let len = items.len() as u64;
            if let Some(min) = obj.get("minItems").and_then(Value::as_u64) {
                if len < min {
                    errors.push(format!("{here}: {len} items, fewer than minItems {min}"));
                }
            }
            if let Some(max) = obj.get("maxItems").and_then(Value::as_u64) {
                if len > max {
                    errors.push(format!("{here}: {len} items, more than maxItems {max}"));
                }
            }
            if let Some(sub) = obj.get("items") {
                for (i, v) in items.iter().enumerate() {
                    check(sub, v, &format!("{at}/{i}"), errors);
                }
            }
        }
        Value::String(s) => {
            if let Some(pattern) = obj.get("pattern") {
                match pattern.as_str().and_then(StartClass::parse) {
                    Some(class) if s.chars().next().is_some_and(|c| class.contains(c)) => {}
                    Some(_) => {
                        errors.push(format!("{here}: string does not match pattern {pattern}"))
                    }
                    None => errors.push(format!(
                        "{here}: pattern {pattern} is outside the supported subset"
                    )),
                }
            }
            let len = s.chars().count() as u64;
            if let Some(min) = obj.get("minLength").and_then(Value::as_u64) {
                if len < min {
                    errors.push(format!("{here}: string shorter than minLength {min}"));
                }
            }
            if let Some(max) = obj.get("maxLength").and_then(Value::as_u64) {
                if len > max {
                    errors.push(format!("{here}: string longer than maxLength {max}"));
                }
            }
        }
        _ => {}
    }
}

fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// Validate-and-repair for output produced without a grammar: strips markdown code fences and
/// surrounding prose, then parses the first balanced top-level JSON object. Returns `None` when
/// no object parses. (Only a repair of the wrapping, not of the JSON itself.)
pub fn extract_json_object(text: &str) -> Option<Value> {
    if let Ok(v) = serde_json::from_str::<Value>(text.trim()) {
        if v.is_object() {
            return Some(v);
        }
    }
    let bytes = text.as_bytes();
    let mut start = 0;
    while let Some(off) = text.get(start..).and_then(|t| t.find('{')) {
        let begin = start + off;
        let (mut depth, mut in_str, mut escaped) = (0usize, false, false);
        for (i, &b) in bytes.iter().enumerate().skip(begin) {
            if in_str {
                match (escaped, b) {
                    (true, _) => escaped = false,
                    (false, b'\\') => escaped = true,
                    (false, b'"') => in_str = false,
                    _ => {}
                }
                continue;
            }
            match b {
                b'"' => in_str = true,
                b'{' => depth += 1,
                b'}' => {
                    depth = depth.saturating_sub(1);
                    if depth == 0 {
                        if let Some(Ok(v)) = text.get(begin..=i).map(serde_json::from_str::<Value>)
                        {
                            return Some(v);
                        }
                        break;
                    }
                }
                _ => {}
            }
        }
        start = begin + 1;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn guide() -> Value {
        json!({"type":"object","properties":{"event_title":{"type":"string"},"summarize":{"type":"string"},"threat_level":{"type":"string","enum":["low","medium","high"]},"reason":{"type":"string"}},"required":["event_title","summarize","threat_level"]})
    }

    #[test]
    fn guide_schema_converts() {
        let g = schema_to_gbnf(&guide()).unwrap();
        assert!(g.starts_with("root ::= "), "{g}");
        assert!(g.contains(r#""\"threat_level\"""#), "{g}");
        assert!(
            g.contains(r#""\"low\"" | "\"medium\"" | "\"high\"""#),
            "{g}"
        );
        // reason is optional: appears inside `( ... )?`
        assert!(g.contains(r#"("," ws reason-kv"#), "{g}");
    }

    #[test]
    fn all_subset_types_convert() {
        let s = json!({"type":"object","properties":{
            "n":{"type":"number"},"i":{"type":"integer"},"b":{"type":"boolean"},
            "tags":{"type":"array","items":{"type":"string","maxLength":20},"minItems":1,"maxItems":3},
            "opt":{"type":["string","null"]},
            "nested":{"type":"object","properties":{"x":{"const":1}},"required":["x"]}
        }});
        let g = schema_to_gbnf(&s).unwrap();
        assert!(g.contains("char{0,20}"), "{g}");
        assert!(
            g.contains(r#"("," ws tags-item"#) || g.contains("{0,2}"),
            "{g}"
        );
    }

    #[test]
    fn unions_convert_and_validate() {
        let s = json!({"type":"object","properties":{
            "bucket":{"anyOf":[{"type":"string","maxLength":3},{"type":"null"}]},
            "one":{"oneOf":[{"type":"integer"},{"type":"number"}]}
        },"required":["bucket"]});
        let g = schema_to_gbnf(&s).unwrap();
        assert!(g.contains(" | null"), "{g}");
        assert!(validate(&s, &json!({"bucket":null})).is_empty());
        assert!(validate(&s, &json!({"bucket":"abc"})).is_empty());
        let long = validate(&s, &json!({"bucket":"abcd"}));
        assert!(
            long[0].contains("matches no alternative of anyOf"),
            "{long:?}"
        );
        assert!(long[0].contains("maxLength 3"), "{long:?}");
        // 1 is an integer and a number: two alternatives of a oneOf.
        assert_eq!(validate(&s, &json!({"bucket":null,"one":1})).len(), 1);
        assert!(validate(&s, &json!({"bucket":null,"one":1.5})).is_empty());
    }

    #[test]
    fn unsupported_keywords_are_errors() {
        for s in [
            json!({"allOf":[{"type":"string"}]}),
            json!({"anyOf":[{"type":"string"}],"maxLength":3}),
            json!({"type":"string","pattern":"a+"}),
            json!({"type":"string","format":"date"}),
            json!({"type":"object"}),
            json!({"$ref":"#/x"}),
        ] {
            let e = schema_to_gbnf(&s).unwrap_err();
            assert!(
                matches!(e, LocalModelError::UnsupportedSchema { .. }),
                "{e}"
            );
        }
        let e = schema_to_gbnf(
            &json!({"type":"object","properties":{"a":{"type":"string","format":"date"}}}),
        )
        .unwrap_err();
        assert!(e.to_string().contains("/properties/a"), "{e}");
    }

    #[test]
    fn start_class_pattern_converts_and_validates() {
        let s = json!({"type":"object","properties":{
            "summarize":{"type":"string","pattern":"^[가-힣]","minLength":2,"maxLength":10},
            "title":{"type":"string","pattern":"^[A-Z가-힣_]"},
            "note":{"anyOf":[{"type":"string","pattern":"^[가-힣]","maxLength":5},{"type":"null"}]}
        },"required":["summarize"]});
        let g = schema_to_gbnf(&s).unwrap();
        // The first character from the class, counted in the length bounds.
        assert!(g.contains(r#""\"" [\uAC00-\uD7A3] char{1,9} "\"""#), "{g}");
        assert!(g.contains(r#"[\x41-\x5A\uAC00-\uD7A3\x5F] char* "#), "{g}");
        assert!(g.contains(r#"[\uAC00-\uD7A3] char{0,4}"#), "{g}");
        assert!(validate(&s, &json!({"summarize":"사용자가 로그인"})).is_empty());
        assert!(validate(&s, &json!({"summarize":"한국", "title":"_x", "note":null})).is_empty());
        for bad in [
            json!({"summarize":"User 로그인"}),
            json!({"summarize":" 한국"}),
            json!({"summarize":"한국", "title":"x"}),
            json!({"summarize":"한국", "note":"note"}),
        ] {
            assert_eq!(validate(&s, &bad).len(), 1, "{bad}");
        }
        let why = validate(&s, &json!({"summarize":"ㄱ자"}));
        assert!(why[0].contains("does not match pattern"), "{why:?}");
    }

    #[test]
    fn other_patterns_are_unsupported() {
        for pattern in [
            "a+",
            "[가-힣]",
            "^[가-힣]+",
            "^[^가-힣]",
            "^[]",
            "^[\\d]",
            "^[z-a]",
            "^[a-]",
            "^[-a]",
            "^[\"]",
            "^[\n]",
            "^[가-힣]$",
        ] {
            let s = json!({"type":"string","pattern":pattern});
            let e = schema_to_gbnf(&s).unwrap_err();
            assert!(e.to_string().contains("only `^[CLASS]`"), "{pattern}: {e}");
            let why = validate(&s, &json!("한국"));
            assert!(
                why[0].contains("outside the supported subset"),
                "{pattern}: {why:?}"
            );
        }
        for s in [
            json!({"type":"string","pattern":"^[a]","maxLength":0}),
            json!({"type":"string","pattern":"^[a]","enum":["a"]}),
            json!({"type":"string","pattern":7}),
        ] {
            assert!(schema_to_gbnf(&s).is_err(), "{s}");
        }
    }

    #[test]
    fn validator_reports_problems() {
        let s = guide();
        assert!(validate(
            &s,
            &json!({"event_title":"t","summarize":"s","threat_level":"low"})
        )
        .is_empty());
        let errs = validate(&s, &json!({"event_title":"t","threat_level":"critical"}));
        assert_eq!(errs.len(), 2, "{errs:?}");
        assert!(!validate(&s, &json!([1])).is_empty());
    }

    #[test]
    fn extracts_json_from_fences_and_prose() {
        let v = extract_json_object("Sure! ```json\n{\"a\": \"}\", \"b\": {\"c\": 1}}\n``` done")
            .unwrap();
        assert_eq!(v, json!({"a":"}","b":{"c":1}}));
        assert!(extract_json_object("no json here {").is_none());
        assert_eq!(
            extract_json_object("{bad} {\"ok\":true}").unwrap(),
            json!({"ok":true})
        );
    }
}
