//! The model stage: under the ask policy, the log prompt, one validated call (at most one
//! repair), and the merge: the model may only raise the level, and the S3 fields stay the
//! event's. Model trouble never fails an analysis; the deterministic record is kept with the
//! reason.

use trailguard_core::ask::converse_validated;
use trailguard_core::ports::ChatModel;
use trailguard_core::AnalysisRecord;
use trailguard_events::Event;

use crate::analysis::{Analysis, ModelOutcome, ModelStatus};
use crate::answer::validate_log_answer;
use crate::config::TriageConfig;
use crate::merge::merge_model_answer;
use crate::policy::{decide, AskDecision};
use crate::prompt::{build_log_prompt, LOG_OUTPUT_SCHEMA};

/// Asks `model` about `event` (given as `event_json`, its deterministic record `record`) when
/// the policy says so, and merges a valid answer into the record.
pub(crate) async fn consult(
    model: Option<&dyn ChatModel>,
    config: &TriageConfig,
    event_json: &str,
    event: &Event<'_>,
    mut record: AnalysisRecord,
) -> Analysis {
    let mut outcome = ModelOutcome::not_asked(ModelStatus::NotConfigured, record.threat_level);
    let Some(model) = model else {
        return Analysis {
            record,
            model: outcome,
        };
    };
    if let AskDecision::Skip(reason) = decide(&config.ask, event, &record) {
        outcome.status = ModelStatus::Skipped;
        outcome.reason = Some(reason);
        return Analysis {
            record,
            model: outcome,
        };
    }
    outcome.model_id = Some(config.model_id.clone());
    let prompt = match build_log_prompt(event_json, &record, &config.prompt) {
        Ok(prompt) => prompt,
        Err(error) => {
            outcome.status = ModelStatus::Fallback;
            outcome.reason = Some(format!("prompt not built: {error}"));
            return Analysis {
                record,
                model: outcome,
            };
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
    Analysis {
        record,
        model: outcome,
    }
}
