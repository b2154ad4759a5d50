//! The stateful correlation step (bursts: Sigma correlation rules over the detector's base
//! rules). Feed it events in time order; it is the only part of triage with state.

use std::sync::Arc;

use trailguard_core::RuleHit;
use trailguard_events::Event;
use trailguard_sigma::{CorrelationHit, RuleSet};

use crate::detector::{rule_level, Detector};
use crate::document::RecordDoc;

/// The stateful correlation step. Feed events in time order (by `eventTime`); events without a
/// parseable time count at the last time seen.
#[derive(Debug)]
pub struct Correlator {
    rules: Arc<RuleSet>,
    /// Base rules feeding at least one correlation (shared with the detector).
    base_rules: Arc<[usize]>,
    inner: trailguard_sigma::Correlator,
    last_ms: i64,
    scratch: Vec<CorrelationHit>,
}

impl Detector {
    /// A fresh correlator over this detector's correlation rules.
    pub fn correlator(&self) -> Correlator {
        Correlator::new(self)
    }
}

impl Correlator {
    pub fn new(detector: &Detector) -> Self {
        let rules = detector.shared_rules();
        let base_rules = detector.shared_correlation_base_rules();
        let inner = trailguard_sigma::Correlator::with_config(&rules, detector.correlator_config());
        Correlator {
            rules,
            base_rules,
            inner,
            last_ms: 0,
            scratch: Vec::new(),
        }
    }

    /// Feeds one event (with the hits [`Detector::detect`] gave it) and returns the correlation
    /// hits it completes. Base rules already reported in `hits` are not evaluated again.
    pub fn observe(&mut self, event: &Event<'_>, hits: &[RuleHit]) -> Vec<RuleHit> {
        let Event::CloudTrail(ct) = event else {
            return Vec::new();
        };
        if self.base_rules.is_empty() {
            return Vec::new();
        }
        let doc = RecordDoc::quick(&ct.record);
        let rules = self.rules.rules();
        let matched: Vec<usize> = self
            .base_rules
            .iter()
            .copied()
            .filter(|&i| {
                rules.get(i).is_some_and(|rule| {
                    hits.iter().any(|h| h.rule_id == rule.meta.id) || rule.matches(&doc)
                })
            })
            .collect();
        if matched.is_empty() {
            return Vec::new();
        }
        if let Some(ms) = ct
            .record
            .event_time
            .as_deref()
            .and_then(trailguard_sigma::parse_timestamp_ms)
        {
            self.last_ms = ms;
        }
        self.scratch.clear();
        self.inner
            .observe_rules(matched, &doc, self.last_ms, &mut self.scratch);
        self.scratch
            .iter()
            .map(|hit| {
                let meta = &hit.correlation.meta;
                RuleHit {
                    rule_id: meta.id.clone(),
                    title: meta.title.clone(),
                    level: rule_level(&meta.level),
                    reason: hit.reason(),
                    mitre: meta.techniques.clone(),
                }
            })
            .collect()
    }

    /// Open correlation windows (memory indicator).
    pub fn open_windows(&self) -> usize {
        self.inner.open_windows()
    }
}
