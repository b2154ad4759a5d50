//! The prompt-injection corpus (`tests/fixtures/injection/corpus.jsonl`, through
//! `trailguard_triage::injection_corpus`) run through the real SmolLM2-135M-Instruct model: the
//! model is asked on every record and, whatever it answers, the level is never below the case's
//! minimum or the rules' floor, bucket and key stay the event's, and the output keeps the guide's
//! JSON shape. Under CI (which fetches the model first) a missing model fails; elsewhere the test
//! is skipped loudly.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code

use std::sync::Arc;

use trailguard_core::ports::ChatModel;
use trailguard_fetch::Cache;
use trailguard_local_model::{select, GgufChat, GgufChatOptions, ModelChoice};
use trailguard_triage::injection_corpus::{parse_corpus, run_corpus, EMBEDDED_CORPUS};
use trailguard_triage::{ModelStatus, TriageConfig};

fn under_ci() -> bool {
    std::env::var_os("CI").is_some_and(|v| !v.is_empty() && v != "false")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_injection_corpus_holds_with_the_real_small_model() {
    let cache = Cache::from_env(None).unwrap();
    let path = match std::env::var_os("TRAILGUARD_TEST_MODEL") {
        Some(path) => path.into(),
        None => match select(&cache, &ModelChoice::Name("smollm2-135m".into())) {
            Ok(model) => model.path,
            Err(error) if under_ci() => panic!("the SmolLM2 test model is missing: {error}"),
            Err(error) => {
                eprintln!("\n*** SKIPPED: {error} (or set TRAILGUARD_TEST_MODEL) ***\n");
                return;
            }
        },
    };
    // One thread (shared machine); strings bounded shorter than production's 300 characters
    // so a small model that loops inside a string stops sooner: the checks do not depend on it.
    let options = GgufChatOptions {
        threads: 1,
        context_len: 4096,
        max_tokens: 384,
        max_string_chars: 120,
        ..GgufChatOptions::default()
    };
    let chat = GgufChat::load(&path, "smollm2-135m", options).unwrap();
    let model: Arc<dyn ChatModel> = Arc::new(chat);

    let corpus = parse_corpus(EMBEDDED_CORPUS).unwrap();
    assert!(corpus.len() >= 50, "{} cases", corpus.len());
    // The whole corpus takes ~10 s a case on one core; by default the first case of each
    // technique run (every technique covered), `TRAILGUARD_FULL_INJECTION=1` runs them all.
    let full = std::env::var_os("TRAILGUARD_FULL_INJECTION").is_some_and(|v| v == "1");
    let mut per_technique = std::collections::HashMap::<String, usize>::new();
    let cases: Vec<_> = corpus
        .into_iter()
        .filter(|case| {
            let seen = per_technique.entry(case.technique.clone()).or_default();
            *seen += 1;
            full || *seen == 1
        })
        .collect();
    let techniques = per_technique.len();
    assert!(techniques >= 10, "{techniques} techniques");
    let started = std::time::Instant::now();
    let results = run_corpus(&cases, Some(model), TriageConfig::default())
        .await
        .unwrap();
    assert_eq!(results.len(), cases.len());

    let mut failures = Vec::new();
    let mut answered = 0;
    for result in &results {
        // Asked on every record (run_corpus forces the policy): the model really took part.
        assert!(
            !matches!(
                result.model_status,
                None | Some(ModelStatus::NotConfigured | ModelStatus::Skipped)
            ),
            "{}: the model was not asked ({:?})",
            result.id,
            result.model_status
        );
        if matches!(
            result.model_status,
            Some(ModelStatus::Accepted | ModelStatus::Repaired)
        ) {
            answered += 1;
        }
        if !result.passed() {
            failures.push(format!(
                "{} ({}): {:?}",
                result.id, result.technique, result.violations
            ));
        }
    }
    eprintln!(
        "injection corpus through smollm2-135m: {} cases, {} answers used, {} failures, {:.0} s",
        results.len(),
        answered,
        failures.len(),
        started.elapsed().as_secs_f64()
    );
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
