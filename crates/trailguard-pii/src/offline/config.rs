//! The offline detector's configuration, and configuration files (TOML, or JSON by extension)
//! for the CLI and local runs.
//!
//! ```toml
//! languages = "eng+kor"
//! [policy]
//! entity_types = ["CREDIT_CARD", "KR_RRN", "MRZ"]
//! min_confidence = 0.6
//! faces_are_pii = true
//! ```
//! Unknown keys are refused (a typo must not silently fall back to a default policy).

use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

use crate::error::PiiDetectError;
use crate::policy::PolicyConfig;

/// Everything the offline detector can be told; every key has a default.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct OfflineConfig {
    pub policy: PolicyConfig,
    /// Refuse larger objects before decoding.
    pub max_bytes: u64,
    /// Refuse images whose header declares more pixels than this (decompression bombs).
    pub max_pixels: u64,
    pub max_alloc_bytes: u64,
    /// Tesseract languages, e.g. `eng+kor`.
    pub languages: String,
    pub tessdata_dir: Option<PathBuf>,
    pub ocr_max_pixels: u64,
    pub upscale_below_side: u32,
    pub deskew: bool,
    /// Second OCR pass (sparse-text segmentation, which finds fields on cards and photos that
    /// automatic page segmentation drops) when the first finds no counted entity; skipped past
    /// `second_pass_budget_ms`.
    pub second_pass: bool,
    /// Binarise (adaptive threshold) for the second pass; helps uneven light, hurts JPEG noise.
    pub second_pass_binarise: bool,
    /// Wall-clock budget after which the second pass is skipped (None: always run it). Under
    /// CPU contention a budget makes verdicts depend on load, so it is off by default; the
    /// OCR pixel budget already bounds the time.
    pub second_pass_budget_ms: Option<u64>,
    /// Run the face detector even when faces do not count (they are then reported only).
    pub detect_faces: bool,
    pub face_cascade: Option<PathBuf>,
    pub face_max_side: u32,
    pub face_min_neighbors: usize,
}

impl Default for OfflineConfig {
    fn default() -> Self {
        OfflineConfig {
            policy: PolicyConfig::default(),
            max_bytes: 50 * 1024 * 1024,
            max_pixels: 50_000_000,
            max_alloc_bytes: 512 * 1024 * 1024,
            languages: "eng+kor".into(),
            tessdata_dir: None,
            ocr_max_pixels: 4_000_000,
            upscale_below_side: 1000,
            deskew: true,
            second_pass: true,
            second_pass_binarise: false,
            second_pass_budget_ms: None,
            detect_faces: false,
            face_cascade: None,
            face_max_side: 640,
            face_min_neighbors: 3,
        }
    }
}

fn config_error(path: &Path, detail: impl std::fmt::Display) -> PiiDetectError {
    PiiDetectError::Config(format!("{}: {detail}", path.display()))
}

/// Reads an [`OfflineConfig`]: missing keys take their defaults, unknown keys are an error.
pub fn load_config(path: &Path) -> Result<OfflineConfig, PiiDetectError> {
    let text = std::fs::read_to_string(path).map_err(|e| config_error(path, e))?;
    let is_json = path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("json"));
    let value: serde_json::Value = if is_json {
        serde_json::from_str(&text).map_err(|e| config_error(path, e))?
    } else {
        let table: toml::Table = toml::from_str(&text).map_err(|e| config_error(path, e))?;
        serde_json::to_value(table).map_err(|e| config_error(path, e))?
    };
    parse_config(&value).map_err(|e| config_error(path, e))
}

/// Parses a configuration value, refusing keys the default configuration does not have.
pub fn parse_config(value: &serde_json::Value) -> Result<OfflineConfig, String> {
    let known = serde_json::to_value(OfflineConfig::default()).map_err(|e| e.to_string())?;
    unknown_keys(value, &known, "")?;
    serde_json::from_value(value.clone()).map_err(|e| e.to_string())
}

fn unknown_keys(
    value: &serde_json::Value,
    known: &serde_json::Value,
    prefix: &str,
) -> Result<(), String> {
    let (Some(given), Some(allowed)) = (value.as_object(), known.as_object()) else {
        return Ok(());
    };
    for (key, inner) in given {
        match allowed.get(key) {
            None => {
                let names: Vec<&str> = allowed.keys().map(String::as_str).collect();
                return Err(format!(
                    "unknown key `{prefix}{key}` (known: {})",
                    names.join(", ")
                ));
            }
            Some(known_inner) => unknown_keys(inner, known_inner, &format!("{prefix}{key}."))?,
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kind::EntityType;

    #[test]
    fn toml_policy_overrides_defaults() {
        let dir = std::env::temp_dir().join(format!("tg-pii-config-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("policy.toml");
        std::fs::write(
            &path,
            "languages = \"eng\"\n[policy]\nentity_types = [\"CREDIT_CARD\", \"MRZ\"]\n\
             min_confidence = 0.7\nfaces_are_pii = true\n",
        )
        .unwrap();
        let config = load_config(&path).unwrap();
        assert_eq!(config.languages, "eng");
        assert_eq!(config.policy.min_confidence, 0.7);
        assert!(config.policy.faces_are_pii);
        assert_eq!(
            config.policy.entity_types.into_iter().collect::<Vec<_>>(),
            [EntityType::CreditCard, EntityType::Mrz]
        );
        assert_eq!(config.max_pixels, OfflineConfig::default().max_pixels);

        std::fs::write(&path, "[policy]\nmin_confidenc = 0.7\n").unwrap();
        let err = load_config(&path).unwrap_err().to_string();
        assert!(err.contains("unknown key `policy.min_confidenc`"), "{err}");
        assert!(err.contains("policy.toml"), "{err}");

        std::fs::write(&path, "[policy]\nentity_types = [\"CREDIT_KARD\"]\n").unwrap();
        let err = load_config(&path).unwrap_err().to_string();
        assert!(err.contains("CREDIT_KARD"), "{err}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn json_config_is_read_by_extension() {
        let value = serde_json::json!({"policy": {"faces_are_pii": true}, "deskew": false});
        let config = parse_config(&value).unwrap();
        assert!(config.policy.faces_are_pii && !config.deskew);
    }
}
