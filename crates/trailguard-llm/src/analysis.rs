//! The log-analysis service: rules first, then the model under the policy, validation, one
//! repair, merge, or the deterministic record with the reason. Only unparsable input is an error.

use serde::{Deserialize, Serialize};
use trailguard_analysis::{build_record, facts_from_event};
use trailguard_core::ports::ChatModel;
use trailguard_core::{AnalysisRecord, ThreatLevel};
use trailguard_detect::Detector;
use trailguard_events::{parse_event, ParseError};

use crate::ask::{converse_validated, RepairPolicy};
use crate::merge::merge_model_answer;
use crate::policy::{decide, AskConfig, AskDecision};
use crate::prompt::{build_log_prompt, InferenceParams, PromptOptions, LOG_OUTPUT_SCHEMA};
use crate::validate::{validate_log_answer, ResponseLimits};

/// The guide's log model (Claude 3 Haiku).
pub const DEFAULT_LOG_MODEL_ID: &str = "anthropic.claude-3-haiku-20240307-v1:0";

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

/// The analysis record (the guide's fields first) plus the model's outcome under `model`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AssistedAnalysis {
    #[serde(flatten)]
    pub record: AnalysisRecord,
    pub model: ModelOutcome,
}

#[derive(Debug, Clone, PartialEq)]
pub struct AnalysisConfig {
    pub ask: AskConfig,
    pub model_id: String,
    pub inference: InferenceParams,
    pub prompt: PromptOptions,
    pub limits: ResponseLimits,
    pub repair: RepairPolicy,
}

impl Default for AnalysisConfig {
    fn default() -> Self {
        AnalysisConfig {
            ask: AskConfig::default(),
            model_id: DEFAULT_LOG_MODEL_ID.into(),
            inference: InferenceParams::guide_logs(),
            prompt: PromptOptions::default(),
            limits: ResponseLimits::default(),
            repair: RepairPolicy::default(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum AnalysisError {
    #[error("cannot analyse the input: {0}")]
    Parse(#[from] ParseError),
}

/// Analyses one event (an EventBridge envelope, a bare CloudTrail record, an S3 notification
/// record or a GuardDuty finding).
pub async fn analyze_event(
    json: &str,
    detector: &Detector,
    model: Option<&dyn ChatModel>,
    config: &AnalysisConfig,
) -> Result<AssistedAnalysis, AnalysisError> {
    let event = parse_event(json)?;
    let hits = detector.detect(&event);
    let mut record = build_record(&facts_from_event(&event), hits);
    let rule_level = record.threat_level;
    let mut outcome = ModelOutcome {
        status: ModelStatus::NotConfigured,
        model_id: None,
        calls: 0,
        rule_threat_level: rule_level,
        model_threat_level: None,
        reason: None,
        notes: Vec::new(),
    };
    let Some(model) = model else {
        return Ok(AssistedAnalysis {
            record,
            model: outcome,
        });
    };
    if let AskDecision::Skip(reason) = decide(&config.ask, &event, &record) {
        outcome.status = ModelStatus::Skipped;
        outcome.reason = Some(reason);
        return Ok(AssistedAnalysis {
            record,
            model: outcome,
        });
    }
    outcome.model_id = Some(config.model_id.clone());
    let prompt = match build_log_prompt(json, &record, &config.prompt) {
        Ok(prompt) => prompt,
        Err(error) => {
            outcome.status = ModelStatus::Fallback;
            outcome.reason = Some(format!("prompt not built: {error}"));
            return Ok(AssistedAnalysis {
                record,
                model: outcome,
            });
        }
    };
    let request = prompt.to_request(&config.model_id, config.inference);
    let limits = config.limits;
    let answer = converse_validated(
        model,
        &request,
        config.repair,
        &config.prompt,
        LOG_OUTPUT_SCHEMA,
        |text| validate_log_answer(text, &limits),
    )
    .await;
    match answer {
        Ok(validated) => {
            outcome.calls = validated.calls;
            outcome.status = if validated.repaired {
                ModelStatus::Repaired
            } else {
                ModelStatus::Accepted
            };
            outcome.model_threat_level = Some(validated.value.threat_level);
            outcome.notes = merge_model_answer(&mut record, &validated.value, &config.limits);
        }
        Err(failure) => {
            tracing::warn!(reason = %failure.reason(), "model answer not used; deterministic record kept");
            outcome.calls = failure.calls();
            outcome.status = ModelStatus::Fallback;
            outcome.reason = Some(failure.reason());
        }
    }
    Ok(AssistedAnalysis {
        record,
        model: outcome,
    })
}
