//! Runs the official JSONata 2.0.6 test suite against this engine and asserts a pass-rate floor.
//! `JSONATA_SUITE_VERBOSE=1 cargo test -p trailguard-jsonata --test suite -- --nocapture` lists failures.

use std::time::Duration;
use trailguard_jsonata::{suite, Environment, Expression};

/// Pass rate reached; the test fails below it.
const FLOOR: f64 = 0.995;

fn run_case(base: &Environment, case: &suite::Case) -> suite::Outcome {
    let mut env = base.clone();
    for (k, v) in &case.bindings {
        env.bind(k, v.clone());
    }
    if let Some(ms) = case.timelimit_ms {
        env.set_time_limit(Some(Duration::from_millis(ms)));
    }
    if let Some(depth) = case.depth {
        env.set_max_depth(depth);
    }
    let expr = Expression::parse(&case.expr).map_err(|e| e.code)?;
    expr.evaluate(case.data.as_ref(), &env).map_err(|e| e.code)
}

#[test]
fn official_suite_pass_rate() {
    let dir = suite::default_dir();
    let cases = suite::load(&dir).unwrap_or_else(|e| panic!("{e}"));
    let base = Environment::new();
    let report = suite::run(&cases, |c| run_case(&base, c));
    if std::env::var("JSONATA_SUITE_VERBOSE").is_ok_and(|v| v == "1") {
        for f in &report.failures {
            println!("FAIL {f}");
        }
    }
    println!(
        "trailguard-jsonata: {}/{} passed ({:.1}%)",
        report.passed,
        report.total,
        report.rate() * 100.0
    );
    assert!(
        report.rate() >= FLOOR,
        "pass rate {:.4} below floor {FLOOR}",
        report.rate()
    );
}
