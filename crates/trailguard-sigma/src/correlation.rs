//! Sigma v2 correlation rules (`event_count`, `value_count`, `temporal`): parsing them from
//! YAML and resolving the rules they reference. The streaming step that runs them is
//! [`crate::Correlator`].

use crate::error::UnsupportedReason;
use crate::rule::{get_str, get_str_list, Rule, RuleMeta};
use crate::time::parse_timespan_ms;
use serde_yaml_ng::Value as Yaml;

/// Largest threshold accepted: a group's window holds at most this many entries.
pub const MAX_THRESHOLD: u64 = 100_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CorrelationKind {
    /// At least N matching events per group within the timespan.
    EventCount,
    /// At least N distinct values of a field per group within the timespan.
    ValueCount,
    /// Every referenced rule matched for the group within the timespan (any order).
    Temporal,
}

/// A loaded correlation rule.
#[derive(Debug, Clone)]
pub struct CorrelationRule {
    pub meta: RuleMeta,
    pub kind: CorrelationKind,
    /// The `rules:` references as written (ids or names).
    pub rule_refs: Vec<String>,
    /// Positions of the referenced rules in [`crate::RuleSet::rules`].
    pub rules: Vec<usize>,
    pub group_by: Vec<String>,
    pub timespan_ms: i64,
    /// Fires when the count reaches this value (`gte: N` → N, `gt: N` → N+1, `eq: N` → N).
    pub threshold: u64,
    /// `value_count`: the field whose distinct values are counted.
    pub value_field: Option<String>,
    /// `generate: true`: the referenced rules also alert on their own.
    pub generate: bool,
}

impl CorrelationRule {
    /// Whether base rule `rule_index` feeds this correlation.
    pub fn uses_rule(&self, rule_index: usize) -> bool {
        self.rules.contains(&rule_index)
    }
}

#[derive(Debug)]
pub(crate) struct PendingCorrelation {
    pub(crate) meta: RuleMeta,
    kind: CorrelationKind,
    rule_refs: Vec<String>,
    group_by: Vec<String>,
    timespan_ms: i64,
    threshold: u64,
    value_field: Option<String>,
    generate: bool,
    pub(crate) source: String,
    pub(crate) document: usize,
}

impl PendingCorrelation {
    pub(crate) fn with_origin(mut self, source: &str, document: usize) -> Self {
        self.source = source.to_owned();
        self.document = document;
        self
    }

    pub(crate) fn resolve(self, rules: &[Rule]) -> Result<CorrelationRule, UnsupportedReason> {
        let mut indices = Vec::new();
        for reference in &self.rule_refs {
            let found = rules
                .iter()
                .position(|r| r.meta.id == *reference || r.meta.name.as_deref() == Some(reference.as_str()))
                .ok_or_else(|| {
                    UnsupportedReason::Correlation(format!(
                        "referenced rule `{reference}` is not loaded (unknown, unsupported, another logsource, or a correlation)"
                    ))
                })?;
            indices.push(found);
        }
        Ok(CorrelationRule {
            meta: self.meta,
            kind: self.kind,
            rule_refs: self.rule_refs,
            rules: indices,
            group_by: self.group_by,
            timespan_ms: self.timespan_ms,
            threshold: self.threshold,
            value_field: self.value_field,
            generate: self.generate,
        })
    }
}

pub(crate) fn parse(
    meta: RuleMeta,
    config: &Yaml,
) -> Result<PendingCorrelation, UnsupportedReason> {
    let bad = |why: String| UnsupportedReason::Correlation(why);
    let Yaml::Mapping(map) = config else {
        return Err(bad("`correlation` is not a mapping".into()));
    };
    let kind = match get_str(map, "type").as_deref() {
        Some("event_count") => CorrelationKind::EventCount,
        Some("value_count") => CorrelationKind::ValueCount,
        Some("temporal") => CorrelationKind::Temporal,
        Some(other) => return Err(bad(format!("type `{other}` is not supported"))),
        None => return Err(bad("`type` is missing".into())),
    };
    let rule_refs = get_str_list(map, "rules");
    if rule_refs.is_empty() {
        return Err(bad("`rules` is missing or empty".into()));
    }
    let group_by = get_str_list(map, "group-by");
    let timespan_ms = get_str(map, "timespan")
        .as_deref()
        .and_then(parse_timespan_ms)
        .ok_or_else(|| bad("`timespan` is missing or invalid (e.g. 5m)".into()))?;
    let generate = matches!(map.get("generate"), Some(Yaml::Bool(true)));
    let (threshold, value_field) = match map.get("condition") {
        None if kind == CorrelationKind::Temporal => (rule_refs.len() as u64, None),
        None => return Err(bad("`condition` is missing".into())),
        Some(Yaml::Mapping(cond)) => {
            let number = |key: &str| match cond.get(key) {
                Some(Yaml::Number(n)) => n.as_u64(),
                _ => None,
            };
            for key in ["lt", "lte", "neq"] {
                if cond.contains_key(key) {
                    return Err(bad(format!(
                        "condition `{key}` needs windows to close and cannot be streamed"
                    )));
                }
            }
            let threshold = match (number("gte"), number("gt"), number("eq")) {
                (Some(n), None, None) | (None, None, Some(n)) => n,
                (None, Some(n), None) => n.saturating_add(1),
                _ => {
                    return Err(bad(
                        "condition needs exactly one of gte, gt, eq with a whole number".into(),
                    ))
                }
            };
            if threshold == 0 || threshold > MAX_THRESHOLD {
                return Err(bad(format!(
                    "threshold must be between 1 and {MAX_THRESHOLD}"
                )));
            }
            let field = get_str(cond, "field");
            (threshold, field)
        }
        Some(_) => return Err(bad("`condition` is not a mapping".into())),
    };
    if kind == CorrelationKind::ValueCount && value_field.is_none() {
        return Err(bad("value_count needs `condition.field`".into()));
    }
    Ok(PendingCorrelation {
        meta,
        kind,
        rule_refs,
        group_by,
        timespan_ms,
        threshold,
        value_field,
        generate,
        source: String::new(),
        document: 0,
    })
}
