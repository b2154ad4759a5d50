//! Compiling a rule's `detection:` block and evaluating it against a [`Document`].

use crate::condition::{self, Cond, CondError};
use crate::document::{is_missing_or_null, Document, FieldValue};
use crate::error::UnsupportedReason;
use crate::matcher::{
    base64_encode, base64_offsets, number_text, Anchor, Cidr, StackText, StrMatcher,
};
use serde_yaml_ng::Value as Yaml;

/// Most selections a rule may have (the matched set is a `u64` bit mask).
pub(crate) const MAX_SELECTIONS: usize = 64;

#[derive(Debug, Clone, Copy, PartialEq)]
enum CmpOp {
    Gt,
    Gte,
    Lt,
    Lte,
}

/// A test applied to each value found at a field.
#[derive(Debug, Clone)]
enum ValueTest {
    /// String-like comparison; numbers and booleans are compared through their text form.
    Str(StrMatcher),
    /// Numeric equality: numbers, and strings that parse to the same number.
    Num(f64),
    /// Boolean equality: booleans, and the strings `true`/`false` in any case.
    Bool(bool),
    Cmp(CmpOp, f64),
    Cidr(Cidr),
}

/// A test on the field as a whole rather than per value.
#[derive(Debug, Clone)]
enum FieldTestKind {
    /// `field: null`: missing or null.
    Null,
    /// `|exists`: true when some non-null value is present.
    Exists(bool),
    /// `|fieldref`: compares with the values of another field.
    FieldRef {
        other: Box<str>,
        anchor: Anchor,
        cased: bool,
    },
}

#[derive(Debug, Clone)]
pub(crate) struct FieldTest {
    pub(crate) path: Box<str>,
    values: Vec<ValueTest>,
    whole: Vec<FieldTestKind>,
    all: bool,
}

/// A named selection: OR over alternatives, each an AND of field tests.
#[derive(Debug, Clone)]
pub(crate) struct Selection {
    pub(crate) name: String,
    pub(crate) alternatives: Vec<Vec<FieldTest>>,
}

#[derive(Debug, Clone)]
pub(crate) struct Detection {
    pub(crate) selections: Vec<Selection>,
    pub(crate) condition: Cond,
}

fn yaml_scalar_text(value: &Yaml) -> Option<String> {
    match value {
        Yaml::String(s) => Some(s.clone()),
        Yaml::Number(n) => Some(n.to_string()),
        Yaml::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

fn key_text(key: &Yaml) -> Option<String> {
    yaml_scalar_text(key)
}

pub(crate) fn compile(detection: &Yaml) -> Result<Detection, UnsupportedReason> {
    let Yaml::Mapping(map) = detection else {
        return Err(UnsupportedReason::Invalid(
            "`detection` is not a mapping".into(),
        ));
    };
    let mut names = Vec::new();
    let mut raw_selections = Vec::new();
    let mut condition_values: Option<&Yaml> = None;
    for (key, value) in map {
        let Some(name) = key_text(key) else {
            return Err(UnsupportedReason::Invalid(
                "non-string key in `detection`".into(),
            ));
        };
        match name.as_str() {
            "condition" => condition_values = Some(value),
            "timeframe" => {
                return Err(UnsupportedReason::Aggregation(
                    "`timeframe` in detection (Sigma v1 aggregation; write a correlation rule)"
                        .into(),
                ))
            }
            _ => {
                names.push(name);
                raw_selections.push(value);
            }
        }
    }
    if names.len() > MAX_SELECTIONS {
        return Err(UnsupportedReason::Invalid(format!(
            "more than {MAX_SELECTIONS} selections"
        )));
    }
    let condition_text = match condition_values {
        None => {
            return Err(UnsupportedReason::Invalid(
                "`detection.condition` is missing".into(),
            ))
        }
        Some(Yaml::String(s)) => vec![s.clone()],
        Some(Yaml::Sequence(items)) => items
            .iter()
            .map(|i| match i {
                Yaml::String(s) => Ok(s.clone()),
                _ => Err(UnsupportedReason::Invalid(
                    "condition list item is not a string".into(),
                )),
            })
            .collect::<Result<_, _>>()?,
        Some(_) => {
            return Err(UnsupportedReason::Invalid(
                "`condition` is not a string".into(),
            ))
        }
    };
    let mut conds = Vec::new();
    for text in &condition_text {
        conds.push(condition::parse(text, &names).map_err(|e| match e {
            CondError::Aggregation => UnsupportedReason::Aggregation(format!(
                "aggregation in condition `{text}` (Sigma v1; write a correlation rule)"
            )),
            CondError::Invalid(why) => UnsupportedReason::Condition {
                condition: text.clone(),
                why,
            },
        })?);
    }
    // A list of conditions means any of them.
    let condition = if conds.len() == 1 {
        conds.remove(0)
    } else {
        Cond::Or(conds)
    };
    let selections = names
        .into_iter()
        .zip(raw_selections)
        .map(|(name, value)| {
            compile_selection(&name, value).map(|alternatives| Selection { name, alternatives })
        })
        .collect::<Result<_, _>>()?;
    Ok(Detection {
        selections,
        condition,
    })
}

fn compile_selection(name: &str, value: &Yaml) -> Result<Vec<Vec<FieldTest>>, UnsupportedReason> {
    match value {
        Yaml::Mapping(map) => Ok(vec![compile_map(name, map)?]),
        Yaml::Sequence(items)
            if !items.is_empty() && items.iter().all(|i| matches!(i, Yaml::Mapping(_))) =>
        {
            items
                .iter()
                .map(|item| match item {
                    Yaml::Mapping(map) => compile_map(name, map),
                    _ => Err(UnsupportedReason::Invalid(format!(
                        "selection `{name}` mixes maps and values"
                    ))),
                })
                .collect()
        }
        Yaml::Sequence(items) if items.iter().any(|i| matches!(i, Yaml::Mapping(_))) => Err(
            UnsupportedReason::Invalid(format!("selection `{name}` mixes maps and values")),
        ),
        _ => Err(UnsupportedReason::Keywords {
            selection: name.to_owned(),
        }),
    }
}

fn compile_map(
    selection: &str,
    map: &serde_yaml_ng::Mapping,
) -> Result<Vec<FieldTest>, UnsupportedReason> {
    if map.is_empty() {
        return Err(UnsupportedReason::Invalid(format!(
            "selection `{selection}` is empty"
        )));
    }
    map.iter()
        .map(|(key, value)| {
            let key = key_text(key).ok_or_else(|| {
                UnsupportedReason::Invalid(format!(
                    "selection `{selection}` has a non-string field name"
                ))
            })?;
            compile_field(selection, &key, value)
        })
        .collect()
}

#[derive(Default)]
struct Modifiers {
    anchor: Option<Anchor>,
    all: bool,
    re: bool,
    re_flags: String,
    cidr: bool,
    exists: bool,
    cmp: Option<CmpOp>,
    cased: bool,
    base64: bool,
    base64offset: bool,
    fieldref: bool,
}

fn parse_modifiers(
    selection: &str,
    field: &str,
    names: &[&str],
) -> Result<Modifiers, UnsupportedReason> {
    let mut m = Modifiers::default();
    let unknown = |modifier: &str| UnsupportedReason::UnknownModifier {
        selection: selection.to_owned(),
        field: field.to_owned(),
        modifier: modifier.to_owned(),
    };
    for &name in names {
        match name {
            "contains" => m.anchor = Some(Anchor::Contains),
            "startswith" => m.anchor = Some(Anchor::StartsWith),
            "endswith" => m.anchor = Some(Anchor::EndsWith),
            "all" => m.all = true,
            "re" => m.re = true,
            "i" | "ignorecase" => m.re_flags.push('i'),
            "m" | "multiline" => m.re_flags.push('m'),
            "s" | "dotall" => m.re_flags.push('s'),
            "cidr" => m.cidr = true,
            "exists" => m.exists = true,
            "gt" => m.cmp = Some(CmpOp::Gt),
            "gte" => m.cmp = Some(CmpOp::Gte),
            "lt" => m.cmp = Some(CmpOp::Lt),
            "lte" => m.cmp = Some(CmpOp::Lte),
            "cased" => m.cased = true,
            "base64" => m.base64 = true,
            "base64offset" => m.base64offset = true,
            "fieldref" => m.fieldref = true,
            "expand" => {
                return Err(UnsupportedReason::Placeholder {
                    selection: selection.to_owned(),
                    field: field.to_owned(),
                })
            }
            "windash" | "wide" | "utf16" | "utf16le" | "utf16be" => {
                return Err(UnsupportedReason::UnsupportedModifier {
                    selection: selection.to_owned(),
                    field: field.to_owned(),
                    modifier: name.to_owned(),
                })
            }
            other => return Err(unknown(other)),
        }
    }
    if !m.re_flags.is_empty() && !m.re {
        return Err(unknown(&format!("{} without re", m.re_flags)));
    }
    let exclusive = [
        m.re,
        m.cidr,
        m.exists,
        m.cmp.is_some(),
        m.fieldref && m.anchor.is_none(),
        m.base64 || m.base64offset,
    ]
    .iter()
    .filter(|x| **x)
    .count();
    if exclusive > 1 || (m.anchor.is_some() && (m.re || m.cidr || m.exists || m.cmp.is_some())) {
        return Err(UnsupportedReason::Invalid(format!(
            "field `{field}` in `{selection}` combines incompatible modifiers {names:?}"
        )));
    }
    Ok(m)
}

fn compile_field(selection: &str, key: &str, value: &Yaml) -> Result<FieldTest, UnsupportedReason> {
    let mut parts = key.split('|');
    let path = parts.next().unwrap_or_default().trim();
    let modifier_names: Vec<&str> = parts.map(str::trim).collect();
    let lowered: Vec<String> = modifier_names
        .iter()
        .map(|m| m.to_ascii_lowercase())
        .collect();
    let lowered: Vec<&str> = lowered.iter().map(String::as_str).collect();
    if path.is_empty() {
        return Err(UnsupportedReason::Keywords {
            selection: selection.to_owned(),
        });
    }
    let m = parse_modifiers(selection, path, &lowered)?;
    let invalid = |why: String| UnsupportedReason::InvalidValue {
        selection: selection.to_owned(),
        field: path.to_owned(),
        why,
    };
    let values: Vec<&Yaml> = match value {
        Yaml::Sequence(items) => items.iter().collect(),
        other => vec![other],
    };
    if values.is_empty() {
        return Err(invalid("empty value list".into()));
    }
    let mut test = FieldTest {
        path: path.into(),
        values: Vec::new(),
        whole: Vec::new(),
        all: m.all,
    };
    for value in values {
        if matches!(
            value,
            Yaml::Mapping(_) | Yaml::Sequence(_) | Yaml::Tagged(_)
        ) {
            return Err(invalid("value is not a scalar".into()));
        }
        if m.exists {
            let Yaml::Bool(b) = value else {
                return Err(invalid("`exists` needs true or false".into()));
            };
            test.whole.push(FieldTestKind::Exists(*b));
            continue;
        }
        if let Yaml::Null = value {
            if m.anchor.is_some()
                || m.re
                || m.cidr
                || m.cmp.is_some()
                || m.fieldref
                || m.base64
                || m.base64offset
            {
                return Err(invalid("null with a value modifier".into()));
            }
            test.whole.push(FieldTestKind::Null);
            continue;
        }
        if let Some(op) = m.cmp {
            let n = match value {
                Yaml::Number(n) => n.as_f64(),
                Yaml::String(s) => s.trim().parse::<f64>().ok(),
                _ => None,
            }
            .ok_or_else(|| invalid("comparison needs a number".into()))?;
            test.values.push(ValueTest::Cmp(op, n));
            continue;
        }
        let Some(text) = yaml_scalar_text(value) else {
            return Err(invalid("unsupported value type".into()));
        };
        if m.fieldref {
            test.whole.push(FieldTestKind::FieldRef {
                other: text.into(),
                anchor: m.anchor.unwrap_or(Anchor::Whole),
                cased: m.cased,
            });
        } else if m.re {
            let flags = if m.re_flags.is_empty() {
                String::new()
            } else {
                format!("(?{})", m.re_flags)
            };
            let re = regex::RegexBuilder::new(&format!("{flags}{text}"))
                .size_limit(1 << 20)
                .build()
                .map_err(|e| UnsupportedReason::Regex {
                    selection: selection.to_owned(),
                    field: path.to_owned(),
                    why: e.to_string(),
                })?;
            test.values.push(ValueTest::Str(StrMatcher::regex(re)));
        } else if m.cidr {
            let net = Cidr::parse(&text)
                .ok_or_else(|| invalid(format!("`{text}` is not a CIDR network")))?;
            test.values.push(ValueTest::Cidr(net));
        } else if m.base64 {
            // Encoded text is compared as is: base64 is case-sensitive.
            let anchor = m.anchor.unwrap_or(Anchor::Whole);
            test.values.push(ValueTest::Str(StrMatcher::literal(
                &base64_encode(text.as_bytes()),
                anchor,
                true,
            )));
        } else if m.base64offset {
            let anchor = m.anchor.unwrap_or(Anchor::Contains);
            for encoded in base64_offsets(&text) {
                test.values
                    .push(ValueTest::Str(StrMatcher::literal(&encoded, anchor, true)));
            }
        } else {
            match (value, m.anchor) {
                (Yaml::Number(n), None) => match n.as_f64() {
                    Some(f) => test.values.push(ValueTest::Num(f)),
                    None => return Err(invalid("number out of range".into())),
                },
                (Yaml::Bool(b), None) => test.values.push(ValueTest::Bool(*b)),
                (_, anchor) => test.values.push(ValueTest::Str(StrMatcher::sigma(
                    &text,
                    anchor.unwrap_or(Anchor::Whole),
                    m.cased,
                ))),
            }
        }
    }
    if m.base64offset && m.all {
        return Err(invalid("`base64offset|all` is not supported".into()));
    }
    Ok(test)
}

impl ValueTest {
    fn matches(&self, value: FieldValue<'_>, buf: &mut StackText) -> bool {
        match (self, value) {
            (_, FieldValue::Null) => false,
            (ValueTest::Str(m), FieldValue::Str(s) | FieldValue::Json(s)) => m.is_match(s),
            (ValueTest::Str(m), FieldValue::Number(n)) => m.is_match(number_text(n, buf)),
            (ValueTest::Str(m), FieldValue::Bool(b)) => {
                m.is_match(if b { "true" } else { "false" })
            }
            (ValueTest::Num(want), FieldValue::Number(n)) => n == *want,
            (ValueTest::Num(want), FieldValue::Str(s)) => {
                s.trim().parse::<f64>().is_ok_and(|n| n == *want)
            }
            (ValueTest::Bool(want), FieldValue::Bool(b)) => b == *want,
            (ValueTest::Bool(want), FieldValue::Str(s)) => {
                s.eq_ignore_ascii_case(if *want { "true" } else { "false" })
            }
            (ValueTest::Cmp(op, want), FieldValue::Number(n)) => compare(*op, n, *want),
            (ValueTest::Cmp(op, want), FieldValue::Str(s)) => s
                .trim()
                .parse::<f64>()
                .is_ok_and(|n| compare(*op, n, *want)),
            (ValueTest::Cidr(net), FieldValue::Str(s)) => net.contains(s),
            _ => false,
        }
    }
}

fn compare(op: CmpOp, n: f64, want: f64) -> bool {
    match op {
        CmpOp::Gt => n > want,
        CmpOp::Gte => n >= want,
        CmpOp::Lt => n < want,
        CmpOp::Lte => n <= want,
    }
}

fn value_text<'a>(value: FieldValue<'a>, buf: &'a mut StackText) -> Option<&'a str> {
    match value {
        FieldValue::Null => None,
        FieldValue::Bool(b) => Some(if b { "true" } else { "false" }),
        FieldValue::Number(n) => Some(number_text(n, buf)),
        FieldValue::Str(s) | FieldValue::Json(s) => Some(s),
    }
}

fn text_compare(left: &str, right: &str, anchor: Anchor, cased: bool) -> bool {
    if cased {
        return match anchor {
            Anchor::Whole => left == right,
            Anchor::Contains => left.contains(right),
            Anchor::StartsWith => left.starts_with(right),
            Anchor::EndsWith => left.ends_with(right),
        };
    }
    if left.is_ascii() && right.is_ascii() {
        let (l, r) = (left.as_bytes(), right.as_bytes());
        return match anchor {
            Anchor::Whole => l.eq_ignore_ascii_case(r),
            Anchor::Contains => {
                let lower: Vec<u8> = r.to_ascii_lowercase();
                crate::matcher::contains_bytes(l, &lower, true)
            }
            Anchor::StartsWith => l.len() >= r.len() && l[..r.len()].eq_ignore_ascii_case(r),
            Anchor::EndsWith => {
                l.len() >= r.len() && l[l.len() - r.len()..].eq_ignore_ascii_case(r)
            }
        };
    }
    text_compare(
        &crate::matcher::fold_case(left),
        &crate::matcher::fold_case(right),
        anchor,
        true,
    )
}

impl FieldTest {
    fn eval<D: Document + ?Sized>(&self, doc: &D) -> bool {
        let path: &str = &self.path;
        let mut buf = StackText::new();
        if self.all {
            self.values
                .iter()
                .all(|t| doc.visit_field(path, &mut |v| t.matches(v, &mut buf)))
                && self.whole.iter().all(|w| eval_whole(w, path, doc))
        } else {
            (!self.values.is_empty()
                && doc.visit_field(path, &mut |v| {
                    self.values.iter().any(|t| t.matches(v, &mut buf))
                }))
                || self.whole.iter().any(|w| eval_whole(w, path, doc))
        }
    }

    /// The lowercased literals of a plain equality test on this field, if that is all it is.
    pub(crate) fn exact_literals(&self) -> Option<Vec<String>> {
        if self.all || !self.whole.is_empty() || self.values.is_empty() {
            return None;
        }
        self.values
            .iter()
            .map(|t| match t {
                ValueTest::Str(m) => m.exact_literal().map(crate::matcher::fold_case),
                _ => None,
            })
            .collect()
    }
}

fn eval_whole<D: Document + ?Sized>(test: &FieldTestKind, path: &str, doc: &D) -> bool {
    match test {
        FieldTestKind::Null => is_missing_or_null(doc, path),
        FieldTestKind::Exists(want) => is_missing_or_null(doc, path) != *want,
        FieldTestKind::FieldRef {
            other,
            anchor,
            cased,
        } => {
            let mut left_buf = StackText::new();
            doc.visit_field(path, &mut |left| {
                let Some(left) = value_text(left, &mut left_buf) else {
                    return false;
                };
                let mut right_buf = StackText::new();
                doc.visit_field(other, &mut |right| {
                    value_text(right, &mut right_buf)
                        .is_some_and(|r| text_compare(left, r, *anchor, *cased))
                })
            })
        }
    }
}

/// Bit set of selections, indexed like `Detection::selections`.
pub(crate) type SelMask = u64;

impl Detection {
    /// Evaluates the condition; on a match returns the selections that were evaluated true.
    pub(crate) fn eval<D: Document + ?Sized>(&self, doc: &D) -> Option<SelMask> {
        let mut done: SelMask = 0;
        let mut truth: SelMask = 0;
        self.eval_cond(&self.condition, doc, &mut done, &mut truth)
            .then_some(truth)
    }

    fn eval_cond<D: Document + ?Sized>(
        &self,
        cond: &Cond,
        doc: &D,
        done: &mut SelMask,
        truth: &mut SelMask,
    ) -> bool {
        match cond {
            Cond::Sel(i) => {
                let bit = 1u64 << i;
                if *done & bit == 0 {
                    *done |= bit;
                    let hit = self.selections[*i]
                        .alternatives
                        .iter()
                        .any(|tests| tests.iter().all(|t| t.eval(doc)));
                    if hit {
                        *truth |= bit;
                    }
                }
                *truth & bit != 0
            }
            Cond::Not(inner) => !self.eval_cond(inner, doc, done, truth),
            Cond::And(parts) => parts.iter().all(|p| self.eval_cond(p, doc, done, truth)),
            Cond::Or(parts) => parts.iter().any(|p| self.eval_cond(p, doc, done, truth)),
        }
    }

    /// Every field path the detection reads (including `|fieldref` targets).
    pub(crate) fn fields<'a>(&'a self, out: &mut std::collections::BTreeSet<&'a str>) {
        for test in self
            .selections
            .iter()
            .flat_map(|s| s.alternatives.iter().flatten())
        {
            out.insert(&test.path);
            for whole in &test.whole {
                if let FieldTestKind::FieldRef { other, .. } = whole {
                    out.insert(other);
                }
            }
        }
    }

    /// Literal values the key field must take for the rule to match, if the condition implies one.
    pub(crate) fn required_values(&self, key_field: &str) -> Option<Vec<String>> {
        self.required_in(&self.condition, key_field)
    }

    fn required_in(&self, cond: &Cond, key_field: &str) -> Option<Vec<String>> {
        match cond {
            Cond::Sel(i) => {
                let mut all = Vec::new();
                for alternative in &self.selections[*i].alternatives {
                    let literals = alternative
                        .iter()
                        .filter(|t| &*t.path == key_field)
                        .find_map(FieldTest::exact_literals)?;
                    all.extend(literals);
                }
                Some(all)
            }
            Cond::Not(_) => None,
            Cond::And(parts) => parts
                .iter()
                .filter_map(|p| self.required_in(p, key_field))
                .min_by_key(Vec::len),
            Cond::Or(parts) => {
                let mut all = Vec::new();
                for p in parts {
                    all.extend(self.required_in(p, key_field)?);
                }
                Some(all)
            }
        }
    }
}

/// Every loaded SigmaHQ rule matches an event generated from its own detection (its own file:
/// it needs the whole rule set, which depends on this module).
#[cfg(test)]
mod synthetic_tests;
