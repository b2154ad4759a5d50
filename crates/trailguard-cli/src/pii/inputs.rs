//! Which files `trailguard pii` checks: named files as given, directories searched recursively
//! for image extensions, `-` for a list of paths on stdin.

use std::collections::HashSet;
use std::io::BufRead;
use std::path::{Path, PathBuf};

/// File extensions picked up when a directory is searched.
pub const IMAGE_EXTENSIONS: [&str; 8] = ["png", "jpg", "jpeg", "gif", "webp", "bmp", "tif", "tiff"];

/// One thing to report on: a file to check, or a path that could not even be listed.
#[derive(Debug, Clone)]
pub enum Input {
    File(PathBuf),
    Unlistable { path: PathBuf, detail: String },
}

impl Input {
    pub fn path(&self) -> &Path {
        match self {
            Input::File(path) | Input::Unlistable { path, .. } => path,
        }
    }
}

fn has_image_extension(path: &Path) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| IMAGE_EXTENSIONS.iter().any(|x| x.eq_ignore_ascii_case(e)))
}

/// The media type a file's extension claims (compared with the magic bytes by the detector).
pub fn declared_media_type(path: &Path) -> Option<&'static str> {
    let ext = path.extension()?.to_str()?.to_ascii_lowercase();
    Some(match ext.as_str() {
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "gif" => "image/gif",
        "webp" => "image/webp",
        "bmp" => "image/bmp",
        "tif" | "tiff" => "image/tiff",
        _ => return None,
    })
}

/// Expands the command-line arguments in order. `stdin` is read once, for the first `-`.
pub fn expand(args: &[PathBuf], stdin: &mut dyn BufRead) -> Vec<Input> {
    let mut out = Vec::new();
    let mut stdin_read = false;
    for arg in args {
        if arg.as_os_str() == "-" {
            if stdin_read {
                continue;
            }
            stdin_read = true;
            let mut line = String::new();
            loop {
                line.clear();
                match stdin.read_line(&mut line) {
                    Ok(0) => break,
                    Ok(_) => {
                        let path = line.trim_end_matches(['\n', '\r']);
                        if !path.trim().is_empty() {
                            expand_one(Path::new(path), &mut out);
                        }
                    }
                    Err(e) => {
                        out.push(Input::Unlistable {
                            path: PathBuf::from("-"),
                            detail: format!("reading the list of paths on stdin: {e}"),
                        });
                        break;
                    }
                }
            }
        } else {
            expand_one(arg, &mut out);
        }
    }
    out
}

fn expand_one(path: &Path, out: &mut Vec<Input>) {
    if path.is_dir() {
        let mut seen = HashSet::new();
        walk(path, out, &mut seen);
    } else {
        // Named files are checked whatever their extension (a spoofed name is the point).
        out.push(Input::File(path.to_path_buf()));
    }
}

/// Depth-first, sorted; symlinked directories are not followed (no loops), symlinked files are.
fn walk(dir: &Path, out: &mut Vec<Input>, seen: &mut HashSet<PathBuf>) {
    if !seen.insert(dir.to_path_buf()) {
        return;
    }
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) => {
            out.push(Input::Unlistable {
                path: dir.to_path_buf(),
                detail: format!("cannot list directory: {e}"),
            });
            return;
        }
    };
    let mut entries: Vec<_> = entries
        .filter_map(|entry| match entry {
            Ok(entry) => Some(entry),
            Err(e) => {
                out.push(Input::Unlistable {
                    path: dir.to_path_buf(),
                    detail: format!("cannot list directory: {e}"),
                });
                None
            }
        })
        .collect();
    entries.sort_by_key(|e| e.file_name());
    for entry in entries {
        let path = entry.path();
        let Ok(kind) = entry.file_type() else {
            continue;
        };
        if kind.is_dir() {
            walk(&path, out, seen);
        } else if (kind.is_file() || (kind.is_symlink() && path.is_file()))
            && has_image_extension(&path)
        {
            out.push(Input::File(path));
        }
    }
}

/// File names for redacted copies, one per input, unique within the run (`a.png` →
/// `a.redacted.png`, a second `a.png` from another directory → `a-2.redacted.png`).
pub fn redacted_names(inputs: &[Input]) -> Vec<String> {
    let mut used = HashSet::new();
    inputs
        .iter()
        .map(|input| {
            let stem = input
                .path()
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .filter(|s| !s.is_empty())
                .unwrap_or_else(|| "image".into());
            let mut name = format!("{stem}.redacted.png");
            let mut n = 2;
            while !used.insert(name.clone()) {
                name = format!("{stem}-{n}.redacted.png");
                n += 1;
            }
            name
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn directories_are_searched_for_images_and_stdin_lists_paths() {
        let dir = tempfile::tempdir().unwrap();
        let sub = dir.path().join("sub");
        std::fs::create_dir_all(&sub).unwrap();
        for name in ["b.PNG", "a.jpg", "notes.txt", "sub/c.webp"] {
            std::fs::write(dir.path().join(name), b"x").unwrap();
        }
        let named = dir.path().join("notes.txt");
        let mut stdin = std::io::Cursor::new(format!("{}\n\n", named.display()));
        let inputs = expand(&[dir.path().to_path_buf(), PathBuf::from("-")], &mut stdin);
        let names: Vec<String> = inputs
            .iter()
            .map(|i| {
                i.path()
                    .strip_prefix(dir.path())
                    .unwrap()
                    .display()
                    .to_string()
            })
            .collect();
        assert_eq!(names, ["a.jpg", "b.PNG", "sub/c.webp", "notes.txt"]);
    }

    #[test]
    fn redacted_names_are_unique() {
        let inputs = [
            Input::File("x/a.png".into()),
            Input::File("y/a.jpg".into()),
            Input::File("b".into()),
        ];
        assert_eq!(
            redacted_names(&inputs),
            ["a.redacted.png", "a-2.redacted.png", "b.redacted.png"]
        );
    }

    #[test]
    fn extension_gives_declared_type() {
        assert_eq!(declared_media_type(Path::new("x.JPG")), Some("image/jpeg"));
        assert_eq!(declared_media_type(Path::new("x.pdf")), None);
    }
}
