//! A loaded workflow: the definition, its bindings and what a report needs to know about them.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;

use serde_json::Value;
use trailguard_asl::{Bindings, Execution, Runner, StateMachine};
use trailguard_core::ports::ChatModel;
use trailguard_local_model::GgufChat;
use trailguard_pii::{ImageLimits, PiiDetector, PiiHandler, VisionPiiDetector};
use trailguard_triage::{LogAnalysisHandler, Triage, TriageConfig};

use crate::adapters::{self, Storage};
use crate::config::{
    AdapterConfig, BindingsConfig, PiiDetectorKind, PiiResultMode, ANALYSIS_HANDLER,
    DEFAULT_KB_BUCKET, DEFAULT_KB_PREFIX, KB_SYNC_HANDLER, PII_HANDLER,
};
use crate::definition::load_state_machine;
use crate::handlers::{AnalysisFunction, BucketSink, KbSyncFunction, KnowledgeSink, PiiFunction};
use crate::integrations::{CommandFunction, LambdaBinding, LambdaFunction, Ports};
use crate::trace::{report, ExecutionReport, FunctionRoles};
use crate::RunnerError;

/// Where the run's effects land, for the user.
#[derive(Debug, Clone, Default)]
pub struct WorkflowInfo {
    pub roles: FunctionRoles,
    /// Where JSON Lines alerts go, when they go to a file.
    pub alerts_file: Option<PathBuf>,
    /// The storage root, when the bucket is a directory.
    pub bucket_root: Option<PathBuf>,
    /// Where each in-process kb-sync function puts its documents.
    pub knowledge: Vec<String>,
}

/// One execution and its summary.
pub struct WorkflowRun {
    pub execution: Execution,
    pub report: ExecutionReport,
}

/// A definition bound to its handlers, ready to run executions.
pub struct Workflow {
    runner: Arc<Runner>,
    info: Arc<WorkflowInfo>,
    /// The in-process analysis, when exactly one is bound: the local run feeds it events in
    /// input order so correlation sees them in that order whatever the concurrency.
    triage: Option<Arc<Triage>>,
}

/// The definition to load.
pub struct DefinitionSource<'a> {
    pub text: &'a str,
    /// For messages (a path, or `<embedded security-audit.asl.json>`).
    pub label: &'a str,
    /// The state machine's name in execution ARNs.
    pub name: &'a str,
}

/// What the file leaves out, filled by the caller.
pub struct Defaults {
    pub model: AdapterConfig,
    pub notifier: AdapterConfig,
    pub storage: AdapterConfig,
    /// Where the in-process kb-sync puts documents instead of a bucket of the storage adapter
    /// (`trailguard run --kb DIR`: the local index).
    pub knowledge: Option<Arc<dyn KnowledgeSink>>,
}

impl Default for Defaults {
    fn default() -> Self {
        Defaults {
            model: AdapterConfig::new("deterministic"),
            notifier: AdapterConfig::new("jsonl").with("path", "alerts.jsonl"),
            storage: AdapterConfig::new("dir").with("root", "."),
            knowledge: None,
        }
    }
}

/// Builds handlers once: one rules-only analysis for the deterministic model, one offline PII
/// detector (its OCR engine starts on the first image).
struct Builder<'a> {
    config: &'a BindingsConfig,
    defaults: &'a Defaults,
    storage: Storage,
    rules: Option<Arc<LogAnalysisHandler>>,
    offline_pii: Option<Arc<dyn PiiDetector>>,
    triages: Vec<Arc<Triage>>,
    /// Local models by their config: loaded once, shared by the analysis and converse Tasks.
    local_models: Vec<(AdapterConfig, GgufChat)>,
    /// Where the kb-sync functions put documents, for [`WorkflowInfo::knowledge`].
    knowledge: Vec<String>,
}

impl Builder<'_> {
    fn triage(
        &self,
        model: Option<Arc<dyn ChatModel>>,
        policy: Option<&str>,
        model_id: Option<String>,
    ) -> Result<Triage, RunnerError> {
        let mut config = TriageConfig::default();
        if let Some(model_id) = model_id {
            config.model_id = model_id;
        }
        if let Some(policy) = policy {
            config.ask.policy = policy
                .parse()
                .map_err(|e| RunnerError::Bindings(format!("policy: {e}")))?;
        }
        let (triage, _report) = Triage::load(&[], model, config)
            .map_err(|e| RunnerError::Bindings(format!("loading the embedded rules: {e}")))?;
        Ok(triage)
    }

    fn rules(&mut self) -> Result<Arc<LogAnalysisHandler>, RunnerError> {
        if let Some(rules) = &self.rules {
            return Ok(rules.clone());
        }
        let rules = Arc::new(LogAnalysisHandler::new(Arc::new(
            self.triage(None, None, None)?,
        )));
        self.rules = Some(rules.clone());
        Ok(rules)
    }

    fn local(&mut self, config: &AdapterConfig) -> Result<GgufChat, RunnerError> {
        if let Some((_, chat)) = self.local_models.iter().find(|(c, _)| c == config) {
            return Ok(chat.clone());
        }
        let chat = adapters::local_model(config)?;
        self.local_models.push((config.clone(), chat.clone()));
        Ok(chat)
    }

    fn model(&mut self, config: &AdapterConfig) -> Result<Arc<dyn ChatModel>, RunnerError> {
        if config.kind == "local" {
            return Ok(Arc::new(self.local(config)?));
        }
        let model: Arc<dyn ChatModel> = adapters::model(config, || self.rules())?;
        Ok(model)
    }

    fn offline_pii(&mut self) -> Result<Arc<dyn PiiDetector>, RunnerError> {
        if let Some(detector) = &self.offline_pii {
            return Ok(detector.clone());
        }
        let detector = crate::offline_pii_detector()?;
        self.offline_pii = Some(detector.clone());
        Ok(detector)
    }

    fn function(&mut self, name: &str) -> Result<Arc<dyn LambdaFunction>, RunnerError> {
        let entry = self.config.lambda.get(name).cloned().unwrap_or_default();
        let model_config = entry
            .model
            .clone()
            .or_else(|| self.config.model.clone())
            .unwrap_or_else(|| self.defaults.model.clone());
        match (entry.handler.as_deref(), &entry.command) {
            (Some(ANALYSIS_HANDLER), _) => {
                let model = match model_config.kind.as_str() {
                    "deterministic" => None,
                    _ => Some(self.model(&model_config)?),
                };
                // The analysis names the model that answered, not the Bedrock default.
                let model_id = match model_config.kind.as_str() {
                    "local" => Some(format!("local:{}", self.local(&model_config)?.name())),
                    _ => None,
                };
                let triage = Arc::new(self.triage(model, entry.policy.as_deref(), model_id)?);
                self.triages.push(triage.clone());
                Ok(Arc::new(AnalysisFunction(Arc::new(
                    LogAnalysisHandler::new(triage),
                ))))
            }
            (Some(PII_HANDLER), _) => {
                let detector: Arc<dyn PiiDetector> = match entry.detector {
                    Some(PiiDetectorKind::Model) => {
                        let backend = match model_config.kind.as_str() {
                            "openai" => "openai",
                            "deterministic" => {
                                return Err(RunnerError::Bindings(format!(
                                    "lambda '{name}': detector = \"model\" needs a vision model ([model] or model = {{ kind = \"openai\", ... }}), not the deterministic one"
                                )))
                            }
                            "local" => {
                                return Err(RunnerError::Bindings(format!(
                                    "lambda '{name}': detector = \"model\" needs a vision model; the in-process model (kind = \"local\") reads text only"
                                )))
                            }
                            _ => "local",
                        };
                        let model_id = model_config
                            .option("model")
                            .filter(|m| !m.is_empty())
                            .unwrap_or(trailguard_pii::DEFAULT_IMAGE_MODEL_ID)
                            .to_string();
                        Arc::new(VisionPiiDetector::new(
                            self.model(&model_config)?,
                            backend,
                            model_id,
                        ))
                    }
                    _ => self.offline_pii()?,
                };
                Ok(Arc::new(PiiFunction(Arc::new(PiiHandler::new(
                    self.storage.reader.clone(),
                    detector,
                    ImageLimits::default(),
                    entry.result.unwrap_or(PiiResultMode::Rich) == PiiResultMode::Rich,
                )))))
            }
            (Some(KB_SYNC_HANDLER), _) => {
                let sink: Arc<dyn KnowledgeSink> = match &self.defaults.knowledge {
                    Some(sink) => sink.clone(),
                    None => {
                        let mut prefix = entry
                            .prefix
                            .clone()
                            .unwrap_or_else(|| DEFAULT_KB_PREFIX.to_string());
                        if !prefix.is_empty() && !prefix.ends_with('/') {
                            prefix.push('/');
                        }
                        Arc::new(BucketSink {
                            writer: self.storage.writer.clone(),
                            bucket: entry
                                .bucket
                                .clone()
                                .filter(|b| !b.is_empty())
                                .unwrap_or_else(|| DEFAULT_KB_BUCKET.to_string()),
                            prefix,
                        })
                    }
                };
                let described = sink.describe();
                if !self.knowledge.contains(&described) {
                    self.knowledge.push(described);
                }
                Ok(Arc::new(KbSyncFunction(sink)))
            }
            (None, Some(argv)) => Ok(Arc::new(CommandFunction { argv: argv.clone() })),
            _ => Err(RunnerError::Bindings(format!(
                "lambda '{name}': set handler ({ANALYSIS_HANDLER}, {PII_HANDLER} or {KB_SYNC_HANDLER}) or command"
            ))),
        }
    }
}

impl Workflow {
    /// Loads `definition` with `substitutions` and binds it as `config` says, `defaults` filling
    /// what the file leaves out. Every adapter and handler is built here, so a bad file fails
    /// before the first event.
    pub fn load(
        definition: &DefinitionSource<'_>,
        substitutions: &HashMap<String, String>,
        config: &BindingsConfig,
        defaults: &Defaults,
    ) -> Result<Workflow, RunnerError> {
        config.check()?;
        let machine = load_state_machine(definition.text, definition.label, substitutions)?;
        let storage_config = config
            .storage
            .clone()
            .unwrap_or_else(|| defaults.storage.clone());
        let notifier_config = config
            .notifier
            .clone()
            .unwrap_or_else(|| defaults.notifier.clone());
        let model_config = config
            .model
            .clone()
            .unwrap_or_else(|| defaults.model.clone());
        let mut builder = Builder {
            config,
            defaults,
            storage: adapters::storage(&storage_config)?,
            rules: None,
            offline_pii: None,
            triages: Vec::new(),
            local_models: Vec::new(),
            knowledge: Vec::new(),
        };
        let mut functions = LambdaBinding::new();
        let mut roles = FunctionRoles::default();
        for (name, entry) in &config.lambda {
            match entry.handler.as_deref() {
                Some(ANALYSIS_HANDLER) => roles.analysis.push(name.clone()),
                Some(PII_HANDLER) => roles.pii.push(name.clone()),
                _ => {}
            }
            functions.register(name, builder.function(name)?);
        }
        let ports = Ports {
            functions,
            model: builder.model(&model_config)?,
            notifier: adapters::notifier(&notifier_config)?,
            reader: builder.storage.reader.clone(),
            writer: builder.storage.writer.clone(),
        };
        let info = WorkflowInfo {
            roles,
            alerts_file: adapters::alerts_file(&notifier_config),
            bucket_root: builder.storage.root.clone(),
            knowledge: builder.knowledge.clone(),
        };
        let triage = match builder.triages.as_slice() {
            [only] => Some(only.clone()),
            _ => None,
        };
        let workflow = Workflow::from_parts(machine, ports.bindings(), info, definition.name)?;
        Ok(Workflow { triage, ..workflow })
    }

    /// A workflow over bindings built by the caller (e.g. the AWS adapters in tests).
    pub fn from_parts(
        machine: StateMachine,
        bindings: Bindings,
        info: WorkflowInfo,
        name: &str,
    ) -> Result<Workflow, RunnerError> {
        let runner = Runner::new(machine, bindings)
            .map_err(|e| RunnerError::Definition {
                label: name.to_string(),
                message: e.to_string(),
            })?
            .with_name(name);
        Ok(Workflow {
            runner: Arc::new(runner),
            info: Arc::new(info),
            triage: None,
        })
    }

    pub fn info(&self) -> &WorkflowInfo {
        &self.info
    }

    pub fn runner(&self) -> &Arc<Runner> {
        &self.runner
    }

    /// Feeds `event_json` to the in-process analysis's correlation now (call in input order,
    /// before starting the executions concurrently). A no-op when the analysis runs elsewhere.
    pub fn correlate_in_order(&self, event_json: &str) {
        if let Some(triage) = &self.triage {
            triage.correlate_in_order(event_json);
        }
    }

    /// Runs one execution named `name` and summarises it.
    pub async fn run(&self, name: &str, input: Value) -> WorkflowRun {
        let execution = self.runner.execute_named(name, input).await;
        let report = report(&execution, &self.info.roles);
        WorkflowRun { execution, report }
    }
}
