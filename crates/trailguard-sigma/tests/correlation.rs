//! Sigma v2 correlation rules through the streaming correlator.

use serde_json::{json, Value};
use trailguard_sigma::{CorrelationHit, CorrelationKind, Correlator, CorrelatorConfig, RuleSet};

const BASE: &str = r#"
title: Secret read
id: secret-read
name: secret_read
level: low
logsource: {product: aws, service: cloudtrail}
detection:
  sel:
    eventName: GetSecretValue
  condition: sel
---
title: Access denied
id: access-denied
logsource: {product: aws, service: cloudtrail}
detection:
  sel:
    errorCode:
      - AccessDenied
      - '*UnauthorizedOperation'
  condition: sel
---
title: Key created
id: key-created
logsource: {product: aws, service: cloudtrail}
detection:
  sel:
    eventName: CreateAccessKey
  condition: sel
"#;

const MIN: i64 = 60_000;

fn set_with(correlation: &str) -> RuleSet {
    let (set, report) = RuleSet::from_yaml(&format!("{BASE}---\n{correlation}"));
    assert!(report.unsupported.is_empty(), "{:?}", report.unsupported);
    assert_eq!(set.correlations().len(), 1);
    set
}

fn feed(
    set: &RuleSet,
    correlator: &mut Correlator,
    event: &Value,
    time_ms: i64,
) -> Vec<CorrelationHit> {
    let mut matches = Vec::new();
    set.evaluate(event, &mut matches);
    let mut hits = Vec::new();
    correlator.observe(&matches, event, time_ms, &mut hits);
    hits
}

const BURST: &str = r#"
title: Burst of secret reads
id: secret-burst
level: high
tags: [attack.credential-access, attack.t1555.006]
correlation:
  type: event_count
  rules: [secret_read]
  group-by: [userIdentity.arn]
  timespan: 5m
  condition:
    gte: 3
"#;

fn secret(arn: &str) -> Value {
    json!({"eventName": "GetSecretValue", "userIdentity": {"arn": arn}})
}

#[test]
fn event_count_fires_when_window_reaches_threshold() {
    let set = set_with(BURST);
    let c = &set.correlations()[0];
    assert_eq!(c.kind, CorrelationKind::EventCount);
    assert_eq!(c.threshold, 3);
    assert_eq!(c.timespan_ms, 5 * MIN);
    assert_eq!(c.meta.techniques, ["T1555.006"]);
    assert!(
        set.rules()[0].correlation_only,
        "base rule of a non-generating correlation"
    );
    assert!(!set.rules()[1].correlation_only);

    let mut corr = set.correlator();
    assert!(feed(&set, &mut corr, &secret("alice"), 0).is_empty());
    assert!(feed(&set, &mut corr, &secret("bob"), MIN).is_empty());
    assert!(feed(&set, &mut corr, &secret("alice"), 2 * MIN).is_empty());
    // Non-matching events do nothing.
    assert!(feed(
        &set,
        &mut corr,
        &json!({"eventName": "ListSecrets", "userIdentity": {"arn": "alice"}}),
        3 * MIN
    )
    .is_empty());
    let hits = feed(&set, &mut corr, &secret("alice"), 4 * MIN);
    assert_eq!(hits.len(), 1);
    let hit = &hits[0];
    assert_eq!(hit.correlation.meta.id, "secret-burst");
    assert_eq!(hit.count, 3);
    assert_eq!(
        hit.group,
        [("userIdentity.arn".to_string(), "alice".to_string())]
    );
    assert_eq!((hit.first_ms, hit.last_ms), (0, 4 * MIN));
    assert!(
        hit.reason()
            .contains("3 events within 300s for userIdentity.arn=alice"),
        "{}",
        hit.reason()
    );
    // The window starts over after firing.
    assert!(feed(&set, &mut corr, &secret("alice"), 4 * MIN + 1).is_empty());
}

#[test]
fn events_outside_the_timespan_do_not_count() {
    let set = set_with(BURST);
    let mut corr = set.correlator();
    assert!(feed(&set, &mut corr, &secret("alice"), 0).is_empty());
    assert!(feed(&set, &mut corr, &secret("alice"), 3 * MIN).is_empty());
    // The first event is now more than 5 minutes old.
    assert!(feed(&set, &mut corr, &secret("alice"), 6 * MIN).is_empty());
    assert_eq!(feed(&set, &mut corr, &secret("alice"), 7 * MIN).len(), 1);
}

#[test]
fn expired_windows_are_evicted() {
    let set = set_with(BURST);
    let mut corr = set.correlator();
    for i in 0..1_000 {
        feed(&set, &mut corr, &secret(&format!("user-{i}")), i);
    }
    assert_eq!(corr.open_windows(), 1_000);
    // Well past every window's timespan, a sweep drops them all.
    feed(&set, &mut corr, &secret("late"), 20 * MIN);
    assert_eq!(corr.open_windows(), 1);
}

#[test]
fn group_limit_bounds_memory() {
    let set = set_with(BURST);
    let mut corr = Correlator::with_config(&set, CorrelatorConfig { max_groups: 10 });
    for i in 0..50 {
        feed(&set, &mut corr, &secret(&format!("user-{i}")), i);
    }
    assert_eq!(corr.open_windows(), 10);
    assert_eq!(corr.dropped_groups(), 40);
    // Once the old windows expire, new groups are accepted again.
    feed(&set, &mut corr, &secret("fresh"), 30 * MIN);
    assert_eq!(corr.open_windows(), 1);
}

#[test]
fn value_count_counts_distinct_values() {
    let set = set_with(
        r#"
title: Denied on many APIs
id: denied-spread
level: high
correlation:
  type: value_count
  rules: [access-denied]
  group-by: [sourceIPAddress]
  timespan: 10m
  condition:
    field: eventName
    gte: 3
"#,
    );
    let mut corr = set.correlator();
    let denied = |name: &str| json!({"eventName": name, "errorCode": "AccessDenied", "sourceIPAddress": "1.2.3.4"});
    assert!(feed(&set, &mut corr, &denied("ListUsers"), 0).is_empty());
    assert!(feed(&set, &mut corr, &denied("ListUsers"), MIN).is_empty());
    assert!(feed(&set, &mut corr, &denied("ListRoles"), 2 * MIN).is_empty());
    let hits = feed(&set, &mut corr, &denied("ListBuckets"), 3 * MIN);
    assert_eq!(hits.len(), 1);
    assert_eq!(hits[0].count, 3);
}

#[test]
fn temporal_needs_every_rule_in_the_window() {
    let set = set_with(
        r#"
title: Denied then key created
id: denied-then-key
level: critical
correlation:
  type: temporal
  rules: [access-denied, key-created]
  group-by: [userIdentity.arn]
  timespan: 5m
  generate: true
"#,
    );
    assert!(
        !set.rules()[1].correlation_only,
        "generate: true keeps base alerts"
    );
    let mut corr = set.correlator();
    let denied = json!({"eventName": "ListUsers", "errorCode": "Client.UnauthorizedOperation", "userIdentity": {"arn": "eve"}});
    let key = json!({"eventName": "CreateAccessKey", "userIdentity": {"arn": "eve"}});
    let other_key = json!({"eventName": "CreateAccessKey", "userIdentity": {"arn": "bob"}});
    assert!(feed(&set, &mut corr, &denied, 0).is_empty());
    assert!(feed(&set, &mut corr, &other_key, MIN).is_empty());
    assert!(feed(&set, &mut corr, &key, 10 * MIN).is_empty(), "too late");
    let hits = feed(&set, &mut corr, &denied, 11 * MIN);
    assert_eq!(hits.len(), 1);
    assert_eq!(hits[0].count, 2);
}

#[test]
fn bad_correlations_are_reported() {
    for (body, needle) in [
        (
            "type: event_count\n  rules: [nope]\n  timespan: 5m\n  condition: {gte: 3}",
            "not loaded",
        ),
        (
            "type: event_count\n  rules: [secret-read]\n  timespan: 5m\n  condition: {lt: 3}",
            "cannot be streamed",
        ),
        (
            "type: event_count\n  rules: [secret-read]\n  timespan: soon\n  condition: {gte: 3}",
            "timespan",
        ),
        (
            "type: value_count\n  rules: [secret-read]\n  timespan: 5m\n  condition: {gte: 3}",
            "field",
        ),
        (
            "type: temporal_ordered\n  rules: [secret-read]\n  timespan: 5m",
            "not supported",
        ),
        (
            "type: event_count\n  rules: [secret-read]\n  timespan: 5m\n  condition: {gte: 0}",
            "threshold",
        ),
        (
            "type: event_count\n  timespan: 5m\n  condition: {gte: 3}",
            "rules",
        ),
    ] {
        let text = format!("{BASE}---\ntitle: Bad\nid: bad\ncorrelation:\n  {body}\n");
        let (set, report) = RuleSet::from_yaml(&text);
        assert!(set.correlations().is_empty(), "{body}");
        assert_eq!(report.unsupported.len(), 1, "{body}");
        let message = report.unsupported[0].to_string();
        assert!(message.contains(needle), "{body}: {message}");
        assert!(!set.rules()[0].correlation_only);
    }
}
