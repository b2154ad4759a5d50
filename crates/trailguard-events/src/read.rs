//! Streaming readers: files, directory trees, stdin, any `Read`. Each yields one [`RawEvent`]
//! per record, or a [`ReadError`] naming the file, record index and byte offset; a bad record
//! never stops the stream, and a file whose framing is lost is reported and left for the next.

use flate2::read::MultiGzDecoder;
use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::raw::{RawEvent, ReadError, ReadErrorKind, ReadOptions};
use crate::scan::Scanner;

/// Records from one stream.
pub struct EventReader {
    scanner: Option<Scanner>,
    pending: Option<ReadError>,
}

impl Iterator for EventReader {
    type Item = Result<RawEvent, ReadError>;

    fn next(&mut self) -> Option<Self::Item> {
        if let Some(e) = self.pending.take() {
            return Some(Err(e));
        }
        let item = self.scanner.as_mut()?.next_item();
        if item.is_none() {
            self.scanner = None;
        }
        item
    }
}

/// Read records from any byte stream; gzip (one or many members) is detected by its magic bytes.
pub fn read_reader<R: Read + Send + 'static>(
    name: &str,
    reader: R,
    opts: &ReadOptions,
) -> EventReader {
    let file: Arc<str> = Arc::from(name);
    match decompressing(reader) {
        Ok(src) => EventReader {
            scanner: Some(Scanner::new(file, src, *opts)),
            pending: None,
        },
        Err(e) => EventReader {
            scanner: None,
            pending: Some(ReadError {
                file,
                index: None,
                offset: None,
                kind: ReadErrorKind::Io(e.to_string()),
            }),
        },
    }
}

/// Read records from standard input, named `<stdin>` in origins and errors.
pub fn read_stdin(opts: &ReadOptions) -> EventReader {
    read_reader("<stdin>", io::stdin(), opts)
}

/// Read records from one file (whatever its name; gzip by content).
pub fn read_file(path: &Path, opts: &ReadOptions) -> EventReader {
    let name = path.display().to_string();
    match std::fs::File::open(path) {
        Ok(f) => read_reader(&name, f, opts),
        Err(e) => EventReader {
            scanner: None,
            pending: Some(ReadError {
                file: Arc::from(name),
                index: None,
                offset: None,
                kind: ReadErrorKind::Io(e.to_string()),
            }),
        },
    }
}

fn decompressing<R: Read + Send + 'static>(mut reader: R) -> io::Result<Box<dyn Read + Send>> {
    let mut head = [0u8; 2];
    let mut n = 0;
    while n < head.len() {
        match reader.read(&mut head[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    let stream = io::Cursor::new(head[..n].to_vec()).chain(reader);
    if n == 2 && head == [0x1f, 0x8b] {
        Ok(Box::new(MultiGzDecoder::new(stream)))
    } else {
        Ok(Box::new(stream))
    }
}

/// Whether a file found while walking a directory is read. Files named explicitly are always read.
///
/// Read: `*.json`, `*.jsonl`, `*.ndjson`, each optionally `.gz`. Skipped: hidden entries (`.*`),
/// CloudTrail digest files and `CloudTrail-Digest/` folders (signatures, not events), symlinked
/// directories (no cycles), and every other extension.
pub fn is_log_file_name(name: &str) -> bool {
    if name.starts_with('.') || name.contains("CloudTrail-Digest") {
        return false;
    }
    let base = name.strip_suffix(".gz").unwrap_or(name);
    [".json", ".jsonl", ".ndjson"]
        .iter()
        .any(|ext| base.len() > ext.len() && base.ends_with(ext))
}

fn is_skipped_dir_name(name: &str) -> bool {
    name.starts_with('.') || name == "CloudTrail-Digest"
}

/// Records from many inputs in order: files, directory trees (walked in sorted order) and `-` for
/// stdin. See [`is_log_file_name`] for what a walk skips; [`Inputs::skipped_files`] counts them.
pub fn read_inputs(paths: &[PathBuf], opts: &ReadOptions) -> Inputs {
    let owned: Vec<PathBuf> = paths.to_vec();
    Inputs {
        paths: owned.into_iter(),
        walk: Vec::new(),
        current: None,
        opts: *opts,
        skipped: 0,
        files: 0,
    }
}

pub struct Inputs {
    paths: std::vec::IntoIter<PathBuf>,
    walk: Vec<std::vec::IntoIter<PathBuf>>,
    current: Option<EventReader>,
    opts: ReadOptions,
    skipped: u64,
    files: u64,
}

enum Next {
    File(PathBuf),
    Stdin,
}

impl Inputs {
    /// Files a directory walk passed over (not logs by name, digests, hidden, symlinked dirs).
    pub fn skipped_files(&self) -> u64 {
        self.skipped
    }

    /// Streams opened so far.
    pub fn files_opened(&self) -> u64 {
        self.files
    }

    fn io_error(path: &Path, e: &io::Error) -> ReadError {
        ReadError {
            file: Arc::from(path.display().to_string()),
            index: None,
            offset: None,
            kind: ReadErrorKind::Io(e.to_string()),
        }
    }

    fn push_dir(&mut self, dir: &Path) -> Result<(), ReadError> {
        let mut entries = Vec::new();
        for entry in std::fs::read_dir(dir).map_err(|e| Self::io_error(dir, &e))? {
            let entry = entry.map_err(|e| Self::io_error(dir, &e))?;
            entries.push(entry.path());
        }
        entries.sort();
        self.walk.push(entries.into_iter());
        Ok(())
    }

    fn next_input(&mut self) -> Option<Result<Next, ReadError>> {
        loop {
            if let Some(level) = self.walk.last_mut() {
                let Some(path) = level.next() else {
                    self.walk.pop();
                    continue;
                };
                let name = path
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default();
                let meta = match std::fs::symlink_metadata(&path) {
                    Ok(m) => m,
                    Err(e) => return Some(Err(Self::io_error(&path, &e))),
                };
                if meta.is_dir() {
                    if is_skipped_dir_name(&name) {
                        tracing::debug!(path = %path.display(), "skipping directory");
                        self.skipped += 1;
                        continue;
                    }
                    if let Err(e) = self.push_dir(&path) {
                        return Some(Err(e));
                    }
                    continue;
                }
                let is_file = meta.is_file()
                    || (meta.file_type().is_symlink()
                        && std::fs::metadata(&path).is_ok_and(|m| m.is_file()));
                if is_file && is_log_file_name(&name) {
                    return Some(Ok(Next::File(path)));
                }
                tracing::debug!(path = %path.display(), "skipping: not a log file");
                self.skipped += 1;
                continue;
            }
            let path = self.paths.next()?;
            if path.as_os_str() == "-" {
                return Some(Ok(Next::Stdin));
            }
            match std::fs::metadata(&path) {
                Ok(m) if m.is_dir() => {
                    if let Err(e) = self.push_dir(&path) {
                        return Some(Err(e));
                    }
                }
                Ok(_) => return Some(Ok(Next::File(path))),
                Err(e) => return Some(Err(Self::io_error(&path, &e))),
            }
        }
    }
}

impl Iterator for Inputs {
    type Item = Result<RawEvent, ReadError>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if let Some(cur) = self.current.as_mut() {
                if let Some(item) = cur.next() {
                    return Some(item);
                }
                self.current = None;
            }
            match self.next_input()? {
                Ok(Next::File(path)) => {
                    self.files += 1;
                    self.current = Some(read_file(&path, &self.opts));
                }
                Ok(Next::Stdin) => {
                    self.files += 1;
                    self.current = Some(read_stdin(&self.opts));
                }
                Err(e) => return Some(Err(e)),
            }
        }
    }
}
