//! The stateless rule floor: Sigma rule hits (embedded rules plus rule directories), built-in
//! cross-field checks ([`crate::builtin`]) and the GuardDuty severity mapping
//! ([`crate::guardduty`]). [`Detector::detect`] takes `&self` and is safe to call from many
//! threads; the stateful correlation step is [`crate::Correlator`].
//!
//! The threat level of an event is the highest level among its hits, low when nothing fired
//! (`trailguard_core::AnalysisRecord::rule_level`).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use trailguard_core::{RuleHit, ThreatLevel};
use trailguard_events::Event;
use trailguard_sigma::{CorrelatorConfig, Match, Rule, RuleSet, RuleSetBuilder};

use crate::builtin::{self, BUILTINS};
use crate::document::RecordDoc;
use crate::embedded::{EMBEDDED_RULES, EMBEDDED_SOURCE_PREFIX};
use crate::guardduty;
use crate::injection;

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

/// A Sigma level on the guide's three-step scale; unknown or missing levels rate low.
pub(crate) fn rule_level(level: &str) -> ThreatLevel {
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

    /// The compiled rules, shared with the correlation step.
    pub(crate) fn shared_rules(&self) -> Arc<RuleSet> {
        Arc::clone(&self.rules)
    }

    /// Base rules feeding at least one correlation rule, shared with the correlation step.
    pub(crate) fn shared_correlation_base_rules(&self) -> Arc<[usize]> {
        Arc::clone(&self.correlation_base_rules)
    }

    pub(crate) fn correlator_config(&self) -> CorrelatorConfig {
        self.correlator_config
    }

    /// Every rule hit for one event, highest level first. Correlation rules are not evaluated
    /// here (see [`crate::Correlator`]); base rules that only feed a correlation do not report.
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
            // S3 object events carry no API context the rules could judge; they rate low
            // unless their key tries to steer a model (below).
            Event::S3Notification(_) | Event::S3EventBridge(_) => {}
        }
        if self.builtins {
            injection::detect(event, &mut hits);
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
    /// stateful [`crate::Correlator`] needs to see it. Stateless, so callers can ask from any
    /// thread.
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
