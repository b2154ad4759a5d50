//! The view of an event the engine evaluates: anything that can list the values at a dotted path.

/// One scalar value found at a field path.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum FieldValue<'a> {
    /// An explicit JSON `null`.
    Null,
    Bool(bool),
    Number(f64),
    Str(&'a str),
    /// An object (or array) reached at the end of the path, as JSON text. String modifiers
    /// (`contains`, ...) match against this text, as a SIEM indexing the raw field would.
    Json(&'a str),
}

/// An event the rules are evaluated against.
///
/// Implement it on borrowed, typed records so that matching never builds an owned map per event.
pub trait Document {
    /// Calls `visit` for each value at the dotted `path` (arrays anywhere along the path are
    /// flattened: every element is visited). Stops as soon as `visit` returns true and then
    /// returns true; returns false otherwise. A missing field visits nothing.
    fn visit_field(&self, path: &str, visit: &mut dyn FnMut(FieldValue<'_>) -> bool) -> bool;
}

impl<T: Document + ?Sized> Document for &T {
    fn visit_field(&self, path: &str, visit: &mut dyn FnMut(FieldValue<'_>) -> bool) -> bool {
        (**self).visit_field(path, visit)
    }
}

impl Document for serde_json::Value {
    fn visit_field(&self, path: &str, visit: &mut dyn FnMut(FieldValue<'_>) -> bool) -> bool {
        visit_json(self, path, visit, 0)
    }
}

impl Document for serde_json::Map<String, serde_json::Value> {
    fn visit_field(&self, path: &str, visit: &mut dyn FnMut(FieldValue<'_>) -> bool) -> bool {
        visit_object(self, path, visit, 0)
    }
}

/// Nesting depth followed at most (serde_json's parser stops at 128 anyway; this guards values
/// built in code).
const MAX_DEPTH: usize = 128;

fn visit_json(
    value: &serde_json::Value,
    path: &str,
    visit: &mut dyn FnMut(FieldValue<'_>) -> bool,
    depth: usize,
) -> bool {
    use serde_json::Value;
    if depth > MAX_DEPTH {
        return false;
    }
    match value {
        Value::Array(items) => items
            .iter()
            .any(|item| visit_json(item, path, visit, depth + 1)),
        Value::Object(map) if !path.is_empty() => visit_object(map, path, visit, depth + 1),
        _ if !path.is_empty() => false,
        Value::Null => visit(FieldValue::Null),
        Value::Bool(b) => visit(FieldValue::Bool(*b)),
        Value::Number(n) => n.as_f64().is_some_and(|f| visit(FieldValue::Number(f))),
        Value::String(s) => visit(FieldValue::Str(s)),
        // Slow path: only rules that point string modifiers at a whole object get here.
        Value::Object(_) => visit(FieldValue::Json(&value.to_string())),
    }
}

/// A key holding a literal dot (`"a.b": 1`) takes precedence over nesting; otherwise every split
/// point is tried in order.
fn visit_object(
    map: &serde_json::Map<String, serde_json::Value>,
    path: &str,
    visit: &mut dyn FnMut(FieldValue<'_>) -> bool,
    depth: usize,
) -> bool {
    if let Some(value) = map.get(path) {
        return visit_json(value, "", visit, depth);
    }
    for (dot, _) in path.match_indices('.') {
        if let Some(value) = map.get(&path[..dot]) {
            if visit_json(value, &path[dot + 1..], visit, depth) {
                return true;
            }
        }
    }
    false
}

/// True when the field has no value or only `null` values.
pub(crate) fn is_missing_or_null<D: Document + ?Sized>(doc: &D, path: &str) -> bool {
    !doc.visit_field(path, &mut |v| !matches!(v, FieldValue::Null))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn collect(doc: &serde_json::Value, path: &str) -> Vec<String> {
        let mut out = Vec::new();
        doc.visit_field(path, &mut |v| {
            out.push(format!("{v:?}"));
            false
        });
        out
    }

    #[test]
    fn nested_arrays_and_dotted_keys() {
        let doc = json!({
            "a": {"b": [{"c": "x"}, {"c": ["y", 2]}, {"d": 1}]},
            "k.l": true,
            "k": {"l": false},
            "n": null,
            "o": {"p": 1}
        });
        assert_eq!(
            collect(&doc, "a.b.c"),
            ["Str(\"x\")", "Str(\"y\")", "Number(2.0)"]
        );
        assert_eq!(collect(&doc, "k.l"), ["Bool(true)"]);
        assert_eq!(collect(&doc, "n"), ["Null"]);
        assert_eq!(collect(&doc, "o"), ["Json(\"{\\\"p\\\":1}\")"]);
        assert!(collect(&doc, "a.b.zz").is_empty());
        assert!(collect(&doc, "n.x").is_empty());
        assert!(is_missing_or_null(&doc, "n"));
        assert!(is_missing_or_null(&doc, "zz"));
        assert!(!is_missing_or_null(&doc, "o.p"));
    }

    #[test]
    fn deep_arrays_stop_at_the_depth_limit() {
        let mut deep = json!("x");
        for _ in 0..10_000 {
            deep = serde_json::Value::Array(vec![deep]);
        }
        let mut map = serde_json::Map::new();
        map.insert("a".into(), deep);
        let doc = serde_json::Value::Object(map);
        assert!(collect(&doc, "a").is_empty());
        // Dropping a 10,000-deep Value recursively would overflow the test thread's stack.
        std::mem::forget(doc);
    }

    #[test]
    fn visit_stops_early() {
        let doc = json!({"a": ["1", "2", "3"]});
        let mut seen = 0;
        let found = doc.visit_field("a", &mut |v| {
            seen += 1;
            v == FieldValue::Str("2")
        });
        assert!(found);
        assert_eq!(seen, 2);
    }
}
