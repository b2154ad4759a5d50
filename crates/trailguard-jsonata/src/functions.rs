//! The JSONata standard library (jsonata-js `functions.js`) and the AWS Step Functions additions.

use crate::ast::RegexLit;
use crate::eval::{append, err, err_val, Ctx, R};
use crate::signature::Signature;
use crate::value::{Array, Frame, Func, Items, Obj, Value};
use crate::Error;
use std::collections::HashMap;
use std::rc::Rc;
use std::sync::Arc;

pub(crate) type Imp = fn(&mut Ctx, Vec<Option<Value>>, Option<&Value>, &Rc<Frame>) -> R;

pub(crate) struct BuiltinDef {
    pub name: &'static str,
    pub signature: Option<Signature>,
    pub imp: Imp,
}

pub(crate) type Registry = HashMap<String, Arc<BuiltinDef>>;

fn reg(r: &mut Registry, name: &'static str, sig: &str, imp: Imp) {
    let signature = Signature::parse(sig).ok();
    r.insert(
        name.to_string(),
        Arc::new(BuiltinDef {
            name,
            signature,
            imp,
        }),
    );
}

/// The standard library.
pub(crate) fn standard() -> Registry {
    let mut r = Registry::new();
    reg(&mut r, "sum", "<a<n>:n>", fn_sum);
    reg(&mut r, "count", "<a:n>", fn_count);
    reg(&mut r, "max", "<a<n>:n>", fn_max);
    reg(&mut r, "min", "<a<n>:n>", fn_min);
    reg(&mut r, "average", "<a<n>:n>", fn_average);
    reg(&mut r, "string", "<x-b?:s>", fn_string);
    reg(&mut r, "substring", "<s-nn?:s>", fn_substring);
    reg(&mut r, "substringBefore", "<s-s:s>", fn_substring_before);
    reg(&mut r, "substringAfter", "<s-s:s>", fn_substring_after);
    reg(&mut r, "lowercase", "<s-:s>", fn_lowercase);
    reg(&mut r, "uppercase", "<s-:s>", fn_uppercase);
    reg(&mut r, "length", "<s-:n>", fn_length);
    reg(&mut r, "trim", "<s-:s>", fn_trim);
    reg(&mut r, "pad", "<s-ns?:s>", fn_pad);
    reg(&mut r, "match", "<s-f<s:o>n?:a<o>>", fn_match);
    reg(&mut r, "contains", "<s-(sf):b>", fn_contains);
    reg(&mut r, "replace", "<s-(sf)(sf)n?:s>", fn_replace);
    reg(&mut r, "split", "<s-(sf)n?:a<s>>", fn_split);
    reg(&mut r, "join", "<a<s>s?:s>", fn_join);
    reg(
        &mut r,
        "formatNumber",
        "<n-so?:s>",
        crate::numfmt::fn_format_number,
    );
    reg(&mut r, "formatBase", "<n-n?:s>", fn_format_base);
    reg(
        &mut r,
        "formatInteger",
        "<n-s:s>",
        crate::datetime::fn_format_integer,
    );
    reg(
        &mut r,
        "parseInteger",
        "<s-s:n>",
        crate::datetime::fn_parse_integer,
    );
    reg(&mut r, "number", "<(nsb)-:n>", fn_number);
    reg(&mut r, "floor", "<n-:n>", fn_floor);
    reg(&mut r, "ceil", "<n-:n>", fn_ceil);
    reg(&mut r, "round", "<n-n?:n>", fn_round);
    reg(&mut r, "abs", "<n-:n>", fn_abs);
    reg(&mut r, "sqrt", "<n-:n>", fn_sqrt);
    reg(&mut r, "power", "<n-n:n>", fn_power);
    reg(&mut r, "random", "<:n>", fn_random);
    reg(&mut r, "boolean", "<x-:b>", fn_boolean);
    reg(&mut r, "not", "<x-:b>", fn_not);
    reg(&mut r, "map", "<af>", fn_map);
    reg(&mut r, "zip", "<a+>", fn_zip);
    reg(&mut r, "filter", "<af>", fn_filter);
    reg(&mut r, "single", "<af?>", fn_single);
    reg(&mut r, "reduce", "<afj?:j>", fn_reduce);
    reg(&mut r, "sift", "<o-f?:o>", fn_sift);
    reg(&mut r, "keys", "<x-:a<s>>", fn_keys);
    reg(&mut r, "lookup", "<x-s:x>", fn_lookup);
    reg(&mut r, "append", "<xx:a>", fn_append);
    reg(&mut r, "exists", "<x:b>", fn_exists);
    reg(&mut r, "spread", "<x-:a<o>>", fn_spread);
    reg(&mut r, "merge", "<a<o>:o>", fn_merge);
    reg(&mut r, "reverse", "<a:a>", fn_reverse);
    reg(&mut r, "each", "<o-f:a>", fn_each);
    reg(&mut r, "error", "<s?:x>", fn_error);
    reg(&mut r, "assert", "<bs?:x>", fn_assert);
    reg(&mut r, "type", "<x:s>", fn_type);
    reg(&mut r, "sort", "<af?:a>", fn_sort);
    reg(&mut r, "shuffle", "<a:a>", fn_shuffle);
    reg(&mut r, "distinct", "<x:x>", fn_distinct);
    reg(&mut r, "base64encode", "<s-:s>", fn_base64encode);
    reg(&mut r, "base64decode", "<s-:s>", fn_base64decode);
    reg(
        &mut r,
        "encodeUrlComponent",
        "<s-:s>",
        fn_encode_url_component,
    );
    reg(&mut r, "encodeUrl", "<s-:s>", fn_encode_url);
    reg(
        &mut r,
        "decodeUrlComponent",
        "<s-:s>",
        fn_decode_url_component,
    );
    reg(&mut r, "decodeUrl", "<s-:s>", fn_decode_url);
    reg(&mut r, "eval", "<sx?:x>", fn_eval);
    reg(
        &mut r,
        "toMillis",
        "<s-s?:n>",
        crate::datetime::fn_to_millis,
    );
    reg(
        &mut r,
        "fromMillis",
        "<n-s?s?:s>",
        crate::datetime::fn_from_millis,
    );
    reg(&mut r, "now", "<s?s?:s>", crate::datetime::fn_now);
    reg(&mut r, "millis", "<:n>", crate::datetime::fn_millis);
    reg(&mut r, "clone", "<(oa)-:o>", fn_clone);
    r
}

/// The AWS Step Functions flavour: standard library plus AWS's functions, without `$eval`.
pub(crate) fn step_functions() -> Registry {
    let mut r = standard();
    r.remove("eval");
    crate::aws::register(&mut r, reg);
    r
}

// ---------- helpers ----------

/// Longest string a function may build (V8's limit is about 2^29 UTF-16 units).
const MAX_STRING_CHARS: f64 = 536_870_888.0;

pub(crate) fn arg(args: &[Option<Value>], i: usize) -> Option<&Value> {
    args.get(i).and_then(|a| a.as_ref())
}

fn num(args: &[Option<Value>], i: usize) -> Option<f64> {
    match arg(args, i) {
        Some(Value::Number(n)) => Some(*n),
        _ => None,
    }
}

fn string_arg(args: &[Option<Value>], i: usize) -> Option<Rc<str>> {
    match arg(args, i) {
        Some(Value::String(s)) => Some(s.clone()),
        _ => None,
    }
}

fn items_of(v: Option<&Value>) -> Vec<Value> {
    match v {
        Some(Value::Array(a)) => a.items.to_vec(),
        Some(other) => vec![other.clone()],
        None => vec![],
    }
}

fn ok_num(n: f64) -> R {
    Ok(Some(Value::Number(n)))
}

fn ok_str(s: String) -> R {
    Ok(Some(Value::string(s)))
}

pub(crate) fn func_arity(f: &Value) -> usize {
    match f {
        Value::Function(func) => match func.as_ref() {
            // JS `string(arg, prettify = false)` has length 1.
            Func::Builtin(b) if b.name == "string" => 1,
            f => f.arity(),
        },
        _ => 0,
    }
}

fn hof_args(f: &Value, a: Value, b: Value, c: &Value) -> Vec<Option<Value>> {
    let arity = func_arity(f);
    let mut args = vec![Some(a)];
    if arity >= 2 {
        args.push(Some(b));
    }
    if arity >= 3 {
        args.push(Some(c.clone()));
    }
    args
}

/// Effective boolean value (`undefined` stays undefined).
pub(crate) fn boolean(v: Option<&Value>) -> Option<bool> {
    let v = v?;
    Some(match v {
        Value::Array(a) => match a.items.len() {
            0 => false,
            1 => boolean(a.items.first()) == Some(true),
            _ => a.items.iter().any(|x| boolean(Some(x)) == Some(true)),
        },
        Value::String(s) => !s.is_empty(),
        Value::Number(n) => *n != 0.0,
        Value::Object(o) => !o.is_empty(),
        Value::Bool(b) => *b,
        Value::Null | Value::Function(_) => false,
    })
}

pub(crate) fn deep_equal(a: &Value, b: &Value) -> bool {
    stacker::maybe_grow(32 * 1024, 1024 * 1024, || deep_equal_inner(a, b))
}

fn deep_equal_inner(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Null, Value::Null) => true,
        (Value::Bool(x), Value::Bool(y)) => x == y,
        (Value::Number(x), Value::Number(y)) => x == y,
        (Value::String(x), Value::String(y)) => x == y,
        (Value::Array(x), Value::Array(y)) => {
            x.items.len() == y.items.len()
                && x.items.iter().zip(&y.items).all(|(p, q)| deep_equal(p, q))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len()
                && x.iter()
                    .all(|(k, v)| y.get(k).is_some_and(|w| deep_equal(v, w)))
        }
        (Value::Function(x), Value::Function(y)) => Rc::ptr_eq(x, y),
        _ => false,
    }
}

/// JS `===`.
pub(crate) fn strict_equal(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Array(x), Value::Array(y)) => Rc::ptr_eq(x, y),
        (Value::Object(x), Value::Object(y)) => Rc::ptr_eq(x, y),
        _ => deep_equal(a, b),
    }
}

/// JS string ordering (UTF-16 code units).
pub(crate) fn js_str_cmp(a: &str, b: &str) -> std::cmp::Ordering {
    a.encode_utf16().cmp(b.encode_utf16())
}

/// JS `Number.prototype.toString()`.
pub(crate) fn js_number(n: f64) -> String {
    if n.is_nan() {
        return "NaN".into();
    }
    if n.is_infinite() {
        return if n > 0.0 {
            "Infinity".into()
        } else {
            "-Infinity".into()
        };
    }
    if n == 0.0 {
        return "0".into();
    }
    let e = format!("{:e}", n);
    let (mant, exp) = e.split_once('e').unwrap_or((&e, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let neg = mant.starts_with('-');
    let digits: String = mant.chars().filter(|c| c.is_ascii_digit()).collect();
    let k = digits.len() as i32;
    let n10 = exp + 1;
    let mut s = String::new();
    if neg {
        s.push('-');
    }
    if k <= n10 && n10 <= 21 {
        s.push_str(&digits);
        s.push_str(&"0".repeat((n10 - k) as usize));
    } else if 0 < n10 && n10 <= 21 {
        s.push_str(&digits[..n10 as usize]);
        s.push('.');
        s.push_str(&digits[n10 as usize..]);
    } else if -6 < n10 && n10 <= 0 {
        s.push_str("0.");
        s.push_str(&"0".repeat((-n10) as usize));
        s.push_str(&digits);
    } else {
        let e = n10 - 1;
        s.push_str(&digits[..1]);
        if k > 1 {
            s.push('.');
            s.push_str(&digits[1..]);
        }
        s.push('e');
        s.push(if e >= 0 { '+' } else { '-' });
        s.push_str(&e.abs().to_string());
    }
    s
}

fn to_precision_15(n: f64) -> f64 {
    format!("{:.14e}", n).parse().unwrap_or(n)
}

fn json_escape(s: &str, out: &mut String) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
}

fn stringify(v: &Value, pretty: bool, indent: usize, out: &mut String) -> Result<(), Error> {
    stacker::maybe_grow(32 * 1024, 1024 * 1024, || {
        stringify_inner(v, pretty, indent, out)
    })
}

fn stringify_inner(v: &Value, pretty: bool, indent: usize, out: &mut String) -> Result<(), Error> {
    match v {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => {
            if !n.is_finite() {
                return Err(err_val("D1001", Some(v)));
            } else {
                out.push_str(&js_number(to_precision_15(*n)));
            }
        }
        Value::String(s) => json_escape(s, out),
        Value::Function(_) => out.push_str("\"\""),
        Value::Array(a) => {
            if a.items.is_empty() {
                out.push_str("[]");
                return Ok(());
            }
            out.push('[');
            for (i, item) in a.items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                if pretty {
                    out.push('\n');
                    out.push_str(&" ".repeat(indent + 2));
                }
                stringify(item, pretty, indent + 2, out)?;
            }
            if pretty {
                out.push('\n');
                out.push_str(&" ".repeat(indent));
            }
            out.push(']');
        }
        Value::Object(o) => {
            if o.is_empty() {
                out.push_str("{}");
                return Ok(());
            }
            out.push('{');
            for (i, (k, item)) in o.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                if pretty {
                    out.push('\n');
                    out.push_str(&" ".repeat(indent + 2));
                }
                json_escape(k, out);
                out.push(':');
                if pretty {
                    out.push(' ');
                }
                stringify(item, pretty, indent + 2, out)?;
            }
            if pretty {
                out.push('\n');
                out.push_str(&" ".repeat(indent));
            }
            out.push('}');
        }
    }
    Ok(())
}

/// jsonata's `$string` conversion.
pub(crate) fn string_of(v: &Value, pretty: bool) -> Result<String, Error> {
    match v {
        Value::String(s) => Ok(s.to_string()),
        Value::Function(_) => Ok(String::new()),
        Value::Number(n) if !n.is_finite() => Err(err_val("D3001", Some(v))),
        Value::Array(a) if a.outer_wrapper && !a.items.is_empty() => {
            let mut s = String::new();
            stringify(&a.items[0], pretty, 0, &mut s)?;
            Ok(s)
        }
        other => {
            let mut s = String::new();
            stringify(other, pretty, 0, &mut s)?;
            Ok(s)
        }
    }
}

fn chars_of(s: &str) -> Vec<char> {
    s.chars().collect()
}

// ---------- aggregation ----------

fn fn_sum(_: &mut Ctx, a: Vec<Option<Value>>, _: Option<&Value>, _: &Rc<Frame>) -> R {
    let Some(v) = arg(&a, 0) else { return Ok(None) };
    let mut total = 0.0;
    for x in items_of(Some(v)) {
        if let Value::Number(n) = x {
            total += n;
        }
    }
    ok_num(total)
}

fn fn_count(_: &mut Ctx, a: Vec<Option<Value>>, _: Option<&Value>, _: &Rc<Frame>) -> R {
    ok_num(items_of(arg(&a, 0)).len() as f64)
}

fn nums(v: Option<&Value>) -> Vec<f64> {
    items_of(v)
        .into_iter()
        .filter_map(|x| match x {
            Value::Number(n) => Some(n),
            _ => None,
        })
        .collect()
}

fn fn_max(_: &mut Ctx, a: Vec<Option<Value>>, _: Option<&Value>, _: &Rc<Frame>) -> R {
    let n = nums(arg(&a, 0));
    if n.is_empty() {
        return Ok(None);
    }
    ok_num(n.into_iter().fold(f64::NEG_INFINITY, f64::max))
}

fn fn_min(_: &mut Ctx, a: Vec<Option<Value>>, _: Option<&Value>, _: &Rc<Frame>) -> R {
    let n = nums(arg(&a, 0));
    if n.is_empty() {
        return Ok(None);
    }
    ok_num(n.into_iter().fold(f64::INFINITY, f64::min))
}

fn fn_average(_: &mut Ctx, a: Vec<Option<Value>>, _: Option<&Value>, _: &Rc<Frame>) -> R {
    let n = nums(arg(&a, 0));
    if n.is_empty() {
        return Ok(None);
    }
    ok_num(n.iter().sum::<f64>() / n.len() as f64)
}

// ---------- strings ----------

fn fn_string(_: &mut Ctx, a: Vec<Option<Value>>, _: Option<&Value>, _: &Rc<Frame>) -> R {
    let Some(v) = arg(&a, 0) else { return Ok(None) };
    let pretty = matches!(arg(&a, 1), Some(Value::Bool(true)));
    ok_str(string_of(v, pretty)?)
}

/// JS `Array.prototype.slice` index normalisation.
fn slice_index(i: f64, len: usize) -> usize {
    let len_f = len as f64;
    let i = i.trunc();
    if i < 0.0 {
        (len_f + i).max(0.0) as usize
    } else {
        i.min(len_f) as usize
    }
}

pub(crate) fn substring(s: &str, start: f64, length: Option<f64>) -> String {
    let chars = chars_of(s);
    let len = chars.len();
    let mut start = start;
    if len as f64 + start < 0.0 {
        start = 0.0;
    }
    if let Some(length) = length {
        if length <= 0.0 {
            return String::new();
        }
        let end = if start >= 0.0 {
            start + length
        } else {
            len as f64 + start + length
        };
        let (s0, e0) = (slice_index(start, len), slice_index(end, len));
        if s0 >= e0 {
            return String::new();
        }
        return chars[s0..e0].iter().collect();
    }
    let s0 = slice_index(start, len);
    chars[s0..].iter().collect()
}

fn fn_substring(_: &mut Ctx, a: Vec<Option<Value>>, _: Option<&Value>, _: &Rc<Frame>) -> R {
    let Some(s) = string_arg(&a, 0) else {
        return Ok(None);
    };
    let start = num(&a, 1).unwrap_or(0.0);
    ok_str(substring(&s, start, num(&a, 2)))
}

fn fn_substring_before(_: &mut Ctx, a: Vec<Option<Value>>, _: Option<&Value>, _: &Rc<Frame>) -> R {
    let Some(s) = string_arg(&a, 0) else {
        return Ok(None);
    };
    let Some(c) = string_arg(&a, 1) else {
        return Ok(Some(Value::String(s)));
    };
    match s.find(&*c) {
        Some(p) => ok_str(s[..p].to_string()),
        None => Ok(Some(Value::String(s))),
    }
}

fn fn_substring_after(_: &mut Ctx, a: Vec<Option<Value>>, _: Option<&Value>, _: &Rc<Frame>) -> R {
    let Some(s) = string_arg(&a, 0) else {
        return Ok(None);
    };
    let Some(c) = string_arg(&a, 1) else {
        return Ok(Some(Value::String(s)));
    };
    match s.find(&*c) {
        Some(p) => ok_str(s[p + c.len()..].to_string()),
        None => Ok(Some(Value::String(s))),
    }
}

fn fn_lowercase(_: &mut Ctx, a: Vec<Option<Value>>, _: Option<&Value>, _: &Rc<Frame>) -> R {
    Ok(string_arg(&a, 0).map(|s| Value::string(s.to_lowercase())))
}

fn fn_uppercase(_: &mut Ctx, a: Vec<Option<Value>>, _: Option<&Value>, _: &Rc<Frame>) -> R {
    Ok(string_arg(&a, 0).map(|s| Value::string(s.to_uppercase())))
}

fn fn_length(_: &mut Ctx, a: Vec<Option<Value>>, _: Option<&Value>, _: &Rc<Frame>) -> R {
    Ok(string_arg(&a, 0).map(|s| Value::Number(s.chars().count() as f64)))
}

fn fn_trim(_: &mut Ctx, a: Vec<Option<Value>>, _: Option<&Value>, _: &Rc<Frame>) -> R {
    let Some(s) = string_arg(&a, 0) else {
        return Ok(None);
    };
    let mut out = String::with_capacity(s.len());
    let mut in_ws = false;
    for c in s.chars() {
        if matches!(c, ' ' | '\t' | '\n' | '\r') {
            if !in_ws {
                out.push(' ');
            }
            in_ws = true;
        } else {
            out.push(c);
            in_ws = false;
        }
    }
    let t = out.strip_prefix(' ').unwrap_or(&out);
    let t = t.strip_suffix(' ').unwrap_or(t);
    ok_str(t.to_string())
}

fn fn_pad(_: &mut Ctx, a: Vec<Option<Value>>, _: Option<&Value>, _: &Rc<Frame>) -> R {
    let Some(s) = string_arg(&a, 0) else {
        return Ok(None);
    };
    let width = num(&a, 1).unwrap_or(0.0);
    let pad_char = match string_arg(&a, 2) {
        Some(c) if !c.is_empty() => c.to_string(),
        _ => " ".to_string(),
    };
    let len = s.chars().count() as f64;
    let pad_len = (width.abs() - len).floor();
    if pad_len <= 0.0 {
        return Ok(Some(Value::String(s)));
    }
    // JS fails on such lengths too (RangeError); refuse before allocating.
    if pad_len > MAX_STRING_CHARS {
        return Err(err_val("D1001", arg(&a, 1)));
    }
    let padding: String = pad_char.chars().cycle().take(pad_len as usize).collect();
    ok_str(if width > 0.0 {
        format!("{s}{padding}")
    } else {
        format!("{padding}{s}")
    })
}

/// One regex match with char-based offsets.
pub(crate) struct MatchInfo {
    pub text: String,
    pub start: usize,
    pub end: usize,
    pub byte_start: usize,
    pub byte_end: usize,
    pub groups: Vec<Value>,
}

/// All matches as JSONata's matcher protocol yields them; an empty match after the first is D1004.
pub(crate) fn regex_matches(
    r: &RegexLit,
    s: &str,
    limit: Option<usize>,
) -> Result<Vec<MatchInfo>, Error> {
    let mut out: Vec<MatchInfo> = Vec::new();
    let char_index = |byte: usize| s[..byte].chars().count();
    for caps in r.regex.captures_iter(s) {
        if limit.is_some_and(|l| out.len() >= l) {
            break;
        }
        let Some(m) = caps.get(0) else { continue };
        if let Some(prev) = out.last() {
            if prev.byte_end >= s.len() {
                break;
            }
            if m.as_str().is_empty() {
                let mut e = err("D1004");
                e.value = Some(serde_json::Value::String(r.source.clone()));
                return Err(e);
            }
        }
        let groups = (1..caps.len())
            .map(|i| Value::str(caps.get(i).map(|g| g.as_str()).unwrap_or("")))
            .collect();
        out.push(MatchInfo {
            text: m.as_str().to_string(),
            start: char_index(m.start()),
            end: char_index(m.end()),
            byte_start: m.start(),
            byte_end: m.end(),
            groups,
        });
        if m.as_str().is_empty() {
            // JS would loop on the same empty match; the next call reports D1004.
            if m.end() < s.len() {
                let mut e = err("D1004");
                e.value = Some(serde_json::Value::String(r.source.clone()));
                if out.len() > 1 {
                    return Err(e);
                }
                // first match may be empty; a further one errors
                if r.regex.find_at(s, m.end()).is_some() {
                    return Err(e);
                }
            }
            break;
        }
    }
    Ok(out)
}

fn match_object(m: &MatchInfo) -> Value {
    let mut o = Obj::new();
    o.insert("match".into(), Value::str(&m.text));
    o.insert("start".into(), Value::Number(m.start as f64));
    o.insert("end".into(), Value::Number(m.end as f64));
    o.insert("groups".into(), Value::array_from(m.groups.clone()));
    Value::object(o)
}

pub(crate) fn regex_match_object(r: &RegexLit, s: &str, _from: usize) -> Option<Value> {
    let caps = r.regex.captures(s)?;
    let m = caps.get(0)?;
    let info = MatchInfo {
        text: m.as_str().to_string(),
        start: s[..m.start()].chars().count(),
        end: s[..m.end()].chars().count(),
        byte_start: m.start(),
        byte_end: m.end(),
        groups: (1..caps.len())
            .map(|i| Value::str(caps.get(i).map(|g| g.as_str()).unwrap_or("")))
            .collect(),
    };
    Some(match_object(&info))
}

fn t1010() -> Error {
    let mut e = err("T1010");
    e.message = "The matcher function argument passed to function does not return the correct object structure".into();
    e
}

/// Runs a matcher (a regex, or a user function following jsonata's matcher protocol).
fn collect_matches(
    ctx: &mut Ctx,
    matcher: Option<&Value>,
    s: &str,
    limit: Option<usize>,
    input: Option<&Value>,
    env: &Rc<Frame>,
) -> Result<Vec<MatchInfo>, Error> {
    let Some(Value::Function(f)) = matcher else {
        return Ok(Vec::new());
    };
    if let Func::Regex(r) = f.as_ref() {
        return regex_matches(r, s, limit);
    }
    let byte_at = |chars: usize| {
        s.char_indices()
            .nth(chars)
            .map(|(b, _)| b)
            .unwrap_or(s.len())
    };
    let mut out = Vec::new();
    let mut result = ctx.apply(matcher, vec![Some(Value::str(s))], input, env)?;
    while let Some(obj) = result {
        if limit.is_some_and(|l| out.len() >= l) {
            break;
        }
        ctx.tick()?;
        let Value::Object(o) = &obj else {
            return Err(t1010());
        };
        let (Some(Value::String(m)), Some(Value::Number(start)), Some(Value::Number(end))) =
            (o.get("match"), o.get("start"), o.get("end"))
        else {
            return Err(t1010());
        };
        let groups = match o.get("groups") {
            Some(Value::Array(g)) => g.items.to_vec(),
            _ => Vec::new(),
        };
        let (start, end) = (start.max(0.0) as usize, end.max(0.0) as usize);
        out.push(MatchInfo {
            text: m.to_string(),
            start,
            end,
            byte_start: byte_at(start),
            byte_end: byte_at(end),
            groups,
        });
        result = match o.get("next") {
            Some(next @ Value::Function(_)) => ctx.apply(Some(next), vec![], input, env)?,
            _ => None,
        };
    }
    Ok(out)
}

fn regex_of(v: Option<&Value>) -> Result<Option<Arc<RegexLit>>, Error> {
    match v {
        Some(Value::Function(f)) => match f.as_ref() {
            Func::Regex(r) => Ok(Some(r.clone())),
            _ => {
                let mut e = err("T1010");
                e.message = "The matcher function argument passed to function does not return the correct object structure".into();
                Err(e)
            }
        },
        _ => Ok(None),
    }
}

fn fn_match(ctx: &mut Ctx, a: Vec<Option<Value>>, input: Option<&Value>, env: &Rc<Frame>) -> R {
    let Some(s) = string_arg(&a, 0) else {
        return Ok(None);
    };
    let limit = num(&a, 2);
    if limit.is_some_and(|l| l < 0.0) {
        return Err(err_val("D3040", arg(&a, 2)));
    }
    let limit = limit.map(|l| l.max(0.0) as usize);
    if limit == Some(0) {
        return Ok(None);
    }
    let ms = collect_matches(ctx, arg(&a, 1), &s, limit, input, env)?;
    let items = ms
        .iter()
        .map(|m| {
            let mut o = Obj::new();
            o.insert("match".into(), Value::str(&m.text));
            o.insert("index".into(), Value::Number(m.start as f64));
            o.insert("groups".into(), Value::array_from(m.groups.clone()));
            Value::object(o)
        })
        .collect();
    Ok(Some(Value::sequence(items)))
}

fn fn_contains(ctx: &mut Ctx, a: Vec<Option<Value>>, input: Option<&Value>, env: &Rc<Frame>) -> R {
    let Some(s) = string_arg(&a, 0) else {
        return Ok(None);
    };
    match arg(&a, 1) {
        Some(Value::String(t)) => Ok(Some(Value::Bool(s.contains(&**t)))),
        Some(Value::Function(f)) if matches!(f.as_ref(), Func::Regex(_)) => {
            let Some(r) = regex_of(arg(&a, 1))? else {
                return Ok(None);
            };
            Ok(Some(Value::Bool(r.regex.is_match(&s))))
        }
        other => {
            let ms = collect_matches(ctx, other, &s, Some(1), input, env)?;
            Ok(Some(Value::Bool(!ms.is_empty())))
        }
    }
}

fn substitute(replacement: &str, m: &MatchInfo) -> String {
    let rep: Vec<char> = replacement.chars().collect();
    let mut out = String::new();
    let mut pos = 0;
    let ngroups = m.groups.len();
    while pos < rep.len() {
        let c = rep[pos];
        if c != '$' {
            out.push(c);
            pos += 1;
            continue;
        }
        pos += 1;
        match rep.get(pos) {
            Some('$') => {
                out.push('$');
                pos += 1;
            }
            Some('0') => {
                out.push_str(&m.text);
                pos += 1;
            }
            _ => {
                let max_digits = if ngroups == 0 {
                    1
                } else {
                    (ngroups as f64).log10().floor() as usize + 1
                };
                let take = |n: usize| -> Option<usize> {
                    let s: String = rep.iter().skip(pos).take(n).collect();
                    // parseInt semantics: leading digits
                    let d: String = s.chars().take_while(|c| c.is_ascii_digit()).collect();
                    d.parse().ok()
                };
                let mut index = take(max_digits);
                if max_digits > 1 && index.is_some_and(|i| i > ngroups) {
                    index = take(max_digits - 1);
                }
                match index {
                    Some(i) => {
                        if ngroups > 0 && i >= 1 {
                            if let Some(Value::String(g)) = m.groups.get(i - 1) {
                                out.push_str(g);
                            }
                        }
                        pos += i.to_string().len();
                    }
                    None => out.push('$'),
                }
            }
        }
    }
    out
}

fn fn_replace(ctx: &mut Ctx, a: Vec<Option<Value>>, input: Option<&Value>, env: &Rc<Frame>) -> R {
    let Some(s) = string_arg(&a, 0) else {
        return Ok(None);
    };
    let pattern = arg(&a, 1);
    if matches!(pattern, Some(Value::String(p)) if p.is_empty()) {
        return Err(err_val("D3010", pattern));
    }
    let limit = num(&a, 3);
    if limit.is_some_and(|l| l < 0.0) {
        return Err(err_val("D3011", arg(&a, 3)));
    }
    let limit = limit.map(|l| l as usize);
    if limit == Some(0) {
        return Ok(Some(Value::String(s)));
    }
    let replacement = arg(&a, 2).cloned();
    match pattern {
        Some(Value::String(p)) => {
            let rep = match &replacement {
                Some(Value::String(r)) => r.to_string(),
                _ => String::new(),
            };
            let mut out = String::new();
            let mut rest: &str = &s;
            let mut count = 0;
            while let Some(i) = rest.find(&**p) {
                if limit.is_some_and(|l| count >= l) {
                    break;
                }
                out.push_str(&rest[..i]);
                out.push_str(&rep);
                rest = &rest[i + p.len()..];
                count += 1;
            }
            out.push_str(rest);
            ok_str(out)
        }
        other => {
            let ms = collect_matches(ctx, other, &s, limit, input, env)?;
            let mut out = String::new();
            let mut pos = 0;
            for m in &ms {
                // Custom matchers may report overlapping or out-of-order offsets.
                out.push_str(s.get(pos..m.byte_start).unwrap_or(""));
                match &replacement {
                    Some(Value::String(rep)) => out.push_str(&substitute(rep, m)),
                    Some(f @ Value::Function(_)) => {
                        let r = ctx.apply(Some(f), vec![Some(match_object(m))], input, env)?;
                        match r {
                            Some(Value::String(x)) => out.push_str(&x),
                            other => return Err(err_val("D3012", other.as_ref())),
                        }
                    }
                    _ => {}
                }
                pos = m.byte_end;
            }
            out.push_str(s.get(pos..).unwrap_or(""));
            ok_str(out)
        }
    }
}

fn fn_split(ctx: &mut Ctx, a: Vec<Option<Value>>, input: Option<&Value>, env: &Rc<Frame>) -> R {
    let Some(s) = string_arg(&a, 0) else {
        return Ok(None);
    };
    let limit = num(&a, 2);
    if limit.is_some_and(|l| l < 0.0) {
        return Err(err_val("D3020", arg(&a, 2)));
    }
    let limit = limit.map(|l| l as usize);
    let mut parts: Vec<String> = Vec::new();
    if limit != Some(0) {
        match arg(&a, 1) {
            Some(Value::String(sep)) => {
                if sep.is_empty() {
                    parts = s.chars().map(|c| c.to_string()).collect();
                } else {
                    parts = s.split(&**sep).map(|p| p.to_string()).collect();
                }
                if let Some(l) = limit {
                    parts.truncate(l);
                }
            }
            other => {
                if other.is_some() {
                    let ms = collect_matches(ctx, other, &s, limit, input, env)?;
                    if ms.is_empty() {
                        parts.push(s.to_string());
                    } else {
                        let mut start = 0;
                        for m in &ms {
                            parts.push(s.get(start..m.byte_start).unwrap_or("").to_string());
                            start = m.byte_end;
                        }
                        if limit.is_none_or(|l| ms.len() < l) {
                            parts.push(s.get(start..).unwrap_or("").to_string());
                        }
                    }
                }
            }
        }
    }
    Ok(Some(Value::array_from(
        parts.into_iter().map(Value::string).collect(),
    )))
}

fn fn_join(_: &mut Ctx, a: Vec<Option<Value>>, _: Option<&Value>, _: &Rc<Frame>) -> R {
    let Some(v) = arg(&a, 0) else { return Ok(None) };
    let sep = string_arg(&a, 1).map(|s| s.to_string()).unwrap_or_default();
    let parts: Vec<String> = items_of(Some(v))
        .iter()
        .map(|x| match x {
            Value::String(s) => s.to_string(),
            other => string_of(other, false).unwrap_or_default(),
        })
        .collect();
    ok_str(parts.join(&sep))
}

fn fn_format_base(_: &mut Ctx, a: Vec<Option<Value>>, _: Option<&Value>, _: &Rc<Frame>) -> R {
    let Some(v) = num(&a, 0) else { return Ok(None) };
    let v = round_half_even(v, 0.0);
    let radix = num(&a, 1).unwrap_or(10.0);
    if !(2.0..=36.0).contains(&radix) {
        return Err(err_val("D3100", arg(&a, 1)));
    }
    let radix = radix as u32;
    let neg = v < 0.0;
    let mut n = v.abs() as u128;
    let mut digits = Vec::new();
    if n == 0 {
        digits.push('0');
    }
    while n > 0 {
        let d = (n % radix as u128) as u32;
        digits.push(std::char::from_digit(d, radix).unwrap_or('0'));
        n /= radix as u128;
    }
    if neg {
        digits.push('-');
    }
    ok_str(digits.into_iter().rev().collect())
}

// ---------- numeric ----------

fn fn_number(_: &mut Ctx, a: Vec<Option<Value>>, _: Option<&Value>, _: &Rc<Frame>) -> R {
    let Some(v) = arg(&a, 0) else { return Ok(None) };
    match v {
        Value::Number(n) => ok_num(*n),
        Value::Bool(b) => ok_num(if *b { 1.0 } else { 0.0 }),
        Value::String(s) => match parse_js_number(s) {
            Some(n) => ok_num(n),
            None => Err(err_val("D3030", Some(v))),
        },
        other => Err(err_val("D3030", Some(other))),
    }
}

fn parse_js_number(s: &str) -> Option<f64> {
    let lower = s.to_ascii_lowercase();
    for (prefix, radix) in [("0x", 16), ("0o", 8), ("0b", 2)] {
        if let Some(d) = lower.strip_prefix(prefix) {
            return u64::from_str_radix(d, radix).ok().map(|n| n as f64);
        }
    }
    let b = s.as_bytes();
    let mut i = 0;
    if b.first() == Some(&b'-') {
        i += 1;
    }
    let ds = i;
    while i < b.len() && b[i].is_ascii_digit() {
        i += 1;
    }
    if i > ds {
        if i < b.len() && b[i] == b'.' {
            i += 1;
            let f = i;
            while i < b.len() && b[i].is_ascii_digit() {
                i += 1;
            }
            if i == f {
                return None;
            }
        }
        if i < b.len() && (b[i] == b'e' || b[i] == b'E') {
            i += 1;
            if i < b.len() && (b[i] == b'+' || b[i] == b'-') {
                i += 1;
            }
            let e = i;
            while i < b.len() && b[i].is_ascii_digit() {
                i += 1;
            }
            if i == e {
                return None;
            }
        }
        if i == b.len() {
            return s.parse::<f64>().ok().filter(|n| n.is_finite());
        }
        return None;
    }
    let lower = s.to_ascii_lowercase();
    let (radix, digits) = if let Some(d) = lower.strip_prefix("0x") {
        (16, d)
    } else if let Some(d) = lower.strip_prefix("0o") {
        (8, d)
    } else if let Some(d) = lower.strip_prefix("0b") {
        (2, d)
    } else {
        return None;
    };
    u64::from_str_radix(digits, radix).ok().map(|n| n as f64)
}

fn fn_floor(_: &mut Ctx, a: Vec<Option<Value>>, _: Option<&Value>, _: &Rc<Frame>) -> R {
    Ok(num(&a, 0).map(|n| Value::Number(n.floor())))
}

fn fn_ceil(_: &mut Ctx, a: Vec<Option<Value>>, _: Option<&Value>, _: &Rc<Frame>) -> R {
    Ok(num(&a, 0).map(|n| Value::Number(n.ceil())))
}

fn fn_abs(_: &mut Ctx, a: Vec<Option<Value>>, _: Option<&Value>, _: &Rc<Frame>) -> R {
    Ok(num(&a, 0).map(|n| Value::Number(n.abs())))
}

pub(crate) fn round_half_even(arg: f64, precision: f64) -> f64 {
    let shift = |x: f64, p: f64| -> f64 {
        let s = js_number(x);
        let (m, e) = match s.split_once('e') {
            Some((m, e)) => (m.to_string(), e.parse::<f64>().unwrap_or(0.0)),
            None => (s, 0.0),
        };
        format!("{m}e{}", e + p).parse().unwrap_or(x)
    };
    let mut x = arg;
    if precision != 0.0 {
        x = shift(x, precision);
    }
    let mut result = (x + 0.5).floor();
    let diff = result - x;
    if diff.abs() == 0.5 && (result % 2.0).abs() == 1.0 {
        result -= 1.0;
    }
    if precision != 0.0 {
        result = shift(result, -precision);
    }
    if result == 0.0 {
        result = 0.0;
    }
    result
}

fn fn_round(_: &mut Ctx, a: Vec<Option<Value>>, _: Option<&Value>, _: &Rc<Frame>) -> R {
    let Some(n) = num(&a, 0) else { return Ok(None) };
    ok_num(round_half_even(n, num(&a, 1).unwrap_or(0.0).trunc()))
}

fn fn_sqrt(_: &mut Ctx, a: Vec<Option<Value>>, _: Option<&Value>, _: &Rc<Frame>) -> R {
    let Some(n) = num(&a, 0) else { return Ok(None) };
    if n < 0.0 {
        return Err(err_val("D3060", arg(&a, 0)));
    }
    ok_num(n.sqrt())
}

fn fn_power(_: &mut Ctx, a: Vec<Option<Value>>, _: Option<&Value>, _: &Rc<Frame>) -> R {
    let Some(n) = num(&a, 0) else { return Ok(None) };
    let e = num(&a, 1).unwrap_or(f64::NAN);
    let r = n.powf(e);
    if !r.is_finite() {
        return Err(err_val("D3061", arg(&a, 0)));
    }
    ok_num(r)
}

fn fn_random(_: &mut Ctx, _: Vec<Option<Value>>, _: Option<&Value>, _: &Rc<Frame>) -> R {
    ok_num(fastrand::f64())
}

// ---------- boolean ----------

fn fn_boolean(_: &mut Ctx, a: Vec<Option<Value>>, _: Option<&Value>, _: &Rc<Frame>) -> R {
    Ok(boolean(arg(&a, 0)).map(Value::Bool))
}

fn fn_not(_: &mut Ctx, a: Vec<Option<Value>>, _: Option<&Value>, _: &Rc<Frame>) -> R {
    Ok(boolean(arg(&a, 0)).map(|b| Value::Bool(!b)))
}

fn fn_exists(_: &mut Ctx, a: Vec<Option<Value>>, _: Option<&Value>, _: &Rc<Frame>) -> R {
    Ok(Some(Value::Bool(arg(&a, 0).is_some())))
}

// ---------- higher order ----------

fn fn_map(ctx: &mut Ctx, a: Vec<Option<Value>>, input: Option<&Value>, env: &Rc<Frame>) -> R {
    let Some(arr) = arg(&a, 0).cloned() else {
        return Ok(None);
    };
    let Some(f) = arg(&a, 1).cloned() else {
        return Ok(None);
    };
    let items = items_of(Some(&arr));
    let mut out = Vec::new();
    for (i, item) in items.into_iter().enumerate() {
        let args = hof_args(&f, item, Value::Number(i as f64), &arr);
        if let Some(r) = ctx.apply(Some(&f), args, input, env)? {
            out.push(r);
        }
    }
    Ok(Some(Value::sequence(out)))
}

fn fn_filter(ctx: &mut Ctx, a: Vec<Option<Value>>, input: Option<&Value>, env: &Rc<Frame>) -> R {
    let Some(arr) = arg(&a, 0).cloned() else {
        return Ok(None);
    };
    let Some(f) = arg(&a, 1).cloned() else {
        return Ok(None);
    };
    let mut out = Vec::new();
    for (i, item) in items_of(Some(&arr)).into_iter().enumerate() {
        let args = hof_args(&f, item.clone(), Value::Number(i as f64), &arr);
        let r = ctx.apply(Some(&f), args, input, env)?;
        if boolean(r.as_ref()) == Some(true) {
            out.push(item);
        }
    }
    Ok(Some(Value::sequence(out)))
}

fn fn_single(ctx: &mut Ctx, a: Vec<Option<Value>>, input: Option<&Value>, env: &Rc<Frame>) -> R {
    let Some(arr) = arg(&a, 0).cloned() else {
        return Ok(None);
    };
    let f = arg(&a, 1).cloned();
    let mut found: Option<Value> = None;
    for (i, item) in items_of(Some(&arr)).into_iter().enumerate() {
        let positive = match &f {
            Some(f) => {
                let args = hof_args(f, item.clone(), Value::Number(i as f64), &arr);
                boolean(ctx.apply(Some(f), args, input, env)?.as_ref()) == Some(true)
            }
            None => true,
        };
        if positive {
            if found.is_some() {
                return Err(err("D3138"));
            }
            found = Some(item);
        }
    }
    match found {
        Some(v) => Ok(Some(v)),
        None => Err(err("D3139")),
    }
}

fn fn_reduce(ctx: &mut Ctx, a: Vec<Option<Value>>, input: Option<&Value>, env: &Rc<Frame>) -> R {
    let Some(arr) = arg(&a, 0).cloned() else {
        return Ok(None);
    };
    let Some(f) = arg(&a, 1).cloned() else {
        return Ok(None);
    };
    let arity = func_arity(&f);
    if arity < 2 {
        return Err(err("D3050"));
    }
    let items = items_of(Some(&arr));
    let init = arg(&a, 2).cloned();
    let (mut acc, start) = match init {
        None if !items.is_empty() => (Some(items[0].clone()), 1),
        other => (other, 0),
    };
    for (i, item) in items.iter().enumerate().skip(start) {
        let mut args = vec![acc, Some(item.clone())];
        if arity >= 3 {
            args.push(Some(Value::Number(i as f64)));
        }
        if arity >= 4 {
            args.push(Some(arr.clone()));
        }
        acc = ctx.apply(Some(&f), args, input, env)?;
    }
    Ok(acc)
}

fn fn_sift(ctx: &mut Ctx, a: Vec<Option<Value>>, input: Option<&Value>, env: &Rc<Frame>) -> R {
    let Some(Value::Object(o)) = arg(&a, 0).cloned() else {
        return Ok(None);
    };
    let Some(f) = arg(&a, 1).cloned() else {
        return Ok(None);
    };
    let whole = Value::Object(o.clone());
    let mut out = Obj::new();
    for (k, v) in o.iter() {
        let args = hof_args(&f, v.clone(), Value::str(k), &whole);
        if boolean(ctx.apply(Some(&f), args, input, env)?.as_ref()) == Some(true) {
            out.insert(k.clone(), v.clone());
        }
    }
    if out.is_empty() {
        return Ok(None);
    }
    Ok(Some(Value::object(out)))
}

fn fn_each(ctx: &mut Ctx, a: Vec<Option<Value>>, input: Option<&Value>, env: &Rc<Frame>) -> R {
    let Some(Value::Object(o)) = arg(&a, 0).cloned() else {
        return Ok(None);
    };
    let Some(f) = arg(&a, 1).cloned() else {
        return Ok(None);
    };
    let whole = Value::Object(o.clone());
    let mut out = Vec::new();
    for (k, v) in o.iter() {
        let args = hof_args(&f, v.clone(), Value::str(k), &whole);
        if let Some(r) = ctx.apply(Some(&f), args, input, env)? {
            out.push(r);
        }
    }
    Ok(Some(Value::sequence(out)))
}

fn fn_zip(_: &mut Ctx, a: Vec<Option<Value>>, _: Option<&Value>, _: &Rc<Frame>) -> R {
    let arrays: Vec<Vec<Value>> = a
        .iter()
        .map(|x| match x {
            Some(Value::Array(arr)) => arr.items.to_vec(),
            _ => vec![],
        })
        .collect();
    let len = arrays.iter().map(|x| x.len()).min().unwrap_or(0);
    let out = (0..len)
        .map(|i| Value::array_from(arrays.iter().map(|arr| arr[i].clone()).collect()))
        .collect();
    Ok(Some(Value::array_from(out)))
}

/// JS truthiness, used for `$sort` comparator results.
fn js_truthy(v: Option<&Value>) -> bool {
    match v {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(Value::Number(n)) => *n != 0.0 && !n.is_nan(),
        Some(Value::String(s)) => !s.is_empty(),
        _ => true,
    }
}

fn fn_sort(ctx: &mut Ctx, a: Vec<Option<Value>>, input: Option<&Value>, env: &Rc<Frame>) -> R {
    let Some(arr) = arg(&a, 0).cloned() else {
        return Ok(None);
    };
    let items = items_of(Some(&arr));
    if items.len() <= 1 {
        return Ok(Some(arr));
    }
    let cmp_fn = arg(&a, 1).cloned();
    if cmp_fn.is_none() {
        let all_num = items.iter().all(|x| matches!(x, Value::Number(_)));
        let all_str = items.iter().all(|x| matches!(x, Value::String(_)));
        if !all_num && !all_str {
            return Err(err("D3070"));
        }
    }
    let mut swap = |x: &Value, y: &Value| -> Result<bool, Error> {
        match &cmp_fn {
            Some(f) => {
                let r = ctx.apply(Some(f), vec![Some(x.clone()), Some(y.clone())], input, env)?;
                Ok(js_truthy(r.as_ref()))
            }
            None => Ok(match (x, y) {
                (Value::Number(p), Value::Number(q)) => p > q,
                (Value::String(p), Value::String(q)) => {
                    js_str_cmp(p, q) == std::cmp::Ordering::Greater
                }
                _ => false,
            }),
        }
    };
    let sorted = msort(items, &mut swap)?;
    Ok(Some(Value::array_from(sorted)))
}

fn msort(
    v: Vec<Value>,
    swap: &mut dyn FnMut(&Value, &Value) -> Result<bool, Error>,
) -> Result<Vec<Value>, Error> {
    if v.len() <= 1 {
        return Ok(v);
    }
    let mid = v.len() / 2;
    let mut left = v;
    let right = left.split_off(mid);
    let left = msort(left, swap)?;
    let right = msort(right, swap)?;
    let mut out = Vec::with_capacity(left.len() + right.len());
    let (mut i, mut j) = (0, 0);
    while i < left.len() && j < right.len() {
        if swap(&left[i], &right[j])? {
            out.push(right[j].clone());
            j += 1;
        } else {
            out.push(left[i].clone());
            i += 1;
        }
    }
    out.extend_from_slice(&left[i..]);
    out.extend_from_slice(&right[j..]);
    Ok(out)
}

fn fn_shuffle(_: &mut Ctx, a: Vec<Option<Value>>, _: Option<&Value>, _: &Rc<Frame>) -> R {
    let Some(arr) = arg(&a, 0) else {
        return Ok(None);
    };
    let mut items = items_of(Some(arr));
    if items.len() <= 1 {
        return Ok(Some(arr.clone()));
    }
    fastrand::shuffle(&mut items);
    Ok(Some(Value::array_from(items)))
}

fn fn_distinct(_: &mut Ctx, a: Vec<Option<Value>>, _: Option<&Value>, _: &Rc<Frame>) -> R {
    let Some(v) = arg(&a, 0) else { return Ok(None) };
    let Value::Array(arr) = v else {
        return Ok(Some(v.clone()));
    };
    if arr.items.len() <= 1 {
        return Ok(Some(v.clone()));
    }
    let mut out: Vec<Value> = Vec::new();
    for item in &arr.items {
        if !out.iter().any(|x| deep_equal(x, item)) {
            out.push(item.clone());
        }
    }
    Ok(Some(Value::Array(Rc::new(Array {
        items: Items(out),
        sequence: arr.sequence,
        ..Default::default()
    }))))
}

// ---------- objects / arrays ----------

fn keys_of(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::Array(a) => a.items.iter().for_each(|x| keys_of(x, out)),
        Value::Object(o) => {
            for k in o.keys() {
                if !out.contains(k) {
                    out.push(k.clone());
                }
            }
        }
        _ => {}
    }
}

fn fn_keys(_: &mut Ctx, a: Vec<Option<Value>>, _: Option<&Value>, _: &Rc<Frame>) -> R {
    let mut keys = Vec::new();
    if let Some(v) = arg(&a, 0) {
        keys_of(v, &mut keys);
    }
    Ok(Some(Value::sequence(
        keys.into_iter().map(Value::string).collect(),
    )))
}

fn fn_lookup(_: &mut Ctx, a: Vec<Option<Value>>, _: Option<&Value>, _: &Rc<Frame>) -> R {
    let key = string_arg(&a, 1).map(|s| s.to_string()).unwrap_or_default();
    Ok(crate::eval::lookup(arg(&a, 0), &key))
}

fn fn_append(_: &mut Ctx, a: Vec<Option<Value>>, _: Option<&Value>, _: &Rc<Frame>) -> R {
    let x = arg(&a, 0).cloned();
    let y = arg(&a, 1).cloned();
    match (x, y) {
        (None, y) => Ok(y),
        (x, None) => Ok(x),
        (Some(x), Some(y)) => {
            let mut items = items_of(Some(&x));
            items.extend(items_of(Some(&y)));
            Ok(Some(Value::array_from(items)))
        }
    }
}

fn spread(v: &Value) -> Option<Value> {
    match v {
        Value::Array(a) => {
            let mut acc = Some(Value::sequence(vec![]));
            for item in &a.items {
                acc = append(acc, spread(item));
            }
            acc
        }
        Value::Object(o) => Some(Value::sequence(
            o.iter()
                .map(|(k, v)| {
                    let mut one = Obj::new();
                    one.insert(k.clone(), v.clone());
                    Value::object(one)
                })
                .collect(),
        )),
        other => Some(other.clone()),
    }
}

fn fn_spread(_: &mut Ctx, a: Vec<Option<Value>>, _: Option<&Value>, _: &Rc<Frame>) -> R {
    Ok(arg(&a, 0).and_then(spread))
}

fn fn_merge(_: &mut Ctx, a: Vec<Option<Value>>, _: Option<&Value>, _: &Rc<Frame>) -> R {
    let Some(v) = arg(&a, 0) else { return Ok(None) };
    let mut out = Obj::new();
    for item in items_of(Some(v)) {
        if let Value::Object(o) = item {
            for (k, v) in o.iter() {
                out.insert(k.clone(), v.clone());
            }
        }
    }
    Ok(Some(Value::object(out)))
}

fn fn_reverse(_: &mut Ctx, a: Vec<Option<Value>>, _: Option<&Value>, _: &Rc<Frame>) -> R {
    let Some(v) = arg(&a, 0) else { return Ok(None) };
    let mut items = items_of(Some(v));
    if items.len() <= 1 {
        return Ok(Some(v.clone()));
    }
    items.reverse();
    Ok(Some(Value::array_from(items)))
}

fn fn_error(_: &mut Ctx, a: Vec<Option<Value>>, _: Option<&Value>, _: &Rc<Frame>) -> R {
    let msg = string_arg(&a, 0)
        .map(|s| s.to_string())
        .unwrap_or_else(|| "$error() function evaluated".into());
    Err(Error::new("D3137", msg))
}

fn fn_assert(_: &mut Ctx, a: Vec<Option<Value>>, _: Option<&Value>, _: &Rc<Frame>) -> R {
    if matches!(arg(&a, 0), Some(Value::Bool(true))) {
        return Ok(None);
    }
    let msg = string_arg(&a, 1)
        .map(|s| s.to_string())
        .unwrap_or_else(|| "$assert() statement failed".into());
    Err(Error::new("D3141", msg))
}

fn fn_type(_: &mut Ctx, a: Vec<Option<Value>>, _: Option<&Value>, _: &Rc<Frame>) -> R {
    Ok(arg(&a, 0).map(|v| {
        Value::str(match v {
            Value::Null => "null",
            Value::Number(_) => "number",
            Value::String(_) => "string",
            Value::Bool(_) => "boolean",
            Value::Array(_) => "array",
            Value::Function(_) => "function",
            Value::Object(_) => "object",
        })
    }))
}

fn fn_clone(_: &mut Ctx, a: Vec<Option<Value>>, _: Option<&Value>, _: &Rc<Frame>) -> R {
    let Some(v) = arg(&a, 0) else { return Ok(None) };
    let json = string_of(v, false)?;
    Ok(serde_json::from_str::<serde_json::Value>(&json)
        .ok()
        .map(|j| Value::from_json(&j)))
}

// ---------- encoding ----------

const B64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

pub(crate) fn base64_encode(bytes: &[u8]) -> String {
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        out.push(B64[(n >> 18) as usize & 63] as char);
        out.push(B64[(n >> 12) as usize & 63] as char);
        out.push(if chunk.len() > 1 {
            B64[(n >> 6) as usize & 63] as char
        } else {
            '='
        });
        out.push(if chunk.len() > 2 {
            B64[n as usize & 63] as char
        } else {
            '='
        });
    }
    out
}

fn base64_decode(s: &str) -> Vec<u8> {
    let mut out = Vec::new();
    let mut buf = 0u32;
    let mut bits = 0;
    for c in s.bytes() {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' | b'-' => 62,
            b'/' | b'_' => 63,
            _ => continue,
        };
        buf = (buf << 6) | u32::from(v);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((buf >> bits) as u8);
        }
    }
    out
}

fn fn_base64encode(_: &mut Ctx, a: Vec<Option<Value>>, _: Option<&Value>, _: &Rc<Frame>) -> R {
    Ok(string_arg(&a, 0).map(|s| Value::string(base64_encode(s.as_bytes()))))
}

fn fn_base64decode(_: &mut Ctx, a: Vec<Option<Value>>, _: Option<&Value>, _: &Rc<Frame>) -> R {
    Ok(string_arg(&a, 0)
        .map(|s| Value::string(String::from_utf8_lossy(&base64_decode(&s)).into_owned())))
}

fn encode_uri(s: &str, keep: &str) -> String {
    let mut out = String::new();
    for c in s.chars() {
        if c.is_ascii_alphanumeric() || keep.contains(c) {
            out.push(c);
        } else {
            let mut buf = [0u8; 4];
            for b in c.encode_utf8(&mut buf).bytes() {
                out.push_str(&format!("%{b:02X}"));
            }
        }
    }
    out
}

fn decode_uri(s: &str, reserved: &str) -> Result<String, Error> {
    let bytes = s.as_bytes();
    let mut out: Vec<u8> = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = s.get(i + 1..i + 3).ok_or_else(|| err("D3140"))?;
            let b = u8::from_str_radix(hex, 16).map_err(|_| err("D3140"))?;
            if b < 0x80 && reserved.contains(b as char) {
                out.extend_from_slice(&bytes[i..i + 3]);
            } else {
                out.push(b);
            }
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| err("D3140"))
}

fn fn_encode_url_component(
    _: &mut Ctx,
    a: Vec<Option<Value>>,
    _: Option<&Value>,
    _: &Rc<Frame>,
) -> R {
    Ok(string_arg(&a, 0).map(|s| Value::string(encode_uri(&s, "-_.!~*'()"))))
}

fn fn_encode_url(_: &mut Ctx, a: Vec<Option<Value>>, _: Option<&Value>, _: &Rc<Frame>) -> R {
    Ok(string_arg(&a, 0).map(|s| Value::string(encode_uri(&s, "-_.!~*'();/?:@&=+$,#"))))
}

fn fn_decode_url_component(
    _: &mut Ctx,
    a: Vec<Option<Value>>,
    _: Option<&Value>,
    _: &Rc<Frame>,
) -> R {
    match string_arg(&a, 0) {
        Some(s) => ok_str(decode_uri(&s, "")?),
        None => Ok(None),
    }
}

fn fn_decode_url(_: &mut Ctx, a: Vec<Option<Value>>, _: Option<&Value>, _: &Rc<Frame>) -> R {
    match string_arg(&a, 0) {
        Some(s) => ok_str(decode_uri(&s, ";/?:@&=+$,#")?),
        None => Ok(None),
    }
}

fn fn_eval(ctx: &mut Ctx, a: Vec<Option<Value>>, input: Option<&Value>, env: &Rc<Frame>) -> R {
    let Some(src) = string_arg(&a, 0) else {
        return Ok(None);
    };
    let focus = match arg(&a, 1) {
        Some(Value::Array(arr)) if !arr.sequence => Some(Value::Array(Rc::new(Array {
            items: Items(vec![Value::Array(arr.clone())]),
            sequence: true,
            outer_wrapper: true,
            ..Default::default()
        }))),
        Some(v) => Some(v.clone()),
        None => input.cloned(),
    };
    let (ast, _) = crate::parser::parse(&src).map_err(|e| {
        let mut x = err("D3120");
        x.message = e.message.clone();
        x.value = Some(serde_json::Value::String(e.message));
        x
    })?;
    ctx.evaluate(&ast, focus.as_ref(), env).map_err(|e| {
        let mut x = err("D3121");
        x.message = e.message.clone();
        x.value = Some(serde_json::Value::String(e.message));
        x
    })
}
