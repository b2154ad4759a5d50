//! The model stage: under the ask policy, the log prompt, one validated call (at most one
//! repair), and the merge: the model may only raise the level, and the S3 fields stay the
//! event's. Model trouble never fails an analysis; the deterministic record is kept with the
//! reason.

use trailguard_core::ask::{converse_validated, ModelFailure, PromptError, Validated};
use trailguard_core::ports::ChatModel;
use trailguard_core::AnalysisRecord;
use trailguard_events::{parse_event, Event, ParseError};

use crate::analysis::{Analysis, ModelOutcome, ModelStatus};
use crate::answer::{validate_log_answer, ModelAnalysis};
use crate::config::TriageConfig;
use crate::merge::merge_model_answer_in;
use crate::policy::{decide, AskDecision};
use crate::prompt::{
    build_log_prompt_with, guide_request, LogPromptSettings, PromptRules, LOG_OUTPUT_SCHEMA,
};
use crate::record::record_from_event;

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
    let settings = LogPromptSettings {
        language: config.language,
        rules: PromptRules::Include,
    };
    let prompt = match build_log_prompt_with(event_json, &record, settings, &config.prompt) {
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
            outcome.notes = merge_model_answer_in(
                &mut record,
                &validated.value,
                &config.limits,
                config.language,
            );
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

/// Which prompt asks the model alone.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ModelOnlyPrompt {
    /// TrailGuard's prompt without the rules' findings (facts only).
    #[default]
    Compact,
    /// The guide's own prompt (the raw event, its `<example>`).
    Guide,
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ModelOnlyError {
    #[error("cannot analyse the input: {0}")]
    Parse(#[from] ParseError),
    #[error("prompt not built: {0}")]
    Prompt(#[from] PromptError),
    #[error("{}", .0.reason())]
    Model(ModelFailure),
}

/// The model's verdict on `event_json` with no rule findings in the prompt, validated (one
/// repair), unmerged: what the model says alone, for evaluations. Production goes through
/// [`crate::Triage::analyze`], where the rules are a floor.
pub async fn model_only_verdict(
    model: &dyn ChatModel,
    config: &TriageConfig,
    event_json: &str,
    prompt: ModelOnlyPrompt,
) -> Result<Validated<ModelAnalysis>, ModelOnlyError> {
    let request = match prompt {
        ModelOnlyPrompt::Compact => {
            let event = parse_event(event_json)?;
            let facts = record_from_event(&event, Vec::new(), Vec::new());
            let settings = LogPromptSettings {
                language: config.language,
                rules: PromptRules::Omit,
            };
            build_log_prompt_with(event_json, &facts, settings, &config.prompt)?
                .to_request(&config.model_id, config.inference)
        }
        ModelOnlyPrompt::Guide => guide_request(event_json, &config.model_id, config.inference),
    };
    let limits = config.limits;
    converse_validated(
        model,
        &request,
        config.repair,
        &config.prompt,
        LOG_OUTPUT_SCHEMA,
        |text| validate_log_answer(text, &limits),
    )
    .await
    .map_err(ModelOnlyError::Model)
}
