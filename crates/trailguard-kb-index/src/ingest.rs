//! Event files into knowledge documents: the readers split any input TrailGuard reads into
//! records, the triage pipeline rates them (rules and correlation, in input order, as
//! `trailguard analyze` does), and each analysis with its raw record becomes a document.
//! Outcome lines (`{"trailguard_outcome": ...}`, written by `trailguard run --kb`) become an
//! event and an outcome document. A bad record is reported with its file and record number and
//! skipped; the rest go on.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError};

use trailguard_events::{read_inputs, ReadOptions};
use trailguard_kb::doc::raw_link;
use trailguard_kb::{event_doc, KnowledgeDoc, OutcomeRecord};
use trailguard_triage::pipeline::{
    self, Formatter, InputError, InputRecord, Outcome, PipelineOptions,
};
use trailguard_triage::Detector;

/// A record that did not become a document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadRecord {
    pub file: Arc<str>,
    pub index: Option<u64>,
    pub message: String,
}

impl std::fmt::Display for BadRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.index {
            Some(index) => write!(f, "{} record {index}: {}", self.file, self.message),
            None => write!(f, "{}: {}", self.file, self.message),
        }
    }
}

/// What one input record gave.
#[derive(Debug, Clone, PartialEq)]
pub enum Ingested {
    Doc(Box<KnowledgeDoc>),
    Bad(BadRecord),
}

/// How inputs are read and analysed.
#[derive(Debug, Clone, Copy, Default)]
pub struct IngestOptions {
    pub read: ReadOptions,
    /// Analysis threads (default: all cores).
    pub threads: Option<usize>,
}

type Key = (Arc<str>, u64);

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

fn outcome_docs(file: &Arc<str>, index: u64, json: &str) -> Vec<Ingested> {
    let bad = |message: String| {
        vec![Ingested::Bad(BadRecord {
            file: file.clone(),
            index: Some(index),
            message,
        })]
    };
    let record: OutcomeRecord = match serde_json::from_str(json) {
        Ok(record) => record,
        Err(error) => return bad(format!("outcome record: {error}")),
    };
    match record.documents(&raw_link(file, index)) {
        Ok((event, outcome)) => vec![
            Ingested::Doc(Box::new(event)),
            Ingested::Doc(Box::new(outcome)),
        ],
        Err(error) => bad(format!("outcome record, field event: {error}")),
    }
}

/// Reads `paths`, analyses every record with `detector`, and hands each document (or bad
/// record) to `sink`, in input order (outcome lines may come before the events around them).
pub fn ingest(
    paths: &[PathBuf],
    detector: &Detector,
    options: IngestOptions,
    mut sink: impl FnMut(Ingested),
) {
    let raw: Arc<Mutex<HashMap<Key, Box<str>>>> = Arc::default();
    let side: Arc<Mutex<Vec<Ingested>>> = Arc::default();
    let (raw_in, side_in) = (raw.clone(), side.clone());
    let inputs = read_inputs(paths, &options.read).filter_map(move |item| match item {
        Ok(event) => {
            let file = event.origin.file.clone();
            let index = event.origin.index;
            // Outcome lines are documents already; they skip the rules.
            if event.json.contains("\"trailguard_outcome\"") {
                lock(&side_in).extend(outcome_docs(&file, index, &event.json));
                return None;
            }
            lock(&raw_in).insert((file.clone(), index), event.json.clone());
            Some(Ok(InputRecord {
                file,
                index,
                json: event.json,
            }))
        }
        Err(error) => Some(Err(InputError {
            message: match error.offset {
                Some(offset) => format!("{} (byte {offset})", error.kind),
                None => error.kind.to_string(),
            },
            file: error.file,
            index: error.index,
        })),
    });
    let mut pipeline_options = PipelineOptions::default();
    if let Some(threads) = options.threads {
        pipeline_options.threads = threads.max(1);
    }
    let nothing: &Formatter = &|_, _| {};
    let drain_side = |sink: &mut dyn FnMut(Ingested)| {
        let pending: Vec<Ingested> = std::mem::take(&mut *lock(&side));
        for item in pending {
            sink(item);
        }
    };
    pipeline::run_rules(inputs, detector, nothing, pipeline_options, |outcome| {
        drain_side(&mut sink);
        match outcome {
            Outcome::Analysed {
                file,
                index,
                record,
                ..
            } => {
                let json = lock(&raw).remove(&(file.clone(), index));
                let item = match json {
                    Some(json) => match event_doc(&record, &json, &raw_link(&file, index)) {
                        Ok(doc) => Ingested::Doc(Box::new(doc)),
                        Err(error) => Ingested::Bad(BadRecord {
                            file,
                            index: Some(index),
                            message: error.to_string(),
                        }),
                    },
                    None => Ingested::Bad(BadRecord {
                        file,
                        index: Some(index),
                        message: "internal: the raw record was lost".into(),
                    }),
                };
                sink(item);
            }
            Outcome::Failed(error) => {
                if let Some(index) = error.index {
                    lock(&raw).remove(&(error.file.clone(), index));
                }
                sink(Ingested::Bad(BadRecord {
                    file: error.file,
                    index: error.index,
                    message: error.message,
                }));
            }
        }
    });
    drain_side(&mut sink);
}

/// Where the question set's corpus comes from, under the shared data directory.
pub const SHARED_CORPUS: [&str; 3] = [
    "cloudtrail/otrf/ec2_proxy_s3_exfiltration/ec2_proxy_s3_exfiltration_2020-09-14011940.json",
    "cloudtrail/panther/labelled_tests_aws_cloudtrail.jsonl",
    "cloudtrail/panther/labelled_tests_aws_guardduty.jsonl",
];

/// The shared OTRF and Panther records as one JSON value per line: OTRF's CloudTrail lines as
/// they are, and the `log` of each Panther labelled test (CloudTrail records and GuardDuty
/// findings). This is the corpus the question set is written against.
pub fn shared_corpus(data: &std::path::Path) -> std::io::Result<Vec<String>> {
    let mut lines = Vec::new();
    for (position, relative) in SHARED_CORPUS.iter().enumerate() {
        let path = data.join(relative);
        let text = std::fs::read_to_string(&path)
            .map_err(|e| std::io::Error::new(e.kind(), format!("{}: {e}", path.display())))?;
        for line in text.lines().filter(|l| !l.trim().is_empty()) {
            if position == 0 {
                lines.push(line.to_string());
                continue;
            }
            let case: serde_json::Value = serde_json::from_str(line).map_err(|e| {
                std::io::Error::new(
                    std::io::ErrorKind::InvalidData,
                    format!("{}: {e}", path.display()),
                )
            })?;
            if let Some(log) = case.get("log").filter(|log| log.is_object()) {
                lines.push(log.to_string());
            }
        }
    }
    Ok(lines)
}
