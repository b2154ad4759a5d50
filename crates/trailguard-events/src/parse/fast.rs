//! A fast path for [`Probe`]: one hand-written pass over the common, well-formed record.
//!
//! It validates as strictly as serde_json and gives up (returns `None`) on anything it does not
//! handle exactly as the serde path would: escaped keys or typed strings, duplicate fields, an
//! `s3` entity, unusual value types, deep nesting, trailing bytes. The caller then runs the
//! serde path, so results and error messages never differ; only the common case is faster.

use serde_json::value::RawValue;
use std::borrow::Cow;

use super::probe::Probe;
use crate::model::{SessionAttributes, SessionContext, SessionIssuer, TlsDetails, UserIdentity};

/// Nesting followed before giving up (serde_json stops at 128).
const MAX_DEPTH: u32 = 100;

const ONES: u64 = 0x0101_0101_0101_0101;
const HIGHS: u64 = 0x8080_8080_8080_8080;

/// The lowest flagged byte of these zero-byte tests is exact; later ones may be false, but only
/// above a true one, so the lowest flag of an OR of them is exact too.
fn has_byte(word: u64, byte: u8) -> u64 {
    let x = word ^ (ONES * u64::from(byte));
    x.wrapping_sub(ONES) & !x & HIGHS
}

fn below_space(word: u64) -> u64 {
    word.wrapping_sub(ONES * 0x20) & !word & HIGHS
}

/// Index of the first `"`, `\` or (unless the text has none) control byte at or after `i`.
#[inline]
fn find_special(b: &[u8], mut i: usize, controls: bool) -> Option<usize> {
    while let Some(chunk) = b.get(i..i + 8) {
        let mut word = [0u8; 8];
        word.copy_from_slice(chunk);
        let w = u64::from_le_bytes(word);
        let mut hits = has_byte(w, b'"') | has_byte(w, b'\\');
        if controls {
            hits |= below_space(w);
        }
        if hits != 0 {
            return Some(i + (hits.trailing_zeros() / 8) as usize);
        }
        i += 8;
    }
    b[i.min(b.len())..]
        .iter()
        .position(|&c| c == b'"' || c == b'\\' || c < 0x20)
        .map(|k| i + k)
}

/// Whether `b` holds a byte below 0x20 (written so the compiler vectorizes it: one check per
/// record lets the string scans skip the control-character test).
fn has_control_byte(b: &[u8]) -> bool {
    let mut chunks = b.chunks_exact(32);
    for chunk in &mut chunks {
        if chunk.iter().fold(0u8, |acc, &x| acc | u8::from(x < 0x20)) != 0 {
            return true;
        }
    }
    chunks.remainder().iter().any(|&x| x < 0x20)
}

/// A cursor over one JSON text. Every method returns `None` where the fast path gives up.
pub(crate) struct Lexer<'a> {
    s: &'a str,
    i: usize,
    /// The text may hold control bytes (whitespace between tokens, or invalid ones in strings).
    controls: bool,
    /// The text is known to be valid JSON (a `RawValue`): skipped values need no validation.
    trusted: bool,
}

impl<'a> Lexer<'a> {
    pub(crate) fn new(s: &'a str) -> Self {
        Lexer {
            s,
            i: 0,
            controls: has_control_byte(s.as_bytes()),
            trusted: false,
        }
    }

    /// A cursor over a raw value's text, which serde_json or this module has validated: its
    /// strings hold no control bytes (those are invalid JSON), so no need to look for them.
    fn over_raw(raw: &'a RawValue) -> Self {
        Lexer {
            s: raw.get(),
            i: 0,
            controls: false,
            trusted: true,
        }
    }

    /// Skips one value of valid JSON by tracking only strings and brackets.
    fn skip_trusted(&mut self) -> Option<()> {
        self.ws();
        let b = self.bytes();
        match self.peek()? {
            b'"' => self.skip_str(),
            b'{' | b'[' => {
                let mut depth = 0u32;
                let mut i = self.i;
                loop {
                    match *b.get(i)? {
                        b'"' => {
                            self.i = i;
                            self.skip_str()?;
                            i = self.i;
                            continue;
                        }
                        b'{' | b'[' => depth += 1,
                        b'}' | b']' => {
                            depth = depth.checked_sub(1)?;
                            if depth == 0 {
                                self.i = i + 1;
                                return Some(());
                            }
                        }
                        _ => {}
                    }
                    i += 1;
                }
            }
            _ => {
                let rest = b.get(self.i..)?;
                self.i += rest
                    .iter()
                    .position(|&c| matches!(c, b',' | b'}' | b']' | b' ' | b'\n' | b'\t' | b'\r'))
                    .unwrap_or(rest.len());
                Some(())
            }
        }
    }

    fn bytes(&self) -> &'a [u8] {
        self.s.as_bytes()
    }

    fn peek(&self) -> Option<u8> {
        self.bytes().get(self.i).copied()
    }

    fn ws(&mut self) {
        let b = self.bytes();
        while let Some(&c) = b.get(self.i) {
            if matches!(c, b' ' | b'\n' | b'\t' | b'\r') {
                self.i += 1;
            } else {
                break;
            }
        }
    }

    /// Skips whitespace and expects `c`.
    fn eat(&mut self, c: u8) -> Option<()> {
        self.ws();
        (self.peek()? == c).then(|| self.i += 1)
    }

    /// A string without escapes or control characters, borrowed; the cursor is on its `"`.
    #[inline]
    fn plain_str(&mut self) -> Option<&'a str> {
        let b = self.bytes();
        if b.get(self.i) != Some(&b'"') {
            return None;
        }
        let start = self.i + 1;
        let end = find_special(b, start, self.controls)?;
        if b[end] != b'"' {
            return None;
        }
        self.i = end + 1;
        self.s.get(start..end)
    }

    /// Skips a string (escapes allowed, validated as serde_json does); the cursor is on its `"`.
    fn skip_str(&mut self) -> Option<()> {
        let b = self.bytes();
        let mut i = self.i + 1;
        loop {
            let at = find_special(b, i, self.controls)?;
            match b[at] {
                b'"' => {
                    self.i = at + 1;
                    return Some(());
                }
                b'\\' => match *b.get(at + 1)? {
                    b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't' => i = at + 2,
                    b'u' => {
                        let hex = b.get(at + 2..at + 6)?;
                        if !hex.iter().all(u8::is_ascii_hexdigit) {
                            return None;
                        }
                        i = at + 6;
                    }
                    _ => return None,
                },
                _ => return None,
            }
        }
    }

    fn skip_number(&mut self) -> Option<()> {
        let b = self.bytes();
        let mut i = self.i;
        if b.get(i) == Some(&b'-') {
            i += 1;
        }
        let digits = |i: &mut usize| {
            let from = *i;
            while b.get(*i).is_some_and(u8::is_ascii_digit) {
                *i += 1;
            }
            *i > from
        };
        match b.get(i)? {
            b'0' => i += 1,
            b'1'..=b'9' => {
                digits(&mut i);
            }
            _ => return None,
        }
        if b.get(i) == Some(&b'.') {
            i += 1;
            if !digits(&mut i) {
                return None;
            }
        }
        if matches!(b.get(i), Some(b'e' | b'E')) {
            i += 1;
            if matches!(b.get(i), Some(b'+' | b'-')) {
                i += 1;
            }
            if !digits(&mut i) {
                return None;
            }
        }
        // A number must end at a delimiter (serde_json rejects `01`, `1x`).
        match b.get(i) {
            None | Some(b' ' | b'\n' | b'\t' | b'\r' | b',' | b'}' | b']') => {
                self.i = i;
                Some(())
            }
            _ => None,
        }
    }

    fn literal(&mut self, word: &[u8]) -> Option<()> {
        if self.bytes().get(self.i..self.i + word.len())? == word {
            self.i += word.len();
            Some(())
        } else {
            None
        }
    }

    /// Skips one value of any type, validating it.
    fn skip_value(&mut self, depth: u32) -> Option<()> {
        if self.trusted {
            return self.skip_trusted();
        }
        if depth > MAX_DEPTH {
            return None;
        }
        self.ws();
        match self.peek()? {
            b'"' => self.skip_str(),
            b'{' => {
                self.i += 1;
                self.ws();
                if self.peek()? == b'}' {
                    self.i += 1;
                    return Some(());
                }
                loop {
                    self.ws();
                    if self.peek()? != b'"' {
                        return None;
                    }
                    self.skip_str()?;
                    self.eat(b':')?;
                    self.skip_value(depth + 1)?;
                    self.ws();
                    match self.peek()? {
                        b',' => self.i += 1,
                        b'}' => {
                            self.i += 1;
                            return Some(());
                        }
                        _ => return None,
                    }
                }
            }
            b'[' => {
                self.i += 1;
                self.ws();
                if self.peek()? == b']' {
                    self.i += 1;
                    return Some(());
                }
                loop {
                    self.skip_value(depth + 1)?;
                    self.ws();
                    match self.peek()? {
                        b',' => self.i += 1,
                        b']' => {
                            self.i += 1;
                            return Some(());
                        }
                        _ => return None,
                    }
                }
            }
            b't' => self.literal(b"true"),
            b'f' => self.literal(b"false"),
            b'n' => self.literal(b"null"),
            b'-' | b'0'..=b'9' => self.skip_number(),
            _ => None,
        }
    }

    /// True (and consumed) when the next value is `null`.
    fn null(&mut self) -> bool {
        self.ws();
        self.peek() == Some(b'n') && self.literal(b"null").is_some()
    }

    /// Optional borrowed string (`opt_cow`): a plain string or null.
    fn opt_str(&mut self) -> Option<Option<Cow<'a, str>>> {
        self.opt_plain_str().map(|s| s.map(Cow::Borrowed))
    }

    fn opt_plain_str(&mut self) -> Option<Option<&'a str>> {
        if self.null() {
            return Some(None);
        }
        self.plain_str().map(Some)
    }

    /// Optional lenient boolean (`opt_bool`).
    fn opt_bool(&mut self) -> Option<Option<bool>> {
        self.ws();
        match self.peek()? {
            b'n' => self.literal(b"null").map(|()| None),
            b't' => self.literal(b"true").map(|()| Some(true)),
            b'f' => self.literal(b"false").map(|()| Some(false)),
            b'"' => match self.plain_str()? {
                "true" | "True" | "TRUE" => Some(Some(true)),
                "false" | "False" | "FALSE" => Some(Some(false)),
                _ => None,
            },
            _ => None,
        }
    }

    /// Optional raw value: null is `None` (as serde's `Option<&RawValue>`), anything else the
    /// exact text of the value.
    fn opt_raw(&mut self, depth: u32) -> Option<Option<&'a RawValue>> {
        if self.null() {
            return Some(None);
        }
        let start = self.i;
        self.skip_value(depth)?;
        borrowed_raw(self.s.get(start..self.i)?).map(Some)
    }

    /// Iterates an object's members: calls `member(key, lexer)` with the cursor on each value,
    /// which must consume it. `null` reads as absent (the caller's `Option` is `None`).
    fn object(&mut self, mut member: impl FnMut(&'a str, &mut Self) -> Option<()>) -> Option<()> {
        self.eat(b'{')?;
        self.ws();
        if self.peek()? == b'}' {
            self.i += 1;
            return Some(());
        }
        loop {
            self.ws();
            let key = self.plain_str()?;
            self.eat(b':')?;
            self.ws();
            member(key, self)?;
            self.ws();
            match self.peek()? {
                b',' => self.i += 1,
                b'}' => {
                    self.i += 1;
                    return Some(());
                }
                _ => return None,
            }
        }
    }

    /// An optional object: null → None, `{...}` → parsed by `parse`; anything else gives up.
    fn opt_object<T>(&mut self, parse: impl FnOnce(&mut Self) -> Option<T>) -> Option<Option<T>> {
        if self.null() {
            return Some(None);
        }
        if self.peek()? != b'{' {
            return None;
        }
        parse(self).map(Some)
    }
}

/// The string members named `keys` of the JSON object `raw`, read the way serde deserializes a
/// struct of `Option<Cow<str>>` fields with those names (null or absent is `None`, other members
/// are skipped). `None` when serde must judge: not an object, a key given twice, a value that is
/// not a string, an escaped string. Callers then deserialize with serde, so results never differ.
pub fn object_str_fields<'a, const N: usize>(
    raw: &'a RawValue,
    keys: [&str; N],
) -> Option<[Option<&'a str>; N]> {
    let json = raw.get();
    let mut out = [None; N];
    let mut seen = Seen(0);
    let mut lx = Lexer::over_raw(raw);
    lx.ws();
    if lx.peek()? != b'{' {
        return None;
    }
    lx.object(|key, lx| match keys.iter().position(|k| *k == key) {
        Some(field) => {
            seen.first(u32::try_from(field).ok().filter(|f| *f < 64)?)?;
            out[field] = lx.opt_plain_str()?;
            Some(())
        }
        None => lx.skip_value(1),
    })?;
    lx.ws();
    (lx.i == json.len()).then_some(out)
}

/// A scalar found inside raw JSON by [`path_values`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum RawScalar<'a> {
    Null,
    Bool(bool),
    Number(f64),
    Str(&'a str),
}

/// Most dots in a path [`path_values`] follows itself.
const MAX_PATH_DOTS: usize = 7;

/// Appends the scalars at the dotted `path` inside the raw JSON value `raw`, with the lookup rules of
/// a `serde_json::Value` document in `trailguard_sigma`: arrays anywhere are flattened, a key
/// holding the whole remaining path (a literal dot) wins over nesting, otherwise every split
/// point is tried in order; scalars before the path ends are not visited. `None` (with `out` in
/// an unspecified state) when only a parsed tree can answer exactly: an escaped key or string, a
/// key given twice, an object where the path ends, a number that is not a plain integer.
pub fn path_values<'a>(raw: &'a RawValue, path: &str, out: &mut Vec<RawScalar<'a>>) -> Option<()> {
    let mut lx = Lexer::over_raw(raw);
    values_at(&mut lx, path, out, 0)
}

/// Reads the value at the cursor (consuming it) and appends the scalars at `path` inside it.
fn values_at<'a>(
    lx: &mut Lexer<'a>,
    path: &str,
    out: &mut Vec<RawScalar<'a>>,
    depth: u32,
) -> Option<()> {
    if depth > MAX_DEPTH {
        return None;
    }
    lx.ws();
    match lx.peek()? {
        b'[' => {
            lx.i += 1;
            lx.ws();
            if lx.peek()? == b']' {
                lx.i += 1;
                return Some(());
            }
            loop {
                values_at(lx, path, out, depth + 1)?;
                lx.ws();
                match lx.peek()? {
                    b',' => lx.i += 1,
                    b']' => {
                        lx.i += 1;
                        return Some(());
                    }
                    _ => return None,
                }
            }
        }
        // An object where the path ends is visited as its JSON text: the tree's job.
        b'{' if path.is_empty() => None,
        b'{' => {
            // Where the values of the whole path and of each prefix before a dot start.
            let mut dot_at = [0usize; MAX_PATH_DOTS];
            let mut count = 0;
            for (at, _) in path.bytes().enumerate().filter(|(_, b)| *b == b'.') {
                *dot_at.get_mut(count)? = at;
                count += 1;
            }
            let dots = &dot_at[..count];
            let mut whole: Option<usize> = None;
            let mut prefixes: [Option<usize>; MAX_PATH_DOTS] = [None; MAX_PATH_DOTS];
            lx.object(|key, lx| {
                lx.ws();
                let slot = if key == path {
                    Some(&mut whole)
                } else {
                    dots.iter()
                        .position(|&dot| path.get(..dot) == Some(key))
                        .and_then(|k| prefixes.get_mut(k))
                };
                if let Some(slot) = slot {
                    if slot.is_some() {
                        return None; // a key given twice: the tree keeps the last one
                    }
                    *slot = Some(lx.i);
                }
                lx.skip_value(depth + 1)
            })?;
            let mut at = |start: usize, rest: &str| {
                let mut sub = Lexer {
                    s: lx.s,
                    i: start,
                    controls: lx.controls,
                    trusted: lx.trusted,
                };
                values_at(&mut sub, rest, out, depth + 1)
            };
            if let Some(start) = whole {
                return at(start, "");
            }
            for (k, &dot) in dots.iter().enumerate() {
                if let (Some(start), Some(rest)) = (prefixes[k], path.get(dot + 1..)) {
                    at(start, rest)?;
                }
            }
            Some(())
        }
        _ if !path.is_empty() => lx.skip_value(depth),
        b'"' => {
            let text = lx.plain_str()?;
            out.push(RawScalar::Str(text));
            Some(())
        }
        b'n' => lx.literal(b"null").map(|()| out.push(RawScalar::Null)),
        b't' => lx
            .literal(b"true")
            .map(|()| out.push(RawScalar::Bool(true))),
        b'f' => lx
            .literal(b"false")
            .map(|()| out.push(RawScalar::Bool(false))),
        _ => {
            let start = lx.i;
            lx.skip_number()?;
            let text = lx.s.get(start..lx.i)?;
            // Plain integers convert exactly as serde_json's `as_f64`; others go to serde.
            let digits = text.strip_prefix('-').unwrap_or(text);
            if digits.len() > 18 || !digits.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            let n: i64 = text.parse().ok()?;
            out.push(RawScalar::Number(n as f64));
            Some(())
        }
    }
}

/// serde_json's name for a raw value in the serde data model (`serde_json::value::RawValue`
/// deserializes from a one-entry map with this key and the JSON text as a borrowed string).
const RAW_VALUE_TOKEN: &str = "$serde_json::private::RawValue";

/// Hands `text` (already validated) to serde_json as a borrowed raw value without scanning it
/// again. Should serde_json ever change this protocol, the error makes the fast path give up and
/// the serde path runs: slower, never wrong.
fn borrowed_raw(text: &str) -> Option<&RawValue> {
    use serde::de::value::{BorrowedStrDeserializer, Error, MapAccessDeserializer};
    use serde::de::{DeserializeSeed, MapAccess};
    use serde::Deserialize;

    struct OneEntry<'a> {
        text: &'a str,
        key_given: bool,
    }

    impl<'de> MapAccess<'de> for OneEntry<'de> {
        type Error = Error;

        fn next_key_seed<K: DeserializeSeed<'de>>(
            &mut self,
            seed: K,
        ) -> Result<Option<K::Value>, Error> {
            if std::mem::replace(&mut self.key_given, true) {
                return Ok(None);
            }
            seed.deserialize(BorrowedStrDeserializer::new(RAW_VALUE_TOKEN))
                .map(Some)
        }

        fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, Error> {
            seed.deserialize(BorrowedStrDeserializer::new(self.text))
        }
    }

    let entry = OneEntry {
        text,
        key_given: false,
    };
    <&RawValue>::deserialize(MapAccessDeserializer::new(entry)).ok()
}

/// Records which fields were seen; a repeated field makes serde fail, so the fast path gives up.
struct Seen(u64);

impl Seen {
    fn first(&mut self, field: u32) -> Option<()> {
        let bit = 1u64 << field;
        if self.0 & bit != 0 {
            return None;
        }
        self.0 |= bit;
        Some(())
    }
}

fn session_attributes<'a>(lx: &mut Lexer<'a>, depth: u32) -> Option<SessionAttributes<'a>> {
    let mut out = SessionAttributes::default();
    let mut seen = Seen(0);
    lx.object(|key, lx| match key {
        "mfaAuthenticated" | "mfaauthenticated" => {
            seen.first(0)?;
            out.mfa_authenticated = lx.opt_bool()?;
            Some(())
        }
        "creationDate" | "creationdate" => {
            seen.first(1)?;
            out.creation_date = lx.opt_str()?;
            Some(())
        }
        _ => lx.skip_value(depth + 1),
    })?;
    Some(out)
}

fn session_issuer<'a>(lx: &mut Lexer<'a>, depth: u32) -> Option<SessionIssuer<'a>> {
    let mut out = SessionIssuer::default();
    let mut seen = Seen(0);
    lx.object(|key, lx| {
        let (field, slot) = match key {
            "type" => (0, &mut out.issuer_type),
            "principalId" | "principalid" => (1, &mut out.principal_id),
            "arn" => (2, &mut out.arn),
            "accountId" | "accountid" => (3, &mut out.account_id),
            "userName" | "username" => (4, &mut out.user_name),
            _ => return lx.skip_value(depth + 1),
        };
        seen.first(field)?;
        *slot = lx.opt_str()?;
        Some(())
    })?;
    Some(out)
}

fn session_context<'a>(lx: &mut Lexer<'a>, depth: u32) -> Option<SessionContext<'a>> {
    let mut out = SessionContext::default();
    let mut seen = Seen(0);
    lx.object(|key, lx| match key {
        "attributes" => {
            seen.first(0)?;
            out.attributes = lx.opt_object(|lx| session_attributes(lx, depth + 1))?;
            Some(())
        }
        "sessionIssuer" | "sessionissuer" => {
            seen.first(1)?;
            out.session_issuer = lx.opt_object(|lx| session_issuer(lx, depth + 1))?;
            Some(())
        }
        _ => lx.skip_value(depth + 1),
    })?;
    Some(out)
}

fn user_identity<'a>(lx: &mut Lexer<'a>, depth: u32) -> Option<UserIdentity<'a>> {
    let mut out = UserIdentity::default();
    let mut seen = Seen(0);
    lx.object(|key, lx| {
        let (field, slot) = match key {
            "type" => (0, &mut out.identity_type),
            "principalId" | "principalid" => (1, &mut out.principal_id),
            "arn" => (2, &mut out.arn),
            "accountId" | "accountid" => (3, &mut out.account_id),
            "accessKeyId" | "accesskeyid" => (4, &mut out.access_key_id),
            "userName" | "username" => (5, &mut out.user_name),
            "invokedBy" | "invokedby" => (6, &mut out.invoked_by),
            "sessionContext" | "sessioncontext" => {
                seen.first(7)?;
                out.session_context = lx.opt_object(|lx| session_context(lx, depth + 1))?;
                return Some(());
            }
            _ => return lx.skip_value(depth + 1),
        };
        seen.first(field)?;
        *slot = lx.opt_str()?;
        Some(())
    })?;
    Some(out)
}

fn tls_details<'a>(lx: &mut Lexer<'a>, depth: u32) -> Option<TlsDetails<'a>> {
    let mut out = TlsDetails::default();
    let mut seen = Seen(0);
    lx.object(|key, lx| {
        let (field, slot) = match key {
            "tlsVersion" => (0, &mut out.tls_version),
            "cipherSuite" => (1, &mut out.cipher_suite),
            "clientProvidedHostHeader" => (2, &mut out.client_provided_host_header),
            _ => return lx.skip_value(depth + 1),
        };
        seen.first(field)?;
        *slot = lx.opt_str()?;
        Some(())
    })?;
    Some(out)
}

/// The probe of a JSON object, or `None` when the serde path must decide.
pub(super) fn probe(json: &str) -> Option<Probe<'_>> {
    let mut p = Probe::empty();
    let mut seen = Seen(0);
    let mut lx = Lexer::new(json);
    lx.object(|key, lx| {
        let (field, slot) = match key {
            "eventVersion" | "eventversion" => (0, &mut p.event_version),
            "eventTime" | "eventtime" => (1, &mut p.event_time),
            "eventSource" | "eventsource" => (2, &mut p.event_source),
            "eventName" | "eventname" => (3, &mut p.event_name),
            "awsRegion" | "awsregion" => (4, &mut p.aws_region),
            "sourceIPAddress" | "sourceipaddress" => (5, &mut p.source_ip_address),
            "userAgent" | "useragent" => (6, &mut p.user_agent),
            "errorCode" | "errorcode" => (7, &mut p.error_code),
            "errorMessage" | "errormessage" => (8, &mut p.error_message),
            "requestID" | "requestid" => (9, &mut p.request_id),
            "eventID" | "eventid" => (10, &mut p.event_id),
            "eventType" | "eventtype" => (11, &mut p.event_type),
            "recipientAccountId" | "recipientaccountid" => (12, &mut p.recipient_account_id),
            "eventCategory" | "eventcategory" => (13, &mut p.event_category),
            "sharedEventID" | "sharedeventid" => (14, &mut p.shared_event_id),
            "vpcEndpointId" | "vpcendpointid" => (15, &mut p.vpc_endpoint_id),
            "detail-type" => (16, &mut p.detail_type),
            "source" => (17, &mut p.source),
            "account" => (18, &mut p.account),
            "region" => (19, &mut p.region),
            "time" => (20, &mut p.time),
            "version" => (21, &mut p.version),
            _ => {
                let (field, slot) = match key {
                    "resources" => (30, &mut p.resources),
                    "requestParameters" | "requestparameters" => (31, &mut p.request_parameters),
                    "responseElements" | "responseelements" => (32, &mut p.response_elements),
                    "additionalEventData" | "additionaleventdata" => {
                        (33, &mut p.additional_event_data)
                    }
                    "serviceEventDetails" | "serviceeventdetails" => {
                        (34, &mut p.service_event_details)
                    }
                    "detail" => (35, &mut p.detail),
                    "id" => (36, &mut p.id),
                    "Severity" => (37, &mut p.severity_pascal),
                    "severity" => (38, &mut p.severity_camel),
                    "Type" => (39, &mut p.type_pascal),
                    "type" => (40, &mut p.type_camel),
                    "Records" => (41, &mut p.records),
                    "Findings" => (42, &mut p.findings),
                    _ => {
                        return match key {
                            "readOnly" | "readonly" => {
                                seen.first(50)?;
                                p.read_only = lx.opt_bool()?;
                                Some(())
                            }
                            "managementEvent" | "managementevent" => {
                                seen.first(51)?;
                                p.management_event = lx.opt_bool()?;
                                Some(())
                            }
                            "userIdentity" | "useridentity" => {
                                seen.first(52)?;
                                p.user_identity = lx.opt_object(|lx| user_identity(lx, 1))?;
                                Some(())
                            }
                            "tlsDetails" | "tlsdetails" => {
                                seen.first(53)?;
                                p.tls_details = lx.opt_object(|lx| tls_details(lx, 1))?;
                                Some(())
                            }
                            // The S3 notification entity is typed by the serde path.
                            "s3" => None,
                            _ => lx.skip_value(1),
                        };
                    }
                };
                seen.first(field)?;
                *slot = lx.opt_raw(1)?;
                return Some(());
            }
        };
        seen.first(field)?;
        *slot = lx.opt_str()?;
        Some(())
    })?;
    lx.ws();
    (lx.i == json.len()).then_some(p)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `path_values` finds what a `serde_json::Value` lookup finds, or gives up.
    #[test]
    fn path_values_follow_value_lookup_rules() {
        let json = r#"{"a":{"b":[{"c":"x"},{"c":["y",2]},{"d":1}]},"k.l":true,"k":{"l":false},
            "n":null,"o":{"p":1},"s":"t","m":{"x.y":{"z":-3},"x":{"y":{"z":4}}}}"#;
        let raw: &RawValue = serde_json::from_str(json).unwrap();
        let get = |path: &str| {
            let mut out = Vec::new();
            path_values(raw, path, &mut out).map(|()| out)
        };
        assert_eq!(
            get("a.b.c"),
            Some(vec![
                RawScalar::Str("x"),
                RawScalar::Str("y"),
                RawScalar::Number(2.0)
            ])
        );
        assert_eq!(get("k.l"), Some(vec![RawScalar::Bool(true)]));
        assert_eq!(get("n"), Some(vec![RawScalar::Null]));
        assert_eq!(get("n.x"), Some(vec![]));
        assert_eq!(get("s.x"), Some(vec![]));
        assert_eq!(get("zz"), Some(vec![]));
        assert_eq!(get("o"), None);
        assert_eq!(
            get("m.x.y.z"),
            Some(vec![RawScalar::Number(4.0), RawScalar::Number(-3.0)])
        );
        let mut out = Vec::new();
        for text in [r#"{"a":1,"a":2}"#, r#"{"a":1.5}"#, r#"{"a":"x\ny"}"#] {
            let raw: &RawValue = serde_json::from_str(text).unwrap();
            assert_eq!(path_values(raw, "a", &mut out), None, "{text}");
        }
    }

    #[test]
    fn string_fields_of_an_object() {
        let json = r#" {"bucketName":"b","n":[1,{"x":null}],"key":null,"other":"o"} "#;
        let raw: &RawValue = serde_json::from_str(json).unwrap();
        assert_eq!(
            object_str_fields(raw, ["bucketName", "key", "missing"]),
            Some([Some("b"), None, None])
        );
        for bad in [
            r#"{"bucketName":"a","bucketName":"b"}"#,
            r#"{"bucketName":5}"#,
            r#"{"bucketName":"a\nb"}"#,
            r#"["a"]"#,
            r#"{"bucketName":"a"} x"#,
        ] {
            let Ok(raw) = serde_json::from_str::<&RawValue>(bad) else {
                continue;
            };
            assert_eq!(object_str_fields(raw, ["bucketName"]), None, "{bad}");
        }
    }

    #[test]
    fn raw_values_borrow_without_copying() {
        let text = r#"{"a":[1,"x"]}"#;
        let raw = borrowed_raw(text).expect("serde_json accepts the raw value protocol");
        assert_eq!(raw.get(), text);
        assert!(std::ptr::eq(raw.get(), text));
    }

    #[test]
    fn gives_up_on_what_serde_must_judge() {
        for json in [
            r#"{"eventName":"a","eventName":"b"}"#,
            r#"{"eventName":"a","eventname":"b"}"#,
            r#"{"eventName":"a\u0041"}"#,
            r#"{"eventName":5}"#,
            r#"{"eventName":"a"} x"#,
            r#"{"eventName":"a",}"#,
            r#"{"x":01}"#,
            r#"{"x":1.}"#,
            r#"{"x":"\q"}"#,
            "{\"x\":\"a\tb\"}",
            r#"{"userIdentity":[1]}"#,
            r#"{"readOnly":"yes"}"#,
            r#"{"s3":{}}"#,
            r#"{"a\"b":1}"#,
        ] {
            assert!(probe(json).is_none(), "{json}");
        }
        let deep = format!("{{\"x\":{}{}}}", "[".repeat(200), "]".repeat(200));
        assert!(probe(&deep).is_none());
    }

    #[test]
    fn reads_the_common_record() {
        let json = r#" {"eventName":"PutObject","readOnly":"false","requestParameters":{"k":"a\"b","n":[1,-2.5e3,true,null]},
            "responseElements":null,"userIdentity":{"type":"Root","sessionContext":{"attributes":{"mfaAuthenticated":"true"}}},
            "other":{"deep":[{"x":"\u00e9"}]}} "#;
        let p = probe(json).expect("fast path");
        assert_eq!(p.event_name.as_deref(), Some("PutObject"));
        assert_eq!(p.read_only, Some(false));
        assert_eq!(
            p.request_parameters.map(RawValue::get),
            Some(r#"{"k":"a\"b","n":[1,-2.5e3,true,null]}"#)
        );
        assert!(p.response_elements.is_none());
        let identity = p.user_identity.expect("identity");
        assert_eq!(identity.identity_type.as_deref(), Some("Root"));
        assert_eq!(
            identity
                .session_context
                .and_then(|c| c.attributes)
                .and_then(|a| a.mfa_authenticated),
            Some(true)
        );
    }

    /// Every record of the shared data, and many damaged copies of each, parse to the same
    /// result (event or error message) on the fast and the serde path.
    #[test]
    fn same_result_as_serde_on_shared_records_and_damaged_copies() {
        let Some(panther) = crate::shared_data::require(
            "cloudtrail/panther/labelled_tests_aws_cloudtrail.jsonl",
            "Panther's labelled CloudTrail tests",
        ) else {
            return;
        };
        let text = std::fs::read_to_string(&panther)
            .unwrap_or_else(|e| panic!("cannot read {}: {e}", panther.display()));
        let mut records: Vec<String> = Vec::new();
        for line in text.lines() {
            let Ok(case) = serde_json::from_str::<serde_json::Value>(line) else {
                continue;
            };
            if let Some(log) = case.get("log") {
                records.push(log.to_string());
                records.push(serde_json::to_string_pretty(log).unwrap());
            }
        }
        let fixtures = concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/fixtures/events");
        for entry in std::fs::read_dir(fixtures).unwrap() {
            records.push(std::fs::read_to_string(entry.unwrap().path()).unwrap());
        }
        assert!(records.len() > 900, "{}", records.len());
        let same = |json: &str| {
            let fast = format!("{:?}", crate::parse_event(json));
            let slow = format!("{:?}", super::super::parse_event_serde(json));
            assert_eq!(fast, slow, "input: {json}");
        };
        let mut fast_hits = 0;
        for (n, record) in records.iter().enumerate() {
            same(record);
            fast_hits += usize::from(probe(record).is_some());
            let bytes = record.as_bytes();
            // Damage: cut, drop, duplicate or replace a byte at spread-out positions.
            for k in 0..24 {
                let at = (n * 7919 + k * 104_729) % bytes.len().max(1);
                let mut variants: Vec<Vec<u8>> = vec![bytes[..at].to_vec()];
                let mut dropped = bytes.to_vec();
                dropped.remove(at);
                variants.push(dropped);
                let mut doubled = bytes.to_vec();
                doubled.insert(at, bytes[at]);
                variants.push(doubled);
                for replacement in [b'"', b'\\', b',', b'}', b'1', b'\t', b'x'] {
                    let mut replaced = bytes.to_vec();
                    replaced[at] = replacement;
                    variants.push(replaced);
                }
                for variant in variants {
                    if let Ok(json) = std::str::from_utf8(&variant) {
                        same(json);
                    }
                }
            }
        }
        // The fast path must actually carry the common case.
        assert!(
            fast_hits * 10 > records.len() * 9,
            "{fast_hits} of {}",
            records.len()
        );
    }
}
