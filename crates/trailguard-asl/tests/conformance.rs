//! The AWS-recorded ASL conformance corpus, replayed.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test helpers panic on purpose

use std::path::PathBuf;

fn corpus() -> PathBuf {
    let root = std::env::var("TRAILGUARD_DATA")
        .map(PathBuf::from)
        .unwrap_or_else(|_| {
            PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/data"))
        });
    let dir = root.join("asl-conformance");
    assert!(
        dir.is_dir(),
        "the ASL conformance corpus is missing at {} (set TRAILGUARD_DATA)",
        dir.display()
    );
    dir
}

/// The pass rate reached; the test fails if it drops.
const FLOOR: f64 = 1.0;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conformance_corpus_pass_rate() {
    let report = trailguard_asl::run_conformance(&corpus()).await.unwrap();
    for failure in &report.failures {
        eprintln!("FAIL {}: {}", failure.case, failure.reason);
    }
    eprintln!(
        "passed {}/{} ({:.1}%)",
        report.passed,
        report.total,
        report.pass_rate() * 100.0
    );
    assert_eq!(report.total, 106);
    assert!(
        report.pass_rate() >= FLOOR,
        "pass rate {} below floor {FLOOR}",
        report.pass_rate()
    );
}
