//! Runs the `hello_lambda` example (a real lambda_runtime client) against the local Runtime API.
// Test helpers outside #[test] fns are test code too.
#![allow(clippy::unwrap_used)]

use std::path::PathBuf;
use std::time::Duration;

use trailguard_lambda_bench::{run_all, BenchConfig, Outcome};

/// Cargo builds the package's examples before its integration tests, beside `deps/`.
fn hello_lambda() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let profile_dir = exe.parent().and_then(|deps| deps.parent()).unwrap();
    let path = profile_dir.join("examples").join("hello_lambda");
    assert!(
        path.is_file(),
        "{} not built: run `cargo test -p trailguard-lambda-bench`",
        path.display()
    );
    path
}

fn config(events: Vec<&str>, runs: usize) -> BenchConfig {
    BenchConfig {
        bootstrap: hello_lambda(),
        events: events.into_iter().map(|e| e.as_bytes().to_vec()).collect(),
        runs,
        memory_mb: 128,
        env: vec![("RUST_LOG".into(), "off".into())],
        timeout: Duration::from_secs(30),
        show_output: false,
    }
}

#[test]
fn responses_and_errors_round_trip_through_the_runtime_api() {
    let summary = run_all(&config(
        vec![r#"{"n":1}"#, r#"{"fail":true}"#, r#"{"n":"three"}"#],
        2,
    ))
    .unwrap();

    assert_eq!(summary.runs.len(), 2);
    assert_eq!(summary.errors, 2);
    for run in &summary.runs {
        assert_eq!(run.invocations.len(), 3);
        let first = &run.invocations[0];
        match &first.outcome {
            Outcome::Response(body) => {
                let body: serde_json::Value = serde_json::from_slice(body).unwrap();
                assert_eq!(body["echo"], serde_json::json!({"n": 1}));
                assert_eq!(body["request_id"], first.request_id.as_str());
            }
            other => panic!("expected a response, got {other:?}"),
        }
        match &run.invocations[1].outcome {
            Outcome::Error { body, .. } => {
                let body = String::from_utf8_lossy(body);
                assert!(body.contains("asked to fail"), "{body}");
            }
            other => panic!("expected an error, got {other:?}"),
        }
        assert!(matches!(&run.invocations[2].outcome,
            Outcome::Response(body) if String::from_utf8_lossy(body).contains("three")));
        assert!(run.cold_start > Duration::ZERO);
        assert!(run.peak_rss_kib.unwrap() > 0);
    }
    assert!(summary.median_warm_invocation.is_some());
}
