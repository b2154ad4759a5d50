//! The log-analysis service: one event in, its analysis out. Parse, rules, correlation (in call
//! order), the record, then the model under the policy. Only unparsable input is an error.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use trailguard_core::ports::ChatModel;
use trailguard_core::RuleHit;
use trailguard_events::{parse_event, Event, ParseError};

use crate::analysis::Analysis;
use crate::config::TriageConfig;
use crate::consult::consult;
use crate::correlator::Correlator;
use crate::detector::{DetectError, Detector, DetectorOptions, LoadReport};
use crate::precorrelated::{EventKeys, Remembered};
use crate::record::record_from_event;

#[derive(Debug, thiserror::Error)]
pub enum TriageError {
    #[error(transparent)]
    Rules(#[from] DetectError),
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum AnalysisError {
    #[error("cannot analyse the input: {0}")]
    Parse(#[from] ParseError),
}

/// The correlation state: the correlator and the results computed ahead for later analyses.
/// One lock, so an analysis either finds its result or correlates, never both.
#[derive(Debug)]
struct Ordered {
    correlator: Correlator,
    remembered: Remembered,
}

/// Triage of single events: the rules (shared, stateless), the correlator (behind a lock: it
/// sees events in call order), an optional model and how to ask it. `Send + Sync`: share one
/// behind an `Arc` between concurrent analyses.
pub struct Triage {
    detector: Detector,
    ordered: Mutex<Ordered>,
    model: Option<Arc<dyn ChatModel>>,
    config: TriageConfig,
    keys: EventKeys,
    /// Set once [`Triage::correlate_in_order`] has been used: only then do analyses look for a
    /// result computed ahead (and pay for the event's key).
    correlating_ahead: AtomicBool,
}

impl std::fmt::Debug for Triage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Triage")
            .field("detector", &self.detector)
            .field("model", &self.model.as_ref().map(|_| "dyn ChatModel"))
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while holding the lock leaves the windows consistent enough to keep going: they
    // only count events.
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl Triage {
    /// Triage with `detector`'s rules, a fresh correlator, and `model` (none: rules only).
    pub fn new(
        detector: Detector,
        model: Option<Arc<dyn ChatModel>>,
        config: TriageConfig,
    ) -> Triage {
        let correlator = detector.correlator();
        Triage {
            detector,
            ordered: Mutex::new(Ordered {
                correlator,
                remembered: Remembered::default(),
            }),
            model,
            config,
            keys: EventKeys::default(),
            correlating_ahead: AtomicBool::new(false),
        }
    }

    /// The embedded rules plus every rule file under `rule_dirs`. Rules that cannot be used are
    /// listed in the report (and logged), never fatal; an unreadable directory is an error.
    pub fn load(
        rule_dirs: &[PathBuf],
        model: Option<Arc<dyn ChatModel>>,
        config: TriageConfig,
    ) -> Result<(Triage, LoadReport), TriageError> {
        let (detector, report) = Detector::load(rule_dirs, DetectorOptions::default())?;
        tracing::info!(rules = %report, "rules loaded");
        for unsupported in &report.sigma.unsupported {
            tracing::warn!("rule not loaded: {unsupported}");
        }
        Ok((Triage::new(detector, model, config), report))
    }

    pub fn detector(&self) -> &Detector {
        &self.detector
    }

    pub fn config(&self) -> &TriageConfig {
        &self.config
    }

    /// Analyses one event (an EventBridge envelope, a bare CloudTrail record, an S3 notification
    /// record or a GuardDuty finding): rules, correlation (stateful, in call order), the record,
    /// then the model under the policy (validated, one repair, may only raise the level; bucket,
    /// key, version and media type always from the event). Only unparsable input is an error.
    pub async fn analyze(&self, event_json: &str) -> Result<Analysis, AnalysisError> {
        let event = parse_event(event_json)?;
        let (hits, feeds) = self.detector.detect_feeding(&event);
        let correlated = if feeds {
            self.correlation_hits(event_json, &event, &hits)
        } else {
            Vec::new()
        };
        let record = record_from_event(&event, hits, correlated);
        Ok(consult(
            self.model.as_deref(),
            &self.config,
            event_json,
            &event,
            record,
        )
        .await)
    }

    /// For a caller that runs many analyses at once but knows their input order: correlates the
    /// event now, in input order, and keeps its correlation hits (bounded memory) for the later
    /// [`Triage::analyze`] of the same event, which then uses them instead of correlating again.
    /// Same detection and correlation as `analyze`; input that does not parse is left for
    /// `analyze` to report.
    pub fn correlate_in_order(&self, event_json: &str) {
        let Ok(event) = parse_event(event_json) else {
            return;
        };
        let (hits, feeds) = self.detector.detect_feeding(&event);
        if !feeds {
            return;
        }
        let key = self.keys.key(event_json);
        self.correlating_ahead.store(true, Ordering::Release);
        let mut ordered = lock(&self.ordered);
        let correlated = ordered.correlator.observe(&event, &hits);
        ordered.remembered.remember(key, correlated);
    }

    /// The correlation hits of a feeding event: those computed ahead for it, else the
    /// correlator's answer now.
    fn correlation_hits(
        &self,
        event_json: &str,
        event: &Event<'_>,
        hits: &[RuleHit],
    ) -> Vec<RuleHit> {
        let key = self
            .correlating_ahead
            .load(Ordering::Acquire)
            .then(|| self.keys.key(event_json));
        let mut ordered = lock(&self.ordered);
        if let Some(known) = key.and_then(|key| ordered.remembered.take(key)) {
            return known;
        }
        ordered.correlator.observe(event, hits)
    }
}
