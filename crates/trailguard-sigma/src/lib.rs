//! A generic Sigma rule engine.
//!
//! - Rules are loaded from YAML text or directories into a [`RuleSet`]; every document either
//!   loads or is listed in the [`LoadReport`] with an [`UnsupportedReason`].
//! - Events are anything implementing [`Document`] (borrowed typed records, or `serde_json::Value`):
//!   matching allocates nothing per event in the common case.
//! - [`RuleSet::evaluate`] only runs rules whose required key-field values (default `eventName`)
//!   include the event's, plus rules without such a requirement.
//! - [`Correlator`] streams Sigma v2 correlations (`event_count`, `value_count`, `temporal`).
//!
//! ```
//! use trailguard_sigma::RuleSet;
//!
//! let (rules, report) = RuleSet::from_yaml(
//!     "title: CloudTrail stopped\n\
//!      id: ct-stop\n\
//!      level: high\n\
//!      tags: [attack.defense-evasion, attack.t1562.008]\n\
//!      logsource: {product: aws, service: cloudtrail}\n\
//!      detection:\n  \
//!        selection:\n    \
//!          eventName: [StopLogging, DeleteTrail]\n  \
//!        condition: selection\n",
//! );
//! assert!(report.unsupported.is_empty());
//! let event = serde_json::json!({"eventName": "StopLogging"});
//! let mut matches = Vec::new();
//! rules.evaluate(&event, &mut matches);
//! assert_eq!(matches[0].rule.meta.techniques, ["T1562.008"]);
//! assert_eq!(matches[0].reason(), "Sigma rule \"CloudTrail stopped\" (high) matched selection");
//! ```

mod condition;
mod correlation;
mod correlator;
mod detection;
mod document;
mod error;
mod matcher;
mod rule;
mod ruleset;
mod time;

pub use correlation::{CorrelationKind, CorrelationRule, MAX_THRESHOLD};
pub use correlator::{CorrelationHit, Correlator, CorrelatorConfig};
pub use document::{Document, FieldValue};
pub use error::{LoadError, Unsupported, UnsupportedReason};
pub use rule::{technique_from_tag, Level, LogSource, LogSourceFilter, Rule, RuleMeta};
pub use ruleset::{LoadReport, Match, RuleSet, RuleSetBuilder, DEFAULT_INDEX_FIELD};
pub use time::{parse_timespan_ms, parse_timestamp_ms};

#[cfg(test)]
#[path = "../tests/support/shared_data.rs"]
mod shared_data;
