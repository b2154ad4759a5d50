//! `kb_text`: one tokenizer for English and Korean (and other CJK) security text.
//!
//! * Latin/digit words are lower-cased. A word with inner punctuation (`203.0.113.7`,
//!   `arn:aws:iam::1:user/alice`, `alice@example.com`) is emitted whole **and** split into its
//!   alphanumeric parts; a camelCase word (`ConsoleLogin`, `IAMUser`) is emitted whole and split
//!   into its parts (`console`, `login`), so "console login" finds `ConsoleLogin`.
//! * Runs of Hangul / CJK characters are emitted as overlapping character bigrams (a single
//!   character alone as a unigram): Korean glues particles and endings to stems
//!   (`로그인했습니다`, `콘솔에`), so whole-word tokens would never match a query's `로그인` or
//!   `콘솔`; bigrams do, with no dictionary.
//!
//! Register with [`register`]; the field and the query side use the same analyzer.

use tantivy::tokenizer::{Token, TokenStream, Tokenizer};

/// Name under which the analyzer is registered.
pub const KB_TEXT: &str = "kb_text";
/// Lower-cased keyword (whole value, one token) for case-insensitive exact filters.
pub const KW_LOWER: &str = "kw_lower";

const MAX_TOKEN_BYTES: usize = 96;

#[derive(Clone, Default)]
pub struct KbTokenizer;

/// Owns its tokens; `dummy` keeps `token()` total before the first `advance()`.
pub struct KbTokenStream {
    tokens: Vec<Token>,
    idx: usize,
    dummy: Token,
}

impl TokenStream for KbTokenStream {
    fn advance(&mut self) -> bool {
        if self.idx < self.tokens.len() {
            self.idx += 1;
            true
        } else {
            false
        }
    }
    fn token(&self) -> &Token {
        self.idx
            .checked_sub(1)
            .and_then(|i| self.tokens.get(i))
            .unwrap_or(&self.dummy)
    }
    fn token_mut(&mut self) -> &mut Token {
        match self.idx.checked_sub(1) {
            Some(i) if i < self.tokens.len() => &mut self.tokens[i],
            _ => &mut self.dummy,
        }
    }
}

impl Tokenizer for KbTokenizer {
    type TokenStream<'a> = KbTokenStream;
    fn token_stream<'a>(&'a mut self, text: &'a str) -> KbTokenStream {
        let mut tokens = Vec::new();
        tokenize_into(text, &mut tokens);
        KbTokenStream {
            tokens,
            idx: 0,
            dummy: Token::default(),
        }
    }
}

/// Hangul syllables and jamo, CJK ideographs, kana.
pub fn is_cjk(c: char) -> bool {
    matches!(c as u32,
        0x1100..=0x11FF | 0x3130..=0x318F | 0xA960..=0xA97F | 0xAC00..=0xD7AF | 0xD7B0..=0xD7FF
        | 0x3040..=0x30FF | 0x3400..=0x4DBF | 0x4E00..=0x9FFF | 0xF900..=0xFAFF)
}

fn is_word_char(c: char) -> bool {
    c.is_alphanumeric() && !is_cjk(c)
}

/// Joiners kept inside a compound word (IPs, ARNs, e-mails, finding types).
fn is_joiner(c: char) -> bool {
    matches!(c, '.' | ':' | '/' | '@' | '_' | '-')
}

/// Tokenize `text` into `out` (public for query-side use and tests).
pub fn tokenize(text: &str) -> Vec<String> {
    let mut v = Vec::new();
    tokenize_into(text, &mut v);
    v.into_iter().map(|t| t.text).collect()
}

fn push(out: &mut Vec<Token>, text: String, from: usize, to: usize) {
    if text.is_empty() || text.len() > MAX_TOKEN_BYTES {
        return;
    }
    let position = out.len();
    out.push(Token {
        offset_from: from,
        offset_to: to,
        position,
        text,
        position_length: 1,
    });
}

fn tokenize_into(text: &str, out: &mut Vec<Token>) {
    let chars: Vec<(usize, char)> = text.char_indices().collect();
    let end_of = |i: usize| chars.get(i).map_or(text.len(), |(b, _)| *b);
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i].1;
        if is_cjk(c) {
            let s = i;
            while i < chars.len() && is_cjk(chars[i].1) {
                i += 1;
            }
            if i - s == 1 {
                push(out, c.to_lowercase().collect(), chars[s].0, end_of(i));
            } else {
                for k in s..i - 1 {
                    let bg: String = [chars[k].1, chars[k + 1].1].iter().collect();
                    push(out, bg, chars[k].0, end_of(k + 2));
                }
            }
        } else if is_word_char(c) {
            // compound: word chars joined by single joiners, ending in a word char
            let s = i;
            let mut e = i;
            let mut j = i;
            while j < chars.len() {
                if is_word_char(chars[j].1) {
                    j += 1;
                    e = j;
                } else if is_joiner(chars[j].1)
                    && j + 1 < chars.len()
                    && (is_word_char(chars[j + 1].1) || is_joiner(chars[j + 1].1))
                {
                    j += 1;
                } else {
                    break;
                }
            }
            let (from, to) = (chars[s].0, end_of(e));
            let compound = &text[from..to];
            let parts = split_parts(compound);
            if compound.chars().any(|ch| !is_word_char(ch)) {
                push(out, compound.to_lowercase(), from, to);
            }
            // each alnum run, then its camelCase pieces when there are several
            for (pf, pt) in parts {
                let word = &compound[pf..pt];
                push(out, word.to_lowercase(), from + pf, from + pt);
                let sub = camel_parts(word);
                if sub.len() > 1 {
                    for (a, b) in sub {
                        push(out, word[a..b].to_lowercase(), from + pf + a, from + pf + b);
                    }
                }
            }
            i = e.max(s + 1);
        } else {
            i += 1;
        }
    }
}

/// Byte ranges of the alphanumeric runs of a compound.
fn split_parts(s: &str) -> Vec<(usize, usize)> {
    let mut v = Vec::new();
    let mut start: Option<usize> = None;
    for (b, c) in s.char_indices() {
        if is_word_char(c) {
            start.get_or_insert(b);
        } else if let Some(st) = start.take() {
            v.push((st, b));
        }
    }
    if let Some(st) = start {
        v.push((st, s.len()));
    }
    v
}

/// camelCase / PascalCase / ACRONYMWord / letter-digit boundaries.
fn camel_parts(w: &str) -> Vec<(usize, usize)> {
    let cs: Vec<(usize, char)> = w.char_indices().collect();
    let mut v = Vec::new();
    let mut s = 0usize;
    for k in 1..cs.len() {
        let (p, c) = (cs[k - 1].1, cs[k].1);
        let next_lower = cs.get(k + 1).is_some_and(|(_, n)| n.is_lowercase());
        let boundary = (p.is_lowercase() && c.is_uppercase())
            || (p.is_uppercase() && c.is_uppercase() && next_lower)
            || (p.is_alphabetic() && c.is_ascii_digit())
            || (p.is_ascii_digit() && c.is_alphabetic());
        if boundary {
            v.push((cs[s].0, cs[k].0));
            s = k;
        }
    }
    if !cs.is_empty() {
        v.push((cs[s].0, w.len()));
    }
    v
}

/// Register `kb_text` and `kw_lower` on an index.
pub fn register(index: &tantivy::Index) {
    use tantivy::tokenizer::{LowerCaser, RawTokenizer, TextAnalyzer};
    let m = index.tokenizers();
    m.register(KB_TEXT, TextAnalyzer::from(KbTokenizer));
    m.register(
        KW_LOWER,
        TextAnalyzer::builder(RawTokenizer::default())
            .filter(LowerCaser)
            .build(),
    );
}

#[cfg(test)]
mod tests {
    use super::tokenize;

    #[test]
    fn english_camel_and_compounds() {
        let t = tokenize("ConsoleLogin from 203.0.113.7 by IAMUser alice");
        for w in [
            "consolelogin",
            "console",
            "login",
            "203.0.113.7",
            "203",
            "iamuser",
            "iam",
            "user",
            "alice",
        ] {
            assert!(t.contains(&w.to_string()), "{w} missing in {t:?}");
        }
    }

    #[test]
    fn korean_bigrams() {
        let t = tokenize("루트 계정이 MFA 없이 콘솔에 로그인했습니다");
        for w in [
            "루트", "계정", "정이", "mfa", "없이", "콘솔", "솔에", "로그", "그인", "인했",
        ] {
            assert!(t.contains(&w.to_string()), "{w} missing in {t:?}");
        }
        let q = tokenize("콘솔 로그인");
        assert_eq!(q, vec!["콘솔", "로그", "그인"]);
        assert_eq!(tokenize("탐"), vec!["탐"]);
    }

    #[test]
    fn mixed_and_odd_input() {
        assert!(tokenize("").is_empty());
        assert!(tokenize("... --- :::").is_empty());
        let t = tokenize("alice가 S3버킷을 삭제");
        assert!(t.contains(&"alice".to_string()) && t.contains(&"버킷".to_string()));
        let t = tokenize("UnauthorizedAccess:IAMUser/InstanceCredentialExfiltration.OutsideAWS");
        for w in ["unauthorized", "access", "exfiltration", "outside", "aws"] {
            assert!(t.contains(&w.to_string()), "{w} missing in {t:?}");
        }
    }
}
