//! The streaming, memory-bounded correlator that runs a rule set's correlation rules over
//! events fed in time order.

use crate::correlation::{CorrelationKind, CorrelationRule};
use crate::document::{Document, FieldValue};
use crate::matcher::{number_text, StackText};
use crate::ruleset::{Match, RuleSet};
use std::collections::{HashMap, VecDeque};
use std::sync::Arc;

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

impl RuleSet {
    /// A streaming correlator for this set's correlation rules.
    pub fn correlator(&self) -> Correlator {
        Correlator::new(self)
    }
}
