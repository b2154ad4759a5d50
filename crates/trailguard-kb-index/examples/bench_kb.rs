//! The knowledge-base scale bench without building the whole CLI (which links llama.cpp and
//! ONNX Runtime): the same code as `trailguard bench kb`.
//!
//! ```sh
//! cargo run --release -p trailguard-kb-index --example bench_kb -- --docs 1000000
//! ```
//!
//! Flags: `--docs N` (default 1,000,000), `--dir DIR` (default a temporary directory), `--keep`,
//! `--json FILE`, `--data DIR` (default `$TRAILGUARD_DATA`, else `../shared/data`), `--seed N`,
//! `--batch N`, `--optimize` (also merge into one segment and measure again), `--passes N`
//! (measured passes over the questions, default 3),
//! `--vectors FILE` (the e5 model, `e5-small-q4.bin`) with `--vector-docs N` (default 1,000).

use std::path::PathBuf;

use trailguard_kb_index::bench::{self, BenchOptions, VectorOptions};

fn value<T: std::str::FromStr>(flag: &str, text: Option<String>) -> Result<T, String> {
    let text = text.ok_or_else(|| format!("{flag} needs a value"))?;
    text.replace('_', "")
        .parse()
        .map_err(|_| format!("{flag} {text:?}: not a valid value"))
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut docs = 1_000_000usize;
    let mut dir: Option<PathBuf> = None;
    let mut keep = false;
    let mut json: Option<PathBuf> = None;
    let mut data: Option<PathBuf> = None;
    let mut seed = 15u64;
    let mut batch = bench::KB_ADD_BATCH;
    let mut optimize = false;
    let mut passes = 3usize;
    let mut model: Option<PathBuf> = None;
    let mut vector_docs = 1_000usize;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--docs" => docs = value(&arg, args.next())?,
            "--dir" => dir = Some(value(&arg, args.next())?),
            "--keep" => keep = true,
            "--json" => json = Some(value(&arg, args.next())?),
            "--data" => data = Some(value(&arg, args.next())?),
            "--seed" => seed = value(&arg, args.next())?,
            "--batch" => batch = value(&arg, args.next())?,
            "--optimize" => optimize = true,
            "--passes" => passes = value(&arg, args.next())?,
            "--vectors" => model = Some(value(&arg, args.next())?),
            "--vector-docs" => vector_docs = value(&arg, args.next())?,
            other => {
                return Err(format!("unknown flag {other} (see the example's doc comment)").into())
            }
        }
    }
    let data = trailguard_core::data::data_dir(
        data.as_deref(),
        std::env::var_os(trailguard_core::data::DATA_ENV),
    );
    let temporary = match &dir {
        Some(_) => None,
        None => Some(
            tempfile::Builder::new()
                .prefix("trailguard-bench-kb-")
                .tempdir()?,
        ),
    };
    let work = match (&dir, &temporary) {
        (Some(dir), _) => dir.clone(),
        (None, Some(temp)) => temp.path().to_path_buf(),
        (None, None) => return Err("no working directory".into()),
    };
    let mut options = BenchOptions::new(docs, work.clone(), data);
    options.seed = seed;
    options.batch = batch;
    options.optimize = optimize;
    options.passes = passes;
    options.progress = true;
    options.vectors = model.map(|model| VectorOptions {
        model,
        docs: vector_docs,
        threads: 0,
    });
    let result = bench::run(&options);
    let cleanup = || -> std::io::Result<()> {
        if keep {
            eprintln!("kept {}", work.display());
            if let Some(temp) = temporary {
                let _ = temp.keep();
            }
        } else if dir.is_some() {
            for name in ["index", "vectors-index"] {
                let path = work.join(name);
                if path.exists() {
                    std::fs::remove_dir_all(path)?;
                }
            }
        }
        Ok(())
    };
    let report = match result {
        Ok(report) => report,
        Err(error) => {
            cleanup()?;
            return Err(error.into());
        }
    };
    print!("{}", report.summary());
    if let Some(path) = json {
        std::fs::write(
            &path,
            serde_json::to_string_pretty(&report.to_json())? + "\n",
        )?;
        eprintln!("wrote {}", path.display());
    }
    cleanup()?;
    if !report.checks_pass() {
        return Err("the store's counts differ from brute force (see MISMATCH above)".into());
    }
    Ok(())
}
