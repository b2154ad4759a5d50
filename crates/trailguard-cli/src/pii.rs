//! `trailguard pii`: offline PII verdicts for image files, one JSON object per line; and
//! `trailguard bench pii` ([`bench`]).

mod bench;
mod inputs;

pub use bench::{bench, BenchPiiArgs};

use anyhow::{anyhow, bail, Context, Result};
use clap::Args;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use inputs::{declared_media_type, Input};
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;
use std::io::{IsTerminal, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc;
use trailguard_core::media::sniff;
use trailguard_pii::offline::parse_kinds;
use trailguard_pii::offline::redact::{encode_png, redact};
use trailguard_pii::{
    load_config, Engine, EntityType, ImageInput, InputError, OfflineConfig, OfflinePiiDetector,
    PiiDetectError, Sensitivity,
};

#[derive(Args, Debug)]
pub struct PiiArgs {
    /// Image files, directories (searched recursively for png, jpg, jpeg, gif, webp, bmp, tif,
    /// tiff) or `-` (a list of paths on stdin, one per line).
    #[arg(required = true, value_name = "IMAGE")]
    pub images: Vec<PathBuf>,
    /// Detector configuration (TOML, or JSON when named *.json): `engine`, `models_dir`,
    /// `threads`, `[policy]` sensitivity, allow, entity_types, min_confidence, faces_are_pii;
    /// languages, limits. Flags below override it.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// `strict`: any PII cue makes an image PII (a document title alone, a weak face, a 16-digit
    /// number failing Luhn); `balanced` (default): cues count from their confidence thresholds.
    #[arg(long, value_name = "strict|balanced")]
    pub sensitivity: Option<String>,
    /// Kinds that never make an image PII on their own, comma-separated, e.g. `PHONE_NUMBER` to
    /// keep images whose only personal data is a (company) phone number, or `FACE` to keep
    /// photos of people. Still reported, with `counted: false`. ID_DOCUMENT and MRZ cannot be
    /// allowed.
    #[arg(long, value_delimiter = ',', value_name = "KIND,...")]
    pub allow: Option<Vec<String>>,
    /// Entity types that count towards the verdict, comma-separated (default: every type; FACE
    /// counts unless allowed). Others are still reported, with `counted: false`.
    #[arg(long, value_delimiter = ',', value_name = "TYPE,...")]
    pub types: Option<Vec<String>>,
    /// Minimum confidence (0 to 1) for an entity to count (default 0.5; faces 0.75).
    #[arg(long, value_name = "0..1")]
    pub min_confidence: Option<f32>,
    /// `onnx`: PP-OCRv4 text and BlazeFace faces (models from `trailguard model fetch
    /// pp-ocr-v4 blazeface onnxruntime`); `tesseract`: Tesseract and Haar cascades, the older
    /// detector; `auto` (default): onnx when its models are found.
    #[arg(long, value_name = "auto|onnx|tesseract")]
    pub engine: Option<String>,
    /// Directory holding the ONNX models and libonnxruntime.so (default: the model cache,
    /// TRAILGUARD_CACHE or ~/.cache/trailguard, under models/).
    #[arg(long = "models", value_name = "DIR")]
    pub models_dir: Option<PathBuf>,
    /// Threads per ONNX inference (default 1).
    #[arg(long, value_name = "N")]
    pub threads: Option<usize>,
    /// Read every text line even after the first counted evidence (the verdict is the same; the
    /// evidence list is complete). On with --redact.
    #[arg(long)]
    pub all_evidence: bool,
    /// OpenCV Haar cascade XML for faces with `--engine tesseract` (default:
    /// TRAILGUARD_FACE_CASCADE, else Debian opencv-data's haarcascade_frontalface_alt2.xml).
    #[arg(long, value_name = "FILE")]
    pub face_cascade: Option<PathBuf>,
    /// Tesseract languages joined by `+`, e.g. `eng` or `eng+kor` (default eng+kor; with the
    /// ONNX engines, `kor` makes Tesseract re-read the lines that look Korean).
    #[arg(long = "lang", value_name = "LANGS")]
    pub languages: Option<String>,
    /// Directory holding the *.traineddata files (default: TESSDATA_PREFIX, else Debian's).
    #[arg(long, value_name = "DIR")]
    pub tessdata: Option<PathBuf>,
    /// Write a redacted copy (every evidence box filled black, PNG) of each image with PII to DIR.
    #[arg(long, value_name = "DIR")]
    pub redact: Option<PathBuf>,
    /// Refuse files larger than this many bytes (default 50 MiB).
    #[arg(long, value_name = "BYTES")]
    pub max_bytes: Option<u64>,
    /// Refuse images whose header declares more pixels than this (default 50 million).
    #[arg(long, value_name = "PIXELS")]
    pub max_pixels: Option<u64>,
    /// `--engine tesseract`: one OCR pass only: faster, but misses some fields on cards and photos.
    #[arg(long)]
    pub fast: bool,
    /// Images checked in parallel; each worker loads its own engines (ONNX: about 300 MB more).
    /// Default: the number of cores, at most 4.
    #[arg(long, short = 'j', value_name = "N")]
    pub jobs: Option<usize>,
    /// Add OCR passes and per-stage milliseconds (decode, faces, ocr) to each line.
    #[arg(long)]
    pub timings: bool,
}

/// The detector configuration: defaults, then the config file, then flags.
fn detector_config(args: &PiiArgs) -> Result<OfflineConfig> {
    let mut config = match &args.config {
        Some(path) => load_config(path)?,
        None => OfflineConfig::default(),
    };
    if let Some(types) = &args.types {
        let mut counted = std::collections::BTreeSet::new();
        let mut faces = false;
        for name in types.iter().filter(|t| !t.trim().is_empty()) {
            match EntityType::parse(name) {
                Some(EntityType::Face) => faces = true,
                Some(t) => {
                    counted.insert(t);
                }
                None => {
                    let known: Vec<&str> = EntityType::ALL.iter().map(|t| t.as_str()).collect();
                    bail!(
                        "--types: unknown entity type {name:?} (known: {})",
                        known.join(", ")
                    );
                }
            }
        }
        config.policy.entity_types = counted;
        config.policy.faces_are_pii = faces;
    }
    if let Some(allow) = &args.allow {
        config.policy.allow = parse_kinds(&allow.join(",")).map_err(|e| anyhow!("--allow: {e}"))?;
    }
    if let Some(name) = &args.sensitivity {
        config.policy.sensitivity = Sensitivity::parse(name)
            .ok_or_else(|| anyhow!("--sensitivity: {name:?}: expected strict or balanced"))?;
    }
    if let Some(min) = args.min_confidence {
        if !(0.0..=1.0).contains(&min) {
            bail!("--min-confidence must be between 0 and 1, got {min}");
        }
        config.policy.min_confidence = min;
    }
    if let Some(name) = &args.engine {
        config.engine = Engine::parse(name)
            .ok_or_else(|| anyhow!("--engine: {name:?}: expected auto, onnx or tesseract"))?;
    }
    if let Some(dir) = &args.models_dir {
        config.models_dir = Some(dir.clone());
    }
    if let Some(threads) = args.threads {
        if !(1..=64).contains(&threads) {
            bail!("--threads must be between 1 and 64, got {threads}");
        }
        config.threads = threads;
    }
    if args.all_evidence || args.redact.is_some() {
        config.early_stop = false;
    }
    if let Some(path) = &args.face_cascade {
        config.face_cascade = Some(path.clone());
    }
    if let Some(languages) = &args.languages {
        config.languages = languages.clone();
    }
    if let Some(dir) = &args.tessdata {
        config.tessdata_dir = Some(dir.clone());
    }
    if let Some(bytes) = args.max_bytes {
        config.max_bytes = bytes;
    }
    if let Some(pixels) = args.max_pixels {
        config.max_pixels = pixels;
    }
    if args.fast {
        config.second_pass = false;
    }
    config.policy.validate().map_err(anyhow::Error::msg)?;
    Ok(config)
}

/// One image's result, ready to print.
struct Checked {
    line: Value,
    outcome: Outcome,
    /// Shown on stderr for people (errors only).
    message: Option<String>,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Outcome {
    Pii,
    NoPii,
    Bad,
}

fn error_line(path: &Path, code: &str, detail: &str, detected: Option<&str>) -> Value {
    let mut line = Map::new();
    line.insert("path".into(), json!(path.display().to_string()));
    line.insert("pii_detected".into(), Value::Null);
    line.insert("error".into(), json!(code));
    line.insert("detail".into(), json!(detail));
    line.insert("media_type_detected".into(), json!(detected));
    if let Some(declared) = declared_media_type(path) {
        line.insert("media_type_declared".into(), json!(declared));
    }
    Value::Object(line)
}

fn bad(path: &Path, code: &str, detail: String, detected: Option<&str>) -> Checked {
    Checked {
        line: error_line(path, code, &detail, detected),
        outcome: Outcome::Bad,
        message: Some(format!("{}: {detail}", path.display())),
    }
}

/// Reads at most `limit + 1` bytes, so a huge file never fills memory.
fn read_limited(path: &Path, limit: u64) -> std::io::Result<Vec<u8>> {
    let file = std::fs::File::open(path)?;
    let mut bytes = Vec::new();
    file.take(limit.saturating_add(1)).read_to_end(&mut bytes)?;
    Ok(bytes)
}

fn check(
    detector: &OfflinePiiDetector,
    input: &Input,
    redact_to: Option<&Path>,
    max_bytes: u64,
    timings: bool,
) -> Checked {
    // `redact_to` is the redacted copy's file, written only when the image holds PII.
    let path = match input {
        Input::File(path) => path,
        Input::Unlistable { path, detail } => return bad(path, "unreadable", detail.clone(), None),
    };
    if path.is_dir() {
        return bad(path, "unreadable", "is a directory".into(), None);
    }
    let bytes = match read_limited(path, max_bytes) {
        Ok(bytes) => bytes,
        Err(e) => return bad(path, "unreadable", e.to_string(), None),
    };
    let declared = declared_media_type(path);
    let (analysis, image) = match detector.analyse(&bytes, declared) {
        Ok(done) => done,
        Err(error) => {
            let detected = match &error {
                PiiDetectError::Input(InputError::Corrupt { media_type, .. }) => {
                    Some(media_type.clone())
                }
                PiiDetectError::Input(InputError::TooManyPixels { .. }) => {
                    sniff(&bytes).ok().map(|t| t.mime().into())
                }
                _ => None,
            };
            let detail = match (&error, bytes.len() as u64 > max_bytes) {
                // We stopped reading at the limit: say so rather than quote the truncated size.
                (PiiDetectError::Input(InputError::TooLarge { limit, .. }), true) => {
                    format!("object too large: more than {limit} bytes")
                }
                _ => error.to_string(),
            };
            return bad(path, error.code(), detail, detected.as_deref());
        }
    };
    let verdict = analysis.verdict;
    let mut line = Map::new();
    line.insert("path".into(), json!(path.display().to_string()));
    // Through text, not `to_value`: f32 confidences then print as 0.732, not 0.7319999933242798.
    let fields = serde_json::to_string(&verdict).and_then(|s| serde_json::from_str(&s));
    if let Ok(Value::Object(fields)) = fields {
        line.extend(fields);
    }
    if let Ok(input) = ImageInput::new(&bytes, declared) {
        line.insert("media_type_detected".into(), json!(input.kind.mime()));
        if let Some(declared) = input.declared_mismatch() {
            line.insert("media_type_declared_mismatch".into(), json!(declared));
        }
    }
    if let Some(declared) = declared {
        line.insert("media_type_declared".into(), json!(declared));
    }
    if timings {
        line.insert("ocr_passes".into(), json!(analysis.passes));
        line.insert("stage_ms".into(), json!(analysis.stage_ms));
    }
    let mut outcome = if verdict.pii_detected {
        Outcome::Pii
    } else {
        Outcome::NoPii
    };
    let mut message = None;
    if let (Some(target), true) = (redact_to, verdict.pii_detected) {
        let written = encode_png(&redact(&image, &verdict.evidence, 2)).map_err(|e| e.to_string());
        match written.and_then(|png| std::fs::write(target, png).map_err(|e| e.to_string())) {
            Ok(()) => {
                line.insert("redacted".into(), json!(target.display().to_string()));
            }
            Err(e) => {
                let detail = format!("writing the redacted copy {}: {e}", target.display());
                line.insert("redact_error".into(), json!(detail));
                message = Some(format!("{}: {detail}", path.display()));
                outcome = Outcome::Bad;
            }
        }
    }
    Checked {
        line: Value::Object(line),
        outcome,
        message,
    }
}

pub fn run(args: PiiArgs) -> Result<i32> {
    let config = detector_config(&args)?;
    if args.images.iter().any(|p| p.as_os_str() == "-") && std::io::stdin().is_terminal() {
        eprintln!("note: reading image paths from the terminal, one per line; end with Ctrl-D");
    }
    let inputs = inputs::expand(&args.images, &mut std::io::stdin().lock());
    if inputs.is_empty() {
        eprintln!("warning: no image files found in the given paths");
    }
    if let Some(dir) = &args.redact {
        std::fs::create_dir_all(dir)
            .with_context(|| format!("creating the redaction directory {}", dir.display()))?;
    }
    // Fails fast (exit 1) when models, OCR data or the face cascade are missing.
    let first = OfflinePiiDetector::new(config.clone())?;
    let names = inputs::redacted_names(&inputs);
    let jobs = args
        .jobs
        .unwrap_or_else(|| {
            std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(1)
                .min(4)
        })
        .clamp(1, inputs.len().max(1));

    let progress = if std::io::stderr().is_terminal() && inputs.len() > 1 {
        ProgressBar::with_draw_target(Some(inputs.len() as u64), ProgressDrawTarget::stderr())
    } else {
        ProgressBar::hidden()
    };
    if let Ok(style) =
        ProgressStyle::with_template("{bar:30} {pos}/{len} images, {per_sec}, eta {eta} {wide_msg}")
    {
        progress.set_style(style);
    }

    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let (mut with_pii, mut without, mut bad_count) = (0usize, 0usize, 0usize);
    let next = AtomicUsize::new(0);
    let stop = AtomicBool::new(false);
    let (sender, receiver) = mpsc::channel::<(usize, Checked)>();
    let max_bytes = config.max_bytes;
    let redact_dir = args.redact.as_deref();
    let timings = args.timings;
    let mut write_error = None;
    std::thread::scope(|scope| {
        let mut first = Some(first);
        for _ in 0..jobs {
            let sender = sender.clone();
            let prebuilt = first.take();
            let (inputs, names, next, stop, config) = (&inputs, &names, &next, &stop, &config);
            scope.spawn(move || {
                let detector = match prebuilt {
                    Some(d) => d,
                    None => match OfflinePiiDetector::new(config.clone()) {
                        Ok(d) => d,
                        Err(e) => {
                            tracing::warn!("extra PII worker not started: {e}");
                            return;
                        }
                    },
                };
                while !stop.load(Ordering::Relaxed) {
                    let index = next.fetch_add(1, Ordering::Relaxed);
                    let Some(input) = inputs.get(index) else {
                        break;
                    };
                    let target = redact_dir.zip(names.get(index)).map(|(d, n)| d.join(n));
                    let checked = check(&detector, input, target.as_deref(), max_bytes, timings);
                    if sender.send((index, checked)).is_err() {
                        break;
                    }
                }
            });
        }
        drop(sender);
        // Print in input order whatever order the workers finish in.
        let mut pending = BTreeMap::new();
        let mut next_to_print = 0usize;
        for (index, checked) in receiver {
            pending.insert(index, checked);
            while let Some(checked) = pending.remove(&next_to_print) {
                next_to_print += 1;
                progress.inc(1);
                match checked.outcome {
                    Outcome::Pii => with_pii += 1,
                    Outcome::NoPii => without += 1,
                    Outcome::Bad => bad_count += 1,
                }
                if let Some(message) = &checked.message {
                    progress.suspend(|| eprintln!("error: {message}"));
                }
                if write_error.is_none() {
                    let written = serde_json::to_writer(&mut out, &checked.line)
                        .map_err(std::io::Error::from)
                        .and_then(|()| out.write_all(b"\n"))
                        .and_then(|()| out.flush());
                    if let Err(e) = written {
                        write_error = Some(e);
                        stop.store(true, Ordering::Relaxed);
                    }
                }
            }
        }
    });
    progress.finish_and_clear();
    if let Some(error) = write_error {
        return Err(error).context("writing output");
    }
    let plural = if inputs.len() == 1 { "" } else { "s" };
    eprintln!(
        "checked {} image{plural}: {with_pii} with PII, {without} without, {bad_count} not checked or not fully handled",
        inputs.len()
    );
    Ok(if bad_count > 0 { 2 } else { 0 })
}
