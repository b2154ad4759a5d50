//! Date/time and integer pictures: `$fromMillis`, `$toMillis`, `$now`, `$millis`,
//! `$formatInteger`, `$parseInteger` (XPath F&O 3.1 `format-dateTime` / `format-integer`, as
//! jsonata-js `datetime.js` implements them). All times are UTC plus an optional fixed offset.

use crate::eval::{err, Ctx, R};
use crate::functions::arg;
use crate::value::{Frame, Value};
use crate::Error;
use std::rc::Rc;

const DECIMAL_GROUPS: [u32; 37] = [
    0x30, 0x0660, 0x06F0, 0x07C0, 0x0966, 0x09E6, 0x0A66, 0x0AE6, 0x0B66, 0x0BE6, 0x0C66, 0x0CE6,
    0x0D66, 0x0DE6, 0x0E50, 0x0ED0, 0x0F20, 0x1040, 0x1090, 0x17E0, 0x1810, 0x1946, 0x19D0, 0x1A80,
    0x1A90, 0x1B50, 0x1BB0, 0x1C40, 0x1C50, 0xA620, 0xA8D0, 0xA900, 0xA9D0, 0xA9F0, 0xAA50, 0xABF0,
    0xFF10,
];

const FEW: [&str; 20] = [
    "Zero",
    "One",
    "Two",
    "Three",
    "Four",
    "Five",
    "Six",
    "Seven",
    "Eight",
    "Nine",
    "Ten",
    "Eleven",
    "Twelve",
    "Thirteen",
    "Fourteen",
    "Fifteen",
    "Sixteen",
    "Seventeen",
    "Eighteen",
    "Nineteen",
];
const ORDINALS: [&str; 20] = [
    "Zeroth",
    "First",
    "Second",
    "Third",
    "Fourth",
    "Fifth",
    "Sixth",
    "Seventh",
    "Eighth",
    "Ninth",
    "Tenth",
    "Eleventh",
    "Twelfth",
    "Thirteenth",
    "Fourteenth",
    "Fifteenth",
    "Sixteenth",
    "Seventeenth",
    "Eighteenth",
    "Nineteenth",
];
const DECADES: [&str; 9] = [
    "Twenty", "Thirty", "Forty", "Fifty", "Sixty", "Seventy", "Eighty", "Ninety", "Hundred",
];
const MAGNITUDES: [&str; 4] = ["Thousand", "Million", "Billion", "Trillion"];
const MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];
const DAYS: [&str; 8] = [
    "",
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
    "Sunday",
];

#[derive(Debug, Clone, Copy, PartialEq)]
enum Primary {
    Decimal,
    Letters,
    Roman,
    Words,
    Sequence,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Case {
    Upper,
    Lower,
    Title,
}

#[derive(Debug, Clone)]
struct IntegerFormat {
    primary: Primary,
    case: Case,
    ordinal: bool,
    zero_code: u32,
    mandatory_digits: usize,
    optional_digits: usize,
    regular: bool,
    /// (position from the right, character)
    separators: Vec<(usize, char)>,
    token: String,
    parse_width: Option<usize>,
}

fn analyse_integer_picture(picture: &str) -> Result<IntegerFormat, Error> {
    let mut f = IntegerFormat {
        primary: Primary::Decimal,
        case: Case::Lower,
        ordinal: false,
        zero_code: 0x30,
        mandatory_digits: 0,
        optional_digits: 0,
        regular: false,
        separators: Vec::new(),
        token: String::new(),
        parse_width: None,
    };
    let primary = match picture.rfind(';') {
        Some(i) => {
            if picture[i + 1..].starts_with('o') {
                f.ordinal = true;
            }
            &picture[..i]
        }
        None => picture,
    };
    match primary {
        "A" => {
            f.case = Case::Upper;
            f.primary = Primary::Letters;
        }
        "a" => f.primary = Primary::Letters,
        "I" => {
            f.case = Case::Upper;
            f.primary = Primary::Roman;
        }
        "i" => f.primary = Primary::Roman,
        "W" => {
            f.case = Case::Upper;
            f.primary = Primary::Words;
        }
        "Ww" => {
            f.case = Case::Title;
            f.primary = Primary::Words;
        }
        "w" => f.primary = Primary::Words,
        _ => {
            let mut zero: Option<u32> = None;
            let mut pos = 0;
            let mut seps = Vec::new();
            for c in primary.chars().rev() {
                let cp = c as u32;
                if let Some(g) = DECIMAL_GROUPS.iter().find(|g| cp >= **g && cp <= **g + 9) {
                    f.mandatory_digits += 1;
                    pos += 1;
                    match zero {
                        None => zero = Some(*g),
                        Some(z) if z != *g => return Err(err("D3131")),
                        _ => {}
                    }
                } else if c == '#' {
                    pos += 1;
                    f.optional_digits += 1;
                } else {
                    seps.push((pos, c));
                }
            }
            if f.mandatory_digits > 0 {
                f.zero_code = zero.unwrap_or(0x30);
                let regular = regular_repeat(&seps);
                if regular > 0 {
                    f.regular = true;
                    f.separators = vec![(regular, seps[0].1)];
                } else {
                    f.separators = seps;
                }
            } else {
                f.primary = Primary::Sequence;
                f.token = primary.to_string();
            }
        }
    }
    Ok(f)
}

fn regular_repeat(seps: &[(usize, char)]) -> usize {
    if seps.is_empty() {
        return 0;
    }
    let c = seps[0].1;
    if seps.iter().any(|s| s.1 != c) {
        return 0;
    }
    fn gcd(a: usize, b: usize) -> usize {
        if b == 0 {
            a
        } else {
            gcd(b, a % b)
        }
    }
    let positions: Vec<usize> = seps.iter().map(|s| s.0).collect();
    let factor = positions.iter().copied().reduce(gcd).unwrap_or(0);
    if factor == 0 {
        return 0;
    }
    for i in 1..=positions.len() {
        if !positions.contains(&(i * factor)) {
            return 0;
        }
    }
    factor
}

fn to_letters(mut v: i64, a: char) -> String {
    let mut out = Vec::new();
    while v > 0 {
        out.push(char::from_u32(((v - 1) % 26) as u32 + a as u32).unwrap_or('?'));
        v = (v - 1) / 26;
    }
    out.iter().rev().collect()
}

fn to_roman(mut v: i64) -> String {
    const R: [(i64, &str); 13] = [
        (1000, "m"),
        (900, "cm"),
        (500, "d"),
        (400, "cd"),
        (100, "c"),
        (90, "xc"),
        (50, "l"),
        (40, "xl"),
        (10, "x"),
        (9, "ix"),
        (5, "v"),
        (4, "iv"),
        (1, "i"),
    ];
    let mut s = String::new();
    'outer: while v > 0 {
        for (n, r) in R {
            if v >= n {
                s.push_str(r);
                v -= n;
                continue 'outer;
            }
        }
    }
    s
}

/// English words, computed on doubles as jsonata-js does (so 1e46 works).
fn to_words(num: f64, prev: bool, ord: bool) -> String {
    let mut words = String::new();
    if num <= 19.0 {
        if prev {
            words.push_str(" and ");
        }
        let i = num.max(0.0) as usize;
        words.push_str(if ord {
            ORDINALS[i.min(19)]
        } else {
            FEW[i.min(19)]
        });
    } else if num < 100.0 {
        let tens = (num / 10.0).floor() as usize;
        let rem = num % 10.0;
        if prev {
            words.push_str(" and ");
        }
        words.push_str(DECADES[tens.saturating_sub(2).min(8)]);
        if rem > 0.0 {
            words.push('-');
            words.push_str(&to_words(rem, false, ord));
        } else if ord {
            words.pop();
            words.push_str("ieth");
        }
    } else if num < 1000.0 {
        let hundreds = (num / 100.0).floor() as usize;
        let rem = num % 100.0;
        if prev {
            words.push_str(", ");
        }
        words.push_str(FEW[hundreds.min(19)]);
        words.push_str(" Hundred");
        if rem > 0.0 {
            words.push_str(&to_words(rem, true, ord));
        } else if ord {
            words.push_str("th");
        }
    } else {
        let mut mag = (num.log10() / 3.0).floor() as usize;
        if mag > MAGNITUDES.len() {
            mag = MAGNITUDES.len();
        }
        let factor = 10f64.powi((mag * 3) as i32);
        let mant = (num / factor).floor();
        let rem = num - mant * factor;
        if prev {
            words.push_str(", ");
        }
        words.push_str(&to_words(mant, false, false));
        words.push(' ');
        words.push_str(MAGNITUDES[mag.saturating_sub(1)]);
        if rem > 0.0 {
            words.push_str(&to_words(rem, true, ord));
        } else if ord {
            words.push_str("th");
        }
    }
    words
}

fn format_integer(value: i64, f: &IntegerFormat) -> Result<String, Error> {
    format_integer_f(value as f64, f)
}

fn format_integer_f(value_f: f64, f: &IntegerFormat) -> Result<String, Error> {
    if !value_f.is_finite() {
        let mut e = err("D1001");
        e.value = Some(serde_json::Value::String(value_f.to_string()));
        return Err(e);
    }
    let negative = value_f < 0.0;
    let value = (value_f.abs() as i64).saturating_abs();
    let mut s = match f.primary {
        Primary::Letters => to_letters(value, if f.case == Case::Upper { 'A' } else { 'a' }),
        Primary::Roman => {
            let r = to_roman(value);
            if f.case == Case::Upper {
                r.to_uppercase()
            } else {
                r
            }
        }
        Primary::Words => {
            let w = to_words(value_f.abs(), false, f.ordinal);
            match f.case {
                Case::Upper => w.to_uppercase(),
                Case::Lower => w.to_lowercase(),
                Case::Title => w,
            }
        }
        Primary::Decimal => {
            let mut digits = value.to_string();
            if f.mandatory_digits > digits.len() {
                digits = "0".repeat(f.mandatory_digits - digits.len()) + &digits;
            }
            if f.zero_code != 0x30 {
                digits = digits
                    .chars()
                    .map(|c| char::from_u32(c as u32 + f.zero_code - 0x30).unwrap_or(c))
                    .collect();
            }
            let mut chars: Vec<char> = digits.chars().collect();
            if f.regular {
                if let Some(&(every, sep)) = f.separators.first() {
                    let n = (chars.len().saturating_sub(1)) / every;
                    for i in (1..=n).rev() {
                        let pos = chars.len() - i * every;
                        chars.insert(pos, sep);
                    }
                }
            } else {
                for &(position, sep) in f.separators.iter().rev() {
                    if position <= chars.len() {
                        let pos = chars.len() - position;
                        chars.insert(pos, sep);
                    }
                }
            }
            let mut s: String = chars.into_iter().collect();
            if f.ordinal {
                let cs: Vec<char> = s.chars().collect();
                let last = cs.last().copied().unwrap_or('0');
                let tens_one = cs.len() > 1 && cs[cs.len() - 2] == '1';
                let suffix = match last {
                    '1' if !tens_one => "st",
                    '2' if !tens_one => "nd",
                    '3' if !tens_one => "rd",
                    _ => "th",
                };
                s.push_str(suffix);
            }
            s
        }
        Primary::Sequence => {
            let mut e = err("D3130");
            e.value = Some(serde_json::Value::String(f.token.clone()));
            return Err(e);
        }
    };
    if negative {
        s.insert(0, '-');
    }
    Ok(s)
}

pub(crate) fn fn_format_integer(
    _: &mut Ctx,
    a: Vec<Option<Value>>,
    _: Option<&Value>,
    _: &Rc<Frame>,
) -> R {
    let Some(Value::Number(n)) = arg(&a, 0) else {
        return Ok(None);
    };
    let picture = match arg(&a, 1) {
        Some(Value::String(s)) => s.to_string(),
        _ => String::new(),
    };
    let f = analyse_integer_picture(&picture)?;
    Ok(Some(Value::string(format_integer_f(n.floor(), &f)?)))
}

fn words_value(w: &str) -> Option<f64> {
    for (i, x) in FEW.iter().enumerate() {
        if x.eq_ignore_ascii_case(w) {
            return Some(i as f64);
        }
    }
    for (i, x) in ORDINALS.iter().enumerate() {
        if x.eq_ignore_ascii_case(w) {
            return Some(i as f64);
        }
    }
    for (i, x) in DECADES.iter().enumerate() {
        let l = x.to_lowercase();
        let ieth = format!("{}ieth", &l[..l.len() - 1]);
        if l == w || ieth == w {
            return Some((i as f64 + 2.0) * 10.0);
        }
    }
    if w == "hundredth" {
        return Some(100.0);
    }
    for (i, x) in MAGNITUDES.iter().enumerate() {
        let l = x.to_lowercase();
        if l == w || format!("{l}th") == w {
            return Some(10f64.powi(((i + 1) * 3) as i32));
        }
    }
    None
}

fn words_to_number(text: &str) -> Option<f64> {
    let text = text.to_lowercase().replace(", ", " ").replace(" and ", " ");
    let mut segs: Vec<f64> = vec![0.0];
    for part in text.split([' ', '-']).filter(|p| !p.is_empty()) {
        let v = words_value(part)?;
        if v < 100.0 {
            let mut top = segs.pop().unwrap_or(0.0);
            if top >= 1000.0 {
                segs.push(top);
                top = 0.0;
            }
            segs.push(top + v);
        } else {
            let top = segs.pop().unwrap_or(0.0);
            segs.push(top * v);
        }
    }
    Some(segs.iter().sum())
}

fn roman_to_decimal(r: &str) -> f64 {
    let val = |c: char| match c {
        'M' => 1000.0,
        'D' => 500.0,
        'C' => 100.0,
        'L' => 50.0,
        'X' => 10.0,
        'V' => 5.0,
        'I' => 1.0,
        _ => 0.0,
    };
    let mut dec = 0.0;
    let mut max = 1.0;
    for c in r.chars().rev() {
        let v: f64 = val(c);
        if v < max {
            dec -= v;
        } else {
            max = v;
            dec += v;
        }
    }
    dec
}

/// A regex fragment plus a parser for one integer format.
fn integer_matcher(f: &IntegerFormat) -> Result<String, Error> {
    Ok(match f.primary {
        Primary::Letters => {
            if f.case == Case::Upper {
                "[A-Z]+".into()
            } else {
                "[a-z]+".into()
            }
        }
        Primary::Roman => {
            if f.case == Case::Upper {
                "[MDCLXVI]+".into()
            } else {
                "[mdclxvi]+".into()
            }
        }
        Primary::Words => {
            let mut words: Vec<String> = FEW
                .iter()
                .chain(ORDINALS.iter())
                .map(|w| w.to_lowercase())
                .collect();
            for d in DECADES {
                let l = d.to_lowercase();
                words.push(format!("{}ieth", &l[..l.len() - 1]));
                words.push(l);
            }
            words.push("hundredth".into());
            for m in MAGNITUDES {
                let l = m.to_lowercase();
                words.push(format!("{l}th"));
                words.push(l);
            }
            // Longest first so alternation prefers whole words.
            words.sort_by_key(|w| std::cmp::Reverse(w.len()));
            format!("(?:{}|and|[\\-, ])+", words.join("|"))
        }
        Primary::Decimal => {
            let mut r = match f.parse_width {
                Some(w) => format!("[0-9]{{{w}}}"),
                None => "[0-9]+".into(),
            };
            if f.ordinal {
                r.push_str("(?:th|st|nd|rd)");
            }
            if f.zero_code != 0x30 {
                r = "\\d+".into();
            } else if !f.separators.is_empty() {
                let seps: String = f
                    .separators
                    .iter()
                    .map(|s| regex::escape(&s.1.to_string()))
                    .collect();
                r = format!("[0-9{seps}]+");
                if f.ordinal {
                    r.push_str("(?:th|st|nd|rd)");
                }
            }
            r
        }
        Primary::Sequence => {
            let mut e = err("D3130");
            e.value = Some(serde_json::Value::String(f.token.clone()));
            return Err(e);
        }
    })
}

fn parse_integer_text(s: &str, f: &IntegerFormat) -> Option<f64> {
    match f.primary {
        Primary::Letters => {
            let a = f64::from(if f.case == Case::Upper { 'A' } else { 'a' } as u32);
            let mut dec = 0.0;
            for (i, c) in s.chars().rev().enumerate() {
                dec += (f64::from(c as u32) - a + 1.0) * 26f64.powi(i as i32);
            }
            Some(dec)
        }
        Primary::Roman => Some(roman_to_decimal(&s.to_uppercase())),
        Primary::Words => words_to_number(s),
        Primary::Decimal => {
            let mut digits = s.to_string();
            if f.ordinal {
                let n = digits.chars().count();
                digits = digits.chars().take(n.saturating_sub(2)).collect();
            }
            if f.regular {
                digits = digits.replace(',', "");
            } else {
                for (_, c) in &f.separators {
                    digits = digits.replace(*c, "");
                }
            }
            if f.zero_code != 0x30 {
                digits = digits
                    .chars()
                    .map(|c| {
                        (c as u32)
                            .checked_sub(f.zero_code)
                            .and_then(|d| char::from_u32(d + 0x30))
                            .unwrap_or(c)
                    })
                    .collect();
            }
            digits.parse::<f64>().ok()
        }
        Primary::Sequence => None,
    }
}

pub(crate) fn fn_parse_integer(
    _: &mut Ctx,
    a: Vec<Option<Value>>,
    _: Option<&Value>,
    _: &Rc<Frame>,
) -> R {
    let Some(Value::String(s)) = arg(&a, 0) else {
        return Ok(None);
    };
    let picture = match arg(&a, 1) {
        Some(Value::String(p)) => p.to_string(),
        _ => String::new(),
    };
    let f = analyse_integer_picture(&picture)?;
    integer_matcher(&f)?;
    Ok(parse_integer_text(s, &f).map(Value::Number))
}

// ---------- date/time ----------

#[derive(Debug, Clone)]
enum Part {
    Literal(String),
    Marker(Marker),
}

#[derive(Debug, Clone)]
struct Marker {
    component: char,
    presentation2: Option<char>,
    names: Option<Case>,
    width: Option<(Option<usize>, Option<usize>)>,
    integer: Option<IntegerFormat>,
    n: i64,
}

fn default_presentation(c: char) -> Option<&'static str> {
    Some(match c {
        'Y' | 'M' | 'D' | 'd' | 'W' | 'w' | 'X' | 'x' | 'H' | 'h' | 'f' => "1",
        'F' | 'P' | 'C' | 'E' => "n",
        'm' | 's' => "01",
        'Z' | 'z' => "01:01",
        _ => return None,
    })
}

fn analyse_datetime_picture(picture: &str) -> Result<Vec<Part>, Error> {
    let chars: Vec<char> = picture.chars().collect();
    let mut parts: Vec<Part> = Vec::new();
    let add_literal = |parts: &mut Vec<Part>, s: usize, e: usize| {
        if e > s {
            let lit: String = chars[s..e].iter().collect();
            parts.push(Part::Literal(lit.replace("]]", "]")));
        }
    };
    let mut start = 0;
    let mut pos = 0;
    while pos < chars.len() {
        if chars[pos] == '[' {
            if chars.get(pos + 1) == Some(&'[') {
                add_literal(&mut parts, start, pos);
                parts.push(Part::Literal("[".into()));
                pos += 2;
                start = pos;
                continue;
            }
            add_literal(&mut parts, start, pos);
            start = pos;
            let Some(close) = chars[start..].iter().position(|c| *c == ']') else {
                return Err(err("D3135"));
            };
            pos = start + close;
            let marker: String = chars[start + 1..pos]
                .iter()
                .filter(|c| !c.is_whitespace())
                .collect();
            let mchars: Vec<char> = marker.chars().collect();
            let component = mchars.first().copied().unwrap_or(' ');
            let mut width = None;
            let pres_mod: String = match marker.rfind(',') {
                Some(comma) => {
                    let wm = marker.get(comma + 1..).unwrap_or("");
                    let parse_w = |s: &str| -> Option<usize> {
                        if s == "*" || s.is_empty() {
                            None
                        } else {
                            // Widths beyond any real date part are clamped (no huge allocations).
                            s.parse::<usize>().ok().map(|w| w.min(64))
                        }
                    };
                    let (min, max) = match wm.find('-') {
                        Some(d) => (parse_w(&wm[..d]), parse_w(&wm[d + 1..])),
                        None => (parse_w(wm), None),
                    };
                    width = Some((min, max));
                    marker
                        .get(component.len_utf8()..comma)
                        .unwrap_or("")
                        .to_string()
                }
                None => marker.get(component.len_utf8()..).unwrap_or("").to_string(),
            };
            let pm: Vec<char> = pres_mod.chars().collect();
            let mut presentation2 = None;
            let presentation1: String = if pm.len() == 1 {
                pres_mod.clone()
            } else if pm.len() > 1 {
                let last = pm[pm.len() - 1];
                if "atco".contains(last) {
                    presentation2 = Some(last);
                    pm[..pm.len() - 1].iter().collect()
                } else {
                    pres_mod.clone()
                }
            } else {
                match default_presentation(component) {
                    Some(p) => p.to_string(),
                    None => {
                        let mut e = err("D3132");
                        e.value = Some(serde_json::Value::String(component.to_string()));
                        return Err(e);
                    }
                }
            };
            if default_presentation(component).is_none() {
                let mut e = err("D3132");
                e.value = Some(serde_json::Value::String(component.to_string()));
                return Err(e);
            }
            let mut m = Marker {
                component,
                presentation2,
                names: None,
                width,
                integer: None,
                n: -1,
            };
            let p1: Vec<char> = presentation1.chars().collect();
            if p1.first() == Some(&'n') {
                m.names = Some(Case::Lower);
            } else if p1.first() == Some(&'N') {
                m.names = Some(if p1.get(1) == Some(&'n') {
                    Case::Title
                } else {
                    Case::Upper
                });
            } else if "YMDdFWwXxHhmsf".contains(component) {
                let mut pattern = presentation1.clone();
                if let Some(p2) = presentation2 {
                    pattern.push(';');
                    pattern.push(p2);
                }
                let mut f = analyse_integer_picture(&pattern)?;
                if let Some((Some(min), _)) = width {
                    if f.mandatory_digits < min {
                        f.mandatory_digits = min;
                    }
                }
                if "YMD".contains(component) {
                    if let Some((_, Some(max))) = width {
                        m.n = max as i64;
                        f.mandatory_digits = max;
                    } else {
                        let w = f.mandatory_digits + f.optional_digits;
                        if w >= 2 {
                            m.n = w as i64;
                        }
                    }
                }
                if let Some(Part::Marker(prev)) = parts.last_mut() {
                    if let Some(pf) = &mut prev.integer {
                        pf.parse_width = Some(pf.mandatory_digits);
                    }
                }
                m.integer = Some(f);
            }
            if component == 'Z' || component == 'z' {
                m.integer = Some(analyse_integer_picture(&presentation1)?);
            }
            parts.push(Part::Marker(m));
            start = pos + 1;
        }
        pos += 1;
    }
    add_literal(&mut parts, start, pos.min(chars.len()));
    Ok(parts)
}

const DAY_MS: i64 = 86_400_000;

fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = if z >= 0 { z } else { z - 146_096 } / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// `Date.UTC` with month overflow handled like JS.
fn date_utc(y: i64, m0: i64, d: i64, h: i64, mi: i64, s: i64, ms: i64) -> i64 {
    let y = y + m0.div_euclid(12);
    let m = m0.rem_euclid(12) + 1;
    let days = i128::from(days_from_civil(y, m, 1)) + i128::from(d) - 1;
    // i128 then saturate: parsed components can be far outside any real date.
    let total = days * i128::from(DAY_MS)
        + i128::from(h) * 3_600_000
        + i128::from(mi) * 60_000
        + i128::from(s) * 1000
        + i128::from(ms);
    total.clamp(i128::from(i64::MIN / 2), i128::from(i64::MAX / 2)) as i64
}

#[derive(Clone, Copy)]
struct Dt {
    millis: i64,
    year: i64,
    month: i64, // 0-based
    day: i64,
    hour: i64,
    minute: i64,
    second: i64,
    milli: i64,
    weekday: i64, // 0 = Sunday
}

fn dt(millis: i64) -> Dt {
    let days = millis.div_euclid(DAY_MS);
    let rem = millis.rem_euclid(DAY_MS);
    let (y, m, d) = civil_from_days(days);
    Dt {
        millis,
        year: y,
        month: m - 1,
        day: d,
        hour: rem / 3_600_000,
        minute: rem / 60_000 % 60,
        second: rem / 1000 % 60,
        milli: rem % 1000,
        weekday: (days + 4).rem_euclid(7),
    }
}

fn start_of_first_week(year: i64, month0: i64) -> i64 {
    let first = date_utc(year, month0, 1, 0, 0, 0, 0);
    let mut dow = dt(first).weekday;
    if dow == 0 {
        dow = 7;
    }
    if dow > 4 {
        first + (8 - dow) * DAY_MS
    } else {
        first - (dow - 1) * DAY_MS
    }
}

fn ym_next(y: i64, m: i64) -> (i64, i64) {
    if m == 11 {
        (y + 1, 0)
    } else {
        (y, m + 1)
    }
}

fn ym_prev(y: i64, m: i64) -> (i64, i64) {
    if m == 0 {
        (y - 1, 11)
    } else {
        (y, m - 1)
    }
}

enum Frag {
    Int(i64),
    Str(&'static str),
}

fn fragment(d: &Dt, c: char) -> Frag {
    let weeks =
        |start: i64, end: i64| ((end - start) as f64 / (DAY_MS * 7) as f64 + 1.0).floor() as i64;
    Frag::Int(match c {
        'Y' => d.year,
        'M' => d.month + 1,
        'D' => d.day,
        'd' => (d.millis - date_utc(d.year, 0, 1, 0, 0, 0, 0)).div_euclid(DAY_MS) + 1,
        'F' => {
            if d.weekday == 0 {
                7
            } else {
                d.weekday
            }
        }
        'W' => {
            let mut s1 = start_of_first_week(d.year, 0);
            let next = start_of_first_week(d.year + 1, 0);
            if d.millis < s1 {
                s1 = start_of_first_week(d.year - 1, 0);
            } else if d.millis >= next {
                s1 = next;
            }
            weeks(s1, d.millis)
        }
        'w' => {
            let mut s1 = start_of_first_week(d.year, d.month);
            let (ny, nm) = ym_next(d.year, d.month);
            let next = start_of_first_week(ny, nm);
            if d.millis < s1 {
                let (py, pm) = ym_prev(d.year, d.month);
                s1 = start_of_first_week(py, pm);
            } else if d.millis >= next {
                s1 = next;
            }
            weeks(s1, d.millis)
        }
        'X' => {
            let s = start_of_first_week(d.year, 0);
            let e = start_of_first_week(d.year + 1, 0);
            if d.millis < s {
                d.year - 1
            } else if d.millis >= e {
                d.year + 1
            } else {
                d.year
            }
        }
        'x' => {
            let s = start_of_first_week(d.year, d.month);
            let (ny, nm) = ym_next(d.year, d.month);
            let e = start_of_first_week(ny, nm);
            if d.millis < s {
                ym_prev(d.year, d.month).1 + 1
            } else if d.millis >= e {
                nm + 1
            } else {
                d.month + 1
            }
        }
        'H' => d.hour,
        'h' => {
            let h = d.hour % 12;
            if h == 0 {
                12
            } else {
                h
            }
        }
        'P' => return Frag::Str(if d.hour >= 12 { "pm" } else { "am" }),
        'm' => d.minute,
        's' => d.second,
        'f' => d.milli,
        'C' | 'E' => return Frag::Str("ISO"),
        _ => 0,
    })
}

fn format_component(d: &Dt, m: &Marker, off_h: i64, off_m: i64) -> Result<String, Error> {
    let frag = fragment(d, m.component);
    if "YMDdFWwXxHhms".contains(m.component) {
        let Frag::Int(mut v) = frag else {
            return Ok(String::new());
        };
        if m.component == 'Y' && m.n != -1 {
            if let Some(p) = 10i64.checked_pow(m.n as u32) {
                v %= p;
            }
        }
        if let Some(case) = m.names {
            let name = match m.component {
                'M' | 'x' => MONTHS.get((v - 1) as usize).copied().unwrap_or(""),
                'F' => DAYS.get(v as usize).copied().unwrap_or(""),
                _ => {
                    let mut e = err("D3133");
                    e.value = Some(serde_json::Value::String(m.component.to_string()));
                    return Err(e);
                }
            };
            let mut s = match case {
                Case::Upper => name.to_uppercase(),
                Case::Lower => name.to_lowercase(),
                Case::Title => name.to_string(),
            };
            if let Some((_, Some(max))) = m.width {
                if s.chars().count() > max {
                    s = s.chars().take(max).collect();
                }
            }
            return Ok(s);
        }
        return match &m.integer {
            Some(f) => format_integer(v, f),
            None => Ok(v.to_string()),
        };
    }
    match m.component {
        'f' => {
            let Frag::Int(v) = frag else {
                return Ok(String::new());
            };
            match &m.integer {
                Some(f) => format_integer(v, f),
                None => Ok(v.to_string()),
            }
        }
        'Z' | 'z' => {
            let offset = off_h * 100 + off_m;
            let f = m.integer.clone().ok_or_else(|| err("D3134"))?;
            let mut s = if f.regular {
                format_integer(offset, &f)?
            } else {
                match f.mandatory_digits {
                    1 | 2 => {
                        let mut s = format_integer(off_h, &f)?;
                        if off_m != 0 {
                            s.push(':');
                            s.push_str(&format!("{:02}", off_m.abs()));
                        }
                        s
                    }
                    3 | 4 => format_integer(offset, &f)?,
                    n => {
                        let mut e = err("D3134");
                        e.value = Some(serde_json::Value::from(n));
                        return Err(e);
                    }
                }
            };
            if offset >= 0 {
                s.insert(0, '+');
            }
            if m.component == 'z' {
                s = format!("GMT{s}");
            }
            if offset == 0 && m.presentation2 == Some('t') {
                s = "Z".into();
            }
            Ok(s)
        }
        'P' => {
            let Frag::Str(s) = frag else {
                return Ok(String::new());
            };
            Ok(if m.names == Some(Case::Upper) {
                s.to_uppercase()
            } else {
                s.to_string()
            })
        }
        _ => match frag {
            Frag::Str(s) => Ok(s.to_string()),
            Frag::Int(v) => Ok(v.to_string()),
        },
    }
}

const ISO_PICTURE: &str = "[Y0001]-[M01]-[D01]T[H01]:[m01]:[s01].[f001][Z01:01t]";

fn format_datetime(
    millis: i64,
    picture: Option<&str>,
    timezone: Option<&str>,
) -> Result<String, Error> {
    let (mut off_h, mut off_m) = (0, 0);
    if let Some(tz) = timezone {
        let offset: i64 = parse_int_prefix(tz).unwrap_or(0).clamp(-100_000, 100_000);
        // As JS: Math.floor(offset / 100) and a truncating remainder.
        off_h = offset.div_euclid(100);
        off_m = offset % 100;
    }
    let parts = analyse_datetime_picture(picture.unwrap_or(ISO_PICTURE))?;
    let d = dt(millis + (60 * off_h + off_m) * 60_000);
    let mut out = String::new();
    for p in &parts {
        match p {
            Part::Literal(s) => out.push_str(s),
            Part::Marker(m) => out.push_str(&format_component(&d, m, off_h, off_m)?),
        }
    }
    Ok(out)
}

fn parse_int_prefix(s: &str) -> Option<i64> {
    let s = s.trim();
    let (neg, rest) = match s.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, s.strip_prefix('+').unwrap_or(s)),
    };
    let digits: String = rest.chars().take_while(|c| c.is_ascii_digit()).collect();
    let n: i64 = digits.parse().ok()?;
    Some(if neg { -n } else { n })
}

fn str_arg(a: &[Option<Value>], i: usize) -> Option<String> {
    match arg(a, i) {
        Some(Value::String(s)) => Some(s.to_string()),
        _ => None,
    }
}

pub(crate) fn fn_from_millis(
    _: &mut Ctx,
    a: Vec<Option<Value>>,
    _: Option<&Value>,
    _: &Rc<Frame>,
) -> R {
    let Some(Value::Number(n)) = arg(&a, 0) else {
        return Ok(None);
    };
    let s = format_datetime(
        n.floor() as i64,
        str_arg(&a, 1).as_deref(),
        str_arg(&a, 2).as_deref(),
    )?;
    Ok(Some(Value::string(s)))
}

pub(crate) fn fn_now(ctx: &mut Ctx, a: Vec<Option<Value>>, _: Option<&Value>, _: &Rc<Frame>) -> R {
    let s = format_datetime(
        ctx.now.millis,
        str_arg(&a, 0).as_deref(),
        str_arg(&a, 1).as_deref(),
    )?;
    Ok(Some(Value::string(s)))
}

pub(crate) fn fn_millis(
    ctx: &mut Ctx,
    _a: Vec<Option<Value>>,
    _: Option<&Value>,
    _: &Rc<Frame>,
) -> R {
    Ok(Some(Value::Number(ctx.now.millis as f64)))
}

/// ISO 8601 as JS `Date.parse` accepts it (after jsonata's own shape check).
fn parse_iso(s: &str) -> Option<i64> {
    let re = regex::Regex::new(
        r"^(\d{4})(?:-(\d{2}))?(?:-(\d{2}))?(?:T(\d{2}):(\d{2})(?::(\d{2}))?(?:\.(\d+))?)?(Z|[+-]\d{2}:?\d{2})?$",
    )
    .ok()?;
    let c = re.captures(s)?;
    let num =
        |i: usize, d: i64| -> i64 { c.get(i).and_then(|m| m.as_str().parse().ok()).unwrap_or(d) };
    let y = num(1, 1970);
    let mo = num(2, 1);
    let d = num(3, 1);
    let h = num(4, 0);
    let mi = num(5, 0);
    let sec = num(6, 0);
    let ms = c
        .get(7)
        .map(|m| {
            let f: String = m.as_str().chars().chain("000".chars()).take(3).collect();
            f.parse().unwrap_or(0)
        })
        .unwrap_or(0);
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 24 || mi > 59 || sec > 59 {
        return None;
    }
    let mut millis = date_utc(y, mo - 1, d, h, mi, sec, ms);
    if let Some(tz) = c.get(8) {
        let tz = tz.as_str();
        if tz != "Z" {
            let sign = if tz.starts_with('-') { -1 } else { 1 };
            let digits: String = tz.chars().filter(|c| c.is_ascii_digit()).collect();
            let hh: i64 = digits.get(..2).and_then(|x| x.parse().ok()).unwrap_or(0);
            let mm: i64 = digits.get(2..).and_then(|x| x.parse().ok()).unwrap_or(0);
            millis -= sign * (hh * 60 + mm) * 60_000;
        }
    }
    Some(millis)
}

pub(crate) fn fn_to_millis(
    ctx: &mut Ctx,
    a: Vec<Option<Value>>,
    _: Option<&Value>,
    _: &Rc<Frame>,
) -> R {
    let Some(ts) = str_arg(&a, 0) else {
        return Ok(None);
    };
    match str_arg(&a, 1) {
        None => {
            let shape = regex::Regex::new(
                r"^\d{4}(-[01]\d)*(-[0-3]\d)*(T[0-2]\d:[0-5]\d:[0-5]\d)*(\.\d+)?([+-][0-2]\d:?[0-5]\d|Z)?$",
            )
            .map_err(|e| Error::new("D3110", e.to_string()))?;
            if !shape.is_match(&ts) {
                let mut e = err("D3110");
                e.value = Some(serde_json::Value::String(ts));
                return Err(e);
            }
            Ok(parse_iso(&ts).map(|m| Value::Number(m as f64)))
        }
        Some(picture) => parse_datetime(&ts, &picture, ctx.now.millis),
    }
}

enum Parser {
    Int(IntegerFormat),
    Names(Vec<(String, i64)>),
    Tz(bool),
    Literal,
    Ignore,
}

fn parse_datetime(ts: &str, picture: &str, now: i64) -> R {
    let parts = analyse_datetime_picture(picture)?;
    let mut regex = String::from("^");
    let mut parsers: Vec<(char, Parser)> = Vec::new();
    for p in &parts {
        match p {
            Part::Literal(l) => {
                regex.push_str(&format!("({})", regex::escape(l)));
                parsers.push((' ', Parser::Literal));
            }
            Part::Marker(m) => {
                if m.component == 'Z' || m.component == 'z' {
                    let prefix = if m.component == 'z' { "GMT" } else { "" };
                    regex.push_str(&format!(
                        "({prefix}(?:[Zz]|[+-][0-9]{{1,2}}:?[0-9]{{0,2}}))"
                    ));
                    parsers.push((m.component, Parser::Tz(m.component == 'z')));
                } else if let Some(f) = &m.integer {
                    regex.push_str(&format!("({})", integer_matcher(f)?));
                    parsers.push((m.component, Parser::Int(f.clone())));
                } else {
                    let lookup: Vec<(String, i64)> = match m.component {
                        'M' | 'x' => MONTHS
                            .iter()
                            .enumerate()
                            .map(|(i, n)| {
                                let name = match m.width {
                                    Some((_, Some(max))) => n.chars().take(max).collect(),
                                    _ => n.to_string(),
                                };
                                (name, i as i64 + 1)
                            })
                            .collect(),
                        'F' => DAYS
                            .iter()
                            .enumerate()
                            .skip(1)
                            .map(|(i, n)| {
                                let name = match m.width {
                                    Some((_, Some(max))) => n.chars().take(max).collect(),
                                    _ => n.to_string(),
                                };
                                (name, i as i64)
                            })
                            .collect(),
                        'P' => vec![("am".into(), 0), ("pm".into(), 1)],
                        'C' | 'E' => {
                            regex.push_str("([a-zA-Z]+)");
                            parsers.push((m.component, Parser::Ignore));
                            continue;
                        }
                        c => {
                            let mut e = err("D3133");
                            e.value = Some(serde_json::Value::String(c.to_string()));
                            return Err(e);
                        }
                    };
                    regex.push_str("([a-zA-Z]+)");
                    parsers.push((m.component, Parser::Names(lookup)));
                }
            }
        }
    }
    regex.push('$');
    let re = regex::RegexBuilder::new(&regex)
        .case_insensitive(true)
        .build()
        .map_err(|e| Error::new("D3136", e.to_string()))?;
    let Some(caps) = re.captures(ts) else {
        return Ok(None);
    };
    let mut comps: std::collections::HashMap<char, i64> = std::collections::HashMap::new();
    let to_i = |v: Option<f64>| v.filter(|x| x.is_finite()).map(|x| x as i64);
    for (i, (c, p)) in parsers.iter().enumerate() {
        let text = caps.get(i + 1).map(|m| m.as_str()).unwrap_or("");
        let v = match p {
            Parser::Literal | Parser::Ignore => continue,
            Parser::Int(f) => to_i(parse_integer_text(text, f)),
            Parser::Names(l) => l
                .iter()
                .find(|(n, _)| n.eq_ignore_ascii_case(text))
                .map(|(_, v)| *v),
            Parser::Tz(gmt) => {
                let t = if *gmt {
                    &text[3.min(text.len())..]
                } else {
                    text
                };
                if t.eq_ignore_ascii_case("z") {
                    Some(0)
                } else {
                    let sign = if t.starts_with('-') { -1 } else { 1 };
                    let body: String = t.chars().skip(1).collect();
                    let (hh, mm) = match body.split_once(':') {
                        Some((h, m)) => (h.parse().unwrap_or(0), m.parse().unwrap_or(0)),
                        None if body.len() <= 2 => (body.parse().unwrap_or(0), 0),
                        None => {
                            let (h, m) = body.split_at(body.len() - 2);
                            (h.parse().unwrap_or(0), m.parse().unwrap_or(0))
                        }
                    };
                    Some(sign * (hh * 60 + mm))
                }
            }
        };
        if let Some(v) = v {
            comps.insert(*c, v);
        }
    }
    if comps.is_empty() {
        return Ok(None);
    }
    let mask_of = |order: &str| -> u32 {
        order
            .chars()
            .fold(0u32, |m, c| (m << 1) | u32::from(comps.contains_key(&c)))
    };
    let is_type = |t: u32, mask: u32| (!t & mask) == 0 && (t & mask) != 0;
    let dmask = mask_of("YXMxWwdD");
    let date_a = is_type(161, dmask);
    let date_b = !date_a && is_type(130, dmask);
    let date_c = is_type(84, dmask);
    let date_d = !date_c && is_type(72, dmask);
    let tmask = mask_of("PHhmsf");
    let time_a = is_type(23, tmask);
    let time_b = !time_a && is_type(47, tmask);
    let date_comps = if date_b {
        "YD"
    } else if date_c {
        "XxwF"
    } else if date_d {
        "XWF"
    } else {
        "YMD"
    };
    let time_comps = if time_b { "Phmsf" } else { "Hmsf" };
    let now_dt = dt(now);
    let mut start_specified = false;
    let mut end_specified = false;
    for part in date_comps.chars().chain(time_comps.chars()) {
        if let std::collections::hash_map::Entry::Vacant(e) = comps.entry(part) {
            if start_specified {
                e.insert(if "MDd".contains(part) { 1 } else { 0 });
                end_specified = true;
            } else {
                let v = match fragment(&now_dt, part) {
                    Frag::Int(v) => v,
                    Frag::Str(s) => i64::from(s == "pm"),
                };
                e.insert(v);
            }
        } else {
            start_specified = true;
            if end_specified {
                return Err(err("D3136"));
            }
        }
    }
    // Components beyond JS Date's range make an invalid date (undefined here).
    if comps.values().any(|v| v.unsigned_abs() > 1_000_000_000) {
        return Ok(None);
    }
    let get = |c: char| comps.get(&c).copied().unwrap_or(0);
    let mut month = if get('M') > 0 { get('M') - 1 } else { 0 };
    let mut day = get('D');
    if date_b {
        let d = dt(date_utc(get('Y'), 0, 1, 0, 0, 0, 0) + (get('d') - 1) * DAY_MS);
        month = d.month;
        day = d.day;
    }
    if date_c || date_d {
        return Err(err("D3136"));
    }
    let mut hour = get('H');
    if time_b {
        hour = if get('h') == 12 { 0 } else { get('h') };
        if get('P') == 1 {
            hour += 12;
        }
    }
    let mut millis = date_utc(get('Y'), month, day, hour, get('m'), get('s'), get('f'));
    let tz = comps.get(&'Z').or(comps.get(&'z')).copied().unwrap_or(0);
    millis -= tz * 60_000;
    Ok(Some(Value::Number(millis as f64)))
}
