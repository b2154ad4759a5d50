//! Every loaded SigmaHQ rule matches an event generated from its own detection.

use super::*;
use crate::{LogSourceFilter, RuleSet};
use serde_json::{json, Map, Value};

/// Selections that must be true for the condition to hold (first branch of every `or`).
fn positive(cond: &Cond, out: &mut Vec<usize>) {
    match cond {
        Cond::Sel(i) => out.push(*i),
        Cond::Not(_) => {}
        Cond::And(parts) => parts.iter().for_each(|p| positive(p, out)),
        Cond::Or(parts) => positive(&parts[0], out),
    }
}

fn sample(test: &FieldTest) -> Option<Value> {
    let mut samples = Vec::new();
    for v in &test.values {
        samples.push(match v {
            ValueTest::Str(m) => Value::String(m.sample()?),
            ValueTest::Num(n) => json!(n),
            ValueTest::Bool(b) => json!(b),
            ValueTest::Cmp(CmpOp::Gt, n) => json!(n + 1.0),
            ValueTest::Cmp(CmpOp::Lt, n) => json!(n - 1.0),
            ValueTest::Cmp(_, n) => json!(n),
            ValueTest::Cidr(_) => return None,
        });
        if !test.all {
            break;
        }
    }
    if test.all {
        let joined: String = samples
            .iter()
            .filter_map(Value::as_str)
            .collect::<Vec<_>>()
            .join(" ");
        return Some(Value::String(joined));
    }
    match test.whole.first() {
        Some(FieldTestKind::Null) => Some(Value::Null),
        Some(FieldTestKind::Exists(true)) => Some(json!("present")),
        Some(_) => None,
        None => samples.pop(),
    }
}

fn insert(doc: &mut Map<String, Value>, path: &str, value: Value) {
    match path.split_once('.') {
        None => {
            doc.insert(path.to_owned(), value);
        }
        Some((head, rest)) => {
            let child = doc.entry(head.to_owned()).or_insert_with(|| json!({}));
            if let Value::Object(map) = child {
                insert(map, rest, value);
            }
        }
    }
}

#[test]
fn every_sigmahq_rule_matches_a_generated_event() {
    let Some(dir) = crate::shared_data::require("sigma/sigmahq", "SigmaHQ's rules") else {
        return;
    };
    let (set, _) = RuleSet::load_paths(&[dir], LogSourceFilter::aws_cloudtrail()).unwrap();
    let mut skipped = Vec::new();
    for rule in set.rules() {
        let mut sels = Vec::new();
        positive(&rule.detection.condition, &mut sels);
        let mut doc = Map::new();
        let mut ok = true;
        for &i in &sels {
            for test in &rule.detection.selections[i].alternatives[0] {
                match sample(test) {
                    Some(value) => insert(&mut doc, &test.path, value),
                    None => ok = false,
                }
            }
        }
        if !ok {
            skipped.push(rule.meta.title.clone());
            continue;
        }
        let doc = Value::Object(doc);
        assert!(
            rule.matches(&doc),
            "{} does not match {doc}",
            rule.meta.title
        );
        let mut out = Vec::new();
        set.evaluate(&doc, &mut out);
        assert!(
            out.iter().any(|m| std::ptr::eq(m.rule, rule)),
            "pre-filter lost {}",
            rule.meta.title
        );
    }
    println!("no generated event for (regex): {skipped:?}");
    assert_eq!(skipped.len(), 1, "{skipped:?}");
}
