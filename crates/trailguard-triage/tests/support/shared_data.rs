//! Where tests find third-party data (`TRAILGUARD_DATA`, default `../shared/data` beside the
//! workspace) and what they do without it: fail under CI, where a skipped check would pass
//! unnoticed; elsewhere skip with a loud note, so a fresh checkout still runs its tests.
// Each test target uses part of this file.
#![allow(dead_code, clippy::panic)]

use std::path::{Path, PathBuf};

/// The data directory the tests read. A relative setting (the default included) is taken from
/// the workspace root, because tests run in their crate's directory.
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

fn under_ci() -> bool {
    std::env::var_os("CI").is_some_and(|v| !v.is_empty() && v != "false")
}

/// `relative` inside the data directory when it exists; `None` after a loud skip note when it
/// does not (a panic with the setting to fix under CI).
pub fn require(relative: &str, what: &str) -> Option<PathBuf> {
    let path = data_dir().join(relative);
    if path.exists() {
        return Some(path);
    }
    let message = trailguard_core::data::missing_data_message(&path, what);
    if under_ci() {
        panic!("{message}");
    }
    eprintln!("\n*** SKIPPED: {message} ***\n");
    None
}
