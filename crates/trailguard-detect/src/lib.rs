//! TrailGuard's deterministic detector.
//!
//! - [`Detector::load`] compiles TrailGuard's own Sigma rules (the repository's `rules/`,
//!   embedded at build time) plus any rule directories given, and reports what loaded.
//! - [`Detector::detect`] rates one event: Sigma rule hits, built-in cross-field detectors
//!   ([`builtin`]), or the GuardDuty severity mapping. It takes `&self` and is safe to call from
//!   many threads.
//! - [`Correlator`] is the separate, stateful step for correlation rules (bursts); feed it events
//!   in time order.
//!
//! The threat level of an event is the highest level among its hits, low when nothing fired
//! (`trailguard_core::AnalysisRecord::rule_level`).

pub mod builtin;
pub mod guardduty;
pub mod record;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use trailguard_core::{RuleHit, ThreatLevel};
use trailguard_events::Event;
use trailguard_sigma::{CorrelationHit, CorrelatorConfig, Match, Rule, RuleSet, RuleSetBuilder};

pub use builtin::{BuiltinInfo, BUILTINS};
pub use record::RecordDoc;

include!(concat!(env!("OUT_DIR"), "/embedded_rules.rs"));

/// How the detector is assembled.
#[derive(Debug, Clone)]
pub struct DetectorOptions {
    /// Load TrailGuard's embedded rules (`rules/` of the repository).
    pub embedded_rules: bool,
    /// Run the built-in cross-field detectors.
    pub builtins: bool,
    /// Limits of the correlation windows.
    pub correlator: CorrelatorConfig,
}

impl Default for DetectorOptions {
    fn default() -> Self {
        DetectorOptions {
            embedded_rules: true,
            builtins: true,
            correlator: CorrelatorConfig::default(),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum DetectError {
    #[error("cannot load rules from {path}: {source}")]
    Rules {
        path: PathBuf,
        #[source]
        source: trailguard_sigma::LoadError,
    },
}

/// One rule that loaded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoadedRule {
    pub id: String,
    pub title: String,
    /// The Sigma level as written (empty when absent).
    pub level: String,
    /// `rules/<file>` for embedded rules, the file path otherwise.
    pub source: String,
    pub correlation: bool,
}

/// What loading produced.
#[derive(Debug, Clone, Default)]
pub struct LoadReport {
    /// The Sigma engine's report: counts and every unsupported document with its reason.
    pub sigma: trailguard_sigma::LoadReport,
    pub loaded: Vec<LoadedRule>,
    /// Built-in detectors that are active.
    pub builtins: Vec<&'static str>,
}

impl LoadReport {
    /// Unsupported documents whose source starts with `prefix` (e.g. `rules/`).
    pub fn unsupported_from<'a>(
        &'a self,
        prefix: &'a str,
    ) -> impl Iterator<Item = &'a trailguard_sigma::Unsupported> + 'a {
        self.sigma
            .unsupported
            .iter()
            .filter(move |u| u.source.starts_with(prefix))
    }
}

impl std::fmt::Display for LoadReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}; {} built-in detectors",
            self.sigma,
            self.builtins.len()
        )
    }
}

/// Source label of embedded rules in reports.
pub const EMBEDDED_SOURCE_PREFIX: &str = "rules/";

/// Rates events. Immutable once loaded; share it between threads (`Send + Sync`).
#[derive(Debug, Clone)]
pub struct Detector {
    rules: Arc<RuleSet>,
    /// Sigma level of each rule, mapped once.
    levels: Vec<ThreatLevel>,
    builtins: bool,
    correlator_config: CorrelatorConfig,
    /// Base rules feeding at least one correlation rule, sorted, computed once.
    correlation_base_rules: Arc<[usize]>,
}

fn rule_level(level: &str) -> ThreatLevel {
    ThreatLevel::from_sigma_level(level).unwrap_or(ThreatLevel::Low)
}

impl Detector {
    /// Loads the embedded rules (unless disabled) and every rule file under `rule_dirs`.
    /// Rules that cannot be used are listed in the report, never fatal; an unreadable
    /// directory is an error.
    pub fn load<P: AsRef<Path>>(
        rule_dirs: &[P],
        options: DetectorOptions,
    ) -> Result<(Detector, LoadReport), DetectError> {
        let mut builder = RuleSetBuilder::new();
        if options.embedded_rules {
            for (name, text) in EMBEDDED_RULES {
                builder.add_yaml(text, &format!("{EMBEDDED_SOURCE_PREFIX}{name}"));
            }
        }
        for dir in rule_dirs {
            let dir = dir.as_ref();
            builder.add_path(dir).map_err(|source| DetectError::Rules {
                path: dir.to_path_buf(),
                source,
            })?;
        }
        Ok(Self::from_builder(builder, options))
    }

    /// Builds a detector from rule texts only (tests, embedding callers).
    pub fn from_yaml_texts(
        texts: &[(&str, &str)],
        options: DetectorOptions,
    ) -> (Detector, LoadReport) {
        let mut builder = RuleSetBuilder::new();
        if options.embedded_rules {
            for (name, text) in EMBEDDED_RULES {
                builder.add_yaml(text, &format!("{EMBEDDED_SOURCE_PREFIX}{name}"));
            }
        }
        for (source, text) in texts {
            builder.add_yaml(text, source);
        }
        Self::from_builder(builder, options)
    }

    fn from_builder(builder: RuleSetBuilder, options: DetectorOptions) -> (Detector, LoadReport) {
        let (rules, sigma) = builder.build();
        let mut loaded: Vec<LoadedRule> = rules
            .rules()
            .iter()
            .map(|rule| LoadedRule {
                id: rule.meta.id.clone(),
                title: rule.meta.title.clone(),
                level: rule.meta.level.clone(),
                source: rule.meta.source.clone(),
                correlation: false,
            })
            .collect();
        loaded.extend(rules.correlations().iter().map(|c| LoadedRule {
            id: c.meta.id.clone(),
            title: c.meta.title.clone(),
            level: c.meta.level.clone(),
            source: c.meta.source.clone(),
            correlation: true,
        }));
        let levels = rules
            .rules()
            .iter()
            .map(|r| rule_level(&r.meta.level))
            .collect();
        let report = LoadReport {
            sigma,
            loaded,
            builtins: if options.builtins {
                BUILTINS.iter().map(|b| b.id).collect()
            } else {
                Vec::new()
            },
        };
        let mut base_rules: Vec<usize> = rules
            .correlations()
            .iter()
            .flat_map(|c| c.rules.iter().copied())
            .collect();
        base_rules.sort_unstable();
        base_rules.dedup();
        let detector = Detector {
            rules: Arc::new(rules),
            levels,
            builtins: options.builtins,
            correlator_config: options.correlator,
            correlation_base_rules: base_rules.into(),
        };
        (detector, report)
    }

    /// The compiled Sigma rules.
    pub fn rule_set(&self) -> &RuleSet {
        &self.rules
    }

    /// Every rule hit for one event, highest level first. Correlation rules are not evaluated
    /// here (see [`Correlator`]); base rules that only feed a correlation do not report.
    pub fn detect(&self, event: &Event<'_>) -> Vec<RuleHit> {
        self.detect_feeding(event).0
    }

    /// [`Detector::detect`] and [`Detector::feeds_correlation`] from one evaluation of the rules.
    pub fn detect_feeding(&self, event: &Event<'_>) -> (Vec<RuleHit>, bool) {
        let mut hits = Vec::new();
        let mut feeds = false;
        match event {
            Event::CloudTrail(ct) => {
                let doc = RecordDoc::quick(&ct.record);
                feeds = self.detect_record_feeding(&doc, &mut hits);
            }
            Event::GuardDuty(gd) => hits.push(guardduty::finding_hit(&gd.finding)),
            // S3 object events carry no API context the rules could judge; they rate low.
            Event::S3Notification(_) | Event::S3EventBridge(_) => {}
        }
        hits.sort_by_key(|hit| std::cmp::Reverse(hit.level));
        (hits, feeds)
    }

    /// Rule hits for a CloudTrail record already wrapped in a [`RecordDoc`].
    pub fn detect_record(&self, doc: &RecordDoc<'_, '_>, hits: &mut Vec<RuleHit>) {
        self.detect_record_feeding(doc, hits);
    }

    /// `detect_record`; also says whether a correlation base rule matched (every matching rule
    /// is among the evaluated ones: the pre-filter only skips rules that cannot match).
    fn detect_record_feeding(&self, doc: &RecordDoc<'_, '_>, hits: &mut Vec<RuleHit>) -> bool {
        let mut matches: Vec<Match<'_>> = Vec::new();
        self.rules.evaluate(doc, &mut matches);
        let feeds = matches.iter().any(|m| {
            self.correlation_base_rules
                .binary_search(&m.rule_index)
                .is_ok()
        });
        for m in &matches {
            if m.rule.correlation_only {
                continue;
            }
            // The same rule loaded twice (embedded and from a directory) reports once.
            if hits.iter().any(|h| h.rule_id == m.rule.meta.id) {
                continue;
            }
            let level = self.levels.get(m.rule_index).copied().unwrap_or_default();
            hits.push(sigma_hit(m.rule, level, m.reason()));
        }
        if self.builtins {
            builtin::detect(doc, hits);
        }
        feeds
    }

    /// Whether the event matches a base rule of some correlation rule, i.e. whether the
    /// stateful [`Correlator`] needs to see it. Stateless, so callers can ask from any thread.
    pub fn feeds_correlation(&self, event: &Event<'_>) -> bool {
        let Event::CloudTrail(ct) = event else {
            return false;
        };
        let doc = RecordDoc::quick(&ct.record);
        let rules = self.rules.rules();
        self.correlation_base_rules
            .iter()
            .any(|&i| rules.get(i).is_some_and(|rule| rule.matches(&doc)))
    }

    /// A fresh correlator over this detector's correlation rules.
    pub fn correlator(&self) -> Correlator {
        Correlator::new(self)
    }
}

fn sigma_hit(rule: &Rule, level: ThreatLevel, reason: String) -> RuleHit {
    RuleHit {
        rule_id: rule.meta.id.clone(),
        title: rule.meta.title.clone(),
        level,
        reason,
        mitre: rule.meta.techniques.clone(),
    }
}

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

impl Correlator {
    pub fn new(detector: &Detector) -> Self {
        let rules = Arc::clone(&detector.rules);
        let base_rules = Arc::clone(&detector.correlation_base_rules);
        let inner = trailguard_sigma::Correlator::with_config(&rules, detector.correlator_config);
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
