//! AWS Step Functions JSONata additions: `$partition`, `$range`, `$hash`, `$random`, `$uuid`, `$parse`.
//! Error codes D32xx are ours (AWS reports them all as `States.QueryEvaluationError`).

use crate::eval::{Ctx, R};
use crate::functions::{arg, Imp, Registry};
use crate::value::{Frame, Value};
use crate::Error;
use std::rc::Rc;

pub(crate) fn register(r: &mut Registry, reg: fn(&mut Registry, &'static str, &str, Imp)) {
    reg(r, "partition", "<an:a>", fn_partition);
    reg(r, "range", "<nnn?:a>", fn_range);
    reg(r, "hash", "<ss?:s>", fn_hash);
    reg(r, "random", "<n?:n>", fn_random);
    reg(r, "uuid", "<:s>", fn_uuid);
    reg(r, "parse", "<s-:j>", fn_parse);
}

/// Largest array `$range` may build (as the range operator's limit).
const MAX_RANGE_ITEMS: f64 = 1e7;

fn fail(code: &str, message: String, value: Option<&Value>) -> Error {
    let mut e = Error::new(code, message);
    e.value = value.map(|v| v.to_json_lossy());
    e
}

fn number(args: &[Option<Value>], i: usize) -> Option<f64> {
    match arg(args, i) {
        Some(Value::Number(n)) => Some(*n),
        _ => None,
    }
}

/// `$partition(array, size)`: chunks of `size` (the last may be shorter).
fn fn_partition(_: &mut Ctx, a: Vec<Option<Value>>, _: Option<&Value>, _: &Rc<Frame>) -> R {
    let Some(Value::Array(arr)) = arg(&a, 0) else {
        return Ok(None);
    };
    let Some(size) = number(&a, 1) else {
        return Ok(None);
    };
    if size < 1.0 || size.fract() != 0.0 {
        return Err(fail(
            "D3201",
            format!("$partition: the chunk size must be a positive integer, got {size}"),
            arg(&a, 1),
        ));
    }
    let chunks = arr
        .items
        .chunks(size as usize)
        .map(|c| Value::array_from(c.to_vec()))
        .collect();
    Ok(Some(Value::array_from(chunks)))
}

/// `$range(start, end, step)`: from `start` to `end` inclusive, by `step` (default 1).
fn fn_range(_: &mut Ctx, a: Vec<Option<Value>>, _: Option<&Value>, _: &Rc<Frame>) -> R {
    let (Some(start), Some(end)) = (number(&a, 0), number(&a, 1)) else {
        return Ok(None);
    };
    let step = number(&a, 2).unwrap_or(1.0);
    if step == 0.0 || !step.is_finite() {
        return Err(fail(
            "D3202",
            "$range: the step must not be zero".into(),
            arg(&a, 2),
        ));
    }
    let count = ((end - start) / step).floor() + 1.0;
    if count > MAX_RANGE_ITEMS {
        return Err(fail(
            "D3202",
            format!("$range: {count} items exceed the limit of {MAX_RANGE_ITEMS}"),
            None,
        ));
    }
    let mut items = Vec::new();
    if count >= 1.0 {
        for i in 0..count as i64 {
            items.push(Value::Number(start + step * i as f64));
        }
    }
    // Step Functions returns a one-item range as the bare number (recorded: `$range(1,9,9)` is 1).
    if items.len() == 1 {
        return Ok(items.pop());
    }
    Ok(Some(Value::array_from(items)))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// `$hash(data, algorithm)`: hex digest; MD5, SHA-1, SHA-256 (default), SHA-384, SHA-512.
fn fn_hash(_: &mut Ctx, a: Vec<Option<Value>>, _: Option<&Value>, _: &Rc<Frame>) -> R {
    use sha2::Digest;
    let Some(Value::String(data)) = arg(&a, 0) else {
        return Ok(None);
    };
    let algorithm = match arg(&a, 1) {
        Some(Value::String(s)) => s.to_string(),
        _ => "SHA-256".to_string(),
    };
    let bytes = data.as_bytes();
    let digest = match algorithm.as_str() {
        "MD5" => hex(&md5::Md5::digest(bytes)),
        "SHA-1" => hex(&sha1::Sha1::digest(bytes)),
        "SHA-256" => hex(&sha2::Sha256::digest(bytes)),
        "SHA-384" => hex(&sha2::Sha384::digest(bytes)),
        "SHA-512" => hex(&sha2::Sha512::digest(bytes)),
        other => {
            return Err(fail(
                "D3203",
                format!(
                "$hash: unsupported algorithm \"{other}\" (MD5, SHA-1, SHA-256, SHA-384, SHA-512)"
            ),
                arg(&a, 1),
            ))
        }
    };
    Ok(Some(Value::string(digest)))
}

/// `$random()` or `$random(seed)`: a number in [0, 1); the same seed gives the same number.
fn fn_random(_: &mut Ctx, a: Vec<Option<Value>>, _: Option<&Value>, _: &Rc<Frame>) -> R {
    let n = match number(&a, 0) {
        Some(seed) => fastrand::Rng::with_seed(seed.to_bits()).f64(),
        None => fastrand::f64(),
    };
    Ok(Some(Value::Number(n)))
}

/// `$uuid()`: a version 4 UUID.
fn fn_uuid(_: &mut Ctx, _: Vec<Option<Value>>, _: Option<&Value>, _: &Rc<Frame>) -> R {
    Ok(Some(Value::string(uuid::Uuid::new_v4().to_string())))
}

/// `$parse(json)`: parses a JSON string.
fn fn_parse(_: &mut Ctx, a: Vec<Option<Value>>, _: Option<&Value>, _: &Rc<Frame>) -> R {
    let Some(Value::String(s)) = arg(&a, 0) else {
        return Ok(None);
    };
    match serde_json::from_str::<serde_json::Value>(s) {
        Ok(v) => Ok(Some(Value::from_json(&v))),
        Err(e) => Err(fail(
            "D3200",
            format!("$parse: the argument is not valid JSON: {e}"),
            arg(&a, 0),
        )),
    }
}
