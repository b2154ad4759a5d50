//! The workspace's shape, checked: every crate sits on a layer and depends only on crates of lower
//! layers (dependencies and dev-dependencies alike), the generic engines depend on no TrailGuard
//! crate, and no source file imports a file that imports it (the JSONata evaluator excepted: its
//! parser, evaluator and function library are one recursive unit).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Lower layers first. A crate may depend only on crates of a strictly lower layer.
const LAYERS: &[&[&str]] = &[
    // Generic engines and the domain core: no TrailGuard dependency at all.
    &[
        "trailguard-jsonata",
        "trailguard-sigma",
        "trailguard-events",
        "trailguard-core",
        "trailguard-testkit",
        "trailguard-vision",
        "trailguard-fetch",
        "trailguard-gguf",
        "trailguard-embed",
    ],
    // The generic workflow engine.
    &["trailguard-asl"],
    // Domain logic over the core ports.
    &["trailguard-triage", "trailguard-pii", "trailguard-kb"],
    // Adapters behind the ports.
    &[
        "trailguard-aws",
        "trailguard-local",
        "trailguard-local-model",
        "trailguard-kb-index",
    ],
    // Binding the workflow's resources to handlers and adapters.
    &["trailguard-runner"],
    // What AWS runs, and its start-up benchmark.
    &["trailguard-lambda", "trailguard-lambda-bench"],
    // What people run (its tests compare it with the Lambda).
    &["trailguard-cli"],
    // The end-to-end tests over everything.
    &["trailguard-e2e"],
];

/// Crates that may depend on nothing of TrailGuard's but these.
const GENERIC: &[(&str, &[&str])] = &[
    ("trailguard-jsonata", &[]),
    ("trailguard-asl", &["trailguard-jsonata"]),
    ("trailguard-sigma", &[]),
    ("trailguard-events", &[]),
    ("trailguard-vision", &[]),
    ("trailguard-fetch", &[]),
    ("trailguard-gguf", &[]),
    ("trailguard-embed", &[]),
];

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn crates() -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(workspace().join("crates"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.join("Cargo.toml").is_file())
        .collect();
    dirs.sort();
    dirs
}

/// The crate's name and its TrailGuard dependencies (normal, dev and build).
fn manifest(dir: &Path) -> (String, BTreeSet<String>) {
    let text = std::fs::read_to_string(dir.join("Cargo.toml")).unwrap();
    let table: toml::Table = text.parse().unwrap();
    let name = table["package"]["name"].as_str().unwrap().to_string();
    let mut deps = BTreeSet::new();
    for section in ["dependencies", "dev-dependencies", "build-dependencies"] {
        if let Some(toml::Value::Table(entries)) = table.get(section) {
            deps.extend(
                entries
                    .keys()
                    .filter(|k| k.starts_with("trailguard-"))
                    .cloned(),
            );
        }
    }
    (name, deps)
}

fn layer_of(name: &str) -> Option<usize> {
    LAYERS.iter().position(|layer| layer.contains(&name))
}

#[test]
fn no_crate_depends_on_a_crate_above_it() {
    let mut problems = Vec::new();
    for dir in crates() {
        let (name, deps) = manifest(&dir);
        let Some(own) = layer_of(&name) else {
            problems.push(format!("{name} is on no layer: add it to LAYERS"));
            continue;
        };
        for dep in &deps {
            match layer_of(dep) {
                Some(layer) if layer < own => {}
                Some(layer) => problems.push(format!(
                    "{name} (layer {own}) depends on {dep} (layer {layer})"
                )),
                None => problems.push(format!("{name} depends on {dep}, which is on no layer")),
            }
        }
        if let Some((_, allowed)) = GENERIC.iter().find(|(generic, _)| *generic == name) {
            for dep in &deps {
                if !allowed.contains(&dep.as_str()) {
                    problems.push(format!("the generic {name} depends on {dep}"));
                }
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// A crate's source files by module path (`a::b`), from `src/` (binaries under `src/bin` are
/// their own roots and are skipped: nothing imports them).
fn modules(src: &Path) -> BTreeMap<Vec<String>, PathBuf> {
    let mut out = BTreeMap::new();
    let mut stack = vec![src.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                if path.file_name().is_some_and(|n| n != "bin") {
                    stack.push(path);
                }
                continue;
            }
            if path.extension().is_none_or(|e| e != "rs") {
                continue;
            }
            let relative = path.strip_prefix(src).unwrap().with_extension("");
            let mut parts: Vec<String> = relative
                .components()
                .map(|c| c.as_os_str().to_string_lossy().into_owned())
                .collect();
            if matches!(
                parts.last().map(String::as_str),
                Some("lib" | "main" | "mod")
            ) {
                parts.pop();
            }
            out.insert(parts, path);
        }
    }
    out
}

/// The text before `#[cfg(test)]`: test modules may import freely.
fn code_without_tests(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap();
    let code = match text.find("#[cfg(test)]") {
        Some(at) => &text[..at],
        None => &text,
    };
    code.lines()
        .map(|line| match line.find("//") {
            Some(at) => &line[..at],
            None => line,
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// The top-level items of a `{a::b, c, d::{e, f}}` group, as path segment lists.
fn group_items(group: &str) -> Vec<Vec<String>> {
    let mut items = Vec::new();
    let mut depth = 0usize;
    let mut current = String::new();
    for c in group.chars() {
        match c {
            '{' => depth += 1,
            '}' => depth = depth.saturating_sub(1),
            ',' if depth == 0 => {
                items.push(std::mem::take(&mut current));
                continue;
            }
            _ => {}
        }
        if depth == 0 {
            current.push(c);
        }
    }
    items.push(current);
    items
        .iter()
        .map(|item| {
            item.split("::")
                .map(|s| s.trim().to_string())
                .take_while(|s| !s.is_empty() && s.chars().all(|c| c.is_alphanumeric() || c == '_'))
                .collect()
        })
        .collect()
}

/// Paths like `crate::a::b` / `super::x` / `self::y` (and `crate::{a, b::c}` groups) in `code`,
/// resolved to module paths from the crate root, for the file at `module`.
fn imported_paths(code: &str, module: &[String]) -> Vec<Vec<String>> {
    let mut out = Vec::new();
    let bytes = code.as_bytes();
    for head in ["crate::", "super::", "self::"] {
        let mut from = 0;
        while let Some(found) = code[from..].find(head) {
            let at = from + found;
            from = at + head.len();
            // Only whole words: `foo_crate::` is not `crate::`.
            if at > 0 && (bytes[at - 1].is_ascii_alphanumeric() || bytes[at - 1] == b'_') {
                continue;
            }
            let rest: String = code[from..]
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_' || *c == ':')
                .collect();
            let mut segments: Vec<String> = rest
                .split("::")
                .filter(|s| !s.is_empty())
                .map(str::to_string)
                .collect();
            let mut base: Vec<String> = match head {
                "crate::" => Vec::new(),
                "self::" => module.to_vec(),
                _ => {
                    let mut parent = module.to_vec();
                    parent.pop();
                    while segments.first().is_some_and(|s| s == "super") {
                        segments.remove(0);
                        parent.pop();
                    }
                    parent
                }
            };
            base.extend(segments);
            let after = from + rest.len();
            if code[after..].starts_with('{') {
                let end = code[after..]
                    .char_indices()
                    .scan(0i32, |depth, (i, c)| {
                        match c {
                            '{' => *depth += 1,
                            '}' => *depth -= 1,
                            _ => {}
                        }
                        Some((i, *depth))
                    })
                    .find(|(_, depth)| *depth == 0)
                    .map(|(i, _)| after + i)
                    .unwrap_or(code.len());
                for item in group_items(&code[after + 1..end]) {
                    let mut path = base.clone();
                    path.extend(item);
                    out.push(path);
                }
            } else {
                out.push(base);
            }
        }
    }
    out
}

/// `pub use` re-exports: the name's full path (`[module.., Name]`) → the path it stands for.
type Reexports = BTreeMap<Vec<String>, Vec<String>>;

fn reexports_of(code: &str, module: &[String], out: &mut Reexports) {
    for statement in code.split(';') {
        let statement = statement.trim();
        let Some(rest) = statement
            .strip_prefix("pub use ")
            .or_else(|| statement.strip_prefix("pub(crate) use "))
        else {
            continue;
        };
        let rest = rest.trim();
        // `pub use a::b::{X, Y as Z}`: expand the group.
        let (prefix, names): (String, Vec<String>) = match rest.find('{') {
            Some(open) => (
                rest[..open].trim_end_matches("::").to_string(),
                rest[open + 1..]
                    .trim_end_matches('}')
                    .split(',')
                    .map(|n| n.trim().to_string())
                    .filter(|n| !n.is_empty())
                    .collect(),
            ),
            None => match rest.rsplit_once("::") {
                Some((prefix, name)) => (prefix.to_string(), vec![name.to_string()]),
                None => continue,
            },
        };
        let base: Vec<String> = if let Some(p) = prefix.strip_prefix("crate::") {
            p.split("::").map(str::to_string).collect()
        } else if prefix.starts_with("self::") || prefix.starts_with("super::") {
            let Some(path) = imported_paths(&format!("{prefix}::_"), module).pop() else {
                continue;
            };
            path[..path.len() - 1].to_vec()
        } else {
            let mut path = module.to_vec();
            path.extend(prefix.split("::").map(str::to_string));
            path
        };
        for name in names {
            let (original, alias) = match name.split_once(" as ") {
                Some((o, a)) => (o.trim().to_string(), a.trim().to_string()),
                None => (name.clone(), name.clone()),
            };
            if original == "*" || original == "self" {
                continue;
            }
            let mut key = module.to_vec();
            key.push(alias);
            let mut target = base.clone();
            target.push(original);
            out.insert(key, target);
        }
    }
}

/// The file a path names: the longest prefix that is a module with a file, following re-exports.
fn resolve(path: &[String], files: &BTreeMap<Vec<String>, PathBuf>) -> Option<Vec<String>> {
    resolve_with(path, files, &Reexports::new(), 0)
}

fn resolve_with(
    path: &[String],
    files: &BTreeMap<Vec<String>, PathBuf>,
    reexports: &Reexports,
    depth: usize,
) -> Option<Vec<String>> {
    let module = (0..=path.len())
        .rev()
        .map(|n| path[..n].to_vec())
        .find(|prefix| files.contains_key(prefix))?;
    if depth < 8 && path.len() > module.len() {
        let mut name = module.clone();
        name.push(path[module.len()].clone());
        if let Some(target) = reexports.get(&name) {
            let mut followed = target.clone();
            followed.extend(path[module.len() + 1..].iter().cloned());
            if let Some(found) = resolve_with(&followed, files, reexports, depth + 1) {
                return Some(found);
            }
        }
    }
    Some(module)
}

#[test]
fn no_file_imports_a_file_that_imports_it() {
    let mut problems = Vec::new();
    for dir in crates() {
        let (name, _) = manifest(&dir);
        if name == "trailguard-jsonata" {
            continue;
        }
        let src = dir.join("src");
        if !src.is_dir() {
            continue;
        }
        let files = modules(&src);
        let mut reexports = Reexports::new();
        for (module, path) in &files {
            reexports_of(&code_without_tests(path), module, &mut reexports);
        }
        let mut edges: BTreeMap<Vec<String>, BTreeSet<Vec<String>>> = BTreeMap::new();
        for (module, path) in &files {
            let code = code_without_tests(path);
            for imported in imported_paths(&code, module) {
                if let Some(target) = resolve_with(&imported, &files, &reexports, 0) {
                    if &target != module {
                        edges.entry(module.clone()).or_default().insert(target);
                    }
                }
            }
        }
        for (from, targets) in &edges {
            for to in targets {
                if from < to && edges.get(to).is_some_and(|back| back.contains(from)) {
                    let show = |m: &Vec<String>| {
                        if m.is_empty() {
                            "lib".to_string()
                        } else {
                            m.join("::")
                        }
                    };
                    problems.push(format!(
                        "{name}: {} and {} import each other",
                        show(from),
                        show(to)
                    ));
                }
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn the_checker_sees_a_cycle_when_there_is_one() {
    let files: BTreeMap<Vec<String>, PathBuf> = [
        (vec![], PathBuf::from("lib.rs")),
        (vec!["a".to_string()], PathBuf::from("a.rs")),
        (vec!["b".to_string()], PathBuf::from("b.rs")),
    ]
    .into_iter()
    .collect();
    let a = imported_paths("use crate::b::Thing;", &["a".into()]);
    let b = imported_paths("use super::a::Other; fn f() { self::g(); }", &["b".into()]);
    assert_eq!(resolve(&a[0], &files), Some(vec!["b".to_string()]));
    assert_eq!(resolve(&b[0], &files), Some(vec!["a".to_string()]));
    assert_eq!(resolve(&b[1], &files), Some(vec!["b".to_string()]));
    assert!(imported_paths("use my_crate::x;", &[]).is_empty());
    let grouped = imported_paths("use crate::{a::X, b};", &[]);
    let targets: Vec<_> = grouped.iter().map(|p| resolve(p, &files)).collect();
    assert_eq!(
        targets,
        vec![Some(vec!["a".to_string()]), Some(vec!["b".to_string()])]
    );
}
