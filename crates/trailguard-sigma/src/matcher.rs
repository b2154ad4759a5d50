//! Compiled string matchers: Sigma wildcards, case folding, CIDR, base64 encodings.
//!
//! Patterns are lowercased once at compile time; ASCII haystacks are compared with ASCII folding
//! so that matching allocates nothing. Only a non-ASCII haystack under a case-insensitive pattern
//! is lowercased into a temporary string.

use std::fmt::Write as _;
use std::net::IpAddr;

/// How a Sigma value is anchored by its modifier.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Anchor {
    Whole,
    Contains,
    StartsWith,
    EndsWith,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Piece {
    Byte(u8),
    AnyChar,
    Star,
}

#[derive(Debug, Clone)]
enum Pattern {
    Any,
    Exact(Box<[u8]>),
    Prefix(Box<[u8]>),
    Suffix(Box<[u8]>),
    Contains(Box<[u8]>),
    Glob(Box<[Piece]>),
    Regex(regex::Regex),
}

/// A compiled string test.
#[derive(Debug, Clone)]
pub(crate) struct StrMatcher {
    pattern: Pattern,
    cased: bool,
}

/// Splits a Sigma string into pieces: `*` and `?` are wildcards, `\*`, `\?` and `\\` are
/// escapes, and any other backslash is literal (as pySigma parses it).
fn sigma_pieces(value: &str, cased: bool) -> Vec<Piece> {
    let mut pieces = Vec::with_capacity(value.len());
    let push_char = |pieces: &mut Vec<Piece>, c: char| {
        let mut buf = [0u8; 4];
        if cased {
            pieces.extend(c.encode_utf8(&mut buf).bytes().map(Piece::Byte));
        } else {
            for lower in c.to_lowercase() {
                pieces.extend(lower.encode_utf8(&mut buf).bytes().map(Piece::Byte));
            }
        }
    };
    let mut chars = value.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '*' => pieces.push(Piece::Star),
            '?' => pieces.push(Piece::AnyChar),
            '\\' => match chars.peek() {
                Some(&next @ ('*' | '?' | '\\')) => {
                    chars.next();
                    push_char(&mut pieces, next);
                }
                _ => push_char(&mut pieces, '\\'),
            },
            other => push_char(&mut pieces, other),
        }
    }
    pieces
}

fn literal_bytes(pieces: &[Piece]) -> Option<Box<[u8]>> {
    pieces
        .iter()
        .map(|p| match p {
            Piece::Byte(b) => Some(*b),
            _ => None,
        })
        .collect()
}

impl StrMatcher {
    /// A Sigma string value (wildcards and escapes interpreted) under `anchor`.
    pub(crate) fn sigma(value: &str, anchor: Anchor, cased: bool) -> Self {
        let mut pieces = sigma_pieces(value, cased);
        if matches!(anchor, Anchor::Contains | Anchor::EndsWith) {
            pieces.insert(0, Piece::Star);
        }
        if matches!(anchor, Anchor::Contains | Anchor::StartsWith) {
            pieces.push(Piece::Star);
        }
        Self::from_pieces(pieces, cased)
    }

    /// A literal string (no wildcards), e.g. a base64 encoding.
    pub(crate) fn literal(value: &str, anchor: Anchor, cased: bool) -> Self {
        let text = if cased {
            value.to_owned()
        } else {
            fold_case(value)
        };
        let mut pieces: Vec<Piece> = text.bytes().map(Piece::Byte).collect();
        if matches!(anchor, Anchor::Contains | Anchor::EndsWith) {
            pieces.insert(0, Piece::Star);
        }
        if matches!(anchor, Anchor::Contains | Anchor::StartsWith) {
            pieces.push(Piece::Star);
        }
        Self::from_pieces(pieces, cased)
    }

    pub(crate) fn regex(re: regex::Regex) -> Self {
        Self {
            pattern: Pattern::Regex(re),
            cased: true,
        }
    }

    fn from_pieces(mut pieces: Vec<Piece>, cased: bool) -> Self {
        // Runs of stars are one star.
        pieces.dedup_by(|a, b| *a == Piece::Star && *b == Piece::Star);
        let lead = pieces.first() == Some(&Piece::Star);
        let trail = pieces.len() > 1 && pieces.last() == Some(&Piece::Star);
        let start = usize::from(lead);
        let end = pieces.len() - usize::from(trail);
        let inner = &pieces[start.min(end)..end];
        let pattern = match literal_bytes(inner) {
            Some(lit) if lead && trail && lit.is_empty() => Pattern::Any,
            Some(lit) if lead && lit.is_empty() => Pattern::Any,
            Some(lit) => match (lead, trail) {
                (false, false) => Pattern::Exact(lit),
                (false, true) => Pattern::Prefix(lit),
                (true, false) => Pattern::Suffix(lit),
                (true, true) => Pattern::Contains(lit),
            },
            None => Pattern::Glob(pieces.into_boxed_slice()),
        };
        Self { pattern, cased }
    }

    /// The literal a plain case-insensitive or cased equality test compares with, if it is one.
    pub(crate) fn exact_literal(&self) -> Option<&str> {
        match &self.pattern {
            Pattern::Exact(lit) => std::str::from_utf8(lit).ok(),
            _ => None,
        }
    }

    /// A string this matcher accepts (None for regexes), for generating test events.
    #[cfg(test)]
    pub(crate) fn sample(&self) -> Option<String> {
        let bytes: Vec<u8> = match &self.pattern {
            Pattern::Any => Vec::new(),
            Pattern::Exact(l) | Pattern::Prefix(l) | Pattern::Suffix(l) | Pattern::Contains(l) => {
                l.to_vec()
            }
            Pattern::Glob(pieces) => pieces
                .iter()
                .filter_map(|p| match p {
                    Piece::Byte(b) => Some(*b),
                    Piece::AnyChar => Some(b'x'),
                    Piece::Star => None,
                })
                .collect(),
            Pattern::Regex(_) => return None,
        };
        String::from_utf8(bytes).ok()
    }

    pub(crate) fn is_match(&self, hay: &str) -> bool {
        if let Pattern::Regex(re) = &self.pattern {
            return re.is_match(hay);
        }
        if !self.cased && !hay.is_ascii() {
            let lower = fold_case(hay);
            return self.match_bytes(lower.as_bytes(), false);
        }
        self.match_bytes(hay.as_bytes(), !self.cased)
    }

    fn match_bytes(&self, hay: &[u8], fold: bool) -> bool {
        match &self.pattern {
            Pattern::Any => true,
            Pattern::Exact(lit) => hay.len() == lit.len() && eq_bytes(hay, lit, fold),
            Pattern::Prefix(lit) => {
                hay.len() >= lit.len() && eq_bytes(&hay[..lit.len()], lit, fold)
            }
            Pattern::Suffix(lit) => {
                hay.len() >= lit.len() && eq_bytes(&hay[hay.len() - lit.len()..], lit, fold)
            }
            Pattern::Contains(lit) => contains_bytes(hay, lit, fold),
            Pattern::Glob(pieces) => glob_match(pieces, hay, fold),
            Pattern::Regex(_) => false,
        }
    }
}

/// Lowercases per character, exactly as patterns are lowercased (unlike `str::to_lowercase`, no
/// context-dependent final sigma), so both sides fold the same way.
pub(crate) fn fold_case(text: &str) -> String {
    text.chars().flat_map(char::to_lowercase).collect()
}

fn eq_bytes(hay: &[u8], lit: &[u8], fold: bool) -> bool {
    if fold {
        hay.iter()
            .zip(lit)
            .all(|(h, l)| h.to_ascii_lowercase() == *l)
    } else {
        hay == lit
    }
}

/// Substring search; `fold` compares the haystack ASCII-lowercased against a lowercase needle.
pub(crate) fn contains_bytes(hay: &[u8], needle: &[u8], fold: bool) -> bool {
    let Some(&first) = needle.first() else {
        return true;
    };
    if hay.len() < needle.len() {
        return false;
    }
    if !fold {
        return memchr::memmem::find(hay, needle).is_some();
    }
    let last_start = hay.len() - needle.len();
    let upper = first.to_ascii_uppercase();
    let mut from = 0;
    while from <= last_start {
        let window = &hay[from..=last_start];
        let found = if upper == first {
            memchr::memchr(first, window)
        } else {
            memchr::memchr2(first, upper, window)
        };
        let Some(offset) = found else {
            return false;
        };
        let at = from + offset;
        if eq_bytes(&hay[at + 1..at + needle.len()], &needle[1..], true) {
            return true;
        }
        from = at + 1;
    }
    false
}

fn utf8_len(lead: u8) -> usize {
    match lead {
        0x00..=0x7f => 1,
        0xc0..=0xdf => 2,
        0xe0..=0xef => 3,
        _ => 4,
    }
}

/// Iterative wildcard match with single-star backtracking (linear in practice, no recursion).
fn glob_match(pieces: &[Piece], hay: &[u8], fold: bool) -> bool {
    let (mut p, mut h) = (0usize, 0usize);
    let mut resume: Option<(usize, usize)> = None;
    while h < hay.len() {
        match pieces.get(p) {
            Some(Piece::Byte(b))
                if (if fold {
                    hay[h].to_ascii_lowercase()
                } else {
                    hay[h]
                }) == *b =>
            {
                p += 1;
                h += 1;
                continue;
            }
            Some(Piece::AnyChar) => {
                p += 1;
                h = (h + utf8_len(hay[h])).min(hay.len());
                continue;
            }
            Some(Piece::Star) => {
                resume = Some((p + 1, h));
                p += 1;
                continue;
            }
            _ => {}
        }
        match resume {
            Some((star_p, star_h)) => {
                let next = (star_h + utf8_len(hay[star_h])).min(hay.len());
                resume = Some((star_p, next));
                p = star_p;
                h = next;
            }
            None => return false,
        }
    }
    pieces[p.min(pieces.len())..]
        .iter()
        .all(|x| *x == Piece::Star)
}

/// Writes the text form of a number the way it is usually logged: integers without a fraction.
pub(crate) fn number_text(n: f64, buf: &mut StackText) -> &str {
    buf.clear();
    let ok = if n.fract() == 0.0 && n.abs() < 1e15 {
        write!(buf, "{}", n as i64).is_ok()
    } else {
        write!(buf, "{n}").is_ok()
    };
    if ok {
        buf.as_str()
    } else {
        ""
    }
}

/// A small fixed buffer for formatting numbers without allocating.
pub(crate) struct StackText {
    bytes: [u8; 48],
    len: usize,
}

impl StackText {
    pub(crate) fn new() -> Self {
        Self {
            bytes: [0; 48],
            len: 0,
        }
    }
    fn clear(&mut self) {
        self.len = 0;
    }
    fn as_str(&self) -> &str {
        std::str::from_utf8(&self.bytes[..self.len]).unwrap_or("")
    }
}

impl std::fmt::Write for StackText {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        let end = self.len + s.len();
        if end > self.bytes.len() {
            return Err(std::fmt::Error);
        }
        self.bytes[self.len..end].copy_from_slice(s.as_bytes());
        self.len = end;
        Ok(())
    }
}

/// An IP network from a `|cidr` value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Cidr {
    network: IpAddr,
    prefix: u8,
}

impl Cidr {
    pub(crate) fn parse(text: &str) -> Option<Self> {
        let (addr, prefix) = match text.trim().split_once('/') {
            Some((a, p)) => (a.parse::<IpAddr>().ok()?, Some(p.parse::<u8>().ok()?)),
            None => (text.trim().parse::<IpAddr>().ok()?, None),
        };
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = prefix.unwrap_or(max);
        (prefix <= max).then_some(Self {
            network: addr,
            prefix,
        })
    }

    pub(crate) fn contains(&self, text: &str) -> bool {
        let Ok(addr) = text.trim().parse::<IpAddr>() else {
            return false;
        };
        match (self.network, addr) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => prefix_eq(
                u128::from(u32::from(net)) << 96,
                u128::from(u32::from(ip)) << 96,
                self.prefix,
            ),
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                prefix_eq(u128::from(net), u128::from(ip), self.prefix)
            }
            (IpAddr::V4(net), IpAddr::V6(ip)) => ip.to_ipv4_mapped().is_some_and(|v4| {
                prefix_eq(
                    u128::from(u32::from(net)) << 96,
                    u128::from(u32::from(v4)) << 96,
                    self.prefix,
                )
            }),
            (IpAddr::V6(_), IpAddr::V4(_)) => false,
        }
    }
}

fn prefix_eq(a: u128, b: u128, prefix: u8) -> bool {
    if prefix == 0 {
        return true;
    }
    let mask = u128::MAX << (128 - u32::from(prefix));
    a & mask == b & mask
}

const BASE64_ALPHABET: &[u8; 64] =
    b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

pub(crate) fn base64_encode(input: &[u8]) -> String {
    let mut out = String::with_capacity(input.len().div_ceil(3) * 4);
    for chunk in input.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(
                    BASE64_ALPHABET[((n >> (18 - 6 * i)) & 63) as usize],
                ));
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// The three encodings of `value` at every alignment inside a longer base64 string (pySigma's
/// `base64offset`).
pub(crate) fn base64_offsets(value: &str) -> Vec<String> {
    const START: [usize; 3] = [0, 2, 3];
    const END_TRIM: [usize; 3] = [0, 3, 2];
    (0..3)
        .map(|i| {
            let mut input = vec![b' '; i];
            input.extend_from_slice(value.as_bytes());
            let encoded = base64_encode(&input);
            let end = encoded
                .len()
                .saturating_sub(END_TRIM[(value.len() + i) % 3]);
            encoded.get(START[i]..end).unwrap_or("").to_owned()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(value: &str, anchor: Anchor, cased: bool, hay: &str) -> bool {
        StrMatcher::sigma(value, anchor, cased).is_match(hay)
    }

    #[test]
    fn wildcards_and_anchors() {
        assert!(m("abc", Anchor::Whole, false, "ABC"));
        assert!(!m("abc", Anchor::Whole, false, "abcd"));
        assert!(m("a*c", Anchor::Whole, false, "aXXc"));
        assert!(m("a?c", Anchor::Whole, false, "aéc"));
        assert!(!m("a?c", Anchor::Whole, false, "ac"));
        assert!(m("*", Anchor::Whole, false, ""));
        assert!(m("", Anchor::Whole, false, ""));
        assert!(!m("", Anchor::Whole, false, "x"));
        assert!(m("list*", Anchor::Whole, false, "ListBuckets"));
        assert!(m("*bucket*", Anchor::Whole, false, "ListBuckets"));
        assert!(m("*ts", Anchor::Whole, false, "ListBuckets"));
        assert!(m("b*k*s", Anchor::Contains, false, "ListBuckets"));
        assert!(m("a*b*c", Anchor::Whole, false, "aXbYbZc"));
        assert!(!m("a*b*c", Anchor::Whole, false, "aXbYbZ"));
        assert!(m("buck", Anchor::Contains, false, "ListBUCKets"));
        assert!(m("list", Anchor::StartsWith, false, "ListBuckets"));
        assert!(!m("list", Anchor::EndsWith, false, "ListBuckets"));
        assert!(m("ETS", Anchor::EndsWith, false, "ListBuckets"));
    }

    #[test]
    fn escapes() {
        assert!(m(r"x\*y", Anchor::Whole, false, "x*y"));
        assert!(!m(r"x\*y", Anchor::Whole, false, "xAy"));
        assert!(m(r"x\?y", Anchor::Whole, false, "x?y"));
        assert!(!m(r"x\?y", Anchor::Whole, false, "xAy"));
        assert!(m(r"C:\\Windows", Anchor::Whole, false, r"c:\windows"));
        assert!(m(r"C:\Windows", Anchor::Whole, false, r"c:\windows"));
        assert!(m(r"a\\*", Anchor::Whole, false, r"a\anything"));
    }

    #[test]
    fn case_rules() {
        assert!(!m("abc", Anchor::Whole, true, "ABC"));
        assert!(m("AbC", Anchor::Whole, true, "AbC"));
        assert!(m("ÄBC", Anchor::Contains, false, "xxäbcxx"));
        assert!(m("äbc", Anchor::Whole, false, "ÄBC"));
        assert!(!m("äbc", Anchor::Whole, true, "ÄBC"));
        assert!(m("x", Anchor::Contains, false, "ééX"));
        assert!(m("ΑΣ", Anchor::Whole, false, "ΑΣ"));
    }

    #[test]
    fn contains_fold_edge_cases() {
        assert!(contains_bytes(b"aaab", b"ab", true));
        assert!(contains_bytes(b"AB", b"ab", true));
        assert!(!contains_bytes(b"a", b"ab", true));
        assert!(contains_bytes(b"x1y", b"1y", true));
        assert!(contains_bytes(b"", b"", true));
    }

    #[test]
    fn numbers_format_without_fraction() {
        let mut buf = StackText::new();
        assert_eq!(number_text(42.0, &mut buf), "42");
        assert_eq!(number_text(1.5, &mut buf), "1.5");
        assert_eq!(number_text(123456789012.0, &mut buf), "123456789012");
        assert_eq!(number_text(1e300, &mut buf), "");
    }

    #[test]
    fn cidr() {
        let net = Cidr::parse("10.0.0.0/8").unwrap();
        assert!(net.contains("10.1.2.3"));
        assert!(!net.contains("11.1.2.3"));
        assert!(!net.contains("not-an-ip"));
        assert!(net.contains("::ffff:10.0.0.1"));
        let v6 = Cidr::parse("2001:db8::/32").unwrap();
        assert!(v6.contains("2001:db8::1"));
        assert!(!v6.contains("2001:db9::1"));
        assert!(Cidr::parse("0.0.0.0/0").unwrap().contains("1.2.3.4"));
        assert!(Cidr::parse("1.2.3.4").unwrap().contains("1.2.3.4"));
        assert!(Cidr::parse("1.2.3.4/33").is_none());
        assert!(Cidr::parse("x/8").is_none());
    }

    #[test]
    fn base64() {
        assert_eq!(base64_encode(b"hello"), "aGVsbG8=");
        assert_eq!(base64_encode(b"hi"), "aGk=");
        assert_eq!(base64_encode(b"abc"), "YWJj");
        // Values from pySigma's documentation of base64offset for "/bin/bash".
        assert_eq!(
            base64_offsets("/bin/bash"),
            ["L2Jpbi9iYXNo", "9iaW4vYmFza", "vYmluL2Jhc2"]
        );
    }
}
