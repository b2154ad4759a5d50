//! The async runtime the commands that run the workflow or the knowledge base share.

use anyhow::Context;

/// Two workers: enough for the adapters' I/O; the CPU-heavy work has its own threads.
pub fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("cannot start the async runtime")
}
