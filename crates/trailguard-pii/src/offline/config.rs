//! The offline detector's configuration, and configuration files (TOML, or JSON by extension)
//! for the CLI and local runs.
//!
//! ```toml
//! engine = "onnx"              # auto (default), onnx, tesseract
//! models_dir = "/opt/trailguard/models"
//! threads = 2
//! [policy]
//! sensitivity = "strict"       # or balanced (default)
//! allow = ["PHONE_NUMBER"]     # kinds that never make an image PII on their own
//! min_confidence = 0.6
//! ```
//! Unknown keys are refused (a typo must not silently fall back to a default policy).

use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

use crate::error::PiiDetectError;
use crate::kind::EntityType;
use crate::policy::{PolicyConfig, Sensitivity};

/// Which engines read text and find faces.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Engine {
    /// The ONNX engines when their models are found, else Tesseract and Haar cascades (with a
    /// warning: their recall on real photos is far lower).
    #[default]
    Auto,
    /// PP-OCRv4 text (Tesseract re-reads Korean lines) and BlazeFace faces on ONNX Runtime;
    /// fails to start when the models are missing.
    Onnx,
    /// Tesseract OCR and Haar-cascade faces (the detector before the ONNX engines).
    Tesseract,
}

impl Engine {
    pub fn parse(name: &str) -> Option<Engine> {
        match name.trim().to_ascii_lowercase().as_str() {
            "auto" => Some(Engine::Auto),
            "onnx" => Some(Engine::Onnx),
            "tesseract" => Some(Engine::Tesseract),
            _ => None,
        }
    }
}

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
    /// `auto` (default), `onnx` or `tesseract`.
    pub engine: Engine,
    /// Where the ONNX models and `libonnxruntime.so` are (the directory itself or one
    /// subdirectory per artifact). Default: where `trailguard model fetch` puts them.
    pub models_dir: Option<PathBuf>,
    /// `libonnxruntime.so`, when not in `models_dir`.
    pub onnxruntime: Option<PathBuf>,
    /// Threads per ONNX inference (intra-op). 1 in the Lambda; more on a laptop.
    pub threads: usize,
    /// Stop reading at the first evidence that counts: the verdict is the same (evidence only
    /// adds up), the evidence list may be shorter. Off for redaction previews.
    pub early_stop: bool,
    /// At most this many text regions are recognised per image (MRZ-like lines first, then in
    /// reading order): bounds the time of text-heavy pages.
    pub max_text_lines: usize,
    /// Faces below this score are not reported (the policy's `face_min_confidence` decides
    /// what counts; `strict` counts every reported face).
    pub face_min_score: f32,
    /// Tesseract languages, e.g. `eng+kor`. With the ONNX engines, `kor` turns on the
    /// Tesseract re-reading of lines PP-OCR cannot spell (Hangul).
    pub languages: String,
    pub tessdata_dir: Option<PathBuf>,
    pub ocr_max_pixels: u64,
    pub upscale_below_side: u32,
    pub deskew: bool,
    /// Tesseract engine: a second pass (sparse-text segmentation, which finds fields on cards
    /// and photos that automatic page segmentation drops) when the first finds no counted entity.
    pub second_pass: bool,
    /// Binarise (adaptive threshold) for the second pass; helps uneven light, hurts JPEG noise.
    pub second_pass_binarise: bool,
    /// Run the face detector even when faces do not count (they are then reported only).
    pub detect_faces: bool,
    /// Haar cascade XML (`tesseract` engine).
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
            engine: Engine::Auto,
            models_dir: None,
            onnxruntime: None,
            threads: 1,
            early_stop: true,
            max_text_lines: 120,
            face_min_score: 0.55,
            languages: "eng+kor".into(),
            tessdata_dir: None,
            ocr_max_pixels: 4_000_000,
            upscale_below_side: 1000,
            deskew: true,
            second_pass: true,
            second_pass_binarise: false,
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
    // Optional keys are absent from the serialised default: list them.
    let mut known = serde_json::to_value(OfflineConfig::default()).map_err(|e| e.to_string())?;
    if let Some(map) = known.as_object_mut() {
        for key in ["models_dir", "onnxruntime", "tessdata_dir", "face_cascade"] {
            map.entry(key).or_insert(serde_json::Value::Null);
        }
    }
    unknown_keys(value, &known, "")?;
    let config: OfflineConfig = serde_json::from_value(value.clone()).map_err(|e| e.to_string())?;
    config.policy.validate()?;
    Ok(config)
}

/// Kind names, comma-separated (`PHONE_NUMBER,FACE`), as entity types.
pub fn parse_kinds(list: &str) -> Result<std::collections::BTreeSet<EntityType>, String> {
    let mut out = std::collections::BTreeSet::new();
    for name in list.split(',').map(str::trim).filter(|n| !n.is_empty()) {
        let kind = EntityType::parse(name).ok_or_else(|| {
            let known: Vec<&str> = EntityType::ALL.iter().map(|t| t.as_str()).collect();
            format!("unknown entity kind {name:?} (known: {})", known.join(", "))
        })?;
        out.insert(kind);
    }
    Ok(out)
}

impl OfflineConfig {
    /// Settings from the environment (the PII Lambda's): `PII_CONFIG` (a file as
    /// [`load_config`] reads, applied first), `PII_ENGINE` (auto|onnx|tesseract),
    /// `PII_MODEL_DIR`, `PII_ONNXRUNTIME`, `PII_THREADS`, `PII_SENSITIVITY` (strict|balanced),
    /// `PII_ALLOW` (kinds, comma-separated), `PII_MIN_CONFIDENCE`, `PII_FACES` (true|false),
    /// `PII_LANGUAGES`, `PII_MAX_TEXT_LINES`. Unset variables keep the defaults.
    pub fn from_env(
        lookup: impl Fn(&str) -> Option<String>,
    ) -> Result<OfflineConfig, PiiDetectError> {
        let get = |name: &str| {
            lookup(name)
                .map(|v| v.trim().to_string())
                .filter(|v| !v.is_empty())
        };
        let bad = |name: &str, detail: String| PiiDetectError::Config(format!("{name}: {detail}"));
        let mut config = match get("PII_CONFIG") {
            Some(path) => load_config(Path::new(&path))?,
            None => OfflineConfig::default(),
        };
        if let Some(v) = get("PII_ENGINE") {
            config.engine = Engine::parse(&v).ok_or_else(|| {
                bad(
                    "PII_ENGINE",
                    format!("{v:?}: expected auto, onnx or tesseract"),
                )
            })?;
        }
        if let Some(v) = get("PII_MODEL_DIR") {
            config.models_dir = Some(PathBuf::from(v));
        }
        if let Some(v) = get("PII_ONNXRUNTIME") {
            config.onnxruntime = Some(PathBuf::from(v));
        }
        if let Some(v) = get("PII_THREADS") {
            config.threads = v
                .parse::<usize>()
                .ok()
                .filter(|n| (1..=64).contains(n))
                .ok_or_else(|| bad("PII_THREADS", format!("{v:?}: expected 1 to 64")))?;
        }
        if let Some(v) = get("PII_SENSITIVITY") {
            config.policy.sensitivity = Sensitivity::parse(&v).ok_or_else(|| {
                bad(
                    "PII_SENSITIVITY",
                    format!("{v:?}: expected strict or balanced"),
                )
            })?;
        }
        if let Some(v) = get("PII_ALLOW") {
            config.policy.allow = parse_kinds(&v).map_err(|e| bad("PII_ALLOW", e))?;
        }
        if let Some(v) = get("PII_MIN_CONFIDENCE") {
            config.policy.min_confidence = v
                .parse::<f32>()
                .map_err(|e| bad("PII_MIN_CONFIDENCE", format!("{v:?}: {e}")))?;
        }
        if let Some(v) = get("PII_FACES") {
            config.policy.faces_are_pii = match v.to_ascii_lowercase().as_str() {
                "true" | "1" | "yes" => true,
                "false" | "0" | "no" => false,
                _ => return Err(bad("PII_FACES", format!("{v:?}: expected true or false"))),
            };
        }
        if let Some(v) = get("PII_LANGUAGES") {
            config.languages = v;
        }
        if let Some(v) = get("PII_MAX_TEXT_LINES") {
            config.max_text_lines =
                v.parse::<usize>().ok().filter(|n| *n >= 1).ok_or_else(|| {
                    bad(
                        "PII_MAX_TEXT_LINES",
                        format!("{v:?}: expected a positive number"),
                    )
                })?;
        }
        config
            .policy
            .validate()
            .map_err(|e| PiiDetectError::Config(e.to_string()))?;
        Ok(config)
    }
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
    fn environment_settings_for_the_lambda() {
        let env = |pairs: &'static [(&'static str, &'static str)]| {
            move |name: &str| {
                pairs
                    .iter()
                    .find(|(k, _)| *k == name)
                    .map(|(_, v)| v.to_string())
            }
        };
        let config = OfflineConfig::from_env(env(&[
            ("PII_ENGINE", "onnx"),
            ("PII_MODEL_DIR", "/opt/models"),
            ("PII_THREADS", "2"),
            ("PII_SENSITIVITY", "strict"),
            ("PII_ALLOW", "PHONE_NUMBER, email_address"),
        ]))
        .unwrap();
        assert_eq!(config.engine, Engine::Onnx);
        assert_eq!(config.models_dir.as_deref(), Some(Path::new("/opt/models")));
        assert_eq!(config.threads, 2);
        assert_eq!(config.policy.sensitivity, Sensitivity::Strict);
        assert_eq!(
            config.policy.allow.into_iter().collect::<Vec<_>>(),
            [EntityType::EmailAddress, EntityType::PhoneNumber]
        );
        assert_eq!(
            OfflineConfig::from_env(|_| None).unwrap(),
            OfflineConfig::default()
        );
        for (name, value) in [
            ("PII_ENGINE", "gpu"),
            ("PII_THREADS", "0"),
            ("PII_ALLOW", "ID_DOCUMENT"),
            ("PII_ALLOW", "PHONE"),
            ("PII_SENSITIVITY", "paranoid"),
        ] {
            let err = OfflineConfig::from_env(|n| (n == name).then(|| value.to_string()))
                .unwrap_err()
                .to_string();
            assert!(
                err.contains(name) || err.contains("ID_DOCUMENT"),
                "{name}={value}: {err}"
            );
        }
    }

    #[test]
    fn json_config_is_read_by_extension() {
        let value = serde_json::json!({"policy": {"faces_are_pii": true}, "deskew": false});
        let config = parse_config(&value).unwrap();
        assert!(config.policy.faces_are_pii && !config.deskew);
    }
}
