//! Tokenizer, Pratt parser and AST post-processing, following jsonata-js 2.0.6 (`parser.js`).

use crate::ast::{Group, Kind, LambdaDef, Node, RegexLit, SortTerm, Stage};
use crate::signature::Signature;
use crate::Error;
use std::sync::Arc;

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    End,
    Op(&'static str),
    Name(String),
    Var(String),
    Str(String),
    Num(f64),
    Value(Lit),
    Regex(Arc<RegexLit>),
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Lit {
    Null,
    True,
    False,
}

const OPERATORS2: [&str; 7] = ["..", ":=", "!=", ">=", "<=", "**", "~>"];
const OPERATORS1: &str = ".[]{}(),@#;:?+-*/%|=<>^&!~";

fn op_static(c: char) -> &'static str {
    match c {
        '.' => ".",
        '[' => "[",
        ']' => "]",
        '{' => "{",
        '}' => "}",
        '(' => "(",
        ')' => ")",
        ',' => ",",
        '@' => "@",
        '#' => "#",
        ';' => ";",
        ':' => ":",
        '?' => "?",
        '+' => "+",
        '-' => "-",
        '*' => "*",
        '/' => "/",
        '%' => "%",
        '|' => "|",
        '=' => "=",
        '<' => "<",
        '>' => ">",
        '^' => "^",
        '&' => "&",
        '!' => "!",
        _ => "~",
    }
}

pub(crate) fn err_at(code: &str, pos: usize, token: Option<String>) -> Error {
    let mut e = Error::new(code, crate::errors::message(code, token.as_deref()));
    e.position = Some(pos);
    e.token = token;
    e
}

struct Lexer<'a> {
    src: &'a [char],
    pos: usize,
}

impl Lexer<'_> {
    fn next(&mut self, prefix: bool) -> Result<(Tok, usize), Error> {
        let src = self.src;
        let len = src.len();
        loop {
            while self.pos < len && " \t\n\r\u{b}".contains(src[self.pos]) {
                self.pos += 1;
            }
            if self.pos + 1 < len && src[self.pos] == '/' && src[self.pos + 1] == '*' {
                let start = self.pos;
                self.pos += 2;
                loop {
                    if self.pos + 1 >= len {
                        return Err(err_at("S0106", start, None));
                    }
                    if src[self.pos] == '*' && src[self.pos + 1] == '/' {
                        self.pos += 2;
                        break;
                    }
                    self.pos += 1;
                }
                continue;
            }
            break;
        }
        if self.pos >= len {
            return Ok((Tok::End, self.pos));
        }
        let c = src[self.pos];
        if !prefix && c == '/' {
            self.pos += 1;
            return self.scan_regex();
        }
        if self.pos + 1 < len {
            let two: String = [c, src[self.pos + 1]].iter().collect();
            if let Some(op) = OPERATORS2.iter().find(|o| **o == two) {
                self.pos += 2;
                return Ok((Tok::Op(op), self.pos));
            }
        }
        if OPERATORS1.contains(c) {
            self.pos += 1;
            return Ok((Tok::Op(op_static(c)), self.pos));
        }
        if c == '"' || c == '\'' {
            return self.scan_string(c);
        }
        if c.is_ascii_digit() {
            return self.scan_number();
        }
        if c == '`' {
            let start = self.pos;
            self.pos += 1;
            let mut name = String::new();
            while self.pos < len && src[self.pos] != '`' {
                name.push(src[self.pos]);
                self.pos += 1;
            }
            if self.pos >= len {
                return Err(err_at("S0105", start, None));
            }
            self.pos += 1;
            return Ok((Tok::Name(name), self.pos));
        }
        let start = self.pos;
        let mut i = self.pos;
        while i < len && !" \t\n\r\u{b}".contains(src[i]) && !OPERATORS1.contains(src[i]) {
            i += 1;
        }
        self.pos = i;
        if src[start] == '$' {
            let name: String = src[start + 1..i].iter().collect();
            return Ok((Tok::Var(name), i));
        }
        let name: String = src[start..i].iter().collect();
        let tok = match name.as_str() {
            "and" => Tok::Op("and"),
            "or" => Tok::Op("or"),
            "in" => Tok::Op("in"),
            "true" => Tok::Value(Lit::True),
            "false" => Tok::Value(Lit::False),
            "null" => Tok::Value(Lit::Null),
            "" => return Err(err_at("S0204", start, Some(src[start].to_string()))),
            _ => Tok::Name(name),
        };
        Ok((tok, i))
    }

    fn scan_number(&mut self) -> Result<(Tok, usize), Error> {
        let src = self.src;
        let start = self.pos;
        let mut i = self.pos;
        let digits = |i: &mut usize| {
            let s = *i;
            while *i < src.len() && src[*i].is_ascii_digit() {
                *i += 1;
            }
            *i > s
        };
        if src[i] == '0' {
            i += 1;
        } else {
            digits(&mut i);
        }
        if i + 1 < src.len() && src[i] == '.' && src[i + 1].is_ascii_digit() {
            i += 1;
            digits(&mut i);
        }
        if i < src.len() && (src[i] == 'e' || src[i] == 'E') {
            let mut j = i + 1;
            if j < src.len() && (src[j] == '+' || src[j] == '-') {
                j += 1;
            }
            if digits(&mut j) {
                i = j;
            }
        }
        let text: String = src[start..i].iter().collect();
        self.pos = i;
        match text.parse::<f64>() {
            Ok(n) if n.is_finite() => Ok((Tok::Num(n), i)),
            _ => Err(err_at("S0102", start, Some(text))),
        }
    }

    fn scan_string(&mut self, quote: char) -> Result<(Tok, usize), Error> {
        let src = self.src;
        let start = self.pos;
        self.pos += 1;
        let mut units: Vec<u16> = Vec::new();
        let mut out = String::new();
        let flush = |units: &mut Vec<u16>, out: &mut String| {
            if !units.is_empty() {
                out.push_str(&String::from_utf16_lossy(units));
                units.clear();
            }
        };
        while self.pos < src.len() {
            let c = src[self.pos];
            if c == '\\' {
                self.pos += 1;
                let Some(&e) = src.get(self.pos) else { break };
                let simple = match e {
                    '"' => Some('"'),
                    '\\' => Some('\\'),
                    '/' => Some('/'),
                    'b' => Some('\u{8}'),
                    'f' => Some('\u{c}'),
                    'n' => Some('\n'),
                    'r' => Some('\r'),
                    't' => Some('\t'),
                    _ => None,
                };
                if let Some(s) = simple {
                    flush(&mut units, &mut out);
                    out.push(s);
                } else if e == 'u' {
                    let hex: String = src.iter().skip(self.pos + 1).take(4).collect();
                    if hex.len() == 4 && hex.chars().all(|h| h.is_ascii_hexdigit()) {
                        let unit = u16::from_str_radix(&hex, 16).unwrap_or(0xFFFD);
                        units.push(unit);
                        self.pos += 4;
                    } else {
                        return Err(err_at("S0104", self.pos, None));
                    }
                } else {
                    return Err(err_at("S0103", self.pos, Some(e.to_string())));
                }
            } else if c == quote {
                flush(&mut units, &mut out);
                self.pos += 1;
                return Ok((Tok::Str(out), self.pos));
            } else {
                flush(&mut units, &mut out);
                out.push(c);
            }
            self.pos += 1;
        }
        Err(err_at("S0101", start, None))
    }

    fn scan_regex(&mut self) -> Result<(Tok, usize), Error> {
        let src = self.src;
        let start = self.pos;
        let mut depth: i32 = 0;
        while self.pos < src.len() {
            let c = src[self.pos];
            if c == '/' && depth == 0 {
                let mut backslashes = 0;
                while self.pos > backslashes && src[self.pos - backslashes - 1] == '\\' {
                    backslashes += 1;
                }
                if backslashes % 2 == 0 {
                    let pattern: String = src[start..self.pos].iter().collect();
                    if pattern.is_empty() {
                        return Err(err_at("S0301", self.pos, None));
                    }
                    self.pos += 1;
                    let mut flags = String::new();
                    while self.pos < src.len() && (src[self.pos] == 'i' || src[self.pos] == 'm') {
                        flags.push(src[self.pos]);
                        self.pos += 1;
                    }
                    let lit = RegexLit::new(&pattern, &flags).map_err(|m| {
                        let mut e = err_at("S0303", start, Some(pattern.clone()));
                        e.message = m;
                        e
                    })?;
                    return Ok((Tok::Regex(Arc::new(lit)), self.pos));
                }
            }
            let prev_escape = self.pos > 0 && src[self.pos - 1] == '\\';
            if "([{".contains(c) && !prev_escape {
                depth += 1;
            }
            if ")]}".contains(c) && !prev_escape {
                depth -= 1;
            }
            self.pos += 1;
        }
        Err(err_at("S0302", start, None))
    }
}

/// The unprocessed parse tree (jsonata's parser output before `processAST`).
#[derive(Debug, Clone)]
enum Raw {
    Name(String),
    Str(String),
    Num(f64),
    Value(Lit),
    Regex(Arc<RegexLit>),
    Var(String),
    Wildcard,
    Descendant,
    Parent,
    /// An operator token used as a terminal (`and`/`or`/`in` as names, `?` placeholder).
    Op(&'static str),
    Binary(&'static str, Box<RawNode>, Box<RawNode>),
    Predicate(Box<RawNode>, Box<RawNode>),
    GroupBy(Box<RawNode>, Vec<(RawNode, RawNode)>),
    OrderBy(Box<RawNode>, Vec<(bool, RawNode)>),
    Focus(Box<RawNode>, Box<RawNode>),
    IndexBind(Box<RawNode>, Box<RawNode>),
    Bind(Box<RawNode>, Box<RawNode>),
    Apply(Box<RawNode>, Box<RawNode>),
    Negate(Box<RawNode>),
    ArrayCons(Vec<RawNode>),
    ObjectCons(Vec<(RawNode, RawNode)>),
    Block(Vec<RawNode>),
    Condition(Box<RawNode>, Box<RawNode>, Option<Box<RawNode>>),
    Call(Box<RawNode>, Vec<RawNode>, bool),
    Lambda(Vec<String>, Option<Signature>, Box<RawNode>),
    Transform(Box<RawNode>, Box<RawNode>, Option<Box<RawNode>>),
}

#[derive(Debug, Clone)]
struct RawNode {
    raw: Raw,
    pos: usize,
    keep_array: bool,
}

fn raw(raw: Raw, pos: usize) -> RawNode {
    RawNode {
        raw,
        pos,
        keep_array: false,
    }
}

fn lbp(tok: &Tok) -> u32 {
    match tok {
        Tok::Op(op) => match *op {
            "." => 75,
            "[" | "(" | "@" | "#" => 80,
            "{" => 70,
            "?" => 20,
            "+" | "-" | "&" => 50,
            "*" | "/" | "%" => 60,
            "=" | "<" | ">" | "^" | "!=" | "<=" | ">=" | "~>" | "in" => 40,
            ":=" => 10,
            "and" => 30,
            "or" => 25,
            _ => 0,
        },
        _ => 0,
    }
}

struct Parser<'a> {
    lexer: Lexer<'a>,
    tok: Tok,
    tok_pos: usize,
    depth: usize,
}

/// Deepest expression nesting accepted (jsonata-js runs out of JS stack well before this
/// matters; here it bounds parser recursion and AST drop depth).
const MAX_NESTING: usize = 1_000;

fn tok_text(t: &Tok) -> String {
    match t {
        Tok::End => "(end)".into(),
        Tok::Op(o) => o.to_string(),
        Tok::Name(n) => n.clone(),
        Tok::Var(v) => format!("${v}"),
        Tok::Str(s) => s.clone(),
        Tok::Num(n) => n.to_string(),
        Tok::Value(l) => match l {
            Lit::Null => "null".into(),
            Lit::True => "true".into(),
            Lit::False => "false".into(),
        },
        Tok::Regex(r) => r.source.clone(),
    }
}

impl Parser<'_> {
    fn advance(&mut self, prefix: bool) -> Result<(), Error> {
        let (tok, pos) = self.lexer.next(prefix)?;
        if let Tok::Op(op) = tok {
            if matches!(op, "!" | "~") {
                return Err(err_at("S0204", pos, Some(op.to_string())));
            }
        }
        self.tok = tok;
        self.tok_pos = pos;
        Ok(())
    }

    fn expect(&mut self, op: &str, prefix: bool) -> Result<(), Error> {
        if self.tok != Tok::Op(op_static_str(op)) {
            let code = if self.tok == Tok::End {
                "S0203"
            } else {
                "S0202"
            };
            let mut e = err_at(code, self.tok_pos, Some(tok_text(&self.tok)));
            e.value = Some(serde_json::Value::String(op.to_string()));
            e.message = format!("Expected \"{op}\", got \"{}\"", tok_text(&self.tok));
            return Err(e);
        }
        self.advance(prefix)
    }

    fn is(&self, op: &str) -> bool {
        matches!(&self.tok, Tok::Op(o) if *o == op)
    }

    fn expression(&mut self, rbp: u32) -> Result<RawNode, Error> {
        self.depth += 1;
        if self.depth > MAX_NESTING {
            let mut e = err_at("U1001", self.tok_pos, None);
            e.message = format!("Expression nested deeper than {MAX_NESTING} levels");
            return Err(e);
        }
        let r = stacker::maybe_grow(64 * 1024, 1024 * 1024, || self.expression_inner(rbp));
        self.depth -= 1;
        r
    }

    fn expression_inner(&mut self, rbp: u32) -> Result<RawNode, Error> {
        let t = self.tok.clone();
        let pos = self.tok_pos;
        self.advance(true)?;
        let mut left = self.nud(t, pos)?;
        while rbp < lbp(&self.tok) {
            let t = self.tok.clone();
            let pos = self.tok_pos;
            self.advance(false)?;
            left = self.led(t, pos, left)?;
        }
        Ok(left)
    }

    fn nud(&mut self, t: Tok, pos: usize) -> Result<RawNode, Error> {
        Ok(match t {
            Tok::End => return Err(err_at("S0207", pos, None)),
            Tok::Name(n) => raw(Raw::Name(n), pos),
            Tok::Var(v) => raw(Raw::Var(v), pos),
            Tok::Str(s) => raw(Raw::Str(s), pos),
            Tok::Num(n) => raw(Raw::Num(n), pos),
            Tok::Value(l) => raw(Raw::Value(l), pos),
            Tok::Regex(r) => raw(Raw::Regex(r), pos),
            Tok::Op(op) => match op {
                "and" | "or" | "in" | "?" => raw(Raw::Op(op), pos),
                "*" => raw(Raw::Wildcard, pos),
                "**" => raw(Raw::Descendant, pos),
                "%" => raw(Raw::Parent, pos),
                "-" => {
                    let e = self.expression(70)?;
                    raw(Raw::Negate(Box::new(e)), pos)
                }
                "[" => {
                    let mut items = Vec::new();
                    if !self.is("]") {
                        loop {
                            let mut item = self.expression(0)?;
                            if self.is("..") {
                                let rpos = self.tok_pos;
                                self.advance(false)?;
                                let rhs = self.expression(0)?;
                                item = raw(Raw::Binary("..", Box::new(item), Box::new(rhs)), rpos);
                            }
                            items.push(item);
                            if !self.is(",") {
                                break;
                            }
                            self.advance(false)?;
                        }
                    }
                    self.expect("]", true)?;
                    raw(Raw::ArrayCons(items), pos)
                }
                "{" => {
                    let pairs = self.object_pairs()?;
                    raw(Raw::ObjectCons(pairs), pos)
                }
                "(" => {
                    let mut exprs = Vec::new();
                    while !self.is(")") {
                        exprs.push(self.expression(0)?);
                        if !self.is(";") {
                            break;
                        }
                        self.advance(false)?;
                    }
                    self.expect(")", true)?;
                    raw(Raw::Block(exprs), pos)
                }
                "|" => {
                    let pattern = self.expression(0)?;
                    self.expect("|", false)?;
                    let update = self.expression(0)?;
                    let delete = if self.is(",") {
                        self.advance(false)?;
                        Some(Box::new(self.expression(0)?))
                    } else {
                        None
                    };
                    self.expect("|", false)?;
                    raw(
                        Raw::Transform(Box::new(pattern), Box::new(update), delete),
                        pos,
                    )
                }
                _ => return Err(err_at("S0211", pos, Some(op.to_string()))),
            },
        })
    }

    fn object_pairs(&mut self) -> Result<Vec<(RawNode, RawNode)>, Error> {
        let mut pairs = Vec::new();
        if !self.is("}") {
            loop {
                let k = self.expression(0)?;
                self.expect(":", false)?;
                let v = self.expression(0)?;
                pairs.push((k, v));
                if !self.is(",") {
                    break;
                }
                self.advance(false)?;
            }
        }
        self.expect("}", true)?;
        Ok(pairs)
    }

    fn led(&mut self, t: Tok, pos: usize, left: RawNode) -> Result<RawNode, Error> {
        let Tok::Op(op) = t else {
            return Err(err_at("S0201", pos, Some(tok_text(&t))));
        };
        let bx = Box::new;
        Ok(match op {
            "(" => {
                let mut args = Vec::new();
                let mut partial = false;
                if !self.is(")") {
                    loop {
                        if self.is("?") {
                            partial = true;
                            args.push(raw(Raw::Op("?"), self.tok_pos));
                            self.advance(false)?;
                        } else {
                            args.push(self.expression(0)?);
                        }
                        if !self.is(",") {
                            break;
                        }
                        self.advance(false)?;
                    }
                }
                self.expect(")", true)?;
                if let Raw::Name(n) = &left.raw {
                    if n == "function" || n == "\u{3bb}" {
                        let mut params = Vec::new();
                        for (i, a) in args.iter().enumerate() {
                            match &a.raw {
                                Raw::Var(v) => params.push(v.clone()),
                                _ => {
                                    let mut e = err_at("S0208", a.pos, None);
                                    e.value = Some(serde_json::Value::from(i + 1));
                                    return Err(e);
                                }
                            }
                        }
                        let mut signature = None;
                        if self.is("<") {
                            // Scan the signature text directly up to its matching '>'.
                            let src = self.lexer.src;
                            let start = self.tok_pos - 1;
                            let mut i = start;
                            let mut depth = 0;
                            let mut text = String::new();
                            while i < src.len() {
                                let c = src[i];
                                text.push(c);
                                if c == '<' {
                                    depth += 1;
                                } else if c == '>' {
                                    depth -= 1;
                                    if depth == 0 {
                                        break;
                                    }
                                } else if c == '{' {
                                    break;
                                }
                                i += 1;
                            }
                            if depth != 0 {
                                return Err(err_at("S0401", start, None));
                            }
                            let text: String =
                                text.chars().filter(|c| !c.is_whitespace()).collect();
                            signature = Some(Signature::parse(&text).map_err(|mut e| {
                                e.position = Some(start);
                                e
                            })?);
                            self.lexer.pos = i + 1;
                            self.advance(false)?;
                        }
                        self.expect("{", false)?;
                        let body = self.expression(0)?;
                        self.expect("}", true)?;
                        return Ok(raw(Raw::Lambda(params, signature, bx(body)), pos));
                    }
                }
                raw(Raw::Call(bx(left), args, partial), pos)
            }
            "[" => {
                if self.is("]") {
                    let mut left = left;
                    mark_keep_array(&mut left);
                    self.advance(true)?;
                    left
                } else {
                    let rhs = self.expression(0)?;
                    self.expect("]", true)?;
                    raw(Raw::Predicate(bx(left), bx(rhs)), pos)
                }
            }
            "^" => {
                self.expect("(", false)?;
                let mut terms = Vec::new();
                loop {
                    let mut desc = false;
                    if self.is("<") {
                        self.advance(false)?;
                    } else if self.is(">") {
                        desc = true;
                        self.advance(false)?;
                    }
                    terms.push((desc, self.expression(0)?));
                    if !self.is(",") {
                        break;
                    }
                    self.advance(false)?;
                }
                self.expect(")", true)?;
                raw(Raw::OrderBy(bx(left), terms), pos)
            }
            "{" => {
                let pairs = self.object_pairs()?;
                raw(Raw::GroupBy(bx(left), pairs), pos)
            }
            ":=" => {
                if !matches!(left.raw, Raw::Var(_)) {
                    return Err(err_at("S0212", left.pos, None));
                }
                let rhs = self.expression(9)?;
                raw(Raw::Bind(bx(left), bx(rhs)), pos)
            }
            "@" | "#" => {
                let rhs = self.expression(80)?;
                if !matches!(rhs.raw, Raw::Var(_)) {
                    return Err(err_at("S0214", rhs.pos, Some(op.to_string())));
                }
                if op == "@" {
                    raw(Raw::Focus(bx(left), bx(rhs)), pos)
                } else {
                    raw(Raw::IndexBind(bx(left), bx(rhs)), pos)
                }
            }
            "?" => {
                let then = self.expression(0)?;
                let otherwise = if self.is(":") {
                    self.advance(false)?;
                    Some(bx(self.expression(0)?))
                } else {
                    None
                };
                raw(Raw::Condition(bx(left), bx(then), otherwise), pos)
            }
            "~>" => {
                let rhs = self.expression(40)?;
                raw(Raw::Apply(bx(left), bx(rhs)), pos)
            }
            _ => {
                let rhs = self.expression(lbp(&Tok::Op(op)))?;
                raw(Raw::Binary(op, bx(left), bx(rhs)), pos)
            }
        })
    }
}

fn op_static_str(op: &str) -> &'static str {
    const ALL: [&str; 10] = ["]", ")", "}", ":", "(", "{", "|", ">", "..", ","];
    ALL.iter().find(|o| **o == op).copied().unwrap_or("")
}

fn mark_keep_array(node: &mut RawNode) {
    match &mut node.raw {
        Raw::Predicate(lhs, _) => mark_keep_array(lhs),
        _ => node.keep_array = true,
    }
}

/// Parses JSONata source into the processed AST.
pub(crate) fn parse(source: &str) -> Result<(Node, usize), Error> {
    let chars: Vec<char> = source.chars().collect();
    let mut p = Parser {
        lexer: Lexer {
            src: &chars,
            pos: 0,
        },
        tok: Tok::End,
        tok_pos: 0,
        depth: 0,
    };
    p.advance(false)?;
    let tree = p.expression(0)?;
    if p.tok != Tok::End {
        return Err(err_at("S0201", p.tok_pos, Some(tok_text(&p.tok))));
    }
    let mut proc = Processor { slots: Vec::new() };
    let mut node = proc.process(tree)?;
    let unresolved = node.seeking_parent.iter().any(|s| proc.slots[*s].level > 0);
    if matches!(node.kind, Kind::Parent(_)) || unresolved {
        return Err(err_at(
            "S0217",
            node.pos,
            Some(node.kind.type_name().into()),
        ));
    }
    proc.finalize(&mut node);
    Ok((node, proc.slots.len()))
}

#[derive(Debug, Clone)]
struct Slot {
    label: usize,
    level: i32,
}

struct Processor {
    slots: Vec<Slot>,
}

fn new_node(kind: Kind, pos: usize) -> Node {
    Node::new(kind, pos)
}

impl Processor {
    fn process(&mut self, r: RawNode) -> Result<Node, Error> {
        stacker::maybe_grow(64 * 1024, 1024 * 1024, || self.process_inner(r))
    }

    fn process_inner(&mut self, r: RawNode) -> Result<Node, Error> {
        let pos = r.pos;
        let keep = r.keep_array;
        let mut result = match r.raw {
            Raw::Binary(".", lhs, rhs) => {
                let lstep = self.process(*lhs)?;
                let mut result = if matches!(lstep.kind, Kind::Path(_)) {
                    lstep
                } else {
                    let is_parent = matches!(lstep.kind, Kind::Parent(_));
                    let slot = if let Kind::Parent(s) = lstep.kind {
                        Some(s)
                    } else {
                        None
                    };
                    let mut p = new_node(Kind::Path(vec![lstep]), pos);
                    if is_parent {
                        p.seeking_parent = slot.into_iter().collect();
                    }
                    p
                };
                let mut rest = self.process(*rhs)?;
                let Kind::Path(steps) = &mut result.kind else {
                    return Err(err_at("S0201", pos, None));
                };
                if let Kind::Path(rsteps) = rest.kind {
                    steps.extend(rsteps);
                } else {
                    if !rest.predicate.is_empty() {
                        rest.stages = std::mem::take(&mut rest.predicate);
                    }
                    steps.push(rest);
                }
                for step in steps.iter_mut() {
                    match &step.kind {
                        Kind::Number(_) | Kind::Value(_) => {
                            return Err(err_at("S0213", step.pos, None));
                        }
                        Kind::String(s) => step.kind = Kind::Name(s.clone()),
                        _ => {}
                    }
                }
                if steps.iter().any(|s| s.keep_array) {
                    result.keep_singleton_array = true;
                }
                if let Kind::Path(steps) = &mut result.kind {
                    if let Some(first) = steps.first_mut() {
                        if matches!(first.kind, Kind::ArrayCons(_)) {
                            first.consarray = true;
                        }
                    }
                    if let Some(last) = steps.last_mut() {
                        if matches!(last.kind, Kind::ArrayCons(_)) {
                            last.consarray = true;
                        }
                    }
                }
                self.resolve_ancestry(&mut result)?;
                result
            }
            Raw::Predicate(lhs, rhs) => {
                let mut result = self.process(*lhs)?;
                let is_path = matches!(result.kind, Kind::Path(_));
                let mut predicate = self.process(*rhs)?;
                {
                    let step: &mut Node = if let Kind::Path(steps) = &mut result.kind {
                        match steps.last_mut() {
                            Some(s) => s,
                            None => return Err(err_at("S0201", pos, None)),
                        }
                    } else {
                        &mut result
                    };
                    if step.group.is_some() {
                        return Err(err_at("S0209", pos, None));
                    }
                    if !predicate.seeking_parent.is_empty() {
                        let slots = predicate.seeking_parent.clone();
                        for s in slots {
                            if self.slots[s].level == 1 {
                                self.seek_parent(step, s)?;
                            } else {
                                self.slots[s].level -= 1;
                            }
                        }
                        push_ancestry(step, &predicate);
                        predicate.seeking_parent.clear();
                        // keep the predicate's own list for nested resolution
                    }
                    let stage = Stage::Filter(predicate);
                    if is_path {
                        step.stages.push(stage);
                    } else {
                        step.predicate.push(stage);
                    }
                }
                result
            }
            Raw::GroupBy(lhs, pairs) => {
                let mut result = self.process(*lhs)?;
                if result.group.is_some() {
                    return Err(err_at("S0210", pos, None));
                }
                let mut ps = Vec::new();
                for (k, v) in pairs {
                    ps.push((self.process(k)?, self.process(v)?));
                }
                result.group = Some(Box::new(Group { pairs: ps, pos }));
                result
            }
            Raw::OrderBy(lhs, terms) => {
                let mut result = self.process(*lhs)?;
                if !matches!(result.kind, Kind::Path(_)) {
                    result = new_node(Kind::Path(vec![result]), pos);
                }
                let mut sort_step = new_node(Kind::Sort(Vec::new()), pos);
                let mut ts = Vec::new();
                for (desc, e) in terms {
                    let expr = self.process(e)?;
                    push_ancestry(&mut sort_step, &expr);
                    ts.push(SortTerm {
                        descending: desc,
                        expr,
                    });
                }
                sort_step.kind = Kind::Sort(ts);
                if let Kind::Path(steps) = &mut result.kind {
                    steps.push(sort_step);
                }
                self.resolve_ancestry(&mut result)?;
                result
            }
            Raw::Bind(lhs, rhs) => {
                let name = match lhs.raw {
                    Raw::Var(v) => v,
                    _ => return Err(err_at("S0212", pos, None)),
                };
                let rhs = self.process(*rhs)?;
                let mut n = new_node(Kind::Bind(name, Box::new(Node::placeholder(pos))), pos);
                push_ancestry(&mut n, &rhs);
                n.kind = match n.kind {
                    Kind::Bind(name, _) => Kind::Bind(name, Box::new(rhs)),
                    k => k,
                };
                n
            }
            Raw::Focus(lhs, rhs) => {
                let var = match rhs.raw {
                    Raw::Var(v) => v,
                    _ => return Err(err_at("S0214", pos, Some("@".into()))),
                };
                let mut result = self.process(*lhs)?;
                {
                    let step: &mut Node = if let Kind::Path(steps) = &mut result.kind {
                        match steps.last_mut() {
                            Some(s) => s,
                            None => return Err(err_at("S0201", pos, None)),
                        }
                    } else {
                        &mut result
                    };
                    if !step.stages.is_empty() || !step.predicate.is_empty() {
                        return Err(err_at("S0215", pos, None));
                    }
                    if matches!(step.kind, Kind::Sort(_)) {
                        return Err(err_at("S0216", pos, None));
                    }
                    if keep {
                        step.keep_array = true;
                    }
                    step.focus = Some(var);
                    step.tuple = true;
                }
                result
            }
            Raw::IndexBind(lhs, rhs) => {
                let var = match rhs.raw {
                    Raw::Var(v) => v,
                    _ => return Err(err_at("S0214", pos, Some("#".into()))),
                };
                let mut result = self.process(*lhs)?;
                if !matches!(result.kind, Kind::Path(_)) {
                    if !result.predicate.is_empty() {
                        result.stages = std::mem::take(&mut result.predicate);
                    }
                    result = new_node(Kind::Path(vec![result]), pos);
                }
                if let Kind::Path(steps) = &mut result.kind {
                    if let Some(step) = steps.last_mut() {
                        if step.stages.is_empty() {
                            step.index = Some(var);
                        } else {
                            step.stages.push(Stage::Index(var));
                        }
                        step.tuple = true;
                    }
                }
                result
            }
            Raw::Apply(lhs, rhs) => {
                let l = self.process(*lhs)?;
                let r = self.process(*rhs)?;
                let ka = l.keep_array || r.keep_array;
                let mut n = new_node(Kind::Apply(Box::new(l), Box::new(r)), pos);
                n.keep_array = ka;
                n
            }
            Raw::Binary(op, lhs, rhs) => {
                let l = self.process(*lhs)?;
                let r = self.process(*rhs)?;
                let mut n = new_node(Kind::Placeholder, pos);
                push_ancestry(&mut n, &l);
                push_ancestry(&mut n, &r);
                n.kind = Kind::Binary(op, Box::new(l), Box::new(r));
                n
            }
            Raw::ArrayCons(items) => {
                let mut n = new_node(Kind::Placeholder, pos);
                let mut v = Vec::new();
                for it in items {
                    let e = self.process(it)?;
                    push_ancestry(&mut n, &e);
                    v.push(e);
                }
                n.kind = Kind::ArrayCons(v);
                n
            }
            Raw::ObjectCons(pairs) => {
                let mut n = new_node(Kind::Placeholder, pos);
                let mut v = Vec::new();
                for (k, val) in pairs {
                    let k = self.process(k)?;
                    push_ancestry(&mut n, &k);
                    let val = self.process(val)?;
                    push_ancestry(&mut n, &val);
                    v.push((k, val));
                }
                n.kind = Kind::ObjectCons(v);
                n
            }
            Raw::Negate(e) => {
                let e = self.process(*e)?;
                if let Kind::Number(x) = e.kind {
                    let mut e = e;
                    e.kind = Kind::Number(-x);
                    e
                } else {
                    let mut n = new_node(Kind::Placeholder, pos);
                    push_ancestry(&mut n, &e);
                    n.kind = Kind::Negate(Box::new(e));
                    n
                }
            }
            Raw::Call(proc, args, partial) => {
                let mut n = new_node(Kind::Placeholder, pos);
                let mut v = Vec::new();
                for a in args {
                    let a = self.process(a)?;
                    push_ancestry(&mut n, &a);
                    v.push(a);
                }
                let procedure = self.process(*proc)?;
                n.kind = Kind::Call {
                    procedure: Box::new(procedure),
                    args: v,
                    partial,
                };
                n
            }
            Raw::Lambda(params, signature, body) => {
                let body = self.process(*body)?;
                let body = tail_call_optimize(body);
                new_node(
                    Kind::Lambda(Arc::new(LambdaDef {
                        params,
                        signature,
                        body,
                        thunk: false,
                    })),
                    pos,
                )
            }
            Raw::Condition(c, t, e) => {
                let mut n = new_node(Kind::Placeholder, pos);
                let c = self.process(*c)?;
                push_ancestry(&mut n, &c);
                let t = self.process(*t)?;
                push_ancestry(&mut n, &t);
                let e = match e {
                    Some(e) => {
                        let e = self.process(*e)?;
                        push_ancestry(&mut n, &e);
                        Some(Box::new(e))
                    }
                    None => None,
                };
                n.kind = Kind::Condition(Box::new(c), Box::new(t), e);
                n
            }
            Raw::Transform(p, u, d) => {
                let p = self.process(*p)?;
                let u = self.process(*u)?;
                let d = match d {
                    Some(d) => Some(self.process(*d)?),
                    None => None,
                };
                new_node(
                    Kind::Transform(Arc::new(crate::ast::TransformDef {
                        pattern: p,
                        update: u,
                        delete: d,
                    })),
                    pos,
                )
            }
            Raw::Block(items) => {
                let mut n = new_node(Kind::Placeholder, pos);
                let mut v = Vec::new();
                for it in items {
                    let e = self.process(it)?;
                    push_ancestry(&mut n, &e);
                    let cons = e.consarray
                        || matches!(&e.kind, Kind::Path(s) if s.first().is_some_and(|f| f.consarray));
                    if cons {
                        n.consarray = true;
                    }
                    v.push(e);
                }
                n.kind = Kind::Block(v);
                n
            }
            Raw::Name(name) => {
                let mut step = new_node(Kind::Name(name), pos);
                step.keep_array = keep;
                let mut p = new_node(Kind::Path(vec![step]), pos);
                if keep {
                    p.keep_singleton_array = true;
                }
                p
            }
            Raw::Parent => {
                let id = self.slots.len();
                self.slots.push(Slot {
                    label: id,
                    level: 1,
                });
                new_node(Kind::Parent(id), pos)
            }
            Raw::Str(s) => new_node(Kind::String(s), pos),
            Raw::Num(n) => new_node(Kind::Number(n), pos),
            Raw::Value(l) => new_node(Kind::Value(l), pos),
            Raw::Regex(r) => new_node(Kind::Regex(r), pos),
            Raw::Var(v) => new_node(Kind::Variable(v), pos),
            Raw::Wildcard => new_node(Kind::Wildcard, pos),
            Raw::Descendant => new_node(Kind::Descendant, pos),
            Raw::Op(op) => match op {
                "and" | "or" | "in" => {
                    let mut step = new_node(Kind::Name(op.to_string()), pos);
                    step.keep_array = keep;
                    let mut p = new_node(Kind::Path(vec![step]), pos);
                    p.keep_singleton_array = keep;
                    p
                }
                "?" => new_node(Kind::Placeholder, pos),
                _ => return Err(err_at("S0201", pos, Some(op.to_string()))),
            },
        };
        if keep {
            result.keep_array = true;
        }
        Ok(result)
    }

    fn seek_parent(&mut self, node: &mut Node, slot: usize) -> Result<(), Error> {
        match &mut node.kind {
            Kind::Name(_) | Kind::Wildcard => {
                self.slots[slot].level -= 1;
                if self.slots[slot].level == 0 {
                    if let Some(existing) = node.ancestor {
                        // Reuse the existing label.
                        self.slots[slot].label = self.slots[existing].label;
                    }
                    node.ancestor = Some(slot);
                    node.tuple = true;
                }
            }
            Kind::Parent(_) => {
                self.slots[slot].level += 1;
            }
            Kind::Block(exprs) => {
                if let Some(last) = exprs.last_mut() {
                    self.seek_parent(last, slot)?;
                    node.tuple = true;
                }
            }
            Kind::Path(steps) => {
                let mut index = steps.len();
                if index > 0 {
                    index -= 1;
                    self.seek_parent(&mut steps[index], slot)?;
                    while self.slots[slot].level > 0 && index > 0 {
                        index -= 1;
                        self.seek_parent(&mut steps[index], slot)?;
                    }
                }
                node.tuple = true;
            }
            _ => {
                return Err(err_at(
                    "S0217",
                    node.pos,
                    Some(node.kind.type_name().into()),
                ));
            }
        }
        Ok(())
    }

    fn resolve_ancestry(&mut self, path: &mut Node) -> Result<(), Error> {
        let Kind::Path(steps) = &mut path.kind else {
            return Ok(());
        };
        let Some(last) = steps.last() else {
            return Ok(());
        };
        let mut slots = last.seeking_parent.clone();
        if let Kind::Parent(s) = last.kind {
            slots.push(s);
        }
        let n = steps.len();
        let mut unresolved = Vec::new();
        for slot in slots {
            let mut index = n as isize - 2;
            while self.slots[slot].level > 0 {
                if index < 0 {
                    unresolved.push(slot);
                    break;
                }
                let mut i = index as usize;
                index -= 1;
                while index >= 0
                    && steps[i].focus.is_some()
                    && steps[index as usize].focus.is_some()
                {
                    i = index as usize;
                    index -= 1;
                }
                self.seek_parent(&mut steps[i], slot)?;
            }
        }
        path.seeking_parent.extend(unresolved);
        Ok(())
    }

    /// Replaces slot ids by their final labels.
    fn finalize(&self, node: &mut Node) {
        let label = |s: usize| self.slots.get(s).map(|x| x.label).unwrap_or(s);
        node.visit_mut(&mut |n: &mut Node| {
            if let Some(a) = n.ancestor {
                n.ancestor = Some(label(a));
            }
            if let Kind::Parent(s) = n.kind {
                n.kind = Kind::Parent(label(s));
            }
        });
    }
}

fn push_ancestry(result: &mut Node, value: &Node) {
    result
        .seeking_parent
        .extend(value.seeking_parent.iter().copied());
    if let Kind::Parent(s) = value.kind {
        result.seeking_parent.push(s);
    }
}

fn tail_call_optimize(mut expr: Node) -> Node {
    match &mut expr.kind {
        Kind::Call { partial: false, .. } if expr.predicate.is_empty() => {
            let pos = expr.pos;
            Node::new(
                Kind::Lambda(Arc::new(LambdaDef {
                    params: Vec::new(),
                    signature: None,
                    body: expr,
                    thunk: true,
                })),
                pos,
            )
        }
        Kind::Condition(_, t, e) => {
            let tt = std::mem::replace(t.as_mut(), Node::placeholder(0));
            **t = tail_call_optimize(tt);
            if let Some(e) = e {
                let ee = std::mem::replace(e.as_mut(), Node::placeholder(0));
                **e = tail_call_optimize(ee);
            }
            expr
        }
        Kind::Block(items) => {
            if let Some(last) = items.pop() {
                items.push(tail_call_optimize(last));
            }
            expr
        }
        _ => expr,
    }
}
