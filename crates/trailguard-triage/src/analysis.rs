//! What one analysis returns: the record (the guide's fields first) and what the model
//! contributed to it.

use serde::{Deserialize, Serialize};
use trailguard_core::{AnalysisRecord, ThreatLevel};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ModelStatus {
    /// No model configured: the record is the deterministic one.
    NotConfigured,
    /// The policy chose not to ask (reason given).
    Skipped,
    /// The first answer was valid and merged.
    Accepted,
    /// The repair answer was valid and merged.
    Repaired,
    /// No valid answer: the deterministic record, with the reason.
    Fallback,
}

/// What the model contributed to one analysis.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelOutcome {
    pub status: ModelStatus,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model_id: Option<String>,
    /// Model calls made (0 when not asked; 2 after a repair).
    pub calls: u32,
    /// The rules' level, a floor for the final level.
    pub rule_threat_level: ThreatLevel,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model_threat_level: Option<ThreatLevel>,
    /// Why the model was skipped or why its answer was not used.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// What of the answer was not taken (lowered level, different bucket/key, extra fields).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
}

impl ModelOutcome {
    /// The outcome before the model is consulted: nothing asked, the rules' level as the floor.
    pub fn not_asked(status: ModelStatus, rule_threat_level: ThreatLevel) -> Self {
        ModelOutcome {
            status,
            model_id: None,
            calls: 0,
            rule_threat_level,
            model_threat_level: None,
            reason: None,
            notes: Vec::new(),
        }
    }
}

/// The analysis record (the guide's fields first) plus the model's outcome under `model`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Analysis {
    #[serde(flatten)]
    pub record: AnalysisRecord,
    pub model: ModelOutcome,
}
