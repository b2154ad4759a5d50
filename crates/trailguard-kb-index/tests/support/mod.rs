//! Where tests find the shared data (`TRAILGUARD_DATA`, default `../shared/data` beside the
//! workspace): under CI a missing directory fails the test, elsewhere it is skipped loudly.
#![allow(dead_code, clippy::panic)]

use std::path::{Path, PathBuf};

pub fn data_dir() -> PathBuf {
    let dir =
        trailguard_core::data::data_dir(None, std::env::var_os(trailguard_core::data::DATA_ENV));
    if dir.is_relative() {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../..")
            .join(dir)
    } else {
        dir
    }
}

/// The data directory when it holds the shared corpus; `None` after a loud note (a panic
/// under CI).
pub fn shared_data() -> Option<PathBuf> {
    let dir = data_dir();
    let probe = dir.join(trailguard_kb_index::ingest::SHARED_CORPUS[1]);
    if probe.exists() {
        return Some(dir);
    }
    let message =
        trailguard_core::data::missing_data_message(&probe, "the shared OTRF and Panther records");
    if std::env::var_os("CI").is_some_and(|v| !v.is_empty() && v != "false") {
        panic!("{message}");
    }
    eprintln!("\n*** SKIPPED: {message} ***\n");
    None
}

pub fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}
