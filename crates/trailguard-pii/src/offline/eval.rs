//! Evaluation over labelled image sets: the generated set (scripts/gen-pii-images), Presidio's
//! images (`images/presidio/labels.json` in the shared data) and the real photos and scans of
//! `images/real-dev/labels.jsonl`.
//! Image-level precision/recall/F1, per entity type (image level and box level), latency.
//! `trailguard bench pii` prints these figures for BENCHMARKS.md.

use serde::Serialize;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::time::Instant;

use super::detector::OfflinePiiDetector;
use crate::bbox::BoundingBox;
use crate::kind::EntityType;

/// One labelled image.
#[derive(Debug, Clone)]
pub struct LabelledImage {
    pub path: PathBuf,
    pub contains_pii: bool,
    pub category: String,
    pub clean: bool,
    /// Ground-truth entities: type and box when known. Types we do not detect (e.g. URL) are kept
    /// out of per-type scores.
    pub entities: Vec<(String, Option<BoundingBox>)>,
    /// Whether the label lists its entities (per-type scores only use such images).
    pub entities_known: bool,
}

#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct Counts {
    pub tp: usize,
    pub fp: usize,
    pub fn_: usize,
    pub tn: usize,
}

impl Counts {
    pub fn precision(&self) -> f64 {
        ratio(self.tp, self.tp + self.fp)
    }
    pub fn recall(&self) -> f64 {
        ratio(self.tp, self.tp + self.fn_)
    }
    pub fn f1(&self) -> f64 {
        let (p, r) = (self.precision(), self.recall());
        if p + r == 0.0 {
            0.0
        } else {
            2.0 * p * r / (p + r)
        }
    }
}

fn ratio(a: usize, b: usize) -> f64 {
    if b == 0 {
        0.0
    } else {
        a as f64 / b as f64
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct ImageResult {
    pub file: String,
    pub truth: bool,
    pub predicted: Option<bool>,
    pub error: Option<String>,
    pub truth_types: Vec<String>,
    pub predicted_types: Vec<String>,
    pub elapsed_ms: u64,
    pub category: String,
    pub clean: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct TypeScore {
    pub image_level: Counts,
    pub precision: f64,
    pub recall: f64,
    pub f1: f64,
    /// Ground-truth boxes matched by a detection of the same type (IoU >= 0.3, or containment).
    pub boxes_found: usize,
    pub boxes_total: usize,
}

#[derive(Debug, Clone, Serialize)]
pub struct EvalReport {
    pub set: String,
    pub images: usize,
    pub errors: usize,
    pub image_level: Counts,
    pub precision: f64,
    pub recall: f64,
    pub f1: f64,
    pub per_type: BTreeMap<String, TypeScore>,
    /// Clean scans whose card, resident number or MRZ was missed (goal: none).
    pub clean_scan_misses: Vec<String>,
    pub clean_scan_checked: usize,
    pub latency_median_ms: u64,
    pub latency_p95_ms: u64,
    /// Identity documents (category `id_document`) called PII, of how many.
    pub id_documents_caught: usize,
    pub id_documents: usize,
    pub results: Vec<ImageResult>,
}

/// The real-dev labels' entity names as the detector's kinds (`dob`, `id_number` have none).
fn real_dev_kind(name: &str) -> Option<&'static str> {
    Some(match name {
        "face" => "FACE",
        "person_name" => "PERSON",
        "mrz" => "MRZ",
        "address" => "ADDRESS",
        "email" => "EMAIL_ADDRESS",
        "phone" => "PHONE_NUMBER",
        "card" => "CREDIT_CARD",
        "iban" => "IBAN",
        "ssn" => "US_SSN",
        "rrn" => "KR_RRN",
        _ => return None,
    })
}

/// Reads `labels.jsonl` of a real-image set (one JSON object per line: `file`, `contains_pii`,
/// `entities` as names). Images with an `mrz` entity are identity documents.
pub fn load_real_dev(dir: &Path) -> Result<Vec<LabelledImage>, String> {
    let path = dir.join("labels.jsonl");
    let text = std::fs::read_to_string(&path).map_err(|e| {
        format!(
            "{}: {e} (set TRAILGUARD_DATA to the shared data directory)",
            path.display()
        )
    })?;
    let mut out = Vec::new();
    for (n, line) in text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
    {
        let json: Value = serde_json::from_str(line)
            .map_err(|e| format!("{} line {}: {e}", path.display(), n + 1))?;
        let file = json
            .get("file")
            .and_then(Value::as_str)
            .ok_or_else(|| format!("{} line {}: no file", path.display(), n + 1))?;
        let names: Vec<&str> = json
            .get("entities")
            .and_then(Value::as_array)
            .map(|a| a.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        let category = if names.contains(&"mrz") {
            "id_document"
        } else if names.contains(&"card") {
            "card"
        } else if names.contains(&"face") {
            "face"
        } else if names.is_empty() {
            "negative"
        } else {
            "document"
        };
        out.push(LabelledImage {
            path: dir.join(file),
            contains_pii: json
                .get("contains_pii")
                .and_then(Value::as_bool)
                .unwrap_or(false),
            category: category.to_string(),
            clean: false,
            entities: names
                .iter()
                .filter_map(|n| real_dev_kind(n))
                .map(|k| (k.to_string(), None))
                .collect(),
            entities_known: true,
        });
    }
    Ok(out)
}

/// Reads the generator's labels.json.
pub fn load_generated(dir: &Path) -> Result<Vec<LabelledImage>, String> {
    let path = dir.join("labels.json");
    let text = std::fs::read_to_string(&path)
        .map_err(|e| format!("{}: {e} (run scripts/gen-pii-images)", path.display()))?;
    let json: Value =
        serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
    let images = json
        .get("images")
        .and_then(Value::as_array)
        .ok_or_else(|| format!("{}: no images array", path.display()))?;
    let mut out = Vec::new();
    for img in images {
        let file = img.get("file").and_then(Value::as_str).unwrap_or_default();
        let entities = img
            .get("entities")
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .map(|e| {
                        let t = e
                            .get("entity_type")
                            .and_then(Value::as_str)
                            .unwrap_or_default()
                            .to_string();
                        let b = e.get("box").and_then(Value::as_array).and_then(|b| {
                            let n: Vec<u32> = b
                                .iter()
                                .filter_map(Value::as_i64)
                                .map(|v| v.max(0) as u32)
                                .collect();
                            (n.len() == 4).then(|| BoundingBox::new(n[0], n[1], n[2], n[3]))
                        });
                        (t, b)
                    })
                    .collect()
            })
            .unwrap_or_default();
        out.push(LabelledImage {
            path: dir.join(file),
            contains_pii: img
                .get("contains_pii")
                .and_then(Value::as_bool)
                .unwrap_or(false),
            category: img
                .get("category")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string(),
            clean: img.get("clean").and_then(Value::as_bool).unwrap_or(false),
            entities,
            entities_known: true,
        });
    }
    Ok(out)
}

/// Reads Presidio's labels.json (keys are file names, possibly with one `*`); entries whose
/// `contains_pii` is not a boolean are skipped.
pub fn load_presidio(dir: &Path) -> Result<Vec<LabelledImage>, String> {
    let path = dir.join("labels.json");
    let text = std::fs::read_to_string(&path).map_err(|e| {
        format!(
            "{}: {e} (set TRAILGUARD_DATA to the shared data directory)",
            path.display()
        )
    })?;
    let json: Value =
        serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
    let obj = json
        .as_object()
        .ok_or_else(|| format!("{}: not an object", path.display()))?;
    let images_dir = dir.join("images");
    let files: Vec<String> = std::fs::read_dir(&images_dir)
        .map_err(|e| format!("{}: {e}", images_dir.display()))?
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    let mut out = Vec::new();
    for (key, label) in obj {
        let Some(contains_pii) = label.get("contains_pii").and_then(Value::as_bool) else {
            continue;
        };
        let entities_known = label.get("entities").is_some();
        let entities: Vec<(String, Option<BoundingBox>)> = label
            .get("entities")
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(|e| {
                        let t = e.get("entity_type")?.as_str()?.to_string();
                        let n = |k: &str| e.get(k).and_then(Value::as_u64).map(|v| v as u32);
                        let b = match (n("left"), n("top"), n("width"), n("height")) {
                            (Some(l), Some(t), Some(w), Some(h)) => {
                                Some(BoundingBox::new(l, t, w, h))
                            }
                            _ => None,
                        };
                        Some((t, b))
                    })
                    .collect()
            })
            .unwrap_or_default();
        let matching: Vec<&String> = match key.split_once('*') {
            Some((pre, post)) => files
                .iter()
                .filter(|f| f.starts_with(pre) && f.ends_with(post))
                .collect(),
            None => files.iter().filter(|f| *f == key).collect(),
        };
        for f in matching {
            out.push(LabelledImage {
                path: images_dir.join(f),
                contains_pii,
                category: "presidio".into(),
                clean: false,
                entities: entities.clone(),
                entities_known,
            });
        }
    }
    out.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(out)
}

fn covers(pred: &BoundingBox, truth: &BoundingBox) -> bool {
    if pred.iou(truth) >= 0.3 {
        return true;
    }
    // A detection that lies mostly inside the truth box (e.g. one MRZ line of two) counts.
    let inter_l = pred.left.max(truth.left);
    let inter_t = pred.top.max(truth.top);
    let inter_r = pred.right().min(truth.right());
    let inter_b = pred.bottom().min(truth.bottom());
    if inter_r <= inter_l || inter_b <= inter_t {
        return false;
    }
    let inter = u64::from(inter_r - inter_l) * u64::from(inter_b - inter_t);
    inter * 10 >= truth.area() * 6 || inter * 10 >= pred.area() * 8
}

/// Runs the detector over `set` and scores it.
pub fn evaluate(
    detector: &OfflinePiiDetector,
    set_name: &str,
    set: &[LabelledImage],
) -> EvalReport {
    evaluate_with_progress(detector, set_name, set, &mut |_| {})
}

/// As [`evaluate`], calling `progress` before each image (for progress bars).
pub fn evaluate_with_progress(
    detector: &OfflinePiiDetector,
    set_name: &str,
    set: &[LabelledImage],
    progress: &mut dyn FnMut(&LabelledImage),
) -> EvalReport {
    let supported: BTreeSet<String> = EntityType::ALL
        .iter()
        .map(|t| t.as_str().to_string())
        .collect();
    let mut image_level = Counts::default();
    let mut per_type: BTreeMap<String, (Counts, usize, usize)> = BTreeMap::new();
    let mut results = Vec::new();
    let mut latencies = Vec::new();
    let mut clean_scan_misses = Vec::new();
    let mut clean_scan_checked = 0usize;
    let mut errors = 0usize;
    let (mut id_documents, mut id_documents_caught) = (0usize, 0usize);
    for item in set {
        progress(item);
        let file = item
            .path
            .file_name()
            .map(|f| f.to_string_lossy().into_owned())
            .unwrap_or_default();
        let bytes = match std::fs::read(&item.path) {
            Ok(b) => b,
            Err(e) => {
                errors += 1;
                results.push(ImageResult {
                    file,
                    truth: item.contains_pii,
                    predicted: None,
                    error: Some(e.to_string()),
                    truth_types: vec![],
                    predicted_types: vec![],
                    elapsed_ms: 0,
                    category: item.category.clone(),
                    clean: item.clean,
                });
                continue;
            }
        };
        let started = Instant::now();
        let verdict = detector.detect_blocking(&bytes, None);
        let elapsed_ms = started.elapsed().as_millis() as u64;
        latencies.push(elapsed_ms);
        let truth_types: BTreeSet<String> = item
            .entities
            .iter()
            .map(|(t, _)| t.clone())
            .filter(|t| supported.contains(t))
            .collect();
        let (predicted, predicted_types, error, counted) = match &verdict {
            Ok(v) => {
                let counted: Vec<_> = v.counted().cloned().collect();
                let types: BTreeSet<String> = counted
                    .iter()
                    .map(|e| e.kind.as_str().to_string())
                    .collect();
                (Some(v.pii_detected), types, None, counted)
            }
            Err(e) => {
                errors += 1;
                (None, BTreeSet::new(), Some(e.to_string()), vec![])
            }
        };
        let pred = predicted.unwrap_or(false);
        if item.category == "id_document" {
            id_documents += 1;
            id_documents_caught += usize::from(pred);
        }
        match (item.contains_pii, pred) {
            (true, true) => image_level.tp += 1,
            (false, true) => image_level.fp += 1,
            (true, false) => image_level.fn_ += 1,
            (false, false) => image_level.tn += 1,
        }
        let scored_types = if item.entities_known {
            truth_types.union(&predicted_types).cloned().collect()
        } else {
            BTreeSet::new()
        };
        for t in &scored_types {
            let slot = per_type.entry(t.clone()).or_default();
            match (truth_types.contains(t), predicted_types.contains(t)) {
                (true, true) => slot.0.tp += 1,
                (false, true) => slot.0.fp += 1,
                (true, false) => slot.0.fn_ += 1,
                (false, false) => {}
            }
        }
        for (t, b) in &item.entities {
            if !supported.contains(t) {
                continue;
            }
            let slot = per_type.entry(t.clone()).or_default();
            slot.2 += 1;
            let found = counted.iter().any(|e| {
                e.kind.as_str() == t
                    && match (e.bbox, b) {
                        (Some(p), Some(tb)) => covers(&p, tb),
                        _ => true,
                    }
            });
            if found {
                slot.1 += 1;
            }
        }
        if item.clean {
            for critical in ["CREDIT_CARD", "KR_RRN", "MRZ"] {
                if truth_types.contains(critical) {
                    clean_scan_checked += 1;
                    if !predicted_types.contains(critical) {
                        clean_scan_misses.push(format!("{file}: {critical}"));
                    }
                }
            }
        }
        results.push(ImageResult {
            file,
            truth: item.contains_pii,
            predicted,
            error,
            truth_types: truth_types.into_iter().collect(),
            predicted_types: predicted_types.into_iter().collect(),
            elapsed_ms,
            category: item.category.clone(),
            clean: item.clean,
        });
    }
    latencies.sort_unstable();
    let per_type = per_type
        .into_iter()
        .map(|(t, (c, found, total))| {
            (
                t,
                TypeScore {
                    precision: c.precision(),
                    recall: c.recall(),
                    f1: c.f1(),
                    image_level: c,
                    boxes_found: found,
                    boxes_total: total,
                },
            )
        })
        .collect();
    EvalReport {
        set: set_name.to_string(),
        images: set.len(),
        errors,
        precision: image_level.precision(),
        recall: image_level.recall(),
        f1: image_level.f1(),
        image_level,
        per_type,
        clean_scan_misses,
        clean_scan_checked,
        latency_median_ms: percentile(&latencies, 50),
        latency_p95_ms: percentile(&latencies, 95),
        id_documents_caught,
        id_documents,
        results,
    }
}

/// Nearest-rank percentile of sorted values.
pub fn percentile(sorted: &[u64], p: usize) -> u64 {
    if sorted.is_empty() {
        return 0;
    }
    let rank = (p * sorted.len()).div_ceil(100).clamp(1, sorted.len());
    sorted[rank - 1]
}

/// Markdown summary of a report (for BENCHMARKS.md).
pub fn summary_markdown(r: &EvalReport) -> String {
    let mut s = format!(
        "### {} ({} images, {} errors)\n\nImage level: precision {:.3}, recall {:.3}, F1 {:.3} \
         (TP {}, FP {}, FN {}, TN {}); latency median {} ms, p95 {} ms",
        r.set,
        r.images,
        r.errors,
        r.precision,
        r.recall,
        r.f1,
        r.image_level.tp,
        r.image_level.fp,
        r.image_level.fn_,
        r.image_level.tn,
        r.latency_median_ms,
        r.latency_p95_ms,
    );
    if r.clean_scan_checked > 0 {
        s.push_str(&format!(
            "; clean-scan card/RRN/MRZ misses: {} of {}",
            r.clean_scan_misses.len(),
            r.clean_scan_checked
        ));
    }
    if r.id_documents > 0 {
        s.push_str(&format!(
            "; identity documents caught: {}/{}",
            r.id_documents_caught, r.id_documents
        ));
    }
    s.push_str(
        "\n\n| entity type | precision | recall | F1 | boxes found |\n|---|---|---|---|---|\n",
    );
    for (t, score) in &r.per_type {
        s.push_str(&format!(
            "| {t} | {:.3} | {:.3} | {:.3} | {}/{} |\n",
            score.precision, score.recall, score.f1, score.boxes_found, score.boxes_total
        ));
    }
    s
}

/// The generated set for (`profile`, `count`, `seed`) under `cache_root`, rendered by `script`
/// unless already there. The directory name holds a hash of the script, so a changed generator
/// renders a fresh set; rendering goes to a temporary directory first, so an interrupted run is
/// never reused.
pub fn cached_generated_set(
    script: &Path,
    cache_root: &Path,
    count: usize,
    seed: u64,
    profile: &str,
) -> Result<PathBuf, String> {
    let source = std::fs::read(script).map_err(|e| {
        format!(
            "generator {}: {e} (run from the repository root or pass its path)",
            script.display()
        )
    })?;
    let dir = cache_root.join(format!(
        "trailguard-pii-gen-{profile}-{count}-{seed}-{:08x}",
        fnv1a(&source) as u32
    ));
    if dir.join("labels.json").is_file() {
        return Ok(dir);
    }
    let partial = cache_root.join(format!(
        "{}.partial-{}",
        dir.file_name()
            .map(|n| n.to_string_lossy())
            .unwrap_or_default(),
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&partial);
    generate_set_with_profile(script, &partial, count, seed, profile)?;
    std::fs::rename(&partial, &dir)
        .map_err(|e| format!("{} -> {}: {e}", partial.display(), dir.display()))?;
    Ok(dir)
}

fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325u64, |hash, &b| {
        (hash ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// Runs the generator script into `out` (deterministic for `count` and `seed`).
pub fn generate_set(script: &Path, out: &Path, count: usize, seed: u64) -> Result<(), String> {
    generate_set_with_profile(script, out, count, seed, "mixed")
}

/// As [`generate_set`], with the generator's `--profile` (`mixed` or `clean-critical`).
pub fn generate_set_with_profile(
    script: &Path,
    out: &Path,
    count: usize,
    seed: u64,
    profile: &str,
) -> Result<(), String> {
    let python = std::env::var("TRAILGUARD_PYTHON").unwrap_or_else(|_| "/usr/bin/python3".into());
    let status = std::process::Command::new(&python)
        .arg(script)
        .arg("--out")
        .arg(out)
        .arg("--count")
        .arg(count.to_string())
        .arg("--seed")
        .arg(seed.to_string())
        .arg("--profile")
        .arg(profile)
        // The generator's chatter goes to stderr: stdout carries the caller's report.
        .stdout(std::process::Stdio::from(std::io::stderr()))
        .status()
        .map_err(|e| {
            format!(
                "{python} {}: {e} (needs Debian python3-pil)",
                script.display()
            )
        })?;
    if status.success() {
        Ok(())
    } else {
        Err(format!(
            "{} failed with {status} (needs Debian python3-pil, fonts-nanum, fonts-dejavu-core, fonts-liberation2)",
            script.display()
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_and_percentiles() {
        let c = Counts {
            tp: 8,
            fp: 2,
            fn_: 2,
            tn: 5,
        };
        assert!((c.precision() - 0.8).abs() < 1e-9);
        assert!((c.f1() - 0.8).abs() < 1e-9);
        assert_eq!(percentile(&[1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 50), 5);
        assert_eq!(percentile(&[1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 95), 10);
        assert_eq!(percentile(&[], 95), 0);
    }

    #[test]
    fn box_cover_rules() {
        let truth = BoundingBox::new(0, 0, 100, 40);
        assert!(covers(&BoundingBox::new(5, 2, 90, 36), &truth));
        assert!(
            covers(&BoundingBox::new(0, 0, 100, 18), &truth),
            "one line of two"
        );
        assert!(!covers(&BoundingBox::new(300, 0, 100, 40), &truth));
    }
}
