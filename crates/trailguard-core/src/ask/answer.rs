//! Turning a model's text into a checked value: code fences and prose around the JSON are
//! tolerated, types are not.

use serde_json::{Map, Value};

/// Caps applied to answers and to the text taken from them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ResponseLimits {
    /// Longer answers are rejected unread (a runaway or padded answer).
    pub max_answer_bytes: usize,
    pub max_title_chars: usize,
    pub max_summary_chars: usize,
    pub max_entities: usize,
    pub max_evidence_chars: usize,
}

impl Default for ResponseLimits {
    fn default() -> Self {
        ResponseLimits {
            max_answer_bytes: 64 * 1024,
            max_title_chars: 300,
            max_summary_chars: 2_000,
            max_entities: 32,
            max_evidence_chars: 160,
        }
    }
}

/// Why an answer was not accepted; the text goes back to the model in the repair request.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ValidationError {
    #[error("the answer was empty")]
    Empty,
    #[error("the answer was {len} bytes, over the {limit}-byte limit")]
    TooLong { len: usize, limit: usize },
    #[error("the answer held no JSON object")]
    NoJsonObject,
    #[error("the answer's JSON did not parse: {0}")]
    InvalidJson(String),
    #[error("field \"{0}\" is missing")]
    MissingField(&'static str),
    #[error("field \"{field}\" must be {expected}, found {found}")]
    WrongType {
        field: String,
        expected: &'static str,
        found: &'static str,
    },
    #[error("field \"{field}\" has an invalid value: {message}")]
    InvalidValue { field: String, message: String },
}

pub fn type_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// Removes Markdown code fence lines (```` ``` ```` or ```` ```json ````), keeping what is between.
pub fn strip_code_fences(text: &str) -> String {
    text.lines()
        .filter(|line| !line.trim_start().starts_with("```"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// End (exclusive) of the balanced `{...}` starting at `start`, aware of JSON strings.
fn balanced_end(bytes: &[u8], start: usize) -> Option<usize> {
    let mut depth = 0usize;
    let mut in_string = false;
    let mut escaped = false;
    for (offset, &byte) in bytes.get(start..)?.iter().enumerate() {
        if in_string {
            match byte {
                _ if escaped => escaped = false,
                b'\\' => escaped = true,
                b'"' => in_string = false,
                _ => {}
            }
            continue;
        }
        match byte {
            b'"' => in_string = true,
            b'{' => depth += 1,
            b'}' => {
                depth = depth.checked_sub(1)?;
                if depth == 0 {
                    return Some(start + offset + 1);
                }
            }
            _ => {}
        }
    }
    None
}

/// The first balanced JSON object in `text` (after fences are removed), as a map.
pub fn extract_json_object(
    text: &str,
    limits: &ResponseLimits,
) -> Result<Map<String, Value>, ValidationError> {
    if text.trim().is_empty() {
        return Err(ValidationError::Empty);
    }
    if text.len() > limits.max_answer_bytes {
        return Err(ValidationError::TooLong {
            len: text.len(),
            limit: limits.max_answer_bytes,
        });
    }
    let text = strip_code_fences(text);
    let bytes = text.as_bytes();
    let mut first_error = None;
    // Bounded: a prose answer full of braces costs at most this many scans.
    for start in bytes
        .iter()
        .enumerate()
        .filter(|(_, b)| **b == b'{')
        .map(|(i, _)| i)
        .take(64)
    {
        let Some(end) = balanced_end(bytes, start) else {
            first_error.get_or_insert_with(|| "unbalanced braces".to_string());
            continue;
        };
        match serde_json::from_str::<Value>(&text[start..end]) {
            Ok(Value::Object(map)) => return Ok(map),
            Ok(_) => {}
            Err(error) => {
                first_error.get_or_insert_with(|| error.to_string());
            }
        }
    }
    match first_error {
        Some(message) => Err(ValidationError::InvalidJson(message)),
        None => Err(ValidationError::NoJsonObject),
    }
}

/// A required string field.
pub fn required_string<'m>(
    map: &'m Map<String, Value>,
    field: &'static str,
) -> Result<&'m str, ValidationError> {
    match map.get(field) {
        None | Some(Value::Null) => Err(ValidationError::MissingField(field)),
        Some(Value::String(s)) => Ok(s),
        Some(other) => Err(ValidationError::WrongType {
            field: field.into(),
            expected: "a string",
            found: type_name(other),
        }),
    }
}

/// An optional string field (null counts as absent).
pub fn optional_string(
    map: &Map<String, Value>,
    field: &'static str,
) -> Result<Option<String>, ValidationError> {
    match map.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(other) => Err(ValidationError::WrongType {
            field: field.into(),
            expected: "a string or null",
            found: type_name(other),
        }),
    }
}

/// An optional boolean field; a string "true" is a wrong type, not a boolean.
pub fn optional_bool(
    map: &Map<String, Value>,
    field: &'static str,
) -> Result<Option<bool>, ValidationError> {
    match map.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Bool(b)) => Ok(Some(*b)),
        Some(other) => Err(ValidationError::WrongType {
            field: field.into(),
            expected: "a boolean (true or false, not a string)",
            found: type_name(other),
        }),
    }
}
