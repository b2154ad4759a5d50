//! The ports a knowledge store sits behind, and the structured queries the domain asks of it.
//! One adapter per backend: an embedded index offline (`trailguard-kb-index`); a Bedrock
//! Knowledge Base later. Counts and top-N are the store's to compute exactly: answers never
//! estimate them.

use serde::{Deserialize, Serialize};

use crate::doc::{DocKind, KnowledgeDoc};

/// Structured filters. Values inside one field are OR-ed, fields are AND-ed; keyword matches
/// are exact and case-insensitive.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Filters {
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub kinds: Vec<DocKind>,
    /// Inclusive lower bound, Unix seconds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub time_from: Option<i64>,
    /// Exclusive upper bound, Unix seconds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub time_to: Option<i64>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub threat_levels: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub principals: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub source_ips: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub event_names: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub accounts: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub regions: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub attack_ids: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub rule_ids: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub finding_types: Vec<String>,
    /// Outcome actions: deleted, quarantined, alerted, none, failed.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub actions: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub pii_types: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub error_codes: Vec<String>,
    /// Whether MFA was used (documents that do not say never match either value).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mfa: Option<bool>,
    /// `Some(true)`: only calls that returned an error; `Some(false)`: only successful ones.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failed: Option<bool>,
}

impl Filters {
    /// True when nothing restricts the documents.
    pub fn is_empty(&self) -> bool {
        *self == Filters::default()
    }

    /// Whether `doc` passes the filters (the same rules a store applies): for checking what a
    /// store or a model returned.
    pub fn matches(&self, doc: &KnowledgeDoc) -> bool {
        let any = |wanted: &[String], value: &str| {
            wanted.is_empty() || wanted.iter().any(|w| w.eq_ignore_ascii_case(value))
        };
        let any_of = |wanted: &[String], values: &[String]| {
            wanted.is_empty()
                || wanted
                    .iter()
                    .any(|w| values.iter().any(|v| w.eq_ignore_ascii_case(v)))
        };
        (self.kinds.is_empty() || self.kinds.contains(&doc.kind))
            && self.time_from.is_none_or(|from| doc.time >= from)
            && self.time_to.is_none_or(|to| doc.time < to)
            && any(&self.threat_levels, doc.threat_level.as_str())
            && any(&self.principals, &doc.principal)
            && any(&self.source_ips, &doc.source_ip)
            && any(&self.event_names, &doc.event_name)
            && any(&self.accounts, &doc.account)
            && any(&self.regions, &doc.region)
            && any_of(&self.attack_ids, &doc.attack_ids)
            && any_of(&self.rule_ids, &doc.rule_ids)
            && any(&self.finding_types, &doc.finding_type)
            && any(&self.actions, &doc.action)
            && any_of(&self.pii_types, &doc.pii_types)
            && any(&self.error_codes, &doc.error_code)
            && self.mfa.is_none_or(|mfa| doc.mfa == Some(mfa))
            && self
                .failed
                .is_none_or(|failed| failed != doc.error_code.is_empty())
    }
}

/// How results are ordered.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Order {
    /// By relevance to the text (BM25, fused with vectors when given); newest first with no text.
    #[default]
    Relevance,
    Newest,
    Oldest,
}

/// A search: free text (may be empty), filters, how many, and an optional query embedding.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SearchRequest {
    pub text: String,
    pub filters: Filters,
    pub limit: usize,
    pub order: Order,
    /// A `query:` embedding from the same model the documents' vectors came from.
    pub vector: Option<Vec<f32>>,
}

/// One result.
#[derive(Debug, Clone, PartialEq)]
pub struct Hit {
    pub doc: KnowledgeDoc,
    /// BM25, or the fused score with vectors; 0 for filter-only searches.
    pub score: f32,
}

/// Fields with exact counts and top-N.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Facet {
    Kind,
    Principal,
    SourceIp,
    EventName,
    ThreatLevel,
    Account,
    Region,
    UserAgent,
    AttackId,
    RuleId,
    FindingType,
    Action,
    PiiType,
    ErrorCode,
}

impl Facet {
    pub const ALL: [Facet; 14] = [
        Facet::Kind,
        Facet::Principal,
        Facet::SourceIp,
        Facet::EventName,
        Facet::ThreatLevel,
        Facet::Account,
        Facet::Region,
        Facet::UserAgent,
        Facet::AttackId,
        Facet::RuleId,
        Facet::FindingType,
        Facet::Action,
        Facet::PiiType,
        Facet::ErrorCode,
    ];

    /// The field name stores use.
    pub fn field(self) -> &'static str {
        match self {
            Facet::Kind => "kind",
            Facet::Principal => "principal",
            Facet::SourceIp => "source_ip",
            Facet::EventName => "event_name",
            Facet::ThreatLevel => "threat_level",
            Facet::Account => "account",
            Facet::Region => "region",
            Facet::UserAgent => "user_agent",
            Facet::AttackId => "attack_ids",
            Facet::RuleId => "rule_ids",
            Facet::FindingType => "finding_type",
            Facet::Action => "action",
            Facet::PiiType => "pii_types",
            Facet::ErrorCode => "error_code",
        }
    }

    /// The document's values for this facet.
    pub fn values(self, doc: &KnowledgeDoc) -> Vec<String> {
        let one = |value: &str| {
            if value.is_empty() {
                Vec::new()
            } else {
                vec![value.to_string()]
            }
        };
        match self {
            Facet::Kind => one(doc.kind.as_str()),
            Facet::Principal => one(&doc.principal),
            Facet::SourceIp => one(&doc.source_ip),
            Facet::EventName => one(&doc.event_name),
            Facet::ThreatLevel => one(doc.threat_level.as_str()),
            Facet::Account => one(&doc.account),
            Facet::Region => one(&doc.region),
            Facet::UserAgent => one(&doc.user_agent),
            Facet::AttackId => doc.attack_ids.clone(),
            Facet::RuleId => doc.rule_ids.clone(),
            Facet::FindingType => one(&doc.finding_type),
            Facet::Action => one(&doc.action),
            Facet::PiiType => doc.pii_types.clone(),
            Facet::ErrorCode => one(&doc.error_code),
        }
    }

    /// Adds `value` to the filter field of this facet.
    pub fn restrict(self, filters: &mut Filters, value: &str) {
        let value = value.to_string();
        match self {
            Facet::Kind => {
                if let Some(kind) = DocKind::parse(&value) {
                    filters.kinds.push(kind);
                }
            }
            Facet::Principal => filters.principals.push(value),
            Facet::SourceIp => filters.source_ips.push(value),
            Facet::EventName => filters.event_names.push(value),
            Facet::ThreatLevel => filters.threat_levels.push(value),
            Facet::Account => filters.accounts.push(value),
            Facet::Region => filters.regions.push(value),
            // Not filterable by exact value; the text carries it.
            Facet::UserAgent => {}
            Facet::AttackId => filters.attack_ids.push(value),
            Facet::RuleId => filters.rule_ids.push(value),
            Facet::FindingType => filters.finding_types.push(value),
            Facet::Action => filters.actions.push(value),
            Facet::PiiType => filters.pii_types.push(value),
            Facet::ErrorCode => filters.error_codes.push(value),
        }
    }
}

/// A document to add, with its passage embedding when one was made.
#[derive(Debug, Clone, PartialEq)]
pub struct IndexedDoc {
    pub doc: KnowledgeDoc,
    pub vector: Option<Vec<f32>>,
}

impl IndexedDoc {
    /// The hash a store keeps for this document: its content, and whether it has a vector (a
    /// document re-added with a vector replaces the one without).
    pub fn hash(&self) -> u64 {
        indexed_hash(&self.doc, self.vector.is_some())
    }
}

/// [`IndexedDoc::hash`] before the vector is made.
pub fn indexed_hash(doc: &KnowledgeDoc, with_vector: bool) -> u64 {
    let hash = doc.content_hash();
    if with_vector {
        hash ^ 0x9e37_79b9_7f4a_7c15
    } else {
        hash
    }
}

/// What an add did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct AddStats {
    /// New ids.
    pub added: usize,
    /// Ids already stored whose content changed (replaced).
    pub updated: usize,
    /// Ids already stored with the same content (skipped).
    pub unchanged: usize,
}

impl std::ops::AddAssign for AddStats {
    fn add_assign(&mut self, other: AddStats) {
        self.added += other.added;
        self.updated += other.updated;
        self.unchanged += other.unchanged;
    }
}

/// What went wrong in a store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("knowledge store {path}: {message}")]
    Open { path: String, message: String },
    #[error("knowledge store: {0}")]
    Backend(String),
    #[error("knowledge store: stored document {id} is unreadable: {message}")]
    Corrupt { id: String, message: String },
    #[error("knowledge store: document #{index} has an empty id")]
    EmptyId { index: usize },
}

/// Reading the knowledge base: search, exact counts and top-N, one document by id.
pub trait KnowledgeReader: Send + Sync {
    fn search(&self, request: &SearchRequest) -> Result<Vec<Hit>, StoreError>;
    /// Exact number of documents passing the filters.
    fn count(&self, filters: &Filters) -> Result<u64, StoreError>;
    /// Exact top-`n` values of `facet` among documents passing the filters, by number of
    /// documents, ties by value; a document counts once per distinct value.
    fn top(
        &self,
        facet: Facet,
        filters: &Filters,
        n: usize,
    ) -> Result<Vec<(String, u64)>, StoreError>;
    fn get(&self, id: &str) -> Result<Option<KnowledgeDoc>, StoreError>;
    /// Oldest and newest document time (documents without a time left out).
    fn time_bounds(&self) -> Result<Option<(i64, i64)>, StoreError>;
    /// Whether documents carry vectors (then searches may pass one).
    fn has_vectors(&self) -> Result<bool, StoreError>;
}

/// Writing the knowledge base. Adding is idempotent by id: the same content twice is stored
/// once, changed content replaces the old.
pub trait KnowledgeWriter {
    fn add(&mut self, docs: &[IndexedDoc]) -> Result<AddStats, StoreError>;
    /// The hash stored for `id` ([`IndexedDoc::hash`]), so callers can skip unchanged documents
    /// before embedding them.
    fn stored_hash(&self, id: &str) -> Result<Option<u64>, StoreError>;
}
