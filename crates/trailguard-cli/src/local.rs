//! The in-process model for `run`, `sfn run` and `analyze`: which fetched model `kind = "local"`
//! means, and the fallback to the rules (said once) when no model is fetched.

use std::sync::atomic::{AtomicBool, Ordering};

use trailguard_fetch::Cache;
use trailguard_local_model::{select, ModelChoice, SelectError, SelectedModel};
use trailguard_runner::{AdapterConfig, BindingsConfig};

/// The best fetched chat model, or `None` after one note on stderr (per process) naming the
/// fetch commands. A named model or a file that cannot be used is an error, not a fallback.
pub fn choose(choice: &ModelChoice) -> anyhow::Result<Option<SelectedModel>> {
    let cache = Cache::from_env(None)?;
    match select(&cache, choice) {
        Ok(model) => Ok(Some(model)),
        Err(error @ SelectError::NoneFetched { .. }) => {
            static NOTED: AtomicBool = AtomicBool::new(false);
            if !NOTED.swap(true, Ordering::Relaxed) {
                eprintln!("note: {error}; analysing with the deterministic rules only");
            }
            Ok(None)
        }
        Err(error) => Err(error.into()),
    }
}

/// Every `kind = "local"` model of `config` that names no model gets the best fetched one
/// (`name`), or becomes `deterministic` when none is fetched (said once).
pub fn resolve_bindings(config: &mut BindingsConfig) -> anyhow::Result<()> {
    let models = config
        .model
        .iter_mut()
        .chain(config.lambda.values_mut().filter_map(|l| l.model.as_mut()));
    for model in models {
        resolve(model)?;
    }
    Ok(())
}

fn resolve(model: &mut AdapterConfig) -> anyhow::Result<()> {
    if model.kind != "local"
        || ["path", "name", "model"]
            .iter()
            .any(|k| model.option(k).is_some())
    {
        return Ok(());
    }
    match choose(&ModelChoice::Default)? {
        Some(chosen) => {
            model
                .options
                .insert("name".into(), toml::Value::String(chosen.name));
        }
        None => *model = AdapterConfig::new("deterministic"),
    }
    Ok(())
}
