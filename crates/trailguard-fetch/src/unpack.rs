//! Taking named files out of package archives (wheels are zip files, sdists and npm packages are
//! gzipped tars), hashing as they are written. Blocking: called from `spawn_blocking`.

use std::fs::File;
use std::io::{BufWriter, Read, Write};
use std::path::Path;

use sha2::{Digest, Sha256};

use crate::FetchError;

/// A writer that hashes and counts what goes through it.
pub(crate) struct HashingWriter<W: Write> {
    inner: W,
    hasher: Sha256,
    bytes: u64,
}

impl<W: Write> HashingWriter<W> {
    pub(crate) fn new(inner: W) -> Self {
        Self {
            inner,
            hasher: Sha256::new(),
            bytes: 0,
        }
    }

    pub(crate) fn finish(mut self) -> std::io::Result<(String, u64)> {
        self.inner.flush()?;
        Ok((hex(&self.hasher.finalize()), self.bytes))
    }
}

impl<W: Write> Write for HashingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let written = self.inner.write(buf)?;
        self.hasher.update(&buf[..written]);
        self.bytes += written as u64;
        Ok(written)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

pub(crate) fn hex(digest: &[u8]) -> String {
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// The sha256 of a file on disk.
pub(crate) fn sha256_file(path: &Path) -> std::io::Result<String> {
    let mut file = File::open(path)?;
    let mut sink = HashingWriter::new(std::io::sink());
    std::io::copy(&mut file, &mut sink)?;
    Ok(sink.finish()?.0)
}

/// Streams each wanted member of `archive` to the writer `open` gives for it (by index into
/// `wanted`). Fails naming the archive when a member is missing.
pub(crate) fn for_each_member(
    archive: &Path,
    wanted: &[&str],
    mut open: impl FnMut(usize, &mut dyn Read) -> Result<(), FetchError>,
) -> Result<(), FetchError> {
    let name = archive.display().to_string();
    let err = |message: String| FetchError::Archive {
        archive: name.clone(),
        message,
    };
    let file = File::open(archive).map_err(|e| err(e.to_string()))?;
    let mut found = vec![false; wanted.len()];
    let filename = archive
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or_default();
    if filename.ends_with(".whl") || filename.ends_with(".zip") {
        let mut zip = zip::ZipArchive::new(file).map_err(|e| err(format!("not a zip: {e}")))?;
        for (index, path) in wanted.iter().enumerate() {
            let mut entry = match zip.by_name(path) {
                Ok(entry) => entry,
                Err(zip::result::ZipError::FileNotFound) => continue,
                Err(e) => return Err(err(format!("{path}: {e}"))),
            };
            open(index, &mut entry)?;
            found[index] = true;
        }
    } else if filename.ends_with(".tgz") || filename.ends_with(".tar.gz") {
        let mut tar = tar::Archive::new(flate2::read::GzDecoder::new(file));
        let entries = tar
            .entries()
            .map_err(|e| err(format!("not a gzipped tar: {e}")))?;
        for entry in entries {
            let mut entry = entry.map_err(|e| err(format!("bad tar entry: {e}")))?;
            let path = entry
                .path()
                .map_err(|e| err(format!("bad tar path: {e}")))?
                .to_string_lossy()
                .into_owned();
            if let Some(index) = wanted.iter().position(|w| *w == path) {
                if !found[index] {
                    open(index, &mut entry)?;
                    found[index] = true;
                }
            }
        }
    } else {
        return Err(err(
            "unknown archive type (expected .whl, .zip, .tgz or .tar.gz)".into(),
        ));
    }
    let missing: Vec<&str> = wanted
        .iter()
        .zip(&found)
        .filter(|(_, found)| !**found)
        .map(|(path, _)| *path)
        .collect();
    if missing.is_empty() {
        Ok(())
    } else {
        Err(err(format!("no member {}", missing.join(", "))))
    }
}

/// Copies `reader` into a new file at `path`, returning its sha256 and length.
pub(crate) fn write_hashed(
    path: &Path,
    reader: &mut dyn Read,
) -> Result<(String, u64), FetchError> {
    let io = |source| FetchError::Io {
        what: path.display().to_string(),
        source,
    };
    let file = File::create(path).map_err(io)?;
    let mut writer = HashingWriter::new(BufWriter::new(file));
    std::io::copy(reader, &mut writer).map_err(io)?;
    writer.finish().map_err(io)
}
