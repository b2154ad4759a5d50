//! Prints every document of the shared OTRF + Panther corpus (plus the question set's outcome
//! lines) as one JSON line, with the corpus line it came from: the table the question set's
//! expected ids are looked up in (`scripts/kb-questions.py`).

use std::path::PathBuf;

use trailguard_kb_index::ingest::{ingest, shared_corpus, IngestOptions, Ingested};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let data = trailguard_core::data::data_dir(None, std::env::var_os("TRAILGUARD_DATA"));
    let dir = tempfile::tempdir()?;
    let corpus = dir.path().join("shared-corpus.jsonl");
    std::fs::write(&corpus, shared_corpus(&data)?.join("\n") + "\n")?;
    let mut paths = vec![corpus];
    paths.extend(std::env::args().skip(1).map(PathBuf::from));
    let (detector, _) = trailguard_triage::Detector::load::<PathBuf>(&[], Default::default())?;
    ingest(
        &paths,
        &detector,
        IngestOptions::default(),
        |item| match item {
            Ingested::Doc(doc) => println!("{}", serde_json::to_string(&doc).unwrap_or_default()),
            Ingested::Bad(bad) => eprintln!("bad: {bad}"),
        },
    );
    Ok(())
}
