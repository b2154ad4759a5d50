//! JSONPath Choice rules (`StringEquals`, `NumericGreaterThanPath`, `And`, `IsPresent`, ...).

use serde_json::Value;

use crate::clock::parse_timestamp;
use crate::definition::{Operand, Rule};
use crate::error::StatesError;
use crate::template::EvalContext;

pub fn evaluate_rule(
    rule: &Rule,
    ctx: &EvalContext<'_>,
    data: &Value,
) -> Result<bool, StatesError> {
    match rule {
        Rule::And(rules) => {
            for r in rules {
                if !evaluate_rule(r, ctx, data)? {
                    return Ok(false);
                }
            }
            Ok(true)
        }
        Rule::Or(rules) => {
            for r in rules {
                if evaluate_rule(r, ctx, data)? {
                    return Ok(true);
                }
            }
            Ok(false)
        }
        Rule::Not(r) => Ok(!evaluate_rule(r, ctx, data)?),
        Rule::Compare {
            variable,
            operator,
            operand,
        } => {
            let value = ctx.select(variable, data);
            if operator == "IsPresent" {
                return Ok(value.is_some() == (operand_value(operand) == Some(Value::Bool(true))));
            }
            let Some(value) = value else {
                return Err(ctx.runtime_error(format!(
                    "Invalid path '{}': The choice state's condition path references an invalid value.",
                    variable.text
                )));
            };
            let expected = match operand {
                Operand::Value(v) => v.clone(),
                Operand::Path(p) => ctx.select(p, data).ok_or_else(|| {
                    ctx.runtime_error(format!(
                        "Invalid path '{}': The choice state's condition path references an invalid value.",
                        p.text
                    ))
                })?,
            };
            Ok(compare(operator, &value, &expected))
        }
    }
}

fn operand_value(operand: &Operand) -> Option<Value> {
    match operand {
        Operand::Value(v) => Some(v.clone()),
        Operand::Path(_) => None,
    }
}

fn compare(operator: &str, value: &Value, expected: &Value) -> bool {
    let flag = expected.as_bool() == Some(true);
    match operator {
        "IsNull" => value.is_null() == flag,
        "IsNumeric" => value.is_number() == flag,
        "IsString" => value.is_string() == flag,
        "IsBoolean" => value.is_boolean() == flag,
        "IsTimestamp" => value.as_str().and_then(parse_timestamp).is_some() == flag,
        "BooleanEquals" => value.is_boolean() && value == expected,
        "StringMatches" => match (value.as_str(), expected.as_str()) {
            (Some(v), Some(p)) => wildcard_match(p, v),
            _ => false,
        },
        op if op.starts_with("String") => match (value.as_str(), expected.as_str()) {
            (Some(a), Some(b)) => ordering_holds(&op["String".len()..], a.cmp(b)),
            _ => false,
        },
        op if op.starts_with("Numeric") => match (value.as_f64(), expected.as_f64()) {
            (Some(a), Some(b)) => a
                .partial_cmp(&b)
                .is_some_and(|o| ordering_holds(&op["Numeric".len()..], o)),
            _ => false,
        },
        op if op.starts_with("Timestamp") => {
            match (
                value.as_str().and_then(parse_timestamp),
                expected.as_str().and_then(parse_timestamp),
            ) {
                (Some(a), Some(b)) => ordering_holds(&op["Timestamp".len()..], a.cmp(&b)),
                _ => false,
            }
        }
        _ => false,
    }
}

fn ordering_holds(suffix: &str, ordering: std::cmp::Ordering) -> bool {
    use std::cmp::Ordering::*;
    match suffix {
        "Equals" => ordering == Equal,
        "LessThan" => ordering == Less,
        "GreaterThan" => ordering == Greater,
        "LessThanEquals" => ordering != Greater,
        "GreaterThanEquals" => ordering != Less,
        _ => false,
    }
}

/// `*` matches any run of characters; `\*` is a literal star.
fn wildcard_match(pattern: &str, text: &str) -> bool {
    let mut tokens: Vec<Option<char>> = Vec::new();
    let mut chars = pattern.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => tokens.push(chars.next()),
            '*' => tokens.push(None),
            other => tokens.push(Some(other)),
        }
    }
    let text: Vec<char> = text.chars().collect();
    let (mut t, mut p) = (0usize, 0usize);
    let (mut star, mut mark) = (None::<usize>, 0usize);
    while t < text.len() {
        if p < tokens.len() && tokens[p].is_some_and(|c| c == text[t]) {
            t += 1;
            p += 1;
        } else if p < tokens.len() && tokens[p].is_none() {
            star = Some(p);
            mark = t;
            p += 1;
        } else if let Some(s) = star {
            p = s + 1;
            mark += 1;
            t = mark;
        } else {
            return false;
        }
    }
    while p < tokens.len() && tokens[p].is_none() {
        p += 1;
    }
    p == tokens.len()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn comparisons_follow_aws_rules() {
        assert!(compare("StringEquals", &json!("a"), &json!("a")));
        assert!(!compare("StringEquals", &json!(1), &json!("1")));
        assert!(compare("NumericGreaterThanEquals", &json!(20), &json!(20)));
        assert!(compare("NumericLessThan", &json!(1.5), &json!(2)));
        assert!(compare("BooleanEquals", &json!(true), &json!(true)));
        assert!(compare("IsNull", &json!(null), &json!(true)));
        assert!(compare(
            "TimestampLessThan",
            &json!("2016-03-14T01:59:00Z"),
            &json!("2016-03-14T02:00:00Z")
        ));
        assert!(compare(
            "StringMatches",
            &json!("log-2024.txt"),
            &json!("log-*.txt")
        ));
        assert!(!compare(
            "StringMatches",
            &json!("log-2024.csv"),
            &json!("log-*.txt")
        ));
        assert!(compare("StringMatches", &json!("a*b"), &json!("a\\*b")));
    }
}
