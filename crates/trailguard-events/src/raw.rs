//! What a reader yields: one record's JSON with where it came from, or an error naming the
//! file, record and byte offset; and the limits a reader applies. Shared by the readers and the
//! byte scanner under them.

use std::fmt;
use std::sync::Arc;

/// Limits for the readers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReadOptions {
    /// Records larger than this are skipped with [`ReadErrorKind::TooLarge`].
    pub max_record_bytes: usize,
    /// Records nesting deeper than this many levels (the record's own `{` is level 1) are
    /// skipped with [`ReadErrorKind::TooDeep`]. The default, 127, is the most serde_json's
    /// recursion limit (128) lets through, so every record the reader yields can be parsed.
    pub max_depth: usize,
}

impl ReadOptions {
    pub const DEFAULT_MAX_RECORD_BYTES: usize = 8 * 1024 * 1024;
    pub const DEFAULT_MAX_DEPTH: usize = 127;
}

impl Default for ReadOptions {
    fn default() -> Self {
        ReadOptions {
            max_record_bytes: Self::DEFAULT_MAX_RECORD_BYTES,
            max_depth: Self::DEFAULT_MAX_DEPTH,
        }
    }
}

/// Where a record came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    /// The path as given or found while walking a directory, or `<stdin>`.
    pub file: Arc<str>,
    /// Index of the record within the file, counting records that failed too.
    pub index: u64,
    /// Byte offset of the record in the (decompressed) stream.
    pub offset: u64,
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} record {} (byte {})",
            self.file, self.index, self.offset
        )
    }
}

/// One record's JSON text, ready for [`crate::parse_event`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawEvent {
    pub origin: Origin,
    pub json: Box<str>,
}

impl RawEvent {
    /// Parse this record; the event borrows from `self.json`.
    pub fn parse(&self) -> Result<crate::Event<'_>, crate::ParseError> {
        crate::parse_event(&self.json)
    }
}

/// A reader error with its location.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct ReadError {
    pub file: Arc<str>,
    /// The record index, when the error belongs to one record.
    pub index: Option<u64>,
    /// Byte offset in the (decompressed) stream.
    pub offset: Option<u64>,
    pub kind: ReadErrorKind,
}

impl fmt::Display for ReadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file)?;
        match (self.index, self.offset) {
            (Some(i), Some(o)) => write!(f, ": record {i} (byte {o})")?,
            (Some(i), None) => write!(f, ": record {i}")?,
            (None, Some(o)) => write!(f, ": byte {o}")?,
            (None, None) => {}
        }
        write!(f, ": {}", self.kind)
    }
}

impl ReadError {
    /// True when the reader gave up on the rest of this file (I/O or gzip failure, truncated
    /// input, unsupported encoding). Other errors skip one record or, for broken framing, the rest
    /// of the current line.
    pub fn abandons_file(&self) -> bool {
        matches!(
            self.kind,
            ReadErrorKind::Io(_) | ReadErrorKind::Truncated(_) | ReadErrorKind::Unsupported(_)
        )
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReadErrorKind {
    /// Opening or reading failed, including corrupt or truncated gzip.
    #[error("read failed: {0}")]
    Io(String),
    #[error("unsupported input: {0}")]
    Unsupported(String),
    /// Broken framing (stray bytes, unbalanced brackets); the rest of the line is skipped.
    #[error("invalid JSON: {0}; skipped to the next line")]
    Syntax(String),
    #[error("truncated: {0}")]
    Truncated(String),
    /// A value where a record should be is not an object, or `Records` is not an array.
    #[error("wrong type: {0}")]
    WrongType(String),
    #[error("record is {size} bytes, over the {limit}-byte limit; skipped")]
    TooLarge { size: u64, limit: usize },
    #[error("record nests deeper than {limit} levels; skipped")]
    TooDeep { limit: usize },
    #[error("record is not valid UTF-8 (first bad byte at stream offset {at}); skipped")]
    NotUtf8 { at: u64 },
}
