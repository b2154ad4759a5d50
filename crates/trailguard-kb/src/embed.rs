//! The embedder port, and which documents are worth a vector.
//!
//! Embedding is the slow part offline (a few texts per second per core here), so vectors are a
//! complement to BM25 and filters, not the primary path: only documents a paraphrase search
//! helps with get one (findings, outcomes, events rated medium or high), and documents with the
//! same summary share one embedding.

use std::collections::HashMap;

use trailguard_core::ThreatLevel;

use crate::doc::{DocKind, KnowledgeDoc};
use crate::store::{indexed_hash, IndexedDoc, KnowledgeWriter, StoreError};

/// A text embedder (e5: `query:` and `passage:` prefixes matter).
pub trait TextEmbedder: Send + Sync {
    /// One L2-normalised vector per text, in order.
    fn embed_passages(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>, EmbedFailure>;
    fn embed_query(&self, text: &str) -> Result<Vec<f32>, EmbedFailure>;
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("embedding failed: {0}")]
pub struct EmbedFailure(pub String);

/// Whether a document gets a vector.
pub fn worth_embedding(doc: &KnowledgeDoc) -> bool {
    match doc.kind {
        DocKind::Finding | DocKind::Outcome => true,
        DocKind::Event => doc.threat_level >= ThreatLevel::Medium,
    }
}

/// The passage embedded for a document: title and summary (the facts list adds little meaning
/// and many tokens).
pub fn passage_text(doc: &KnowledgeDoc) -> String {
    format!("{}\n{}", doc.title, doc.summary)
}

/// The distinct passages of the documents worth a vector, and for each document the index of
/// its passage (`None`: no vector).
pub fn passages_to_embed(docs: &[&KnowledgeDoc]) -> (Vec<String>, Vec<Option<usize>>) {
    let mut passages: Vec<String> = Vec::new();
    let mut seen: HashMap<String, usize> = HashMap::new();
    let slots = docs
        .iter()
        .map(|doc| {
            if !worth_embedding(doc) {
                return None;
            }
            let text = passage_text(doc);
            Some(*seen.entry(text.clone()).or_insert_with(|| {
                passages.push(text);
                passages.len() - 1
            }))
        })
        .collect();
    (passages, slots)
}

/// What preparing a batch did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Prepared {
    /// Documents already stored as they are (left out).
    pub unchanged: usize,
    /// Passages embedded (after de-duplication).
    pub embedded: usize,
}

#[derive(Debug, thiserror::Error)]
pub enum PrepareError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Embed(#[from] EmbedFailure),
}

/// The documents of `docs` that the store does not already hold as they are, with vectors for
/// those worth one when `embedder` is given. Embedding runs in batches of `batch`, and
/// `progress(done, total)` hears about each.
pub fn prepare(
    docs: Vec<KnowledgeDoc>,
    writer: &dyn KnowledgeWriter,
    embedder: Option<&dyn TextEmbedder>,
    batch: usize,
    progress: &mut dyn FnMut(usize, usize),
) -> Result<(Vec<IndexedDoc>, Prepared), PrepareError> {
    let mut stats = Prepared::default();
    let mut fresh = Vec::with_capacity(docs.len());
    for doc in docs {
        let with_vector = embedder.is_some() && worth_embedding(&doc);
        let stored = writer.stored_hash(&doc.id)?;
        if stored == Some(indexed_hash(&doc, with_vector)) {
            stats.unchanged += 1;
        } else {
            fresh.push(doc);
        }
    }
    let Some(embedder) = embedder else {
        let indexed = fresh
            .into_iter()
            .map(|doc| IndexedDoc { doc, vector: None })
            .collect();
        return Ok((indexed, stats));
    };
    let refs: Vec<&KnowledgeDoc> = fresh.iter().collect();
    let (passages, slots) = passages_to_embed(&refs);
    let mut vectors: Vec<Vec<f32>> = Vec::with_capacity(passages.len());
    for chunk in passages.chunks(batch.max(1)) {
        let texts: Vec<&str> = chunk.iter().map(String::as_str).collect();
        vectors.extend(embedder.embed_passages(&texts)?);
        progress(vectors.len(), passages.len());
    }
    stats.embedded = passages.len();
    let indexed = fresh
        .into_iter()
        .zip(slots)
        .map(|(doc, slot)| IndexedDoc {
            doc,
            vector: slot.and_then(|i| vectors.get(i).cloned()),
        })
        .collect();
    Ok((indexed, stats))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_what_helps_is_embedded_and_once() {
        let doc = |kind, level, summary: &str| KnowledgeDoc {
            kind,
            threat_level: level,
            title: "t".into(),
            summary: summary.into(),
            ..KnowledgeDoc::default()
        };
        let docs = [
            doc(DocKind::Event, ThreatLevel::Low, "routine"),
            doc(DocKind::Event, ThreatLevel::High, "stopped logging"),
            doc(DocKind::Event, ThreatLevel::High, "stopped logging"),
            doc(DocKind::Finding, ThreatLevel::Low, "finding"),
        ];
        let refs: Vec<&KnowledgeDoc> = docs.iter().collect();
        let (passages, slots) = passages_to_embed(&refs);
        assert_eq!(passages.len(), 2);
        assert_eq!(slots, vec![None, Some(0), Some(0), Some(1)]);
    }
}
