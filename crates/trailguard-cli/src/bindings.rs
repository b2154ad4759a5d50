//! The bindings file and `--sub` arguments, shared by `run` and `sfn run`.

use std::collections::HashMap;
use std::path::Path;

use anyhow::Context as _;
use trailguard_runner::BindingsConfig;

/// Reads `path`, or an empty config (every default) when there is none.
pub fn load(path: Option<&Path>) -> anyhow::Result<BindingsConfig> {
    match path {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("cannot read bindings {}", path.display()))?;
            text.parse::<BindingsConfig>()
                .with_context(|| format!("bindings file {}", path.display()))
        }
        None => Ok(BindingsConfig::default()),
    }
}

/// Applies `--sub NAME=VALUE` arguments over `substitutions`.
pub fn apply_sub_args(
    substitutions: &mut HashMap<String, String>,
    pairs: &[String],
) -> anyhow::Result<()> {
    for pair in pairs {
        match pair.split_once('=') {
            Some((name, value)) if !name.is_empty() => {
                substitutions.insert(name.to_string(), value.to_string());
            }
            _ => anyhow::bail!("--sub expects NAME=VALUE, got '{pair}'"),
        }
    }
    Ok(())
}
