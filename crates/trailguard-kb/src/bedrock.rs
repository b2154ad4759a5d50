//! A knowledge document as Amazon Bedrock Knowledge Bases ingest it from an S3 data source: the
//! Markdown file `<key>.md` and beside it `<key>.md.metadata.json` holding
//! `{"metadataAttributes": {...}}`.
//!
//! Format and limits, from "Set up a data source for your knowledge base"
//! (<https://docs.aws.amazon.com/bedrock/latest/userguide/knowledge-base-ds.html>): the metadata
//! file has the source file's name with `.metadata.json` appended, sits in the same folder, and
//! is at most 10 KB; values are strings, numbers or booleans, and lists of strings (the
//! `listContains` filter of `RetrievalFilter`,
//! <https://docs.aws.amazon.com/bedrock/latest/APIReference/API_agent-runtime_RetrievalFilter.html>;
//! `STRING_LIST` in `MetadataAttributeSchema`). Filter keys are at most 100 characters
//! (`FilterAttribute`). Time is a number (Unix seconds) so `greaterThan`/`lessThan` filters work.

use serde_json::{json, Map, Value};

use crate::doc::{markdown, KnowledgeDoc};
use crate::time::{civil_from_days, format_time, DAY};

/// Largest metadata file Bedrock accepts.
pub const METADATA_MAX_BYTES: usize = 10 * 1024;
/// Longest single string value kept in metadata (user agents can be long).
const MAX_VALUE_CHARS: usize = 512;

/// One document's two S3 objects.
#[derive(Debug, Clone, PartialEq)]
pub struct BedrockObjects {
    /// `<prefix><kind>/<yyyy>/<mm>/<dd>/<id>.md`.
    pub document_key: String,
    pub document: String,
    /// `<document_key>.metadata.json`.
    pub metadata_key: String,
    pub metadata: String,
}

/// Where a document goes under `prefix` (e.g. `documents/`): by kind and event date, so a
/// bucket listing reads like a journal.
pub fn document_key(doc: &KnowledgeDoc, prefix: &str) -> String {
    let (year, month, day) = civil_from_days(doc.time.div_euclid(DAY));
    format!(
        "{prefix}{}/{year:04}/{month:02}/{day:02}/{}.md",
        doc.kind.as_str(),
        doc.id
    )
}

fn capped(text: &str) -> String {
    text.chars().take(MAX_VALUE_CHARS).collect()
}

/// The `metadataAttributes` of a document: every filterable fact, empty ones left out.
pub fn metadata_attributes(doc: &KnowledgeDoc) -> Map<String, Value> {
    let mut attributes = Map::new();
    let mut text = |key: &str, value: &str| {
        if !value.is_empty() {
            attributes.insert(key.to_string(), Value::String(capped(value)));
        }
    };
    text("doc_id", &doc.id);
    text("kind", doc.kind.as_str());
    text("event_id", &doc.event_id);
    text("event_name", &doc.event_name);
    text("event_source", &doc.event_source);
    text("account", &doc.account);
    text("region", &doc.region);
    text("principal", &doc.principal);
    text("principal_type", &doc.principal_type);
    text("source_ip", &doc.source_ip);
    text("user_agent", &doc.user_agent);
    text("threat_level", doc.threat_level.as_str());
    text("finding_type", &doc.finding_type);
    text("s3_object", &doc.s3_object);
    text("error_code", &doc.error_code);
    text("action", &doc.action);
    text("related", &doc.related);
    text("raw_link", &doc.raw_link);
    if doc.time != 0 {
        attributes.insert("time".into(), json!(doc.time));
        attributes.insert("time_iso".into(), Value::String(format_time(doc.time)));
    }
    // Ordered low < medium < high, for range filters ("at least medium").
    let rank = match doc.threat_level {
        trailguard_core::ThreatLevel::Low => 1,
        trailguard_core::ThreatLevel::Medium => 2,
        trailguard_core::ThreatLevel::High => 3,
    };
    attributes.insert("threat_rank".into(), json!(rank));
    if let Some(mfa) = doc.mfa {
        attributes.insert("mfa_used".into(), Value::Bool(mfa));
    }
    for (key, values) in [
        ("rule_ids", &doc.rule_ids),
        ("attack_ids", &doc.attack_ids),
        ("pii_types", &doc.pii_types),
        ("resource_arns", &doc.resource_arns),
    ] {
        if !values.is_empty() {
            let list: Vec<Value> = values.iter().map(|v| Value::String(capped(v))).collect();
            attributes.insert(key.into(), Value::Array(list));
        }
    }
    attributes
}

/// The metadata file's text, within Bedrock's 10 KB: when too big, list values lose their last
/// items (resource ARNs first), then long strings are cut.
pub fn metadata_json(doc: &KnowledgeDoc) -> String {
    let mut attributes = metadata_attributes(doc);
    let render =
        |attributes: &Map<String, Value>| json!({ "metadataAttributes": attributes }).to_string();
    let mut text = render(&attributes);
    for key in ["resource_arns", "rule_ids", "attack_ids", "pii_types"] {
        while text.len() > METADATA_MAX_BYTES {
            let Some(Value::Array(list)) = attributes.get_mut(key) else {
                break;
            };
            if list.pop().is_none() {
                break;
            }
            text = render(&attributes);
        }
    }
    let mut limit = MAX_VALUE_CHARS;
    while text.len() > METADATA_MAX_BYTES && limit > 16 {
        limit /= 2;
        for value in attributes.values_mut() {
            if let Value::String(s) = value {
                if s.chars().count() > limit {
                    *s = s.chars().take(limit).collect();
                }
            }
        }
        text = render(&attributes);
    }
    text
}

/// Both objects of `doc` under `prefix`.
pub fn bedrock_objects(doc: &KnowledgeDoc, prefix: &str) -> BedrockObjects {
    let document_key = document_key(doc, prefix);
    BedrockObjects {
        metadata_key: format!("{document_key}.metadata.json"),
        document_key,
        document: markdown(doc),
        metadata: metadata_json(doc),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::doc::DocKind;

    fn doc() -> KnowledgeDoc {
        KnowledgeDoc {
            id: "e-1~0badf00d".into(),
            kind: DocKind::Event,
            time: 1_600_046_380,
            event_name: "ConsoleLogin".into(),
            principal: "root".into(),
            mfa: Some(false),
            rule_ids: vec!["r1".into()],
            ..KnowledgeDoc::default()
        }
    }

    #[test]
    fn objects_follow_the_s3_data_source_layout() {
        let objects = bedrock_objects(&doc(), "documents/");
        assert_eq!(
            objects.document_key,
            "documents/event/2020/09/14/e-1~0badf00d.md"
        );
        assert_eq!(
            objects.metadata_key,
            "documents/event/2020/09/14/e-1~0badf00d.md.metadata.json"
        );
        let metadata: Value = serde_json::from_str(&objects.metadata).unwrap();
        let attributes = &metadata["metadataAttributes"];
        assert_eq!(attributes["event_name"], "ConsoleLogin");
        assert_eq!(attributes["time"], 1_600_046_380);
        assert_eq!(attributes["mfa_used"], false);
        assert_eq!(attributes["threat_rank"], 1);
        assert_eq!(attributes["rule_ids"], json!(["r1"]));
        assert!(
            attributes.get("source_ip").is_none(),
            "empty values are left out"
        );
        for (key, value) in attributes.as_object().unwrap() {
            assert!(key.len() <= 100);
            assert!(matches!(
                value,
                Value::String(_) | Value::Number(_) | Value::Bool(_) | Value::Array(_)
            ));
        }
        assert!(objects.document.starts_with("### ConsoleLogin\n"));
    }

    #[test]
    fn metadata_stays_within_ten_kilobytes() {
        let mut big = doc();
        big.user_agent = "x".repeat(100_000);
        big.resource_arns = (0..2_000)
            .map(|i| format!("arn:aws:s3:::bucket-{i}/some/long/key/{i}"))
            .collect();
        big.summary = "y".repeat(1_000_000);
        let text = metadata_json(&big);
        assert!(text.len() <= METADATA_MAX_BYTES, "{}", text.len());
        let metadata: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(metadata["metadataAttributes"]["doc_id"], "e-1~0badf00d");
        assert!(!metadata["metadataAttributes"]["resource_arns"]
            .as_array()
            .unwrap()
            .is_empty());
    }
}
