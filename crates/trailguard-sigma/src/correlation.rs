//! Sigma v2 correlation rules (`event_count`, `value_count`, `temporal`) and a streaming,
//! memory-bounded correlator.

use crate::document::{Document, FieldValue};
use crate::error::UnsupportedReason;
use crate::matcher::{number_text, StackText};
use crate::rule::{get_str, get_str_list, Rule, RuleMeta};
use crate::ruleset::{Match, RuleSet};
use serde_yaml_ng::Value as Yaml;
use std::collections::{HashMap, VecDeque};
use std::sync::Arc;

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
    /// Positions of the referenced rules in [`RuleSet::rules`].
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

/// `30s`, `5m`, `1h`, `2d`, `1w` → milliseconds.
pub fn parse_timespan_ms(text: &str) -> Option<i64> {
    let text = text.trim();
    let unit_at = text.find(|c: char| !c.is_ascii_digit())?;
    let (digits, unit) = text.split_at(unit_at);
    let n: i64 = digits.parse().ok()?;
    let unit_ms: i64 = match unit {
        "s" => 1_000,
        "m" => 60_000,
        "h" => 3_600_000,
        "d" => 86_400_000,
        "w" => 604_800_000,
        _ => return None,
    };
    n.checked_mul(unit_ms).filter(|ms| *ms > 0)
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

/// A correlation window that reached its threshold.
#[derive(Debug, Clone)]
pub struct CorrelationHit {
    pub correlation: Arc<CorrelationRule>,
    /// The `group-by` fields and the values of this group (empty string when missing).
    pub group: Vec<(String, String)>,
    /// Events (event_count), distinct values (value_count) or rules (temporal) in the window.
    pub count: u64,
    pub first_ms: i64,
    pub last_ms: i64,
}

impl CorrelationHit {
    /// A one-line human explanation.
    pub fn reason(&self) -> String {
        let group: Vec<String> = self.group.iter().map(|(k, v)| format!("{k}={v}")).collect();
        let what = match self.correlation.kind {
            CorrelationKind::EventCount => "events",
            CorrelationKind::ValueCount => "distinct values",
            CorrelationKind::Temporal => "related rules",
        };
        format!(
            "Sigma correlation \"{}\" ({}): {} {what} within {}s{}",
            self.correlation.meta.title,
            self.correlation.meta.level,
            self.count,
            self.correlation.timespan_ms / 1000,
            if group.is_empty() {
                String::new()
            } else {
                format!(" for {}", group.join(", "))
            }
        )
    }
}

/// Limits of a [`Correlator`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CorrelatorConfig {
    /// Open windows kept at most; when full and nothing has expired, new groups are dropped
    /// (counted in [`Correlator::dropped_groups`]).
    pub max_groups: usize,
}

impl Default for CorrelatorConfig {
    fn default() -> Self {
        Self {
            max_groups: 100_000,
        }
    }
}

#[derive(Debug)]
enum WindowData {
    Events(VecDeque<i64>),
    Values(HashMap<Box<str>, i64>),
    Rules(Vec<Option<i64>>),
}

#[derive(Debug)]
struct Window {
    latest_ms: i64,
    data: WindowData,
}

/// Streaming correlation: feed events in time order with the rules they matched; windows that
/// reach their threshold are reported once and then start over. Expired windows are evicted, so
/// memory is bounded by `max_groups` × threshold.
#[derive(Debug)]
pub struct Correlator {
    correlations: Vec<Arc<CorrelationRule>>,
    /// Base rule position → correlations it feeds.
    by_rule: Vec<Vec<usize>>,
    windows: HashMap<(usize, Box<str>), Window>,
    config: CorrelatorConfig,
    longest_span_ms: i64,
    next_sweep_ms: i64,
    dropped_groups: u64,
    touched: Vec<usize>,
}

impl Correlator {
    pub fn new(set: &RuleSet) -> Self {
        Self::with_config(set, CorrelatorConfig::default())
    }

    pub fn with_config(set: &RuleSet, config: CorrelatorConfig) -> Self {
        let mut by_rule = vec![Vec::new(); set.rules().len()];
        for (c, correlation) in set.correlations().iter().enumerate() {
            for &r in &correlation.rules {
                if let Some(list) = by_rule.get_mut(r) {
                    if !list.contains(&c) {
                        list.push(c);
                    }
                }
            }
        }
        let longest_span_ms = set
            .correlations()
            .iter()
            .map(|c| c.timespan_ms)
            .max()
            .unwrap_or(0);
        Self {
            correlations: set.correlations().to_vec(),
            by_rule,
            windows: HashMap::new(),
            config,
            longest_span_ms,
            next_sweep_ms: i64::MIN,
            dropped_groups: 0,
            touched: Vec::new(),
        }
    }

    /// Open windows (for tests and metrics).
    pub fn open_windows(&self) -> usize {
        self.windows.len()
    }

    /// New groups refused because `max_groups` windows were open and none had expired.
    pub fn dropped_groups(&self) -> u64 {
        self.dropped_groups
    }

    /// Feeds one event with the matches [`RuleSet::evaluate`] returned for it.
    pub fn observe<D: Document + ?Sized>(
        &mut self,
        matches: &[Match<'_>],
        doc: &D,
        time_ms: i64,
        out: &mut Vec<CorrelationHit>,
    ) {
        self.observe_rules(matches.iter().map(|m| m.rule_index), doc, time_ms, out);
    }

    /// Feeds one event with the positions (in [`RuleSet::rules`]) of the base rules it matched.
    pub fn observe_rules<D: Document + ?Sized>(
        &mut self,
        rule_indices: impl IntoIterator<Item = usize>,
        doc: &D,
        time_ms: i64,
        out: &mut Vec<CorrelationHit>,
    ) {
        if self.correlations.is_empty() {
            return;
        }
        self.sweep_if_due(time_ms);
        let mut touched = std::mem::take(&mut self.touched);
        touched.clear();
        let rule_indices: Vec<usize> = rule_indices.into_iter().collect();
        for &r in &rule_indices {
            for &c in self.by_rule.get(r).map(Vec::as_slice).unwrap_or_default() {
                if !touched.contains(&c) {
                    touched.push(c);
                }
            }
        }
        for &c in &touched {
            self.observe_one(c, &rule_indices, doc, time_ms, out);
        }
        self.touched = touched;
    }

    fn observe_one<D: Document + ?Sized>(
        &mut self,
        c: usize,
        matched: &[usize],
        doc: &D,
        time_ms: i64,
        out: &mut Vec<CorrelationHit>,
    ) {
        let correlation = Arc::clone(&self.correlations[c]);
        let key = group_key(&correlation.group_by, doc);
        let value = match &correlation.value_field {
            Some(field) if correlation.kind == CorrelationKind::ValueCount => {
                match first_text(field, doc) {
                    Some(v) if !v.is_empty() => Some(v),
                    _ => return,
                }
            }
            _ => None,
        };
        let map_key = (c, key.into_boxed_str());
        if !self.windows.contains_key(&map_key) && self.windows.len() >= self.config.max_groups {
            self.sweep(time_ms);
            if self.windows.len() >= self.config.max_groups {
                self.dropped_groups += 1;
                return;
            }
        }
        let window = self.windows.entry(map_key).or_insert_with(|| Window {
            latest_ms: time_ms,
            data: match correlation.kind {
                CorrelationKind::EventCount => WindowData::Events(VecDeque::new()),
                CorrelationKind::ValueCount => WindowData::Values(HashMap::new()),
                CorrelationKind::Temporal => WindowData::Rules(vec![None; correlation.rules.len()]),
            },
        });
        window.latest_ms = window.latest_ms.max(time_ms);
        let since = time_ms.saturating_sub(correlation.timespan_ms);
        let threshold = correlation.threshold;
        let fired = match &mut window.data {
            WindowData::Events(times) => {
                times.push_back(time_ms);
                while times.front().is_some_and(|t| *t < since) {
                    times.pop_front();
                }
                if times.len() as u64 >= threshold {
                    let first = times.front().copied().unwrap_or(time_ms);
                    let count = times.len() as u64;
                    times.clear();
                    Some((count, first))
                } else {
                    None
                }
            }
            WindowData::Values(values) => {
                if let Some(v) = value {
                    values.insert(v.into_boxed_str(), time_ms);
                }
                values.retain(|_, t| *t >= since);
                if values.len() as u64 >= threshold {
                    let first = values.values().copied().min().unwrap_or(time_ms);
                    let count = values.len() as u64;
                    values.clear();
                    Some((count, first))
                } else {
                    None
                }
            }
            WindowData::Rules(seen) => {
                for (slot, rule) in seen.iter_mut().zip(&correlation.rules) {
                    if matched.contains(rule) {
                        *slot = Some(time_ms);
                    }
                    if slot.is_some_and(|t| t < since) {
                        *slot = None;
                    }
                }
                if seen.iter().all(Option::is_some) {
                    let first = seen.iter().flatten().copied().min().unwrap_or(time_ms);
                    let count = seen.len() as u64;
                    seen.iter_mut().for_each(|s| *s = None);
                    Some((count, first))
                } else {
                    None
                }
            }
        };
        if let Some((count, first_ms)) = fired {
            let group = correlation
                .group_by
                .iter()
                .map(|field| (field.clone(), first_text(field, doc).unwrap_or_default()))
                .collect();
            out.push(CorrelationHit {
                correlation,
                group,
                count,
                first_ms,
                last_ms: time_ms,
            });
        }
    }

    fn sweep_if_due(&mut self, now_ms: i64) {
        if now_ms >= self.next_sweep_ms {
            self.sweep(now_ms);
            // Sweeping once per longest timespan keeps at most two spans of windows alive.
            self.next_sweep_ms = now_ms.saturating_add(self.longest_span_ms.max(1_000));
        }
    }

    /// Drops windows whose newest event is older than their timespan.
    fn sweep(&mut self, now_ms: i64) {
        let correlations = &self.correlations;
        self.windows.retain(|(c, _), window| {
            let span = correlations.get(*c).map_or(0, |c| c.timespan_ms);
            window.latest_ms >= now_ms.saturating_sub(span)
        });
    }
}

fn first_text<D: Document + ?Sized>(field: &str, doc: &D) -> Option<String> {
    let mut found = None;
    let mut buf = StackText::new();
    doc.visit_field(field, &mut |value| {
        found = match value {
            FieldValue::Null => None,
            FieldValue::Bool(b) => Some(b.to_string()),
            FieldValue::Number(n) => Some(number_text(n, &mut buf).to_owned()),
            FieldValue::Str(s) | FieldValue::Json(s) => Some(s.to_owned()),
        };
        found.is_some()
    });
    found
}

/// The group-by values joined by a unit separator (never part of real values).
fn group_key<D: Document + ?Sized>(fields: &[String], doc: &D) -> String {
    let mut key = String::new();
    for (i, field) in fields.iter().enumerate() {
        if i > 0 {
            key.push('\u{1f}');
        }
        if let Some(value) = first_text(field, doc) {
            key.push_str(&value);
        }
    }
    key
}

/// Parses an RFC 3339 UTC or offset timestamp (`2019-01-01T00:00:00Z`,
/// `2019-01-01T00:00:00.123+02:00`) into Unix milliseconds.
pub fn parse_timestamp_ms(text: &str) -> Option<i64> {
    let b = text.trim().as_bytes();
    let num = |range: std::ops::Range<usize>| -> Option<i64> {
        let part = b.get(range)?;
        if part.is_empty() || !part.iter().all(u8::is_ascii_digit) {
            return None;
        }
        std::str::from_utf8(part).ok()?.parse().ok()
    };
    if b.len() < 19
        || b[4] != b'-'
        || b[7] != b'-'
        || !matches!(b[10], b'T' | b't' | b' ')
        || b[13] != b':'
        || b[16] != b':'
    {
        return None;
    }
    let (year, month, day) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (hour, minute, second) = (num(11..13)?, num(14..16)?, num(17..19)?);
    if !(1..=12).contains(&month)
        || !(1..=31).contains(&day)
        || hour > 23
        || minute > 59
        || second > 60
    {
        return None;
    }
    let mut pos = 19;
    let mut millis = 0i64;
    if b.get(pos) == Some(&b'.') {
        let start = pos + 1;
        let mut end = start;
        while b.get(end).is_some_and(u8::is_ascii_digit) {
            end += 1;
        }
        if end == start {
            return None;
        }
        let digits = &b[start..end.min(start + 3)];
        for i in 0..3 {
            millis = millis * 10 + digits.get(i).map_or(0, |d| i64::from(d - b'0'));
        }
        pos = end;
    }
    let offset_min = match b.get(pos) {
        None => 0,
        Some(b'Z' | b'z') if pos + 1 == b.len() => 0,
        Some(&sign @ (b'+' | b'-')) if b.len() == pos + 6 && b[pos + 3] == b':' => {
            let minutes = num(pos + 1..pos + 3)? * 60 + num(pos + 4..pos + 6)?;
            if sign == b'+' {
                minutes
            } else {
                -minutes
            }
        }
        _ => return None,
    };
    // Days from civil (Howard Hinnant's algorithm).
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    let seconds = days * 86_400 + hour * 3_600 + minute * 60 + second - offset_min * 60;
    Some(seconds * 1_000 + millis)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timespans() {
        assert_eq!(parse_timespan_ms("30s"), Some(30_000));
        assert_eq!(parse_timespan_ms("5m"), Some(300_000));
        assert_eq!(parse_timespan_ms("1h"), Some(3_600_000));
        assert_eq!(parse_timespan_ms("2d"), Some(172_800_000));
        assert_eq!(parse_timespan_ms("1w"), Some(604_800_000));
        for bad in ["", "m", "5", "5x", "0m", "-5m", "99999999999999999999d"] {
            assert_eq!(parse_timespan_ms(bad), None, "{bad}");
        }
    }

    #[test]
    fn timestamps() {
        assert_eq!(parse_timestamp_ms("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(
            parse_timestamp_ms("2019-01-01T00:00:00Z"),
            Some(1_546_300_800_000)
        );
        assert_eq!(
            parse_timestamp_ms("2019-01-01T00:00:01.5Z"),
            Some(1_546_300_801_500)
        );
        assert_eq!(
            parse_timestamp_ms("2019-01-01T02:00:00+02:00"),
            Some(1_546_300_800_000)
        );
        assert_eq!(
            parse_timestamp_ms("2024-02-29T12:34:56.789123Z"),
            Some(1_709_210_096_789)
        );
        for bad in [
            "",
            "2019-01-01",
            "2019-13-01T00:00:00Z",
            "2019-01-01T00:00:00Q",
            "2019-01-01T00:00:00.Z",
            "x019-01-01T00:00:00Z",
        ] {
            assert_eq!(parse_timestamp_ms(bad), None, "{bad}");
        }
    }
}
