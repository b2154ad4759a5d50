//! The scale bench's code on a small corpus: the report is sane, the corpus is varied and
//! deterministic, and every count or top-N an answer gave matches brute force over the same
//! generated documents.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code

mod support;

use std::collections::{HashMap, HashSet};

use trailguard_kb::plan::Intent;
use trailguard_kb::KnowledgeDoc;
use trailguard_kb_index::bench::{self, top_of, BenchError, BenchOptions, Corpus};

const DOCS: usize = 2_000;

#[test]
fn the_bench_reports_what_brute_force_says() {
    let Some(data) = support::shared_data() else {
        return;
    };
    let work = tempfile::tempdir().unwrap();
    let mut options = BenchOptions::new(DOCS, work.path().join("bench"), data.clone());
    // Several batches: commits, segments and the stored-hash lookups of later batches.
    options.batch = 512;
    let report = bench::run(&options).unwrap();

    assert_eq!(report.docs_indexed, DOCS as u64);
    assert_eq!(report.batch_rates.len(), DOCS.div_ceil(512));
    assert!(report.batch_rates.iter().all(|r| *r > 0.0));
    assert!(report.index_bytes > 100_000, "{} bytes", report.index_bytes);
    assert!(report.queries.segments >= 1);
    assert!(report.peak_rss.is_some_and(|b| b > 1_000_000));
    assert!(report.checks.len() >= 20);
    for check in &report.checks {
        assert_eq!(check.store, check.expected, "{}", check.name);
    }
    assert!(
        report.top_checks.iter().all(|(_, ok)| *ok),
        "{:?}",
        report.top_checks
    );
    // Some checks select something, some are selective: the filters mean something.
    assert!(report.checks.iter().filter(|c| c.expected > 0).count() >= 15);
    assert!(report
        .checks
        .iter()
        .any(|c| c.expected > 0 && c.expected < DOCS as u64 / 20));

    let q = &report.queries;
    assert!(q.runs.len() >= 200, "{} questions", q.runs.len());
    assert_eq!(q.all.n, q.runs.len());
    assert!(q.all.p50 > 0.0 && q.all.p50 <= q.all.p95);
    assert!(q.all.p95 <= q.all.p99 && q.all.p99 <= q.all.max);
    assert!(q.runs.iter().all(|r| r.time > std::time::Duration::ZERO));
    let languages: HashSet<&str> = q.runs.iter().map(|r| r.plan.language.as_str()).collect();
    assert_eq!(languages.len(), 2, "English and Korean");
    let intents: HashSet<String> = q
        .runs
        .iter()
        .map(|r| {
            format!("{:?}", r.plan.intent)
                .chars()
                .take_while(|c| c.is_alphabetic())
                .collect()
        })
        .collect();
    for kind in [
        "Count",
        "Top",
        "Activity",
        "List",
        "Search",
        "CountDistinct",
    ] {
        assert!(intents.contains(kind), "no {kind} question in {intents:?}");
    }
    assert!(q.runs.iter().filter(|r| !r.no_data).count() > q.runs.len() * 3 / 4);

    // The answers' numbers against brute force over the same documents.
    let templates = bench::load_templates(&data, &work.path().join("scratch")).unwrap();
    let corpus = Corpus::new(templates, DOCS, options.seed);
    let docs: Vec<KnowledgeDoc> = corpus.generate(DOCS).collect();
    let mut counted = 0;
    let mut ranked = 0;
    for run in &q.runs {
        if !run.plan.unknown.is_empty() {
            assert!(run.no_data, "{}", run.question);
            continue;
        }
        let matching: Vec<&KnowledgeDoc> = docs
            .iter()
            .filter(|d| run.plan.filters.matches(d))
            .collect();
        // A list whose words no document holds answers "none of them is about ...": 0.
        let unmatched_words =
            run.no_data && matches!(run.plan.intent, Intent::List | Intent::Search);
        if let Some(count) = run.facts.count.filter(|_| !unmatched_words) {
            assert_eq!(count, matching.len() as u64, "{}", run.question);
            counted += 1;
        }
        if let Intent::Top { facet, n } = run.plan.intent {
            let mut counts: HashMap<String, u64> = HashMap::new();
            for doc in &matching {
                for value in facet.values(doc) {
                    *counts.entry(value).or_insert(0) += 1;
                }
            }
            assert_eq!(run.facts.top, top_of(&counts, n), "{}", run.question);
            ranked += 1;
        }
    }
    assert!(counted >= 100, "{counted} counts checked");
    assert!(ranked >= 20, "{ranked} top-N checked");
}

#[test]
fn the_corpus_is_varied_and_the_same_every_time() {
    let Some(data) = support::shared_data() else {
        return;
    };
    let work = tempfile::tempdir().unwrap();
    let templates = bench::load_templates(&data, work.path()).unwrap();
    let corpus = Corpus::new(templates, DOCS, 15);
    let docs: Vec<KnowledgeDoc> = corpus.generate(DOCS).collect();
    assert_eq!(docs.len(), DOCS);
    let distinct =
        |f: fn(&KnowledgeDoc) -> String| docs.iter().map(f).collect::<HashSet<_>>().len();
    assert_eq!(distinct(|d| d.id.clone()), DOCS, "ids are unique");
    assert!(distinct(|d| d.principal.clone()) > 40);
    assert!(distinct(|d| d.source_ip.clone()) > 40);
    assert!(distinct(|d| d.account.clone()) >= 5);
    assert!(distinct(|d| d.event_name.clone()) > 50);
    assert_eq!(distinct(|d| d.threat_level.as_str().to_string()), 3);
    assert_eq!(
        distinct(|d| d.kind.as_str().to_string()),
        3,
        "events, findings, outcomes"
    );
    // Far from copies: summaries differ as the facts do.
    assert!(distinct(|d| d.summary.clone()) > DOCS / 2);
    let (low, high) = docs.iter().fold((i64::MAX, i64::MIN), |(l, h), d| {
        (l.min(d.time), h.max(d.time))
    });
    assert!(high - low > 300 * 86_400, "times spread over the year");
    // The summary follows the new facts.
    let varied = docs
        .iter()
        .find(|d| d.principal_type == "IAMUser" && d.principal.contains('.'))
        .unwrap();
    assert!(
        varied.summary.contains(&varied.principal),
        "{}",
        varied.summary
    );
    assert!(varied.title.contains(&varied.principal), "{}", varied.title);
    // Deterministic: the same seed gives the same documents and questions.
    let again: Vec<KnowledgeDoc> = corpus.generate(100).collect();
    assert_eq!(&docs[..100], &again[..]);
    assert_eq!(corpus.questions(), corpus.questions());
    let other = Corpus::new(corpus.templates().to_vec(), DOCS, 16);
    assert_ne!(other.generate(10).collect::<Vec<_>>(), &docs[..10]);
}

#[test]
fn missing_shared_data_names_the_setting() {
    let work = tempfile::tempdir().unwrap();
    let options = BenchOptions::new(10, work.path().join("bench"), work.path().join("no-data"));
    let error = bench::run(&options).unwrap_err();
    assert!(matches!(error, BenchError::Data(_)), "{error}");
    let message = error.to_string();
    assert!(
        message.contains("--data") && message.contains("TRAILGUARD_DATA"),
        "{message}"
    );
}

#[test]
fn a_directory_in_use_is_refused() {
    let work = tempfile::tempdir().unwrap();
    std::fs::write(work.path().join("precious.txt"), "keep me").unwrap();
    let options = BenchOptions::new(10, work.path().to_path_buf(), work.path().join("no-data"));
    let error = bench::run(&options).unwrap_err();
    assert!(matches!(error, BenchError::Usage(_)), "{error}");
    assert!(work.path().join("precious.txt").exists());
}
