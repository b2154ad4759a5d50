//! The bindings file (`--bindings`, TOML): what each Task resource of the definition runs.
//!
//! ```toml
//! [lambda."trailguard-log-analysis"]     # function name, ARN or partial ARN
//! handler = "trailguard-analysis"        # TrailGuard's log analysis, in-process
//! policy = "when-not-benign"             # when it asks the model: never | always | when-not-benign
//! [lambda."trailguard-pii"]
//! handler = "trailguard-pii"             # fetch from storage, detect, rich result
//! detector = "offline"                   # offline (default) | model (the vision model)
//! result = "rich"                        # rich (default) | contract (the guide's "true"/"false")
//! model = { kind = "openai", base_url = "http://127.0.0.1:11434/v1", model = "llava" }
//! [lambda."trailguard-kb-sync"]
//! handler = "trailguard-kb-sync"         # the knowledge-base documents of each execution
//! bucket = "trailguard-kb"               # written as the deployed function writes them (default)
//! prefix = "documents/"                  # (`trailguard run --kb DIR` indexes them instead)
//! [lambda."arn:aws:lambda:us-west-2:123456789012:function:pii"]
//! command = ["python3", "pii.py"]        # payload on stdin, result on stdout
//! [model]                                # converse Tasks, and the analysis model
//! kind = "deterministic"                 # deterministic | fixed | scripted | openai | local
//! # kind = "local"; name = "smollm2-135m" (or path = "x.gguf"); threads = 1; context = 4096; max_tokens = 512
//! [notifier]
//! kind = "jsonl"                         # jsonl | stdout | webhook | smtp
//! path = "alerts.jsonl"
//! [storage]
//! kind = "dir"                           # dir | memory
//! root = "buckets"
//! [substitutions]                        # SAM DefinitionSubstitutions
//! AnalysisFunctionArn = "trailguard-log-analysis"
//! ```

use std::collections::{BTreeMap, HashMap};
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::RunnerError;

/// The in-process handler for TrailGuard's log analysis.
pub const ANALYSIS_HANDLER: &str = "trailguard-analysis";
/// The in-process handler for TrailGuard's image PII check.
pub const PII_HANDLER: &str = "trailguard-pii";
/// The in-process handler for TrailGuard's knowledge-base sync.
pub const KB_SYNC_HANDLER: &str = "trailguard-kb-sync";
/// Where the in-process kb-sync writes documents unless told otherwise (the bucket name is a
/// local stand-in for the stack's knowledge-base bucket; the prefix is the data source's).
pub const DEFAULT_KB_BUCKET: &str = "trailguard-kb";
pub const DEFAULT_KB_PREFIX: &str = "documents/";

const HANDLERS: [&str; 3] = [ANALYSIS_HANDLER, PII_HANDLER, KB_SYNC_HANDLER];

#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct BindingsConfig {
    #[serde(default)]
    pub lambda: BTreeMap<String, LambdaConfig>,
    /// `None`: the caller's default (the rules answering as the model).
    #[serde(default)]
    pub model: Option<AdapterConfig>,
    #[serde(default)]
    pub notifier: Option<AdapterConfig>,
    #[serde(default)]
    pub storage: Option<AdapterConfig>,
    #[serde(default)]
    pub substitutions: HashMap<String, String>,
}

/// One function: an in-process `handler` (with its options) or a local `command`.
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct LambdaConfig {
    #[serde(default)]
    pub handler: Option<String>,
    #[serde(default)]
    pub command: Option<Vec<String>>,
    /// Analysis handler: when it asks the model.
    #[serde(default)]
    pub policy: Option<String>,
    /// PII handler: `offline` or `model`.
    #[serde(default)]
    pub detector: Option<PiiDetectorKind>,
    /// PII handler: `rich` or `contract`.
    #[serde(default)]
    pub result: Option<PiiResultMode>,
    /// The handler's own model, instead of `[model]`.
    #[serde(default)]
    pub model: Option<AdapterConfig>,
    /// kb-sync handler: the bucket (of the storage adapter) the documents go to.
    #[serde(default)]
    pub bucket: Option<String>,
    /// kb-sync handler: the key prefix of the documents.
    #[serde(default)]
    pub prefix: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum PiiDetectorKind {
    /// OCR, recognisers and faces on this machine.
    Offline,
    /// The configured vision model.
    Model,
}

/// What the PII handler returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum PiiResultMode {
    /// The rich result object (`pii_detected`, `evidence`, `version_id`, ...).
    Rich,
    /// The guide's contract: the string `"true"` or `"false"`; an error when there is no verdict.
    Contract,
}

/// An adapter: its `kind` and its own keys (`path`, `root`, `url`, ...).
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
pub struct AdapterConfig {
    pub kind: String,
    #[serde(flatten)]
    pub options: toml::Table,
}

impl AdapterConfig {
    pub fn new(kind: &str) -> Self {
        AdapterConfig {
            kind: kind.into(),
            options: toml::Table::new(),
        }
    }

    /// Sets a string option.
    pub fn with(mut self, key: &str, value: &str) -> Self {
        self.options
            .insert(key.into(), toml::Value::String(value.into()));
        self
    }

    pub fn option(&self, key: &str) -> Option<&str> {
        self.options.get(key).and_then(toml::Value::as_str)
    }
}

impl FromStr for BindingsConfig {
    type Err = RunnerError;

    fn from_str(text: &str) -> Result<Self, RunnerError> {
        let config: BindingsConfig =
            toml::from_str(text).map_err(|e| RunnerError::Bindings(e.to_string()))?;
        config.check()?;
        Ok(config)
    }
}

impl BindingsConfig {
    /// Every function has exactly one of handler or command, and a command takes no handler
    /// options.
    pub fn check(&self) -> Result<(), RunnerError> {
        for (name, lambda) in &self.lambda {
            let error =
                |message: String| RunnerError::Bindings(format!("lambda '{name}': {message}"));
            match (&lambda.handler, &lambda.command) {
                (Some(_), Some(_)) | (None, None) => {
                    return Err(error("set exactly one of handler or command".into()))
                }
                (None, Some(_)) => {
                    let options = [
                        ("policy", lambda.policy.is_some()),
                        ("detector", lambda.detector.is_some()),
                        ("result", lambda.result.is_some()),
                        ("model", lambda.model.is_some()),
                        ("bucket", lambda.bucket.is_some()),
                        ("prefix", lambda.prefix.is_some()),
                    ];
                    if let Some((key, _)) = options.iter().find(|(_, set)| *set) {
                        return Err(error(format!(
                            "unknown key '{key}' (a command takes only `command`)"
                        )));
                    }
                }
                (Some(handler), None) => {
                    if !HANDLERS.contains(&handler.as_str()) {
                        return Err(error(format!(
                            "no in-process handler named '{handler}' (use {})",
                            HANDLERS.join(", ")
                        )));
                    }
                }
            }
        }
        Ok(())
    }

    /// Binds `function` to an in-process `handler` unless the file already binds that name.
    pub fn bind_default_lambda(&mut self, function: &str, handler: &str) {
        let name = crate::integrations::function_name(function);
        let taken = self
            .lambda
            .keys()
            .any(|bound| bound == function || crate::integrations::function_name(bound) == name);
        if !taken && !function.is_empty() {
            self.lambda.insert(
                function.to_string(),
                LambdaConfig {
                    handler: Some(handler.to_string()),
                    ..LambdaConfig::default()
                },
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_parses_with_handler_options() {
        let config: BindingsConfig =
            "[lambda.pii]\nhandler = \"trailguard-pii\"\nresult = \"contract\"\ndetector = \"offline\"\n\
             [lambda.logs]\nhandler = \"trailguard-analysis\"\npolicy = \"never\"\n\
             [lambda.cmd]\ncommand = [\"cat\"]\n[notifier]\nkind = \"jsonl\"\npath = \"x.jsonl\"\n"
                .parse()
                .unwrap();
        assert!(config.model.is_none() && config.storage.is_none());
        assert_eq!(
            config.notifier.as_ref().and_then(|n| n.option("path")),
            Some("x.jsonl")
        );
        let pii = &config.lambda["pii"];
        assert_eq!(pii.result, Some(PiiResultMode::Contract));
        assert_eq!(pii.detector, Some(PiiDetectorKind::Offline));
        assert_eq!(config.lambda["logs"].policy.as_deref(), Some("never"));
    }

    #[test]
    fn bad_files_are_refused_by_name() {
        for (text, expect) in [
            ("[lambda.pii]\n", "exactly one"),
            ("[unknown]\n", "unknown field"),
            ("[lambda.pii]\nhandler = \"x\"\n", "no in-process handler"),
            (
                "[lambda.pii]\nhandler = \"trailguard-pii\"\nresult = \"maybe\"\n",
                "maybe",
            ),
            (
                "[lambda.pii]\nhandler = \"trailguard-pii\"\nunknown = 1\n",
                "unknown",
            ),
            (
                "[lambda.c]\ncommand = [\"cat\"]\nresult = \"rich\"\n",
                "unknown key 'result'",
            ),
        ] {
            let error = text.parse::<BindingsConfig>().unwrap_err().to_string();
            assert!(error.contains(expect), "{text:?}: {error}");
        }
    }
}
