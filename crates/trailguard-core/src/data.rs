//! Where third-party evaluation and benchmark data live (`../shared/data` beside the project).
//!
//! The location is a setting: a command-line flag, then the `TRAILGUARD_DATA` environment
//! variable, then [`DEFAULT_DATA_DIR`]. Callers pass what they read; nothing here touches the
//! file system.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

pub const DATA_ENV: &str = "TRAILGUARD_DATA";
pub const DEFAULT_DATA_DIR: &str = "../shared/data";

/// The data directory: `flag`, else the environment's value, else the default.
pub fn data_dir(flag: Option<&Path>, env: Option<OsString>) -> PathBuf {
    match (flag, env) {
        (Some(path), _) => path.to_path_buf(),
        (None, Some(value)) if !value.is_empty() => PathBuf::from(value),
        _ => PathBuf::from(DEFAULT_DATA_DIR),
    }
}

/// The message for data that is not where the setting points.
pub fn missing_data_message(path: &Path, what: &str) -> String {
    format!(
        "{what} not found at {}: point --data (or {DATA_ENV}) at the shared data directory (the default {DEFAULT_DATA_DIR} is relative to the current directory)",
        path.display()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flag_then_environment_then_default() {
        let flag = Path::new("/x");
        assert_eq!(data_dir(Some(flag), Some("/y".into())), PathBuf::from("/x"));
        assert_eq!(data_dir(None, Some("/y".into())), PathBuf::from("/y"));
        assert_eq!(
            data_dir(None, Some("".into())),
            PathBuf::from(DEFAULT_DATA_DIR)
        );
        assert_eq!(data_dir(None, None), PathBuf::from(DEFAULT_DATA_DIR));
        assert!(missing_data_message(flag, "the Panther set").contains("TRAILGUARD_DATA"));
    }
}
