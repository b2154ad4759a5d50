//! The processed AST (jsonata's `processAST` output).

use crate::parser::Lit;
use crate::signature::Signature;
use std::sync::Arc;

#[derive(Debug)]
pub(crate) struct RegexLit {
    pub source: String,
    pub regex: regex::Regex,
}

impl PartialEq for RegexLit {
    fn eq(&self, other: &Self) -> bool {
        self.source == other.source
    }
}

impl RegexLit {
    /// Compiles a JS-flavoured pattern with the `regex` crate (no look-around or back-references).
    pub fn new(pattern: &str, flags: &str) -> Result<Self, String> {
        let translated = translate_js_regex(pattern);
        let mut prefix = String::new();
        if flags.contains('i') || flags.contains('m') {
            prefix.push_str("(?");
            if flags.contains('i') {
                prefix.push('i');
            }
            if flags.contains('m') {
                prefix.push('m');
            }
            prefix.push(')');
        }
        let regex = regex::Regex::new(&format!("{prefix}{translated}"))
            .map_err(|e| format!("unsupported regular expression /{pattern}/: {e}"))?;
        Ok(RegexLit {
            source: pattern.to_string(),
            regex,
        })
    }
}

/// Maps JS regex syntax the `regex` crate spells differently.
fn translate_js_regex(p: &str) -> String {
    let mut out = String::with_capacity(p.len());
    let chars: Vec<char> = p.chars().collect();
    let mut i = 0;
    let mut in_class = false;
    while i < chars.len() {
        let c = chars[i];
        if c == '\\' && i + 1 < chars.len() {
            let n = chars[i + 1];
            match n {
                // JS allows escaping any punctuation; the regex crate only meta characters.
                '/' | '\'' | '"' | '`' | '@' | '%' | ',' | ';' | ':' | '=' | '!' | '<' | '>'
                | '_' => out.push(n),
                // JS \d, \w and \b are ASCII; the regex crate's are Unicode.
                'd' if !in_class => out.push_str("[0-9]"),
                'd' => out.push_str("0-9"),
                'w' if !in_class => out.push_str("[0-9A-Za-z_]"),
                'w' => out.push_str("0-9A-Za-z_"),
                'W' if !in_class => out.push_str("[^0-9A-Za-z_]"),
                'b' if !in_class => out.push_str("(?-u:\\b)"),
                'B' if !in_class => out.push_str("(?-u:\\B)"),
                'u' if chars.len() >= i + 6
                    && chars[i + 2..i + 6].iter().all(|h| h.is_ascii_hexdigit()) =>
                {
                    let hex: String = chars[i + 2..i + 6].iter().collect();
                    out.push_str(&format!("\\x{{{hex}}}"));
                    i += 6;
                    continue;
                }
                _ => {
                    out.push(c);
                    out.push(n);
                }
            }
            i += 2;
            continue;
        }
        if c == '[' && !in_class {
            in_class = true;
            if i + 1 < chars.len() && chars[i + 1] == ']' {
                // JS `[]` matches nothing.
                out.push_str("[^\\s\\S]");
                i += 2;
                in_class = false;
                continue;
            }
        } else if c == ']' && in_class {
            in_class = false;
        } else if c == '[' && in_class {
            out.push_str("\\[");
            i += 1;
            continue;
        }
        out.push(c);
        i += 1;
    }
    out
}

#[derive(Debug)]
pub(crate) struct LambdaDef {
    pub params: Vec<String>,
    pub signature: Option<Signature>,
    pub body: Node,
    /// A tail-call thunk created by tail-call optimisation.
    pub thunk: bool,
}

#[derive(Debug)]
pub(crate) struct TransformDef {
    pub pattern: Node,
    pub update: Node,
    pub delete: Option<Node>,
}

#[derive(Debug)]
pub(crate) enum Stage {
    Filter(Node),
    Index(String),
}

#[derive(Debug)]
pub(crate) struct Group {
    pub pairs: Vec<(Node, Node)>,
    pub pos: usize,
}

#[derive(Debug)]
pub(crate) struct SortTerm {
    pub descending: bool,
    pub expr: Node,
}

#[derive(Debug)]
pub(crate) enum Kind {
    Path(Vec<Node>),
    Name(String),
    String(String),
    Number(f64),
    Value(Lit),
    Regex(Arc<RegexLit>),
    Variable(String),
    Wildcard,
    Descendant,
    /// Parent operator `%`, resolved to an ancestor label.
    Parent(usize),
    Binary(&'static str, Box<Node>, Box<Node>),
    Negate(Box<Node>),
    ArrayCons(Vec<Node>),
    ObjectCons(Vec<(Node, Node)>),
    Block(Vec<Node>),
    Bind(String, Box<Node>),
    Condition(Box<Node>, Box<Node>, Option<Box<Node>>),
    Call {
        procedure: Box<Node>,
        args: Vec<Node>,
        partial: bool,
    },
    /// `?` argument of a partial application.
    Placeholder,
    Lambda(Arc<LambdaDef>),
    Apply(Box<Node>, Box<Node>),
    Transform(Arc<TransformDef>),
    Sort(Vec<SortTerm>),
}

impl Kind {
    pub fn type_name(&self) -> &'static str {
        match self {
            Kind::Path(_) => "path",
            Kind::Name(_) => "name",
            Kind::String(_) => "string",
            Kind::Number(_) => "number",
            Kind::Value(_) => "value",
            Kind::Regex(_) => "regex",
            Kind::Variable(_) => "variable",
            Kind::Wildcard => "wildcard",
            Kind::Descendant => "descendant",
            Kind::Parent(_) => "parent",
            Kind::Binary(..) => "binary",
            Kind::Negate(_) | Kind::ArrayCons(_) | Kind::ObjectCons(_) => "unary",
            Kind::Block(_) => "block",
            Kind::Bind(..) => "bind",
            Kind::Condition(..) => "condition",
            Kind::Call { partial: false, .. } => "function",
            Kind::Call { partial: true, .. } => "partial",
            Kind::Placeholder => "operator",
            Kind::Lambda(_) => "lambda",
            Kind::Apply(..) => "apply",
            Kind::Transform(..) => "transform",
            Kind::Sort(_) => "sort",
        }
    }
}

#[derive(Debug)]
pub(crate) struct Node {
    pub kind: Kind,
    pub pos: usize,
    pub keep_array: bool,
    pub stages: Vec<Stage>,
    pub predicate: Vec<Stage>,
    pub group: Option<Box<Group>>,
    pub focus: Option<String>,
    pub index: Option<String>,
    pub tuple: bool,
    pub consarray: bool,
    pub ancestor: Option<usize>,
    pub seeking_parent: Vec<usize>,
    pub keep_singleton_array: bool,
}

impl Node {
    pub fn new(kind: Kind, pos: usize) -> Self {
        Node {
            kind,
            pos,
            keep_array: false,
            stages: Vec::new(),
            predicate: Vec::new(),
            group: None,
            focus: None,
            index: None,
            tuple: false,
            consarray: false,
            ancestor: None,
            seeking_parent: Vec::new(),
            keep_singleton_array: false,
        }
    }

    pub fn placeholder(pos: usize) -> Self {
        Node::new(Kind::Placeholder, pos)
    }

    /// Visits every node except lambda bodies that are already shared (they are finalized when built).
    pub fn visit_mut(&mut self, f: &mut dyn FnMut(&mut Node)) {
        stacker::maybe_grow(32 * 1024, 1024 * 1024, || self.visit_mut_inner(f))
    }

    fn visit_mut_inner(&mut self, f: &mut dyn FnMut(&mut Node)) {
        f(self);
        for s in self.stages.iter_mut().chain(self.predicate.iter_mut()) {
            if let Stage::Filter(n) = s {
                n.visit_mut(f);
            }
        }
        if let Some(g) = &mut self.group {
            for (k, v) in g.pairs.iter_mut() {
                k.visit_mut(f);
                v.visit_mut(f);
            }
        }
        match &mut self.kind {
            Kind::Path(v) | Kind::ArrayCons(v) | Kind::Block(v) => {
                v.iter_mut().for_each(|n| n.visit_mut(f))
            }
            Kind::Binary(_, a, b) | Kind::Apply(a, b) => {
                a.visit_mut(f);
                b.visit_mut(f);
            }
            Kind::Negate(a) | Kind::Bind(_, a) => a.visit_mut(f),
            Kind::ObjectCons(p) => p.iter_mut().for_each(|(k, v)| {
                k.visit_mut(f);
                v.visit_mut(f);
            }),
            Kind::Transform(def) => {
                if let Some(def) = Arc::get_mut(def) {
                    def.pattern.visit_mut(f);
                    def.update.visit_mut(f);
                    if let Some(d) = &mut def.delete {
                        d.visit_mut(f);
                    }
                }
            }
            Kind::Condition(a, b, c) => {
                a.visit_mut(f);
                b.visit_mut(f);
                if let Some(c) = c {
                    c.visit_mut(f);
                }
            }
            Kind::Call {
                procedure, args, ..
            } => {
                procedure.visit_mut(f);
                args.iter_mut().for_each(|n| n.visit_mut(f));
            }
            Kind::Lambda(def) => {
                if let Some(def) = Arc::get_mut(def) {
                    def.body.visit_mut(f);
                }
            }
            Kind::Sort(terms) => terms.iter_mut().for_each(|t| t.expr.visit_mut(f)),
            _ => {}
        }
    }
}
