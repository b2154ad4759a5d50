//! Function signatures (`<s-n?:s>`), validated like jsonata-js's `signature.js`.

use crate::parser::err_at;
use crate::Error;

#[derive(Debug, Clone, Copy, PartialEq)]
enum Quant {
    One,
    Optional,
    Plus,
}

#[derive(Debug, Clone)]
struct Param {
    /// Allowed type symbols (s n b l o a f m).
    allowed: String,
    kind: String,
    quant: Quant,
    context: bool,
    subtype: Option<String>,
}

#[derive(Debug, Clone)]
pub(crate) struct Signature {
    params: Vec<Param>,
}

/// The type symbol of a value, as in jsonata's `getSymbol`.
pub(crate) fn symbol_of(v: Option<&crate::value::Value>) -> char {
    use crate::value::Value;
    match v {
        None => 'm',
        Some(Value::Function(_)) => 'f',
        Some(Value::String(_)) => 's',
        Some(Value::Number(_)) => 'n',
        Some(Value::Bool(_)) => 'b',
        Some(Value::Null) => 'l',
        Some(Value::Array(_)) => 'a',
        Some(Value::Object(_)) => 'o',
    }
}

impl Signature {
    pub fn parse(sig: &str) -> Result<Signature, Error> {
        let chars: Vec<char> = sig.chars().collect();
        let mut params: Vec<Param> = Vec::new();
        let mut pos = 1;
        let closing = |start: usize, open: char, close: char| {
            let mut depth = 1;
            let mut p = start;
            while p < chars.len() {
                p += 1;
                match chars.get(p) {
                    Some(c) if *c == close => {
                        depth -= 1;
                        if depth == 0 {
                            break;
                        }
                    }
                    Some(c) if *c == open => depth += 1,
                    _ => {}
                }
            }
            p
        };
        while pos < chars.len() {
            let c = chars[pos];
            if c == ':' {
                break;
            }
            let mk = |allowed: &str, kind: String| Param {
                allowed: allowed.to_string(),
                kind,
                quant: Quant::One,
                context: false,
                subtype: None,
            };
            match c {
                's' | 'n' | 'b' | 'l' | 'o' => params.push(mk(&format!("{c}m"), c.to_string())),
                'a' => params.push(mk("asnblfom", "a".into())),
                'f' => params.push(mk("f", "f".into())),
                'j' => params.push(mk("asnblom", "j".into())),
                'x' => params.push(mk("asnblfom", "x".into())),
                '-' => {
                    if let Some(p) = params.last_mut() {
                        p.context = true;
                        p.quant = Quant::Optional;
                    }
                }
                '?' => {
                    if let Some(p) = params.last_mut() {
                        p.quant = Quant::Optional;
                    }
                }
                '+' => {
                    if let Some(p) = params.last_mut() {
                        p.quant = Quant::Plus;
                    }
                }
                '(' => {
                    let end = closing(pos, '(', ')');
                    let choice: String = chars[pos + 1..end.min(chars.len())].iter().collect();
                    if choice.contains('<') {
                        let mut e = err_at("S0402", pos, None);
                        e.value = Some(serde_json::Value::String(choice));
                        return Err(e);
                    }
                    params.push(mk(&format!("{choice}m"), format!("({choice})")));
                    pos = end;
                }
                '<' => {
                    let prev_kind = params.last().map(|p| p.kind.clone()).unwrap_or_default();
                    if prev_kind == "a" || prev_kind == "f" {
                        let end = closing(pos, '<', '>');
                        let sub: String = chars[pos + 1..end.min(chars.len())].iter().collect();
                        if let Some(p) = params.last_mut() {
                            p.subtype = Some(sub);
                        }
                        pos = end;
                    } else {
                        let mut e = err_at("S0401", pos, None);
                        e.value = Some(serde_json::Value::String(prev_kind));
                        return Err(e);
                    }
                }
                _ => {}
            }
            pos += 1;
        }
        Ok(Signature { params })
    }

    /// Number of declared parameters (for function arity).
    pub fn arity(&self) -> usize {
        self.params.len()
    }

    /// Greedy backtracking match of the argument symbols against the parameters; returns, per
    /// parameter, the range of symbols it took.
    fn matches(&self, syms: &[char]) -> Option<Vec<(usize, usize)>> {
        fn go(params: &[Param], syms: &[char], at: usize, out: &mut Vec<(usize, usize)>) -> bool {
            let Some(p) = params.first() else {
                return at == syms.len();
            };
            let ok = |i: usize| syms.get(i).is_some_and(|c| p.allowed.contains(*c));
            let max = match p.quant {
                Quant::One => {
                    if !ok(at) {
                        return false;
                    }
                    1
                }
                Quant::Optional => usize::from(ok(at)),
                Quant::Plus => {
                    let mut n = 0;
                    while ok(at + n) {
                        n += 1;
                    }
                    if n == 0 {
                        return false;
                    }
                    n
                }
            };
            let min = if p.quant == Quant::One || p.quant == Quant::Plus {
                1
            } else {
                0
            };
            let mut n = max;
            loop {
                out.push((at, at + n));
                if go(&params[1..], syms, at + n, out) {
                    return true;
                }
                out.pop();
                if n == min {
                    return false;
                }
                n -= 1;
            }
        }
        let mut out = Vec::new();
        if go(&self.params, syms, 0, &mut out) {
            Some(out)
        } else {
            None
        }
    }

    /// Validates (and fixes up) call arguments; `context` fills `-` parameters.
    pub fn validate(
        &self,
        args: Vec<Option<crate::value::Value>>,
        context: Option<&crate::value::Value>,
    ) -> Result<Vec<Option<crate::value::Value>>, Error> {
        use crate::value::Value;
        let syms: Vec<char> = args.iter().map(|a| symbol_of(a.as_ref())).collect();
        let Some(ranges) = self.matches(&syms) else {
            // Find how far the parameters match, to report the first bad argument.
            let mut good = 0;
            for i in 0..self.params.len() {
                let prefix = Signature {
                    params: self.params[..=i].to_vec(),
                };
                let mut found = None;
                for end in (0..=syms.len()).rev() {
                    if prefix.matches(&syms[..end]).is_some() {
                        found = Some(end);
                        break;
                    }
                }
                match found {
                    Some(end) => good = end,
                    None => break,
                }
            }
            let mut e = err_at("T0410", 0, None);
            e.value = args.get(good).cloned().flatten().map(|v| v.to_json_lossy());
            e.message = format!(
                "Argument {} of function does not match function signature",
                good + 1
            );
            return Err(e);
        };
        let mut out = Vec::new();
        let mut arg_index = 0;
        let mut args = args.into_iter();
        for (param, (start, end)) in self.params.iter().zip(ranges) {
            if start == end {
                if param.context {
                    let ctx_sym = symbol_of(context);
                    if param.allowed.contains(ctx_sym) {
                        out.push(context.cloned());
                    } else {
                        let mut e = err_at("T0411", 0, None);
                        e.value = context.map(|v| v.to_json_lossy());
                        e.message = format!(
                            "Context value is not a compatible type with argument {}",
                            arg_index + 1
                        );
                        return Err(e);
                    }
                }
                continue;
            }
            for single in &syms[start..end] {
                let arg = args.next().flatten();
                if param.kind == "a" {
                    if *single == 'm' {
                        out.push(None);
                    } else {
                        let mut ok = true;
                        if let Some(sub) = &param.subtype {
                            if *single != 'a' && single.to_string() != *sub {
                                ok = false;
                            } else if *single == 'a' {
                                if let Some(Value::Array(items)) = &arg {
                                    if let Some(first) = items.items.first() {
                                        let t = symbol_of(Some(first));
                                        if !sub.starts_with(t) {
                                            ok = false;
                                        } else {
                                            ok =
                                                items.items.iter().all(|v| symbol_of(Some(v)) == t);
                                        }
                                    }
                                }
                            }
                        }
                        if !ok {
                            let mut e = err_at("T0412", 0, None);
                            e.value = arg.as_ref().map(|v| v.to_json_lossy());
                            e.message = format!(
                                "Argument {} of function must be an array of {}",
                                arg_index + 1,
                                param.subtype.as_deref().map(type_word).unwrap_or("values")
                            );
                            return Err(e);
                        }
                        match arg {
                            Some(Value::Array(a)) => out.push(Some(Value::Array(a))),
                            Some(v) => out.push(Some(Value::array_from(vec![v]))),
                            None => out.push(None),
                        }
                    }
                } else {
                    out.push(arg);
                }
                arg_index += 1;
            }
        }
        Ok(out)
    }
}

fn type_word(s: &str) -> &'static str {
    match s {
        "s" => "strings",
        "n" => "numbers",
        "b" => "booleans",
        "l" => "nulls",
        "o" => "objects",
        "a" => "arrays",
        "f" => "functions",
        _ => "values",
    }
}
