//! SNS subscription filter policies on message attributes (`FilterPolicyScope: MessageAttributes`),
//! evaluated as the SNS documentation describes them, so a local subscriber receives exactly what
//! an e-mail subscription with the same policy would.
//!
//! A policy is a JSON object. Each key names a message attribute and holds an array of conditions:
//! the keys are ANDed, the conditions of one key ORed, attributes the policy does not name are
//! ignored. A condition is a string or number (exact match), or an object with one operator:
//! `anything-but` (values, or `prefix`/`suffix`/`wildcard`), `equals-ignore-case`, `prefix`,
//! `suffix`, `wildcard`, `numeric` (`=`, `<`, `<=`, `>`, `>=`, up to two comparisons), `exists`,
//! `cidr`. A `$or` key with an array of at least two policy objects ORs them. Elements of a
//! `String.Array` attribute are matched one by one. Nested policies are refused, as SNS refuses them
//! for attribute filtering.

use std::collections::BTreeMap;
use std::net::IpAddr;

use async_trait::async_trait;
use serde_json::{Map, Value};
use trailguard_core::ports::{AttributeValue, Notification, Notifier, PortError};
use trailguard_core::ThreatLevel;

/// Keywords that make an object a condition rather than a nested policy.
const OPERATORS: [&str; 9] = [
    "anything-but",
    "equals-ignore-case",
    "prefix",
    "suffix",
    "wildcard",
    "numeric",
    "exists",
    "cidr",
    "$or",
];

/// SNS's limits on a policy.
const MAX_KEYS: usize = 5;
const MAX_COMBINATIONS: usize = 150;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid filter policy: {0}")]
pub struct FilterPolicyError(pub String);

fn invalid(message: impl Into<String>) -> FilterPolicyError {
    FilterPolicyError(message.into())
}

#[derive(Debug, Clone, PartialEq)]
enum Condition {
    Exact(String),
    Number(f64),
    AnythingBut(Vec<Literal>),
    AnythingButPattern(Pattern),
    EqualsIgnoreCase(String),
    Pattern(Pattern),
    Numeric(Vec<(Comparison, f64)>),
    Exists(bool),
    Cidr(IpAddr, u8),
}

#[derive(Debug, Clone, PartialEq)]
enum Literal {
    Text(String),
    Number(f64),
}

#[derive(Debug, Clone, PartialEq)]
enum Pattern {
    Prefix(String),
    Suffix(String),
    Wildcard(String),
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Comparison {
    Equal,
    Less,
    LessOrEqual,
    Greater,
    GreaterOrEqual,
}

/// The AND of its keys; each `$or` branch is a policy of its own.
#[derive(Debug, Clone, PartialEq)]
struct Rule {
    keys: Vec<(String, Vec<Condition>)>,
    any_of: Vec<Vec<Rule>>,
}

/// A parsed, checked filter policy.
#[derive(Debug, Clone, PartialEq)]
pub struct FilterPolicy {
    rule: Rule,
}

impl std::str::FromStr for FilterPolicy {
    type Err = FilterPolicyError;

    fn from_str(text: &str) -> Result<Self, FilterPolicyError> {
        let value: Value =
            serde_json::from_str(text).map_err(|e| invalid(format!("not JSON: {e}")))?;
        let Value::Object(map) = value else {
            return Err(invalid("the policy must be a JSON object"));
        };
        let rule = parse_rule(&map)?;
        let keys = leaf_keys(&rule);
        if keys > MAX_KEYS {
            return Err(invalid(format!(
                "{keys} keys; a policy may have at most {MAX_KEYS}"
            )));
        }
        let combinations = combinations(&rule);
        if combinations > MAX_COMBINATIONS {
            return Err(invalid(format!(
                "{combinations} value combinations; at most {MAX_COMBINATIONS}"
            )));
        }
        Ok(FilterPolicy { rule })
    }
}

fn leaf_keys(rule: &Rule) -> usize {
    rule.keys.len() + rule.any_of.iter().flatten().map(leaf_keys).sum::<usize>()
}

/// SNS's complexity: the product of the value counts of the keys, `$or` branches added.
fn combinations(rule: &Rule) -> usize {
    let own = rule
        .keys
        .iter()
        .map(|(_, conditions)| conditions.len().max(1))
        .product::<usize>();
    rule.any_of.iter().fold(own, |total, branches| {
        total.saturating_mul(branches.iter().map(combinations).sum::<usize>().max(1))
    })
}

/// `$or` counts only as SNS defines it: an array of at least two objects, none of whose keys is
/// an operator. Otherwise it is a plain attribute name.
fn is_or(key: &str, value: &Value) -> bool {
    key == "$or"
        && value.as_array().is_some_and(|branches| {
            branches.len() >= 2
                && branches.iter().all(|branch| {
                    branch
                        .as_object()
                        .is_some_and(|o| o.keys().all(|k| !OPERATORS[..8].contains(&k.as_str())))
                })
        })
}

fn parse_rule(map: &Map<String, Value>) -> Result<Rule, FilterPolicyError> {
    let mut rule = Rule {
        keys: Vec::new(),
        any_of: Vec::new(),
    };
    for (key, value) in map {
        if is_or(key, value) {
            let branches = value
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(Value::as_object)
                .map(parse_rule)
                .collect::<Result<Vec<_>, _>>()?;
            rule.any_of.push(branches);
            continue;
        }
        let Value::Array(items) = value else {
            return Err(invalid(format!(
                "\"{key}\": values must be in an array (a nested policy is not allowed for message attributes)"
            )));
        };
        let conditions = items
            .iter()
            .map(|item| parse_condition(key, item))
            .collect::<Result<Vec<_>, _>>()?;
        rule.keys.push((key.clone(), conditions));
    }
    Ok(rule)
}

fn number(value: &Value, key: &str) -> Result<f64, FilterPolicyError> {
    let n = value
        .as_f64()
        .ok_or_else(|| invalid(format!("\"{key}\": {value} is not a number")))?;
    if !(-1e9..=1e9).contains(&n) {
        return Err(invalid(format!("\"{key}\": {n} is outside -10^9..10^9")));
    }
    Ok(n)
}

fn text<'v>(value: &'v Value, key: &str, operator: &str) -> Result<&'v str, FilterPolicyError> {
    value
        .as_str()
        .ok_or_else(|| invalid(format!("\"{key}\": {operator} takes a string")))
}

fn pattern(object: &Map<String, Value>, key: &str) -> Result<Option<Pattern>, FilterPolicyError> {
    if let Some(v) = object.get("prefix") {
        return Ok(Some(Pattern::Prefix(text(v, key, "prefix")?.to_string())));
    }
    if let Some(v) = object.get("suffix") {
        return Ok(Some(Pattern::Suffix(text(v, key, "suffix")?.to_string())));
    }
    if let Some(v) = object.get("wildcard") {
        let wildcard = text(v, key, "wildcard")?;
        if wildcard.matches('*').count() > 3 {
            return Err(invalid(format!(
                "\"{key}\": at most 3 wildcards per pattern"
            )));
        }
        return Ok(Some(Pattern::Wildcard(wildcard.to_string())));
    }
    Ok(None)
}

fn literal(value: &Value, key: &str) -> Result<Literal, FilterPolicyError> {
    match value {
        Value::String(s) => Ok(Literal::Text(s.clone())),
        Value::Number(_) => Ok(Literal::Number(number(value, key)?)),
        other => Err(invalid(format!(
            "\"{key}\": anything-but takes strings or numbers, not {other}"
        ))),
    }
}

fn parse_condition(key: &str, item: &Value) -> Result<Condition, FilterPolicyError> {
    let object = match item {
        Value::String(s) => return Ok(Condition::Exact(s.clone())),
        Value::Number(_) => return Ok(Condition::Number(number(item, key)?)),
        Value::Object(object) => object,
        other => {
            return Err(invalid(format!(
                "\"{key}\": {other} is not a string, a number or an operator object"
            )))
        }
    };
    if object.len() != 1 {
        return Err(invalid(format!(
            "\"{key}\": an operator object holds exactly one operator"
        )));
    }
    if let Some(value) = object.get("anything-but") {
        return match value {
            Value::Array(items) => Ok(Condition::AnythingBut(
                items
                    .iter()
                    .map(|v| literal(v, key))
                    .collect::<Result<_, _>>()?,
            )),
            Value::Object(inner) => pattern(inner, key)?
                .map(Condition::AnythingButPattern)
                .ok_or_else(|| {
                    invalid(format!(
                        "\"{key}\": anything-but takes values, or prefix, suffix or wildcard"
                    ))
                }),
            single => Ok(Condition::AnythingBut(vec![literal(single, key)?])),
        };
    }
    if let Some(value) = object.get("equals-ignore-case") {
        return Ok(Condition::EqualsIgnoreCase(
            text(value, key, "equals-ignore-case")?.to_string(),
        ));
    }
    if let Some(found) = pattern(object, key)? {
        return Ok(Condition::Pattern(found));
    }
    if let Some(value) = object.get("numeric") {
        let items = value
            .as_array()
            .ok_or_else(|| invalid(format!("\"{key}\": numeric takes [op, value, ...]")))?;
        let mut comparisons = Vec::new();
        for pair in items.chunks(2) {
            let [op, operand] = pair else {
                return Err(invalid(format!(
                    "\"{key}\": numeric takes operator/value pairs"
                )));
            };
            let op = match op.as_str() {
                Some("=") => Comparison::Equal,
                Some("<") => Comparison::Less,
                Some("<=") => Comparison::LessOrEqual,
                Some(">") => Comparison::Greater,
                Some(">=") => Comparison::GreaterOrEqual,
                _ => {
                    return Err(invalid(format!(
                        "\"{key}\": numeric operators are =, <, <=, >, >="
                    )))
                }
            };
            comparisons.push((op, number(operand, key)?));
        }
        if comparisons.is_empty() || comparisons.len() > 2 {
            return Err(invalid(format!(
                "\"{key}\": numeric takes one or two comparisons"
            )));
        }
        return Ok(Condition::Numeric(comparisons));
    }
    if let Some(value) = object.get("exists") {
        return value
            .as_bool()
            .map(Condition::Exists)
            .ok_or_else(|| invalid(format!("\"{key}\": exists takes true or false")));
    }
    if let Some(value) = object.get("cidr") {
        let cidr = text(value, key, "cidr")?;
        let (address, bits) = cidr
            .split_once('/')
            .ok_or_else(|| invalid(format!("\"{key}\": cidr {cidr:?} has no /prefix")))?;
        let address: IpAddr = address
            .parse()
            .map_err(|_| invalid(format!("\"{key}\": {address:?} is not an IP address")))?;
        let bits: u8 = bits
            .parse()
            .ok()
            .filter(|b| *b <= if address.is_ipv4() { 32 } else { 128 })
            .ok_or_else(|| invalid(format!("\"{key}\": bad prefix length in {cidr:?}")))?;
        return Ok(Condition::Cidr(address, bits));
    }
    Err(invalid(format!(
        "\"{key}\": unknown operator {}",
        object.keys().next().map(String::as_str).unwrap_or("")
    )))
}

/// One attribute's values as the conditions see them: a string, a number, or the elements of a
/// `String.Array` (each a string, and a number when it reads as one).
struct Values<'a> {
    texts: Vec<&'a str>,
    numbers: Vec<f64>,
    is_array: bool,
}

fn values(attribute: &AttributeValue) -> Values<'_> {
    match attribute {
        AttributeValue::String(s) => Values {
            texts: vec![s.as_str()],
            numbers: Vec::new(),
            is_array: false,
        },
        AttributeValue::Number(n) => Values {
            texts: Vec::new(),
            numbers: n.trim().parse::<f64>().ok().into_iter().collect(),
            is_array: false,
        },
        AttributeValue::StringArray(items) => Values {
            texts: items.iter().map(String::as_str).collect(),
            numbers: items
                .iter()
                .filter_map(|s| s.trim().parse::<f64>().ok())
                .collect(),
            is_array: true,
        },
    }
}

/// SNS compares numbers with five digits after the decimal point.
fn same_number(a: f64, b: f64) -> bool {
    (a - b).abs() < 0.000_005
}

fn wildcard_matches(pattern: &str, value: &str) -> bool {
    let parts: Vec<&str> = pattern.split('*').collect();
    let [first, middle @ .., last] = parts.as_slice() else {
        return pattern == value;
    };
    if parts.len() == 1 {
        return pattern == value;
    }
    let Some(mut rest) = value.strip_prefix(first) else {
        return false;
    };
    for part in middle {
        match rest.find(part) {
            Some(at) => rest = &rest[at + part.len()..],
            None => return false,
        }
    }
    rest.len() >= last.len() && rest.ends_with(last)
}

fn pattern_matches(pattern: &Pattern, value: &str) -> bool {
    match pattern {
        Pattern::Prefix(p) => value.starts_with(p.as_str()),
        Pattern::Suffix(s) => value.ends_with(s.as_str()),
        Pattern::Wildcard(w) => wildcard_matches(w, value),
    }
}

fn in_cidr(value: &str, network: IpAddr, bits: u8) -> bool {
    let Ok(address) = value.trim().parse::<IpAddr>() else {
        return false;
    };
    match (address, network) {
        (IpAddr::V4(a), IpAddr::V4(n)) => {
            let mask = u32::MAX.checked_shl(32 - u32::from(bits)).unwrap_or(0);
            u32::from(a) & mask == u32::from(n) & mask
        }
        (IpAddr::V6(a), IpAddr::V6(n)) => {
            let mask = u128::MAX.checked_shl(128 - u32::from(bits)).unwrap_or(0);
            u128::from(a) & mask == u128::from(n) & mask
        }
        _ => false,
    }
}

fn literal_matches(literal: &Literal, text: &str, number: Option<f64>) -> bool {
    match literal {
        Literal::Text(t) => t == text,
        Literal::Number(n) => number.is_some_and(|v| same_number(v, *n)),
    }
}

/// Whether one present attribute satisfies one condition.
fn condition_matches(condition: &Condition, attribute: &AttributeValue) -> bool {
    let values = values(attribute);
    let is_number = matches!(attribute, AttributeValue::Number(_));
    match condition {
        Condition::Exact(expected) => values.texts.iter().any(|t| t == expected),
        Condition::Number(expected) => values.numbers.iter().any(|n| same_number(*n, *expected)),
        Condition::AnythingBut(excluded) => {
            // The documented examples: an array matches when at least one element is not
            // excluded ("because it contains a value that isn't rugby or tennis").
            if is_number {
                values
                    .numbers
                    .iter()
                    .any(|n| !excluded.iter().any(|e| literal_matches(e, "", Some(*n))))
            } else {
                values.texts.iter().any(|t| {
                    let as_number = if values.is_array {
                        t.trim().parse::<f64>().ok()
                    } else {
                        None
                    };
                    !excluded.iter().any(|e| literal_matches(e, t, as_number))
                })
            }
        }
        Condition::AnythingButPattern(pattern) => {
            !values.texts.is_empty() && values.texts.iter().all(|t| !pattern_matches(pattern, t))
        }
        Condition::EqualsIgnoreCase(expected) => values
            .texts
            .iter()
            .any(|t| t.to_lowercase() == expected.to_lowercase()),
        Condition::Pattern(pattern) => values.texts.iter().any(|t| pattern_matches(pattern, t)),
        Condition::Numeric(comparisons) => values.numbers.iter().any(|n| {
            comparisons.iter().all(|(op, bound)| match op {
                Comparison::Equal => same_number(*n, *bound),
                Comparison::Less => *n < *bound,
                Comparison::LessOrEqual => *n <= *bound || same_number(*n, *bound),
                Comparison::Greater => *n > *bound,
                Comparison::GreaterOrEqual => *n >= *bound || same_number(*n, *bound),
            })
        }),
        // "The key must have a non-null and non-empty value."
        Condition::Exists(wanted) => {
            let present = !values.numbers.is_empty() || values.texts.iter().any(|t| !t.is_empty());
            *wanted == present
        }
        Condition::Cidr(network, bits) => values.texts.iter().any(|t| in_cidr(t, *network, *bits)),
    }
}

fn rule_matches(rule: &Rule, attributes: &BTreeMap<String, AttributeValue>) -> bool {
    let keys_match = rule.keys.iter().all(|(key, conditions)| {
        conditions
            .iter()
            .any(|condition| match attributes.get(key) {
                Some(attribute) => condition_matches(condition, attribute),
                // Only `exists: false` matches an absent attribute, and only when the message has
                // attributes at all.
                None => matches!(condition, Condition::Exists(false)) && !attributes.is_empty(),
            })
    });
    keys_match
        && rule.any_of.iter().all(|branches| {
            branches
                .iter()
                .any(|branch| rule_matches(branch, attributes))
        })
}

impl FilterPolicy {
    /// Whether a message with these attributes is delivered to the subscription.
    pub fn matches(&self, attributes: &BTreeMap<String, AttributeValue>) -> bool {
        rule_matches(&self.rule, attributes)
    }

    /// The policy text that lets through alerts whose `threat_level` attribute is `min` or
    /// higher (what the template's `AlertEmailMinLevel` sets on the e-mail subscription).
    pub fn threat_level_at_least_text(min: ThreatLevel) -> String {
        let levels: Vec<&str> = ThreatLevel::ALL
            .iter()
            .filter(|level| **level >= min)
            .map(|level| level.as_str())
            .collect();
        serde_json::json!({ "threat_level": levels }).to_string()
    }

    pub fn threat_level_at_least(min: ThreatLevel) -> FilterPolicy {
        let text = Self::threat_level_at_least_text(min);
        // The text is built above from known levels, so it always parses.
        text.parse().unwrap_or(FilterPolicy {
            rule: Rule {
                keys: Vec::new(),
                any_of: Vec::new(),
            },
        })
    }
}

/// A subscriber behind a filter policy: what the policy refuses is dropped, as SNS drops it for
/// that subscription (the publisher still gets a message id).
pub struct FilteredNotifier {
    policy: FilterPolicy,
    inner: std::sync::Arc<dyn Notifier>,
}

impl FilteredNotifier {
    pub fn new(policy: FilterPolicy, inner: std::sync::Arc<dyn Notifier>) -> Self {
        FilteredNotifier { policy, inner }
    }
}

#[async_trait]
impl Notifier for FilteredNotifier {
    async fn publish(&self, notification: &Notification) -> Result<String, PortError> {
        if self.policy.matches(&notification.attributes) {
            self.inner.publish(notification).await
        } else {
            tracing::debug!(subject = ?notification.subject, "filtered out by the subscription's policy");
            Ok(format!("filtered-{}", uuid::Uuid::new_v4()))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(text: &str) -> FilterPolicy {
        text.parse().unwrap_or_else(|e| panic!("{text}: {e}"))
    }

    fn s(value: &str) -> AttributeValue {
        AttributeValue::String(value.into())
    }

    fn n(value: &str) -> AttributeValue {
        AttributeValue::Number(value.into())
    }

    fn array(items: &[&str]) -> AttributeValue {
        AttributeValue::StringArray(items.iter().map(|s| s.to_string()).collect())
    }

    fn one(key: &str, value: AttributeValue) -> BTreeMap<String, AttributeValue> {
        BTreeMap::from([(key.to_string(), value)])
    }

    fn check(policy_text: &str, key: &str, yes: &[AttributeValue], no: &[AttributeValue]) {
        let p = policy(policy_text);
        for value in yes {
            assert!(
                p.matches(&one(key, value.clone())),
                "{policy_text} should match {value:?}"
            );
        }
        for value in no {
            assert!(
                !p.matches(&one(key, value.clone())),
                "{policy_text} should not match {value:?}"
            );
        }
    }

    // The examples below are the SNS developer guide's, case by case.

    #[test]
    fn exact_matching() {
        check(
            r#"{"customer_interests": ["rugby", "tennis"]}"#,
            "customer_interests",
            &[s("rugby"), s("tennis"), array(&["rugby", "tennis"])],
            &[s("baseball"), array(&["baseball"])],
        );
    }

    #[test]
    fn anything_but() {
        check(
            r#"{"customer_interests": [{"anything-but": ["rugby", "tennis"]}]}"#,
            "customer_interests",
            &[s("baseball"), s("football"), array(&["rugby", "baseball"])],
            &[s("rugby"), array(&["rugby"])],
        );
        check(
            r#"{"event":[{"anything-but": {"prefix": "order-"}}]}"#,
            "event",
            &[s("data-entry"), s("order_number")],
            &[s("order-cancelled")],
        );
        for text in [
            r#"{"customer_interests" : [{ "anything-but": { "wildcard": "*ball" }}]}"#,
            r#"{"customer_interests": [ { "anything-but": { "suffix": "ball" } } ]}"#,
        ] {
            check(
                text,
                "customer_interests",
                &[array(&["hockey", "rugby", "soccer"])],
                &[array(&["baseball", "basketball"])],
            );
        }
    }

    #[test]
    fn equals_ignore_case_prefix_suffix_wildcard() {
        check(
            r#"{"customer_interests": [{"equals-ignore-case": "tennis"}]}"#,
            "customer_interests",
            &[s("TENNIS"), s("Tennis")],
            &[s("tennis ball")],
        );
        check(
            r#"{"customer_interests": [{"prefix": "bas"}]}"#,
            "customer_interests",
            &[s("baseball"), s("basketball")],
            &[s("rugby")],
        );
        check(
            r#"{"customer_interests": [{"suffix": "ball"}]}"#,
            "customer_interests",
            &[s("baseball"), s("basketball")],
            &[s("rugby")],
        );
        check(
            r#"{"customer_interests": [ { "wildcard": "*ball" } ]}"#,
            "customer_interests",
            &[array(&["baseball", "basketball"]), s("ball")],
            &[s("rugby"), s("balloon")],
        );
    }

    #[test]
    fn cidr() {
        check(
            r#"{"source_ip":[{"cidr": "10.0.0.0/24"}]}"#,
            "source_ip",
            &[s("10.0.0.0"), s("10.0.0.255")],
            &[s("10.1.1.0"), s("not an ip")],
        );
    }

    #[test]
    fn numeric() {
        check(
            r#"{"price_usd": [{"numeric": ["=",301.5]}]}"#,
            "price_usd",
            &[n("301.5"), n("3.015e2")],
            &[n("301.6")],
        );
        check(
            r#"{"price": [{"anything-but": [100, 500]}]}"#,
            "price",
            &[n("101"), n("100.1"), array(&["100", "50"])],
            &[n("100")],
        );
        check(
            r#"{"price_usd": [{"numeric": ["<", 0]}]}"#,
            "price_usd",
            &[n("-1"), n("-0.5")],
            &[n("0"), n("3")],
        );
        check(
            r#"{"price_usd": [{"numeric": [">", 0, "<=", 150]}]}"#,
            "price_usd",
            &[n("1"), n("150")],
            &[n("0"), n("150.1")],
        );
    }

    #[test]
    fn exists() {
        let with_store = BTreeMap::from([
            ("store".to_string(), s("fans")),
            ("customer_interests".to_string(), array(&["baseball"])),
        ]);
        let without_store = one("customer_interests", array(&["baseball", "basketball"]));
        let present = policy(r#"{"store": [{"exists": true}]}"#);
        assert!(present.matches(&with_store));
        assert!(present.matches(&one("store", n("3"))));
        assert!(!present.matches(&one("store", s(""))));
        assert!(!present.matches(&without_store));
        let absent = policy(r#"{"store": [{"exists": false}]}"#);
        assert!(absent.matches(&without_store));
        assert!(!absent.matches(&with_store));
        // "An empty set of attributes results in the filter not matching."
        assert!(!absent.matches(&BTreeMap::new()));
    }

    #[test]
    fn and_or() {
        let p =
            policy(r#"{"customer_interests": ["rugby"], "price_usd": [{"numeric": [">", 100]}]}"#);
        let both = BTreeMap::from([
            ("customer_interests".to_string(), s("rugby")),
            ("price_usd".to_string(), n("101")),
        ]);
        assert!(p.matches(&both));
        assert!(!p.matches(&one("customer_interests", s("rugby"))));
        let p = policy(
            r#"{"source": [ "aws.cloudwatch" ], "$or": [ { "metricName": [ "CPUUtilization" ] }, { "namespace": [ "AWS/EC2" ] } ]}"#,
        );
        let with = |key: &str, value: &str| {
            BTreeMap::from([
                ("source".to_string(), s("aws.cloudwatch")),
                (key.to_string(), s(value)),
            ])
        };
        assert!(p.matches(&with("metricName", "CPUUtilization")));
        assert!(p.matches(&with("namespace", "AWS/EC2")));
        assert!(!p.matches(&with("namespace", "AWS/S3")));
        // Not an OR: operators inside the branches make "$or" a plain attribute name (the
        // guide's example, whose `{"numeric": 123}` is then not a valid condition either).
        assert!(r#"{"$or": [ {"numeric" : 123}, {"prefix": "abc"} ]}"#
            .parse::<FilterPolicy>()
            .is_err());
        let plain = policy(r#"{"$or": [ {"prefix": "abc"}, {"suffix": "xyz"} ]}"#);
        assert!(plain.rule.any_of.is_empty());
        assert!(plain.matches(&one("$or", s("abcdef"))));
    }

    #[test]
    fn attributes_the_policy_does_not_name_are_ignored() {
        let p = policy(r#"{"threat_level": ["medium", "high"]}"#);
        let attributes = BTreeMap::from([
            ("threat_level".to_string(), s("high")),
            ("event".to_string(), s("DeleteTrail")),
        ]);
        assert!(p.matches(&attributes));
        assert!(!p.matches(&one("threat_level", s("low"))));
        assert!(!p.matches(&BTreeMap::new()));
    }

    #[test]
    fn threat_level_policies_deliver_that_level_and_above() {
        let medium = FilterPolicy::threat_level_at_least(ThreatLevel::Medium);
        assert_eq!(
            FilterPolicy::threat_level_at_least_text(ThreatLevel::Medium),
            r#"{"threat_level":["medium","high"]}"#
        );
        assert!(medium.matches(&one("threat_level", s("high"))));
        assert!(medium.matches(&one("threat_level", s("medium"))));
        assert!(!medium.matches(&one("threat_level", s("low"))));
        assert!(!medium.matches(&BTreeMap::new()));
        assert!(FilterPolicy::threat_level_at_least(ThreatLevel::Low)
            .matches(&one("threat_level", s("low"))));
    }

    #[test]
    fn bad_policies_are_refused() {
        for text in [
            "[]",
            r#"{"a": "x"}"#,
            r#"{"a": {"b": ["x"]}}"#,
            r#"{"a": [{"numeric": ["~", 1]}]}"#,
            r#"{"a": [{"unknown": 1}]}"#,
            r#"{"a": [{"cidr": "10.0.0.0"}]}"#,
            r#"{"a": [1e10]}"#,
            r#"{"a":["x"],"b":["x"],"c":["x"],"d":["x"],"e":["x"],"f":["x"]}"#,
            r#"{"a": [{"wildcard": "*a*b*c*d"}]}"#,
        ] {
            assert!(text.parse::<FilterPolicy>().is_err(), "{text}");
        }
        let many: Vec<String> = (0..151).map(|i| format!("\"v{i}\"")).collect();
        let text = format!("{{\"a\": [{}]}}", many.join(","));
        assert!(text.parse::<FilterPolicy>().is_err());
    }
}
