//! Public API behaviour: the Step Functions flavour, bindings, limits and value conversion.

// Helpers below are test code too.
#![allow(clippy::unwrap_used)]

use serde_json::json;
use std::time::Duration;
use trailguard_jsonata::{Environment, Expression};

fn eval(expr: &str, input: serde_json::Value, env: &Environment) -> Option<serde_json::Value> {
    Expression::parse(expr)
        .unwrap()
        .evaluate(Some(&input), env)
        .unwrap()
}

fn sfn(expr: &str) -> Option<serde_json::Value> {
    eval(expr, json!(null), &Environment::step_functions())
}

fn sfn_err(expr: &str) -> String {
    Expression::parse(expr)
        .unwrap()
        .evaluate(None, &Environment::step_functions())
        .unwrap_err()
        .code
}

#[test]
fn partition_chunks_with_a_short_last_chunk() {
    assert_eq!(
        sfn("$partition([1,2,3,4,5,6,7,8,9], 3)"),
        Some(json!([[1, 2, 3], [4, 5, 6], [7, 8, 9]]))
    );
    assert_eq!(
        sfn("$partition([1,2,3,4,5], 2)"),
        Some(json!([[1, 2], [3, 4], [5]]))
    );
    assert_eq!(sfn("$partition([], 2)"), Some(json!([])));
    assert_eq!(sfn_err("$partition([1,2], 0)"), "D3201");
}

#[test]
fn range_is_inclusive_and_steps_both_ways() {
    assert_eq!(sfn("$range(0, 10, 2)"), Some(json!([0, 2, 4, 6, 8, 10])));
    assert_eq!(sfn("$range(1, 4)"), Some(json!([1, 2, 3, 4])));
    assert_eq!(sfn("$range(5, 1, -2)"), Some(json!([5, 3, 1])));
    assert_eq!(sfn("$range(5, 1, 1)"), Some(json!([])));
    assert_eq!(sfn_err("$range(1, 5, 0)"), "D3202");
}

#[test]
fn hash_supports_aws_algorithms() {
    assert_eq!(
        sfn("$hash('abc', 'MD5')"),
        Some(json!("900150983cd24fb0d6963f7d28e17f72"))
    );
    assert_eq!(
        sfn("$hash('abc', 'SHA-1')"),
        Some(json!("a9993e364706816aba3e25717850c26c9cd0d89d"))
    );
    assert_eq!(
        sfn("$hash('abc', 'SHA-256')"),
        Some(json!(
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        ))
    );
    let sha384 = sfn("$hash('abc', 'SHA-384')").unwrap();
    assert_eq!(sha384.as_str().unwrap().len(), 96);
    let sha512 = sfn("$hash('abc', 'SHA-512')").unwrap();
    assert!(sha512.as_str().unwrap().starts_with("ddaf35a193617aba"));
    assert_eq!(sfn_err("$hash('abc', 'SHA-999')"), "D3203");
}

#[test]
fn random_is_in_unit_interval_and_seeded_is_repeatable() {
    let r = sfn("$random()").unwrap().as_f64().unwrap();
    assert!((0.0..1.0).contains(&r));
    let a = sfn("$random(42)").unwrap();
    let b = sfn("$random(42)").unwrap();
    assert_eq!(a, b);
    assert_ne!(sfn("$random(42)"), sfn("$random(43)"));
}

#[test]
fn uuid_is_version_4() {
    let u = sfn("$uuid()").unwrap();
    let s = u.as_str().unwrap();
    assert_eq!(s.len(), 36);
    assert_eq!(&s[14..15], "4");
    assert_ne!(sfn("$uuid()"), sfn("$uuid()"));
}

#[test]
fn parse_reads_json_strings() {
    assert_eq!(
        sfn(r#"$parse('{"a": [1, 2.5, "x"]}')"#),
        Some(json!({"a": [1, 2.5, "x"]}))
    );
    assert_eq!(sfn_err("$parse('{not json')"), "D3200");
}

#[test]
fn eval_is_removed_in_step_functions_only() {
    assert_eq!(
        eval("$eval('1+1')", json!(null), &Environment::new()),
        Some(json!(2))
    );
    assert_eq!(sfn_err("$eval('1+1')"), "T1006");
    assert!(!Environment::step_functions().has_function("eval"));
    assert!(!Environment::new().has_function("partition"));
}

#[test]
fn guide_expressions_evaluate_with_states_binding() {
    let mut env = Environment::step_functions();
    env.bind(
        "states",
        json!({
            "input": {"pii_detected": "true"},
            "result": {"Output": {"Message": {"Content": [{"Text": "```json\n{\"threat_level\": \"HIGH\"}\n```"}]}}}
        }),
    );
    let parsed = Expression::parse(
        r#"$parse($replace($replace($states.result.Output.Message.Content[0].Text, "```json",""), "```",""))"#,
    )
    .unwrap();
    assert_eq!(
        parsed.evaluate(None, &env).unwrap(),
        Some(json!({"threat_level": "HIGH"}))
    );
    let cond = Expression::parse("$states.input.pii_detected = 'true'").unwrap();
    assert_eq!(cond.evaluate(None, &env).unwrap(), Some(json!(true)));
}

#[test]
fn integral_numbers_come_out_as_integers() {
    let env = Environment::new();
    assert_eq!(eval("1.5 * 2", json!(null), &env), Some(json!(3)));
    assert!(eval("1.5 * 2", json!(null), &env).unwrap().is_i64());
    assert_eq!(eval("7 / 2", json!(null), &env), Some(json!(3.5)));
}

#[test]
fn non_finite_results_are_errors() {
    let err = Expression::parse("1/0")
        .unwrap()
        .evaluate(None, &Environment::new())
        .unwrap_err();
    assert_eq!(err.code, "D1001");
}

#[test]
fn undefined_input_and_result() {
    let e = Expression::parse("missing.path").unwrap();
    assert_eq!(e.evaluate(None, &Environment::new()).unwrap(), None);
    assert_eq!(
        e.evaluate(Some(&json!({"a": 1})), &Environment::new())
            .unwrap(),
        None
    );
}

#[test]
fn syntax_errors_carry_codes() {
    assert_eq!(Expression::parse("(1 + ").unwrap_err().code, "S0207");
    assert_eq!(Expression::parse("\"abc").unwrap_err().code, "S0101");
}

#[test]
fn deep_recursion_is_an_error_not_a_crash() {
    let mut env = Environment::new();
    env.set_max_depth(500);
    let e = Expression::parse("($f := function($n) { $n = 0 ? 0 : 1 + $f($n - 1) }; $f(100000))")
        .unwrap();
    assert_eq!(e.evaluate(None, &env).unwrap_err().code, "U1001");
}

#[test]
fn default_depth_limit_holds_on_a_small_stack() {
    // A 2 MiB thread (tokio's default) must report U1001, not overflow its stack.
    let handle = std::thread::Builder::new()
        .stack_size(2 << 20)
        .spawn(|| {
            let e = Expression::parse(
                "($f := function($n) { $n = 0 ? 0 : 1 + $f($n - 1) }; $f(100000))",
            )
            .unwrap();
            e.evaluate(None, &Environment::new()).unwrap_err().code
        })
        .unwrap();
    assert_eq!(handle.join().unwrap(), "U1001");
}

#[test]
fn infinite_loops_hit_the_time_limit() {
    let mut env = Environment::new();
    env.set_time_limit(Some(Duration::from_millis(200)));
    let e = Expression::parse("($f := function($n) { $f($n + 1) }; $f(0))").unwrap();
    assert_eq!(e.evaluate(None, &env).unwrap_err().code, "U1001");
}

#[test]
fn expressions_are_send_and_sync() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Expression>();
    assert_send_sync::<Environment>();
}

#[test]
fn deeply_nested_values_neither_overflow_nor_escape() {
    let handle = std::thread::Builder::new()
        .stack_size(2 << 20)
        .spawn(|| {
            let env = Environment::new();
            let build = "$reduce([1..100000], function($a, $b) { {'a': $a} }, {})";
            let inner = Expression::parse(&format!("{build}.a.a.a ? 'ok' : 'no'")).unwrap();
            let deep = Expression::parse(build).unwrap();
            (
                inner.evaluate(None, &env).unwrap(),
                deep.evaluate(None, &env).unwrap_err().code,
            )
        })
        .unwrap();
    let (inner, deep) = handle.join().unwrap();
    assert_eq!(inner, Some(json!("ok")));
    assert_eq!(deep, "U1001");
}

#[test]
fn deeply_nested_expressions_are_rejected_not_overflowed() {
    let handle = std::thread::Builder::new()
        .stack_size(2 << 20)
        .spawn(|| {
            let ok = format!("{}1{}", "(".repeat(500), ")".repeat(500));
            let too_deep = format!("{}1{}", "(".repeat(100_000), ")".repeat(100_000));
            let ok = Expression::parse(&ok)
                .unwrap()
                .evaluate(None, &Environment::new())
                .unwrap();
            (ok, Expression::parse(&too_deep).unwrap_err().code)
        })
        .unwrap();
    let (ok, code) = handle.join().unwrap();
    assert_eq!(ok, Some(json!(1)));
    assert_eq!(code, "U1001");
}
