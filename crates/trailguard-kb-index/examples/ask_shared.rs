//! Asks questions of the shared OTRF + Panther corpus in memory, printing each plan and answer:
//! `cargo run -p trailguard-kb-index --example ask_shared -- NOW "question" ["follow-up" ...]`.
//! TRAILGUARD_DATA points at the shared data (default ../shared/data).

use std::path::PathBuf;

use trailguard_kb::answer::Style;
use trailguard_kb::plan::Clock;
use trailguard_kb::session::{Conversation, Settings};
use trailguard_kb::store::{IndexedDoc, KnowledgeWriter};
use trailguard_kb_index::ingest::{ingest, shared_corpus, IngestOptions, Ingested};
use trailguard_kb_index::TantivyStore;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let data = trailguard_core::data::data_dir(None, std::env::var_os("TRAILGUARD_DATA"));
    let dir = tempfile::tempdir()?;
    let corpus = dir.path().join("corpus.jsonl");
    std::fs::write(&corpus, shared_corpus(&data)?.join("\n") + "\n")?;
    let mut paths = vec![corpus];
    if let Ok(extra) = std::env::var("KB_EXTRA") {
        paths.push(PathBuf::from(extra));
    }
    let (detector, _) = trailguard_triage::Detector::load::<PathBuf>(&[], Default::default())?;
    let mut docs = Vec::new();
    ingest(
        &paths,
        &detector,
        IngestOptions::default(),
        |item| match item {
            Ingested::Doc(doc) => docs.push(IndexedDoc {
                doc: *doc,
                vector: None,
            }),
            Ingested::Bad(bad) => eprintln!("bad: {bad}"),
        },
    );
    let mut store = TantivyStore::in_memory()?;
    let stats = store.add(&docs)?;
    eprintln!("{} docs: {stats:?}", docs.len());
    let mut args = std::env::args().skip(1);
    let now = args.next().unwrap_or_else(|| "2020-09-15T00:00:00Z".into());
    let settings = Settings {
        clock: Clock {
            now: trailguard_kb::time::parse_time(&now).ok_or("bad now")?,
            utc_offset: 0,
        },
        style: Style::default(),
        model: Default::default(),
    };
    let mut conversation = Conversation::new(&store, settings)?;
    for question in args {
        let answer = conversation.ask_from_data(&store, &question, None)?;
        println!(
            "Q: {question}\nplan: {}\n{}\nfacts: {:?} no_data={} retrieved={:?}\n",
            serde_json::to_string(&answer.plan)?,
            answer.text,
            answer.facts,
            answer.no_data,
            answer.retrieved.iter().take(5).collect::<Vec<_>>()
        );
    }
    Ok(())
}
