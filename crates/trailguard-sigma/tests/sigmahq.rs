//! Every SigmaHQ AWS CloudTrail rule in the shared data either loads or is reported unsupported.

#[path = "support/shared_data.rs"]
mod shared_data;

use std::path::PathBuf;
use trailguard_sigma::{LogSourceFilter, RuleSet};

/// SigmaHQ's rules in the shared data; `None` (skipped, or a failure under CI) when missing.
fn sigmahq_dir() -> Option<PathBuf> {
    shared_data::require("sigma/sigmahq", "SigmaHQ's rules")
}

#[test]
fn sigmahq_rules_load_or_are_reported() {
    let Some(dir) = sigmahq_dir() else {
        return;
    };
    let (set, report) = RuleSet::load_paths(&[&dir], LogSourceFilter::aws_cloudtrail()).unwrap();
    println!("{report}");
    for u in &report.unsupported {
        println!("UNSUPPORTED {u}");
    }
    for r in set.rules() {
        println!(
            "LOADED {} [{}] {} techniques={:?}",
            r.meta.title, r.meta.level, r.meta.source, r.meta.techniques
        );
    }
    println!(
        "indexed by eventName: {} of {}",
        set.indexed_rule_count(),
        set.len()
    );
    assert_eq!(report.files, 66);
    assert_eq!(report.rules + report.unsupported.len(), 66);
}

fn panther_logs(path: &std::path::Path) -> Result<Vec<(serde_json::Value, bool)>, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read {} (set TRAILGUARD_DATA): {e}", path.display()))?;
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let mut v: serde_json::Value = serde_json::from_str(l).map_err(|e| e.to_string())?;
            let expected = v["expected_alert"]
                .as_bool()
                .ok_or("expected_alert is not a bool")?;
            Ok((v["log"].take(), expected))
        })
        .collect()
}

/// On real records the pre-filter never changes the result, and the hit counts stay as measured.
#[test]
fn sigmahq_rules_on_panther_records() {
    let (Some(dir), Some(panther)) = (
        sigmahq_dir(),
        shared_data::require(
            "cloudtrail/panther/labelled_tests_aws_cloudtrail.jsonl",
            "Panther's labelled CloudTrail tests",
        ),
    ) else {
        return;
    };
    let (set, _) = RuleSet::load_paths(&[dir], LogSourceFilter::aws_cloudtrail()).unwrap();
    let logs = panther_logs(&panther).unwrap();
    let mut per_rule = std::collections::BTreeMap::<&str, usize>::new();
    let (mut with_hits, mut alerts_with_hits) = (0, 0);
    for (log, expected) in &logs {
        let mut fast = Vec::new();
        set.evaluate(log, &mut fast);
        let mut every = Vec::new();
        set.evaluate_all(log, &mut every);
        let ids =
            |v: &Vec<trailguard_sigma::Match>| v.iter().map(|m| m.rule_index).collect::<Vec<_>>();
        assert_eq!(ids(&fast), ids(&every), "{log}");
        for m in &fast {
            *per_rule.entry(m.rule.meta.title.as_str()).or_default() += 1;
        }
        with_hits += usize::from(!fast.is_empty());
        alerts_with_hits += usize::from(!fast.is_empty() && *expected);
    }
    for (title, n) in &per_rule {
        println!("{n:>4}  {title}");
    }
    println!("{with_hits} of {} records match a SigmaHQ rule; {alerts_with_hits} of them are expected alerts", logs.len());
    assert_eq!(logs.len(), 461);
    assert_eq!(with_hits, 274);
    assert!(per_rule.contains_key("AWS CloudTrail Important Change"));
}

#[test]
fn referenced_fields_cover_the_rules() {
    let Some(dir) = sigmahq_dir() else {
        return;
    };
    let (set, _) = RuleSet::load_paths(&[dir], LogSourceFilter::aws_cloudtrail()).unwrap();
    let fields = set.referenced_fields();
    println!("{fields:?}");
    for needed in [
        "eventName",
        "eventSource",
        "userIdentity.type",
        "userIdentity.arn",
        "requestParameters.userName",
        "errorCode",
    ] {
        assert!(fields.contains(needed), "{needed}");
    }
}
