//! Malformed and truncated expressions must give errors, never panics: every suite expression is
//! cut at several points (and spliced with operator characters) and parsed and evaluated.

use std::time::Duration;
use trailguard_jsonata::{suite, Environment, Expression};

#[test]
fn mangled_suite_expressions_never_panic() {
    let cases = suite::load(&suite::default_dir()).unwrap_or_else(|e| panic!("{e}"));
    let mut env = Environment::new();
    env.set_time_limit(Some(Duration::from_millis(20)));
    env.set_max_depth(300);
    let mut parsed = 0;
    let mut tried = 0;
    for case in &cases {
        let chars: Vec<char> = case.expr.chars().collect();
        let n = chars.len();
        let cuts = [n / 3, n / 2, (2 * n) / 3, n.saturating_sub(1)];
        for (i, cut) in cuts.iter().enumerate() {
            let mut mangled: String = chars[..*cut].iter().collect();
            if i % 2 == 1 {
                mangled
                    .push_str(["(", "[", "{", "%", "@$x", "#$i", "~>", "/", "..", "|"][cut % 10]);
                mangled.extend(&chars[*cut..]);
            }
            tried += 1;
            if let Ok(expr) = Expression::parse(&mangled) {
                parsed += 1;
                let _ = expr.evaluate(case.data.as_ref(), &env);
            }
        }
    }
    // Random single-character edits, seeded so failures reproduce.
    // JSONATA_FUZZ_SEED / JSONATA_FUZZ_EDITS widen the search when run by hand.
    let seed = std::env::var("JSONATA_FUZZ_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(7);
    let edits: usize = std::env::var("JSONATA_FUZZ_EDITS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(6);
    let mut rng = fastrand::Rng::with_seed(seed);
    let trace = std::env::var("JSONATA_FUZZ_TRACE").is_ok();
    let alphabet: Vec<char> = "()[]{}<>$%#@~^&|?:;,.\"'`/*-+=!01a \\".chars().collect();
    for case in &cases {
        let chars: Vec<char> = case.expr.chars().collect();
        for _ in 0..edits {
            let mut edited = chars.clone();
            let at = rng.usize(..=edited.len());
            let c = alphabet[rng.usize(..alphabet.len())];
            match rng.u8(..3) {
                0 if at < edited.len() => edited[at] = c,
                1 if at < edited.len() => {
                    edited.remove(at);
                }
                _ => edited.insert(at, c),
            }
            let text: String = edited.into_iter().collect();
            if trace {
                eprintln!("TRY {} :: {text}", case.name);
            }
            tried += 1;
            if let Ok(expr) = Expression::parse(&text) {
                parsed += 1;
                let _ = expr.evaluate(case.data.as_ref(), &env);
            }
        }
    }
    assert!(tried > 10000, "only {tried} mangled expressions");
    assert!(parsed > 0);
}
