//! `$formatNumber` (XPath F&O 3.1 `format-number` picture strings, as jsonata-js implements them).

use crate::eval::{err, Ctx, R};
use crate::functions::{arg, round_half_even};
use crate::value::{Frame, Value};
use crate::Error;
use std::rc::Rc;

struct Props {
    decimal: char,
    grouping: char,
    exponent: char,
    minus: String,
    percent: char,
    per_mille: char,
    zero: char,
    digit: char,
    pattern: char,
}

struct Parts {
    prefix: Vec<char>,
    suffix: Vec<char>,
    active: Vec<char>,
    mantissa: Vec<char>,
    exponent: Option<Vec<char>>,
    integer: Vec<char>,
    fractional: Vec<char>,
    sub: Vec<char>,
}

#[derive(Clone)]
struct Pic {
    integer_groups: Vec<usize>,
    regular: usize,
    min_int: usize,
    scaling: usize,
    prefix: Vec<char>,
    fraction_groups: Vec<usize>,
    min_frac: usize,
    max_frac: usize,
    min_exp: usize,
    suffix: Vec<char>,
    picture: Vec<char>,
}

fn find(h: &[char], c: char) -> Option<usize> {
    h.iter().position(|x| *x == c)
}

fn rfind(h: &[char], c: char) -> Option<usize> {
    h.iter().rposition(|x| *x == c)
}

impl Props {
    fn is_digit(&self, c: char) -> bool {
        (c as u32) >= self.zero as u32 && (c as u32) < self.zero as u32 + 10
    }
    fn is_active(&self, c: char) -> bool {
        self.is_digit(c)
            || c == self.decimal
            || c == self.exponent
            || c == self.grouping
            || c == self.digit
            || c == self.pattern
    }

    fn split(&self, sub: &[char]) -> Parts {
        let first = sub
            .iter()
            .position(|c| self.is_active(*c) && *c != self.exponent);
        let prefix: Vec<char> = sub[..first.unwrap_or(sub.len())].to_vec();
        let last = sub
            .iter()
            .rposition(|c| self.is_active(*c) && *c != self.exponent);
        let suffix: Vec<char> = match last {
            Some(i) => sub[i + 1..].to_vec(),
            None => Vec::new(),
        };
        let end = sub.len().saturating_sub(suffix.len()).max(prefix.len());
        let active: Vec<char> = sub[prefix.len()..end].to_vec();
        let exp_pos = sub
            .iter()
            .skip(prefix.len())
            .position(|c| *c == self.exponent)
            .map(|p| p + prefix.len());
        let (mantissa, exponent) = match exp_pos {
            Some(p) if p <= sub.len() - suffix.len() => {
                let rel = (p - prefix.len()).min(active.len());
                (
                    active[..rel].to_vec(),
                    Some(active.get(rel + 1..).unwrap_or(&[]).to_vec()),
                )
            }
            _ => (active.clone(), None),
        };
        let (integer, fractional) = match find(&mantissa, self.decimal) {
            None => (mantissa.clone(), suffix.clone()),
            Some(d) => (mantissa[..d].to_vec(), mantissa[d + 1..].to_vec()),
        };
        Parts {
            prefix,
            suffix,
            active,
            mantissa,
            exponent,
            integer,
            fractional,
            sub: sub.to_vec(),
        }
    }

    fn validate(&self, p: &Parts) -> Result<(), Error> {
        let mut error = None;
        let sub = &p.sub;
        let dpos = find(sub, self.decimal);
        if dpos != rfind(sub, self.decimal) {
            error = Some("D3081");
        }
        if find(sub, self.percent) != rfind(sub, self.percent) {
            error = Some("D3082");
        }
        if find(sub, self.per_mille) != rfind(sub, self.per_mille) {
            error = Some("D3083");
        }
        if find(sub, self.percent).is_some() && find(sub, self.per_mille).is_some() {
            error = Some("D3084");
        }
        if !p
            .mantissa
            .iter()
            .any(|c| self.is_digit(*c) || *c == self.digit)
        {
            error = Some("D3085");
        }
        if p.active.iter().any(|c| !self.is_active(*c)) {
            error = Some("D3086");
        }
        if let Some(d) = dpos {
            let before = d.checked_sub(1).and_then(|i| sub.get(i));
            if before == Some(&self.grouping) || sub.get(d + 1) == Some(&self.grouping) {
                error = Some("D3087");
            }
        } else if p.integer.last() == Some(&self.grouping) {
            error = Some("D3088");
        }
        if sub
            .windows(2)
            .any(|w| w[0] == self.grouping && w[1] == self.grouping)
        {
            error = Some("D3089");
        }
        if let Some(o) = find(&p.integer, self.digit) {
            if p.integer[..o].iter().any(|c| self.is_digit(*c)) {
                error = Some("D3090");
            }
        }
        if let Some(o) = rfind(&p.fractional, self.digit) {
            if p.fractional[o..].iter().any(|c| self.is_digit(*c)) {
                error = Some("D3091");
            }
        }
        if let Some(e) = &p.exponent {
            if !e.is_empty()
                && (find(sub, self.percent).is_some() || find(sub, self.per_mille).is_some())
            {
                error = Some("D3092");
            }
            if e.is_empty() || e.iter().any(|c| !self.is_digit(*c)) {
                error = Some("D3093");
            }
        }
        match error {
            Some(code) => Err(err(code)),
            None => Ok(()),
        }
    }

    fn analyse(&self, p: &Parts) -> Pic {
        let count_digits = |s: &[char]| {
            s.iter()
                .filter(|c| self.is_digit(**c) || **c == self.digit)
                .count()
        };
        let grouping_positions = |part: &[char], to_left: bool| {
            let mut out = Vec::new();
            let mut pos = find(part, self.grouping);
            while let Some(g) = pos {
                let n = if to_left {
                    count_digits(&part[..g])
                } else {
                    count_digits(&part[g..])
                };
                out.push(n);
                // jsonata searches the integer part for the next separator (for both parts).
                pos = p
                    .integer
                    .iter()
                    .skip(g + 1)
                    .position(|c| *c == self.grouping)
                    .map(|x| x + g + 1);
                if pos.is_some_and(|x| x >= part.len()) {
                    break;
                }
            }
            out
        };
        let integer_groups = grouping_positions(&p.integer, false);
        let regular = {
            if integer_groups.is_empty() {
                0
            } else {
                fn gcd(a: usize, b: usize) -> usize {
                    if b == 0 {
                        a
                    } else {
                        gcd(b, a % b)
                    }
                }
                let factor = integer_groups.iter().copied().reduce(gcd).unwrap_or(0);
                if factor > 0
                    && (1..=integer_groups.len()).all(|i| integer_groups.contains(&(i * factor)))
                {
                    factor
                } else {
                    0
                }
            }
        };
        let fraction_groups = grouping_positions(&p.fractional, true);
        let mut min_int = p.integer.iter().filter(|c| self.is_digit(**c)).count();
        let scaling = min_int;
        let mut min_frac = p.fractional.iter().filter(|c| self.is_digit(**c)).count();
        let mut max_frac = count_digits(&p.fractional);
        let exp_present = p.exponent.is_some();
        if min_int == 0 && max_frac == 0 {
            if exp_present {
                min_frac = 1;
                max_frac = 1;
            } else {
                min_int = 1;
            }
        }
        if exp_present && min_int == 0 && find(&p.integer, self.digit).is_some() {
            min_int = 1;
        }
        if min_int == 0 && min_frac == 0 {
            min_frac = 1;
        }
        let min_exp = p
            .exponent
            .as_ref()
            .map(|e| e.iter().filter(|c| self.is_digit(**c)).count())
            .unwrap_or(0);
        Pic {
            integer_groups,
            regular,
            min_int,
            scaling,
            prefix: p.prefix.clone(),
            fraction_groups,
            min_frac,
            max_frac,
            min_exp,
            suffix: p.suffix.clone(),
            picture: p.sub.clone(),
        }
    }
}

fn prop_char(o: Option<&Value>, key: &str, default: char) -> char {
    match o {
        Some(Value::Object(m)) => match m.get(key) {
            Some(Value::String(s)) => s.chars().next().unwrap_or(default),
            _ => default,
        },
        _ => default,
    }
}

pub(crate) fn fn_format_number(
    _: &mut Ctx,
    a: Vec<Option<Value>>,
    _: Option<&Value>,
    _: &Rc<Frame>,
) -> R {
    let Some(Value::Number(value)) = arg(&a, 0) else {
        return Ok(None);
    };
    let value = *value;
    let picture: Vec<char> = match arg(&a, 1) {
        Some(Value::String(s)) => s.chars().collect(),
        _ => Vec::new(),
    };
    let o = arg(&a, 2);
    let props = Props {
        decimal: prop_char(o, "decimal-separator", '.'),
        grouping: prop_char(o, "grouping-separator", ','),
        exponent: prop_char(o, "exponent-separator", 'e'),
        minus: match o {
            Some(Value::Object(m)) => match m.get("minus-sign") {
                Some(Value::String(s)) => s.to_string(),
                _ => "-".into(),
            },
            _ => "-".into(),
        },
        percent: prop_char(o, "percent", '%'),
        per_mille: prop_char(o, "per-mille", '\u{2030}'),
        zero: prop_char(o, "zero-digit", '0'),
        digit: prop_char(o, "digit", '#'),
        pattern: prop_char(o, "pattern-separator", ';'),
    };
    let subs: Vec<&[char]> = picture.split(|c| *c == props.pattern).collect();
    if subs.len() > 2 {
        return Err(err("D3080"));
    }
    let parts: Vec<Parts> = subs.iter().map(|s| props.split(s)).collect();
    for p in &parts {
        props.validate(p)?;
    }
    let mut pics: Vec<Pic> = parts.iter().map(|p| props.analyse(p)).collect();
    if pics.len() == 1 {
        let mut neg = pics[0].clone();
        let mut prefix: Vec<char> = props.minus.chars().collect();
        prefix.extend(neg.prefix);
        neg.prefix = prefix;
        pics.push(neg);
    }
    let pic = if value >= 0.0 { &pics[0] } else { &pics[1] };
    let adjusted = if find(&pic.picture, props.percent).is_some() {
        value * 100.0
    } else if find(&pic.picture, props.per_mille).is_some() {
        value * 1000.0
    } else {
        value
    };
    let mut mantissa = adjusted;
    let mut exponent: Option<i32> = None;
    if pic.min_exp != 0 {
        let max_m = 10f64.powi(pic.scaling as i32);
        let min_m = 10f64.powi(pic.scaling as i32 - 1);
        let mut e = 0;
        if mantissa != 0.0 && mantissa.is_finite() {
            while mantissa < min_m && e > -400 {
                mantissa *= 10.0;
                e -= 1;
            }
            while mantissa > max_m && e < 400 {
                mantissa /= 10.0;
                e += 1;
            }
        }
        exponent = Some(e);
    }
    let rounded = round_half_even(mantissa, pic.max_frac as f64);
    let zero = props.zero;
    let make_string = |v: f64, dp: usize| -> Vec<char> {
        let s = format!("{:.*}", dp, v.abs());
        s.chars()
            .map(|c| {
                if c.is_ascii_digit() && zero != '0' {
                    char::from_u32(zero as u32 + (c as u32 - 48)).unwrap_or(c)
                } else {
                    c
                }
            })
            .collect()
    };
    let mut s = make_string(rounded, pic.max_frac);
    match find(&s, '.') {
        None => s.push(props.decimal),
        Some(i) => s[i] = props.decimal,
    }
    while s.first() == Some(&zero) {
        s.remove(0);
    }
    while s.last() == Some(&zero) {
        s.pop();
    }
    let dpos = find(&s, props.decimal).unwrap_or(s.len());
    let pad_left = pic.min_int.saturating_sub(dpos);
    let pad_right = pic.min_frac.saturating_sub(s.len() - dpos - 1);
    let mut v: Vec<char> = std::iter::repeat_n(zero, pad_left).collect();
    v.extend(s);
    v.extend(std::iter::repeat_n(zero, pad_right));
    let mut dpos = find(&v, props.decimal).unwrap_or(v.len());
    if let Some(groups) = dpos.saturating_sub(1).checked_div(pic.regular) {
        for g in 1..=groups {
            let at = dpos - g * pic.regular;
            v.insert(at, props.grouping);
        }
    } else {
        for pos in &pic.integer_groups {
            if *pos <= dpos {
                v.insert(dpos - pos, props.grouping);
                dpos += 1;
            }
        }
    }
    let dpos = find(&v, props.decimal).unwrap_or(v.len());
    for pos in &pic.fraction_groups {
        let at = (pos + dpos + 1).min(v.len());
        v.insert(at, props.grouping);
    }
    let dpos = find(&v, props.decimal);
    if pic.max_frac == 0 || dpos == Some(v.len().saturating_sub(1)) {
        v.pop();
    }
    if let Some(e) = exponent {
        let mut se = make_string(f64::from(e), 0);
        if se.len() < pic.min_exp {
            let mut p: Vec<char> = std::iter::repeat_n(zero, pic.min_exp - se.len()).collect();
            p.extend(se);
            se = p;
        }
        v.push(props.exponent);
        if e < 0 {
            v.extend(props.minus.chars());
        }
        v.extend(se);
    }
    let mut out: String = pic.prefix.iter().collect();
    out.extend(v);
    out.extend(pic.suffix.iter());
    Ok(Some(Value::string(out)))
}
