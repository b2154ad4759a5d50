//! Which GGUF file a command runs: one named in the catalog, a file given by path, or the best
//! chat model already fetched (`trailguard model fetch`). Nothing is fetched here.

use std::path::{Path, PathBuf};

use trailguard_fetch::{catalog, Artifact, Cache, Status};

/// The catalog's chat models, best first: a choice without a name takes the first one fetched.
/// Qwen2.5-Coder-1.5B is the one that answers usefully; SmolLM2-135M only exercises the code
/// path (tests, CI), so it comes last.
pub const CHAT_MODELS: &[&Artifact] = &[
    &catalog::QWEN25_1_5B,
    &catalog::QWEN25_0_5B,
    &catalog::SMOLLM2_135M,
];

/// What the user asked for.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum ModelChoice {
    /// The best chat model in the cache ([`CHAT_MODELS`] order).
    #[default]
    Default,
    /// A catalog name (`smollm2-135m`, `qwen2.5-1.5b`, ...).
    Name(String),
    /// A GGUF file anywhere.
    Path(PathBuf),
}

impl ModelChoice {
    /// From one setting (`--model-id`): empty is the default, a value with a `/` or ending in
    /// `.gguf` a path, anything else a catalog name.
    pub fn from_setting(value: &str) -> ModelChoice {
        let value = value.trim();
        if value.is_empty() {
            ModelChoice::Default
        } else if value.contains('/') || value.ends_with(".gguf") {
            ModelChoice::Path(PathBuf::from(value))
        } else {
            ModelChoice::Name(value.to_string())
        }
    }
}

/// The model to load.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SelectedModel {
    /// The catalog name, or the file name for a path.
    pub name: String,
    pub path: PathBuf,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SelectError {
    /// No chat model is in the cache (the caller may fall back to the rules).
    #[error("no local model is fetched in {}: run `trailguard model fetch qwen2.5-1.5b` (1.1 GB, useful answers) or `trailguard model fetch smollm2-135m` (98 MB, a test-size model)", cache.display())]
    NoneFetched { cache: PathBuf },
    /// The named model is not ready in the cache.
    #[error("model {name} is {state} in {}: run `trailguard model fetch {name}`", cache.display())]
    NotFetched {
        name: String,
        state: String,
        cache: PathBuf,
    },
    #[error("{name:?} is not a chat model of the catalog (chat models: {known})")]
    Unknown { name: String, known: String },
    #[error("model file {} does not exist", path.display())]
    NoFile { path: PathBuf },
}

/// The GGUF file of a catalog model.
fn gguf_file(artifact: &Artifact) -> Option<&'static str> {
    artifact
        .file_names()
        .into_iter()
        .find(|name| name.ends_with(".gguf"))
}

fn ready(cache: &Cache, artifact: &Artifact) -> Option<SelectedModel> {
    let file = gguf_file(artifact)?;
    cache
        .file_if_ready(artifact, file)
        .map(|path| SelectedModel {
            name: artifact.name.to_string(),
            path,
        })
}

/// The model `choice` names, found in `cache` (cheap: no hashing, see
/// [`Cache::path_if_ready`]).
///
/// # Errors
/// [`SelectError::NoneFetched`] when nothing is fetched for a default choice; the others for a
/// named model or a path that cannot be used.
pub fn select(cache: &Cache, choice: &ModelChoice) -> Result<SelectedModel, SelectError> {
    match choice {
        ModelChoice::Default => CHAT_MODELS
            .iter()
            .find_map(|artifact| ready(cache, artifact))
            .ok_or_else(|| SelectError::NoneFetched {
                cache: cache.root().to_path_buf(),
            }),
        ModelChoice::Name(name) => {
            let artifact = CHAT_MODELS
                .iter()
                .find(|a| a.name == name.as_str())
                .ok_or_else(|| SelectError::Unknown {
                    name: name.clone(),
                    known: CHAT_MODELS
                        .iter()
                        .map(|a| a.name)
                        .collect::<Vec<_>>()
                        .join(", "),
                })?;
            ready(cache, artifact).ok_or_else(|| SelectError::NotFetched {
                name: name.clone(),
                state: match cache.status(artifact) {
                    Status::Ready(_) => "ready".into(),
                    Status::Missing => "not fetched".into(),
                    Status::Stale(reason) => format!("stale ({reason})"),
                },
                cache: cache.root().to_path_buf(),
            })
        }
        ModelChoice::Path(path) => {
            if !Path::new(path).exists() {
                return Err(SelectError::NoFile { path: path.clone() });
            }
            Ok(SelectedModel {
                name: path
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_else(|| path.display().to_string()),
                path: path.clone(),
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fake_fetch(root: &Path, artifact: &Artifact) {
        // A manifest as trailguard-fetch writes it, with files of the recorded lengths.
        let dir = root.join("models").join(artifact.name);
        std::fs::create_dir_all(&dir).unwrap();
        let mut files = Vec::new();
        for part in artifact.parts {
            let entries: Vec<(&str, &str)> = match part {
                trailguard_fetch::Part::Files { members, .. } => {
                    members.iter().map(|m| (m.name, m.sha256)).collect()
                }
                trailguard_fetch::Part::Joined { name, sha256, .. } => vec![(*name, *sha256)],
            };
            for (name, sha256) in entries {
                std::fs::write(dir.join(name), b"x").unwrap();
                files.push(serde_json::json!({"name": name, "sha256": sha256, "bytes": 1}));
            }
        }
        let manifest = serde_json::json!({"artifact": artifact.name, "files": files});
        std::fs::write(dir.join("manifest.json"), manifest.to_string()).unwrap();
    }

    fn temp_root(tag: &str) -> PathBuf {
        let root =
            std::env::temp_dir().join(format!("trailguard-select-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        std::fs::create_dir_all(&root).unwrap();
        root
    }

    #[test]
    fn the_best_fetched_model_is_chosen() {
        let root = temp_root("best");
        let cache = Cache::new(&root).unwrap();
        let none = select(&cache, &ModelChoice::Default).unwrap_err();
        assert!(matches!(none, SelectError::NoneFetched { .. }));
        assert!(none
            .to_string()
            .contains("trailguard model fetch smollm2-135m"));

        fake_fetch(&root, &catalog::SMOLLM2_135M);
        let chosen = select(&cache, &ModelChoice::Default).unwrap();
        assert_eq!(chosen.name, "smollm2-135m");
        assert!(chosen.path.ends_with("SmolLM2-135M-Instruct.Q4_1.gguf"));

        fake_fetch(&root, &catalog::QWEN25_1_5B);
        assert_eq!(
            select(&cache, &ModelChoice::Default).unwrap().name,
            "qwen2.5-1.5b"
        );
        let named = select(&cache, &ModelChoice::Name("smollm2-135m".into())).unwrap();
        assert_eq!(named.name, "smollm2-135m");
        let _ = std::fs::remove_dir_all(&root);
    }

    #[test]
    fn named_models_and_paths_are_checked() {
        let root = temp_root("named");
        let cache = Cache::new(&root).unwrap();
        let missing = select(&cache, &ModelChoice::Name("qwen2.5-0.5b".into())).unwrap_err();
        assert!(
            missing
                .to_string()
                .contains("run `trailguard model fetch qwen2.5-0.5b`"),
            "{missing}"
        );
        let unknown = select(&cache, &ModelChoice::Name("pp-ocr-v4".into())).unwrap_err();
        assert!(matches!(unknown, SelectError::Unknown { .. }), "{unknown}");
        let no_file = select(&cache, &ModelChoice::Path(root.join("nope.gguf"))).unwrap_err();
        assert!(no_file.to_string().contains("nope.gguf"));
        std::fs::write(root.join("m.gguf"), b"x").unwrap();
        let file = select(&cache, &ModelChoice::Path(root.join("m.gguf"))).unwrap();
        assert_eq!(file.name, "m.gguf");
        let _ = std::fs::remove_dir_all(&root);
    }

    #[test]
    fn settings_name_a_choice() {
        assert_eq!(ModelChoice::from_setting(""), ModelChoice::Default);
        assert_eq!(
            ModelChoice::from_setting("smollm2-135m"),
            ModelChoice::Name("smollm2-135m".into())
        );
        assert_eq!(
            ModelChoice::from_setting("models/x.gguf"),
            ModelChoice::Path("models/x.gguf".into())
        );
        assert_eq!(
            ModelChoice::from_setting("x.gguf"),
            ModelChoice::Path("x.gguf".into())
        );
    }
}
