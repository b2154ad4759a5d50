//! Measures the crates.io `jsonata-rs` engine on the official JSONata 2.0.6 suite, with the same
//! harness as `tests/suite.rs`. Run:
//! `cargo run -p trailguard-jsonata --features compare-jsonata-rs --example jsonata_rs_suite`.
//! JSONATA_SUITE_VERBOSE=1 lists the failing cases.

use std::collections::HashMap;
use std::panic::{catch_unwind, AssertUnwindSafe};
use trailguard_jsonata::suite;

fn run_case(case: &suite::Case) -> suite::Outcome {
    let arena = bumpalo::Bump::new();
    let input = case.data.as_ref().map(|d| d.to_string());
    let result = catch_unwind(AssertUnwindSafe(|| {
        let jsonata =
            jsonata_rs::JsonAta::new(&case.expr, &arena).map_err(|e| e.code().to_string())?;
        let value = if case.bindings.is_empty() {
            jsonata.evaluate_timeboxed(
                input.as_deref(),
                Some(case.depth.unwrap_or(500)),
                Some(case.timelimit_ms.unwrap_or(5000) as usize),
            )
        } else {
            let bindings: HashMap<&str, &serde_json::Value> =
                case.bindings.iter().map(|(k, v)| (k.as_str(), v)).collect();
            jsonata.evaluate(input.as_deref(), Some(&bindings))
        }
        .map_err(|e| e.code().to_string())?;
        if value.is_undefined() {
            return Ok(None);
        }
        serde_json::from_str(&value.serialize(false))
            .map(Some)
            .map_err(|e| format!("unserialisable: {e}"))
    }));
    result.unwrap_or_else(|_| Err("panic".to_string()))
}

fn main() -> Result<(), String> {
    std::panic::set_hook(Box::new(|_| {}));
    let cases = suite::load(&suite::default_dir())?;
    // jsonata-rs recurses deeply: give it a big stack.
    let report = std::thread::Builder::new()
        .stack_size(1 << 30)
        .spawn(move || suite::run(&cases, run_case))
        .map_err(|e| e.to_string())?
        .join()
        .map_err(|_| "runner thread died".to_string())?;
    if std::env::var("JSONATA_SUITE_VERBOSE").is_ok_and(|v| v == "1") {
        for f in &report.failures {
            println!("FAIL {f}");
        }
    }
    println!(
        "jsonata-rs 0.3.4: {}/{} passed ({:.1}%)",
        report.passed,
        report.total,
        report.rate() * 100.0
    );
    Ok(())
}
