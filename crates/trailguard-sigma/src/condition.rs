//! Sigma condition expressions: `and`, `or`, `not`, parentheses, `1 of x*`, `all of them`.
//! Precedence: not > and > or.

/// A compiled condition over selection indices.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Cond {
    Sel(usize),
    Not(Box<Cond>),
    And(Vec<Cond>),
    Or(Vec<Cond>),
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Token<'a> {
    Open,
    Close,
    And,
    Or,
    Not,
    One,
    All,
    Of,
    Them,
    Pipe,
    Ident(&'a str),
}

fn tokenize(text: &str) -> Vec<Token<'_>> {
    let mut tokens = Vec::new();
    let mut rest = text;
    loop {
        rest = rest.trim_start();
        let Some(c) = rest.chars().next() else {
            return tokens;
        };
        let (token, len) = match c {
            '(' => (Token::Open, 1),
            ')' => (Token::Close, 1),
            '|' => (Token::Pipe, 1),
            _ => {
                let len = rest
                    .find(|c: char| c.is_whitespace() || matches!(c, '(' | ')' | '|'))
                    .unwrap_or(rest.len());
                let word = &rest[..len];
                let token = match word.to_ascii_lowercase().as_str() {
                    "and" => Token::And,
                    "or" => Token::Or,
                    "not" => Token::Not,
                    "1" | "any" => Token::One,
                    "all" => Token::All,
                    "of" => Token::Of,
                    "them" => Token::Them,
                    _ => Token::Ident(word),
                };
                (token, len)
            }
        };
        tokens.push(token);
        rest = &rest[len..];
    }
}

/// Why a condition cannot be compiled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum CondError {
    /// A `| count()`/`| near` aggregation (Sigma v1, superseded by correlation rules).
    Aggregation,
    Invalid(String),
}

struct Parser<'a, 'n> {
    tokens: Vec<Token<'a>>,
    pos: usize,
    names: &'n [String],
    depth: usize,
}

const MAX_DEPTH: usize = 64;

pub(crate) fn parse(text: &str, names: &[String]) -> Result<Cond, CondError> {
    let tokens = tokenize(text);
    if tokens.contains(&Token::Pipe) {
        return Err(CondError::Aggregation);
    }
    if tokens.is_empty() {
        return Err(CondError::Invalid("empty condition".into()));
    }
    let mut parser = Parser {
        tokens,
        pos: 0,
        names,
        depth: 0,
    };
    let cond = parser.or_expr()?;
    match parser.tokens.get(parser.pos) {
        None => Ok(cond),
        Some(t) => Err(CondError::Invalid(format!(
            "unexpected {t:?} after the expression"
        ))),
    }
}

impl<'a> Parser<'a, '_> {
    fn next(&mut self) -> Option<Token<'a>> {
        let t = self.tokens.get(self.pos).cloned();
        self.pos += 1;
        t
    }

    fn peek(&self) -> Option<&Token<'a>> {
        self.tokens.get(self.pos)
    }

    fn or_expr(&mut self) -> Result<Cond, CondError> {
        let mut parts = vec![self.and_expr()?];
        while self.peek() == Some(&Token::Or) {
            self.pos += 1;
            parts.push(self.and_expr()?);
        }
        Ok(if parts.len() == 1 {
            parts.remove(0)
        } else {
            Cond::Or(parts)
        })
    }

    fn and_expr(&mut self) -> Result<Cond, CondError> {
        let mut parts = vec![self.not_expr()?];
        while self.peek() == Some(&Token::And) {
            self.pos += 1;
            parts.push(self.not_expr()?);
        }
        Ok(if parts.len() == 1 {
            parts.remove(0)
        } else {
            Cond::And(parts)
        })
    }

    fn not_expr(&mut self) -> Result<Cond, CondError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(CondError::Invalid("condition nested too deeply".into()));
        }
        let result = if self.peek() == Some(&Token::Not) {
            self.pos += 1;
            self.not_expr().map(|c| Cond::Not(Box::new(c)))
        } else {
            self.primary()
        };
        self.depth -= 1;
        result
    }

    fn primary(&mut self) -> Result<Cond, CondError> {
        match self.next() {
            Some(Token::Open) => {
                let inner = self.or_expr()?;
                match self.next() {
                    Some(Token::Close) => Ok(inner),
                    _ => Err(CondError::Invalid("missing closing parenthesis".into())),
                }
            }
            Some(quantifier @ (Token::One | Token::All)) => {
                if self.next() != Some(Token::Of) {
                    return Err(CondError::Invalid("expected `of` after `1`/`all`".into()));
                }
                let targets = match self.next() {
                    // `them` leaves out selections whose name starts with an underscore.
                    Some(Token::Them) => (0..self.names.len())
                        .filter(|&i| !self.names[i].starts_with('_'))
                        .collect::<Vec<_>>(),
                    Some(Token::Ident(pattern)) => {
                        let found: Vec<usize> = (0..self.names.len())
                            .filter(|&i| name_glob(pattern, &self.names[i]))
                            .collect();
                        if found.is_empty() {
                            return Err(CondError::Invalid(format!(
                                "`of {pattern}` matches no selection"
                            )));
                        }
                        found
                    }
                    other => {
                        return Err(CondError::Invalid(format!(
                            "expected a selection pattern or `them` after `of`, found {other:?}"
                        )))
                    }
                };
                let mut sels: Vec<Cond> = targets.into_iter().map(Cond::Sel).collect();
                Ok(match (quantifier, sels.len()) {
                    (_, 1) => sels.remove(0),
                    (Token::One, _) => Cond::Or(sels),
                    _ => Cond::And(sels),
                })
            }
            Some(Token::Ident(name)) => {
                if name.contains(['*', '?']) {
                    return Err(CondError::Invalid(format!(
                        "wildcard `{name}` is only allowed after `1 of`/`all of`"
                    )));
                }
                self.names
                    .iter()
                    .position(|n| n == name)
                    .map(Cond::Sel)
                    .ok_or_else(|| CondError::Invalid(format!("unknown selection `{name}`")))
            }
            Some(other) => Err(CondError::Invalid(format!("unexpected {other:?}"))),
            None => Err(CondError::Invalid("condition ends too early".into())),
        }
    }
}

/// Selection-name patterns: `*` for any run, `?` for one character, case-sensitive.
fn name_glob(pattern: &str, name: &str) -> bool {
    crate::matcher::StrMatcher::sigma(pattern, crate::matcher::Anchor::Whole, true).is_match(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names() -> Vec<String> {
        ["selection", "sel_a", "sel_b", "filter", "_hidden"]
            .iter()
            .map(|s| s.to_string())
            .collect()
    }

    fn p(text: &str) -> Result<Cond, CondError> {
        parse(text, &names())
    }

    #[test]
    fn precedence_not_and_or() {
        use Cond::*;
        assert_eq!(
            p("selection or sel_a and not filter").unwrap(),
            Or(vec![Sel(0), And(vec![Sel(1), Not(Box::new(Sel(3)))])])
        );
        assert_eq!(
            p("(selection or sel_a) and not not filter").unwrap(),
            And(vec![
                Or(vec![Sel(0), Sel(1)]),
                Not(Box::new(Not(Box::new(Sel(3)))))
            ])
        );
        assert_eq!(p("NOT selection").unwrap(), Not(Box::new(Sel(0))));
    }

    #[test]
    fn quantifiers() {
        use Cond::*;
        assert_eq!(p("1 of sel_*").unwrap(), Or(vec![Sel(1), Sel(2)]));
        assert_eq!(p("all of sel_*").unwrap(), And(vec![Sel(1), Sel(2)]));
        assert_eq!(p("any of sel*").unwrap(), Or(vec![Sel(0), Sel(1), Sel(2)]));
        assert_eq!(
            p("1 of them").unwrap(),
            Or(vec![Sel(0), Sel(1), Sel(2), Sel(3)])
        );
        assert_eq!(
            p("all of them").unwrap(),
            And(vec![Sel(0), Sel(1), Sel(2), Sel(3)])
        );
        assert_eq!(p("1 of filt*").unwrap(), Sel(3));
        assert_eq!(
            p("selection and not 1 of sel_?").unwrap(),
            And(vec![Sel(0), Not(Box::new(Or(vec![Sel(1), Sel(2)])))])
        );
    }

    #[test]
    fn errors() {
        assert_eq!(p("selection | count() > 5"), Err(CondError::Aggregation));
        for bad in [
            "",
            "selection and",
            "(selection",
            "selection)",
            "unknown",
            "sel*",
            "1 of nothing*",
            "1 selection",
            "and",
            "selection selection",
        ] {
            assert!(
                matches!(p(bad), Err(CondError::Invalid(_))),
                "{bad:?} should be invalid"
            );
        }
        let deep = format!("{}selection{}", "(".repeat(200), ")".repeat(200));
        assert!(matches!(p(&deep), Err(CondError::Invalid(_))));
        assert!(p("((selection))").is_ok());
        let deep_not = format!("{}selection", "not ".repeat(500));
        assert!(matches!(p(&deep_not), Err(CondError::Invalid(_))));
    }
}
