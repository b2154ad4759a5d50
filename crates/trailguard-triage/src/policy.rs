//! When to ask the model about an event.
//!
//! - `never`: rules only (no model cost, fully deterministic);
//! - `always`: every event;
//! - `when-not-benign` (default): skip events that are trivially benign: no rule fired, the call
//!   did not fail, and it is a read (the record's `readOnly` is true, or its event name is in the
//!   configurable benign list: S3 data reads by default). Everything else is asked: uploads,
//!   writes, failures, GuardDuty findings, any rule hit.

use std::str::FromStr;
use trailguard_core::AnalysisRecord;
use trailguard_events::Event;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AskPolicy {
    Never,
    Always,
    #[default]
    WhenNotBenign,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown model policy {0:?}: expected never, always or when-not-benign")]
pub struct UnknownAskPolicy(pub String);

impl FromStr for AskPolicy {
    type Err = UnknownAskPolicy;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().replace('_', "-").as_str() {
            "never" | "off" | "none" => Ok(AskPolicy::Never),
            "always" => Ok(AskPolicy::Always),
            "when-not-benign" | "auto" | "" => Ok(AskPolicy::WhenNotBenign),
            _ => Err(UnknownAskPolicy(s.to_string())),
        }
    }
}

impl AskPolicy {
    pub fn as_str(self) -> &'static str {
        match self {
            AskPolicy::Never => "never",
            AskPolicy::Always => "always",
            AskPolicy::WhenNotBenign => "when-not-benign",
        }
    }
}

/// S3 data reads that rate as benign when nothing fired and nothing failed.
pub const DEFAULT_BENIGN_EVENT_NAMES: &[&str] = &[
    "GetObject",
    "HeadObject",
    "HeadBucket",
    "ListObjects",
    "ListObjectsV2",
    "ListObjectVersions",
    "GetObjectTagging",
    "GetBucketLocation",
];

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AskConfig {
    pub policy: AskPolicy,
    /// Event names treated as benign reads (exact, case-sensitive as CloudTrail writes them).
    pub benign_event_names: Vec<String>,
    /// Also treat any CloudTrail record with `readOnly: true` as a benign read.
    pub read_only_is_benign: bool,
}

impl Default for AskConfig {
    fn default() -> Self {
        AskConfig {
            policy: AskPolicy::WhenNotBenign,
            benign_event_names: DEFAULT_BENIGN_EVENT_NAMES
                .iter()
                .map(|s| s.to_string())
                .collect(),
            read_only_is_benign: true,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AskDecision {
    Ask,
    Skip(String),
}

/// Decides whether to ask the model about `event`, whose deterministic record is `record`.
pub fn decide(config: &AskConfig, event: &Event<'_>, record: &AnalysisRecord) -> AskDecision {
    match config.policy {
        AskPolicy::Never => return AskDecision::Skip("model policy is never".into()),
        AskPolicy::Always => return AskDecision::Ask,
        AskPolicy::WhenNotBenign => {}
    }
    if !record.reasons.is_empty() {
        return AskDecision::Ask;
    }
    let Event::CloudTrail(ct) = event else {
        return AskDecision::Ask;
    };
    let record_ct = &ct.record;
    if record_ct
        .error_code
        .as_deref()
        .is_some_and(|c| !c.is_empty())
    {
        return AskDecision::Ask;
    }
    let name = record_ct.event_name.as_deref().unwrap_or_default();
    if config.benign_event_names.iter().any(|n| n == name) {
        return AskDecision::Skip(format!("trivially benign: {name} succeeded, no rule fired"));
    }
    if config.read_only_is_benign && record_ct.read_only == Some(true) {
        return AskDecision::Skip(format!(
            "trivially benign: read-only {name} succeeded, no rule fired"
        ));
    }
    AskDecision::Ask
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn policy_names_parse() {
        assert_eq!("never".parse(), Ok(AskPolicy::Never));
        assert_eq!("ALWAYS".parse(), Ok(AskPolicy::Always));
        assert_eq!("when_not_benign".parse(), Ok(AskPolicy::WhenNotBenign));
        assert_eq!("auto".parse(), Ok(AskPolicy::WhenNotBenign));
        assert!("sometimes".parse::<AskPolicy>().is_err());
        for policy in [
            AskPolicy::Never,
            AskPolicy::Always,
            AskPolicy::WhenNotBenign,
        ] {
            assert_eq!(policy.as_str().parse(), Ok(policy));
        }
    }
}
