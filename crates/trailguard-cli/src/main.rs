use clap::Parser;

/// TrailGuard: GenAI security operations for AWS, runnable offline.
#[derive(Parser)]
#[command(name = "trailguard", version)]
struct Cli {}

fn main() -> anyhow::Result<()> {
    let _cli = Cli::parse();
    Ok(())
}
