//! TrailGuard security events.
//!
//! - [`parse_event`]: one JSON value → a typed, borrowed [`Event`] (a CloudTrail record, bare or
//!   in an EventBridge envelope; an S3 notification record; an S3 EventBridge event; a GuardDuty
//!   finding). Strings borrow from the input unless escaped; `requestParameters` and the other
//!   free-form parts stay raw JSON ([`serde_json::value::RawValue`]) for the caller to parse.
//! - Readers ([`read_inputs`], [`read_file`], [`read_stdin`], [`read_reader`]): split files,
//!   directory trees, gzip and stdin into one [`RawEvent`] per record with memory bounded by
//!   [`ReadOptions::max_record_bytes`], never by the input size.
//!
//! ```
//! use trailguard_events::{read_reader, ReadOptions};
//!
//! let log: &'static [u8] = br#"{"Records":[{"eventName":"PutObject","eventSource":"s3.amazonaws.com",
//!     "requestParameters":{"bucketName":"photos","key":"a b.png"}}]}"#;
//! for item in read_reader("example.json", log, &ReadOptions::default()) {
//!     let raw = item.expect("framing");
//!     let event = raw.parse().expect("event");
//!     assert!(event.is_object_upload());
//!     assert_eq!(event.s3_object().unwrap().key, "a b.png");
//! }
//! ```

mod de;
mod event;
mod model;
mod parse;
mod raw;
mod read;
mod scan;
mod url;

pub use model::*;
pub use parse::{object_str_fields, parse_event, path_values, ParseError, RawScalar};
pub use raw::{Origin, RawEvent, ReadError, ReadErrorKind, ReadOptions};
pub use read::{
    is_log_file_name, read_file, read_inputs, read_reader, read_stdin, EventReader, Inputs,
};

#[cfg(test)]
#[path = "../tests/support/shared_data.rs"]
mod shared_data;
