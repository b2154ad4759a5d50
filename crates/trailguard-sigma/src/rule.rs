//! Rule metadata and compiled detection rules.

use crate::detection::Detection;
use crate::document::Document;
use serde_yaml_ng::Value as Yaml;

/// A rule's `logsource`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LogSource {
    pub product: Option<String>,
    pub service: Option<String>,
    pub category: Option<String>,
}

impl std::fmt::Display for LogSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let part = |v: &Option<String>| v.clone().unwrap_or_else(|| "*".into());
        write!(
            f,
            "product={} service={} category={}",
            part(&self.product),
            part(&self.service),
            part(&self.category)
        )
    }
}

/// Which logsources to load. A `None` part accepts anything; a `Some` part must equal the rule's
/// (case-insensitive). Rules that leave out a part the filter sets are rejected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogSourceFilter {
    pub product: Option<String>,
    pub service: Option<String>,
    pub category: Option<String>,
}

impl LogSourceFilter {
    /// `product: aws`, `service: cloudtrail` (the default).
    pub fn aws_cloudtrail() -> Self {
        Self {
            product: Some("aws".into()),
            service: Some("cloudtrail".into()),
            category: None,
        }
    }

    /// Accepts every logsource.
    pub fn any() -> Self {
        Self {
            product: None,
            service: None,
            category: None,
        }
    }

    pub fn accepts(&self, source: &LogSource) -> bool {
        let part_ok = |want: &Option<String>, have: &Option<String>| match (want, have) {
            (None, _) => true,
            (Some(w), Some(h)) => w.eq_ignore_ascii_case(h),
            (Some(_), None) => false,
        };
        part_ok(&self.product, &source.product)
            && part_ok(&self.service, &source.service)
            && part_ok(&self.category, &source.category)
    }
}

impl Default for LogSourceFilter {
    fn default() -> Self {
        Self::aws_cloudtrail()
    }
}

/// Sigma levels, ordered by severity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Level {
    Informational,
    Low,
    Medium,
    High,
    Critical,
}

impl Level {
    pub fn parse(text: &str) -> Option<Self> {
        match text.trim().to_ascii_lowercase().as_str() {
            "informational" => Some(Self::Informational),
            "low" => Some(Self::Low),
            "medium" => Some(Self::Medium),
            "high" => Some(Self::High),
            "critical" => Some(Self::Critical),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Informational => "informational",
            Self::Low => "low",
            Self::Medium => "medium",
            Self::High => "high",
            Self::Critical => "critical",
        }
    }
}

/// Descriptive fields shared by detection and correlation rules.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RuleMeta {
    /// The rule's `id`; when absent, its `name`, else its title.
    pub id: String,
    /// The rule's `name` (correlations may refer to rules by it).
    pub name: Option<String>,
    pub title: String,
    pub description: String,
    pub status: String,
    /// The `level` as written, lowercased (empty when absent). See [`RuleMeta::level_rank`].
    pub level: String,
    pub author: String,
    pub tags: Vec<String>,
    /// ATT&CK technique ids from `attack.tNNNN[.NNN]` tags, uppercased: `T1562.008`.
    pub techniques: Vec<String>,
    pub falsepositives: Vec<String>,
    pub references: Vec<String>,
    pub logsource: LogSource,
    /// File the rule came from (`<inline>` for text).
    pub source: String,
}

impl RuleMeta {
    pub fn level_rank(&self) -> Option<Level> {
        Level::parse(&self.level)
    }
}

/// A loaded detection rule.
#[derive(Debug, Clone)]
pub struct Rule {
    pub meta: RuleMeta,
    /// True when a correlation uses this rule without `generate: true`: per Sigma, its own matches
    /// feed the correlation and are not alerts by themselves.
    pub correlation_only: bool,
    pub(crate) detection: Detection,
}

impl Rule {
    /// Selection names in file order.
    pub fn selection_names(&self) -> impl Iterator<Item = &str> {
        self.detection.selections.iter().map(|s| s.name.as_str())
    }

    /// Evaluates this rule alone (no pre-filter).
    pub fn matches<D: Document + ?Sized>(&self, doc: &D) -> bool {
        self.detection.eval(doc).is_some()
    }
}

pub(crate) fn get<'a>(map: &'a serde_yaml_ng::Mapping, key: &str) -> Option<&'a Yaml> {
    map.get(key)
}

pub(crate) fn get_str(map: &serde_yaml_ng::Mapping, key: &str) -> Option<String> {
    match get(map, key)? {
        Yaml::String(s) => Some(s.clone()),
        Yaml::Number(n) => Some(n.to_string()),
        Yaml::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

pub(crate) fn get_str_list(map: &serde_yaml_ng::Mapping, key: &str) -> Vec<String> {
    match get(map, key) {
        Some(Yaml::Sequence(items)) => items
            .iter()
            .filter_map(|i| match i {
                Yaml::String(s) => Some(s.clone()),
                Yaml::Number(n) => Some(n.to_string()),
                _ => None,
            })
            .collect(),
        Some(Yaml::String(s)) => vec![s.clone()],
        _ => Vec::new(),
    }
}

/// `attack.t1562.008` → `T1562.008`; other tags → None.
pub fn technique_from_tag(tag: &str) -> Option<String> {
    let rest = tag.strip_prefix("attack.")?;
    let digits = rest.strip_prefix(['t', 'T'])?;
    let (main, sub) = match digits.split_once('.') {
        Some((m, s)) => (m, Some(s)),
        None => (digits, None),
    };
    let numeric = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if !numeric(main) || !sub.is_none_or(numeric) {
        return None;
    }
    Some(format!("T{digits}"))
}

pub(crate) fn parse_meta(map: &serde_yaml_ng::Mapping, source: &str) -> RuleMeta {
    let title = get_str(map, "title").unwrap_or_default();
    let name = get_str(map, "name");
    let id = get_str(map, "id")
        .or_else(|| name.clone())
        .unwrap_or_else(|| title.clone());
    let tags = get_str_list(map, "tags");
    let mut techniques: Vec<String> = tags.iter().filter_map(|t| technique_from_tag(t)).collect();
    techniques.dedup();
    let logsource = match get(map, "logsource") {
        Some(Yaml::Mapping(ls)) => LogSource {
            product: get_str(ls, "product"),
            service: get_str(ls, "service"),
            category: get_str(ls, "category"),
        },
        _ => LogSource::default(),
    };
    RuleMeta {
        id,
        name,
        title,
        description: get_str(map, "description")
            .unwrap_or_default()
            .trim()
            .to_owned(),
        status: get_str(map, "status").unwrap_or_default(),
        level: get_str(map, "level")
            .unwrap_or_default()
            .trim()
            .to_ascii_lowercase(),
        author: get_str(map, "author").unwrap_or_default(),
        tags,
        techniques,
        falsepositives: get_str_list(map, "falsepositives"),
        references: get_str_list(map, "references"),
        logsource,
        source: source.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn techniques_from_tags() {
        assert_eq!(
            technique_from_tag("attack.t1562.008").as_deref(),
            Some("T1562.008")
        );
        assert_eq!(technique_from_tag("attack.T1098").as_deref(), Some("T1098"));
        assert_eq!(technique_from_tag("attack.persistence"), None);
        assert_eq!(technique_from_tag("attack.t1562."), None);
        assert_eq!(technique_from_tag("attack.ta0001"), None);
        assert_eq!(technique_from_tag("cve.2021.1"), None);
    }

    #[test]
    fn logsource_filter() {
        let ct = LogSource {
            product: Some("AWS".into()),
            service: Some("cloudtrail".into()),
            category: None,
        };
        assert!(LogSourceFilter::aws_cloudtrail().accepts(&ct));
        assert!(LogSourceFilter::any().accepts(&ct));
        assert!(!LogSourceFilter::aws_cloudtrail().accepts(&LogSource {
            product: Some("aws".into()),
            ..LogSource::default()
        }));
    }

    #[test]
    fn levels_order() {
        assert!(Level::Critical > Level::High && Level::Low > Level::Informational);
        assert_eq!(Level::parse(" High "), Some(Level::High));
        assert_eq!(Level::parse("severe"), None);
    }
}
