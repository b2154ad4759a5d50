//! JSONPath as Step Functions uses it: `$` (state data), `$$` (context object) and
//! `$name` (workflow variable) roots, field/index/wildcard/descent segments, plus
//! reference paths for `ResultPath`.

use serde_json::Value;

#[derive(Debug, Clone, PartialEq)]
pub enum Root {
    /// `$`: the state's data.
    Data,
    /// `$$`: the context object.
    Context,
    /// `$name`: a workflow variable.
    Variable(String),
}

#[derive(Debug, Clone, PartialEq)]
pub enum Segment {
    Field(String),
    Index(i64),
    Wildcard,
    Descent(String),
    Slice(Option<i64>, Option<i64>),
    Union(Vec<Segment>),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Path {
    pub text: String,
    pub root: Root,
    pub segments: Vec<Segment>,
}

/// Where a path's roots point.
pub struct Scope<'a> {
    pub data: &'a Value,
    pub context: &'a Value,
    pub variable: &'a dyn Fn(&str) -> Option<Value>,
}

impl Path {
    pub fn parse(text: &str) -> Result<Path, String> {
        let trimmed = text.trim();
        let chars: Vec<char> = trimmed.chars().collect();
        if chars.first() != Some(&'$') {
            return Err(format!(
                "'{text}' is not a JSONPath (it must start with '$')"
            ));
        }
        let mut pos = 1;
        let root = if chars.get(1) == Some(&'$') {
            pos = 2;
            Root::Context
        } else if chars
            .get(1)
            .is_some_and(|c| c.is_alphanumeric() || *c == '_')
        {
            let start = pos;
            while pos < chars.len() && (chars[pos].is_alphanumeric() || chars[pos] == '_') {
                pos += 1;
            }
            Root::Variable(chars[start..pos].iter().collect())
        } else {
            Root::Data
        };
        let mut segments = Vec::new();
        while pos < chars.len() {
            match chars[pos] {
                '.' => {
                    if chars.get(pos + 1) == Some(&'.') {
                        pos += 2;
                        let start = pos;
                        while pos < chars.len() && chars[pos] != '.' && chars[pos] != '[' {
                            pos += 1;
                        }
                        segments.push(Segment::Descent(chars[start..pos].iter().collect()));
                        continue;
                    }
                    pos += 1;
                    let start = pos;
                    while pos < chars.len() && chars[pos] != '.' && chars[pos] != '[' {
                        pos += 1;
                    }
                    let name: String = chars[start..pos].iter().collect();
                    if name.is_empty() {
                        return Err(format!("'{text}': empty field name"));
                    }
                    if name == "*" {
                        segments.push(Segment::Wildcard);
                    } else {
                        segments.push(Segment::Field(name));
                    }
                }
                '[' => {
                    let close = find_bracket_end(&chars, pos)
                        .ok_or_else(|| format!("'{text}': unclosed '['"))?;
                    let inner: String = chars[pos + 1..close].iter().collect();
                    segments.push(parse_bracket(inner.trim(), text)?);
                    pos = close + 1;
                }
                _ => return Err(format!("'{text}': unexpected character '{}'", chars[pos])),
            }
        }
        Ok(Path {
            text: text.to_string(),
            root,
            segments,
        })
    }

    /// A definite path yields one value; wildcards, slices, unions and descent yield a list.
    pub fn is_definite(&self) -> bool {
        self.segments
            .iter()
            .all(|s| matches!(s, Segment::Field(_) | Segment::Index(_)))
    }

    /// Evaluates the path; `None` when a definite path finds nothing.
    pub fn select(&self, scope: &Scope<'_>) -> Option<Value> {
        let owned;
        let root: &Value = match &self.root {
            Root::Data => scope.data,
            Root::Context => scope.context,
            Root::Variable(name) => {
                owned = (scope.variable)(name)?;
                &owned
            }
        };
        if self.is_definite() {
            let mut current = root;
            for segment in &self.segments {
                current = match segment {
                    Segment::Field(name) => current.as_object()?.get(name)?,
                    Segment::Index(i) => {
                        let array = current.as_array()?;
                        let index = if *i < 0 {
                            usize::try_from(i64::try_from(array.len()).ok()? + i).ok()?
                        } else {
                            usize::try_from(*i).ok()?
                        };
                        array.get(index)?
                    }
                    _ => return None,
                };
            }
            return Some(current.clone());
        }
        let mut current: Vec<&Value> = vec![root];
        for segment in &self.segments {
            let mut next = Vec::new();
            for value in current {
                apply_segment(segment, value, &mut next);
            }
            current = next;
        }
        Some(Value::Array(current.into_iter().cloned().collect()))
    }

    /// A reference path (`ResultPath`): `$`, fields and indices only.
    pub fn is_reference(&self) -> bool {
        self.root == Root::Data && self.is_definite()
    }

    /// Puts `value` at this reference path inside `target` (AWS's ResultPath semantics).
    pub fn put(&self, target: Value, value: Value) -> Result<Value, String> {
        if self.segments.is_empty() {
            return Ok(value);
        }
        let mut target = target;
        put_at(&mut target, &self.segments, value, &self.text)?;
        Ok(target)
    }
}

fn put_at(
    target: &mut Value,
    segments: &[Segment],
    value: Value,
    text: &str,
) -> Result<(), String> {
    let Some((first, rest)) = segments.split_first() else {
        *target = value;
        return Ok(());
    };
    match first {
        Segment::Field(name) => {
            let Value::Object(map) = target else {
                return Err(format!(
                    "Unable to apply ResultPath \"{text}\" to input {}",
                    compact(target)
                ));
            };
            if rest.is_empty() {
                map.insert(name.clone(), value);
                return Ok(());
            }
            let entry = map
                .entry(name.clone())
                .or_insert_with(|| Value::Object(serde_json::Map::new()));
            if !entry.is_object() && !entry.is_array() {
                *entry = Value::Object(serde_json::Map::new());
            }
            put_at(entry, rest, value, text)
        }
        Segment::Index(i) => {
            let Value::Array(array) = target else {
                return Err(format!(
                    "Unable to apply ResultPath \"{text}\" to input {}",
                    compact(target)
                ));
            };
            let index = usize::try_from(*i)
                .map_err(|_| format!("ResultPath \"{text}\": negative index"))?;
            let slot = array
                .get_mut(index)
                .ok_or_else(|| format!("ResultPath \"{text}\": index {index} is out of range"))?;
            put_at(slot, rest, value, text)
        }
        _ => Err(format!("ResultPath \"{text}\" is not a reference path")),
    }
}

fn apply_segment<'v>(segment: &Segment, value: &'v Value, out: &mut Vec<&'v Value>) {
    match segment {
        Segment::Field(name) => {
            if let Some(v) = value.as_object().and_then(|m| m.get(name)) {
                out.push(v);
            }
        }
        Segment::Index(i) => {
            if let Some(array) = value.as_array() {
                let len = i64::try_from(array.len()).unwrap_or(i64::MAX);
                let index = if *i < 0 { len + i } else { *i };
                if let Some(v) = usize::try_from(index).ok().and_then(|x| array.get(x)) {
                    out.push(v);
                }
            }
        }
        Segment::Wildcard => match value {
            Value::Array(a) => out.extend(a.iter()),
            Value::Object(m) => out.extend(m.values()),
            _ => {}
        },
        Segment::Descent(name) => descend(name, value, out),
        Segment::Slice(start, end) => {
            if let Some(array) = value.as_array() {
                let len = i64::try_from(array.len()).unwrap_or(i64::MAX);
                let norm = |x: i64| if x < 0 { (len + x).max(0) } else { x.min(len) };
                let s = start.map(norm).unwrap_or(0);
                let e = end.map(norm).unwrap_or(len);
                let mut k = s;
                while k < e {
                    if let Some(v) = usize::try_from(k).ok().and_then(|x| array.get(x)) {
                        out.push(v);
                    }
                    k += 1;
                }
            }
        }
        Segment::Union(parts) => {
            for part in parts {
                apply_segment(part, value, out);
            }
        }
    }
}

fn descend<'v>(name: &str, value: &'v Value, out: &mut Vec<&'v Value>) {
    match value {
        Value::Object(map) => {
            if name == "*" {
                out.extend(map.values());
            } else if let Some(v) = map.get(name) {
                out.push(v);
            }
            for child in map.values() {
                descend(name, child, out);
            }
        }
        Value::Array(array) => {
            for child in array {
                descend(name, child, out);
            }
        }
        _ => {}
    }
}

fn find_bracket_end(chars: &[char], open: usize) -> Option<usize> {
    let mut quote: Option<char> = None;
    let mut pos = open + 1;
    while pos < chars.len() {
        let c = chars[pos];
        match quote {
            Some(q) if c == q => quote = None,
            Some(_) => {}
            None if c == '\'' || c == '"' => quote = Some(c),
            None if c == ']' => return Some(pos),
            None => {}
        }
        pos += 1;
    }
    None
}

fn parse_bracket(inner: &str, text: &str) -> Result<Segment, String> {
    if inner == "*" {
        return Ok(Segment::Wildcard);
    }
    if inner.starts_with('?') {
        return Err(format!("'{text}': filter expressions are not supported"));
    }
    if inner.contains(',') && !inner.starts_with('\'') && !inner.starts_with('"') {
        let parts = inner
            .split(',')
            .map(|p| parse_bracket(p.trim(), text))
            .collect::<Result<Vec<_>, _>>()?;
        return Ok(Segment::Union(parts));
    }
    if (inner.starts_with('\'') && inner.ends_with('\'') && inner.len() >= 2)
        || (inner.starts_with('"') && inner.ends_with('"') && inner.len() >= 2)
    {
        return Ok(Segment::Field(inner[1..inner.len() - 1].to_string()));
    }
    if let Some((a, b)) = inner.split_once(':') {
        let parse = |s: &str| -> Result<Option<i64>, String> {
            let s = s.trim();
            if s.is_empty() {
                Ok(None)
            } else {
                s.parse::<i64>()
                    .map(Some)
                    .map_err(|_| format!("'{text}': bad slice bound '{s}'"))
            }
        };
        return Ok(Segment::Slice(parse(a)?, parse(b)?));
    }
    inner
        .parse::<i64>()
        .map(Segment::Index)
        .map_err(|_| format!("'{text}': unsupported bracket expression '[{inner}]'"))
}

/// JSON text without spaces, as AWS prints values in messages.
pub fn compact(value: &Value) -> String {
    serde_json::to_string(value).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn select(path: &str, data: &Value) -> Option<Value> {
        let none = |_: &str| None;
        Path::parse(path).unwrap().select(&Scope {
            data,
            context: &Value::Null,
            variable: &none,
        })
    }

    #[test]
    fn selects_fields_indices_and_wildcards() {
        let data = json!({"a": {"b": [1, 2, {"c": 3}]}, "x y": 5});
        assert_eq!(select("$.a.b[1]", &data), Some(json!(2)));
        assert_eq!(select("$.a.b[-1].c", &data), Some(json!(3)));
        assert_eq!(select("$['x y']", &data), Some(json!(5)));
        assert_eq!(select("$.a.b[*]", &data), Some(json!([1, 2, {"c": 3}])));
        assert_eq!(select("$..c", &data), Some(json!([3])));
        assert_eq!(select("$.missing", &data), None);
        assert_eq!(select("$", &data), Some(data.clone()));
    }

    #[test]
    fn puts_at_reference_paths() {
        let path = Path::parse("$.a.b").unwrap();
        assert_eq!(
            path.put(json!({"x": 1}), json!(2)).unwrap(),
            json!({"x": 1, "a": {"b": 2}})
        );
        assert!(path.put(json!(3), json!(2)).is_err());
    }
}
