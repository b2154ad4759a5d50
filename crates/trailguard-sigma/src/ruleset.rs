//! Loading rules into a [`RuleSet`], the key-field pre-filter, and evaluation.

use crate::correlation::{self, CorrelationRule, PendingCorrelation};
use crate::detection::{self, SelMask};
use crate::document::{Document, FieldValue};
use crate::error::{LoadError, Unsupported, UnsupportedReason};
use crate::rule::{parse_meta, LogSourceFilter, Rule};
use serde::Deserialize as _;
use serde_yaml_ng::Value as Yaml;
use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// The field rules are indexed by when they require literal values for it.
pub const DEFAULT_INDEX_FIELD: &str = "eventName";

/// Directory depth limit when loading recursively (guards against symlink loops).
const MAX_DIR_DEPTH: usize = 32;

/// What loading produced: counts and every document that was not loaded, with its reason.
#[derive(Debug, Clone, Default)]
pub struct LoadReport {
    /// Rule files read (`.yml`/`.yaml`, plus inline texts).
    pub files: usize,
    /// Detection rules loaded.
    pub rules: usize,
    /// Correlation rules loaded.
    pub correlations: usize,
    pub unsupported: Vec<Unsupported>,
}

impl std::fmt::Display for LoadReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} files: {} rules and {} correlations loaded, {} unsupported",
            self.files,
            self.rules,
            self.correlations,
            self.unsupported.len()
        )
    }
}

/// Collects rules from texts and directories, then builds an immutable [`RuleSet`].
#[derive(Debug)]
pub struct RuleSetBuilder {
    filter: LogSourceFilter,
    index_field: String,
    rules: Vec<Rule>,
    pending: Vec<PendingCorrelation>,
    report: LoadReport,
}

impl Default for RuleSetBuilder {
    fn default() -> Self {
        Self::new()
    }
}

impl RuleSetBuilder {
    /// Loads `product: aws, service: cloudtrail` rules, indexed by `eventName`.
    pub fn new() -> Self {
        Self {
            filter: LogSourceFilter::default(),
            index_field: DEFAULT_INDEX_FIELD.to_owned(),
            rules: Vec::new(),
            pending: Vec::new(),
            report: LoadReport::default(),
        }
    }

    /// Which logsources to accept (applies to texts added afterwards).
    pub fn logsource(mut self, filter: LogSourceFilter) -> Self {
        self.filter = filter;
        self
    }

    /// The pre-filter key field (default `eventName`).
    pub fn index_field(mut self, field: impl Into<String>) -> Self {
        self.index_field = field.into();
        self
    }

    /// Adds every YAML document in `text`. `source` names it in reports (e.g. a path or `<inline>`).
    /// Returns how many rules and correlations were accepted; the others are in the report.
    pub fn add_yaml(&mut self, text: &str, source: &str) -> usize {
        self.report.files += 1;
        let mut accepted = 0;
        for (index, document) in serde_yaml_ng::Deserializer::from_str(text).enumerate() {
            match Yaml::deserialize(document) {
                Ok(Yaml::Null) => {}
                Ok(value) => accepted += usize::from(self.add_document(&value, source, index)),
                Err(e) => {
                    self.unsupported(
                        source,
                        index,
                        None,
                        None,
                        UnsupportedReason::Yaml(e.to_string()),
                    );
                    // The parser cannot resynchronise after an error.
                    break;
                }
            }
        }
        accepted
    }

    /// Adds a rule file, or every `.yml`/`.yaml` file under a directory (recursively, sorted).
    pub fn add_path(&mut self, path: impl AsRef<Path>) -> Result<usize, LoadError> {
        let path = path.as_ref();
        let io = |source| LoadError::Io {
            path: path.to_path_buf(),
            source,
        };
        if std::fs::metadata(path).map_err(io)?.is_dir() {
            let mut files = Vec::new();
            collect_rule_files(path, 0, &mut files)?;
            let mut accepted = 0;
            for file in files {
                accepted += self.add_file(&file)?;
            }
            Ok(accepted)
        } else {
            self.add_file(path)
        }
    }

    fn add_file(&mut self, path: &Path) -> Result<usize, LoadError> {
        let bytes = std::fs::read(path).map_err(|source| LoadError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        let source = path.display().to_string();
        match String::from_utf8(bytes) {
            Ok(text) => Ok(self.add_yaml(&text, &source)),
            Err(_) => {
                self.report.files += 1;
                self.unsupported(
                    &source,
                    0,
                    None,
                    None,
                    UnsupportedReason::Yaml("file is not UTF-8".into()),
                );
                Ok(0)
            }
        }
    }

    fn unsupported(
        &mut self,
        source: &str,
        document: usize,
        id: Option<String>,
        title: Option<String>,
        reason: UnsupportedReason,
    ) {
        tracing::debug!(source, document, ?id, %reason, "sigma rule not loaded");
        self.report.unsupported.push(Unsupported {
            source: source.to_owned(),
            document,
            id,
            title,
            reason,
        });
    }

    fn add_document(&mut self, value: &Yaml, source: &str, index: usize) -> bool {
        let Yaml::Mapping(map) = value else {
            self.unsupported(
                source,
                index,
                None,
                None,
                UnsupportedReason::Invalid("document is not a mapping".into()),
            );
            return false;
        };
        let meta = parse_meta(map, source);
        let id = crate::rule::get_str(map, "id");
        let title = crate::rule::get_str(map, "title");
        let result = if map.contains_key("action") {
            Err(UnsupportedReason::Collection)
        } else if title.is_none() {
            Err(UnsupportedReason::Invalid("`title` is missing".into()))
        } else if let Some(config) = map.get("correlation") {
            correlation::parse(meta.clone(), config).map(|pending| {
                self.pending.push(pending.with_origin(source, index));
                true
            })
        } else if let Some(detection) = map.get("detection") {
            if !matches!(map.get("logsource"), Some(Yaml::Mapping(_))) {
                Err(UnsupportedReason::Invalid("`logsource` is missing".into()))
            } else if !self.filter.accepts(&meta.logsource) {
                Err(UnsupportedReason::Logsource {
                    found: meta.logsource.to_string(),
                    wanted: describe_filter(&self.filter),
                })
            } else if let Some(previous) = self.rules.iter().find(|r| r.meta.id == meta.id) {
                Err(UnsupportedReason::Invalid(format!(
                    "duplicate id `{}` (already loaded from {})",
                    meta.id, previous.meta.source
                )))
            } else {
                detection::compile(detection).map(|detection| {
                    self.rules.push(Rule {
                        meta: meta.clone(),
                        correlation_only: false,
                        detection,
                    });
                    true
                })
            }
        } else {
            Err(UnsupportedReason::Invalid(
                "neither `detection` nor `correlation`".into(),
            ))
        };
        match result {
            Ok(accepted) => accepted,
            Err(reason) => {
                self.unsupported(source, index, id, title, reason);
                false
            }
        }
    }

    /// Resolves correlations against the loaded rules and builds the pre-filter index.
    pub fn build(mut self) -> (RuleSet, LoadReport) {
        let mut correlations = Vec::new();
        for pending in std::mem::take(&mut self.pending) {
            let (source, document) = (pending.source.clone(), pending.document);
            let (id, title) = (
                Some(pending.meta.id.clone()),
                Some(pending.meta.title.clone()),
            );
            match pending.resolve(&self.rules) {
                Ok(rule) => {
                    if !rule.generate {
                        for &i in &rule.rules {
                            self.rules[i].correlation_only = true;
                        }
                    }
                    correlations.push(Arc::new(rule));
                }
                Err(reason) => self.unsupported(&source, document, id, title, reason),
            }
        }
        let mut index = KeyMap::default();
        let mut unindexed = Vec::new();
        let mut secondary: Vec<KeyIndex> = Vec::new();
        for (i, rule) in self.rules.iter().enumerate() {
            let i = u32::try_from(i).unwrap_or(u32::MAX);
            match rule.detection.required_values(&self.index_field) {
                Some(values) => add_to_index(&mut index, values, i),
                None => match secondary_key(rule, &self.index_field) {
                    // Rules without an `eventName` requirement are indexed by another field
                    // whose literal values they require (errorCode, userIdentity.type, ...).
                    Some((field, values)) => {
                        let at = match secondary.iter().position(|k| *k.field == *field) {
                            Some(at) => at,
                            None => {
                                secondary.push(KeyIndex {
                                    field: field.into(),
                                    index: KeyMap::default(),
                                    rules: Vec::new(),
                                });
                                secondary.len() - 1
                            }
                        };
                        add_to_index(&mut secondary[at].index, values, i);
                        secondary[at].rules.push(i);
                    }
                    None => unindexed.push(i),
                },
            }
        }
        self.report.rules = self.rules.len();
        self.report.correlations = correlations.len();
        let set = RuleSet {
            rules: self.rules,
            correlations,
            index_field: self.index_field,
            index,
            unindexed,
            secondary,
        };
        (set, self.report)
    }
}

/// Key value → rules, looked up several times per event: a simple multiplicative hash (FxHash)
/// instead of SipHash. The table holds only rule literals and never grows with input, so event
/// values cannot force collisions that matter.
type KeyMap = HashMap<Box<str>, Vec<u32>, BuildHasherDefault<FxHasher>>;

#[derive(Default)]
struct FxHasher(u64);

impl Hasher for FxHasher {
    fn write(&mut self, bytes: &[u8]) {
        const SEED: u64 = 0x51_7c_c1_b7_27_22_0a_95;
        let mut chunks = bytes.chunks_exact(8);
        for chunk in &mut chunks {
            let mut word = [0u8; 8];
            word.copy_from_slice(chunk);
            self.0 = (self.0.rotate_left(5) ^ u64::from_le_bytes(word)).wrapping_mul(SEED);
        }
        for &byte in chunks.remainder() {
            self.0 = (self.0.rotate_left(5) ^ u64::from(byte)).wrapping_mul(SEED);
        }
    }

    fn write_u8(&mut self, byte: u8) {
        self.write(&[byte]);
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

fn add_to_index(index: &mut KeyMap, mut values: Vec<String>, rule: u32) {
    values.sort();
    values.dedup();
    for value in values {
        index.entry(value.into_boxed_str()).or_default().push(rule);
    }
}

/// The field (other than the main key) with the fewest literal values the rule requires.
fn secondary_key(rule: &Rule, main_field: &str) -> Option<(String, Vec<String>)> {
    let mut fields = std::collections::BTreeSet::new();
    rule.detection.fields(&mut fields);
    fields
        .into_iter()
        .filter(|field| *field != main_field)
        .filter_map(|field| {
            let values = rule.detection.required_values(field)?;
            Some((field.to_owned(), values))
        })
        .min_by_key(|(_, values)| values.len())
}

/// Rules pre-filtered by the values of one more key field.
#[derive(Debug, Clone)]
struct KeyIndex {
    field: Box<str>,
    index: KeyMap,
    /// Every rule in `index`, for values the index cannot judge.
    rules: Vec<u32>,
}

fn describe_filter(filter: &LogSourceFilter) -> String {
    let part = |v: &Option<String>| v.clone().unwrap_or_else(|| "*".into());
    format!(
        "loading product={} service={} category={}",
        part(&filter.product),
        part(&filter.service),
        part(&filter.category)
    )
}

fn collect_rule_files(dir: &Path, depth: usize, out: &mut Vec<PathBuf>) -> Result<(), LoadError> {
    if depth > MAX_DIR_DEPTH {
        return Ok(());
    }
    let io = |source| LoadError::Io {
        path: dir.to_path_buf(),
        source,
    };
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(io)?
        .map(|e| e.map(|e| e.path()))
        .collect::<Result<_, _>>()
        .map_err(io)?;
    entries.sort();
    for path in entries {
        if path.is_dir() {
            collect_rule_files(&path, depth + 1, out)?;
        } else if path
            .extension()
            .and_then(|e| e.to_str())
            .is_some_and(|e| e.eq_ignore_ascii_case("yml") || e.eq_ignore_ascii_case("yaml"))
        {
            out.push(path);
        }
    }
    Ok(())
}

/// A rule that matched a document.
#[derive(Debug, Clone, Copy)]
pub struct Match<'r> {
    pub rule: &'r Rule,
    /// Position of the rule in [`RuleSet::rules`].
    pub rule_index: usize,
    selections: SelMask,
}

impl<'r> Match<'r> {
    /// The selections that evaluated true (those the condition needed to look at).
    pub fn matched_selections(&self) -> impl Iterator<Item = &'r str> + 'r {
        let mask = self.selections;
        self.rule
            .detection
            .selections
            .iter()
            .enumerate()
            .filter(move |(i, _)| mask & (1u64 << i) != 0)
            .map(|(_, s)| s.name.as_str())
    }

    /// A one-line human explanation: `Sigma rule "Title" (high) matched selection, filter_x`.
    pub fn reason(&self) -> String {
        let selections: Vec<&str> = self.matched_selections().collect();
        format!(
            "Sigma rule \"{}\" ({}) matched {}",
            self.rule.meta.title,
            if self.rule.meta.level.is_empty() {
                "no level"
            } else {
                &self.rule.meta.level
            },
            if selections.is_empty() {
                "its condition".to_owned()
            } else {
                selections.join(", ")
            }
        )
    }
}

/// Compiled rules, ready to evaluate from many threads (`Send + Sync`).
#[derive(Debug, Clone)]
pub struct RuleSet {
    rules: Vec<Rule>,
    correlations: Vec<Arc<CorrelationRule>>,
    index_field: String,
    index: KeyMap,
    unindexed: Vec<u32>,
    /// Rules without a main-key requirement, indexed by another field.
    secondary: Vec<KeyIndex>,
}

/// Longest key value lowercased on the stack; longer ones are lowercased on the heap.
const KEY_BUF: usize = 128;

impl RuleSet {
    pub fn builder() -> RuleSetBuilder {
        RuleSetBuilder::new()
    }

    /// Rules from one YAML text (default filter: aws/cloudtrail).
    pub fn from_yaml(text: &str) -> (RuleSet, LoadReport) {
        let mut builder = RuleSetBuilder::new();
        builder.add_yaml(text, "<inline>");
        builder.build()
    }

    /// Rules from files or directories.
    pub fn load_paths<P: AsRef<Path>>(
        paths: &[P],
        filter: LogSourceFilter,
    ) -> Result<(RuleSet, LoadReport), LoadError> {
        let mut builder = RuleSetBuilder::new().logsource(filter);
        for path in paths {
            builder.add_path(path)?;
        }
        Ok(builder.build())
    }

    pub fn rules(&self) -> &[Rule] {
        &self.rules
    }

    pub fn correlations(&self) -> &[Arc<CorrelationRule>] {
        &self.correlations
    }

    pub fn len(&self) -> usize {
        self.rules.len()
    }

    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    pub fn index_field(&self) -> &str {
        &self.index_field
    }

    /// How many rules the pre-filter can skip by the value of the key field.
    pub fn indexed_rule_count(&self) -> usize {
        let by_other_fields: usize = self.secondary.iter().map(|k| k.rules.len()).sum();
        self.rules.len() - self.unindexed.len() - by_other_fields
    }

    /// How many rules are evaluated on every event (no key field narrows them).
    pub fn unindexed_rule_count(&self) -> usize {
        self.unindexed.len()
    }

    /// Every field path the rules and correlations read, sorted: what a typed reader must provide.
    pub fn referenced_fields(&self) -> std::collections::BTreeSet<&str> {
        let mut fields = std::collections::BTreeSet::new();
        fields.insert(self.index_field.as_str());
        for rule in &self.rules {
            rule.detection.fields(&mut fields);
        }
        for correlation in &self.correlations {
            fields.extend(correlation.group_by.iter().map(String::as_str));
            fields.extend(correlation.value_field.as_deref());
        }
        fields
    }

    /// Appends a [`Match`] for every rule matching `doc`, in rule order. Only rules whose key-field
    /// values include the document's (plus rules without such a requirement) are evaluated.
    pub fn evaluate<'r, D: Document + ?Sized>(&'r self, doc: &D, out: &mut Vec<Match<'r>>) {
        let start = out.len();
        for &i in &self.unindexed {
            self.eval_rule(i as usize, doc, out);
        }
        for key in &self.secondary {
            if !self.eval_candidates(&key.field, &key.index, start, doc, out) {
                // A value the index cannot judge: evaluate the group's rules not yet matched.
                for &i in &key.rules {
                    if !out[start..].iter().any(|m| m.rule_index == i as usize) {
                        self.eval_rule(i as usize, doc, out);
                    }
                }
            }
        }
        if !self.eval_candidates(&self.index_field, &self.index, start, doc, out) {
            out.truncate(start);
            self.evaluate_all(doc, out);
            return;
        }
        if out.len() - start > 1 {
            out[start..].sort_unstable_by_key(|m| m.rule_index);
        }
    }

    /// Evaluates the rules `index` lists for the values of `field`. False when a value is one
    /// the index cannot judge (a number, boolean or object), leaving the caller to fall back.
    fn eval_candidates<'r, D: Document + ?Sized>(
        &'r self,
        field: &str,
        index: &KeyMap,
        start: usize,
        doc: &D,
        out: &mut Vec<Match<'r>>,
    ) -> bool {
        let mut fall_back = false;
        let mut values = 0usize;
        doc.visit_field(field, &mut |value| {
            values += 1;
            match value {
                FieldValue::Str(s) => {
                    let mut buf = [0u8; KEY_BUF];
                    let candidates = if s.len() <= KEY_BUF && s.is_ascii() {
                        let lowered = &mut buf[..s.len()];
                        lowered.copy_from_slice(s.as_bytes());
                        lowered.make_ascii_lowercase();
                        std::str::from_utf8(lowered).ok().and_then(|k| index.get(k))
                    } else {
                        index.get(crate::matcher::fold_case(s).as_str())
                    };
                    for &i in candidates.map(Vec::as_slice).unwrap_or_default() {
                        let i = i as usize;
                        // A key visited twice (array) must not report a rule twice.
                        if values == 1 || !out[start..].iter().any(|m| m.rule_index == i) {
                            self.eval_rule(i, doc, out);
                        }
                    }
                    false
                }
                FieldValue::Null => false,
                // Numbers or objects as key: the index cannot tell.
                _ => {
                    fall_back = true;
                    true
                }
            }
        });
        !fall_back
    }

    /// Evaluates every rule, bypassing the pre-filter (reference behaviour for tests).
    pub fn evaluate_all<'r, D: Document + ?Sized>(&'r self, doc: &D, out: &mut Vec<Match<'r>>) {
        for i in 0..self.rules.len() {
            self.eval_rule(i, doc, out);
        }
    }

    fn eval_rule<'r, D: Document + ?Sized>(&'r self, i: usize, doc: &D, out: &mut Vec<Match<'r>>) {
        let Some(rule) = self.rules.get(i) else {
            return;
        };
        if let Some(selections) = rule.detection.eval(doc) {
            out.push(Match {
                rule,
                rule_index: i,
                selections,
            });
        }
    }
}
