//! Reader throughput against serde_json, on the same records, in one run.
//!
//! `cargo run --release -p trailguard-events --example throughput -- [MEGABYTES]` (default 200)
//!
//! Builds a single-line `{"Records":[...]}` corpus in memory from Panther's labelled CloudTrail
//! records (varied eventID/eventTime), then times on one thread:
//! 1. the framing scanner alone (`read_reader`: one `RawEvent` per record);
//! 2. the scanner plus `parse_event` on every record;
//! 3. baseline: `serde_json::from_str::<Value>` on every record (pre-split, so no framing cost),
//!    and `parse_event` on the same pre-split records;
//! 4. reference: `serde_json::from_slice::<Value>` on the whole corpus at once.

use std::io::Write;
use std::time::Instant;
use trailguard_events::{parse_event, read_reader, ReadOptions};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let megabytes: usize = std::env::args()
        .nth(1)
        .map(|s| s.parse())
        .transpose()?
        .unwrap_or(200);
    let data = std::env::var("TRAILGUARD_DATA").unwrap_or_else(|_| {
        concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/data").to_owned()
    });
    let path = format!("{data}/cloudtrail/panther/labelled_tests_aws_cloudtrail.jsonl");
    let text =
        std::fs::read_to_string(&path).map_err(|e| format!("{path}: {e} (set TRAILGUARD_DATA)"))?;
    let mut templates = Vec::new();
    for line in text.lines() {
        let v: serde_json::Value = serde_json::from_str(line)?;
        templates.push(v["log"].clone());
    }

    let target = megabytes * 1024 * 1024;
    let mut corpus = Vec::with_capacity(target + 64 * 1024);
    corpus.extend_from_slice(b"{\"Records\":[");
    let mut n: u64 = 0;
    while corpus.len() < target {
        let mut rec = templates[(n as usize) % templates.len()].clone();
        // Panther's lower-cased test records keep their own key spelling.
        if let Some(obj) = rec.as_object_mut().filter(|o| !o.contains_key("eventid")) {
            obj.insert(
                "eventID".into(),
                format!("{n:08x}-0000-4000-8000-{n:012x}").into(),
            );
            let secs = n % 86_400;
            obj.insert(
                "eventTime".into(),
                format!(
                    "2024-05-01T{:02}:{:02}:{:02}Z",
                    secs / 3600,
                    secs / 60 % 60,
                    secs % 60
                )
                .into(),
            );
        }
        if n > 0 {
            corpus.push(b',');
        }
        serde_json::to_writer(&mut corpus, &rec)?;
        n += 1;
    }
    corpus.extend_from_slice(b"]}");
    let mb = corpus.len() as f64 / (1024.0 * 1024.0);
    println!("corpus: {n} records, {mb:.1} MiB, one line");

    let opts = ReadOptions::default();
    let report = |label: &str, secs: f64, records: u64| {
        println!(
            "{label:<44} {:>8.1} MiB/s {:>10.0} records/s  ({secs:.2} s)",
            mb / secs,
            records as f64 / secs
        );
        records as f64 / secs
    };

    let input = std::io::Cursor::new(corpus.clone());
    let t = Instant::now();
    let mut count = 0u64;
    for item in read_reader("corpus", input, &opts) {
        item?;
        count += 1;
    }
    let scan_rate = report("scanner (read_reader)", t.elapsed().as_secs_f64(), count);

    let input = std::io::Cursor::new(corpus.clone());
    let t = Instant::now();
    let mut parsed = 0u64;
    for item in read_reader("corpus", input, &opts) {
        let raw = item?;
        if parse_event(&raw.json).is_ok() {
            parsed += 1;
        }
    }
    let parse_rate = report("scanner + parse_event", t.elapsed().as_secs_f64(), count);

    let records: Vec<Box<str>> = read_reader("corpus", std::io::Cursor::new(corpus.clone()), &opts)
        .map(|r| r.map(|e| e.json))
        .collect::<Result<_, _>>()?;
    let t = Instant::now();
    let mut values = 0u64;
    for r in &records {
        let v: serde_json::Value = serde_json::from_str(r)?;
        values += v.is_object() as u64;
    }
    let base_rate = report(
        "baseline serde_json::from_str::<Value>",
        t.elapsed().as_secs_f64(),
        values,
    );
    let t = Instant::now();
    let mut typed = 0u64;
    for r in &records {
        typed += parse_event(r).is_ok() as u64;
    }
    let typed_rate = report(
        "parse_event alone (pre-split)",
        t.elapsed().as_secs_f64(),
        typed,
    );
    drop(records);

    let t = Instant::now();
    let whole: serde_json::Value = serde_json::from_slice(&corpus)?;
    let whole_n = whole["Records"].as_array().map_or(0, |a| a.len()) as u64;
    report(
        "reference: whole file into one Value",
        t.elapsed().as_secs_f64(),
        whole_n,
    );

    let mut out = std::io::stdout().lock();
    writeln!(out, "parse_event ok: {parsed}/{count}")?;
    writeln!(
        out,
        "ratio scanner / baseline: {:.2}x",
        scan_rate / base_rate
    )?;
    writeln!(
        out,
        "ratio parse_event / baseline: {:.2}x",
        typed_rate / base_rate
    )?;
    writeln!(
        out,
        "ratio scanner+parse_event / baseline: {:.2}x",
        parse_rate / base_rate
    )?;
    Ok(())
}
