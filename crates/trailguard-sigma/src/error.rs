//! Load errors and the reasons a rule is reported unsupported.

use std::path::PathBuf;

/// Why one rule (or YAML document) was not loaded. Loading never fails as a whole because of a rule.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UnsupportedReason {
    #[error("invalid YAML: {0}")]
    Yaml(String),
    #[error("invalid rule: {0}")]
    Invalid(String),
    #[error("logsource {found} is not selected ({wanted})")]
    Logsource { found: String, wanted: String },
    #[error("placeholder (`|expand`) on field `{field}` in selection `{selection}`: needs a placeholder pipeline")]
    Placeholder { selection: String, field: String },
    #[error("keyword (field-less) detection in selection `{selection}` is not supported")]
    Keywords { selection: String },
    #[error("unknown modifier `{modifier}` on field `{field}` in selection `{selection}`")]
    UnknownModifier {
        selection: String,
        field: String,
        modifier: String,
    },
    #[error(
        "modifier `{modifier}` on field `{field}` in selection `{selection}` is not implemented"
    )]
    UnsupportedModifier {
        selection: String,
        field: String,
        modifier: String,
    },
    #[error("invalid value for field `{field}` in selection `{selection}`: {why}")]
    InvalidValue {
        selection: String,
        field: String,
        why: String,
    },
    #[error("invalid regular expression on field `{field}` in selection `{selection}`: {why}")]
    Regex {
        selection: String,
        field: String,
        why: String,
    },
    #[error("invalid condition `{condition}`: {why}")]
    Condition { condition: String, why: String },
    #[error("{0}")]
    Aggregation(String),
    #[error("correlation: {0}")]
    Correlation(String),
    #[error("rule collections (`action:`) are not supported")]
    Collection,
}

impl UnsupportedReason {
    /// A short, stable name of the missing feature, for counting.
    pub fn feature(&self) -> &'static str {
        match self {
            Self::Yaml(_) => "yaml",
            Self::Invalid(_) => "invalid",
            Self::Logsource { .. } => "logsource",
            Self::Placeholder { .. } => "placeholder",
            Self::Keywords { .. } => "keywords",
            Self::UnknownModifier { .. } => "unknown-modifier",
            Self::UnsupportedModifier { .. } => "unsupported-modifier",
            Self::InvalidValue { .. } => "invalid-value",
            Self::Regex { .. } => "regex",
            Self::Condition { .. } => "condition",
            Self::Aggregation(_) => "aggregation",
            Self::Correlation(_) => "correlation",
            Self::Collection => "collection",
        }
    }
}

/// A rule that was not loaded, with where it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unsupported {
    /// File path, or `<inline>` for text given directly.
    pub source: String,
    /// Index of the YAML document within the file (0 for single-document files).
    pub document: usize,
    pub id: Option<String>,
    pub title: Option<String>,
    pub reason: UnsupportedReason,
}

impl std::fmt::Display for Unsupported {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.source)?;
        if self.document > 0 {
            write!(f, " (document {})", self.document)?;
        }
        if let Some(title) = &self.title {
            write!(f, ": \"{title}\"")?;
        }
        if let Some(id) = &self.id {
            write!(f, " [{id}]")?;
        }
        write!(f, ": {}", self.reason)
    }
}

/// I/O failure while reading rule files (bad rules are [`Unsupported`], not errors).
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("cannot read rules at {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}
