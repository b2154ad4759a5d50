//! The analysis record: the guide's output schema plus TrailGuard's provenance fields.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// Threat level on the guide's three-step scale. Ordered: `Low < Medium < High`.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, Default,
)]
#[serde(rename_all = "lowercase")]
pub enum ThreatLevel {
    #[default]
    Low,
    Medium,
    High,
}

impl ThreatLevel {
    pub const ALL: [ThreatLevel; 3] = [ThreatLevel::Low, ThreatLevel::Medium, ThreatLevel::High];

    pub fn as_str(self) -> &'static str {
        match self {
            ThreatLevel::Low => "low",
            ThreatLevel::Medium => "medium",
            ThreatLevel::High => "high",
        }
    }

    /// Maps a Sigma rule `level` (informational|low|medium|high|critical) onto the guide's scale.
    pub fn from_sigma_level(level: &str) -> Option<ThreatLevel> {
        match level.trim().to_ascii_lowercase().as_str() {
            "informational" | "low" => Some(ThreatLevel::Low),
            "medium" => Some(ThreatLevel::Medium),
            "high" | "critical" => Some(ThreatLevel::High),
            _ => None,
        }
    }

    /// GuardDuty severity (AWS scale 1.0–8.9): below 4 low, 4 to 6.9 medium, 7 and above high.
    pub fn from_guardduty_severity(severity: f64) -> ThreatLevel {
        if severity >= 7.0 {
            ThreatLevel::High
        } else if severity >= 4.0 {
            ThreatLevel::Medium
        } else {
            ThreatLevel::Low
        }
    }
}

impl fmt::Display for ThreatLevel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown threat level {0:?}: expected low, medium or high")]
pub struct UnknownThreatLevel(pub String);

impl FromStr for ThreatLevel {
    type Err = UnknownThreatLevel;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "low" => Ok(ThreatLevel::Low),
            "medium" => Ok(ThreatLevel::Medium),
            "high" => Ok(ThreatLevel::High),
            _ => Err(UnknownThreatLevel(s.to_string())),
        }
    }
}

/// Where an analysed event came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EventSource {
    /// A CloudTrail record (log file, EventBridge "AWS API Call via CloudTrail", or bare record).
    Cloudtrail,
    /// A GuardDuty finding (GetFindings output or EventBridge "GuardDuty Finding").
    Guardduty,
    /// An S3 event notification record (`Records[].s3`).
    S3Notification,
    /// An EventBridge S3 event ("Object Created" / "Object Deleted").
    S3Eventbridge,
}

impl EventSource {
    pub fn as_str(self) -> &'static str {
        match self {
            EventSource::Cloudtrail => "cloudtrail",
            EventSource::Guardduty => "guardduty",
            EventSource::S3Notification => "s3_notification",
            EventSource::S3Eventbridge => "s3_eventbridge",
        }
    }
}

/// One rule that fired on an event, and why.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RuleHit {
    /// Stable rule identifier (Sigma `id`, or `trailguard.<name>` for built-in logic).
    pub rule_id: String,
    pub title: String,
    pub level: ThreatLevel,
    /// Human-readable reason: what matched.
    pub reason: String,
    /// MITRE ATT&CK technique ids, e.g. `T1562.008`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub mitre: Vec<String>,
}

/// The analysis of one event: exactly the guide's fields, then TrailGuard's provenance.
///
/// `s3_bucket`, `s3_key`, `s3_version_id`, `is_image_upload` and `media_type` always come from
/// the event itself, never from a model: the workflow deletes what they name.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AnalysisRecord {
    /// `[EventName][AccountId][Identity]`.
    pub event_title: String,
    pub summarize: String,
    pub threat_level: ThreatLevel,
    pub s3_bucket: Option<String>,
    pub s3_key: Option<String>,
    pub is_image_upload: bool,
    pub media_type: Option<String>,
    /// The object version the event names (S3 `VersionId`), when it names one.
    #[serde(default)]
    pub s3_version_id: Option<String>,
    pub event_id: Option<String>,
    pub event_time: Option<String>,
    pub source: EventSource,
    /// Every rule that fired, highest level first.
    #[serde(default)]
    pub reasons: Vec<RuleHit>,
    /// Union of the fired rules' ATT&CK technique ids, sorted.
    #[serde(default)]
    pub mitre_techniques: Vec<String>,
}

impl AnalysisRecord {
    /// Threat level implied by the rules alone: the highest fired level, low when none fired.
    pub fn rule_level(&self) -> ThreatLevel {
        self.reasons
            .iter()
            .map(|hit| hit.level)
            .max()
            .unwrap_or(ThreatLevel::Low)
    }

    /// Raises the threat level to `level` if higher; never lowers it (the rules are a floor).
    pub fn raise_to(&mut self, level: ThreatLevel) {
        self.threat_level = self.threat_level.max(level);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_are_ordered_and_round_trip() {
        assert!(ThreatLevel::Low < ThreatLevel::Medium && ThreatLevel::Medium < ThreatLevel::High);
        for level in ThreatLevel::ALL {
            assert_eq!(level.as_str().parse::<ThreatLevel>(), Ok(level));
            let json = serde_json::to_string(&level).unwrap();
            assert_eq!(json, format!("\"{level}\""));
        }
        assert!("critical".parse::<ThreatLevel>().is_err());
    }

    #[test]
    fn guardduty_severity_bands_follow_aws() {
        assert_eq!(ThreatLevel::from_guardduty_severity(1.0), ThreatLevel::Low);
        assert_eq!(ThreatLevel::from_guardduty_severity(3.9), ThreatLevel::Low);
        assert_eq!(
            ThreatLevel::from_guardduty_severity(4.0),
            ThreatLevel::Medium
        );
        assert_eq!(
            ThreatLevel::from_guardduty_severity(6.9),
            ThreatLevel::Medium
        );
        assert_eq!(ThreatLevel::from_guardduty_severity(7.0), ThreatLevel::High);
        assert_eq!(ThreatLevel::from_guardduty_severity(8.9), ThreatLevel::High);
    }

    #[test]
    fn sigma_levels_map_onto_three_steps() {
        assert_eq!(
            ThreatLevel::from_sigma_level("informational"),
            Some(ThreatLevel::Low)
        );
        assert_eq!(
            ThreatLevel::from_sigma_level("Critical"),
            Some(ThreatLevel::High)
        );
        assert_eq!(ThreatLevel::from_sigma_level("bogus"), None);
    }

    #[test]
    fn model_may_raise_but_never_lower() {
        let mut record = AnalysisRecord {
            event_title: "[PutObject][123][alice]".into(),
            summarize: String::new(),
            threat_level: ThreatLevel::Medium,
            s3_bucket: None,
            s3_key: None,
            s3_version_id: None,
            is_image_upload: false,
            media_type: None,
            event_id: None,
            event_time: None,
            source: EventSource::Cloudtrail,
            reasons: vec![],
            mitre_techniques: vec![],
        };
        record.raise_to(ThreatLevel::Low);
        assert_eq!(record.threat_level, ThreatLevel::Medium);
        record.raise_to(ThreatLevel::High);
        assert_eq!(record.threat_level, ThreatLevel::High);
    }
}
