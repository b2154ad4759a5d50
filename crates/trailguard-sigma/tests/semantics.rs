//! Detection semantics per the Sigma specification, through the public API.

use serde_json::{json, Value};
use trailguard_sigma::{Document, FieldValue, RuleSet, UnsupportedReason};

fn rule_yaml(detection: &str) -> String {
    let body: String = detection.lines().map(|l| format!("    {l}\n")).collect();
    format!(
        "title: Test rule\nid: test-1\nlevel: high\ntags:\n  - attack.defense-evasion\n  - attack.t1562.008\n\
         logsource:\n  product: aws\n  service: cloudtrail\ndetection:\n{body}"
    )
}

fn load(detection: &str) -> RuleSet {
    let (set, report) = RuleSet::from_yaml(&rule_yaml(detection));
    assert!(
        report.unsupported.is_empty(),
        "unexpected: {:?}",
        report.unsupported
    );
    assert_eq!(set.len(), 1);
    set
}

fn hits(detection: &str, event: &Value) -> bool {
    let set = load(detection);
    let mut out = Vec::new();
    set.evaluate(event, &mut out);
    let mut all = Vec::new();
    set.evaluate_all(event, &mut all);
    assert_eq!(out.len(), all.len(), "pre-filter changed the result");
    out.len() == 1
}

fn unsupported(detection: &str) -> UnsupportedReason {
    let (set, report) = RuleSet::from_yaml(&rule_yaml(detection));
    assert!(set.is_empty());
    assert_eq!(report.unsupported.len(), 1);
    report.unsupported[0].reason.clone()
}

#[test]
fn maps_are_and_lists_of_maps_are_or() {
    let and = "sel:\n  a: x\n  b: y\ncondition: sel";
    assert!(hits(and, &json!({"a": "x", "b": "y"})));
    assert!(!hits(and, &json!({"a": "x", "b": "z"})));
    let or = "sel:\n  - a: x\n  - b: y\ncondition: sel";
    assert!(hits(or, &json!({"a": "no", "b": "y"})));
    assert!(hits(or, &json!({"a": "x"})));
    assert!(!hits(or, &json!({"a": "no", "b": "no"})));
}

#[test]
fn value_lists_are_or_and_all_is_and() {
    let any = "sel:\n  a:\n    - x\n    - y\ncondition: sel";
    assert!(hits(any, &json!({"a": "Y"})));
    assert!(!hits(any, &json!({"a": "z"})));
    let all = "sel:\n  a|contains|all:\n    - foo\n    - bar\ncondition: sel";
    assert!(hits(all, &json!({"a": "xxBARyyFOOzz"})));
    assert!(!hits(all, &json!({"a": "xxfoo"})));
    // With an array, each pattern may be satisfied by a different element.
    assert!(hits(all, &json!({"a": ["foo", "bar"]})));
}

#[test]
fn strings_are_case_insensitive_unless_cased() {
    assert!(hits(
        "sel:\n  a: StopLogging\ncondition: sel",
        &json!({"a": "stoplogging"})
    ));
    assert!(!hits(
        "sel:\n  a|cased: StopLogging\ncondition: sel",
        &json!({"a": "stoplogging"})
    ));
    assert!(hits(
        "sel:\n  a|cased: StopLogging\ncondition: sel",
        &json!({"a": "StopLogging"})
    ));
    assert!(hits(
        "sel:\n  a|contains|cased: Log\ncondition: sel",
        &json!({"a": "StopLogging"})
    ));
    assert!(!hits(
        "sel:\n  a|contains|cased: log\ncondition: sel",
        &json!({"a": "StopLogging"})
    ));
    assert!(hits("sel:\n  a: ÉTÉ\ncondition: sel", &json!({"a": "été"})));
}

#[test]
fn wildcards_and_escapes() {
    assert!(hits(
        "sel:\n  a: 'Delete*'\ncondition: sel",
        &json!({"a": "deleteTrail"})
    ));
    assert!(hits(
        "sel:\n  a: 'Get?ecret*'\ncondition: sel",
        &json!({"a": "GetSecretValue"})
    ));
    assert!(!hits(
        "sel:\n  a: 'Get?ecret'\ncondition: sel",
        &json!({"a": "GetSecretValue"})
    ));
    assert!(hits(
        r"sel:
  a: 'a\*b'
condition: sel",
        &json!({"a": "a*b"})
    ));
    assert!(!hits(
        r"sel:
  a: 'a\*b'
condition: sel",
        &json!({"a": "axxb"})
    ));
    assert!(hits(
        r"sel:
  a|endswith: '\\'
condition: sel",
        &json!({"a": r"c:\dir\"})
    ));
    assert!(hits(
        r"sel:
  a|contains: '\?'
condition: sel",
        &json!({"a": "what?"})
    ));
    assert!(!hits(
        r"sel:
  a|contains: '\?'
condition: sel",
        &json!({"a": "what"})
    ));
}

#[test]
fn anchoring_modifiers() {
    let ev = json!({"ua": "aws-cli/2.13.5 Python/3.11.4"});
    assert!(hits("sel:\n  ua|startswith: AWS-CLI\ncondition: sel", &ev));
    assert!(!hits("sel:\n  ua|startswith: python\ncondition: sel", &ev));
    assert!(hits("sel:\n  ua|endswith: '3.11.4'\ncondition: sel", &ev));
    assert!(hits("sel:\n  ua|contains: PYTHON/\ncondition: sel", &ev));
    assert!(!hits("sel:\n  ua|contains: boto\ncondition: sel", &ev));
    assert!(hits(
        "sel:\n  ua|contains: 'cli*python'\ncondition: sel",
        &ev
    ));
}

#[test]
fn regex_is_case_sensitive_by_default_with_flags() {
    let ev = json!({"arn": "arn:aws:sts::1:assumed-role/AWS:X/i-1", "t": "line1\nline2"});
    assert!(hits(
        "sel:\n  arn|re: ':assumed-role/AWS:.+'\ncondition: sel",
        &ev
    ));
    assert!(!hits(
        "sel:\n  arn|re: ':assumed-role/aws:.+'\ncondition: sel",
        &ev
    ));
    assert!(hits(
        "sel:\n  arn|re|i: ':assumed-role/aws:.+'\ncondition: sel",
        &ev
    ));
    assert!(hits("sel:\n  t|re|m: '^line2$'\ncondition: sel", &ev));
    assert!(!hits("sel:\n  t|re: '^line2$'\ncondition: sel", &ev));
    assert!(hits("sel:\n  t|re|s: 'line1.line2'\ncondition: sel", &ev));
    assert!(!hits("sel:\n  t|re: 'line1.line2'\ncondition: sel", &ev));
    assert!(matches!(
        unsupported("sel:\n  t|re: '(unclosed'\ncondition: sel"),
        UnsupportedReason::Regex { .. }
    ));
}

#[test]
fn cidr_exists_and_comparisons() {
    let ev = json!({"ip": "10.1.2.3", "n": 5, "s": "7", "e": null});
    assert!(hits("sel:\n  ip|cidr: 10.0.0.0/8\ncondition: sel", &ev));
    assert!(hits(
        "sel:\n  ip|cidr:\n    - 192.168.0.0/16\n    - 10.1.0.0/16\ncondition: sel",
        &ev
    ));
    assert!(!hits(
        "sel:\n  ip|cidr: 192.168.0.0/16\ncondition: sel",
        &ev
    ));
    assert!(!hits("sel:\n  n|cidr: 10.0.0.0/8\ncondition: sel", &ev));
    assert!(hits("sel:\n  ip|exists: true\ncondition: sel", &ev));
    assert!(hits("sel:\n  zz|exists: false\ncondition: sel", &ev));
    assert!(!hits("sel:\n  zz|exists: true\ncondition: sel", &ev));
    // A null value does not count as present.
    assert!(hits("sel:\n  e|exists: false\ncondition: sel", &ev));
    assert!(hits("sel:\n  n|gt: 4\ncondition: sel", &ev));
    assert!(!hits("sel:\n  n|gt: 5\ncondition: sel", &ev));
    assert!(hits("sel:\n  n|gte: 5\ncondition: sel", &ev));
    assert!(hits("sel:\n  n|lt: 5.5\ncondition: sel", &ev));
    assert!(hits("sel:\n  n|lte: 5\ncondition: sel", &ev));
    assert!(hits("sel:\n  s|gt: 6\ncondition: sel", &ev));
    assert!(!hits("sel:\n  ip|gt: 6\ncondition: sel", &ev));
    assert!(matches!(
        unsupported("sel:\n  n|gt: many\ncondition: sel"),
        UnsupportedReason::InvalidValue { .. }
    ));
    assert!(matches!(
        unsupported("sel:\n  ip|cidr: 10.0.0.0/99\ncondition: sel"),
        UnsupportedReason::InvalidValue { .. }
    ));
    assert!(matches!(
        unsupported("sel:\n  ip|exists: maybe\ncondition: sel"),
        UnsupportedReason::InvalidValue { .. }
    ));
}

#[test]
fn null_and_empty() {
    let null = "sel:\n  errorCode: null\ncondition: sel";
    assert!(hits(null, &json!({"a": 1})));
    assert!(hits(null, &json!({"errorCode": null})));
    assert!(!hits(null, &json!({"errorCode": "AccessDenied"})));
    assert!(!hits(null, &json!({"errorCode": ""})));
    let empty = "sel:\n  errorCode: ''\ncondition: sel";
    assert!(hits(empty, &json!({"errorCode": ""})));
    assert!(!hits(empty, &json!({})));
    assert!(!hits(empty, &json!({"errorCode": null})));
    let null_or = "sel:\n  errorCode:\n    - null\n    - Success\ncondition: sel";
    assert!(hits(null_or, &json!({})));
    assert!(hits(null_or, &json!({"errorCode": "success"})));
    assert!(!hits(null_or, &json!({"errorCode": "Denied"})));
}

#[test]
fn numbers_and_booleans_match_values_and_strings() {
    let num = "sel:\n  n: 42\ncondition: sel";
    assert!(hits(num, &json!({"n": 42})));
    assert!(hits(num, &json!({"n": 42.0})));
    assert!(hits(num, &json!({"n": "42"})));
    assert!(!hits(num, &json!({"n": 43})));
    assert!(!hits(num, &json!({"n": "forty-two"})));
    let text_num = "sel:\n  n: '42'\ncondition: sel";
    assert!(hits(text_num, &json!({"n": 42})));
    assert!(hits(
        "sel:\n  n|startswith: '12'\ncondition: sel",
        &json!({"n": 123456789012u64})
    ));
    let boolean = "sel:\n  b: false\ncondition: sel";
    assert!(hits(boolean, &json!({"b": false})));
    assert!(hits(boolean, &json!({"b": "False"})));
    assert!(!hits(boolean, &json!({"b": true})));
    assert!(!hits(boolean, &json!({"b": 0})));
    let text_bool = "sel:\n  b: 'false'\ncondition: sel";
    assert!(hits(text_bool, &json!({"b": false})));
    assert!(hits(text_bool, &json!({"b": "false"})));
}

#[test]
fn nested_fields_and_arrays_anywhere() {
    let det = "sel:\n  requestParameters.bucketPolicy.Statement.Effect: Allow\ncondition: sel";
    let ev = json!({"requestParameters": {"bucketPolicy": {"Statement": [
        {"Effect": "Deny"}, {"Effect": "Allow"}
    ]}}});
    assert!(hits(det, &ev));
    let deny_only =
        json!({"requestParameters": {"bucketPolicy": {"Statement": [{"Effect": "Deny"}]}}});
    assert!(!hits(det, &deny_only));
    assert!(hits(
        "sel:\n  tags: b\ncondition: sel",
        &json!({"tags": ["a", "b"]})
    ));
    assert!(hits(
        "sel:\n  a.b.c: x\ncondition: sel",
        &json!({"a": [{"b": [{"c": "y"}, {"c": "x"}]}]})
    ));
    // A whole object is matched through its JSON text.
    assert!(hits(
        "sel:\n  requestParameters|contains: '\"Allow\"'\ncondition: sel",
        &json!({"requestParameters": {"Effect": "Allow"}})
    ));
}

#[test]
fn conditions() {
    let det = "sel_a:\n  a: 1\nsel_b:\n  b: 1\nfilter:\n  c: 1\n";
    let ev = |a: i32, b: i32, c: i32| json!({"a": a, "b": b, "c": c});
    let cond = |c: &str| format!("{det}condition: {c}");
    assert!(hits(&cond("sel_a and not filter"), &ev(1, 0, 0)));
    assert!(!hits(&cond("sel_a and not filter"), &ev(1, 0, 1)));
    assert!(hits(&cond("1 of sel_*"), &ev(0, 1, 0)));
    assert!(!hits(&cond("all of sel_*"), &ev(0, 1, 0)));
    assert!(hits(&cond("all of sel_*"), &ev(1, 1, 0)));
    assert!(hits(&cond("1 of them"), &ev(0, 0, 1)));
    assert!(!hits(&cond("all of them"), &ev(1, 1, 0)));
    // not > and > or
    assert!(hits(&cond("sel_a or sel_b and filter"), &ev(1, 0, 0)));
    assert!(!hits(&cond("(sel_a or sel_b) and filter"), &ev(1, 0, 0)));
    assert!(hits(&cond("not sel_a and sel_b"), &ev(0, 1, 0)));
    assert!(!hits(&cond("not (sel_a or sel_b)"), &ev(0, 1, 0)));
    assert!(hits(&cond("sel_a and not 1 of filt*"), &ev(1, 0, 0)));
    // A list of conditions means any of them.
    assert!(hits(
        &format!("{det}condition:\n  - sel_a\n  - sel_b"),
        &ev(0, 1, 0)
    ));
}

#[test]
fn matched_selections_and_metadata_are_reported() {
    let set = load("selection:\n  a: 1\nfilter:\n  b: 1\ncondition: selection and not filter");
    let ev = json!({"a": 1, "b": 0});
    let mut out = Vec::new();
    set.evaluate(&ev, &mut out);
    assert_eq!(out.len(), 1);
    let m = &out[0];
    assert_eq!(m.matched_selections().collect::<Vec<_>>(), ["selection"]);
    assert_eq!(m.rule.meta.id, "test-1");
    assert_eq!(m.rule.meta.level, "high");
    assert_eq!(m.rule.meta.techniques, ["T1562.008"]);
    assert_eq!(
        m.reason(),
        "Sigma rule \"Test rule\" (high) matched selection"
    );
}

#[test]
fn fieldref_compares_two_fields() {
    let det = "sel:\n  a|fieldref: b\ncondition: sel";
    assert!(hits(det, &json!({"a": "Bob", "b": "bob"})));
    assert!(!hits(det, &json!({"a": "Bob", "b": "alice"})));
    assert!(!hits(det, &json!({"a": "Bob"})));
    let contains = "sel:\n  arn|fieldref|endswith: user\ncondition: sel";
    assert!(hits(
        contains,
        &json!({"arn": "arn:aws:iam::1:user/bob", "user": "bob"})
    ));
    assert!(!hits(
        contains,
        &json!({"arn": "arn:aws:iam::1:user/bob", "user": "eve"})
    ));
}

#[test]
fn base64_modifiers() {
    assert!(hits(
        "sel:\n  d|base64: hello\ncondition: sel",
        &json!({"d": "aGVsbG8="})
    ));
    assert!(hits(
        "sel:\n  d|base64|contains: abc\ncondition: sel",
        &json!({"d": "xxYWJjxx"})
    ));
    // Encoded text is case-sensitive.
    assert!(!hits(
        "sel:\n  d|base64: hello\ncondition: sel",
        &json!({"d": "AGVSBG8="})
    ));
    for offset in 0..3 {
        let encoded = {
            // "/bin/bash" inside longer text at each alignment.
            let text = format!("{}/bin/bash -c id", " ".repeat(offset + 1));
            base64(text.as_bytes())
        };
        assert!(
            hits(
                "sel:\n  d|base64offset|contains: /bin/bash\ncondition: sel",
                &json!({ "d": encoded })
            ),
            "offset {offset}"
        );
    }
}

fn base64(input: &[u8]) -> String {
    const A: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in input.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            out.push(if i <= chunk.len() {
                A[((n >> (18 - 6 * i)) & 63) as usize] as char
            } else {
                '='
            });
        }
    }
    out
}

#[test]
fn unsupported_features_are_reported_not_panicked() {
    assert!(matches!(
        unsupported("sel:\n  a|expand: '%x%'\ncondition: sel"),
        UnsupportedReason::Placeholder { .. }
    ));
    assert!(matches!(
        unsupported("keywords:\n  - evil\ncondition: keywords"),
        UnsupportedReason::Keywords { .. }
    ));
    assert!(matches!(
        unsupported("sel:\n  '|contains': evil\ncondition: sel"),
        UnsupportedReason::Keywords { .. }
    ));
    assert!(matches!(
        unsupported("sel:\n  a|frobnicate: x\ncondition: sel"),
        UnsupportedReason::UnknownModifier { .. }
    ));
    assert!(matches!(
        unsupported("sel:\n  a|windash: x\ncondition: sel"),
        UnsupportedReason::UnsupportedModifier { .. }
    ));
    assert!(matches!(
        unsupported("sel:\n  a: x\ncondition: sel and"),
        UnsupportedReason::Condition { .. }
    ));
    assert!(matches!(
        unsupported("sel:\n  a: x\ncondition: other"),
        UnsupportedReason::Condition { .. }
    ));
    assert!(matches!(
        unsupported("sel:\n  a: x\ncondition: sel | count() > 5"),
        UnsupportedReason::Aggregation(_)
    ));
    assert!(matches!(
        unsupported("sel:\n  a: x\ntimeframe: 5m\ncondition: sel"),
        UnsupportedReason::Aggregation(_)
    ));
    assert!(matches!(
        unsupported("sel:\n  a: x"),
        UnsupportedReason::Invalid(_)
    ));
    assert!(matches!(
        unsupported("sel:\n  a:\n    b: c\ncondition: sel"),
        UnsupportedReason::InvalidValue { .. }
    ));
    assert!(matches!(
        unsupported("sel:\n  a: []\ncondition: sel"),
        UnsupportedReason::InvalidValue { .. }
    ));
    assert!(matches!(
        unsupported("sel: {}\ncondition: sel"),
        UnsupportedReason::Invalid(_)
    ));
    assert!(matches!(
        unsupported("sel:\n  a|re|i|contains: x\ncondition: sel"),
        UnsupportedReason::Invalid(_)
    ));
    assert!(matches!(
        unsupported("sel:\n  a|i: x\ncondition: sel"),
        UnsupportedReason::UnknownModifier { .. }
    ));
}

#[test]
fn bad_yaml_and_bad_documents_are_reported() {
    for (text, feature) in [
        ("title: [unclosed", "yaml"),
        ("- just\n- a list\n", "invalid"),
        ("title: x\nlogsource: {product: aws, service: cloudtrail}\n", "invalid"),
        ("title: x\ndetection:\n  sel: {a: 1}\n  condition: sel\n", "invalid"),
        ("logsource: {product: aws, service: cloudtrail}\ndetection:\n  sel: {a: 1}\n  condition: sel\n", "invalid"),
        ("title: x\nlogsource: {product: gcp}\ndetection:\n  sel: {a: 1}\n  condition: sel\n", "logsource"),
        ("action: global\ntitle: x\n", "collection"),
        ("title: x\nlogsource: {product: aws, service: cloudtrail}\ndetection: [1]\n", "invalid"),
        ("title: x\nlogsource: {product: aws, service: cloudtrail}\ndetection:\n  sel: {a: 1}\n  condition: [1]\n", "invalid"),
    ] {
        let (set, report) = RuleSet::from_yaml(text);
        assert!(set.is_empty(), "{text}");
        assert_eq!(report.unsupported.len(), 1, "{text}");
        assert_eq!(report.unsupported[0].reason.feature(), feature, "{text}: {}", report.unsupported[0]);
    }
    // Deep nesting is an error, not a stack overflow.
    let deep = format!("title: {}{}", "[".repeat(10_000), "]".repeat(10_000));
    let (_, report) = RuleSet::from_yaml(&deep);
    assert_eq!(report.unsupported.len(), 1);
}

#[test]
fn multi_document_files_and_duplicates() {
    let one = rule_yaml("sel:\n  a: 1\ncondition: sel");
    let two = one.replace("test-1", "test-2");
    let (set, report) = RuleSet::from_yaml(&format!("{one}---\n{two}---\n{one}"));
    assert_eq!(set.len(), 2);
    assert_eq!(report.unsupported.len(), 1);
    assert_eq!(report.unsupported[0].document, 2);
    assert!(report.unsupported[0].to_string().contains("duplicate id"));
}

#[test]
fn prefilter_indexes_by_event_name_and_keeps_results() {
    let text = [
        ("r1", "sel:\n  eventName: StopLogging\ncondition: sel"),
        ("r2", "sel:\n  eventName:\n    - DeleteTrail\n    - StopLogging\n  eventSource: cloudtrail.amazonaws.com\ncondition: sel"),
        ("r3", "sel:\n  eventName|startswith: Delete\ncondition: sel"),
        ("r4", "sel:\n  userIdentity.type: Root\ncondition: sel"),
        ("r5", "a:\n  eventName: X\nb:\n  eventName: Y\ncondition: a or b"),
        ("r6", "a:\n  eventName: X\nb:\n  eventName: Y\ncondition: a or not b"),
    ]
    .iter()
    .map(|(id, det)| rule_yaml(det).replace("test-1", id))
    .collect::<Vec<_>>()
    .join("---\n");
    let (set, report) = RuleSet::from_yaml(&text);
    assert!(report.unsupported.is_empty());
    assert_eq!(set.indexed_rule_count(), 3);
    let ids = |ev: &Value| {
        let mut out = Vec::new();
        set.evaluate(ev, &mut out);
        let mut all = Vec::new();
        set.evaluate_all(ev, &mut all);
        let ids: Vec<String> = out.iter().map(|m| m.rule.meta.id.clone()).collect();
        let all_ids: Vec<String> = all.iter().map(|m| m.rule.meta.id.clone()).collect();
        assert_eq!(ids, all_ids, "{ev}");
        ids
    };
    assert_eq!(
        ids(&json!({"eventName": "stoplogging", "eventSource": "cloudtrail.amazonaws.com"})),
        ["r1", "r2", "r6"]
    );
    assert_eq!(
        ids(
            &json!({"eventName": "DeleteTrail", "eventSource": "cloudtrail.amazonaws.com", "userIdentity": {"type": "Root"}})
        ),
        ["r2", "r3", "r4", "r6"]
    );
    assert_eq!(ids(&json!({"eventName": "Y"})), ["r5"]);
    assert_eq!(
        ids(&json!({"eventName": ["X", "StopLogging"]})),
        ["r1", "r5", "r6"]
    );
    assert_eq!(ids(&json!({"eventName": 5})), ["r6"]);
    assert_eq!(ids(&json!({})), ["r6"]);
}

/// A typed, borrowed record: the way callers avoid building a map per event.
struct Record<'a> {
    event_name: &'a str,
    error_code: Option<&'a str>,
    read_only: bool,
}

impl Document for Record<'_> {
    fn visit_field(&self, path: &str, visit: &mut dyn FnMut(FieldValue<'_>) -> bool) -> bool {
        match path {
            "eventName" => visit(FieldValue::Str(self.event_name)),
            "errorCode" => self.error_code.is_some_and(|c| visit(FieldValue::Str(c))),
            "readOnly" => visit(FieldValue::Bool(self.read_only)),
            _ => false,
        }
    }
}

#[test]
fn typed_documents() {
    let set = load(
        "sel:\n  eventName: GetSecretValue\n  errorCode: null\n  readOnly: true\ncondition: sel",
    );
    let owned = String::from("GetSecretValue");
    let mut out = Vec::new();
    set.evaluate(
        &Record {
            event_name: &owned,
            error_code: None,
            read_only: true,
        },
        &mut out,
    );
    assert_eq!(out.len(), 1);
    out.clear();
    set.evaluate(
        &Record {
            event_name: &owned,
            error_code: Some("AccessDenied"),
            read_only: true,
        },
        &mut out,
    );
    assert!(out.is_empty());
}

#[test]
fn rule_sets_can_be_shared_between_threads() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<RuleSet>();
    assert_send_sync::<trailguard_sigma::Correlator>();
}
