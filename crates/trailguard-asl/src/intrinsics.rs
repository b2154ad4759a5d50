//! JSONPath intrinsic functions (`States.Format(...)`, `States.Array(...)`, ...).

use base64::Engine as _;
use serde_json::{Map, Number, Value};

use crate::jsonpath::{compact, Path, Scope};

#[derive(Debug, Clone, PartialEq)]
pub enum Arg {
    Literal(Value),
    Path(Path),
    Call(Box<Call>),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Call {
    pub name: String,
    pub args: Vec<Arg>,
}

const FUNCTIONS: &[&str] = &[
    "States.Format",
    "States.StringToJson",
    "States.JsonToString",
    "States.Array",
    "States.ArrayPartition",
    "States.ArrayContains",
    "States.ArrayRange",
    "States.ArrayGetItem",
    "States.ArrayLength",
    "States.ArrayUnique",
    "States.Base64Encode",
    "States.Base64Decode",
    "States.Hash",
    "States.JsonMerge",
    "States.MathRandom",
    "States.MathAdd",
    "States.StringSplit",
    "States.UUID",
];

pub fn looks_like_call(text: &str) -> bool {
    text.trim_start().starts_with("States.")
}

impl Call {
    pub fn parse(text: &str) -> Result<Call, String> {
        let chars: Vec<char> = text.trim().chars().collect();
        let mut pos = 0;
        let call = parse_call(&chars, &mut pos)?;
        skip_ws(&chars, &mut pos);
        if pos != chars.len() {
            return Err(format!(
                "unexpected text after intrinsic function call in '{text}'"
            ));
        }
        Ok(call)
    }

    pub fn evaluate(
        &self,
        scope: &Scope<'_>,
        random: &mut dyn FnMut() -> u64,
    ) -> Result<Value, String> {
        let mut args = Vec::with_capacity(self.args.len());
        for arg in &self.args {
            args.push(match arg {
                Arg::Literal(v) => v.clone(),
                Arg::Path(p) => p
                    .select(scope)
                    .ok_or_else(|| format!("The JSONPath '{}' could not be found", p.text))?,
                Arg::Call(c) => c.evaluate(scope, random)?,
            });
        }
        apply(&self.name, args, random)
    }
}

fn skip_ws(chars: &[char], pos: &mut usize) {
    while *pos < chars.len() && chars[*pos].is_whitespace() {
        *pos += 1;
    }
}

fn parse_call(chars: &[char], pos: &mut usize) -> Result<Call, String> {
    skip_ws(chars, pos);
    let start = *pos;
    while *pos < chars.len() && (chars[*pos].is_alphanumeric() || chars[*pos] == '.') {
        *pos += 1;
    }
    let name: String = chars[start..*pos].iter().collect();
    if !FUNCTIONS.contains(&name.as_str()) {
        return Err(format!("unknown intrinsic function '{name}'"));
    }
    skip_ws(chars, pos);
    if chars.get(*pos) != Some(&'(') {
        return Err(format!("expected '(' after {name}"));
    }
    *pos += 1;
    let mut args = Vec::new();
    loop {
        skip_ws(chars, pos);
        match chars.get(*pos) {
            Some(')') => {
                *pos += 1;
                break;
            }
            None => return Err(format!("unclosed argument list of {name}")),
            _ => {}
        }
        args.push(parse_arg(chars, pos)?);
        skip_ws(chars, pos);
        match chars.get(*pos) {
            Some(',') => *pos += 1,
            Some(')') => {}
            _ => return Err(format!("expected ',' or ')' in arguments of {name}")),
        }
    }
    Ok(Call { name, args })
}

fn parse_arg(chars: &[char], pos: &mut usize) -> Result<Arg, String> {
    match chars.get(*pos) {
        Some('\'') => {
            *pos += 1;
            let mut out = String::new();
            while let Some(&c) = chars.get(*pos) {
                *pos += 1;
                match c {
                    '\\' => {
                        if let Some(&n) = chars.get(*pos) {
                            *pos += 1;
                            // Escapes keep `{}` literal for States.Format.
                            if n == '{' || n == '}' {
                                out.push('\\');
                            }
                            out.push(n);
                        }
                    }
                    '\'' => return Ok(Arg::Literal(Value::String(out))),
                    _ => out.push(c),
                }
            }
            Err("unclosed string literal".into())
        }
        Some('$') => {
            let start = *pos;
            let mut depth = 0i32;
            let mut quote: Option<char> = None;
            while let Some(&c) = chars.get(*pos) {
                match quote {
                    Some(q) if c == q => quote = None,
                    Some(_) => {}
                    None => match c {
                        '\'' | '"' if depth > 0 => quote = Some(c),
                        '[' => depth += 1,
                        ']' => depth -= 1,
                        ',' | ')' if depth == 0 => break,
                        c if c.is_whitespace() && depth == 0 => break,
                        _ => {}
                    },
                }
                *pos += 1;
            }
            let text: String = chars[start..*pos].iter().collect();
            Path::parse(&text).map(Arg::Path)
        }
        Some('S') => parse_call(chars, pos).map(|c| Arg::Call(Box::new(c))),
        _ => {
            let start = *pos;
            while let Some(&c) = chars.get(*pos) {
                if c == ',' || c == ')' || c.is_whitespace() {
                    break;
                }
                *pos += 1;
            }
            let text: String = chars[start..*pos].iter().collect();
            serde_json::from_str::<Value>(&text)
                .ok()
                .filter(|v| v.is_number() || v.is_boolean() || v.is_null())
                .map(Arg::Literal)
                .ok_or_else(|| format!("invalid intrinsic function argument '{text}'"))
        }
    }
}

fn arity(name: &str, args: &[Value], min: usize, max: usize) -> Result<(), String> {
    if args.len() < min || args.len() > max {
        return Err(format!(
            "The function {name} expects {} arguments but received {}",
            if min == max {
                min.to_string()
            } else {
                format!("{min} to {max}")
            },
            args.len()
        ));
    }
    Ok(())
}

fn as_int(name: &str, v: &Value) -> Result<i64, String> {
    v.as_i64()
        .or_else(|| v.as_f64().filter(|f| f.fract() == 0.0).map(|f| f as i64))
        .ok_or_else(|| {
            format!(
                "The function {name} expects an integer argument but received {}",
                compact(v)
            )
        })
}

fn as_str<'v>(name: &str, v: &'v Value) -> Result<&'v str, String> {
    v.as_str().ok_or_else(|| {
        format!(
            "The function {name} expects a string argument but received {}",
            compact(v)
        )
    })
}

fn as_array<'v>(name: &str, v: &'v Value) -> Result<&'v Vec<Value>, String> {
    v.as_array().ok_or_else(|| {
        format!(
            "The function {name} expects an array argument but received {}",
            compact(v)
        )
    })
}

fn number(n: f64) -> Value {
    if n.fract() == 0.0 && n.abs() < 9.0e15 {
        Value::Number(Number::from(n as i64))
    } else {
        Number::from_f64(n)
            .map(Value::Number)
            .unwrap_or(Value::Null)
    }
}

fn apply(name: &str, args: Vec<Value>, random: &mut dyn FnMut() -> u64) -> Result<Value, String> {
    match name {
        "States.Format" => {
            if args.is_empty() {
                return Err("The function States.Format expects at least 1 argument".into());
            }
            let template = as_str(name, &args[0])?;
            let mut out = String::new();
            let mut rest = args[1..].iter();
            let chars: Vec<char> = template.chars().collect();
            let mut i = 0;
            while i < chars.len() {
                if chars[i] == '\\' && i + 1 < chars.len() {
                    out.push(chars[i + 1]);
                    i += 2;
                    continue;
                }
                if chars[i] == '{' && chars.get(i + 1) == Some(&'}') {
                    let arg = rest.next().ok_or_else(|| {
                        "The number of arguments does not match the number of placeholders in States.Format".to_string()
                    })?;
                    match arg {
                        Value::String(s) => out.push_str(s),
                        other => out.push_str(&compact(other)),
                    }
                    i += 2;
                    continue;
                }
                out.push(chars[i]);
                i += 1;
            }
            if rest.next().is_some() {
                return Err("The number of arguments does not match the number of placeholders in States.Format".into());
            }
            Ok(Value::String(out))
        }
        "States.StringToJson" => {
            arity(name, &args, 1, 1)?;
            serde_json::from_str(as_str(name, &args[0])?).map_err(|e| {
                format!("The function States.StringToJson could not parse its argument: {e}")
            })
        }
        "States.JsonToString" => {
            arity(name, &args, 1, 1)?;
            Ok(Value::String(compact(&args[0])))
        }
        "States.Array" => Ok(Value::Array(args)),
        "States.ArrayPartition" => {
            arity(name, &args, 2, 2)?;
            let array = as_array(name, &args[0])?;
            let size = as_int(name, &args[1])?;
            if size <= 0 {
                return Err(
                    "The function States.ArrayPartition expects a positive chunk size".into(),
                );
            }
            let size = usize::try_from(size).unwrap_or(usize::MAX);
            Ok(Value::Array(
                array
                    .chunks(size)
                    .map(|c| Value::Array(c.to_vec()))
                    .collect(),
            ))
        }
        "States.ArrayContains" => {
            arity(name, &args, 2, 2)?;
            Ok(Value::Bool(as_array(name, &args[0])?.contains(&args[1])))
        }
        "States.ArrayRange" => {
            arity(name, &args, 3, 3)?;
            let (start, end, step) = (
                as_int(name, &args[0])?,
                as_int(name, &args[1])?,
                as_int(name, &args[2])?,
            );
            if step == 0 {
                return Err("The function States.ArrayRange expects a non-zero step".into());
            }
            let mut out = Vec::new();
            let mut k = start;
            while (step > 0 && k <= end) || (step < 0 && k >= end) {
                out.push(Value::from(k));
                if out.len() > 1000 {
                    return Err(
                        "The function States.ArrayRange produced more than 1000 items".into(),
                    );
                }
                k += step;
            }
            Ok(Value::Array(out))
        }
        "States.ArrayGetItem" => {
            arity(name, &args, 2, 2)?;
            let array = as_array(name, &args[0])?;
            let index = as_int(name, &args[1])?;
            usize::try_from(index)
                .ok()
                .and_then(|i| array.get(i))
                .cloned()
                .ok_or_else(|| format!("The index {index} is out of bounds in States.ArrayGetItem"))
        }
        "States.ArrayLength" => {
            arity(name, &args, 1, 1)?;
            Ok(Value::from(as_array(name, &args[0])?.len()))
        }
        "States.ArrayUnique" => {
            arity(name, &args, 1, 1)?;
            let mut out: Vec<Value> = Vec::new();
            for v in as_array(name, &args[0])? {
                if !out.contains(v) {
                    out.push(v.clone());
                }
            }
            Ok(Value::Array(out))
        }
        "States.Base64Encode" => {
            arity(name, &args, 1, 1)?;
            Ok(Value::String(
                base64::engine::general_purpose::STANDARD.encode(as_str(name, &args[0])?),
            ))
        }
        "States.Base64Decode" => {
            arity(name, &args, 1, 1)?;
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(as_str(name, &args[0])?)
                .map_err(|e| {
                    format!("The function States.Base64Decode could not decode its argument: {e}")
                })?;
            Ok(Value::String(String::from_utf8_lossy(&bytes).into_owned()))
        }
        "States.Hash" => {
            arity(name, &args, 2, 2)?;
            let data = match &args[0] {
                Value::String(s) => s.clone(),
                other => compact(other),
            };
            let algorithm = as_str(name, &args[1])?;
            Ok(Value::String(hash(data.as_bytes(), algorithm)?))
        }
        "States.JsonMerge" => {
            arity(name, &args, 3, 3)?;
            if args[2] != Value::Bool(false) {
                return Err(
                    "The function States.JsonMerge only supports a shallow merge (false)".into(),
                );
            }
            let (Value::Object(a), Value::Object(b)) = (&args[0], &args[1]) else {
                return Err("The function States.JsonMerge expects two JSON objects".into());
            };
            let mut merged: Map<String, Value> = a.clone();
            for (k, v) in b {
                merged.insert(k.clone(), v.clone());
            }
            Ok(Value::Object(merged))
        }
        "States.MathRandom" => {
            arity(name, &args, 2, 3)?;
            let (start, end) = (as_int(name, &args[0])?, as_int(name, &args[1])?);
            if end <= start {
                return Err("The function States.MathRandom expects start < end".into());
            }
            let span = u64::try_from(end - start).unwrap_or(1);
            let draw = if args.len() == 3 {
                let seed = as_int(name, &args[2])?;
                fastrand::Rng::with_seed(seed as u64).u64(..)
            } else {
                random()
            };
            Ok(Value::from(start + i64::try_from(draw % span).unwrap_or(0)))
        }
        "States.MathAdd" => {
            arity(name, &args, 2, 2)?;
            let a = args[0]
                .as_f64()
                .ok_or("The function States.MathAdd expects numbers")?;
            let b = args[1]
                .as_f64()
                .ok_or("The function States.MathAdd expects numbers")?;
            Ok(number(a + b))
        }
        "States.StringSplit" => {
            arity(name, &args, 2, 2)?;
            let text = as_str(name, &args[0])?;
            let delimiters: Vec<char> = as_str(name, &args[1])?.chars().collect();
            Ok(Value::Array(
                text.split(|c| delimiters.contains(&c))
                    .filter(|s| !s.is_empty())
                    .map(|s| Value::String(s.to_string()))
                    .collect(),
            ))
        }
        "States.UUID" => {
            arity(name, &args, 0, 0)?;
            Ok(Value::String(uuid_v4(random)))
        }
        other => Err(format!("unknown intrinsic function '{other}'")),
    }
}

/// A version-4 UUID from the execution's random source.
pub fn uuid_v4(random: &mut dyn FnMut() -> u64) -> String {
    let (a, b) = (random(), random());
    let mut bytes = [0u8; 16];
    bytes[..8].copy_from_slice(&a.to_be_bytes());
    bytes[8..].copy_from_slice(&b.to_be_bytes());
    bytes[6] = (bytes[6] & 0x0f) | 0x40;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}

fn hash(data: &[u8], algorithm: &str) -> Result<String, String> {
    use sha2::Digest;
    let bytes: Vec<u8> = match algorithm {
        "MD5" => md5::Md5::digest(data).to_vec(),
        "SHA-1" => sha1::Sha1::digest(data).to_vec(),
        "SHA-256" => sha2::Sha256::digest(data).to_vec(),
        "SHA-384" => sha2::Sha384::digest(data).to_vec(),
        "SHA-512" => sha2::Sha512::digest(data).to_vec(),
        other => {
            return Err(format!(
                "The hash algorithm '{other}' is not supported by States.Hash"
            ))
        }
    };
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn eval(text: &str, data: &Value) -> Result<Value, String> {
        let none = |_: &str| None;
        let scope = Scope {
            data,
            context: &Value::Null,
            variable: &none,
        };
        let mut rng = fastrand::Rng::with_seed(1);
        Call::parse(text)?.evaluate(&scope, &mut || rng.u64(..))
    }

    #[test]
    fn evaluates_common_functions() {
        let data = json!({"name": "World", "list": [1, 2, 2, 3]});
        assert_eq!(
            eval("States.Format('Hello, {}!', $.name)", &data).unwrap(),
            json!("Hello, World!")
        );
        assert_eq!(
            eval("States.ArrayPartition($.list, 3)", &data).unwrap(),
            json!([[1, 2, 2], [3]])
        );
        assert_eq!(
            eval("States.ArrayUnique($.list)", &data).unwrap(),
            json!([1, 2, 3])
        );
        assert_eq!(eval("States.ArrayLength($.list)", &data).unwrap(), json!(4));
        assert_eq!(
            eval("States.ArrayRange(1, 9, 2)", &data).unwrap(),
            json!([1, 3, 5, 7, 9])
        );
        assert_eq!(eval("States.MathAdd(1, 2)", &data).unwrap(), json!(3));
        assert_eq!(
            eval("States.StringSplit('a,b;c', ',;')", &data).unwrap(),
            json!(["a", "b", "c"])
        );
        assert_eq!(
            eval("States.Hash('input', 'SHA-1')", &data).unwrap(),
            json!("140f86aae51ab9e1cda9b4254fe98a74eb54c1a1")
        );
        assert_eq!(
            eval("States.Base64Decode(States.Base64Encode('hi'))", &data).unwrap(),
            json!("hi")
        );
        assert_eq!(
            eval("States.JsonToString(States.Array(1, 'a', true))", &data).unwrap(),
            json!("[1,\"a\",true]")
        );
        assert!(eval("States.ArrayGetItem($.list, 9)", &data).is_err());
    }
}
