//! Incremental JSON framing: splits a byte stream into one slice per event without building a
//! tree. It tracks strings, escapes and bracket nesting only (iteratively, no recursion); full
//! JSON validation is left to `parse_event`.
//!
//! Framing, by the first byte of each top-level value:
//! - `{` whose first key is `"Records"` or `"Findings"` with an array value: each array element
//!   is one record (CloudTrail log files, S3 notifications, GuardDuty GetFindings output);
//! - any other `{`: the whole object is one record (an envelope, a finding, a bare record);
//! - `[`: each element is one record.
//!
//! Top-level values may follow each other (JSON Lines, concatenated JSON). Bytes are kept only
//! for the record being captured, so memory is bounded by the read chunk plus the record limit.

use memchr::memchr2;
use std::io::{self, Read};
use std::sync::Arc;

use crate::raw::{Origin, RawEvent, ReadError, ReadErrorKind, ReadOptions};

const CHUNK: usize = 256 * 1024;

/// Byte classes outside strings.
const PLAIN: u8 = 0;
const QUOTE: u8 = 1;
const OPEN_OBJ: u8 = 2;
const OPEN_ARR: u8 = 3;
const CLOSE_OBJ: u8 = 4;
const CLOSE_ARR: u8 = 5;

const CLASS: [u8; 256] = {
    let mut t = [PLAIN; 256];
    t[b'"' as usize] = QUOTE;
    t[b'{' as usize] = OPEN_OBJ;
    t[b'[' as usize] = OPEN_ARR;
    t[b'}' as usize] = CLOSE_OBJ;
    t[b']' as usize] = CLOSE_ARR;
    t
};

/// First `"` or `\` in `hay`. Most JSON strings are short: a few 8-byte word tests find their
/// end faster than a `memchr2` call's set-up; long strings go to `memchr2`.
fn find_quote_or_backslash(hay: &[u8]) -> Option<usize> {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGHS: u64 = 0x8080_8080_8080_8080;
    // The lowest flagged byte of this zero-byte test is exact (later ones may be false).
    let has_byte = |word: u64, byte: u8| {
        let x = word ^ (ONES * u64::from(byte));
        x.wrapping_sub(ONES) & !x & HIGHS
    };
    let mut at = 0;
    let mut word = [0u8; 8];
    for chunk in hay.chunks_exact(8).take(4) {
        word.copy_from_slice(chunk);
        let w = u64::from_le_bytes(word);
        let hits = has_byte(w, b'"') | has_byte(w, b'\\');
        if hits != 0 {
            return Some(at + (hits.trailing_zeros() / 8) as usize);
        }
        at += 8;
    }
    memchr2(b'"', b'\\', &hay[at..]).map(|k| at + k)
}

fn is_ws(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\r')
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ArrayState {
    /// Just after `[`.
    First,
    /// After an element.
    AfterElem,
    /// After `,`.
    Next,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum After {
    TopLevel,
    Array,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ctx {
    /// Between top-level values.
    TopLevel,
    /// After a framing error: skip to the next line that starts a value.
    Resync,
    /// Inside a top-level `{`, looking at the first key to tell a container from one record.
    ObjWantKey,
    ObjInKey {
        key_start: usize,
    },
    ObjWantColon {
        container: bool,
    },
    ObjWantValue,
    /// Inside an array of records.
    Array {
        state: ArrayState,
        in_container: bool,
    },
    /// Scanning a value body (a record, or something being skipped).
    Body,
    /// Skipping a scalar array element (number, literal).
    Scalar,
    /// The input ended or was abandoned.
    Done,
}

/// Per-value scanning state for `Ctx::Body`.
#[derive(Debug, Default)]
struct Body {
    depth: u32,
    in_string: bool,
    escape_pending: bool,
    /// true = array, for bracket matching up to the depth limit.
    stack: Vec<bool>,
    too_deep: bool,
    oversize: bool,
    /// Error to report instead of the value when it ends.
    pending: Option<ReadErrorKind>,
    /// Emit (a record or `pending`) when the body ends; false for skipped container tails.
    emits: bool,
    after: Option<After>,
    in_container: bool,
}

/// Splits one input stream into records.
pub(crate) struct Scanner {
    src: Box<dyn Read + Send>,
    file: Arc<str>,
    opts: ReadOptions,
    buf: Vec<u8>,
    max_buf: usize,
    pos: usize,
    len: usize,
    /// Stream offset of `buf[0]`.
    base: u64,
    /// Start (in `buf`) of the record being captured.
    rec_start: Option<usize>,
    /// Stream offset where the current record began (kept when capture is dropped).
    rec_offset: u64,
    index: u64,
    eof: bool,
    started: bool,
    ctx: Ctx,
    body: Body,
}

impl Scanner {
    pub(crate) fn new(file: Arc<str>, src: Box<dyn Read + Send>, opts: ReadOptions) -> Self {
        let chunk = CHUNK.min(opts.max_record_bytes.max(4096) * 2).max(4096);
        let max_buf = opts.max_record_bytes.saturating_add(2 * chunk);
        Scanner {
            src,
            file,
            opts,
            buf: vec![0; chunk],
            max_buf,
            pos: 0,
            len: 0,
            base: 0,
            rec_start: None,
            rec_offset: 0,
            index: 0,
            eof: false,
            started: false,
            ctx: Ctx::TopLevel,
            body: Body::default(),
        }
    }

    fn offset(&self, at: usize) -> u64 {
        self.base + at as u64
    }

    fn error(&self, index: Option<u64>, offset: u64, kind: ReadErrorKind) -> ReadError {
        ReadError {
            file: self.file.clone(),
            index,
            offset: Some(offset),
            kind,
        }
    }

    /// Keep the captured record (or nothing) and read more input.
    fn refill(&mut self) -> io::Result<usize> {
        let keep_from = self.rec_start.unwrap_or(self.pos).min(self.pos);
        if keep_from > 0 {
            self.buf.copy_within(keep_from..self.len, 0);
            self.len -= keep_from;
            self.pos -= keep_from;
            self.base += keep_from as u64;
            if let Some(s) = self.rec_start.as_mut() {
                *s -= keep_from;
            }
        }
        if self.len == self.buf.len() {
            let grown = (self.buf.len() * 2).min(self.max_buf);
            if grown > self.buf.len() {
                self.buf.resize(grown, 0);
            } else {
                // Only reachable if the record limit check lagged: stop capturing.
                self.drop_capture();
                self.buf.copy_within(self.pos..self.len, 0);
                self.len -= self.pos;
                self.base += self.pos as u64;
                self.pos = 0;
            }
        }
        loop {
            match self.src.read(&mut self.buf[self.len..]) {
                Ok(n) => {
                    self.len += n;
                    return Ok(n);
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            }
        }
    }

    fn drop_capture(&mut self) {
        if self.rec_start.take().is_some() && matches!(self.ctx, Ctx::Body) {
            self.body.oversize = true;
        }
    }

    /// Bytes at `pos` are available (reads more when needed). Ok(false) at end of input.
    fn ensure(&mut self) -> Result<bool, ReadError> {
        while self.pos >= self.len {
            if self.eof {
                return Ok(false);
            }
            match self.refill() {
                Ok(0) => self.eof = true,
                Ok(_) => {}
                Err(e) => {
                    let kind = ReadErrorKind::Io(e.to_string());
                    return Err(self.error(self.record_index(), self.offset(self.pos), kind));
                }
            }
        }
        Ok(true)
    }

    fn record_index(&self) -> Option<u64> {
        match self.ctx {
            Ctx::Body if self.body.emits => Some(self.index),
            Ctx::ObjWantKey
            | Ctx::ObjInKey { .. }
            | Ctx::ObjWantColon { .. }
            | Ctx::ObjWantValue
            | Ctx::Scalar => Some(self.index),
            _ => None,
        }
    }

    fn start_of_stream(&mut self) -> Result<(), ReadError> {
        self.started = true;
        // Need up to 3 bytes to see a BOM.
        while self.len < 3 && !self.eof {
            match self.refill() {
                Ok(0) => self.eof = true,
                Ok(_) => {}
                Err(e) => {
                    self.ctx = Ctx::Done;
                    return Err(self.error(None, 0, ReadErrorKind::Io(e.to_string())));
                }
            }
        }
        let head = &self.buf[..self.len];
        if head.starts_with(&[0xEF, 0xBB, 0xBF]) {
            self.pos = 3;
        } else if head.starts_with(&[0xFF, 0xFE]) || head.starts_with(&[0xFE, 0xFF]) {
            self.ctx = Ctx::Done;
            return Err(self.error(
                None,
                0,
                ReadErrorKind::Unsupported(
                    "UTF-16 input (byte-order mark); convert it to UTF-8".into(),
                ),
            ));
        }
        Ok(())
    }

    fn begin_body(
        &mut self,
        capture_from: Option<usize>,
        depth: u32,
        after: After,
        in_container: bool,
    ) {
        self.body = Body {
            depth,
            in_string: false,
            escape_pending: false,
            stack: std::mem::take(&mut self.body.stack),
            too_deep: false,
            oversize: false,
            pending: None,
            emits: true,
            after: Some(after),
            in_container,
        };
        self.body.stack.clear();
        self.rec_start = capture_from;
    }

    /// Framing error: report it and resynchronise at the next line.
    fn framing_error(&mut self, index: Option<u64>, at: usize, kind: ReadErrorKind) -> ReadError {
        self.rec_start = None;
        self.ctx = Ctx::Resync;
        self.error(index, self.offset(at), kind)
    }

    pub(crate) fn next_item(&mut self) -> Option<Result<RawEvent, ReadError>> {
        if !self.started {
            if let Err(e) = self.start_of_stream() {
                return Some(Err(e));
            }
        }
        loop {
            if self.ctx == Ctx::Done {
                return None;
            }
            match self.ensure() {
                Ok(true) => {}
                Ok(false) => return self.at_eof(),
                Err(e) => {
                    self.ctx = Ctx::Done;
                    self.rec_start = None;
                    return Some(Err(e));
                }
            }
            if let Some(item) = self.step() {
                return Some(item);
            }
        }
    }

    fn at_eof(&mut self) -> Option<Result<RawEvent, ReadError>> {
        let ctx = self.ctx;
        self.ctx = Ctx::Done;
        match ctx {
            Ctx::TopLevel | Ctx::Resync | Ctx::Done => None,
            Ctx::Body if !self.body.emits => Some(Err(self.error(
                None,
                self.offset(self.len),
                ReadErrorKind::Truncated("input ends inside the top-level object".into()),
            ))),
            Ctx::Array { .. } => Some(Err(self.error(
                None,
                self.offset(self.len),
                ReadErrorKind::Truncated(format!(
                    "input ends inside the array of records, after {} records",
                    self.index
                )),
            ))),
            _ => Some(Err(self.error(
                Some(self.index),
                self.rec_offset,
                ReadErrorKind::Truncated("input ends inside this record".into()),
            ))),
        }
    }

    /// Advance on the available bytes; returns an item when one is complete.
    fn step(&mut self) -> Option<Result<RawEvent, ReadError>> {
        match self.ctx {
            Ctx::Body => self.scan_body(),
            Ctx::TopLevel => {
                let b = self.buf[self.pos];
                if is_ws(b) {
                    self.pos += 1;
                    return None;
                }
                match b {
                    b'{' => {
                        self.rec_offset = self.offset(self.pos);
                        self.rec_start = Some(self.pos);
                        self.pos += 1;
                        self.ctx = Ctx::ObjWantKey;
                        None
                    }
                    b'[' => {
                        self.pos += 1;
                        self.ctx = Ctx::Array {
                            state: ArrayState::First,
                            in_container: false,
                        };
                        None
                    }
                    _ => {
                        let at = self.pos;
                        let kind = ReadErrorKind::Syntax(format!(
                            "expected a JSON object or array, found {}",
                            describe_byte(b)
                        ));
                        let idx = self.index;
                        self.index += 1;
                        Some(Err(self.framing_error(Some(idx), at, kind)))
                    }
                }
            }
            Ctx::Resync => {
                let slice = &self.buf[self.pos..self.len];
                match memchr::memchr(b'\n', slice) {
                    Some(k) => {
                        self.pos += k + 1;
                        self.ctx = Ctx::TopLevel;
                    }
                    None => self.pos = self.len,
                }
                None
            }
            Ctx::ObjWantKey => {
                let b = self.buf[self.pos];
                if is_ws(b) {
                    self.pos += 1;
                    return None;
                }
                if b == b'"' {
                    self.pos += 1;
                    let start = self.rec_start.unwrap_or(self.pos);
                    self.ctx = Ctx::ObjInKey {
                        key_start: self.pos - start,
                    };
                    return None;
                }
                // `{}` or invalid JSON: one record, for parse_event to judge.
                self.enter_single_object(false);
                None
            }
            Ctx::ObjInKey { key_start } => {
                let slice = &self.buf[self.pos..self.len];
                match memchr2(b'"', b'\\', slice) {
                    None => {
                        self.pos = self.len;
                        // Longer than any container key: a record; let the body scan (and its
                        // size limit) take over.
                        let key_len = self.rec_start.map_or(usize::MAX, |r| {
                            self.pos.saturating_sub(r.saturating_add(key_start))
                        });
                        if key_len > b"Findings".len() {
                            self.enter_single_object(true);
                        }
                        None
                    }
                    Some(k) if slice[k] == b'\\' => {
                        // Escaped first key: not a container key. Rescan it as a string.
                        self.pos += k;
                        self.enter_single_object(true);
                        None
                    }
                    Some(k) => {
                        let key = self
                            .rec_start
                            .and_then(|r| self.buf.get(r + key_start..self.pos + k))
                            .unwrap_or_default();
                        let container = key == b"Records" || key == b"Findings";
                        self.pos += k + 1;
                        self.ctx = Ctx::ObjWantColon { container };
                        None
                    }
                }
            }
            Ctx::ObjWantColon { container } => {
                let b = self.buf[self.pos];
                if is_ws(b) {
                    self.pos += 1;
                    return None;
                }
                if b == b':' && container {
                    self.pos += 1;
                    self.ctx = Ctx::ObjWantValue;
                } else {
                    self.enter_single_object(false);
                }
                None
            }
            Ctx::ObjWantValue => {
                let b = self.buf[self.pos];
                if is_ws(b) {
                    self.pos += 1;
                    return None;
                }
                if b == b'[' {
                    self.pos += 1;
                    self.rec_start = None;
                    self.ctx = Ctx::Array {
                        state: ArrayState::First,
                        in_container: true,
                    };
                    return None;
                }
                // `{"Records": 5}`: report it, skip the object.
                let key = container_key(&self.buf, self.rec_start);
                self.enter_single_object(false);
                self.rec_start = None;
                self.body.pending = Some(ReadErrorKind::WrongType(format!(
                    "\"{key}\" must be an array of records, found {}",
                    describe_value_start(b)
                )));
                None
            }
            Ctx::Array {
                state,
                in_container,
            } => self.step_array(state, in_container),
            Ctx::Scalar => {
                let slice = &self.buf[self.pos..self.len];
                match slice
                    .iter()
                    .position(|&b| matches!(b, b',' | b']' | b'}') || is_ws(b))
                {
                    Some(k) => {
                        self.pos += k;
                        let in_container = self.body.in_container;
                        self.ctx = Ctx::Array {
                            state: ArrayState::AfterElem,
                            in_container,
                        };
                        let idx = self.index;
                        self.index += 1;
                        let kind = self.body.pending.take().unwrap_or_else(|| {
                            ReadErrorKind::WrongType("expected an object".into())
                        });
                        Some(Err(self.error(Some(idx), self.rec_offset, kind)))
                    }
                    None => {
                        self.pos = self.len;
                        None
                    }
                }
            }
            Ctx::Done => None,
        }
    }

    /// The top-level object is one record; continue scanning its body at depth 1.
    fn enter_single_object(&mut self, in_string: bool) {
        let start = self.rec_start;
        self.begin_body(start, 1, After::TopLevel, false);
        // Capture was dropped while looking at the first key: the object is already too large.
        self.body.oversize = start.is_none();
        self.body.stack.push(false);
        self.body.in_string = in_string;
        self.ctx = Ctx::Body;
    }

    fn step_array(
        &mut self,
        state: ArrayState,
        in_container: bool,
    ) -> Option<Result<RawEvent, ReadError>> {
        let b = self.buf[self.pos];
        if is_ws(b) {
            self.pos += 1;
            return None;
        }
        let at = self.pos;
        match (state, b) {
            (ArrayState::AfterElem, b',') => {
                self.pos += 1;
                self.ctx = Ctx::Array {
                    state: ArrayState::Next,
                    in_container,
                };
                None
            }
            // `]` also after a trailing comma: harmless, the records are intact.
            (_, b']') => {
                self.pos += 1;
                if in_container {
                    // Skip the rest of the container object without emitting it.
                    self.begin_body(None, 1, After::TopLevel, false);
                    self.body.stack.push(false);
                    self.body.emits = false;
                    self.ctx = Ctx::Body;
                } else {
                    self.ctx = Ctx::TopLevel;
                }
                None
            }
            (ArrayState::AfterElem, _) => {
                let kind = ReadErrorKind::Syntax(format!(
                    "expected ',' or ']' after record {}, found {}",
                    self.index.saturating_sub(1),
                    describe_byte(b)
                ));
                Some(Err(self.framing_error(None, at, kind)))
            }
            (_, b'{') => {
                self.rec_offset = self.offset(self.pos);
                self.begin_body(Some(self.pos), 1, After::Array, in_container);
                self.body.stack.push(false);
                self.pos += 1;
                self.ctx = Ctx::Body;
                None
            }
            (_, b'[' | b'"') => {
                self.rec_offset = self.offset(self.pos);
                self.begin_body(None, 0, After::Array, in_container);
                self.body.pending = Some(ReadErrorKind::WrongType(format!(
                    "expected an object, found {}",
                    describe_value_start(b)
                )));
                if b == b'[' {
                    self.body.depth = 1;
                    self.body.stack.push(true);
                } else {
                    self.body.in_string = true;
                }
                self.pos += 1;
                self.ctx = Ctx::Body;
                None
            }
            (_, b'-' | b'0'..=b'9' | b't' | b'f' | b'n') => {
                self.rec_offset = self.offset(self.pos);
                self.body.in_container = in_container;
                self.body.pending = Some(ReadErrorKind::WrongType(format!(
                    "expected an object, found {}",
                    describe_value_start(b)
                )));
                self.ctx = Ctx::Scalar;
                None
            }
            _ => {
                let kind = ReadErrorKind::Syntax(format!(
                    "expected a record in the array, found {}",
                    describe_byte(b)
                ));
                Some(Err(self.framing_error(None, at, kind)))
            }
        }
    }

    /// The hot loop: scan a value body until it closes or the buffer ends.
    fn scan_body(&mut self) -> Option<Result<RawEvent, ReadError>> {
        let len = self.len;
        let mut i = self.pos;
        let max_depth = self.opts.max_depth as u32;
        let b = &mut self.body;
        if b.escape_pending {
            b.escape_pending = false;
            i += 1;
        }
        let mut end = None;
        let mut mismatch = None;
        {
            let buf = &self.buf[..len];
            while i < len {
                if b.in_string {
                    match find_quote_or_backslash(&buf[i..]) {
                        None => i = len,
                        Some(k) => {
                            let j = i + k;
                            if buf[j] == b'\\' {
                                if j + 1 < len {
                                    i = j + 2;
                                } else {
                                    b.escape_pending = true;
                                    i = len;
                                }
                            } else {
                                b.in_string = false;
                                i = j + 1;
                                if b.depth == 0 {
                                    end = Some(i);
                                    break;
                                }
                            }
                        }
                    }
                    continue;
                }
                let c = buf[i];
                match CLASS[c as usize] {
                    PLAIN => {}
                    QUOTE => b.in_string = true,
                    OPEN_OBJ | OPEN_ARR => {
                        b.depth += 1;
                        if b.depth <= max_depth {
                            b.stack.push(c == b'[');
                        } else {
                            b.too_deep = true;
                        }
                    }
                    _ => {
                        if b.depth <= max_depth {
                            let want_array = c == b']';
                            if b.stack.pop() != Some(want_array) {
                                mismatch = Some(i);
                                break;
                            }
                        }
                        b.depth -= 1;
                        if b.depth == 0 {
                            end = Some(i + 1);
                            break;
                        }
                    }
                }
                i += 1;
            }
        }
        if let Some(at) = mismatch {
            let index = self.body.emits.then_some(self.index);
            if self.body.emits {
                self.index += 1;
            }
            let c = self.buf[at] as char;
            self.pos = at + 1;
            let kind = ReadErrorKind::Syntax(format!("unbalanced '{c}'"));
            return Some(Err(self.framing_error(index, at, kind)));
        }
        match end {
            None => {
                self.pos = len;
                if let Some(s) = self.rec_start {
                    if len - s > self.opts.max_record_bytes {
                        self.drop_capture();
                    }
                }
                None
            }
            Some(e) => {
                self.pos = e;
                self.finish_body(e)
            }
        }
    }

    fn finish_body(&mut self, end: usize) -> Option<Result<RawEvent, ReadError>> {
        self.ctx = match self.body.after {
            Some(After::Array) => Ctx::Array {
                state: ArrayState::AfterElem,
                in_container: self.body.in_container,
            },
            _ => Ctx::TopLevel,
        };
        let start = self.rec_start.take();
        if !self.body.emits {
            return None;
        }
        let index = self.index;
        self.index += 1;
        let size = self.offset(end) - self.rec_offset;
        let kind = if let Some(kind) = self.body.pending.take() {
            kind
        } else if self.body.oversize || size > self.opts.max_record_bytes as u64 {
            ReadErrorKind::TooLarge {
                size,
                limit: self.opts.max_record_bytes,
            }
        } else if self.body.too_deep {
            ReadErrorKind::TooDeep {
                limit: self.opts.max_depth,
            }
        } else {
            let Some(start) = start else {
                return Some(Err(self.error(
                    Some(index),
                    self.rec_offset,
                    ReadErrorKind::Syntax("record lost its buffer".into()),
                )));
            };
            match std::str::from_utf8(&self.buf[start..end]) {
                Ok(s) => {
                    return Some(Ok(RawEvent {
                        origin: Origin {
                            file: self.file.clone(),
                            index,
                            offset: self.rec_offset,
                        },
                        json: Box::from(s),
                    }))
                }
                Err(e) => ReadErrorKind::NotUtf8 {
                    at: self.rec_offset + e.valid_up_to() as u64,
                },
            }
        };
        Some(Err(self.error(Some(index), self.rec_offset, kind)))
    }
}

fn container_key(buf: &[u8], rec_start: Option<usize>) -> &'static str {
    // Only two keys reach here; recover which one for the message.
    let head = rec_start.and_then(|s| buf.get(s..)).unwrap_or(&[]);
    if memchr::memmem::find(head.get(..64).unwrap_or(head), b"Findings").is_some() {
        "Findings"
    } else {
        "Records"
    }
}

fn describe_byte(b: u8) -> String {
    if b.is_ascii_graphic() {
        format!("'{}'", b as char)
    } else {
        format!("byte 0x{b:02x}")
    }
}

fn describe_value_start(b: u8) -> &'static str {
    match b {
        b'{' => "an object",
        b'[' => "an array",
        b'"' => "a string",
        b't' | b'f' => "a boolean",
        b'n' => "null",
        b'-' | b'0'..=b'9' => "a number",
        _ => "invalid JSON",
    }
}

#[cfg(test)]
mod tests {
    use super::find_quote_or_backslash;

    #[test]
    fn finds_the_first_quote_or_backslash_at_any_offset() {
        for len in 0..80 {
            for (at, c) in [(len / 3, b'"'), (len / 2, b'\\')] {
                let expected = (at < len).then_some(at);
                for fill in [b'a', 0xe9] {
                    let mut hay = vec![fill; len];
                    if let Some(at) = expected {
                        hay[at] = c;
                        hay[len - 1] = b'"';
                    }
                    assert_eq!(find_quote_or_backslash(&hay), expected, "len {len} at {at}");
                }
            }
        }
    }
}
